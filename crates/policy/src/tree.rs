//! The input a policy is compiled from: a JSON-shaped tree whose nodes remember where they
//! came from, so that every load error points at a line and column.
//!
//! The config loader builds it from its own YAML tree (JSON files are read by the same
//! parser, JSON being YAML); policies that arrive at run time (a Lambda authorizer's answer)
//! are converted from `serde_json::Value` with no positions.

/// A 1-based line and column; 0 when unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line, from 1.
    pub line: u64,
    /// Column, from 1.
    pub column: u64,
}

/// A value of the tree. Scalars keep their text: IAM reads `"3600"` and `3600` alike.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string.
    Str(String),
    /// An array.
    List(Vec<Node>),
    /// An object, in document order, each key with its position.
    Map(Vec<(String, Pos, Node)>),
}

/// A value with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Tree,
    /// Where it starts.
    pub pos: Pos,
}

impl Node {
    /// A node without a position.
    pub fn new(value: Tree) -> Self {
        Self {
            value,
            pos: Pos::default(),
        }
    }

    /// Converts a JSON value (no positions).
    pub fn from_json(v: &serde_json::Value) -> Self {
        use serde_json::Value;
        Self::new(match v {
            Value::Null => Tree::Null,
            Value::Bool(b) => Tree::Bool(*b),
            Value::Number(n) => Tree::Number(n.to_string()),
            Value::String(s) => Tree::Str(s.clone()),
            Value::Array(a) => Tree::List(a.iter().map(Self::from_json).collect()),
            Value::Object(o) => Tree::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Pos::default(), Self::from_json(v)))
                    .collect(),
            ),
        })
    }

    /// The scalar's text (strings, numbers and booleans), if it is one.
    pub fn scalar(&self) -> Option<String> {
        match &self.value {
            Tree::Str(s) | Tree::Number(s) => Some(s.clone()),
            Tree::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// What kind of value this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            Tree::Null => "null",
            Tree::Bool(_) => "a boolean",
            Tree::Number(_) => "a number",
            Tree::Str(_) => "a string",
            Tree::List(_) => "a list",
            Tree::Map(_) => "an object",
        }
    }
}

/// A problem found while compiling a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// Where.
    pub pos: Pos,
    /// The element's path, e.g. `Statement[1].Condition.StringEquals`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for PolicyError {}
