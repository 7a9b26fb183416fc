//! Idle keep-alive connections that cost almost nothing.
//!
//! The HTTP/1 codec holds a read buffer and a write buffer (about 24 KiB together) for as
//! long as a connection lives, even while it waits for the next request. A gateway in front
//! of many clients spends most of its connections waiting, so a plain-HTTP/1 connection is
//! served in *sessions*: a session runs the codec until a response is completely written and
//! nothing more has arrived, then ends without closing the socket (it is *parked*). The
//! parked connection is only the socket and a small task; the next request's first bytes
//! start a new session. Bytes the codec had already read but not used (a pipelined request's
//! beginning) are handed to the next session first, so nothing is lost or reordered.
//!
//! [`SessionIo`] is the session's view of the socket: it replays those bytes and records
//! whether every byte written has been flushed, which [`Session::can_park`] needs to know
//! that ending the session loses no part of a response.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What one connection's sessions share with the request handlers and with the socket
/// wrapper: requests ended so far, and whether written bytes still await a flush.
#[derive(Debug, Default)]
pub struct Session {
    ended: AtomicU64,
    unflushed: AtomicBool,
}

impl Session {
    /// Counts a request whose response (body included) is finished.
    pub fn request_ended(&self) {
        self.ended.fetch_add(1, Ordering::AcqRel);
    }

    /// Requests ended on this connection so far.
    pub fn ended(&self) -> u64 {
        self.ended.load(Ordering::Acquire)
    }

    /// Whether a session that started after `ended_at_start` requests, and has nothing in
    /// flight, may end now: it has answered at least one request and every byte it wrote
    /// has been flushed to the socket.
    pub fn can_park(&self, ended_at_start: u64, in_flight: usize) -> bool {
        in_flight == 0 && self.ended() > ended_at_start && !self.unflushed.load(Ordering::Acquire)
    }
}

/// A socket as one session sees it: `replay` first, then the socket itself.
pub struct SessionIo<I> {
    replay: Bytes,
    io: I,
    session: Arc<Session>,
}

impl<I> SessionIo<I> {
    /// Wraps `io` so that reads return `replay` before anything new from the socket.
    pub fn new(io: I, replay: Bytes, session: Arc<Session>) -> Self {
        Self {
            replay,
            io,
            session,
        }
    }

    /// The socket, and the bytes the next session must see first: `read_ahead` (what the
    /// codec read and did not use) followed by whatever of this session's replay the codec
    /// never asked for.
    pub fn into_parts(self, read_ahead: Bytes) -> (I, Bytes) {
        // Copied out: `read_ahead` is a view of the codec's whole read buffer, which a
        // parked connection must not keep alive (an empty view still holds all of it).
        let replay = if read_ahead.is_empty() && self.replay.is_empty() {
            Bytes::new()
        } else {
            let mut joined = BytesMut::with_capacity(read_ahead.len() + self.replay.len());
            joined.extend_from_slice(&read_ahead);
            joined.extend_from_slice(&self.replay);
            joined.freeze()
        };
        (self.io, replay)
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for SessionIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.replay.is_empty() {
            let n = self.replay.len().min(buf.remaining());
            if let Some(head) = self.replay.get(..n) {
                buf.put_slice(head);
            }
            self.replay.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for SessionIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.session.unflushed.store(true, Ordering::Release);
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.session.unflushed.store(true, Ordering::Release);
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    // The codec flushes its own buffer completely before it flushes the socket, so a
    // successful flush here means nothing written is left behind anywhere.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.io).poll_flush(cx))?;
        self.session.unflushed.store(false, Ordering::Release);
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The first bytes of HTTP/2 with prior knowledge (RFC 9113 §3.4) that tell it apart from
/// every HTTP/1 method.
const H2_PREFACE_START: &[u8] = b"PRI ";

/// Whether a connection whose first bytes are `first` may be speaking HTTP/2 (or has sent
/// too little to tell): such connections are left to the codec that detects the version.
pub fn may_be_http2(first: &[u8]) -> bool {
    let n = first.len().min(H2_PREFACE_START.len());
    match (first.get(..n), H2_PREFACE_START.get(..n)) {
        (Some(a), Some(b)) => a == b && n > 0,
        _ => false,
    }
}

/// Requests in flight on one connection and when the last one ended: a connection is
/// idle when nothing is in flight and nothing has been for `idle_timeout`. HTTP/2 pings and
/// slow bodies do not count as activity (the request timeout bounds those).
#[derive(Debug)]
pub struct Activity {
    origin: Instant,
    in_flight: AtomicUsize,
    last_ms: AtomicU64,
    /// Responses whose head is out and whose body is still being sent.
    streaming: AtomicUsize,
    /// When a streaming response last made progress.
    progress_ms: AtomicU64,
    /// What parking the connection between requests needs to know.
    pub(crate) session: Arc<Session>,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self {
            origin: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            streaming: AtomicUsize::new(0),
            progress_ms: AtomicU64::new(0),
            session: Arc::new(Session::default()),
        }
    }

    /// Marks a request as started; the guard marks it ended when dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight {
            activity: self.clone(),
            streaming: false,
        }
    }

    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How long streaming responses have gone without progress (zero when none streams).
    pub(crate) fn stalled_for(&self) -> Duration {
        if self.streaming.load(Ordering::Acquire) == 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.progress_ms.load(Ordering::Acquire));
        self.origin.elapsed().saturating_sub(last)
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub(crate) fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let now = self.origin.elapsed();
        now.saturating_sub(Duration::from_millis(self.last_ms.load(Ordering::Acquire)))
    }
}

/// One request in flight on a connection; ends when dropped (after the response body).
#[derive(Debug)]
pub struct InFlight {
    activity: Arc<Activity>,
    streaming: bool,
}

impl InFlight {
    /// The response head is out: from now on its body must keep making progress.
    pub fn streaming(&mut self) {
        if !self.streaming {
            self.streaming = true;
            self.progress();
            self.activity.streaming.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The response body moved.
    pub fn progress(&self) {
        self.activity
            .progress_ms
            .store(self.activity.now_ms(), Ordering::Release);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.activity;
        if self.streaming {
            a.streaming.fetch_sub(1, Ordering::AcqRel);
        }
        a.last_ms.store(a.now_ms(), Ordering::Release);
        a.session.request_ended();
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn tells_http2_prior_knowledge_from_http1() {
        assert!(may_be_http2(b"PRI * HTTP/2.0\r\n"));
        assert!(may_be_http2(b"PR"));
        assert!(may_be_http2(b"P"));
        assert!(!may_be_http2(b"POST / HTTP/1.1"));
        assert!(!may_be_http2(b"PUT "));
        assert!(!may_be_http2(b"GET / HTTP/1.1"));
        assert!(!may_be_http2(b""));
    }

    #[tokio::test]
    async fn replays_before_reading_and_hands_back_what_is_left() {
        let (a, mut b) = tokio::io::duplex(64);
        let session = Arc::new(Session::default());
        let mut io = SessionIo::new(a, Bytes::from_static(b"GET /a"), session.clone());
        b.write_all(b" HTTP/1.1").await.unwrap();
        let mut first = [0u8; 4];
        io.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"GET ");
        let (_, rest) = io.into_parts(Bytes::from_static(b"xx"));
        assert_eq!(&rest[..], b"xx/a");
        drop(rest);

        // An empty view of a large buffer is not kept.
        let big = Bytes::from(vec![0u8; 8192]);
        let (c, _d) = tokio::io::duplex(64);
        let (_, rest) = SessionIo::new(c, Bytes::new(), session).into_parts(big.slice(8192..));
        assert!(rest.is_empty());
        assert!(
            big.is_unique(),
            "the parked connection still holds the codec's buffer"
        );
    }

    #[tokio::test]
    async fn a_session_parks_only_after_an_answer_that_is_flushed() {
        let (a, _b) = tokio::io::duplex(64);
        let session = Arc::new(Session::default());
        let mut io = SessionIo::new(a, Bytes::new(), session.clone());
        let start = session.ended();
        assert!(!session.can_park(start, 0), "nothing answered yet");
        io.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        session.request_ended();
        assert!(!session.can_park(start, 0), "written but not flushed");
        io.flush().await.unwrap();
        assert!(session.can_park(start, 0));
        assert!(!session.can_park(start, 1), "a request is in flight");
    }
}
