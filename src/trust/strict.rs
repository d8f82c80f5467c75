//! Strict JSON for signed files: every envelope and payload goes through [`parse`] before any
//! field is looked at.
//!
//! `serde_json` silently keeps the last of duplicate keys and accepts floats and integers that
//! other parsers round differently; two parsers that read one signed file differently are a
//! classic way to smuggle content past a verifier. This parser accepts only what
//! `canonical::to_vec` can produce (plus insignificant whitespace): no duplicate keys, integers in
//! ±(2^53-1), nesting at most [`MAX_DEPTH`] levels, nothing after the value.

use serde_json::{Map, Number, Value};

/// Deepest nesting of arrays and objects accepted.
pub const MAX_DEPTH: usize = 32;
/// Largest magnitude of an integer accepted (2^53 - 1, exact in every JSON implementation).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("invalid UTF-8 at byte {0}")]
    Utf8(usize),
    #[error("JSON syntax error at byte {offset}: {reason}")]
    Syntax { offset: usize, reason: &'static str },
    #[error("duplicate object key {key:?} at byte {offset}")]
    DuplicateKey { key: String, offset: usize },
    #[error("non-integer number at byte {offset}; signed files carry integers only")]
    Float { offset: usize },
    #[error("integer at byte {offset} is outside the safe range of ±(2^53-1)")]
    IntegerOutOfRange { offset: usize },
    #[error("nesting deeper than {max} levels at byte {offset}")]
    TooDeep { offset: usize, max: usize },
    #[error("trailing data after the JSON value at byte {offset}")]
    TrailingData { offset: usize },
}

/// Parse `bytes` as one strict JSON value.
pub fn parse(bytes: &[u8]) -> Result<Value, JsonError> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(JsonError::Utf8(e.valid_up_to()));
    }
    let mut p = Parser { b: bytes, i: 0 };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i != bytes.len() {
        return Err(JsonError::TrailingData { offset: p.i });
    }
    Ok(v)
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, reason: &'static str) -> JsonError {
        JsonError::Syntax { offset: self.i, reason }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn literal(&mut self, word: &'static [u8], v: Value) -> Result<Value, JsonError> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        match self.peek() {
            None => Err(self.err("unexpected end of input")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("unexpected character")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep { offset: self.i, max: MAX_DEPTH });
        }
        self.i += 1;
        let mut map = Map::new();
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            let key_offset = self.i;
            let key = self.string()?;
            self.ws();
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':'"));
            }
            self.i += 1;
            self.ws();
            let v = self.value(depth)?;
            match map.entry(key) {
                serde_json::map::Entry::Vacant(e) => {
                    e.insert(v);
                }
                serde_json::map::Entry::Occupied(e) => {
                    return Err(JsonError::DuplicateKey { key: e.key().clone(), offset: key_offset });
                }
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Object(map));
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep { offset: self.i, max: MAX_DEPTH });
        }
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth)?);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.err("expected ',' or ']'")),
            }
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.i;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let digits_start = self.i;
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.i += 1;
                }
            }
            _ => return Err(self.err("expected a digit")),
        }
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return Err(JsonError::Float { offset: start });
        }
        if matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(JsonError::Syntax { offset: start, reason: "leading zero in a number" });
        }
        let mut n: u64 = 0;
        for &d in &self.b[digits_start..self.i] {
            n = match n.checked_mul(10).and_then(|n| n.checked_add(u64::from(d - b'0'))) {
                Some(n) if n <= MAX_SAFE_INTEGER => n,
                _ => return Err(JsonError::IntegerOutOfRange { offset: start }),
            };
        }
        // n <= 2^53-1 fits in i64 either way.
        Ok(if negative { Value::Number(Number::from(-(n as i64))) } else { Value::Number(Number::from(n)) })
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let Some(h) = self.b.get(self.i..self.i + 4) else {
            return Err(self.err("truncated \\u escape"));
        };
        let mut v = 0u32;
        for &c in h {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(self.err("invalid \\u escape")),
            };
            v = v * 16 + u32::from(d);
        }
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.i += 1; // opening quote
        let mut out = String::new();
        loop {
            let run_start = self.i;
            self.i = scan_plain(self.b, self.i);
            // The whole input was checked to be UTF-8 and the run stops only at ASCII bytes.
            let run = std::str::from_utf8(&self.b[run_start..self.i]).map_err(|_| JsonError::Utf8(run_start))?;
            match self.peek() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    self.i += 1;
                    if out.is_empty() {
                        // No escapes: one exact allocation.
                        return Ok(run.to_string());
                    }
                    out.push_str(run);
                    return Ok(out);
                }
                Some(b'\\') => {
                    out.push_str(run);
                    self.i += 1;
                    let Some(e) = self.peek() else {
                        return Err(self.err("unterminated escape"));
                    };
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xD800..0xDC00).contains(&hi) {
                                if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Err(self.err("lone surrogate in \\u escape"));
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err("lone surrogate in \\u escape"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else if (0xDC00..0xE000).contains(&hi) {
                                return Err(self.err("lone surrogate in \\u escape"));
                            } else {
                                hi
                            };
                            out.push(char::from_u32(cp).ok_or_else(|| self.err("invalid \\u escape"))?);
                        }
                        _ => return Err(self.err("invalid escape")),
                    }
                }
                Some(_) => return Err(self.err("control character in string")),
            }
        }
    }
}

/// Index of the first `"`, `\\` or control byte at or after `i` (or the end). Eight bytes at a
/// time: base64 payloads inside envelopes are long plain strings.
fn scan_plain(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Bytes of `x` that are below `n` (for bytes without the high bit; others never match).
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGHS;
    while i + 8 <= b.len() {
        let mut word = [0u8; 8];
        word.copy_from_slice(&b[i..i + 8]);
        let w = u64::from_le_bytes(word);
        if below(w ^ (ONES * u64::from(b'"')), 1) | below(w ^ (ONES * u64::from(b'\\')), 1) | below(w, 0x20) != 0 {
            break;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_canonical_output() {
        let v = serde_json::json!({"a": [1, -2, "x\u{1}é\n"], "b": {"c": null, "d": true}});
        let bytes = crate::canonical::to_vec(&v).unwrap();
        assert_eq!(parse(&bytes).unwrap(), v);
        assert_eq!(parse(b" {\"a\" : [ ] }\n").unwrap(), serde_json::json!({"a": []}));
        assert_eq!(parse(br#""\ud83d\ude00""#).unwrap(), serde_json::json!("😀"));
    }

    #[test]
    fn rejects_what_serde_json_accepts() {
        assert!(matches!(parse(br#"{"a":1,"a":2}"#), Err(JsonError::DuplicateKey { .. })));
        assert!(matches!(parse(b"[1.0]"), Err(JsonError::Float { .. })));
        assert!(matches!(parse(b"[1e3]"), Err(JsonError::Float { .. })));
        assert!(matches!(parse(b"9007199254740992"), Err(JsonError::IntegerOutOfRange { .. })));
        assert_eq!(parse(b"9007199254740991").unwrap(), serde_json::json!(9007199254740991u64));
        assert!(matches!(parse(b"-9007199254740992"), Err(JsonError::IntegerOutOfRange { .. })));
        assert!(matches!(parse(b"99999999999999999999999"), Err(JsonError::IntegerOutOfRange { .. })));
        assert!(matches!(parse(b"{} x"), Err(JsonError::TrailingData { .. })));
        assert!(matches!(parse(b"01"), Err(JsonError::Syntax { .. })));
        assert!(matches!(parse(br#""\ud800""#), Err(JsonError::Syntax { .. })));
        assert!(matches!(parse(b"\"a\x01\""), Err(JsonError::Syntax { .. })));
        assert!(matches!(parse(b"[1,]"), Err(JsonError::Syntax { .. })));
        assert!(matches!(parse(b"\xff"), Err(JsonError::Utf8(0))));
        let deep = format!("{}{}", "[".repeat(33), "]".repeat(33));
        assert!(matches!(parse(deep.as_bytes()), Err(JsonError::TooDeep { .. })));
        let ok = format!("{}{}", "[".repeat(32), "]".repeat(32));
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn plain_scan_stops_at_every_special_byte() {
        for special in [b'"', b'\\', 0u8, 0x1f] {
            for pos in 0..20 {
                let mut v = vec![b'a'; 20];
                v[pos] = special;
                assert_eq!(scan_plain(&v, 0), pos);
            }
        }
        assert_eq!(scan_plain("éééééééééé".as_bytes(), 0), 20);
    }

    #[test]
    fn never_panics_on_truncations() {
        let s = br#"{"a":[1,-2,"\u00e9\ud83d\ude00",true,false,null,{"b":"c"}]}"#;
        for n in 0..s.len() {
            let _ = parse(&s[..n]);
        }
    }
}
