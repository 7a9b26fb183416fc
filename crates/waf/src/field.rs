//! `FieldToMatch`: which part of the request a statement inspects, and how each of its values
//! is handed to the statement's test (after the text transformations).

use std::fmt;

use crate::json::{self, PointerSeg};
use crate::request::{COOKIES_BYTES, COOKIES_COUNT, HEADERS_BYTES, HEADERS_COUNT, Request};
use crate::transform::{Transformation, apply_all};

/// A component of the request.
#[derive(Debug, Clone)]
pub enum Field {
    /// The path as received.
    UriPath,
    /// The query string as received.
    QueryString,
    /// The method.
    Method,
    /// One header's values (name lower case).
    SingleHeader(String),
    /// One query argument's values (name compared without case).
    SingleQueryArgument(String),
    /// The values of every query argument.
    AllQueryArguments,
    /// The body as plain text.
    Body(Oversize),
    /// The body as JSON.
    JsonBody(Box<JsonBody>),
    /// Headers by name pattern.
    Headers(Box<Multi>),
    /// Cookies by name pattern.
    Cookies(Box<Multi>),
    /// The header names in order, joined with `:`.
    HeaderOrder(Oversize),
}

/// What to do with a component over AWS WAF's inspection limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Oversize {
    /// Inspect what is within the limit.
    #[default]
    Continue,
    /// Treat the statement as matching.
    Match,
    /// Treat the statement as not matching.
    NoMatch,
}

/// Which of keys and values are inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Keys and values, each on its own: a match in either is a match.
    All,
    /// Keys only.
    Key,
    /// Values only.
    Value,
}

impl Scope {
    fn keys(self) -> bool {
        matches!(self, Scope::All | Scope::Key)
    }
    fn values(self) -> bool {
        matches!(self, Scope::All | Scope::Value)
    }
}

/// Which names of headers or cookies are inspected.
#[derive(Debug, Clone)]
pub enum Names {
    /// Every one.
    All,
    /// Only these.
    Included(Vec<Vec<u8>>),
    /// All but these.
    Excluded(Vec<Vec<u8>>),
}

impl Names {
    fn admits(&self, name: &[u8], fold_case: bool) -> bool {
        let eq = |n: &Vec<u8>| {
            if fold_case {
                n.eq_ignore_ascii_case(name)
            } else {
                n.as_slice() == name
            }
        };
        match self {
            Names::All => true,
            Names::Included(list) => list.iter().any(eq),
            Names::Excluded(list) => !list.iter().any(eq),
        }
    }
}

/// `Headers` and `Cookies`.
#[derive(Debug, Clone)]
pub struct Multi {
    /// `MatchPattern`.
    pub names: Names,
    /// `MatchScope`.
    pub scope: Scope,
    /// `OversizeHandling`.
    pub oversize: Oversize,
}

/// `JsonBody`.
#[derive(Debug, Clone)]
pub struct JsonBody {
    /// `IncludedPaths` (`None` for `All`).
    pub paths: Option<Vec<Vec<PointerSeg>>>,
    /// `MatchScope`.
    pub scope: Scope,
    /// `InvalidFallbackBehavior` (`None`: the tokens before the error are what is inspected).
    pub invalid: Option<Invalid>,
    /// `OversizeHandling`.
    pub oversize: Oversize,
}

/// `InvalidFallbackBehavior`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Invalid JSON matches.
    Match,
    /// Invalid JSON does not match.
    NoMatch,
    /// Invalid JSON is inspected as plain text.
    EvaluateAsString,
}

/// Where a matched value sat, for logs and `waf test` (never the value itself).
#[derive(Debug, Clone, Copy)]
pub enum Loc<'a> {
    /// The path.
    Path,
    /// The query string.
    Query,
    /// A query argument's value.
    Arg(&'a [u8]),
    /// The method.
    Method,
    /// A header's value.
    Header(&'a [u8]),
    /// A header's name.
    HeaderName,
    /// A cookie's value.
    Cookie(&'a [u8]),
    /// A cookie's name.
    CookieName,
    /// The body.
    Body,
    /// A JSON key.
    JsonKey,
    /// A JSON value.
    JsonValue,
    /// The header order.
    HeaderOrder,
    /// A component over its inspection limit, matched by `OversizeHandling: MATCH`.
    Oversize,
    /// Invalid JSON, matched by `InvalidFallbackBehavior: MATCH`.
    InvalidJson,
}

impl fmt::Display for Loc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::Path => f.write_str("uri path"),
            Loc::Query => f.write_str("query string"),
            Loc::Arg(n) => write!(f, "query argument {}", Short(n)),
            Loc::Method => f.write_str("method"),
            Loc::Header(n) => write!(f, "header {}", Short(n)),
            Loc::HeaderName => f.write_str("a header name"),
            Loc::Cookie(n) => write!(f, "cookie {}", Short(n)),
            Loc::CookieName => f.write_str("a cookie name"),
            Loc::Body => f.write_str("body"),
            Loc::JsonKey => f.write_str("a JSON key"),
            Loc::JsonValue => f.write_str("a JSON value"),
            Loc::HeaderOrder => f.write_str("header order"),
            Loc::Oversize => f.write_str("oversize component"),
            Loc::InvalidJson => f.write_str("invalid JSON body"),
        }
    }
}

/// A name, printable and bounded, for a log line.
struct Short<'a>(&'a [u8]);

impl fmt::Display for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0.iter().take(64) {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'[' | b']') {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "%{b:02X}")?;
            }
        }
        if self.0.len() > 64 {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// The test a statement applies to one transformed value.
pub type Test<'t> = dyn FnMut(&[u8]) -> bool + 't;

impl Field {
    /// Hands each value of the component, transformed by `chain`, to `test` until it
    /// returns `true`, and says where that value sat. An oversize component with
    /// `OversizeHandling: MATCH`, or invalid JSON with `InvalidFallbackBehavior: MATCH`,
    /// matches without a test. `body_limit` is the web ACL's body inspection limit.
    pub fn matches<'r>(
        &'r self,
        req: &Request<'r>,
        chain: &[(u32, Transformation)],
        body_limit: usize,
        test: &mut Test<'_>,
    ) -> Option<Loc<'r>> {
        let mut check = |value: &[u8], loc: Loc<'r>| test(&apply_all(chain, value)).then_some(loc);
        match self {
            Field::UriPath => check(req.path.as_bytes(), Loc::Path),
            Field::QueryString => check(req.query.as_bytes(), Loc::Query),
            Field::Method => check(req.method.as_bytes(), Loc::Method),
            Field::SingleHeader(name) => req
                .headers
                .get_all(name.as_str())
                .iter()
                .find_map(|v| check(v.as_bytes(), Loc::Header(name.as_bytes()))),
            Field::SingleQueryArgument(name) => req
                .query_args()
                .filter(|(n, _)| arg_named(n, name.as_bytes()))
                .find_map(|(n, v)| check(v, Loc::Arg(n))),
            Field::AllQueryArguments => req.query_args().find_map(|(n, v)| check(v, Loc::Arg(n))),
            Field::Body(oversize) => {
                let (body, over) = body_part(req, body_limit);
                match (over, oversize) {
                    (true, Oversize::Match) => Some(Loc::Oversize),
                    (true, Oversize::NoMatch) => None,
                    _ => check(body, Loc::Body),
                }
            }
            Field::JsonBody(j) => {
                let (body, over) = body_part(req, body_limit);
                match (over, j.oversize) {
                    (true, Oversize::Match) => Some(Loc::Oversize),
                    (true, Oversize::NoMatch) => None,
                    _ => json_body(j, body, chain, test),
                }
            }
            Field::Headers(m) => {
                if req.headers_oversize() {
                    match m.oversize {
                        Oversize::Match => return Some(Loc::Oversize),
                        Oversize::NoMatch => return None,
                        Oversize::Continue => {}
                    }
                }
                let mut bytes = 0usize;
                for (name, value) in req.headers.iter().take(HEADERS_COUNT) {
                    bytes += name.as_str().len() + value.len();
                    if bytes > HEADERS_BYTES {
                        break;
                    }
                    let n = name.as_str().as_bytes();
                    if !m.names.admits(n, true) {
                        continue;
                    }
                    let hit = m
                        .scope
                        .keys()
                        .then(|| check(n, Loc::HeaderName))
                        .flatten()
                        .or_else(|| {
                            m.scope
                                .values()
                                .then(|| check(value.as_bytes(), Loc::Header(n)))
                                .flatten()
                        });
                    if hit.is_some() {
                        return hit;
                    }
                }
                None
            }
            Field::Cookies(m) => {
                if req.cookies_oversize() {
                    match m.oversize {
                        Oversize::Match => return Some(Loc::Oversize),
                        Oversize::NoMatch => return None,
                        Oversize::Continue => {}
                    }
                }
                let mut bytes = 0usize;
                for (name, value) in req.cookies().take(COOKIES_COUNT) {
                    bytes += name.len() + value.len() + 2;
                    if bytes > COOKIES_BYTES {
                        break;
                    }
                    if !m.names.admits(name, false) {
                        continue;
                    }
                    let hit = m
                        .scope
                        .keys()
                        .then(|| check(name, Loc::CookieName))
                        .flatten()
                        .or_else(|| {
                            m.scope
                                .values()
                                .then(|| check(value, Loc::Cookie(name)))
                                .flatten()
                        });
                    if hit.is_some() {
                        return hit;
                    }
                }
                None
            }
            Field::HeaderOrder(oversize) => {
                if req.headers_oversize() {
                    match oversize {
                        Oversize::Match => return Some(Loc::Oversize),
                        Oversize::NoMatch => return None,
                        Oversize::Continue => {}
                    }
                }
                check(&req.header_order(), Loc::HeaderOrder)
            }
        }
    }

    /// Whether this field reads the body (the gateway reads the body only for such ACLs).
    pub fn reads_body(&self) -> bool {
        matches!(self, Field::Body(_) | Field::JsonBody(_))
    }
}

/// The body within the limit, and whether the body is over it.
fn body_part<'a>(req: &Request<'a>, limit: usize) -> (&'a [u8], bool) {
    let over = req.body.len() > limit || (!req.body_complete && req.body.len() >= limit);
    (req.body.get(..limit).unwrap_or(req.body), over)
}

fn arg_named(name: &[u8], want: &[u8]) -> bool {
    if name.eq_ignore_ascii_case(want) {
        return true;
    }
    name.contains(&b'%')
        && Transformation::URL_DECODE
            .apply(name)
            .eq_ignore_ascii_case(want)
}

fn json_body<'r>(
    j: &JsonBody,
    body: &[u8],
    chain: &[(u32, Transformation)],
    test: &mut Test<'_>,
) -> Option<Loc<'r>> {
    let mut hit = None;
    let end = json::walk(body, &mut |kind, bytes, path| {
        if let Some(paths) = &j.paths
            && !paths.iter().any(|p| json::under(p, path))
        {
            return false;
        }
        let (inspect, loc) = match kind {
            json::Kind::Key => (j.scope.keys(), Loc::JsonKey),
            json::Kind::Value => (j.scope.values(), Loc::JsonValue),
        };
        if inspect && test(&apply_all(chain, bytes)) {
            hit = Some(loc);
            return true;
        }
        false
    });
    if hit.is_some() {
        return hit;
    }
    match (end, j.invalid) {
        (json::End::Invalid, Some(Invalid::Match)) => Some(Loc::InvalidJson),
        (json::End::Invalid, Some(Invalid::EvaluateAsString)) => {
            test(&apply_all(chain, body)).then_some(Loc::Body)
        }
        _ => None,
    }
}
