//! The request context that conditions and policy variables read.
//!
//! Keys are case-insensitive (IAM's rule); the engine always asks with the lower-case key.
//! The keys a policy may name are fixed, so that a misspelt key is a load error rather than
//! a condition that silently never (or, negated, always) holds:
//!
//! | key | value |
//! |---|---|
//! | `aws:SourceIp` | the client's address |
//! | `aws:CurrentTime` | now, ISO 8601 UTC |
//! | `aws:EpochTime` | now, Unix seconds |
//! | `aws:SecureTransport` | `true` when the request came over TLS |
//! | `aws:UserAgent` | the `User-Agent` header |
//! | `aws:Referer` | the `Referer` header |
//! | `aws:username` | the authenticated user's name |
//! | `aws:userid` | the authenticated principal's id (a token's `sub`) |
//! | `portcullis:role` | the role the request carries |
//! | `portcullis:groups` | the user's groups (multi-valued) |
//! | `jwt:<claim>` | a claim of the verified token; arrays are multi-valued |

use std::borrow::Cow;
use std::collections::HashMap;

/// Condition keys other than `jwt:*`, lower case.
pub const KNOWN_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:currenttime",
    "aws:epochtime",
    "aws:securetransport",
    "aws:useragent",
    "aws:referer",
    "aws:username",
    "aws:userid",
    "portcullis:role",
    "portcullis:groups",
];

/// Checks that `key` is one a policy may name.
pub fn check_key(key: &str) -> Result<(), String> {
    let lower = key.to_ascii_lowercase();
    if KNOWN_KEYS.contains(&lower.as_str()) {
        return Ok(());
    }
    if let Some(claim) = lower.strip_prefix("jwt:")
        && !claim.is_empty()
    {
        return Ok(());
    }
    Err(format!(
        "unknown condition key `{key}`; known keys: aws:SourceIp, aws:CurrentTime, aws:EpochTime, aws:SecureTransport, aws:UserAgent, aws:Referer, aws:username, aws:userid, portcullis:role, portcullis:groups, jwt:<claim>"
    ))
}

/// A context value: one value, or a set (multi-valued keys such as `portcullis:groups`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Values<'a> {
    /// One value.
    One(Cow<'a, str>),
    /// Several values (possibly none).
    Many(Vec<Cow<'a, str>>),
}

impl<'a> Values<'a> {
    /// The values as a list.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let (one, many) = match self {
            Values::One(v) => (Some(v.as_ref()), None),
            Values::Many(vs) => (None, Some(vs.iter().map(AsRef::as_ref))),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }
}

/// Where the engine reads condition keys from.
pub trait Context {
    /// The value(s) of `key` (lower case), or `None` when the request has no such key.
    fn get(&self, key: &str) -> Option<Values<'_>>;

    /// The single value of `key`, for policy variables (the first of a set).
    fn single(&self, key: &str) -> Option<Cow<'_, str>> {
        match self.get(key)? {
            Values::One(v) => Some(v),
            Values::Many(vs) => vs.into_iter().next(),
        }
    }
}

/// A context held in a map: for tests, `explain`, and callers that build it once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapContext {
    values: HashMap<String, Vec<String>>,
    many: Vec<String>,
}

impl MapContext {
    /// Sets a single-valued key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        let k = key.to_ascii_lowercase();
        self.many.retain(|m| *m != k);
        self.values.insert(k, vec![value.into()]);
        self
    }

    /// Sets a multi-valued key.
    pub fn set_many<I, S>(&mut self, key: &str, values: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let k = key.to_ascii_lowercase();
        if !self.many.contains(&k) {
            self.many.push(k.clone());
        }
        self.values
            .insert(k, values.into_iter().map(Into::into).collect());
        self
    }

    /// Removes a key.
    pub fn remove(&mut self, key: &str) {
        let k = key.to_ascii_lowercase();
        self.values.remove(&k);
        self.many.retain(|m| *m != k);
    }
}

impl Context for MapContext {
    fn get(&self, key: &str) -> Option<Values<'_>> {
        let vs = self.values.get(key)?;
        if self.many.iter().any(|m| m == key) {
            Some(Values::Many(
                vs.iter().map(|v| Cow::Borrowed(v.as_str())).collect(),
            ))
        } else {
            vs.first().map(|v| Values::One(Cow::Borrowed(v.as_str())))
        }
    }
}
