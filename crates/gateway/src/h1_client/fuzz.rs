//! The response head parser and body framing of [`super`] on bytes held in memory, for the
//! `h1_response` fuzz target and the stable tests that replay its corpus.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "property checks fail by panicking: that is how a fuzzer sees a finding"
)]

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use http::Method;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http_body::Body as _;

use super::{Decode, H1Body, H1Pool, head_complete, parse_head};

/// Largest chunk size the framing may accept: 15 hex digits.
const MAX_CHUNK: u64 = (1 << 60) - 1;

/// A chunked body decoded by a second, independent reading of RFC 9112 §7.1 (with the
/// same limits as the client: at most 15 hex digits, one space allowed before `;`):
/// the data and how many bytes the body took, or `None` when it is malformed or cut short.
fn reference_chunked(input: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut pos = 0;
    let mut out = Vec::new();
    let line = |pos: usize| -> Option<(&[u8], usize)> {
        let rest = input.get(pos..)?;
        let end = (0..rest.len().saturating_sub(1))
            .find(|&i| rest[i] == b'\r' && rest[i + 1] == b'\n')?;
        Some((&rest[..end], pos + end + 2))
    };
    loop {
        let (size_line, next) = line(pos)?;
        let digits = match size_line.iter().position(|b| *b == b';') {
            Some(i) => &size_line[..i],
            None => size_line,
        };
        let digits = digits.strip_suffix(b" ").unwrap_or(digits);
        if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let size = u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()?;
        assert!(size <= MAX_CHUNK);
        pos = next;
        if size == 0 {
            loop {
                let (trailer, next) = line(pos)?;
                pos = next;
                if trailer.is_empty() {
                    return Some((out, pos));
                }
            }
        }
        let size = usize::try_from(size).ok()?;
        let data = input.get(pos..pos.checked_add(size)?)?;
        out.extend_from_slice(data);
        pos += size;
        if input.get(pos..pos + 2)? != b"\r\n" {
            return None;
        }
        pos += 2;
    }
}

/// One response from an upstream, all of it already received, then end of stream. Byte 0
/// picks the request method (GET, HEAD, POST, DELETE); the rest is what the upstream sent.
/// Properties:
/// - nothing panics;
/// - a parsed head never keeps both framings, never keeps `Transfer-Encoding`, keeps
///   `Content-Length` only when that many bytes delimit the body, and allows keep-alive
///   only when the body has a delimited end;
/// - a `Content-Length` body yields exactly that many bytes (an error if fewer arrive) and
///   never reads past them: what follows stays unread;
/// - a chunked body yields exactly what an independent decoder reads, ends where it ends,
///   leaves what follows unread, and fails exactly when that decoder does;
/// - a read-to-close body yields everything that follows the head.
pub fn check_response(data: &[u8]) {
    let Some((&m, response)) = data.split_first() else {
        return;
    };
    let method = match m % 4 {
        0 => Method::GET,
        1 => Method::HEAD,
        2 => Method::POST,
        _ => Method::DELETE,
    };
    let _ = head_complete(response);
    let mut buf = BytesMut::from(response);
    let Ok(parsed) = parse_head(&mut buf, &method) else {
        return;
    };
    let rest = buf.to_vec();
    assert!(parsed.headers.get(TRANSFER_ENCODING).is_none());
    if matches!(parsed.decode, Decode::Chunked(_) | Decode::Eof) {
        assert!(parsed.headers.get(CONTENT_LENGTH).is_none());
        assert!(!parsed.keep_alive || !matches!(parsed.decode, Decode::Eof));
    }
    let decode = parsed.decode;
    let mut body = H1Body {
        io: None,
        buf,
        decode,
        pool: Arc::new(H1Pool::new("127.0.0.1:9")),
        reusable: parsed.keep_alive,
    };
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = Vec::new();
    let mut failed = false;
    let mut frames = 0usize;
    loop {
        match Pin::new(&mut body).poll_frame(&mut cx) {
            Poll::Ready(None) => break,
            Poll::Ready(Some(Ok(frame))) => {
                if let Ok(d) = frame.into_data() {
                    out.extend_from_slice(&d);
                }
            }
            Poll::Ready(Some(Err(_))) => {
                failed = true;
                break;
            }
            Poll::Pending => panic!("a body without a connection waited"),
        }
        frames += 1;
        assert!(frames <= rest.len() + 2, "the body did not end");
    }
    let left = body.buf.to_vec();
    match decode {
        Decode::Done => assert!(out.is_empty() && !failed),
        Decode::Length(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if rest.len() >= n {
                assert!(!failed, "a complete body failed");
                assert_eq!(out, rest[..n], "body differs from the bytes sent");
                assert_eq!(left, rest[n..], "read past the declared length");
            } else {
                assert!(failed, "a short body ended without an error");
                assert_eq!(out, rest, "body differs from the bytes sent");
            }
        }
        Decode::Eof => {
            assert!(!failed);
            assert_eq!(out, rest);
        }
        Decode::Chunked(_) => match reference_chunked(&rest) {
            Some((want, used)) => {
                assert!(!failed, "a well-formed chunked body failed");
                assert_eq!(out, want, "chunked data differs from the reference");
                assert_eq!(left, rest[used..], "read past the end of the chunked body");
            }
            None => assert!(failed, "a malformed or short chunked body was accepted"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `default` cases, or `PORTCULLIS_FUZZ_CASES` for a longer run.
    fn cases(default: u32) -> u32 {
        std::env::var("PORTCULLIS_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    #[test]
    fn h1_response_corpus() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/h1_response");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            check_response(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0, "empty corpus {}", dir.display());
    }

    fn head() -> impl Strategy<Value = String> {
        (
            "(HTTP/1.1|HTTP/1.0) (200|204|304|100|404) OK\r\n",
            proptest::collection::vec(
                "(content-length: (0|3|5|12|3, 3|\\+3|-1)|transfer-encoding: (chunked|gzip, chunked|gzip)|connection: (close|keep-alive)|x: y)\r\n",
                0..4,
            ),
        )
            .prop_map(|(status, headers)| format!("{status}{}\r\n", headers.concat()))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: cases(256), failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn h1_response_random_bytes(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            check_response(&data);
        }

        #[test]
        fn h1_response_random_shapes(
            m in 0u8..4,
            head in head(),
            body in "(0|3|5|a|A ;x|fffffffffffffff|1000000000000000|;| |\r\n|abc|hello|x: y){0,24}",
        ) {
            let mut data = vec![m];
            data.extend_from_slice(head.as_bytes());
            data.extend_from_slice(body.as_bytes());
            check_response(&data);
        }
    }
}
