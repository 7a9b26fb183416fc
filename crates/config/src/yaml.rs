//! A YAML document as a tree of nodes that remember where they came from.
//!
//! The config is read in two steps: serde-saphyr parses the text into this tree (so syntax
//! errors carry a line and column), then the validator walks the tree and reports *every*
//! problem it finds, each pointing at the node's own line and column. Deserializing straight
//! into structs would stop at the first problem.

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
    /// A floating-point number.
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
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .map_err(|_| E::custom("integer is too large"))
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
    // Duplicates reach our own visitor, which reports both places.
    let mut options = serde_saphyr::Options::default();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
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
}
