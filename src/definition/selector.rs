//! Parsers for Kubernetes label selectors and Prometheus series selectors, so that a typo is
//! caught in review instead of failing on every cluster.

/// Check a Kubernetes label selector (`app=etcd,tier in (a,b),!canary`). Returns the byte offset
/// and a message on the first problem.
pub fn check_label_selector(s: &str) -> Result<(), (usize, String)> {
    let mut p = Cursor { s, pos: 0 };
    p.skip_ws();
    if p.eof() {
        return Ok(()); // the empty selector selects everything
    }
    loop {
        p.skip_ws();
        let negated = p.eat("!");
        p.skip_ws();
        let key_at = p.pos;
        let key = p.take_while(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        check_label_key(key).map_err(|m| (key_at, m))?;
        p.skip_ws();
        if negated {
            // `!key` takes no operator.
        } else if p.eat("==") || p.eat("!=") || p.eat("=") {
            p.skip_ws();
            let at = p.pos;
            let value = p.take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            check_label_value(value).map_err(|m| (at, m))?;
            if !p.eof() && !p.peek_is(',') && !p.peek_is(' ') {
                return Err((p.pos, format!("unexpected `{}` in a label value", p.rest_char())));
            }
        } else if p.eat_word("notin") || p.eat_word("in") {
            p.skip_ws();
            if !p.eat("(") {
                return Err((p.pos, "expected `(` after `in`/`notin`".into()));
            }
            loop {
                p.skip_ws();
                let at = p.pos;
                let value = p.take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
                check_label_value(value).map_err(|m| (at, m))?;
                p.skip_ws();
                if p.eat(")") {
                    break;
                }
                if !p.eat(",") {
                    return Err((p.pos, "expected `,` or `)` in a value set".into()));
                }
            }
        }
        p.skip_ws();
        if p.eof() {
            return Ok(());
        }
        if !p.eat(",") {
            return Err((p.pos, format!("unexpected `{}`; requirements are separated by `,`", p.rest_char())));
        }
    }
}

fn check_label_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("expected a label key".into());
    }
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && (prefix.is_empty() || prefix.len() > 253)
    {
        return Err(format!("label key prefix `{prefix}` must be a DNS subdomain"));
    }
    if name.is_empty() || name.len() > 63 {
        return Err(format!("label key name `{name}` must be 1 to 63 characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) || !name.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!("label key `{key}` must start and end with a letter or digit"));
    }
    Ok(())
}

fn check_label_value(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err("label values are at most 63 characters".into());
    }
    if !value.is_empty()
        && (!value.starts_with(|c: char| c.is_ascii_alphanumeric())
            || !value.ends_with(|c: char| c.is_ascii_alphanumeric()))
    {
        return Err(format!("label value `{value}` must start and end with a letter or digit"));
    }
    Ok(())
}

/// Check a Prometheus series selector: `metric`, `metric{l="v",m=~"re"}` or `{__name__="m"}`.
pub fn check_series_selector(s: &str) -> Result<(), (usize, String)> {
    let mut p = Cursor { s, pos: 0 };
    p.skip_ws();
    let name_at = p.pos;
    let name = p.take_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if !name.is_empty() && name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err((name_at, format!("metric name `{name}` must not start with a digit")));
    }
    p.skip_ws();
    let mut matchers = 0;
    if p.eat("{") {
        loop {
            p.skip_ws();
            if p.eat("}") {
                break;
            }
            let at = p.pos;
            let label = p.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
            if label.is_empty() || label.starts_with(|c: char| c.is_ascii_digit()) {
                return Err((at, "expected a label name".into()));
            }
            p.skip_ws();
            let op_at = p.pos;
            let regex_op = if p.eat("=~") || p.eat("!~") {
                true
            } else if p.eat("!=") || p.eat("=") {
                false
            } else {
                return Err((op_at, "expected one of `=`, `!=`, `=~`, `!~`".into()));
            };
            p.skip_ws();
            let value_at = p.pos;
            let value = p.quoted().map_err(|m| (value_at, m))?;
            // Prometheus matches with Go's regexp: the portable dialect says what it accepts.
            if regex_op && let Err(e) = super::regex_dialect::to_rust(&value) {
                return Err((value_at, format!("invalid regex: {e}")));
            }
            matchers += 1;
            p.skip_ws();
            if p.eat("}") {
                break;
            }
            if !p.eat(",") {
                return Err((p.pos, "expected `,` or `}`".into()));
            }
        }
    }
    p.skip_ws();
    if !p.eof() {
        return Err((p.pos, format!("unexpected `{}` after the selector", p.rest_char())));
    }
    if name.is_empty() && matchers == 0 {
        return Err((0, "a selector needs a metric name or at least one label matcher".into()));
    }
    Ok(())
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn eof(&self) -> bool {
        self.pos >= self.s.len()
    }
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
    fn rest_char(&self) -> char {
        self.rest().chars().next().unwrap_or(' ')
    }
    fn peek_is(&self, c: char) -> bool {
        self.rest().starts_with(c)
    }
    fn skip_ws(&mut self) {
        while self.rest().starts_with([' ', '\t']) {
            self.pos += 1;
        }
    }
    fn eat(&mut self, tok: &str) -> bool {
        if self.rest().starts_with(tok) {
            self.pos += tok.len();
            true
        } else {
            false
        }
    }
    fn eat_word(&mut self, word: &str) -> bool {
        let rest = self.rest();
        if rest.starts_with(word) && rest[word.len()..].starts_with([' ', '(']) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }
    fn take_while(&mut self, f: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        let len: usize = self.rest().chars().take_while(|c| f(*c)).map(char::len_utf8).sum();
        self.pos += len;
        &self.s[start..self.pos]
    }
    fn quoted(&mut self) -> Result<String, String> {
        let quote = self.rest_char();
        if !matches!(quote, '"' | '\'' | '`') {
            return Err("expected a quoted label value".into());
        }
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' if quote != '`' => match chars.next() {
                    Some((_, e)) => out.push(e),
                    None => break,
                },
                c if c == quote => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        Err("unterminated quoted value".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selectors() {
        for ok in ["", "app=etcd", "app==etcd,tier!=x", "!canary", "env in (a, b),x notin (c)", "k8s-app", "a/b=c"] {
            assert!(check_label_selector(ok).is_ok(), "{ok}");
        }
        for bad in ["app in (a", "=x", "app=etcd extra", "app=-x", "app in a", "a,,b"] {
            assert!(check_label_selector(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn series_selectors() {
        for ok in ["up", "up{job=\"etcd\"}", "{__name__=\"x\"}", "a:b_c{l=~\"x.*\", m!~'y'}", "x{}"] {
            assert!(check_series_selector(ok).is_ok(), "{ok}");
        }
        for bad in ["foo{bar=}", "foo{bar=\"x\"", "1abc", "{}", "foo{b=~\"(\"}", "foo bar"] {
            assert!(check_series_selector(bad).is_err(), "{bad}");
        }
    }
}
