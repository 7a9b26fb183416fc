//! Answers to requests the HTTP/1 codec cannot parse, in the gateway's own shape.
//!
//! When a request line or head does not parse (a bad method or URI, a header that is not a
//! header, a head over `max_header_size`), the codec answers by itself, before the pipeline
//! sees a request: a bare `400`, `414` or `431` with an empty body and no request id. So that
//! these answers look and log like every other error, the connection's I/O passes through
//! [`Answered`], which recognises the codec's automatic response by its shape (an HTTP/1
//! 4xx head that carries no `x-amzn-RequestId`: every response the pipeline writes has one)
//! and sends instead the AWS-style answer: `{"message": ...}`, `x-amzn-RequestId`,
//! `x-amzn-ErrorType`, `Connection: close`. It also writes an access-log line (method and
//! path `-`: nothing of the unparsed head is logged) and counts the error.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::Shared;
use crate::access_log::{AccessRecord, rfc3339};
use crate::context::{epoch_ms, new_request_id};
use crate::telemetry;

/// Connection I/O that rewrites the HTTP/1 codec's automatic error responses.
pub struct Answered<I> {
    io: I,
    shared: Arc<Shared>,
    peer: SocketAddr,
    /// The replacement being written, and the length of the codec's buffer it stands for.
    pending: Option<(Vec<u8>, usize, usize)>,
}

impl<I> Answered<I> {
    /// Wraps a connection's I/O.
    pub fn new(io: I, shared: Arc<Shared>, peer: SocketAddr) -> Self {
        Self {
            io,
            shared,
            peer,
            pending: None,
        }
    }

    /// The wrapped I/O.
    pub fn into_inner(self) -> I {
        self.io
    }
}

/// The status of an automatic error response in `buf`, if that is what it is.
fn automatic_error(buf: &[u8]) -> Option<(u16, &'static str)> {
    let rest = buf.strip_prefix(b"HTTP/1.1 ")?;
    let answer = match rest.get(..3)? {
        b"400" => (400, "Bad Request"),
        b"414" => (414, "Request-URI Too Long"),
        b"431" => (431, "Request Header Fields Too Large"),
        _ => return None,
    };
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = buf.get(..head_end)?;
    let ours = head
        .windows(18)
        .any(|w| w.eq_ignore_ascii_case(b"x-amzn-requestid: "));
    (!ours).then_some(answer)
}

impl<I> Answered<I> {
    fn replacement(&self, status: u16, message: &str) -> Vec<u8> {
        let request_id = new_request_id();
        let body = format!(r#"{{"message":"{message}"}}"#);
        let kind = if status == 431 || status == 414 {
            "RequestTooLargeException"
        } else {
            "BadRequestException"
        };
        let head = format!(
            "HTTP/1.1 {status} {message}\r\ncontent-type: application/json\r\nx-amzn-requestid: {request_id}\r\nx-amzn-errortype: {kind}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        metrics::counter!(telemetry::PROTOCOL_ERRORS, "status" => status.to_string()).increment(1);
        tracing::debug!(peer = %self.peer, status, request_id = %request_id, "unparsable request");
        if self.shared.access_log.enabled() {
            self.shared.access_log.write(&AccessRecord {
                time: rfc3339(epoch_ms()),
                request_id: request_id.as_str(),
                source_ip: self.peer.ip(),
                method: "-",
                path: "-",
                route: None,
                status,
                protocol: "HTTP/1.1",
                latency_ms: 0.0,
                bytes_in: 0,
                bytes_out: u64::try_from(body.len()).unwrap_or(0),
                user_agent: None,
                complete: true,
                waf: None,
                api_key_id: None,
            });
        }
        let mut out = head.into_bytes();
        out.extend_from_slice(body.as_bytes());
        out
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Answered<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Answered<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.pending.is_none()
            && let Some((status, message)) = automatic_error(buf)
        {
            let bytes = self.replacement(status, message);
            self.pending = Some((bytes, 0, buf.len()));
        }
        let this = &mut *self;
        if let Some((bytes, written, stands_for)) = &mut this.pending {
            while let Some(rest) = bytes.get(*written..).filter(|r| !r.is_empty()) {
                let n = ready!(Pin::new(&mut this.io).poll_write(cx, rest))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
            let n = *stands_for;
            this.pending = None;
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    // Vectored writes would split a head across buffers; the codec flattens when told no.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_the_codecs_own_answers() {
        assert_eq!(
            automatic_error(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"),
            Some((400, "Bad Request"))
        );
        assert_eq!(
            automatic_error(b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n"),
            Some((431, "Request Header Fields Too Large"))
        );
        assert_eq!(
            automatic_error(
                b"HTTP/1.1 400 Bad Request\r\nx-amzn-RequestId: 1\r\n\r\n{\"message\":\"Bad Request\"}"
            ),
            None
        );
        assert_eq!(automatic_error(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(automatic_error(b"0\r\n\r\n"), None);
        assert_eq!(automatic_error(b"HTTP/1.1 400 Bad"), None);
    }
}
