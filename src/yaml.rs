//! YAML loading into a tree that keeps a source span for every node and key.
//!
//! serde-saphyr parses (strict YAML 1.2 booleans, duplicate keys rejected, budgets against alias
//! bombs and deep nesting); a small `Deserialize` visitor builds [`Node`]s from `Spanned` values
//! so that any later check (JSON Schema, semantic rules) can point at the exact line and column.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::diag::Span;

/// A YAML node with the span of its value in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    /// Entries in source order; duplicate keys are kept so they can be reported with both spans.
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Span,
}

impl Value {
    /// The JSON-Schema-ish type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) | Value::UInt(_) => "integer",
            Value::Float(_) => "number",
            Value::String(_) => "string",
            Value::Seq(_) => "sequence",
            Value::Map(_) => "mapping",
        }
    }
}

impl Node {
    /// Look up a child by JSON pointer (`/gather/0/containerLogs/messages/1`).
    pub fn pointer(&self, pointer: &str) -> Option<&Node> {
        if pointer.is_empty() {
            return Some(self);
        }
        let mut node = self;
        for token in pointer.strip_prefix('/')?.split('/') {
            let token = token.replace("~1", "/").replace("~0", "~");
            node = match &node.value {
                Value::Map(entries) => entries.iter().rev().find(|(k, _)| k.name == token).map(|(_, v)| v)?,
                Value::Seq(items) => items.get(token.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(node)
    }

    /// The span of the key that holds the node at `pointer` (for "unknown key"-style messages),
    /// falling back to the node's own span.
    pub fn key_span(&self, pointer: &str) -> Option<Span> {
        let (parent, last) = pointer.rsplit_once('/')?;
        let last = last.replace("~1", "/").replace("~0", "~");
        let parent = self.pointer(parent)?;
        match &parent.value {
            Value::Map(entries) => entries.iter().rev().find(|(k, _)| k.name == last).map(|(k, _)| k.span),
            Value::Seq(items) => items.get(last.parse::<usize>().ok()?).map(|n| n.span),
            _ => None,
        }
    }

    /// Convert to JSON for schema validation and typed deserialisation. With duplicate keys the
    /// last one wins here; duplicates are reported separately before.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::UInt(u) => J::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::String(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(entries.iter().map(|(k, v)| (k.name.clone(), v.to_json())).collect()),
        }
    }

    /// Every key that occurs twice in one mapping, anywhere in the tree: (first, duplicate).
    pub fn duplicate_keys(&self) -> Vec<(&Key, &Key)> {
        let mut out = Vec::new();
        self.collect_duplicates(&mut out);
        out
    }

    fn collect_duplicates<'a>(&'a self, out: &mut Vec<(&'a Key, &'a Key)>) {
        match &self.value {
            Value::Map(entries) => {
                for (i, (k, v)) in entries.iter().enumerate() {
                    if let Some((first, _)) = entries[..i].iter().find(|(f, _)| f.name == k.name) {
                        out.push((first, k));
                    }
                    v.collect_duplicates(out);
                }
            }
            Value::Seq(items) => items.iter().for_each(|n| n.collect_duplicates(out)),
            _ => {}
        }
    }
}

/// Why a document could not be turned into a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ParseErrorKind,
    pub message: String,
    pub span: Option<Span>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    Syntax,
    Tabs,
    DuplicateKey,
    Budget,
    MultipleDocuments,
    Tag,
    Empty,
}

/// Limits for definition files: small, flat documents.
fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = 32;
    budget.max_nodes = 50_000;
    budget.max_aliases = 100;
    budget.max_anchors = 100;
    budget.max_documents = 1;
    budget.max_events = 200_000;
    budget.max_total_scalar_bytes = 2 * 1024 * 1024;
    budget.max_recorded_anchor_events = 10_000;
    budget.max_recorded_anchor_bytes = 256 * 1024;
    budget.max_merge_keys = 16;
    let mut opts = serde_saphyr::Options::default();
    opts.budget = Some(budget);
    opts.alias_limits.max_total_replayed_events = 10_000;
    opts.alias_limits.max_replay_stack_depth = 8;
    opts.alias_limits.max_alias_expansions_per_anchor = 100;
    opts.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    opts.strict_booleans = true;
    opts.no_schema = false;
    opts.legacy_octal_numbers = false;
    opts.reject_unsupported_tags = true;
    opts.with_snippet = false;
    opts
}

/// Parse one YAML document from `text` into a [`Node`] tree.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    // YAML 1.2 reads a lone CR as a line break, but line numbers in diagnostics, editors and
    // `git diff` would not agree on the lines: such files are refused, saying why.
    if let Some(at) = lone_cr(text) {
        return Err(ParseError {
            kind: ParseErrorKind::Syntax,
            message: "the file uses lone carriage returns (CR, old Mac line endings) as line breaks; \
                      only LF or CRLF line endings are accepted: convert the file to LF"
                .into(),
            span: Some(Span::at_offset(text, at, 1)),
        });
    }
    if text.trim().lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return Err(ParseError {
            kind: ParseErrorKind::Empty,
            message: "the file holds no YAML document".into(),
            span: Some(Span::START),
        });
    }
    let raw: Spanned<Raw> = serde_saphyr::from_str_with_options(text, options()).map_err(|e| classify(text, &e))?;
    // Tags (`!!binary`, `!custom`) have no meaning in definitions; only scan when a `!` occurs.
    if text.contains('!')
        && let Some(span) = first_tag(text)
    {
        return Err(ParseError {
            kind: ParseErrorKind::Tag,
            message: "YAML tags are not allowed in definitions".into(),
            span: Some(span),
        });
    }
    Ok(raw.into_node(text))
}

/// Byte offset of the first CR that is not followed by LF.
fn lone_cr(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().find(|&(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n')).map(|(i, _)| i)
}

/// The position of the first tagged node, if any.
fn first_tag(text: &str) -> Option<Span> {
    use serde_saphyr::granit_parser::{Event, Parser};
    for item in Parser::new_from_str(text) {
        let (event, span) = item.ok()?;
        let tagged = match &event {
            Event::Scalar(_, _, _, tag) | Event::SequenceStart(_, _, tag) | Event::MappingStart(_, _, tag) => {
                tag.is_some()
            }
            _ => false,
        };
        if tagged {
            let offset = span.start.index();
            return Some(Span::at_offset(text, text.char_indices().nth(offset).map_or(text.len(), |(i, _)| i), 1));
        }
    }
    None
}

fn classify(text: &str, err: &serde_saphyr::Error) -> ParseError {
    let span = err.location().filter(|l| l.line() > 0).map(|l| location_span(text, &l));
    let message = err.without_snippet().to_string();
    let kind = match kind_of(err) {
        ParseErrorKind::Syntax if tab_in_indentation(text, span) => ParseErrorKind::Tabs,
        kind => kind,
    };
    let mut message = message.lines().next().unwrap_or("invalid YAML").trim().to_string();
    // The position is shown separately; drop the parser's own " at line L, column C".
    if let Some(cut) = message.rfind(" at line ") {
        message.truncate(cut);
    }
    if kind == ParseErrorKind::MultipleDocuments {
        message = "the file holds more than one YAML document; a definition file holds exactly one".into();
    }
    if kind == ParseErrorKind::DuplicateKey
        && let Some(rest) = message.strip_prefix("duplicate mapping key: ")
    {
        let name = rest.split(", set DuplicateKeyPolicy").next().unwrap_or(rest);
        message = format!("duplicate key `{name}`");
    }
    ParseError { kind, message, span }
}

/// The kind of a parser error, from its variant (never from its wording, which may change).
fn kind_of(err: &serde_saphyr::Error) -> ParseErrorKind {
    use serde_saphyr::Error as E;
    match err {
        E::WithSnippet { error, .. } | E::AliasError { error, .. } => kind_of(error),
        E::MultipleDocuments { .. }
        | E::Budget { breach: serde_saphyr::budget::BudgetBreach::Documents { .. }, .. } => {
            ParseErrorKind::MultipleDocuments
        }
        E::Budget { .. }
        | E::AliasReplayCounterOverflow { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => ParseErrorKind::Budget,
        E::ExternalMessage { source, .. } => match source.as_ref() {
            serde_saphyr::ExternalMessageSource::Parser(scan) => match scan.kind() {
                serde_saphyr::granit_parser::ErrorKind::RecursionLimitExceeded => ParseErrorKind::Budget,
                _ => ParseErrorKind::Syntax,
            },
            _ => ParseErrorKind::Syntax,
        },
        E::DuplicateMappingKey { .. } => ParseErrorKind::DuplicateKey,
        E::TaggedScalarCannotDeserializeIntoString { .. }
        | E::TaggedEnumMismatch { .. }
        | E::InvalidBinaryBase64 { .. }
        | E::BinaryNotUtf8 { .. } => ParseErrorKind::Tag,
        _ => ParseErrorKind::Syntax,
    }
}

/// A syntax error on or right after a line indented with a tab is reported as a tab problem.
fn tab_in_indentation(text: &str, span: Option<Span>) -> bool {
    let line = span.map_or(0, |s| s.line as usize);
    text.lines()
        .enumerate()
        .filter(|(i, _)| line == 0 || (*i + 2 >= line && *i <= line))
        .any(|(_, l)| l.chars().take_while(|c| c.is_whitespace()).any(|c| c == '\t'))
}

fn location_span(text: &str, loc: &serde_saphyr::Location) -> Span {
    let span = loc.span();
    match (span.byte_offset(), span.byte_len()) {
        (Some(off), len) => {
            let off = off as usize;
            let len = len.unwrap_or(0) as usize;
            Span { line: loc.line() as u32, column: loc.column() as u32, offset: off.min(text.len()), len }
        }
        _ => Span { line: loc.line() as u32, column: loc.column() as u32, offset: 0, len: 0 },
    }
}

/// The raw tree as deserialised; converted into [`Node`] with spans resolved against the text.
#[derive(Debug)]
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    String(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<String>, Spanned<Raw>)>),
}

trait IntoNode {
    fn into_node(self, text: &str) -> Node;
}

impl IntoNode for Spanned<Raw> {
    fn into_node(self, text: &str) -> Node {
        let mut span = location_span(text, &self.referenced);
        let value = match self.value {
            Raw::Null => Value::Null,
            Raw::Bool(b) => Value::Bool(b),
            Raw::Int(i) => Value::Int(i),
            Raw::UInt(u) => Value::UInt(u),
            Raw::Float(f) => Value::Float(f),
            Raw::String(s) => Value::String(s),
            Raw::Seq(items) => Value::Seq(items.into_iter().map(|n| n.into_node(text)).collect()),
            Raw::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| {
                        let kspan = location_span(text, &k.referenced);
                        (Key { name: k.value, span: kspan }, v.into_node(text))
                    })
                    .collect(),
            ),
        };
        if matches!(value, Value::Map(_) | Value::Seq(_)) {
            // Containers point at their first character only: a whole-block underline is noise.
            span.len = span.len.min(1);
        }
        Node { value, span }
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::UInt(v))
    }
    fn visit_i128<E: de::Error>(self, _v: i128) -> Result<Raw, E> {
        Err(E::custom("integer out of range"))
    }
    fn visit_u128<E: de::Error>(self, _v: u128) -> Result<Raw, E> {
        Err(E::custom("integer out of range"))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::String(v))
    }
    fn visit_bytes<E: de::Error>(self, _v: &[u8]) -> Result<Raw, E> {
        Err(E::custom("binary (tagged) values are not allowed"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let value = map.next_value::<Spanned<Raw>>()?;
            let key = Spanned { value: key.value.0, referenced: key.referenced, defined: key.defined };
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
}

/// A mapping key: scalars only, rendered as text (`1: x` has key "1").
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Raw::deserialize(d)? {
            Raw::String(s) => Ok(KeyText(s)),
            Raw::Int(i) => Ok(KeyText(i.to_string())),
            Raw::UInt(u) => Ok(KeyText(u.to_string())),
            Raw::Float(f) => Ok(KeyText(f.to_string())),
            Raw::Bool(b) => Ok(KeyText(b.to_string())),
            Raw::Null => Ok(KeyText("null".into())),
            Raw::Seq(_) | Raw::Map(_) => Err(de::Error::custom("mapping keys must be scalars")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_keys_and_values() {
        let text = "a: 1\nb:\n  - x\n  - {c: yes}\n";
        let node = parse(text).unwrap();
        let b1 = node.pointer("/b/1/c").unwrap();
        assert_eq!(b1.value, Value::String("yes".into()), "YAML 1.1 booleans stay strings");
        assert_eq!((b1.span.line, b1.span.column), (4, 9));
        assert_eq!(&text[b1.span.offset..b1.span.offset + b1.span.len], "yes");
        let key = node.key_span("/b").unwrap();
        assert_eq!((key.line, key.column), (2, 1));
        assert_eq!(node.pointer("/a").unwrap().value, Value::UInt(1));
    }

    #[test]
    fn versions_as_number_is_a_float() {
        let node = parse("versions: 4.10\n").unwrap();
        assert_eq!(node.pointer("/versions").unwrap().value, Value::Float(4.1));
    }

    #[test]
    fn duplicate_keys_are_found_with_both_spans() {
        let node = parse("a: 1\nb: {x: 1, x: 2}\na: 3\n");
        match node {
            Ok(n) => {
                let d = n.duplicate_keys();
                assert_eq!(d.len(), 2, "{d:?}");
            }
            Err(e) => assert_eq!(e.kind, ParseErrorKind::DuplicateKey, "{e:?}"),
        }
    }

    #[test]
    fn billion_laughs_hits_the_budget() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = parse(&text).unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::Budget, "{err:?}");
    }

    #[test]
    fn two_documents_are_rejected() {
        let err = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::MultipleDocuments, "{err:?}");
    }

    #[test]
    fn tabs_are_named() {
        let err = parse("a:\n\tb: 1\n").unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::Tabs, "{err:?}");
    }
}
