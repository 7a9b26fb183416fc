//! A YAML document as a tree of nodes that remember where they came from.
//!
//! The config is read in two steps: serde-saphyr parses the text into this tree (so syntax
//! errors carry a line and column), then the validator walks the tree and reports *every*
//! problem it finds, each pointing at the node's own line and column. Deserializing straight
//! into structs would stop at the first problem.
//!
//! JSON is YAML, so [`parse`] also reads JSON documents (OpenAPI exports). [`emit`] writes a
//! tree back as block-style YAML that `parse` reads to the same values.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A 1-based line and column in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    /// Line, from 1; 0 when unknown.
    pub line: u64,
    /// Column, from 1; 0 when unknown.
    pub column: u64,
}

/// A node of the YAML tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `~`, `null` or an empty value.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits i64.
    Int(i64),
    /// A floating-point number, or an integer too large for i64 (the nearest float).
    Float(f64),
    /// A string scalar.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order. Keys are scalars rendered as strings.
    Map(Vec<(Key, Node)>),
}

/// A mapping key with its location.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key text.
    pub name: String,
    /// Where the key starts.
    pub loc: Loc,
}

/// A value with its location.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the value starts.
    pub loc: Loc,
}

impl Node {
    /// The same tree with every location cleared: what two trees are compared by when
    /// where they were written does not matter (emitted and read back, converted twice).
    pub fn without_locations(&self) -> Node {
        let value = match &self.value {
            Value::Seq(items) => Value::Seq(items.iter().map(Node::without_locations).collect()),
            Value::Map(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| {
                        let key = Key {
                            name: k.name.clone(),
                            loc: Loc::default(),
                        };
                        (key, v.without_locations())
                    })
                    .collect(),
            ),
            other => other.clone(),
        };
        Node {
            value,
            loc: Loc::default(),
        }
    }
}

impl Value {
    /// A short description of the YAML type, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

fn loc_of<T>(s: &Spanned<T>) -> Loc {
    Loc {
        line: s.referenced.line(),
        column: s.referenced.column(),
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(d)?;
        let loc = loc_of(&spanned);
        Ok(Node {
            value: spanned.value,
            loc,
        })
    }
}

/// A scalar used as a mapping key, rendered as text.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Str(s) => Ok(KeyText(s)),
            Value::Int(i) => Ok(KeyText(i.to_string())),
            Value::Bool(b) => Ok(KeyText(b.to_string())),
            Value::Float(f) => Ok(KeyText(f.to_string())),
            Value::Null => Ok(KeyText("null".into())),
            other => Err(de::Error::custom(format!(
                "a mapping key must be a scalar, found {}",
                other.kind()
            ))),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    // Integers beyond i64 become floats, as in JavaScript, so that JSON documents (OpenAPI
    // schemas with `"maximum": 18446744073709551615`) parse; a key that needs an integer
    // still refuses them.
    #[expect(
        clippy::cast_precision_loss,
        reason = "an integer beyond i64 is kept as the nearest float, as JSON parsers do"
    )]
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    #[expect(
        clippy::cast_precision_loss,
        reason = "an integer beyond i64 is kept as the nearest float, as JSON parsers do"
    )]
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    #[expect(
        clippy::cast_precision_loss,
        reason = "an integer beyond i64 is kept as the nearest float, as JSON parsers do"
    )]
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(node) = seq.next_element::<Node>()? {
            items.push(node);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(Key, Node)> = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let loc = loc_of(&key);
            let name = key.value.0;
            let node = map.next_value::<Node>()?;
            if let Some((first, _)) = entries.iter().find(|(k, _)| k.name == name) {
                return Err(de::Error::custom(format!(
                    "duplicate key `{name}` (first at line {}, again at line {})",
                    first.loc.line, loc.line
                )));
            }
            entries.push((Key { name, loc }, node));
        }
        Ok(Value::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    /// What the parser said.
    pub message: String,
    /// Where, if the parser knew.
    pub loc: Loc,
}

/// Parses YAML text into a node tree.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    parse_with(text, true)
}

/// Parses YAML text in which aliases (`*name`) are refused: for documents from elsewhere
/// (OpenAPI exports never use them), where a few nested aliases to a long scalar would copy
/// it billions of times.
pub fn parse_without_aliases(text: &str) -> Result<Node, SyntaxError> {
    parse_with(text, false)
}

fn parse_with(text: &str, aliases: bool) -> Result<Node, SyntaxError> {
    // Duplicates reach our own visitor, which reports both places.
    let mut options = serde_saphyr::Options::default();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    if !aliases {
        options.alias_limits.max_total_replayed_events = 0;
        options.alias_limits.max_alias_expansions_per_anchor = 0;
    }
    let result: Result<Node, serde_saphyr::Error> =
        serde_saphyr::from_str_with_options(text, options);
    result.map_err(|e| {
        let loc = e
            .location()
            .map(|l| Loc {
                line: l.line(),
                column: l.column(),
            })
            .unwrap_or_default();
        let full = e.to_string();
        // The crate's message may carry its own snippet and position; keep the reason only.
        let mut message = full.lines().next().unwrap_or("invalid YAML").trim();
        message = message.strip_prefix("error:").unwrap_or(message).trim();
        if let Some(rest) = message.strip_prefix("line ")
            && let Some((_, reason)) = rest.split_once(": ")
        {
            message = reason.trim();
        }
        let message = message.to_owned();
        SyntaxError { message, loc }
    })
}

/// Writes a tree as block-style YAML that [`parse`] reads back to the same values.
///
/// Mappings and sequences are written in block style, two spaces a level, empty ones as `{}`
/// and `[]`. A string is written plain when it reads back as the same string, else
/// double-quoted: `"$default"`, `"{proxy+}"`, `"*"`, `"'literal'"`, `"123456789012"`,
/// `"yes"`, `" leading space"`, text with a line break. Locations are not written.
pub fn emit(node: &Node) -> String {
    let mut out = String::new();
    match &node.value {
        Value::Map(entries) if !entries.is_empty() => emit_entries(&mut out, entries, 0),
        Value::Seq(items) if !items.is_empty() => emit_items(&mut out, items, 0),
        other => {
            out.push_str(&scalar_text(other));
            out.push('\n');
        }
    }
    out
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn emit_entries(out: &mut String, entries: &[(Key, Node)], indent: usize) {
    for (key, node) in entries {
        push_indent(out, indent);
        out.push_str(&scalar_string(&key.name));
        out.push(':');
        match &node.value {
            Value::Map(inner) if !inner.is_empty() => {
                out.push('\n');
                emit_entries(out, inner, indent + 2);
            }
            Value::Seq(items) if !items.is_empty() => {
                out.push('\n');
                emit_items(out, items, indent + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar_text(other));
                out.push('\n');
            }
        }
    }
}

fn emit_items(out: &mut String, items: &[Node], indent: usize) {
    for node in items {
        push_indent(out, indent);
        out.push('-');
        // A collection starts on the item's own line (`- key: value`, `- - x`): written one
        // level deeper, its first line loses that level's indentation.
        let mut block = String::new();
        match &node.value {
            Value::Map(inner) if !inner.is_empty() => emit_entries(&mut block, inner, indent + 2),
            Value::Seq(inner) if !inner.is_empty() => emit_items(&mut block, inner, indent + 2),
            other => {
                out.push(' ');
                out.push_str(&scalar_text(other));
                out.push('\n');
                continue;
            }
        }
        out.push(' ');
        out.push_str(block.trim_start_matches(' '));
    }
}

/// A scalar (or an empty collection) as YAML text.
fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_nan() => ".nan".to_owned(),
        Value::Float(f) if f.is_infinite() => if *f > 0.0 { ".inf" } else { "-.inf" }.to_owned(),
        // `{:?}` is the shortest text that reads back as the same float, always with a `.`
        // or an exponent (`1.0`, `1e20`), so it is never read as an integer.
        Value::Float(f) => format!("{f:?}"),
        Value::Str(s) => scalar_string(s),
        Value::Seq(_) => "[]".to_owned(),
        Value::Map(_) => "{}".to_owned(),
    }
}

/// A string as a plain scalar when that reads back as the same string, else double-quoted.
fn scalar_string(s: &str) -> String {
    if plain_is_safe(s) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether `s` written plain reads back as the string `s`. Conservative: YAML 1.1 words
/// (`yes`, `off`, `y`) and anything number-like (`012`, `0x1F`, `1_000`, `2.0`) are quoted,
/// since the parser resolves them to booleans and numbers.
fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    // Indicators that start something else than a plain scalar, or that make one read
    // differently (`$` is safe YAML but quoted for the reader: `"$default"`).
    if "-?:,[]{}#&*!|>'\"%@`$<.=~+ ".contains(first) || (first.is_ascii_digit() && number_like(s)) {
        return false;
    }
    if s.ends_with([' ', ':'])
        || s.contains(": ")
        || s.contains(" #")
        || s.chars()
            .any(|c| c.is_control() || c.is_whitespace() && c != ' ' || matches!(c, '\u{feff}'))
    {
        return false;
    }
    !matches!(
        s.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
    )
}

/// Text made of what YAML numbers are made of (digits, signs, dots, `_`, `:`, and the
/// letters of exponents, hexadecimal, octal and binary prefixes).
fn number_like(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_hexdigit() || "xXoObB_.:+-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_locations() {
        let node = parse("a:\n  b: 1\n  c: [x, \"y\"]\n").unwrap_or_else(|e| panic!("{e:?}"));
        let Value::Map(top) = node.value else {
            panic!("not a map")
        };
        let (k, v) = &top[0];
        assert_eq!(k.name, "a");
        assert_eq!((k.loc.line, k.loc.column), (1, 1));
        let Value::Map(inner) = &v.value else {
            panic!("not a map")
        };
        assert_eq!(inner[0].0.loc.line, 2);
        assert_eq!(inner[0].1.value, Value::Int(1));
        assert_eq!((inner[0].1.loc.line, inner[0].1.loc.column), (2, 6));
        assert_eq!(inner[1].0.loc.line, 3);
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse("a: 1\na: 2\n")
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert!(err.message.contains("duplicate"), "{}", err.message);
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let err = parse("a: [1, 2\nb: 3\n")
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert!(err.loc.line >= 1, "{err:?}");
    }

    #[test]
    fn parses_json_exports() {
        // What `aws apigateway get-export` and JSON tools write: escapes (surrogate pairs
        // included), minified nested flow collections, tabs, numbers of every form.
        let text = "{\"a\":\"q\\\"b\\\\s\\/\\u00e9\\ud83d\\ude00\\t\\n\",\n\t\"b\":[[],{},[{\"c\":[1,{\"d\":{}}]}]],\n\t\"n\":[0,-3,1.5,1e3,-1E-2,12345678901234567890,-12345678901234567890],\n\t\"s\":\"yes\",\"t\":true,\"u\":null}";
        let node = parse(text).unwrap_or_else(|e| panic!("{e:?}"));
        let Value::Map(top) = &node.value else {
            panic!("not a map")
        };
        assert_eq!(top[0].1.value, Value::Str("q\"b\\s/é😀\t\n".into()));
        assert_eq!((top[1].0.loc.line, top[1].0.loc.column), (2, 2));
        let Value::Seq(numbers) = &top[2].1.value else {
            panic!("not a list")
        };
        let numbers: Vec<&Value> = numbers.iter().map(|n| &n.value).collect();
        assert_eq!(
            numbers,
            [
                &Value::Int(0),
                &Value::Int(-3),
                &Value::Float(1.5),
                &Value::Float(1000.0),
                &Value::Float(-0.01),
                &Value::Float(12_345_678_901_234_567_890.0),
                &Value::Float(-12_345_678_901_234_567_890.0),
            ]
        );
        assert_eq!(top[3].1.value, Value::Str("yes".into()));
        assert_eq!(top[4].1.value, Value::Bool(true));
        assert_eq!(top[5].1.value, Value::Null);
    }

    fn bare(node: &Node) -> Node {
        node.without_locations()
    }

    fn n(value: Value) -> Node {
        Node {
            value,
            loc: Loc::default(),
        }
    }

    fn m(entries: Vec<(&str, Node)>) -> Node {
        n(Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = Key {
                        name: k.to_owned(),
                        loc: Loc::default(),
                    };
                    (key, v)
                })
                .collect(),
        ))
    }

    fn round_trip(node: &Node) {
        let text = emit(node);
        let back = parse(&text).unwrap_or_else(|e| panic!("{e:?} in\n{text}"));
        assert_eq!(bare(&back), bare(node), "in\n{text}");
    }

    const AWKWARD: &[&str] = &[
        "$default",
        "{proxy+}",
        "/pets/{proxy+}",
        "*",
        "*/*",
        "'literal'",
        "\"q\"",
        "123456789012",
        "012",
        "0x1F",
        "0o17",
        "1_000",
        "2.0",
        "1e3",
        ".5",
        "-1",
        "+1",
        "12:30",
        "yes",
        "No",
        "y",
        "N",
        "on",
        "OFF",
        "true",
        "False",
        "null",
        "NULL",
        "~",
        "",
        " leading",
        "trailing ",
        "a: b",
        "a #b",
        "a#b",
        "#x",
        "-",
        "- x",
        "-x",
        "? x",
        ":x",
        "x:",
        "a:b",
        "append:header.x",
        "&a",
        "!tag",
        "|",
        ">",
        "%x",
        "@x",
        "`x",
        "<<",
        "=",
        ".inf",
        "-.inf",
        ".nan",
        "...",
        "---",
        "line\nbreak",
        "tab\there",
        "cr\r",
        "nul\u{0}",
        "nel\u{85}",
        "bom\u{feff}",
        "ls\u{2028}",
        "nbsp\u{a0}",
        "é",
        "😀",
        "back\\slash",
        "29s",
        "10000ms",
        "1h30m",
        "16KiB",
        "GET /pets",
        "ANY /pets/{proxy+}",
        "method.request.header.X-Env",
        "[a]",
        "a, b",
        "{\"message\": \"Bad api-key\" }",
        "$context.requestId",
        "$${HOME}",
    ];

    #[test]
    fn emit_round_trips_awkward_strings() {
        for s in AWKWARD {
            let value = || n(Value::Str((*s).to_owned()));
            round_trip(&m(vec![(s, value())]));
            round_trip(&n(Value::Seq(vec![value(), value()])));
            round_trip(&value());
        }
    }

    #[test]
    fn emit_writes_block_style() {
        let tree = m(vec![
            ("type", n(Value::Str("REST".into()))),
            ("stages", m(vec![("prod", m(vec![]))])),
            (
                "list",
                n(Value::Seq(vec![
                    m(vec![
                        ("a", n(Value::Int(1))),
                        ("b", m(vec![("c", n(Value::Null))])),
                    ]),
                    n(Value::Seq(vec![n(Value::Bool(true)), n(Value::Float(1.0))])),
                    n(Value::Seq(vec![])),
                ])),
            ),
            ("account", n(Value::Str("123456789012".into()))),
        ]);
        let text = emit(&tree);
        assert_eq!(
            text,
            "type: REST\nstages:\n  prod: {}\nlist:\n  - a: 1\n    b:\n      c: null\n  - - true\n    - 1.0\n  - []\naccount: \"123456789012\"\n"
        );
        round_trip(&tree);
    }

    fn arb_node() -> impl proptest::strategy::Strategy<Value = Node> {
        use proptest::prelude::*;
        let text = prop_oneof![
            any::<String>(),
            proptest::sample::select(AWKWARD).prop_map(str::to_owned),
            "[ -~]{0,12}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::Float),
            text.clone().prop_map(Value::Str),
        ]
        .prop_map(n);
        leaf.prop_recursive(4, 40, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(|v| n(Value::Seq(v))),
                proptest::collection::btree_map(text.clone(), inner, 0..5).prop_map(|entries| {
                    n(Value::Map(
                        entries
                            .into_iter()
                            .map(|(name, v)| {
                                let key = Key {
                                    name,
                                    loc: Loc::default(),
                                };
                                (key, v)
                            })
                            .collect(),
                    ))
                }),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn emit_round_trips(node in arb_node()) {
            round_trip(&node);
        }
    }
}
