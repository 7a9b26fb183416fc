//! The request view the engine inspects, and the components `FieldToMatch` names.

use std::net::IpAddr;

use http::HeaderMap;

/// Headers beyond this many, or beyond [`HEADERS_BYTES`], are oversize (AWS WAF's limits).
pub const HEADERS_COUNT: usize = 200;
/// The bytes of headers (names and values) AWS WAF inspects.
pub const HEADERS_BYTES: usize = 8 * 1024;
/// Cookies beyond this many, or beyond [`COOKIES_BYTES`], are oversize.
pub const COOKIES_COUNT: usize = 200;
/// The bytes of cookies AWS WAF inspects.
pub const COOKIES_BYTES: usize = 8 * 1024;

/// One request, as the web ACL sees it: every part as received, nothing decoded.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `POST`, ...
    pub method: &'a str,
    /// The path as received (still percent-encoded).
    pub path: &'a str,
    /// The query string as received, without `?` (empty when there is none).
    pub query: &'a str,
    /// The headers, in the order they came (names lower case).
    pub headers: &'a HeaderMap,
    /// The address of the peer.
    pub client_ip: IpAddr,
    /// The first bytes of the body: at least the inspection limit when the body is longer.
    pub body: &'a [u8],
    /// Whether `body` is the whole body.
    pub body_complete: bool,
}

impl<'a> Request<'a> {
    /// The query's arguments: `(name, value)` as received, split on `&` and the first `=`.
    pub fn query_args(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + use<'a> {
        let query = self.query;
        query
            .as_bytes()
            .split(|b| *b == b'&')
            .filter(|p| !p.is_empty())
            .map(|pair| match pair.iter().position(|b| *b == b'=') {
                Some(i) => (
                    pair.get(..i).unwrap_or_default(),
                    pair.get(i + 1..).unwrap_or_default(),
                ),
                None => (pair, &b""[..]),
            })
    }

    /// The cookies of every `Cookie` header: `(name, value)`, trimmed.
    pub fn cookies(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + use<'a> {
        self.headers
            .get_all(http::header::COOKIE)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b';'))
            .map(trim)
            .filter(|c| !c.is_empty())
            .map(|c| match c.iter().position(|b| *b == b'=') {
                Some(i) => (
                    trim(c.get(..i).unwrap_or_default()),
                    trim(c.get(i + 1..).unwrap_or_default()),
                ),
                None => (&b""[..], c),
            })
    }

    /// The header names in order, joined with `:` (AWS WAF's `HeaderOrder`).
    pub fn header_order(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for name in self.headers.keys() {
            if !out.is_empty() {
                out.push(b':');
            }
            out.extend_from_slice(name.as_str().as_bytes());
        }
        out
    }

    /// Whether the headers are over AWS WAF's inspection limits.
    pub fn headers_oversize(&self) -> bool {
        self.headers.len() > HEADERS_COUNT || headers_bytes(self.headers) > HEADERS_BYTES
    }

    /// Whether the cookies are over AWS WAF's inspection limits.
    pub fn cookies_oversize(&self) -> bool {
        let bytes: usize = self
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .map(|v| v.len())
            .sum();
        bytes > COOKIES_BYTES || self.cookies().nth(COOKIES_COUNT).is_some()
    }
}

fn headers_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum()
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}
