//! Required request parameters, named as API Gateway names them
//! (`method.request.querystring.q`), and the check that they are present.
//!
//! As on API Gateway, a parameter that is present but empty or only whitespace counts as
//! missing; a repeated query parameter or header is present if any of its values is not blank.
//! "Whitespace" is what Java's `String.trim` removes: bytes up to and including space.
//! Query names and values are compared after percent-decoding, with `+` as a space; header
//! names are case-insensitive; path parameters are looked up by the caller.

use std::fmt;

use http::HeaderMap;
use http::header::HeaderName;

/// Where a request parameter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamLocation {
    /// `method.request.querystring.NAME`
    Query,
    /// `method.request.multivaluequerystring.NAME`
    MultiValueQuery,
    /// `method.request.header.NAME`
    Header,
    /// `method.request.multivalueheader.NAME`
    MultiValueHeader,
    /// `method.request.path.NAME`
    Path,
}

impl ParamLocation {
    /// Every location with its word in `method.request.WORD.NAME`.
    pub const ALL: [(&'static str, ParamLocation); 5] = [
        ("querystring", Self::Query),
        ("multivaluequerystring", Self::MultiValueQuery),
        ("header", Self::Header),
        ("multivalueheader", Self::MultiValueHeader),
        ("path", Self::Path),
    ];
}

/// One declared request parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestParam {
    /// Where it is.
    pub location: ParamLocation,
    /// Its name as configured (shown in the error message).
    pub name: String,
    /// For headers, the name to look up.
    header: Option<HeaderName>,
}

/// Why a request parameter's name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamNameError {
    /// The name as given.
    pub name: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ParamNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.name, self.reason)
    }
}

impl std::error::Error for ParamNameError {}

impl RequestParam {
    /// Parses an API Gateway name: `method.request.{querystring|multivaluequerystring|header|
    /// multivalueheader|path}.NAME`, with a non-empty NAME (a valid header name for headers).
    pub fn parse(full: &str) -> Result<Self, ParamNameError> {
        let error = |reason: String| ParamNameError {
            name: full.to_owned(),
            reason,
        };
        let forms = || {
            "request parameters are `method.request.querystring.NAME`, `method.request.header.NAME`, \
             `method.request.path.NAME`, `method.request.multivaluequerystring.NAME` or \
             `method.request.multivalueheader.NAME`"
                .to_owned()
        };
        let Some(rest) = full.strip_prefix("method.request.") else {
            return Err(error(forms()));
        };
        let Some((word, name)) = rest.split_once('.') else {
            return Err(error(forms()));
        };
        let Some((_, location)) = ParamLocation::ALL.iter().find(|(w, _)| *w == word) else {
            return Err(error(forms()));
        };
        if name.is_empty() {
            return Err(error(format!(
                "the parameter has no name: write `method.request.{word}.NAME`"
            )));
        }
        let header = match location {
            ParamLocation::Header | ParamLocation::MultiValueHeader => {
                match HeaderName::from_bytes(name.as_bytes()) {
                    Ok(h) => Some(h),
                    Err(_) => {
                        return Err(error(format!(
                            "`{name}` is not a valid header name (letters, digits and `-`)"
                        )));
                    }
                }
            }
            _ => None,
        };
        Ok(Self {
            location: *location,
            name: name.to_owned(),
            header,
        })
    }
}

/// The declared request parameters of a method; the required ones are checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequiredParams {
    params: Vec<(RequestParam, bool)>,
}

impl RequiredParams {
    /// Parameters already parsed, each with whether it is required, in configured order.
    pub fn new(params: Vec<(RequestParam, bool)>) -> Self {
        Self { params }
    }

    /// Parses `(name, required)` pairs in API Gateway's naming; the first bad name is the
    /// error.
    pub fn from_names<'a>(
        names: impl IntoIterator<Item = (&'a str, bool)>,
    ) -> Result<Self, ParamNameError> {
        let params = names
            .into_iter()
            .map(|(n, required)| RequestParam::parse(n).map(|p| (p, required)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { params })
    }

    /// Every declared parameter with whether it is required.
    pub fn params(&self) -> &[(RequestParam, bool)] {
        &self.params
    }

    /// Whether any parameter is required.
    pub fn any_required(&self) -> bool {
        self.params.iter().any(|(_, r)| *r)
    }

    /// API Gateway's message, `Missing required request parameters: [a, b]`, if any required
    /// parameter is absent or blank; `None` (without allocating) when all are there.
    /// `query` is the raw query string (no `?`); `path` gives a path parameter's value (its
    /// own lifetime `'p`, so that it can borrow from the matched route rather than the name).
    pub fn missing<'p>(
        &self,
        query: Option<&str>,
        headers: &HeaderMap,
        path: &dyn Fn(&str) -> Option<&'p str>,
    ) -> Option<String> {
        let mut message: Option<String> = None;
        for (param, _) in self.params.iter().filter(|(_, required)| *required) {
            let present = match (param.location, &param.header) {
                (ParamLocation::Query | ParamLocation::MultiValueQuery, _) => {
                    query.is_some_and(|q| query_has(q, &param.name))
                }
                (ParamLocation::Header | ParamLocation::MultiValueHeader, Some(h)) => headers
                    .get_all(h)
                    .iter()
                    .any(|v| !is_blank(v.as_bytes().iter().copied())),
                (ParamLocation::Header | ParamLocation::MultiValueHeader, None) => false,
                (ParamLocation::Path, _) => path(&param.name).is_some_and(|v| !is_blank(v.bytes())),
            };
            if !present {
                match &mut message {
                    None => {
                        message = Some(format!(
                            "Missing required request parameters: [{}",
                            param.name
                        ));
                    }
                    Some(m) => {
                        m.push_str(", ");
                        m.push_str(&param.name);
                    }
                }
            }
        }
        message.map(|mut m| {
            m.push(']');
            m
        })
    }
}

/// Whether every byte is blank (Java's `trim` removes bytes up to and including space).
fn is_blank(mut bytes: impl Iterator<Item = u8>) -> bool {
    bytes.all(|b| b <= b' ')
}

/// Whether the raw query has `name` with a non-blank value.
fn query_has(query: &str, name: &str) -> bool {
    query.split('&').any(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        form_decoded(key).eq(name.bytes()) && !is_blank(form_decoded(value))
    })
}

/// The bytes of a query component, percent-decoded with `+` as space, without allocating.
/// A `%` not followed by two hex digits stays as it is.
fn form_decoded(text: &str) -> impl Iterator<Item = u8> + '_ {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        let b = *bytes.get(i)?;
        i += 1;
        match b {
            b'+' => Some(b' '),
            b'%' => {
                let hi = bytes.get(i).and_then(|h| hex(*h));
                let lo = bytes.get(i + 1).and_then(|l| hex(*l));
                match (hi, lo) {
                    (Some(h), Some(l)) => {
                        i += 2;
                        Some(h << 4 | l)
                    }
                    _ => Some(b'%'),
                }
            }
            b => Some(b),
        }
    })
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn params(names: &[(&str, bool)]) -> RequiredParams {
        RequiredParams::from_names(names.iter().copied()).unwrap()
    }

    fn no_path(_: &str) -> Option<&'static str> {
        None
    }

    #[test]
    fn names() {
        let ok = [
            ("method.request.querystring.q", ParamLocation::Query, "q"),
            (
                "method.request.multivaluequerystring.tag",
                ParamLocation::MultiValueQuery,
                "tag",
            ),
            (
                "method.request.header.X-Trace",
                ParamLocation::Header,
                "X-Trace",
            ),
            (
                "method.request.multivalueheader.accept",
                ParamLocation::MultiValueHeader,
                "accept",
            ),
            ("method.request.path.id", ParamLocation::Path, "id"),
            (
                "method.request.querystring.a.b",
                ParamLocation::Query,
                "a.b",
            ),
        ];
        for (full, location, name) in ok {
            let p = RequestParam::parse(full).unwrap();
            assert_eq!((p.location, p.name.as_str()), (location, name), "{full}");
        }
        let bad = [
            ("method.request.body", "request parameters are"),
            ("method.request.querystring.", "has no name"),
            ("method.request.header.", "has no name"),
            (
                "method.request.header.bad header",
                "not a valid header name",
            ),
            ("method.request.cookie.x", "request parameters are"),
            ("integration.request.header.x", "request parameters are"),
            ("querystring.q", "request parameters are"),
            ("", "request parameters are"),
        ];
        for (full, reason) in bad {
            let e = RequestParam::parse(full).unwrap_err();
            assert!(e.reason.contains(reason), "{full}: {e}");
            assert_eq!(e.name, full);
        }
        assert!(
            RequiredParams::from_names([("method.request.path.x", true), ("nope", true)]).is_err()
        );
    }

    #[test]
    fn missing_table() {
        let p = params(&[
            ("method.request.querystring.q", true),
            ("method.request.header.X-Trace", true),
            ("method.request.path.id", true),
            ("method.request.querystring.opt", false),
            ("method.request.multivaluequerystring.tag", true),
        ]);
        let mut h = HeaderMap::new();
        h.insert("x-trace", HeaderValue::from_static("abc"));
        let path = |n: &str| (n == "id").then_some("7");
        let cases: &[(Option<&str>, bool, bool, Option<&str>)] = &[
            (Some("q=1&tag=a"), true, true, None),
            (Some("tag=a&q=%20x"), true, true, None),
            (None, true, true, Some("[q, tag]")),
            (Some("q=&tag=a"), true, true, Some("[q]")),
            (Some("q=+%20&tag=a"), true, true, Some("[q]")),
            (Some("q&tag=a"), true, true, Some("[q]")),
            (Some("q=%09&q=x&tag=a"), true, true, None),
            (Some("%71=1&t%61g=a"), true, true, None),
            (Some("Q=1&tag=a"), true, true, Some("[q]")),
            (Some("q=1&tag=a"), false, true, Some("[X-Trace]")),
            (Some("q=1&tag=a"), true, false, Some("[id]")),
            (Some(""), false, false, Some("[q, X-Trace, id, tag]")),
        ];
        for (query, header, path_ok, want) in cases {
            let headers = if *header { h.clone() } else { HeaderMap::new() };
            let got = if *path_ok {
                p.missing(*query, &headers, &path)
            } else {
                p.missing(*query, &headers, &no_path)
            };
            let want = want.map(|w| format!("Missing required request parameters: {w}"));
            assert_eq!(got, want, "{query:?} header={header} path={path_ok}");
        }
    }

    #[test]
    fn headers_are_case_insensitive_and_blank_is_missing() {
        let p = params(&[("method.request.header.X-Api-Version", true)]);
        let mut h = HeaderMap::new();
        h.insert("x-api-version", HeaderValue::from_static("   "));
        assert!(p.missing(None, &h, &no_path).is_some());
        h.append("X-API-VERSION", HeaderValue::from_static("2"));
        assert_eq!(p.missing(None, &h, &no_path), None);
        let blank_path = |_: &str| Some(" \t");
        let p = params(&[("method.request.path.id", true)]);
        assert!(p.missing(None, &HeaderMap::new(), &blank_path).is_some());
    }

    #[test]
    fn form_decoding() {
        let d = |s: &str| String::from_utf8(form_decoded(s).collect()).unwrap();
        assert_eq!(d("a+b%20c"), "a b c");
        assert_eq!(d("%zz%4"), "%zz%4");
        assert_eq!(d("%C3%A9"), "é");
        assert_eq!(d("100%"), "100%");
    }

    #[test]
    fn nothing_required_is_never_missing() {
        let p = params(&[("method.request.querystring.q", false)]);
        assert!(!p.any_required());
        assert_eq!(p.missing(None, &HeaderMap::new(), &no_path), None);
    }
}
