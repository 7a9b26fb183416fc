//! The listener: accepts connections, speaks HTTP/1.1 and HTTP/2 (h2c and TLS with ALPN),
//! enforces connection-level limits and drains gracefully.
//!
//! Limits: request heads over `max_header_size` get 431 from the HTTP/1 codec; a client must
//! send its head within `header_read_timeout` (and finish a TLS handshake in the same time);
//! a connection with no request in flight for `idle_timeout` is closed, and so is one whose
//! response body has not moved for that long; at most `max_connections`
//! are served at once. On shutdown the accept loop stops, every connection is asked to finish
//! its in-flight requests and close, and after the grace period the rest are dropped.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};

use crate::Shared;
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
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(io)).await {
            Ok(Ok(tls_stream)) => {
                drive(shared, tls_stream, info, &limits, activity, &mut phase).await
            }
            Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
        }
    } else {
        drop(plan);
        drive(shared, io, info, &limits, activity, &mut phase).await;
    }
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
    let max_head = usize::try_from(limits.max_header_size)
        .unwrap_or(usize::MAX)
        .max(8192);
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(max_head)
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
    let service_activity = activity.clone();
    let shared_for_errors = shared.clone();
    let service = service_fn(move |req| {
        let shared = shared.clone();
        let in_flight = service_activity.begin();
        async move { Ok::<_, Infallible>(pipeline::serve(shared, req, info, in_flight).await) }
    });
    let io = crate::protocol_error::Answered::new(io, shared_for_errors, info.peer);
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
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(peer = %info.peer, error = %e, "connection ended with an error");
                }
                return;
            }
            changed = phase.changed() => {
                let now = if changed.is_ok() { *phase.borrow() } else { Phase::Stop };
                match now {
                    Phase::Running => {}
                    Phase::Draining if !closing => {
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                    Phase::Draining => {}
                    Phase::Stop => return,
                }
            }
            _ = tick.tick() => {
                                if activity.stalled_for() >= idle {
                    // A response has been streaming without moving a byte for a whole idle
                    // period: a stalled upstream body or a client that stopped reading.
                    tracing::debug!(peer = %info.peer, "response stalled; closing the connection");
                    return;
                }
                let quiet = activity.idle_for();
                if quiet >= idle * 2 {
                    // It ignored the polite close: drop it.
                    return;
                }
                if quiet >= idle && !closing {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
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
}

impl Activity {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
            streaming: AtomicUsize::new(0),
            progress_ms: AtomicU64::new(0),
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

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How long streaming responses have gone without progress (zero when none streams).
    fn stalled_for(&self) -> Duration {
        if self.streaming.load(Ordering::Acquire) == 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.progress_ms.load(Ordering::Acquire));
        self.origin.elapsed().saturating_sub(last)
    }

    fn idle_for(&self) -> Duration {
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
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
