//! The detectors behind `SqliMatchStatement`, `XssMatchStatement` and the managed rule
//! groups' own statements, and how a managed rule hands a request's values to them: each
//! value with the place it sits in (a JSON string, a form field, a header, ...).

use crate::detect::Subject;
pub use crate::detect::{Place, Sensitivity, Threat};
use crate::field::Loc;
use crate::json;
use crate::request::{HEADERS_BYTES, HEADERS_COUNT, Request};

/// The `threats` in one value (decoded once), each reported with its reason.
pub fn scan(
    raw: &[u8],
    place: Place,
    threats: &[Threat],
    found: &mut dyn FnMut(Threat, &'static str),
) {
    if threats.is_empty() {
        return;
    }
    for f in Subject::new(raw, place).scan(threats, Sensitivity::Low) {
        found(f.threat, f.reason);
    }
}

/// How many [`Target`]s there are.
pub const TARGETS: usize = 7;

/// The request components a managed rule inspects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The path.
    UriPath,
    /// The query string as a whole.
    QueryString,
    /// Every query argument's value.
    QueryArguments,
    /// Every cookie's value.
    Cookies,
    /// Every header's value.
    Headers,
    /// The `User-Agent` header's value.
    UserAgent,
    /// The body, read by its content type: JSON values and keys, form values, multipart
    /// parts, or the text.
    Body,
}

/// Hands each value of `target`, with its place and where it sits, to `test` until it
/// returns `true`; where that value sat.
pub fn each_value<'r>(
    req: &Request<'r>,
    target: Target,
    body_limit: usize,
    test: &mut dyn FnMut(&[u8], Place, Loc<'r>) -> bool,
) -> Option<Loc<'r>> {
    match target {
        Target::UriPath => {
            test(req.path.as_bytes(), Place::UriPath, Loc::Path).then_some(Loc::Path)
        }
        Target::QueryString => (!req.query.is_empty()
            && test(req.query.as_bytes(), Place::QueryString, Loc::Query))
        .then_some(Loc::Query),
        Target::QueryArguments => req
            .query_args()
            .find(|(n, v)| !v.is_empty() && test(v, Place::QueryArg, Loc::Arg(n)))
            .map(|(n, _)| Loc::Arg(n)),
        Target::Cookies => req
            .cookies()
            .take(crate::request::COOKIES_COUNT)
            .find(|(n, v)| !v.is_empty() && test(v, Place::Cookie, Loc::Cookie(n)))
            .map(|(n, _)| Loc::Cookie(n)),
        Target::Headers => {
            let mut bytes = 0usize;
            for (name, value) in req.headers.iter().take(HEADERS_COUNT) {
                bytes += name.as_str().len() + value.len();
                if bytes > HEADERS_BYTES {
                    break;
                }
                let place = if name == http::header::USER_AGENT {
                    Place::UserAgent
                } else {
                    Place::Header
                };
                let loc = Loc::Header(name.as_str().as_bytes());
                if test(value.as_bytes(), place, loc) {
                    return Some(loc);
                }
            }
            None
        }
        Target::UserAgent => {
            let loc = Loc::Header(b"user-agent");
            req.headers
                .get_all(http::header::USER_AGENT)
                .iter()
                .any(|v| test(v.as_bytes(), Place::UserAgent, loc))
                .then_some(loc)
        }
        Target::Body => body_values(req, body_limit, test),
    }
}

fn body_values<'r>(
    req: &Request<'r>,
    limit: usize,
    test: &mut dyn FnMut(&[u8], Place, Loc<'r>) -> bool,
) -> Option<Loc<'r>> {
    let body = req.body.get(..limit).unwrap_or(req.body);
    if body.is_empty() {
        return None;
    }
    let ct = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let lower = ct.to_ascii_lowercase();
    let essence = lower.split(';').next().unwrap_or("").trim();
    if essence == "application/json" || essence.ends_with("+json") {
        let mut hit = None;
        let end = json::walk(body, &mut |kind, bytes, _| {
            let (place, loc) = match kind {
                json::Kind::Key => (Place::JsonKey, Loc::JsonKey),
                json::Kind::Value => (Place::JsonString, Loc::JsonValue),
            };
            if test(bytes, place, loc) {
                hit = Some(loc);
                return true;
            }
            false
        });
        if hit.is_some() || end != json::End::Invalid {
            return hit;
        }
        // Not JSON after all: inspected as text below.
    } else if essence == "application/x-www-form-urlencoded" {
        return body
            .split(|b| *b == b'&')
            .filter_map(|pair| {
                let v = match pair.iter().position(|b| *b == b'=') {
                    Some(i) => pair.get(i + 1..).unwrap_or_default(),
                    None => pair,
                };
                (!v.is_empty()).then_some(v)
            })
            .any(|v| test(v, Place::FormValue, Loc::Body))
            .then_some(Loc::Body);
    } else if essence == "multipart/form-data"
        && let Some(boundary) = ct
            .split(';')
            .filter_map(|p| {
                let p = p.trim();
                p.get(..9)
                    .filter(|k| k.eq_ignore_ascii_case("boundary="))
                    .and_then(|_| p.get(9..))
            })
            .next()
    {
        let delim = format!("--{}", boundary.trim_matches('"'));
        for part in split_bytes(body, delim.as_bytes()) {
            let content = match find(part, b"\r\n\r\n") {
                Some(i) => part.get(i + 4..).unwrap_or_default(),
                None => continue,
            };
            let content = content.strip_suffix(b"\r\n").unwrap_or(content);
            if !content.is_empty() && test(content, Place::BodyRaw, Loc::Body) {
                return Some(Loc::Body);
            }
        }
        return None;
    }
    test(body, Place::BodyRaw, Loc::Body).then_some(Loc::Body)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn split_bytes<'a>(hay: &'a [u8], delim: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(hay);
    std::iter::from_fn(move || {
        let r = rest?;
        match find(r, delim) {
            Some(i) => {
                rest = r.get(i + delim.len()..);
                Some(r.get(..i).unwrap_or_default())
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}
