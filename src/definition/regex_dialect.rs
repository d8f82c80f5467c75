//! The portable regex dialect: patterns that mean the same to Go's `regexp` (the existing
//! operator and the legacy export's consumers, RE2 syntax) and to the Rust `regex` crate (the
//! agent and validation).
//!
//! A pattern is read the way Go's `regexp/syntax` parser (Perl flags, as `regexp.Compile`) reads
//! it, and written out in Rust syntax that leaves the Rust parser no room for another reading:
//! every literal is an escape (`\x{..}`), so Rust's nested classes and class set operations
//! (`[a[b]]`, `&&`, `--`, `~~`) cannot arise; `\Q…\E` becomes escaped literals; a `{` that is no
//! repetition to Go becomes a literal; Go's ASCII-only `\d`, `\s`, `\w` and `\b` become their
//! ASCII forms. What Go rejects is rejected with Go's reason: `\u`, flags other than `i`, `m`,
//! `s`, `U`, stacked repetition (`a**`, `a*+`), repetition counts above 1000 (also as a product
//! of nested counts), Unicode class names Go does not know (`\p{Letter}`, `\p{Script=Greek}`;
//! Go 1.19's tables, Unicode 13.0). The result is then parsed with `regex_syntax::ast` and
//! translated to HIR, so anything the Rust engine would refuse is refused as well.
//!
//! Everybody that compiles a definition's pattern uses [`to_rust`].

use std::fmt::Write as _;

/// Go's limit on repetition counts, also on the product of nested counts.
const MAX_REPEAT: u32 = 1000;
/// Go's limit on the height of the parse tree; deeper nesting is refused by both.
const MAX_NEST: u32 = 1000;

/// Unicode general categories Go's `\p{..}` knows (Go 1.19 `unicode.Categories`).
const GO_CATEGORIES: &[&str] = &[
    "C", "Cc", "Cf", "Co", "Cs", "L", "Ll", "Lm", "Lo", "Lt", "Lu", "M", "Mc", "Me", "Mn", "N", "Nd", "Nl", "No", "P",
    "Pc", "Pd", "Pe", "Pf", "Pi", "Po", "Ps", "S", "Sc", "Sk", "Sm", "So", "Z", "Zl", "Zp", "Zs",
];

/// Scripts Go's `\p{..}` knows (Go 1.19 `unicode.Scripts`, Unicode 13.0.0).
const GO_SCRIPTS: &[&str] = &[
    "Adlam",
    "Ahom",
    "Anatolian_Hieroglyphs",
    "Arabic",
    "Armenian",
    "Avestan",
    "Balinese",
    "Bamum",
    "Bassa_Vah",
    "Batak",
    "Bengali",
    "Bhaiksuki",
    "Bopomofo",
    "Brahmi",
    "Braille",
    "Buginese",
    "Buhid",
    "Canadian_Aboriginal",
    "Carian",
    "Caucasian_Albanian",
    "Chakma",
    "Cham",
    "Cherokee",
    "Chorasmian",
    "Common",
    "Coptic",
    "Cuneiform",
    "Cypriot",
    "Cyrillic",
    "Deseret",
    "Devanagari",
    "Dives_Akuru",
    "Dogra",
    "Duployan",
    "Egyptian_Hieroglyphs",
    "Elbasan",
    "Elymaic",
    "Ethiopic",
    "Georgian",
    "Glagolitic",
    "Gothic",
    "Grantha",
    "Greek",
    "Gujarati",
    "Gunjala_Gondi",
    "Gurmukhi",
    "Han",
    "Hangul",
    "Hanifi_Rohingya",
    "Hanunoo",
    "Hatran",
    "Hebrew",
    "Hiragana",
    "Imperial_Aramaic",
    "Inherited",
    "Inscriptional_Pahlavi",
    "Inscriptional_Parthian",
    "Javanese",
    "Kaithi",
    "Kannada",
    "Katakana",
    "Kayah_Li",
    "Kharoshthi",
    "Khitan_Small_Script",
    "Khmer",
    "Khojki",
    "Khudawadi",
    "Lao",
    "Latin",
    "Lepcha",
    "Limbu",
    "Linear_A",
    "Linear_B",
    "Lisu",
    "Lycian",
    "Lydian",
    "Mahajani",
    "Makasar",
    "Malayalam",
    "Mandaic",
    "Manichaean",
    "Marchen",
    "Masaram_Gondi",
    "Medefaidrin",
    "Meetei_Mayek",
    "Mende_Kikakui",
    "Meroitic_Cursive",
    "Meroitic_Hieroglyphs",
    "Miao",
    "Modi",
    "Mongolian",
    "Mro",
    "Multani",
    "Myanmar",
    "Nabataean",
    "Nandinagari",
    "New_Tai_Lue",
    "Newa",
    "Nko",
    "Nushu",
    "Nyiakeng_Puachue_Hmong",
    "Ogham",
    "Ol_Chiki",
    "Old_Hungarian",
    "Old_Italic",
    "Old_North_Arabian",
    "Old_Permic",
    "Old_Persian",
    "Old_Sogdian",
    "Old_South_Arabian",
    "Old_Turkic",
    "Oriya",
    "Osage",
    "Osmanya",
    "Pahawh_Hmong",
    "Palmyrene",
    "Pau_Cin_Hau",
    "Phags_Pa",
    "Phoenician",
    "Psalter_Pahlavi",
    "Rejang",
    "Runic",
    "Samaritan",
    "Saurashtra",
    "Sharada",
    "Shavian",
    "Siddham",
    "SignWriting",
    "Sinhala",
    "Sogdian",
    "Sora_Sompeng",
    "Soyombo",
    "Sundanese",
    "Syloti_Nagri",
    "Syriac",
    "Tagalog",
    "Tagbanwa",
    "Tai_Le",
    "Tai_Tham",
    "Tai_Viet",
    "Takri",
    "Tamil",
    "Tangut",
    "Telugu",
    "Thaana",
    "Thai",
    "Tibetan",
    "Tifinagh",
    "Tirhuta",
    "Ugaritic",
    "Vai",
    "Wancho",
    "Warang_Citi",
    "Yezidi",
    "Yi",
    "Zanabazar_Square",
];

/// POSIX classes inside brackets, as Go and Rust both know them.
const POSIX_CLASSES: &[&str] = &[
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space", "upper", "word",
    "xdigit",
];

/// Why a pattern is not in the portable dialect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegexDialectError {
    /// Go's `regexp` rejects it; the message follows Go's wording.
    #[error("{0}")]
    Go(String),
    /// Go accepts it, but the Rust engine cannot compile the same meaning.
    #[error("{0} (for the Rust engine)")]
    Rust(String),
}

fn go_err<T>(msg: impl Into<String>) -> Result<T, RegexDialectError> {
    Err(RegexDialectError::Go(msg.into()))
}

/// Translate a pattern in Go's syntax into a Rust `regex` pattern with the same meaning, or say
/// why it is not portable.
pub fn to_rust(pattern: &str) -> Result<String, RegexDialectError> {
    to_rust_hir(pattern, MAX_NEST).map(|(rust, _)| rust)
}

/// [`to_rust`] plus the translated pattern's HIR, parsed once with at most `nest_limit` levels
/// of nesting (validation uses a lower limit than Go's), for callers that compile it.
pub fn to_rust_hir(pattern: &str, nest_limit: u32) -> Result<(String, regex_syntax::hir::Hir), RegexDialectError> {
    let rust = Translator::new(pattern).run()?;
    let hir = check_rust(&rust, nest_limit)?;
    Ok((rust, hir))
}

/// Whether `pattern` is in the portable dialect.
pub fn is_portable(pattern: &str) -> bool {
    to_rust(pattern).is_ok()
}

/// One open group (or the whole pattern) while translating.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// The current alternative has something a repetition can apply to.
    has_operand: bool,
    /// Flags in force (Go restores them at the closing parenthesis, as Rust does).
    flags: Flags,
    /// Flags as the Rust text emitted so far has them (pending flag groups not yet written).
    emitted_flags: Flags,
    /// Where the group starts in the Rust text.
    start: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Flags {
    i: bool,
    m: bool,
    s: bool,
    u: bool,
}

impl Flags {
    /// Rust flag-group text that turns `from` into `self`, empty if they are equal.
    fn diff_from(self, from: Flags) -> String {
        let pairs = [('i', self.i, from.i), ('m', self.m, from.m), ('s', self.s, from.s), ('U', self.u, from.u)];
        let on: String = pairs.iter().filter(|(_, to, from)| *to && !*from).map(|(c, ..)| *c).collect();
        let off: String = pairs.iter().filter(|(_, to, from)| !*to && *from).map(|(c, ..)| *c).collect();
        match (on.is_empty(), off.is_empty()) {
            (true, true) => String::new(),
            (false, true) => format!("(?{on})"),
            (_, false) => format!("(?{on}-{off})"),
        }
    }
}

struct Translator<'a> {
    src: &'a str,
    pos: usize,
    out: String,
    frames: Vec<Frame>,
    /// The previous item was a repetition operator (Go refuses to stack them).
    last_repeat: bool,
    /// The Rust text ends with a repetition operator (a flag group or an empty `\Q\E` may have
    /// come between in Go's text); a further operator must then not read as its lazy `?`.
    emitted_repeat: bool,
    /// Where the last item a repetition can apply to starts in `out`.
    operand_start: usize,
}

fn escape_char(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:X}}}", c as u32);
    }
}

/// A code point Go accepts in a pattern but the Rust engine (which matches Unicode scalar
/// values) cannot write: a surrogate. Go never matches one either, since decoding input never
/// yields it.
fn is_surrogate(c: u32) -> bool {
    (0xD800..=0xDFFF).contains(&c)
}

/// The empty class: matches nothing, like a surrogate in Go.
const NOTHING: &str = "[^\\x{0}-\\x{10FFFF}]";

/// A class item: a code point range, or a complete Rust class text to nest.
enum ClassItem {
    Range(u32, u32),
    Nested(String),
}

impl<'a> Translator<'a> {
    fn new(src: &'a str) -> Self {
        Translator {
            src,
            pos: 0,
            out: String::with_capacity(src.len() * 2),
            frames: vec![Frame {
                has_operand: false,
                flags: Flags::default(),
                emitted_flags: Flags::default(),
                start: 0,
            }],
            last_repeat: false,
            emitted_repeat: false,
            operand_start: 0,
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn frame(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("the outermost frame is never popped")
    }

    /// Write flag changes not yet written, before the next item.
    fn flush_flags(&mut self) {
        let f = *self.frame();
        let text = f.flags.diff_from(f.emitted_flags);
        self.out.push_str(&text);
        self.frame().emitted_flags = f.flags;
    }

    /// Start an item a repetition can apply to.
    fn atom(&mut self) {
        self.flush_flags();
        self.frame().has_operand = true;
        self.operand_start = self.out.len();
        self.emitted_repeat = false;
    }

    fn run(mut self) -> Result<String, RegexDialectError> {
        while let Some(c) = self.peek() {
            let mut repeat = false;
            match c {
                '(' => self.open_group()?,
                '|' => {
                    self.bump();
                    self.flush_flags();
                    self.out.push('|');
                    self.frame().has_operand = false;
                    self.emitted_repeat = false;
                }
                ')' => {
                    self.bump();
                    if self.frames.len() < 2 {
                        return go_err("unexpected ): unbalanced parentheses");
                    }
                    self.flush_flags();
                    let group = self.frames.pop().expect("checked above");
                    self.out.push(')');
                    self.operand_start = group.start;
                    self.frame().has_operand = true;
                    self.emitted_repeat = false;
                }
                '^' | '$' | '.' => {
                    self.bump();
                    self.atom();
                    // Assertions in a group, so a repetition after them is one Rust accepts.
                    match c {
                        '.' => self.out.push('.'),
                        _ => {
                            let _ = write!(self.out, "(?:{c})");
                        }
                    }
                }
                '[' => {
                    self.atom();
                    self.class()?;
                }
                '*' | '+' | '?' => {
                    self.bump();
                    self.repetition(&c.to_string())?;
                    repeat = true;
                }
                '{' => match self.counted()? {
                    Some(text) => {
                        self.repetition(&text)?;
                        repeat = true;
                    }
                    None => {
                        // Not a repetition to Go: a literal brace.
                        self.bump();
                        self.atom();
                        self.out.push_str("\\{");
                    }
                },
                '\\' => self.escape_outside_class()?,
                _ => {
                    self.bump();
                    self.literal(c as u32);
                }
            }
            self.last_repeat = repeat;
        }
        if self.frames.len() != 1 {
            return go_err("missing closing ): unbalanced parentheses");
        }
        self.flush_flags();
        Ok(self.out)
    }

    fn literal(&mut self, c: u32) {
        self.atom();
        match char::from_u32(c) {
            Some(ch) => escape_char(&mut self.out, ch),
            None => self.out.push_str(NOTHING),
        }
    }

    /// A repetition operator (`text` without the lazy `?`); reads an optional lazy `?`.
    fn repetition(&mut self, text: &str) -> Result<(), RegexDialectError> {
        let lazy = self.peek() == Some('?');
        if lazy {
            self.bump();
        }
        let shown = format!("{text}{}", if lazy { "?" } else { "" });
        if self.last_repeat {
            return go_err(format!("invalid nested repetition operator: `{shown}` after a repetition"));
        }
        if !self.frame().has_operand {
            return go_err(format!("missing argument to repetition operator: `{shown}`"));
        }
        // Pending flag groups stay after the operator; if they change `U`, the operator's
        // greediness is written for the flags already in force in the Rust text.
        let f = *self.frame();
        let go_lazy = lazy != f.flags.u;
        if self.emitted_repeat {
            // Go applies this operator to the repetition before it: group that explicitly.
            self.out.insert_str(self.operand_start, "(?:");
            self.out.push(')');
        }
        self.out.push_str(text);
        if go_lazy != f.emitted_flags.u {
            self.out.push('?');
        }
        self.emitted_repeat = true;
        Ok(())
    }

    /// Go's `{n}`, `{n,}`, `{n,m}` at the current position: `Some(rust text)`, `None` when it
    /// is no repetition to Go (then `{` is a literal), or an error for counts Go refuses.
    fn counted(&mut self) -> Result<Option<String>, RegexDialectError> {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let mut i = 1;
        let Some((min, used)) = go_int(&bytes[i..]) else { return Ok(None) };
        i += used;
        let max = match bytes.get(i) {
            Some(b'}') => Some(min),
            Some(b',') => {
                i += 1;
                match bytes.get(i) {
                    Some(b'}') => None,
                    _ => {
                        let Some((max, used)) = go_int(&bytes[i..]) else { return Ok(None) };
                        i += used;
                        if bytes.get(i) != Some(&b'}') {
                            return Ok(None);
                        }
                        Some(max)
                    }
                }
            }
            _ => return Ok(None),
        };
        let text = &rest[..=i];
        let too_big = |n: Option<u64>| n.is_some_and(|n| n > u64::from(MAX_REPEAT));
        if too_big(Some(min)) || too_big(max) || max.is_some_and(|m| min > m) {
            return go_err(format!("invalid repeat count: `{text}` (counts are at most {MAX_REPEAT})"));
        }
        self.pos += i + 1;
        Ok(Some(match max {
            Some(m) if m == min => format!("{{{min}}}"),
            Some(m) => format!("{{{min},{m}}}"),
            None => format!("{{{min},}}"),
        }))
    }

    fn open_group(&mut self) -> Result<(), RegexDialectError> {
        let rest = self.rest();
        if !rest.starts_with("(?") {
            self.bump();
            self.open_frame("(");
            return Ok(());
        }
        if rest.len() > 4 && rest.as_bytes()[2] == b'P' && rest.as_bytes()[3] == b'<' {
            let Some(end) = rest.find('>') else {
                return go_err(format!("invalid named capture: `{rest}`"));
            };
            let name = &rest[4..end];
            if name.is_empty() || !name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric()) {
                return go_err(format!("invalid named capture: `{}`", &rest[..=end]));
            }
            self.pos += end + 1;
            // Names do not change what matches; an unnamed group leaves Rust's stricter name
            // rules and duplicate check out of it.
            self.open_frame("(");
            return Ok(());
        }
        // Flags, then `)` (set them here) or `:` (a non-capturing group with them).
        let mut flags = self.frame().flags;
        let mut negated = false;
        let mut saw_flag = false;
        let mut i = 2;
        let invalid = |upto: usize| go_err(format!("invalid or unsupported Perl syntax: `{}`", &rest[..upto]));
        loop {
            let Some(c) = rest[i..].chars().next() else { return invalid(rest.len()) };
            i += c.len_utf8();
            let value = !negated;
            match c {
                'i' => flags.i = value,
                'm' => flags.m = value,
                's' => flags.s = value,
                'U' => flags.u = value,
                '-' if !negated => {
                    negated = true;
                    saw_flag = false;
                    continue;
                }
                ':' | ')' => {
                    if negated && !saw_flag {
                        return invalid(i);
                    }
                    self.pos += i;
                    if c == ')' {
                        // Takes effect for what follows; written before the next item.
                        self.frame().flags = flags;
                    } else {
                        self.flush_flags();
                        let outer = self.frame().emitted_flags;
                        let text = flags.diff_from(outer);
                        let open = match text.strip_suffix(')') {
                            Some(t) => format!("{t}:"),
                            None => "(?:".to_string(),
                        };
                        self.open_frame(&open);
                        let f = self.frame();
                        f.flags = flags;
                        f.emitted_flags = flags;
                    }
                    return Ok(());
                }
                _ => return invalid(i),
            }
            saw_flag = true;
        }
    }

    fn open_frame(&mut self, text: &str) {
        self.atom();
        let start = self.out.len();
        self.out.push_str(text);
        let f = *self.frame();
        self.frames.push(Frame { has_operand: false, flags: f.flags, emitted_flags: f.emitted_flags, start });
    }

    /// An escape outside a class.
    fn escape_outside_class(&mut self) -> Result<(), RegexDialectError> {
        let rest = self.rest();
        let second = rest[1..].chars().next();
        match second {
            Some('A') | Some('z') | Some('b') | Some('B') => {
                self.pos += 2;
                self.atom();
                self.out.push_str(match second {
                    Some('A') => "(?:\\A)",
                    Some('z') => "(?:\\z)",
                    // Go's word boundary is ASCII-only.
                    Some('b') => "(?:(?-u:\\b))",
                    _ => "(?:(?-u:\\B))",
                });
                return Ok(());
            }
            Some('C') => return go_err("invalid escape sequence: `\\C`"),
            Some('Q') => {
                let body = &rest[2..];
                let (lit, used) = match body.find("\\E") {
                    Some(end) => (&body[..end], end + 2),
                    None => (body, body.len()),
                };
                self.pos += 2 + used;
                // An empty `\Q\E` adds nothing: like Go, an operator after it applies to what
                // came before.
                for ch in lit.chars() {
                    self.literal(ch as u32);
                }
                return Ok(());
            }
            _ => {}
        }
        if let Some(class) = self.unicode_class()? {
            self.atom();
            self.out.push_str(&class);
            return Ok(());
        }
        if let Some(class) = self.perl_class() {
            self.atom();
            self.out.push_str(&class);
            return Ok(());
        }
        let c = self.escape()?;
        self.literal(c);
        Ok(())
    }

    /// `\d`, `\D`, `\s`, `\S`, `\w`, `\W` as Go means them (ASCII only).
    fn perl_class(&mut self) -> Option<String> {
        let rest = self.rest().as_bytes();
        if rest.len() < 2 || rest[0] != b'\\' {
            return None;
        }
        let text = match rest[1] {
            b'd' => "[0-9]",
            b'D' => "[^0-9]",
            b's' => "[\\t\\n\\x{C}\\r ]",
            b'S' => "[^\\t\\n\\x{C}\\r ]",
            b'w' => "[0-9A-Za-z_]",
            b'W' => "[^0-9A-Za-z_]",
            _ => return None,
        };
        self.pos += 2;
        Some(text.to_string())
    }

    /// `\pL`, `\p{Greek}`, `\P{^Lu}` with the names Go knows.
    fn unicode_class(&mut self) -> Result<Option<String>, RegexDialectError> {
        let rest = self.rest();
        if !rest.starts_with('\\') {
            return Ok(None);
        }
        let negated = match rest.as_bytes().get(1) {
            Some(b'p') => false,
            Some(b'P') => true,
            _ => return Ok(None),
        };
        let after = &rest[2..];
        let (seq_len, name) = match after.chars().next() {
            Some('{') => {
                let Some(end) = rest.find('}') else {
                    return go_err(format!("invalid character class range: `{rest}`"));
                };
                (end + 1, &rest[3..end])
            }
            Some(c) => (2 + c.len_utf8(), &after[..c.len_utf8()]),
            None => (2, ""),
        };
        let seq = &rest[..seq_len];
        let (negated, name) = match name.strip_prefix('^') {
            Some(n) => (!negated, n),
            None => (negated, name),
        };
        if name != "Any" && !GO_CATEGORIES.contains(&name) && !GO_SCRIPTS.contains(&name) {
            return go_err(format!(
                "invalid character class range: `{seq}` (Go knows general categories such as `L` and scripts such as `Greek`, by their exact names)"
            ));
        }
        self.pos += seq_len;
        const ALL: &str = "[\\x{0}-\\x{10FFFF}]";
        let class = match name {
            "Any" => ALL.to_string(),
            // Surrogates are no Rust `char` and never match in Go.
            "Cs" => NOTHING.to_string(),
            // Go's `C` is Cc, Cf, Co and Cs; Rust's also holds the unassigned code points (Cn).
            "C" => "[\\p{Cc}\\p{Cf}\\p{Co}]".to_string(),
            _ => format!("\\p{{{name}}}"),
        };
        Ok(Some(if negated { format!("[^{class}]") } else { class }))
    }

    /// A single-character escape (Go's `parseEscape`): punctuation, octal, hex, C escapes.
    fn escape(&mut self) -> Result<u32, RegexDialectError> {
        let start = self.pos;
        self.bump();
        let Some(c) = self.bump() else { return go_err("trailing backslash at end of expression") };
        let bad = |t: &Self| go_err(format!("invalid escape sequence: `{}`", &t.src[start..t.pos]));
        match c {
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok(c as u32),
            '1'..='7' if !matches!(self.peek(), Some('0'..='7')) => bad(self),
            '0'..='7' => {
                let mut r = c as u32 - '0' as u32;
                for _ in 1..3 {
                    match self.peek() {
                        Some(d @ '0'..='7') => {
                            r = r * 8 + (d as u32 - '0' as u32);
                            self.bump();
                        }
                        _ => break,
                    }
                }
                Ok(r)
            }
            'x' => match self.bump() {
                Some('{') => {
                    let mut r: u32 = 0;
                    let mut digits = 0;
                    loop {
                        match self.bump() {
                            Some('}') if digits > 0 => return Ok(r),
                            Some(d) if d.is_ascii_hexdigit() => {
                                r = r * 16 + d.to_digit(16).expect("hex digit");
                                if r > 0x10FFFF {
                                    return bad(self);
                                }
                                digits += 1;
                            }
                            _ => return bad(self),
                        }
                    }
                }
                Some(x) if x.is_ascii_hexdigit() => match self.bump() {
                    Some(y) if y.is_ascii_hexdigit() => {
                        Ok(x.to_digit(16).expect("hex") * 16 + y.to_digit(16).expect("hex"))
                    }
                    _ => bad(self),
                },
                _ => bad(self),
            },
            'a' => Ok(7),
            'f' => Ok(0x0C),
            'n' => Ok(0x0A),
            'r' => Ok(0x0D),
            't' => Ok(0x09),
            'v' => Ok(0x0B),
            _ => bad(self),
        }
    }

    /// A bracketed class, read as Go reads it and written with every member escaped.
    fn class(&mut self) -> Result<(), RegexDialectError> {
        let start = self.pos;
        self.bump(); // [
        let negated = self.peek() == Some('^');
        if negated {
            self.bump();
        }
        let missing = |t: &Self| go_err(format!("missing closing ]: `{}`", &t.src[start..]));
        let mut items = Vec::new();
        let mut first = true;
        loop {
            match self.peek() {
                None => return missing(self),
                Some(']') if !first => {
                    self.bump();
                    break;
                }
                _ => {}
            }
            first = false;
            let rest = self.rest();
            if rest.len() > 2
                && rest.starts_with("[:")
                && let Some(end) = rest[2..].find(":]")
            {
                let name = &rest[..end + 4];
                let inner = &name[2..name.len() - 2];
                let base = inner.strip_prefix('^').unwrap_or(inner);
                if !POSIX_CLASSES.contains(&base) {
                    return go_err(format!("invalid character class range: `{name}`"));
                }
                self.pos += end + 4;
                items.push(ClassItem::Nested(format!("[{name}]")));
                continue;
            }
            if let Some(class) = self.unicode_class()? {
                items.push(ClassItem::Nested(format!("[{class}]")));
                continue;
            }
            if let Some(class) = self.perl_class() {
                items.push(ClassItem::Nested(class));
                continue;
            }
            let range_start = self.pos;
            let lo = self.class_char(start)?;
            let mut hi = lo;
            let r = self.rest();
            if r.len() >= 2 && r.starts_with('-') && !r[1..].starts_with(']') {
                self.bump();
                hi = self.class_char(start)?;
                if hi < lo {
                    return go_err(format!("invalid character class range: `{}`", &self.src[range_start..self.pos]));
                }
            }
            items.push(ClassItem::Range(lo, hi));
        }
        self.out.push('[');
        if negated {
            self.out.push('^');
        }
        let mut wrote = false;
        for item in items {
            match item {
                ClassItem::Nested(text) => {
                    self.out.push_str(&text);
                    wrote = true;
                }
                ClassItem::Range(lo, hi) => {
                    // Surrogates are no Rust `char`; Go never matches them.
                    let lo = if is_surrogate(lo) { 0xE000 } else { lo };
                    let hi = if is_surrogate(hi) { 0xD7FF } else { hi };
                    if lo > hi {
                        continue;
                    }
                    if lo == hi {
                        let _ = write!(self.out, "\\x{{{lo:X}}}");
                    } else {
                        let _ = write!(self.out, "\\x{{{lo:X}}}-\\x{{{hi:X}}}");
                    }
                    wrote = true;
                }
            }
        }
        if !wrote {
            self.out.push_str(NOTHING);
        }
        self.out.push(']');
        Ok(())
    }

    fn class_char(&mut self, class_start: usize) -> Result<u32, RegexDialectError> {
        match self.peek() {
            None => go_err(format!("missing closing ]: `{}`", &self.src[class_start..])),
            Some('\\') => self.escape(),
            Some(c) => {
                self.bump();
                Ok(c as u32)
            }
        }
    }
}

/// Go's decimal in a repetition: digits without a leading zero; `Some((value, length))`.
/// Values above 10^8 saturate (they are refused as counts anyway).
fn go_int(bytes: &[u8]) -> Option<(u64, usize)> {
    let len = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if len == 0 || (len >= 2 && bytes[0] == b'0') {
        return None;
    }
    let mut n: u64 = 0;
    for b in &bytes[..len] {
        n = (n * 10 + u64::from(b - b'0')).min(1_000_000_000);
    }
    Some((n, len))
}

/// Parse the translated pattern with the Rust parser, enforce Go's limit on nested repetition
/// counts on its AST, and translate it to HIR.
fn check_rust(rust: &str, nest_limit: u32) -> Result<regex_syntax::hir::Hir, RegexDialectError> {
    use regex_syntax::ast;
    let parsed = ast::parse::ParserBuilder::new()
        .nest_limit(nest_limit)
        .build()
        .parse(rust)
        .map_err(|e| RegexDialectError::Rust(e.kind().to_string()))?;
    check_repeat_products(&parsed)?;
    regex_syntax::hir::translate::TranslatorBuilder::new()
        .build()
        .translate(rust, &parsed)
        .map_err(|e| RegexDialectError::Rust(e.kind().to_string()))
}

/// Go refuses a counted repetition whose nested counts multiply to more than 1000
/// (`(a{10}){101}`), checked at every counted repetition with a count of 2 or more.
fn check_repeat_products(node: &regex_syntax::ast::Ast) -> Result<(), RegexDialectError> {
    use regex_syntax::ast::{Ast, RepetitionKind, RepetitionRange};
    fn bounds(kind: &RepetitionKind) -> Option<(u32, Option<u32>)> {
        match kind {
            RepetitionKind::Range(RepetitionRange::Exactly(n)) => Some((*n, Some(*n))),
            RepetitionKind::Range(RepetitionRange::AtLeast(n)) => Some((*n, None)),
            RepetitionKind::Range(RepetitionRange::Bounded(a, b)) => Some((*a, Some(*b))),
            _ => None,
        }
    }
    fn children(node: &Ast) -> Vec<&Ast> {
        match node {
            Ast::Repetition(r) => vec![&r.ast],
            Ast::Group(g) => vec![&g.ast],
            Ast::Alternation(a) => a.asts.iter().collect(),
            Ast::Concat(c) => c.asts.iter().collect(),
            _ => Vec::new(),
        }
    }
    // Go's `repeatIsValid`.
    fn valid(node: &Ast, mut n: u32) -> bool {
        if let Ast::Repetition(r) = node
            && let Some((min, max)) = bounds(&r.op.kind)
        {
            let m = match max {
                Some(0) => return true,
                Some(m) => m,
                None => min,
            };
            if m > n {
                return false;
            }
            // A count of 0 repeats nothing; Go leaves the budget as it is.
            n = n.checked_div(m).unwrap_or(n);
        }
        children(node).into_iter().all(|c| valid(c, n))
    }
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        if let Ast::Repetition(r) = node
            && let Some((min, max)) = bounds(&r.op.kind)
            && (min >= 2 || max.is_some_and(|m| m >= 2))
            && !valid(node, MAX_REPEAT)
        {
            return go_err(format!(
                "invalid repeat count: nested repetition counts multiply to more than {MAX_REPEAT}"
            ));
        }
        stack.extend(children(node));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_examples() {
        for bad in [
            "a{1001}",
            "\\u0041",
            "(?x)a b",
            "(?u)a",
            "(?i-u)a",
            "a**",
            "a*+",
            "[a--b]",
            "\\p{Letter}",
            "\\p{Script=Greek}",
            "(a{10}){101}",
        ] {
            assert!(to_rust(bad).is_err(), "{bad} must be refused");
        }
        assert_eq!(to_rust("\\Qa.b\\E").unwrap(), "a\\x{2E}b");
        let re = regex::Regex::new(&to_rust("x\\Qa.b\\E+").unwrap()).unwrap();
        assert!(re.is_match("xa.bbb") && !re.is_match("xaxb"));
    }

    #[test]
    fn same_meaning_as_go() {
        let m = |p: &str, s: &str| regex::Regex::new(&to_rust(p).unwrap()).unwrap().is_match(s);
        // A `{` that is no repetition is a literal to Go.
        assert!(m("a{,5}", "a{,5}") && !m("a{,5}", "aaaaa"));
        assert!(m("a{01}", "a{01}"));
        // `[` and `&&` inside a class are literals to Go.
        assert!(m("^[a[]$", "[") && m("^[a&&b]$", "&"));
        // ASCII-only classes and boundaries.
        assert!(!m("^\\w$", "é") && !m("^\\d$", "٣") && !m("^\\s$", "\u{0B}"));
        assert!(m("\\bx", "éx"));
        // Octal escapes.
        assert!(m("^\\101$", "A"));
        // Flags that repeat or cancel each other.
        assert!(m("(?ii)a", "A") && !m("(?i-i)a", "A"));
        // A flag group before a repetition: the repetition applies to what came before.
        assert!(m("^ab(?i)*$", "a") && m("^ab(?i)*c$", "abbC"));
        assert!(to_rust("(?i)*").is_err() && to_rust("a|*").is_err());
    }
}
