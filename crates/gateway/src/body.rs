//! Body types on the hot path: no boxing, and no buffering unless a stage asks for it.
//!
//! [`Inbound`] is the client's body as the pipeline holds it: streaming by default. A stage
//! that must see the body (validation now; WAF inspection and SigV4 payload hashing later)
//! asks for it with [`Inbound::buffer`], up to a limit; what was read stays in front of the
//! rest, so the integration still receives every byte, in order, and streams the part no stage
//! read. [`RequestBody`] wraps an `Inbound` on its way upstream: it counts bytes and stops the
//! stream with an error once the configured maximum is passed, flagging the overrun so the
//! pipeline can answer 413 instead of a generic upstream failure. [`ResponseBody`] is what
//! the listener sends: a fixed buffer or the upstream's streaming body. [`ObservedBody`]
//! wraps it and reports the bytes sent once the body is finished or dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

pub use crate::h1_client::BoxError;

/// Shared between a [`RequestBody`] and the pipeline that created it.
#[derive(Debug, Default)]
pub struct BodyMeter {
    /// Bytes read from the client so far.
    pub bytes: AtomicU64,
    /// Set when the body went over the limit.
    pub overrun: AtomicBool,
}

/// The error a [`RequestBody`] yields when the client sends more than allowed.
#[derive(Debug)]
pub struct BodyTooLarge;

impl std::fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request body exceeds the configured maximum")
    }
}

impl std::error::Error for BodyTooLarge {}

/// The client's body as the pipeline holds it: bytes a stage already read, then the rest of
/// the stream (if any).
#[derive(Debug)]
pub struct Inbound {
    /// Read so far by a stage, replayed first.
    read: Bytes,
    /// What the client has not sent yet; `None` once the stream ended (or for a body given
    /// whole, as `explain` gives one).
    rest: Option<Incoming>,
}

/// The first bytes of a body, as [`Inbound::buffer`] found them.
#[derive(Debug, Clone, Copy)]
pub struct Buffered<'a> {
    /// The bytes read (all of the body when `complete`).
    pub bytes: &'a [u8],
    /// Whether they are the whole body.
    pub complete: bool,
}

impl Inbound {
    /// A body still to be read from the client.
    pub fn streaming(body: Incoming) -> Self {
        Self {
            read: Bytes::new(),
            rest: Some(body),
        }
    }

    /// A body known in full (explanations, tests).
    pub fn full(bytes: Bytes) -> Self {
        Self {
            read: bytes,
            rest: None,
        }
    }

    /// Reads the body until it ends or more than `want` bytes are held, and returns what is
    /// held. Bytes beyond `want` in the last frame are kept too (nothing is lost; `complete`
    /// is then false). More than `max` bytes in all is the listener's limit: `BodyTooLarge`.
    /// Cheap to call again: a body already read is not read twice.
    pub async fn buffer(&mut self, want: usize, max: u64) -> Result<Buffered<'_>, BufferError> {
        use http_body_util::BodyExt as _;
        // Frames after the first are gathered here; a body of one frame is never copied.
        let mut acc: Option<bytes::BytesMut> = None;
        let result = loop {
            let held = acc.as_ref().map_or(self.read.len(), bytes::BytesMut::len);
            if held > want {
                break Ok(());
            }
            let Some(rest) = &mut self.rest else {
                break Ok(());
            };
            if rest.is_end_stream() {
                self.rest = None;
                break Ok(());
            }
            match rest.frame().await {
                None => {
                    self.rest = None;
                    break Ok(());
                }
                Some(Err(e)) => break Err(BufferError::Client(e.to_string())),
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let total = held.saturating_add(data.len());
                    if u64::try_from(total).unwrap_or(u64::MAX) > max {
                        break Err(BufferError::TooLarge);
                    }
                    match &mut acc {
                        None if self.read.is_empty() => self.read = data,
                        None => {
                            // Room for the rest up to the limit, at most 8 KiB ahead.
                            let mut b = bytes::BytesMut::with_capacity(
                                total.max(want.saturating_add(1).min(8 * 1024)),
                            );
                            b.extend_from_slice(&self.read);
                            b.extend_from_slice(&data);
                            acc = Some(b);
                        }
                        Some(b) => b.extend_from_slice(&data),
                    }
                }
            }
        };
        if let Some(b) = acc {
            self.read = b.freeze();
        }
        result?;
        Ok(Buffered {
            bytes: &self.read,
            complete: self.rest.is_none(),
        })
    }

    /// Whether there is no body at all (nothing read, nothing to come).
    pub fn is_empty(&self) -> bool {
        self.read.is_empty() && self.rest.as_ref().is_none_or(Incoming::is_end_stream)
    }
}

/// Why [`Inbound::buffer`] stopped.
#[derive(Debug)]
pub enum BufferError {
    /// The body is larger than the listener allows.
    TooLarge,
    /// The client's stream failed (reset, malformed chunking, timeout).
    Client(String),
}

impl Body for Inbound {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        if !this.read.is_empty() {
            return Poll::Ready(Some(Ok(Frame::data(std::mem::take(&mut this.read)))));
        }
        let Some(rest) = &mut this.rest else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(rest).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.rest = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        let read = u64::try_from(self.read.len()).unwrap_or(u64::MAX);
        let mut hint = self
            .rest
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Incoming::size_hint);
        // Raise the upper bound first: `set_lower` refuses a lower above the upper.
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper.saturating_add(read));
        }
        hint.set_lower(hint.lower().saturating_add(read));
        hint
    }
}

/// The client's body, streamed upstream with a size limit.
#[derive(Debug)]
pub struct RequestBody {
    inner: Inbound,
    limit: u64,
    meter: Arc<BodyMeter>,
}

impl RequestBody {
    /// Wraps `inner`, allowing at most `limit` bytes in all (those a stage read included).
    pub fn new(inner: Inbound, limit: u64, meter: Arc<BodyMeter>) -> Self {
        Self {
            inner,
            limit,
            meter,
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
                    let total = this
                        .meter
                        .bytes
                        .fetch_add(len, Ordering::Relaxed)
                        .saturating_add(len);
                    if total > this.limit {
                        this.meter.overrun.store(true, Ordering::Relaxed);
                        return Poll::Ready(Some(Err(Box::new(BodyTooLarge))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body: fixed bytes or the upstream's stream.
#[derive(Debug)]
pub enum ResponseBody {
    /// A fixed body (mock integrations, gateway responses); `None` once sent.
    Full(Option<Bytes>),
    /// The upstream's body, streamed (hyper client: HTTPS and HTTP/2 upstreams).
    Upstream(Incoming, Idle),
    /// The upstream's body, streamed (in-task HTTP/1.1 client).
    H1(crate::h1_client::H1Body, Idle),
}

/// How long an upstream's body may go without a frame: an upstream that stalls mid-body is
/// cut off after this (the integration's timeout) rather than holding the client until the
/// listener's idle timeout. The timer is allocated only when the body first has to wait.
#[derive(Debug)]
pub struct Idle {
    after: std::time::Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// The error an upstream body yields when it stalled for longer than its [`Idle`] limit.
#[derive(Debug)]
pub struct UpstreamBodyStalled(std::time::Duration);

impl std::fmt::Display for UpstreamBodyStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "upstream body sent nothing for {:?}", self.0)
    }
}

impl std::error::Error for UpstreamBodyStalled {}

impl Idle {
    /// A limit of `after` between two frames.
    pub fn new(after: std::time::Duration) -> Self {
        Self { after, timer: None }
    }

    /// The body produced a frame: the wait starts again.
    fn progressed(&mut self) {
        if let Some(t) = &mut self.timer {
            t.as_mut().reset(tokio::time::Instant::now() + self.after);
        }
    }

    /// The body has nothing yet: whether it has waited too long (arms the timer if needed).
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        let after = self.after;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(after)));
        timer.as_mut().poll(cx).is_ready()
    }

    fn poll<B>(
        &mut self,
        inner: Pin<&mut B>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        match inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(f))) => {
                self.progressed();
                Poll::Ready(Some(Ok(f)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                if self.expired(cx) {
                    tracing::warn!(after = ?self.after, "upstream body stalled; response cut off");
                    Poll::Ready(Some(Err(Box::new(UpstreamBodyStalled(self.after)))))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl ResponseBody {
    /// A fixed body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let b = bytes.into();
        Self::Full((!b.is_empty()).then_some(b))
    }

    /// No body.
    pub fn empty() -> Self {
        Self::Full(None)
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Self::Upstream(inner, idle) => idle.poll(Pin::new(inner), cx),
            Self::H1(inner, idle) => idle.poll(Pin::new(inner), cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Full(b) => b.is_none(),
            Self::Upstream(inner, _) => inner.is_end_stream(),
            Self::H1(inner, _) => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(Some(b)) => SizeHint::with_exact(u64::try_from(b.len()).unwrap_or(u64::MAX)),
            Self::Full(None) => SizeHint::with_exact(0),
            Self::Upstream(inner, _) => inner.size_hint(),
            Self::H1(inner, _) => inner.size_hint(),
        }
    }
}

/// Called once when an [`ObservedBody`] is finished or dropped, with the bytes sent.
pub trait Completion: Send + Sync + 'static {
    /// A chunk of the body went out (or is about to): the response is making progress.
    fn progress(&self) {}

    /// The body is done; `complete` is false if it was dropped before its end.
    fn done(self: Box<Self>, bytes_out: u64, complete: bool);
}

/// A response body that reports when it is done.
pub struct ObservedBody {
    inner: ResponseBody,
    sent: u64,
    completion: Option<Box<dyn Completion>>,
}

impl std::fmt::Debug for ObservedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservedBody")
            .field("sent", &self.sent)
            .finish()
    }
}

impl ObservedBody {
    /// Wraps `inner`; `completion` runs when it ends.
    pub fn new(inner: ResponseBody, completion: Option<Box<dyn Completion>>) -> Self {
        Self {
            inner,
            sent: 0,
            completion,
        }
    }

    fn finish(&mut self, complete: bool) {
        if let Some(c) = self.completion.take() {
            c.done(self.sent, complete);
        }
    }
}

impl Body for ObservedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    this.sent += u64::try_from(d.len()).unwrap_or(0);
                }
                if let Some(c) = &this.completion {
                    c.progress();
                }
                if this.inner.is_end_stream() {
                    this.finish(true);
                }
            }
            Poll::Ready(None) => this.finish(true),
            Poll::Ready(Some(Err(_))) => this.finish(false),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ObservedBody {
    fn drop(&mut self) {
        let complete = self.inner.is_end_stream();
        self.finish(complete);
    }
}
