//! The listener: accepts connections, speaks HTTP/1.1 and HTTP/2 (h2c and TLS with ALPN),
//! enforces connection-level limits and drains gracefully.
//!
//! Limits: request heads over `max_header_size` get 431 from the HTTP/1 codec; a client must
//! send its head within `header_read_timeout` (and finish a TLS handshake in the same time);
//! a connection with no request in flight for `idle_timeout` is closed, and so is one whose
//! response body has not moved for that long; an idle plain-HTTP/1 connection is parked
//! until then, holding only its socket (see [`crate::keep_alive`]); at most `max_connections`
//! are served at once. On shutdown the accept loop stops, every connection is asked to finish
//! its in-flight requests and close, and after the grace period the rest are dropped.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};

use bytes::Bytes;

use crate::Shared;
use crate::keep_alive::{self, Activity, SessionIo};
use crate::pipeline::{self, ConnInfo};
use crate::telemetry;

/// Lifecycle of the listener, broadcast to every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Serving.
    Running,
    /// Finish in-flight requests, accept no new ones.
    Draining,
    /// Grace period over: drop every connection.
    Stop,
}

/// Runs the accept loop until the phase leaves `Running`, then waits for connections to
/// drain (they are dropped when the phase becomes `Stop`). `tls` says whether the listener
/// terminates TLS; the certificate itself comes from the current plan, so reloads renew it.
pub async fn run(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: bool,
    max_connections: u32,
    mut phase: watch::Receiver<Phase>,
) {
    let permits = Arc::new(Semaphore::new(
        usize::try_from(max_connections).unwrap_or(10_000),
    ));
    // Refusals in progress: a flood past max_connections costs a bounded number of tasks.
    let refusals = Arc::new(Semaphore::new(REFUSALS_IN_FLIGHT));
    let mut last_refusal_log: Option<Instant> = None;
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = phase.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        // Past max_connections a client is answered at once rather than left waiting in
        // the kernel's backlog: 503 on plain HTTP/1, a close on TLS.
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            metrics::counter!(telemetry::CONNECTIONS_REFUSED).increment(1);
            if last_refusal_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                last_refusal_log = Some(Instant::now());
                tracing::warn!(
                    max_connections,
                    "connection limit reached; refusing new connections"
                );
            }
            if !tls && let Ok(slot) = refusals.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(slot);
                });
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        let phase = phase.clone();
        let alive = alive_tx.clone();
        tokio::spawn(async move {
            metrics::gauge!(telemetry::OPEN_CONNECTIONS).increment(1.0);
            serve_connection(shared, stream, peer, tls, phase).await;
            metrics::gauge!(telemetry::OPEN_CONNECTIONS).decrement(1.0);
            drop(permit);
            drop(alive);
        });
    }
    drop(listener);
    drop(alive_tx);
    // Every connection task holds a sender; recv() returns None when the last one ends.
    let _ = alive_rx.recv().await;
}

/// How many refused connections may be answered at once; past that they are just closed.
const REFUSALS_IN_FLIGHT: usize = 64;

/// The answer to a connection past `max_connections`, written without reading the request.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nx-amzn-errortype: ServiceUnavailableException\r\nconnection: close\r\ncontent-length: 33\r\n\r\n{\"message\":\"Service Unavailable\"}";

async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(REFUSAL).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

async fn serve_connection(
    shared: Arc<Shared>,
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    tls: bool,
    mut phase: watch::Receiver<Phase>,
) {
    let plan = shared.plan.load_full();
    let limits = plan.limits.clone();
    let activity = Arc::new(Activity::new());
    let io = stream;
    let info = ConnInfo { peer, tls };
    if tls {
        let Some(config) = plan.tls.clone() else {
            tracing::error!("TLS listener without a certificate in the plan");
            return;
        };
        drop(plan);
        // Boxed, as every path here is, so that the task of a parked plain connection
        // does not carry room for the others.
        Box::pin(async move {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(io)).await {
                Ok(Ok(tls_stream)) => {
                    drive(shared, tls_stream, info, &limits, activity, &mut phase).await
                }
                Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
            }
        })
        .await;
    } else {
        drop(plan);
        serve_plain(shared, io, info, &limits, activity, &mut phase).await;
    }
}

/// A plain-TCP connection: HTTP/1 in sessions that park the connection between requests
/// (see [`crate::keep_alive`]); HTTP/2 with prior knowledge is handed to [`drive`] for the
/// connection's life.
async fn serve_plain(
    shared: Arc<Shared>,
    mut stream: tokio::net::TcpStream,
    info: ConnInfo,
    limits: &crate::plan::Limits,
    activity: Arc<Activity>,
    phase: &mut watch::Receiver<Phase>,
) {
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(max_head(limits))
        .keep_alive(true);
    let service = request_service(shared.clone(), activity.clone(), info);
    let mut replay = Bytes::new();
    let mut first = true;
    loop {
        if replay.is_empty() {
            // Parked (or new): the socket and this task's small state are all the connection
            // holds until the client sends again. A new connection waits at most the head
            // timeout for its first byte, a parked one what is left of the idle timeout.
            let (wait, _parked) = if first {
                (limits.header_read_timeout, None)
            } else {
                let left = limits.idle_timeout.saturating_sub(activity.idle_for());
                (left, Some(ParkedGauge::new()))
            };
            let mut peeked = [0u8; 4];
            let Some(n) = first_bytes(&stream, &mut peeked, wait, phase).await else {
                return;
            };
            if first && limits.http2 && keep_alive::may_be_http2(peeked.get(..n).unwrap_or(&[])) {
                Box::pin(drive(shared, stream, info, limits, activity, phase)).await;
                return;
            }
        }
        first = false;
        let ended_at_start = activity.session.ended();
        let io = SessionIo::new(stream, replay, activity.session.clone());
        let io = crate::protocol_error::Answered::new(io, shared.clone(), info.peer);
        // Boxed so that a parked connection's task does not keep the codec's room.
        let mut conn = Box::new(http1.serve_connection(TokioIo::new(io), service.clone()));
        let parked = Box::pin(run_session(
            &mut conn,
            info,
            limits,
            &activity,
            ended_at_start,
            phase,
        ))
        .await;
        let parts = conn.into_parts();
        let (io, read_ahead) = (parts.io.into_inner().into_inner(), parts.read_buf);
        let (mut socket, rest) = io.into_parts(read_ahead);
        if !parked {
            use tokio::io::AsyncWriteExt;
            let _ = tokio::time::timeout(Duration::from_secs(1), socket.shutdown()).await;
            return;
        }
        stream = socket;
        replay = rest;
    }
}

/// Waits up to `wait` for a connection's next bytes and peeks at them without consuming
/// them. `None`: the client closed, the wait ran out, or the listener is draining.
async fn first_bytes(
    stream: &tokio::net::TcpStream,
    peeked: &mut [u8],
    wait: Duration,
    phase: &mut watch::Receiver<Phase>,
) -> Option<usize> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if *phase.borrow() != Phase::Running {
            return None;
        }
        tokio::select! {
            r = stream.peek(peeked) => return match r {
                Ok(0) | Err(_) => None,
                Ok(n) => Some(n),
            },
            _ = tokio::time::sleep_until(deadline) => return None,
            changed = phase.changed() => if changed.is_err() { return None },
        }
    }
}

/// Counts a connection in `portcullis_parked_connections` while it lives.
struct ParkedGauge;

impl ParkedGauge {
    fn new() -> Self {
        metrics::gauge!(telemetry::PARKED_CONNECTIONS).increment(1.0);
        Self
    }
}

impl Drop for ParkedGauge {
    fn drop(&mut self) {
        metrics::gauge!(telemetry::PARKED_CONNECTIONS).decrement(1.0);
    }
}

/// Runs one HTTP/1 session until it parks (`true`: the socket may serve the next request)
/// or the connection is over (`false`).
async fn run_session<I, S>(
    conn: &mut hyper::server::conn::http1::Connection<I, S>,
    info: ConnInfo,
    limits: &crate::plan::Limits,
    activity: &Activity,
    ended_at_start: u64,
    phase: &mut watch::Receiver<Phase>,
) -> bool
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin,
    S: hyper::service::HttpService<hyper::body::Incoming, ResBody = crate::body::ObservedBody>
        + Unpin,
    S::Future: Unpin,
{
    let idle = limits.idle_timeout;
    let mut tick = tokio::time::interval((idle / 4).max(Duration::from_millis(50)));
    let mut closing = *phase.borrow() != Phase::Running;
    if closing {
        Pin::new(&mut *conn).graceful_shutdown();
    }
    // The session parks once it has been idle (see `Session::can_park`) for PARK_AFTER
    // with no request ending in between. The timer is armed when the session first goes
    // idle and, under steady traffic, re-armed only when it fires, so a busy connection
    // costs one timer event per PARK_AFTER rather than one per request.
    let park_timer = tokio::time::sleep(PARK_AFTER);
    tokio::pin!(park_timer);
    let mut armed: Option<u64> = None;
    let mut park_tried = false;
    loop {
        let next = tokio::select! {
            end = std::future::poll_fn(|cx| {
                let polled = conn.poll_without_shutdown(cx);
                if polled.is_ready() {
                    return polled.map(|r| (r, false));
                }
                if closing
                    || park_tried
                    || !activity.session.can_park(ended_at_start, activity.in_flight())
                {
                    armed = None;
                    return Poll::Pending;
                }
                let ended = activity.session.ended();
                let Some(armed_at) = armed else {
                    park_timer.as_mut().reset(tokio::time::Instant::now() + PARK_AFTER);
                    armed = Some(ended);
                    let _ = park_timer.as_mut().poll(cx);
                    return Poll::Pending;
                };
                if park_timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                if armed_at != ended {
                    // Requests ended since the timer was armed: not quiet yet.
                    park_timer.as_mut().reset(tokio::time::Instant::now() + PARK_AFTER);
                    armed = Some(ended);
                    let _ = park_timer.as_mut().poll(cx);
                    return Poll::Pending;
                }
                // Quiet for PARK_AFTER: end the session if the codec is idle; if it was not
                // after all, it finishes what it is doing and closes.
                park_tried = true;
                Pin::new(&mut *conn).graceful_shutdown();
                conn.poll_without_shutdown(cx).map(|r| (r, true))
            }) => {
                let (result, parking) = end;
                if let Err(e) = &result {
                    tracing::debug!(peer = %info.peer, error = %e, "connection ended with an error");
                }
                return parking && result.is_ok();
            }
            changed = phase.changed() => on_phase(changed.is_ok(), phase, closing),
            _ = tick.tick() => on_tick(activity, idle, info, closing),
        };
        match next {
            Next::Serve => {}
            Next::Close => {
                Pin::new(&mut *conn).graceful_shutdown();
                closing = true;
            }
            Next::Drop => return false,
        }
    }
}

/// How long an HTTP/1 session must be idle before its connection is parked: long enough
/// that a client sending request after request keeps its session (parking costs a few
/// allocations and a system call), short enough that idle connections hold little memory.
const PARK_AFTER: Duration = Duration::from_millis(50);

/// The codec's buffer limit: room for a head of `max_header_size`.
fn max_head(limits: &crate::plan::Limits) -> usize {
    usize::try_from(limits.max_header_size)
        .unwrap_or(usize::MAX)
        .max(8192)
}

/// What a request's handling resolves to.
type Answer = Result<hyper::Response<crate::body::ObservedBody>, Infallible>;

/// A request's handling, boxed: the HTTP/1 session needs a future it can move.
type Handling = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// The service a connection's requests go through: each request holds the connection's
/// [`InFlight`] guard until its response is finished.
fn request_service(
    shared: Arc<Shared>,
    activity: Arc<Activity>,
    info: ConnInfo,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = hyper::Response<crate::body::ObservedBody>,
    Error = Infallible,
    Future = Handling,
> + Clone
+ Unpin
+ Send
+ 'static {
    service_fn(move |req| {
        let shared = shared.clone();
        let in_flight = activity.begin();
        Box::pin(async move { Ok(pipeline::serve(shared, req, info, in_flight).await) }) as Handling
    })
}

async fn drive<I>(
    shared: Arc<Shared>,
    io: I,
    info: ConnInfo,
    limits: &crate::plan::Limits,
    activity: Arc<Activity>,
    phase: &mut watch::Receiver<Phase>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(max_head(limits))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_size).unwrap_or(u32::MAX))
        .max_concurrent_streams(256)
        .keep_alive_interval(Some(limits.idle_timeout / 2))
        .keep_alive_timeout(Duration::from_secs(20));
    if !limits.http2 {
        builder = builder.http1_only();
    }
    let service = request_service(shared.clone(), activity.clone(), info);
    let io = crate::protocol_error::Answered::new(io, shared, info.peer);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let idle = limits.idle_timeout;
    let mut tick = tokio::time::interval((idle / 4).max(Duration::from_millis(50)));
    let mut closing = false;
    if *phase.borrow() != Phase::Running {
        conn.as_mut().graceful_shutdown();
        closing = true;
    }
    loop {
        let next = tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(peer = %info.peer, error = %e, "connection ended with an error");
                }
                return;
            }
            changed = phase.changed() => on_phase(changed.is_ok(), phase, closing),
            _ = tick.tick() => on_tick(&activity, idle, info, closing),
        };
        match next {
            Next::Serve => {}
            Next::Close => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            Next::Drop => return,
        }
    }
}

/// What a connection does after its listener's phase changed or its timer ticked.
enum Next {
    /// Go on serving.
    Serve,
    /// Finish what is in flight, then close (HTTP/1: at once if idle; HTTP/2: `GOAWAY`).
    Close,
    /// Drop the connection now.
    Drop,
}

/// After a phase change (`changed` false: the listener is gone).
fn on_phase(changed: bool, phase: &watch::Receiver<Phase>, closing: bool) -> Next {
    match if changed {
        *phase.borrow()
    } else {
        Phase::Stop
    } {
        Phase::Running => Next::Serve,
        Phase::Draining if !closing => Next::Close,
        Phase::Draining => Next::Serve,
        Phase::Stop => Next::Drop,
    }
}

/// After a tick: a response that has not moved for `idle` (a stalled upstream body or a
/// client that stopped reading) is dropped; a connection idle for `idle` is closed politely,
/// and dropped if it is still there after twice that.
fn on_tick(activity: &Activity, idle: Duration, info: ConnInfo, closing: bool) -> Next {
    if activity.stalled_for() >= idle {
        tracing::debug!(peer = %info.peer, "response stalled; closing the connection");
        return Next::Drop;
    }
    let quiet = activity.idle_for();
    if quiet >= idle * 2 {
        Next::Drop
    } else if quiet >= idle && !closing {
        Next::Close
    } else {
        Next::Serve
    }
}
