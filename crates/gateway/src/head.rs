//! Request-head checks: the first stage of the pipeline, before any stage reads a header.
//!
//! A request whose head can be read two ways is refused with 400, because the gateway and
//! the upstream (or two stages of the gateway) could each pick a different reading:
//!
//! - `Host`: exactly one in HTTP/1.1 (RFC 9112 §3.2), at most one otherwise.
//! - Body framing: at most one `Content-Length` line, holding one number; at most one
//!   `Transfer-Encoding` line, and it says exactly `chunked`; never both (RFC 9112 §6.1
//!   allows refusing that, and a request smuggler needs it). A declared body over
//!   `max_body_size` is refused before it is read (413).
//! - Credential headers (`Authorization`, `X-Api-Key`, `X-Amz-Security-Token`, `Cookie` in
//!   HTTP/1): at most one of each, so the header an authorizer checked is the only one the
//!   upstream can see.
//! - `Connection` may not nominate an end-to-end header that authentication, routing or the
//!   upstream depends on (the credential headers, `Host`, `Content-Length`, `Content-Type`,
//!   `Forwarded` and `X-Forwarded-*`): removing it as hop-by-hop would change the request
//!   after it was authorized.
//!
//! The checks look at header names and counts only; no value is logged.

use http::Version;
use http::header::{
    AUTHORIZATION, CONNECTION, CONTENT_LENGTH, COOKIE, HOST, HeaderMap, HeaderName,
    TRANSFER_ENCODING,
};
use portcullis_core::{ErrorKind, GatewayError};

/// Headers that carry credentials: one of each at most.
const CREDENTIALS: [HeaderName; 3] = [
    AUTHORIZATION,
    HeaderName::from_static("x-api-key"),
    HeaderName::from_static("x-amz-security-token"),
];

/// End-to-end headers that a client's `Connection` header may not nominate.
const NOT_HOP_BY_HOP: [&str; 11] = [
    "authorization",
    "x-api-key",
    "x-amz-security-token",
    "cookie",
    "host",
    "content-length",
    "content-type",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
];

fn malformed(detail: &'static str) -> GatewayError {
    GatewayError::new(ErrorKind::MalformedRequest, detail)
}

/// Checks the request head; `max_body_size` is the listener's body limit.
pub fn check(
    version: Version,
    headers: &HeaderMap,
    max_body_size: u64,
) -> Result<(), GatewayError> {
    let hosts = headers.get_all(HOST).iter().count();
    if hosts > 1 || (hosts == 0 && version == Version::HTTP_11) {
        return Err(malformed("request must carry exactly one Host header"));
    }

    let mut lengths = headers.get_all(CONTENT_LENGTH).iter();
    let length = lengths.next();
    if lengths.next().is_some() {
        return Err(malformed("more than one Content-Length header"));
    }
    let mut encodings = headers.get_all(TRANSFER_ENCODING).iter();
    let encoding = encodings.next();
    if encodings.next().is_some() {
        return Err(malformed("more than one Transfer-Encoding header"));
    }
    if let Some(te) = encoding {
        if !te.as_bytes().eq_ignore_ascii_case(b"chunked") {
            return Err(malformed("Transfer-Encoding other than chunked"));
        }
        if length.is_some() {
            return Err(malformed("both Content-Length and Transfer-Encoding"));
        }
    }
    if let Some(len) = length {
        let len = std::str::from_utf8(len.as_bytes())
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| malformed("invalid Content-Length"))?;
        if len > max_body_size {
            return Err(GatewayError::new(
                ErrorKind::BodyTooLarge,
                format!("Content-Length {len} exceeds {max_body_size}"),
            ));
        }
    }

    for name in &CREDENTIALS {
        if headers.get_all(name).iter().nth(1).is_some() {
            return Err(malformed("a credential header is repeated"));
        }
    }
    // HTTP/2 splits cookies into one field per pair (RFC 9113 §8.2.3); HTTP/1 must not.
    if version != Version::HTTP_2 && headers.get_all(COOKIE).iter().nth(1).is_some() {
        return Err(malformed("a credential header is repeated"));
    }

    for value in headers.get_all(CONNECTION) {
        let Ok(value) = value.to_str() else {
            return Err(malformed("Connection header is not text"));
        };
        for token in value.split(',').map(str::trim) {
            if NOT_HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(token)) {
                return Err(malformed(
                    "Connection nominates an end-to-end header as hop-by-hop",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn head(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    type Case<'a> = (Version, &'a [(&'a str, &'a str)], Option<ErrorKind>);

    #[test]
    fn ambiguous_heads_are_refused() {
        let cases: &[Case<'_>] = &[
            (Version::HTTP_11, &[("host", "a")], None),
            (Version::HTTP_11, &[], Some(ErrorKind::MalformedRequest)),
            (Version::HTTP_10, &[], None),
            (Version::HTTP_2, &[], None),
            (
                Version::HTTP_11,
                &[("host", "a"), ("host", "b")],
                Some(ErrorKind::MalformedRequest),
            ),
            (
                Version::HTTP_2,
                &[("host", "a"), ("host", "a")],
                Some(ErrorKind::MalformedRequest),
            ),
            (
                Version::HTTP_11,
                &[("host", "a"), ("transfer-encoding", "chunked")],
                None,
            ),
            (
                Version::HTTP_11,
                &[
                    ("host", "a"),
                    ("transfer-encoding", "chunked"),
                    ("transfer-encoding", "chunked"),
                ],
                Some(ErrorKind::MalformedRequest),
            ),
            (
                Version::HTTP_11,
                &[("host", "a"), ("transfer-encoding", "gzip, chunked")],
                Some(ErrorKind::MalformedRequest),
            ),
            (
                Version::HTTP_11,
                &[
                    ("host", "a"),
                    ("transfer-encoding", "chunked"),
                    ("content-length", "3"),
                ],
                Some(ErrorKind::MalformedRequest),
            ),
            (
                Version::HTTP_11,
                &[
                    ("host", "a"),
                    ("content-length", "3"),
                    ("content-length", "3"),
                ],
                Some(ErrorKind::MalformedRequest),
            ),
            (
                Version::HTTP_11,
                &[("host", "a"), ("content-length", "+3")],
                Some(ErrorKind::MalformedRequest),
            ),
            (
                Version::HTTP_11,
                &[("host", "a"), ("content-length", "101")],
                Some(ErrorKind::BodyTooLarge),
            ),
            (
                Version::HTTP_11,
                &[
                    ("host", "a"),
                    ("authorization", "x"),
                    ("authorization", "y"),
                ],
                Some(ErrorKind::MalformedRequest),
            ),
            (
                Version::HTTP_2,
                &[("x-api-key", "x"), ("X-Api-Key", "y")],
                Some(ErrorKind::MalformedRequest),
            ),
            (
                Version::HTTP_11,
                &[("host", "a"), ("cookie", "a=1"), ("cookie", "b=2")],
                Some(ErrorKind::MalformedRequest),
            ),
            (
                Version::HTTP_2,
                &[("cookie", "a=1"), ("cookie", "b=2")],
                None,
            ),
            (
                Version::HTTP_11,
                &[("host", "a"), ("connection", "keep-alive, x-private")],
                None,
            ),
            (
                Version::HTTP_11,
                &[("host", "a"), ("connection", "close, Authorization")],
                Some(ErrorKind::MalformedRequest),
            ),
            (
                Version::HTTP_11,
                &[("host", "a"), ("connection", "x-forwarded-for")],
                Some(ErrorKind::MalformedRequest),
            ),
        ];
        for (version, pairs, want) in cases {
            let got = check(*version, &head(pairs), 100).err().map(|e| e.kind);
            assert_eq!(got, *want, "{version:?} {pairs:?}");
        }
    }
}
