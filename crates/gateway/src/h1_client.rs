//! A lean HTTP/1.1 client for plain `http://` upstreams, run inside the request's own task.
//!
//! hyper's pooled client drives every upstream connection from a task of its own and hands
//! requests and responses across channels; on the proxy path that hop is most of the
//! gateway's own CPU per request (docs/performance.md). Here a request checks an idle
//! connection out of a per-upstream free list, writes its head and streams its body, parses
//! the response head with `httparse` and returns a body that decodes the framing
//! (content-length, chunked, or read-to-close) while the client reads it. When the body has
//! been read to its end and both sides allow keep-alive, the connection goes back to the list.
//!
//! Framing follows RFC 9112 §6.3 and refuses what request smuggling relies on: a response
//! with both `Transfer-Encoding` and `Content-Length`, differing `Content-Length` values, a
//! malformed chunk size, or an oversized head is a protocol error, and such a connection is
//! never reused. HTTPS and HTTP/2 upstreams keep using hyper's client.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, HeaderName, HeaderValue, TRANSFER_ENCODING};
use http::{HeaderMap, Method, Response, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWriteExt};
use tokio::net::TcpStream;

/// Boxed error for bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the client sends upstream: any body of bytes whose errors box (the gateway's own
/// request body; this module knows nothing else about it).
pub trait OutBody: http_body::Body<Data = Bytes, Error = BoxError> + Unpin + Send {}

impl<B> OutBody for B where B: http_body::Body<Data = Bytes, Error = BoxError> + Unpin + Send {}

/// Largest response head accepted from an upstream.
const MAX_HEAD: usize = 64 * 1024;
/// Most response headers accepted from an upstream.
const MAX_HEADERS: usize = 128;
/// Idle connections kept per upstream.
const MAX_IDLE: usize = 256;
/// An idle connection older than this is closed rather than reused.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest chunk-size line (with extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;

/// Why an exchange failed, for the integration to map to a gateway error.
#[derive(Debug)]
pub enum H1Error {
    /// Could not connect.
    Connect(io::Error),
    /// The connection failed while sending or receiving.
    Io(io::Error),
    /// The upstream answered something that is not valid HTTP/1.1 framing.
    Protocol(&'static str),
    /// Reading the client's body failed (or it went over the limit).
    Body(BoxError),
}

impl std::fmt::Display for H1Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "connect: {e}"),
            Self::Io(e) => write!(f, "i/o: {e}"),
            Self::Protocol(e) => write!(f, "protocol: {e}"),
            Self::Body(e) => write!(f, "request body: {e}"),
        }
    }
}

/// Idle connections to one upstream authority.
#[derive(Debug)]
pub struct H1Pool {
    authority: String,
    idle: Mutex<VecDeque<(TcpStream, Instant)>>,
}

impl H1Pool {
    /// A pool for `authority` (`host:port`).
    pub fn new(authority: &str) -> Self {
        let authority = if authority.contains(':') && !authority.ends_with(']') {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        Self {
            authority,
            idle: Mutex::new(VecDeque::new()),
        }
    }

    /// A live idle connection, if there is one.
    fn checkout(&self) -> Option<TcpStream> {
        let mut idle = self.idle.lock().ok()?;
        while let Some((stream, since)) = idle.pop_back() {
            if since.elapsed() > IDLE_TIMEOUT {
                continue;
            }
            // An idle connection must have nothing to read: EOF or stray bytes mean the
            // upstream closed it or broke framing.
            let mut probe = [0u8; 1];
            match stream.try_read(&mut probe) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Some(stream),
                _ => continue,
            }
        }
        None
    }

    fn checkin(&self, stream: TcpStream) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() >= MAX_IDLE {
                idle.pop_front();
            }
            idle.push_back((stream, Instant::now()));
        }
    }

    async fn connect(&self) -> Result<TcpStream, H1Error> {
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(H1Error::Connect)?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// Sends one request and returns the response with its body still streaming.
    pub async fn send<B: OutBody>(
        self: &Arc<Self>,
        method: &Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: B,
    ) -> Result<Response<H1Body>, H1Error> {
        let has_body = !body.is_end_stream();
        let (head, chunked) = encode_head(method, path_and_query, headers, has_body);
        // A reused connection may have been closed by the upstream in the meantime: an
        // idempotent request without a body is retried once on a new connection.
        let replayable = !has_body
            && matches!(
                *method,
                Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
            );
        let mut body = has_body.then_some(body);
        if let Some(stream) = self.checkout() {
            match self
                .exchange(stream, method, &head, body.take(), chunked)
                .await
            {
                Err(Exchange::Stale) if replayable => {}
                other => return other.map_err(Exchange::into_error),
            }
        }
        let stream = self.connect().await?;
        self.exchange(stream, method, &head, body, chunked)
            .await
            .map_err(Exchange::into_error)
    }

    async fn exchange<B: OutBody>(
        self: &Arc<Self>,
        mut stream: TcpStream,
        method: &Method,
        head: &[u8],
        body: Option<B>,
        chunked: bool,
    ) -> Result<Response<H1Body>, Exchange> {
        let mut buf = BytesMut::with_capacity(8 * 1024);
        let mut body_done = body.is_none();
        {
            let (mut rd, mut wr) = stream.split();
            wr.write_all(head).await.map_err(Exchange::stale_or_io)?;
            let send = async {
                if let Some(mut body) = body {
                    send_body(&mut wr, &mut body, chunked).await?;
                }
                Ok::<(), H1Error>(())
            };
            let read = read_head_bytes(&mut rd, &mut buf);
            tokio::pin!(send, read);
            loop {
                tokio::select! {
                    sent = &mut send, if !body_done => {
                        sent.map_err(Exchange::Failed)?;
                        body_done = true;
                    }
                    got = &mut read => {
                        got?;
                        break;
                    }
                }
            }
        }
        let parsed = parse_head(&mut buf, method).map_err(Exchange::Failed)?;
        let reusable = parsed.keep_alive && body_done;
        let body = H1Body {
            io: Some(stream),
            buf,
            decode: parsed.decode,
            pool: self.clone(),
            reusable,
        };
        let mut response = Response::new(body);
        *response.status_mut() = parsed.status;
        *response.version_mut() = Version::HTTP_11;
        *response.headers_mut() = parsed.headers;
        Ok(response)
    }
}

/// Outcome of one exchange that did not produce a response.
enum Exchange {
    /// The connection was closed before any response byte: safe to retry a bodiless request.
    Stale,
    Failed(H1Error),
}

impl Exchange {
    fn stale_or_io(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::UnexpectedEof => Self::Stale,
            _ => Self::Failed(H1Error::Io(e)),
        }
    }

    fn into_error(self) -> H1Error {
        match self {
            Self::Stale => H1Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "upstream closed the connection",
            )),
            Self::Failed(e) => e,
        }
    }
}

/// The request head, and whether the body must be sent chunked.
fn encode_head(
    method: &Method,
    path_and_query: &str,
    headers: &HeaderMap,
    has_body: bool,
) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(256 + headers.len() * 32);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut has_length = false;
    for (name, value) in headers {
        if *name == TRANSFER_ENCODING || name == "expect" {
            continue;
        }
        if *name == CONTENT_LENGTH {
            has_length = true;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let chunked = has_body && !has_length;
    if chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    } else if !has_length && matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        out.extend_from_slice(b"content-length: 0\r\n");
    }
    out.extend_from_slice(b"\r\n");
    (out, chunked)
}

async fn send_body<W: tokio::io::AsyncWrite + Unpin, B: OutBody>(
    wr: &mut W,
    body: &mut B,
    chunked: bool,
) -> Result<(), H1Error> {
    use http_body_util::BodyExt as _;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(H1Error::Body)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if data.is_empty() {
            continue;
        }
        if chunked {
            let size = format!("{:x}\r\n", data.len());
            wr.write_all(size.as_bytes()).await.map_err(H1Error::Io)?;
            wr.write_all(&data).await.map_err(H1Error::Io)?;
            wr.write_all(b"\r\n").await.map_err(H1Error::Io)?;
        } else {
            wr.write_all(&data).await.map_err(H1Error::Io)?;
        }
    }
    if chunked {
        wr.write_all(b"0\r\n\r\n").await.map_err(H1Error::Io)?;
    }
    Ok(())
}

/// Reads until `buf` holds a complete response head (final, not 1xx).
async fn read_head_bytes<R: AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut BytesMut,
) -> Result<(), Exchange> {
    use tokio::io::AsyncReadExt as _;
    loop {
        if head_complete(buf) {
            return Ok(());
        }
        if buf.len() >= MAX_HEAD {
            return Err(Exchange::Failed(H1Error::Protocol(
                "response head too large",
            )));
        }
        buf.reserve(8 * 1024);
        let n = rd.read_buf(buf).await.map_err(Exchange::stale_or_io)?;
        if n == 0 {
            return Err(if buf.is_empty() {
                Exchange::Stale
            } else {
                Exchange::Failed(H1Error::Protocol(
                    "connection closed inside the response head",
                ))
            });
        }
    }
}

/// Whether `buf` starts with a complete final head (skipping complete 1xx heads).
fn head_complete(buf: &[u8]) -> bool {
    let mut rest = buf;
    loop {
        let Some(end) = find_head_end(rest) else {
            return false;
        };
        // 1xx heads precede the final one, except 101, which ends the exchange (refused later).
        let informational = rest.starts_with(b"HTTP/1.")
            && rest.get(9).is_some_and(|b| *b == b'1')
            && rest.get(9..12) != Some(b"101".as_slice());
        if !informational {
            return true;
        }
        rest = rest.get(end..).unwrap_or(&[]);
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// How the response body is delimited.
#[derive(Debug, Clone, Copy)]
enum Decode {
    Length(u64),
    Chunked(Chunk),
    Eof,
    Done,
}

#[derive(Debug, Clone, Copy)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

struct Parsed {
    status: StatusCode,
    headers: HeaderMap,
    decode: Decode,
    keep_alive: bool,
}

/// Parses the head at the front of `buf` (1xx heads are dropped) and removes it.
fn parse_head(buf: &mut BytesMut, method: &Method) -> Result<Parsed, H1Error> {
    loop {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut res = httparse::Response::new(&mut slots);
        let len = match res.parse(buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                return Err(H1Error::Protocol("incomplete response head"));
            }
            Err(_) => return Err(H1Error::Protocol("malformed response head")),
        };
        let code = res.code.ok_or(H1Error::Protocol("no status code"))?;
        let status =
            StatusCode::from_u16(code).map_err(|_| H1Error::Protocol("invalid status code"))?;
        if status.is_informational() {
            if status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(H1Error::Protocol("upstream switched protocols"));
            }
            buf.advance(len);
            continue;
        }
        let http10 = res.version == Some(0);
        let mut headers = HeaderMap::with_capacity(res.headers.len());
        let mut length: Option<u64> = None;
        let mut chunked = false;
        let mut has_te = false;
        let mut close = http10;
        let mut keep_alive_10 = false;
        for h in res.headers.iter() {
            let name = HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|_| H1Error::Protocol("invalid header name"))?;
            let value = HeaderValue::from_bytes(h.value)
                .map_err(|_| H1Error::Protocol("invalid header value"))?;
            if name == CONTENT_LENGTH {
                let text = value
                    .to_str()
                    .map_err(|_| H1Error::Protocol("invalid content-length"))?;
                for part in text.split(',') {
                    let part = part.trim();
                    // Digits only: `+3` parses as a number elsewhere and is a smuggling vector.
                    if part.is_empty()
                        || part.len() > 19
                        || !part.bytes().all(|b| b.is_ascii_digit())
                    {
                        return Err(H1Error::Protocol("invalid content-length"));
                    }
                    let n: u64 = part
                        .parse()
                        .map_err(|_| H1Error::Protocol("invalid content-length"))?;
                    if length.is_some_and(|l| l != n) {
                        return Err(H1Error::Protocol("conflicting content-length values"));
                    }
                    length = Some(n);
                }
            } else if name == TRANSFER_ENCODING {
                has_te = true;
                let text = value
                    .to_str()
                    .map_err(|_| H1Error::Protocol("invalid transfer-encoding"))?;
                chunked = text
                    .rsplit(',')
                    .next()
                    .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
            } else if name == http::header::CONNECTION {
                for token in value.to_str().unwrap_or("").split(',') {
                    let token = token.trim();
                    if token.eq_ignore_ascii_case("close") {
                        close = true;
                    } else if token.eq_ignore_ascii_case("keep-alive") {
                        keep_alive_10 = true;
                    }
                }
            }
            headers.append(name, value);
        }
        if has_te && length.is_some() {
            return Err(H1Error::Protocol(
                "both transfer-encoding and content-length",
            ));
        }
        buf.advance(len);
        let bodiless = *method == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        let decode = if bodiless {
            Decode::Done
        } else if has_te {
            if chunked {
                Decode::Chunked(Chunk::Size)
            } else {
                Decode::Eof
            }
        } else if let Some(n) = length {
            if n == 0 {
                Decode::Done
            } else {
                Decode::Length(n)
            }
        } else {
            Decode::Eof
        };
        if matches!(decode, Decode::Eof) {
            close = true;
        }
        if http10 && keep_alive_10 && !matches!(decode, Decode::Eof) {
            close = false;
        }
        headers.remove(TRANSFER_ENCODING);
        if matches!(decode, Decode::Chunked(_) | Decode::Eof) {
            // The listener frames what it sends; a length is kept only when exactly that
            // many bytes follow.
            headers.remove(CONTENT_LENGTH);
        }
        return Ok(Parsed {
            status,
            headers,
            decode,
            keep_alive: !close,
        });
    }
}

/// A response body read from the upstream connection as the client consumes it.
pub struct H1Body {
    io: Option<TcpStream>,
    buf: BytesMut,
    decode: Decode,
    pool: Arc<H1Pool>,
    reusable: bool,
}

impl std::fmt::Debug for H1Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H1Body")
            .field("decode", &self.decode)
            .finish()
    }
}

impl H1Body {
    fn finish(&mut self) {
        self.decode = Decode::Done;
        if let Some(io) = self.io.take()
            && self.reusable
            && self.buf.is_empty()
        {
            self.pool.checkin(io);
        }
    }

    /// Reads more bytes into `buf`; `Ok(0)` at end of stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let Some(io) = self.io.as_mut() else {
            return Poll::Ready(Ok(0));
        };
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(16 * 1024);
        }
        tokio_util::io::poll_read_buf(Pin::new(io), cx, &mut self.buf)
    }
}

fn protocol(msg: &'static str) -> BoxError {
    Box::new(io::Error::new(io::ErrorKind::InvalidData, msg))
}

impl Body for H1Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            match this.decode {
                Decode::Done => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Decode::Length(left) => {
                    if this.buf.is_empty() {
                        let n = ready!(this.poll_fill(cx))?;
                        if n == 0 {
                            this.reusable = false;
                            return Poll::Ready(Some(Err(protocol(
                                "upstream closed before the end of the body",
                            ))));
                        }
                    }
                    let take = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(this.buf.len());
                    let data = this.buf.split_to(take).freeze();
                    let left = left - data.len() as u64;
                    this.decode = if left == 0 {
                        Decode::Done
                    } else {
                        Decode::Length(left)
                    };
                    if left == 0 {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Decode::Eof => {
                    if this.buf.is_empty() {
                        let n = ready!(this.poll_fill(cx))?;
                        if n == 0 {
                            this.reusable = false;
                            this.finish();
                            return Poll::Ready(None);
                        }
                    }
                    let data = this.buf.split().freeze();
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Decode::Chunked(state) => match state {
                    Chunk::Size => match find_crlf(&this.buf) {
                        Some(end) => {
                            let line = this.buf.split_to(end + 2);
                            let size = parse_chunk_size(line.get(..end).unwrap_or(&[]))?;
                            this.decode = Decode::Chunked(if size == 0 {
                                Chunk::Trailers
                            } else {
                                Chunk::Data(size)
                            });
                        }
                        None => {
                            if this.buf.len() > MAX_CHUNK_LINE {
                                this.reusable = false;
                                return Poll::Ready(Some(Err(protocol(
                                    "chunk size line too long",
                                ))));
                            }
                            if ready!(this.poll_fill(cx))? == 0 {
                                this.reusable = false;
                                return Poll::Ready(Some(Err(protocol(
                                    "upstream closed inside a chunked body",
                                ))));
                            }
                        }
                    },
                    Chunk::Data(left) => {
                        if this.buf.is_empty() && ready!(this.poll_fill(cx))? == 0 {
                            this.reusable = false;
                            return Poll::Ready(Some(Err(protocol(
                                "upstream closed inside a chunk",
                            ))));
                        }
                        let take = usize::try_from(left)
                            .unwrap_or(usize::MAX)
                            .min(this.buf.len());
                        let data = this.buf.split_to(take).freeze();
                        let left = left - data.len() as u64;
                        this.decode = Decode::Chunked(if left == 0 {
                            Chunk::DataEnd
                        } else {
                            Chunk::Data(left)
                        });
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Chunk::DataEnd => {
                        if this.buf.len() < 2 {
                            if ready!(this.poll_fill(cx))? == 0 {
                                this.reusable = false;
                                return Poll::Ready(Some(Err(protocol(
                                    "upstream closed inside a chunked body",
                                ))));
                            }
                            continue;
                        }
                        if this.buf.get(..2) != Some(b"\r\n".as_slice()) {
                            this.reusable = false;
                            return Poll::Ready(Some(Err(protocol("chunk not followed by CRLF"))));
                        }
                        this.buf.advance(2);
                        this.decode = Decode::Chunked(Chunk::Size);
                    }
                    Chunk::Trailers => match find_crlf(&this.buf) {
                        // Trailers are dropped; an empty line ends the body.
                        Some(0) => {
                            this.buf.advance(2);
                            this.decode = Decode::Done;
                        }
                        Some(end) => {
                            this.buf.advance(end + 2);
                        }
                        None => {
                            if this.buf.len() > MAX_HEAD {
                                this.reusable = false;
                                return Poll::Ready(Some(Err(protocol("trailers too large"))));
                            }
                            if ready!(this.poll_fill(cx))? == 0 {
                                this.reusable = false;
                                return Poll::Ready(Some(Err(protocol(
                                    "upstream closed inside the trailers",
                                ))));
                            }
                        }
                    },
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.decode, Decode::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.decode {
            Decode::Length(n) => SizeHint::with_exact(n),
            Decode::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

fn parse_chunk_size(line: &[u8]) -> Result<u64, BoxError> {
    let digits = line.split(|b| *b == b';').next().unwrap_or(&[]);
    let digits = digits.strip_suffix(b" ").unwrap_or(digits);
    if digits.is_empty() || digits.len() > 15 {
        return Err(protocol("invalid chunk size"));
    }
    let mut n: u64 = 0;
    for d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Err(protocol("invalid chunk size")),
        };
        n = n * 16 + u64::from(v);
    }
    Ok(n)
}

#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, method: Method) -> Result<Parsed, H1Error> {
        let mut buf = BytesMut::from(text.as_bytes());
        parse_head(&mut buf, &method)
    }

    #[test]
    fn framing_rules() {
        let p = parse("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", Method::GET).unwrap();
        assert!(matches!(p.decode, Decode::Length(5)) && p.keep_alive);
        let p = parse(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            Method::GET,
        )
        .unwrap();
        assert!(matches!(p.decode, Decode::Chunked(_)) && p.keep_alive);
        assert!(p.headers.get(TRANSFER_ENCODING).is_none());
        let p = parse("HTTP/1.1 200 OK\r\n\r\n", Method::GET).unwrap();
        assert!(matches!(p.decode, Decode::Eof) && !p.keep_alive);
        let p = parse("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", Method::HEAD).unwrap();
        assert!(matches!(p.decode, Decode::Done));
        let p = parse(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
            Method::POST,
        )
        .unwrap();
        assert_eq!(p.status, 204);
        let p = parse("HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\n", Method::GET).unwrap();
        assert!(!p.keep_alive);
        let p = parse(
            "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\n",
            Method::GET,
        )
        .unwrap();
        assert!(!p.keep_alive);
        // smuggling shapes are refused
        assert!(
            parse(
                "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n",
                Method::GET
            )
            .is_err()
        );
        assert!(
            parse(
                "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
                Method::GET
            )
            .is_err()
        );
        assert!(parse("HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n", Method::GET).is_err());
        assert!(parse("HTTP/1.1 200 OK\r\ncontent-length: +1\r\n\r\n", Method::GET).is_err());
        assert!(parse("HTTP/1.1 101 Switching Protocols\r\n\r\n", Method::GET).is_err());
        assert!(parse("garbage\r\n\r\n", Method::GET).is_err());
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(parse_chunk_size(b"1a").unwrap(), 26);
        assert_eq!(parse_chunk_size(b"FF;ext=1").unwrap(), 255);
        assert!(parse_chunk_size(b"").is_err());
        assert!(parse_chunk_size(b"0x10").is_err());
        assert!(parse_chunk_size(b"1234567890abcdef0").is_err());
    }

    #[test]
    fn heads_complete_after_informational_responses() {
        assert!(!head_complete(b"HTTP/1.1 100 Continue\r\n\r\n"));
        assert!(head_complete(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"
        ));
        assert!(!head_complete(b"HTTP/1.1 200 OK\r\n"));
        assert!(head_complete(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"));
    }
}
