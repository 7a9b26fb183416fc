//! Unmodified Lambda handlers, run locally: the Lambda Runtime API (2018-06-01) served on
//! loopback, and the worker processes that poll it.
//!
//! ```text
//! invoke(event) -> bounded queue -> worker's GET /runtime/invocation/next
//!                                      POST /runtime/invocation/{id}/response | /error
//! ```
//!
//! Each worker is one process with a Runtime API listener of its own (a port on 127.0.0.1),
//! so the gateway always knows which process holds which invocation: a timed-out invocation
//! kills exactly that process. A worker slot keeps its port across restarts. Workers start
//! with a clean environment holding what Lambda sets (`AWS_LAMBDA_RUNTIME_API`,
//! `_HANDLER`, `LAMBDA_TASK_ROOT`, ...), a few variables that locate interpreters (`PATH`,
//! `HOME`, ...) and the function's own `environment`.
//!
//! `min_workers` start at once and stay; more start while invocations wait, up to
//! `max_workers`. A crashed worker fails its invocation and is restarted with exponential
//! backoff (100 ms doubling to 30 s; reset after a minute of life). Stopping the pool (a
//! reload replaced it, or the gateway stops) kills every worker once the plan that owns it
//! has finished its requests.
//!
//! This crate is the local Lambda host and nothing else: it knows a function's config and
//! the Runtime API, not the gateway. The gateway's Lambda authorizers (and later Lambda
//! proxy integrations) invoke through [`FunctionPool::invoke`].
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        reason = "tests assert by unwrapping"
    )
)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use portcullis_config::{FunctionConfig, FunctionRuntime};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::sync::{mpsc, oneshot, watch};

/// Worker processes started per function, restarts included (a counter labelled `function`).
pub const FUNCTION_STARTS: &str = "portcullis_function_worker_starts_total";

/// Largest response or error document a worker may post (Lambda's synchronous limit).
pub const MAX_RESPONSE: usize = 6 * 1024 * 1024;
/// Largest event an invocation may carry (Lambda's synchronous request limit).
pub const MAX_REQUEST: usize = 6 * 1024 * 1024;
/// Time a cold worker has to start before it polls for work (Lambda's init phase limit).
const INIT_TIME: Duration = Duration::from_secs(10);
/// Longest line of worker output logged as one line.
const MAX_LOG_LINE: usize = 16 * 1024;
const API_PREFIX: &str = "/2018-06-01/runtime/";
/// Variables passed from the gateway's environment so interpreters can be found.
const PASS_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "TMPDIR",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "VIRTUAL_ENV",
    "NODE_PATH",
];

/// Why an invocation produced no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// The handler reported an error (`errorType`, `errorMessage`).
    Function {
        /// `errorType`.
        error_type: String,
        /// `errorMessage`.
        message: String,
    },
    /// No result: timeout, crash, full queue, transport failure.
    Failed(String),
}

/// A result document, or why there is none.
pub type InvokeResult = Result<Bytes, InvokeError>;

struct Job {
    event: Bytes,
    /// The gateway's request id, used as the invocation's request id (so the function's
    /// log lines and the access log name the same request).
    id: String,
    reply: oneshot::Sender<InvokeResult>,
    enqueued: Instant,
}

/// The invocation a worker holds.
struct Holding {
    id: String,
    reply: oneshot::Sender<InvokeResult>,
    /// The timeout's task, stopped when the invocation ends first.
    timer: Option<tokio::task::AbortHandle>,
}

struct Slot {
    index: usize,
    addr: SocketAddr,
    holding: Mutex<Option<Holding>>,
    /// The running process's id (0 while none runs).
    pid: AtomicU32,
    /// The last invocation's id: output written after the answer still names it.
    last_id: Mutex<String>,
    /// Whether the running process has polled for work (else an exit is an init failure).
    polled: std::sync::atomic::AtomicBool,
    /// Kills the slot's current process (timeout).
    kill: watch::Sender<u64>,
}

struct Inner {
    cfg: FunctionConfig,
    arn: String,
    region: String,
    queue: tokio::sync::Mutex<mpsc::Receiver<Job>>,
    slots: Mutex<Vec<Arc<Slot>>>,
    idle: AtomicUsize,
    stop: watch::Sender<bool>,
    /// Invocations that took a worker, for tests and metrics.
    invocations: AtomicUsize,
    /// Worker processes started (first starts and restarts).
    starts: AtomicUsize,
    /// The last init error, until a worker starts polling: while it is set and no worker is
    /// ready, invocations fail at once with it.
    init_error: Mutex<Option<(String, String)>>,
}

/// One local function: its workers and their queue. Dropping it stops the workers.
pub struct FunctionPool {
    inner: Arc<Inner>,
    sender: mpsc::Sender<Job>,
}

impl std::fmt::Debug for FunctionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionPool")
            .field("function", &self.inner.cfg.name)
            .finish_non_exhaustive()
    }
}

impl Drop for FunctionPool {
    fn drop(&mut self) {
        let _ = self.inner.stop.send(true);
    }
}

impl FunctionPool {
    /// Starts the function's warm workers. Must run inside a Tokio runtime.
    pub fn start(
        cfg: FunctionConfig,
        partition: &str,
        region: &str,
        account: &str,
    ) -> Result<Self, String> {
        let capacity = usize::try_from(cfg.queue).unwrap_or(usize::MAX).max(1);
        let (sender, receiver) = mpsc::channel(capacity);
        let (stop, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            arn: format!(
                "arn:{partition}:lambda:{region}:{account}:function:{}",
                cfg.name
            ),
            region: region.to_owned(),
            cfg,
            queue: tokio::sync::Mutex::new(receiver),
            slots: Mutex::new(Vec::new()),
            idle: AtomicUsize::new(0),
            stop,
            invocations: AtomicUsize::new(0),
            starts: AtomicUsize::new(0),
            init_error: Mutex::new(None),
        });
        for _ in 0..inner.cfg.min_workers {
            add_slot(&inner)?;
        }
        Ok(Self { inner, sender })
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.inner.cfg.name
    }

    /// Invocations handed to a worker so far.
    pub fn invocations(&self) -> usize {
        self.inner.invocations.load(Ordering::Relaxed)
    }

    /// Worker processes started so far (restarts included).
    pub fn starts(&self) -> usize {
        self.inner.starts.load(Ordering::Relaxed)
    }

    /// Workers waiting for an invocation now.
    pub fn ready_workers(&self) -> usize {
        self.inner.idle.load(Ordering::Acquire)
    }

    /// Whether the function can take an invocation now, for readiness: the number of running
    /// workers that have asked for work (idle or busy), or why there is none (the last start
    /// failure, or that the first start is under way). A function with `min_workers: 0` and
    /// no start failure is ready with none: it starts a worker on demand.
    pub fn readiness(&self) -> Result<usize, String> {
        let live = self.inner.slots.lock().map_or(0, |slots| {
            slots
                .iter()
                .filter(|w| w.pid.load(Ordering::Relaxed) != 0 && w.polled.load(Ordering::Relaxed))
                .count()
        });
        if live > 0 {
            return Ok(live);
        }
        if let Some((error_type, message)) =
            self.inner.init_error.lock().ok().and_then(|e| e.clone())
        {
            return Err(format!("no worker running: {error_type}: {message}"));
        }
        if self.inner.cfg.min_workers == 0 {
            return Ok(0);
        }
        Err("no worker has asked for work yet (starting)".to_owned())
    }

    /// Process ids of the running workers.
    pub fn pids(&self) -> Vec<u32> {
        self.inner.slots.lock().map_or_else(
            |_| Vec::new(),
            |s| {
                s.iter()
                    .map(|w| w.pid.load(Ordering::Relaxed))
                    .filter(|p| *p != 0)
                    .collect()
            },
        )
    }

    /// Worker slots (running or restarting).
    pub fn workers(&self) -> usize {
        self.inner.slots.lock().map_or(0, |s| s.len())
    }

    /// Invokes the function with `event` and waits for its result: at most the function's
    /// timeout once a worker has it, and as long again waiting for a worker.
    pub async fn invoke(&self, event: Bytes, request_id: &str) -> InvokeResult {
        if self.inner.idle.load(Ordering::Acquire) == 0
            && let Some((error_type, message)) =
                self.inner.init_error.lock().ok().and_then(|e| e.clone())
        {
            return Err(InvokeError::Function {
                error_type,
                message,
            });
        }
        let (reply, rx) = oneshot::channel();
        let job = Job {
            event,
            id: request_id.to_owned(),
            reply,
            enqueued: Instant::now(),
        };
        if let Err(e) = self.sender.try_send(job) {
            return Err(InvokeError::Failed(match e {
                mpsc::error::TrySendError::Full(_) => format!(
                    "function {}: {} invocations already waiting",
                    self.inner.cfg.name, self.inner.cfg.queue
                ),
                mpsc::error::TrySendError::Closed(_) => {
                    format!("function {} is stopped", self.inner.cfg.name)
                }
            }));
        }
        if self.inner.idle.load(Ordering::Acquire) == 0 {
            let grow = self
                .inner
                .slots
                .lock()
                .map(|s| s.len() < self.inner.cfg.max_workers as usize)
                .unwrap_or(false);
            if grow && let Err(e) = add_slot(&self.inner) {
                tracing::error!(function = %self.inner.cfg.name, error = %e, "cannot start another worker");
            }
        }
        // The worker side enforces the function timeout (and kills the worker); this bound
        // covers the wait for a worker and a worker that never answers at all.
        let bound = queue_wait(&self.inner.cfg) + self.inner.cfg.timeout + Duration::from_secs(1);
        match tokio::time::timeout(bound, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(InvokeError::Failed(format!(
                "function {}: the invocation was lost",
                self.inner.cfg.name
            ))),
            Err(_) => Err(InvokeError::Failed(format!(
                "function {}: no worker answered within {:?}",
                self.inner.cfg.name, bound
            ))),
        }
    }
}

/// How long an invocation may wait for a worker: the function's timeout, plus Lambda's
/// ten seconds for a cold start (init phase).
fn queue_wait(cfg: &FunctionConfig) -> Duration {
    cfg.timeout + INIT_TIME
}

fn add_slot(inner: &Arc<Inner>) -> Result<(), String> {
    let mut slots = inner
        .slots
        .lock()
        .map_err(|_| "worker table poisoned".to_owned())?;
    if slots.len() >= inner.cfg.max_workers as usize {
        return Ok(());
    }
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| format!("cannot bind a Runtime API port: {e}"))?;
    std_listener
        .set_nonblocking(true)
        .map_err(|e| e.to_string())?;
    let addr = std_listener.local_addr().map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::from_std(std_listener).map_err(|e| e.to_string())?;
    let (kill, _) = watch::channel(0u64);
    let slot = Arc::new(Slot {
        index: slots.len(),
        addr,
        holding: Mutex::new(None),
        pid: AtomicU32::new(0),
        last_id: Mutex::new(String::new()),
        polled: std::sync::atomic::AtomicBool::new(false),
        kill,
    });
    slots.push(slot.clone());
    drop(slots);
    tokio::spawn(serve_api(inner.clone(), slot.clone(), listener));
    tokio::spawn(supervise(inner.clone(), slot));
    Ok(())
}

/// Fails the slot's current invocation, if any.
fn fail_holding(slot: &Slot, why: impl FnOnce(&str) -> String) {
    let held = slot.holding.lock().ok().and_then(|mut h| h.take());
    if let Some(h) = held {
        let why = why(&h.id);
        h.answer(Err(InvokeError::Failed(why)));
    }
}

async fn supervise(inner: Arc<Inner>, slot: Arc<Slot>) {
    let mut stop = inner.stop.subscribe();
    let mut kill = slot.kill.subscribe();
    let mut backoff = Duration::from_millis(100);
    let name = inner.cfg.name.clone();
    loop {
        if *stop.borrow() {
            break;
        }
        let started = Instant::now();
        let mut child = match spawn_worker(&inner, &slot) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(function = %name, worker = slot.index, error = %e, "cannot start worker");
                if wait_or_stop(&mut stop, backoff).await {
                    break;
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        slot.polled.store(false, Ordering::Relaxed);
        inner.starts.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(FUNCTION_STARTS, "function" => name.clone()).increment(1);
        let pid = child.id().unwrap_or(0);
        slot.pid.store(pid, Ordering::Relaxed);
        tracing::info!(function = %name, worker = slot.index, pid = child.id().unwrap_or(0), runtime_api = %slot.addr, "worker started");
        // The group is killed before the worker is reaped, never after: until `wait` reaps
        // it, the exited worker is a zombie that keeps its pid, so the group id cannot have
        // been given to an unrelated process. (A pidfd does not help here: it signals one
        // process, and signalling a group through one needs Linux 6.9.)
        let status = tokio::select! {
            () = exited(pid) => {
                // Whatever the worker started (npx's node, a bootstrap's child) goes with
                // it: a leftover process would keep polling this slot's port.
                kill_group(pid);
                child.wait().await.map_err(|e| e.to_string())
            }
            _ = stop.changed() => {
                kill_group(pid);
                let _ = child.kill().await;
                slot.pid.store(0, Ordering::Relaxed);
                fail_holding(&slot, |id| format!("function {name} stopped during invocation {id}"));
                break;
            }
            _ = kill.changed() => {
                kill_group(pid);
                let _ = child.kill().await;
                Err("killed after its invocation timed out".to_owned())
            }
        };
        slot.pid.store(0, Ordering::Relaxed);
        let how = match &status {
            Ok(s) => s.to_string(),
            Err(e) => e.clone(),
        };
        fail_holding(&slot, |id| {
            format!("worker of {name} exited ({how}) during invocation {id}")
        });
        // A worker that never asked for work failed to start (a missing runtime interface
        // client, a crash at import): invocations fail at once until one polls.
        if !slot.polled.load(Ordering::Relaxed)
            && inner.init_error.lock().is_ok_and(|e| e.is_none())
        {
            tracing::error!(function = %name, worker = slot.index, status = %how, "worker exited before asking for work");
            init_failed(
                &inner,
                "Runtime.ExitError".to_owned(),
                format!("the worker exited before asking for work ({how})"),
            );
        }
        if *stop.borrow() {
            break;
        }
        tracing::warn!(function = %name, worker = slot.index, status = %how, "worker exited; restarting");
        // A worker that had started (it polled) is replaced at once: a timeout or a crash
        // during one invocation must not keep the slot down. Backoff is for workers that
        // cannot start.
        if slot.polled.load(Ordering::Relaxed) || started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_millis(100);
            continue;
        }
        if wait_or_stop(&mut stop, backoff).await {
            break;
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
}

/// Resolves once the child `pid` has exited, without reaping it: until its parent waits for
/// it, an exited process keeps its id (and its process group's id) from being reused.
async fn exited(pid: u32) {
    use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions, pidfd_open, waitid};
    let Some(id) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    // A pidfd becomes readable when the process exits (Linux 5.3 and later).
    #[allow(
        deprecated,
        reason = "the deprecation is about registering a descriptor that may close while registered; this AsyncFd owns its OwnedFd, and the replacement is an unsafe fn, which the workspace forbids"
    )]
    let fd = pidfd_open(id, PidfdFlags::empty()).ok().and_then(|fd| {
        tokio::io::unix::AsyncFd::with_interest(fd, tokio::io::Interest::READABLE).ok()
    });
    if let Some(fd) = fd {
        let _ = fd.readable().await;
        return;
    }
    // Otherwise waitid(WNOWAIT) on a blocking thread: it reports the exit and leaves the
    // zombie to be reaped.
    let _ = tokio::task::spawn_blocking(move || {
        loop {
            match waitid(
                WaitId::Pid(id),
                WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
            ) {
                Err(rustix::io::Errno::INTR) => continue,
                _ => return,
            }
        }
    })
    .await;
}

/// Kills the process group a worker leads (it was started in a group of its own). Called
/// only while the leader is unreaped, so that the group id is still ours.
fn kill_group(pid: u32) {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
}

/// Sleeps for `d`; true if the pool stopped meanwhile.
async fn wait_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

fn spawn_worker(inner: &Arc<Inner>, slot: &Arc<Slot>) -> Result<tokio::process::Child, String> {
    let cfg = &inner.cfg;
    let (program, args) = cfg
        .command
        .split_first()
        .ok_or_else(|| "empty command".to_owned())?;
    let program_path = if program.contains('/') && !program.starts_with('/') {
        cfg.code.join(program)
    } else {
        std::path::PathBuf::from(program)
    };
    let mut cmd = tokio::process::Command::new(program_path);
    cmd.args(args)
        .current_dir(&cfg.code)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for key in PASS_ENV {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    let execution_env = match cfg.runtime {
        FunctionRuntime::Python => "AWS_Lambda_python3",
        FunctionRuntime::Node => "AWS_Lambda_nodejs",
        FunctionRuntime::Provided => "AWS_Lambda_provided",
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = portcullis_core::civil_date(now);
    let stream = format!("{y:04}/{m:02}/{d:02}/[$LATEST]{:032x}", fastrand::u128(..));
    cmd.env("LANG", "en_US.UTF-8")
        .env("TZ", ":UTC")
        .env("AWS_LAMBDA_RUNTIME_API", slot.addr.to_string())
        .env("_HANDLER", &cfg.handler)
        .env("LAMBDA_TASK_ROOT", &cfg.code)
        .env("LAMBDA_RUNTIME_DIR", &cfg.code)
        .env("AWS_LAMBDA_FUNCTION_NAME", &cfg.name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", cfg.memory.to_string())
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", cfg.name),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", stream)
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env("AWS_REGION", &inner.region)
        .env("AWS_DEFAULT_REGION", &inner.region)
        .env("AWS_EXECUTION_ENV", execution_env);
    for (k, v) in &cfg.environment {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("{}: {e}", cfg.command.join(" ")))?;
    if let Some(out) = child.stdout.take() {
        tokio::spawn(log_lines(inner.clone(), slot.clone(), out, "stdout"));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(log_lines(inner.clone(), slot.clone(), err, "stderr"));
    }
    Ok(child)
}

/// Copies a worker's output to the gateway log, a line at a time, tagged with the function
/// and the invocation the worker holds.
async fn log_lines(
    inner: Arc<Inner>,
    slot: Arc<Slot>,
    out: impl AsyncRead + Unpin,
    stream: &'static str,
) {
    let mut reader = BufReader::new(out);
    let mut line = Vec::new();
    loop {
        line.clear();
        let mut limited = (&mut reader).take(MAX_LOG_LINE as u64);
        match limited.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        let text = log_text(&line);
        let request_id = slot.last_id.lock().map(|l| l.clone()).unwrap_or_default();
        tracing::info!(
            target: "portcullis::function",
            function = %inner.cfg.name,
            worker = slot.index,
            stream,
            request_id = %request_id,
            "{text}"
        );
    }
}

/// A line of worker output as it is logged: invalid UTF-8 replaced, and every control
/// character escaped (`\r`, `\x00`, `\x1b`, `\u{85}`, ...), so that a function cannot
/// forge log lines, rewrite the terminal or cut a log record short.
fn log_text(line: &[u8]) -> String {
    escape_controls(&String::from_utf8_lossy(line))
}

/// `text` with every control character escaped, for a log line: what a function or an
/// authorizer says (its output, an `errorMessage`, a refused answer's key) is logged
/// through this.
pub fn escape_controls(text: &str) -> String {
    use std::fmt::Write as _;
    if !text.chars().any(needs_escape) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            // C1 controls, and the Unicode line and paragraph separators.
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

async fn serve_api(inner: Arc<Inner>, slot: Arc<Slot>, listener: tokio::net::TcpListener) {
    let mut stop = inner.stop.subscribe();
    let mut last_refusal: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => break,
        };
        let Ok((stream, peer)) = accepted else {
            // Out of descriptors, say: do not spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        // Events carry callers' credentials: only processes of the gateway's own user may
        // poll for them or answer (another local user is refused).
        let own = stream
            .local_addr()
            .ok()
            .and_then(|local| peer_uid(peer, local))
            .is_some_and(|uid| Some(uid) == own_uid());
        if !peer.ip().is_loopback() || !own {
            // At most one line a second, whatever the number of attempts.
            let now = Instant::now();
            if last_refusal.is_none_or(|t: Instant| now.duration_since(t) >= Duration::from_secs(1))
            {
                last_refusal = Some(now);
                tracing::warn!(function = %inner.cfg.name, peer = %peer, "Runtime API connection refused: not from the gateway's user");
            }
            continue;
        }
        let _ = stream.set_nodelay(true);
        let inner = inner.clone();
        let slot = slot.clone();
        let mut stop = inner.stop.subscribe();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let inner = inner.clone();
                let slot = slot.clone();
                async move { Ok::<_, Infallible>(api(&inner, &slot, req).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = stop.changed() => {}
            }
        });
    }
}

/// The user id of this process (read once).
fn own_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt as _;
    static UID: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    *UID.get_or_init(|| std::fs::metadata("/proc/self").ok().map(|m| m.uid()))
}

/// The owner of the loopback TCP socket at `peer` connected to `local`, asked of the kernel
/// by sock_diag netlink (one exact lookup, constant time; `/proc/net/tcp` walks the whole
/// connection table and takes milliseconds on a large machine).
fn peer_uid(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 1;
    const AF_INET: u8 = 2;
    const IPPROTO_TCP: u8 = 6;
    let (SocketAddr::V4(peer), SocketAddr::V4(local)) = (peer, local) else {
        return None;
    };
    // nlmsghdr (16 bytes) + inet_diag_req_v2 (56 bytes).
    let mut req = Vec::with_capacity(72);
    req.extend_from_slice(&72u32.to_ne_bytes());
    req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    req.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
    req.extend_from_slice(&[AF_INET, IPPROTO_TCP, 0, 0]);
    req.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    // inet_diag_sockid: the client's socket, seen from its side.
    req.extend_from_slice(&peer.port().to_be_bytes());
    req.extend_from_slice(&local.port().to_be_bytes());
    req.extend_from_slice(&peer.ip().octets());
    req.extend_from_slice(&[0u8; 12]);
    req.extend_from_slice(&local.ip().octets());
    req.extend_from_slice(&[0u8; 12]);
    req.extend_from_slice(&0u32.to_ne_bytes()); // interface
    req.extend_from_slice(&u32::MAX.to_ne_bytes()); // no cookie
    req.extend_from_slice(&u32::MAX.to_ne_bytes());
    let socket = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_SOCK_DIAG).ok()?;
    socket.send(&req, 0).ok()?;
    let mut answer = bytes::BytesMut::with_capacity(1024);
    socket.recv(&mut answer, 0).ok()?;
    let u16_at = |at: usize| {
        answer
            .get(at..at + 2)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_ne_bytes)
    };
    if u16_at(4)? != SOCK_DIAG_BY_FAMILY {
        // NLMSG_ERROR: no such socket.
        return None;
    }
    let u32_at = |at: usize| {
        answer
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_ne_bytes)
    };
    // inet_diag_msg after the header: family, state, timer, retrans (4), sockid (48),
    // expires, rqueue, wqueue (12), uid, inode. A socket in TIME_WAIT (its owner closed
    // it) is reported with uid 0 and no inode: it proves nothing, least of all root.
    const TCP_TIME_WAIT: u8 = 6;
    let state = *answer.get(17)?;
    let same_socket = answer.get(20..22) == Some(&peer.port().to_be_bytes()[..])
        && answer.get(22..24) == Some(&local.port().to_be_bytes()[..]);
    let inode = u32_at(84)?;
    if state == TCP_TIME_WAIT || inode == 0 || !same_socket {
        return None;
    }
    u32_at(80)
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn api_error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    reply(
        status,
        serde_json::json!({"errorMessage": message, "errorType": error_type}).to_string(),
    )
}

fn accepted() -> Response<Full<Bytes>> {
    reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.to_owned())
}

/// Counts a worker as waiting for as long as it waits.
struct IdleGuard<'a>(&'a AtomicUsize);

impl<'a> IdleGuard<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::AcqRel);
        Self(n)
    }
}

impl Drop for IdleGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn api(
    inner: &Arc<Inner>,
    slot: &Arc<Slot>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(API_PREFIX) else {
        return api_error(StatusCode::NOT_FOUND, "NotFound", "unknown path");
    };
    match (req.method(), rest) {
        (&Method::GET, "invocation/next") => next(inner, slot).await,
        (&Method::POST, "init/error") => {
            let body = read_body(req).await;
            let (error_type, message) = error_doc(body.as_deref().unwrap_or(b""));
            tracing::error!(function = %inner.cfg.name, worker = slot.index, error_type = %escape_controls(&error_type), error = %escape_controls(&message), "function failed to initialise");
            init_failed(inner, error_type, message);
            accepted()
        }
        (&Method::POST, r) => {
            let Some((id, what)) = r
                .strip_prefix("invocation/")
                .and_then(|x| x.rsplit_once('/'))
            else {
                return api_error(StatusCode::NOT_FOUND, "NotFound", "unknown path");
            };
            if what != "response" && what != "error" {
                return api_error(StatusCode::NOT_FOUND, "NotFound", "unknown path");
            }
            let id = id.to_owned();
            let header_type = req
                .headers()
                .get("lambda-runtime-function-error-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = match read_body(req).await {
                Ok(b) => b,
                Err(too_large) => {
                    let held = take_holding(slot, &id);
                    if let Some(h) = held {
                        h.answer(Err(InvokeError::Failed(format!(
                            "function {}: {too_large}",
                            inner.cfg.name
                        ))));
                    }
                    return api_error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "RequestEntityTooLarge",
                        &too_large,
                    );
                }
            };
            let Some(held) = take_holding(slot, &id) else {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestID",
                    "no invocation with this id is in progress",
                );
            };
            let result = if what == "response" {
                Ok(body)
            } else {
                let (doc_type, message) = error_doc(&body);
                Err(InvokeError::Function {
                    error_type: if doc_type.is_empty() {
                        header_type.unwrap_or_default()
                    } else {
                        doc_type
                    },
                    message,
                })
            };
            held.answer(result);
            accepted()
        }
        _ => api_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "method not allowed",
        ),
    }
}

/// Records an init failure. As on Lambda, the invocations waiting for this cold start get
/// the error instead of waiting for a worker that will not come (if another worker holds
/// the queue, it is ready and takes them); new ones get it at once until a worker polls.
fn init_failed(inner: &Inner, error_type: String, message: String) {
    // A running worker that has polled serves the queue: one failed start does not fail
    // everything.
    let healthy = inner.slots.lock().is_ok_and(|slots| {
        slots
            .iter()
            .any(|w| w.pid.load(Ordering::Relaxed) != 0 && w.polled.load(Ordering::Relaxed))
    });
    if healthy {
        return;
    }
    if let Ok(mut queue) = inner.queue.try_lock() {
        while let Ok(job) = queue.try_recv() {
            let _ = job.reply.send(Err(InvokeError::Function {
                error_type: error_type.clone(),
                message: message.clone(),
            }));
        }
    }
    if let Ok(mut e) = inner.init_error.lock() {
        *e = Some((error_type, message));
    }
}

fn take_holding(slot: &Slot, id: &str) -> Option<Holding> {
    let mut h = slot.holding.lock().ok()?;
    if h.as_ref().is_some_and(|x| x.id == id) {
        h.take()
    } else {
        None
    }
}

impl Holding {
    /// Ends the invocation with `result` (and its timeout).
    fn answer(mut self, result: InvokeResult) {
        if let Some(t) = self.timer.take() {
            t.abort();
        }
        let _ = self.reply.send(result);
    }
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, String> {
    match Limited::new(req.into_body(), MAX_RESPONSE).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(_) => Err(format!(
            "the document is larger than {MAX_RESPONSE} bytes or was cut short"
        )),
    }
}

/// `errorType` and `errorMessage` of an error document (empty when absent, at most 1024
/// characters each).
pub fn error_doc(body: &[u8]) -> (String, String) {
    let doc: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let text = |k: &str| {
        doc.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .chars()
            .take(1024)
            .collect::<String>()
    };
    (text("errorType"), text("errorMessage"))
}

async fn next(inner: &Arc<Inner>, slot: &Arc<Slot>) -> Response<Full<Bytes>> {
    // Asking for the next invocation ends the current one; an unanswered one fails.
    fail_holding(slot, |id| {
        format!(
            "function {} asked for the next invocation without answering {id}",
            inner.cfg.name
        )
    });
    slot.polled.store(true, Ordering::Relaxed);
    if let Ok(mut e) = inner.init_error.lock() {
        *e = None;
    }
    let mut stop = inner.stop.subscribe();
    let job = loop {
        let job = {
            let _idle = IdleGuard::new(&inner.idle);
            let mut queue = inner.queue.lock().await;
            tokio::select! {
                j = queue.recv() => j,
                _ = stop.changed() => None,
            }
        };
        let Some(job) = job else {
            return api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                "the function is stopping",
            );
        };
        // A caller that gave up (its request ended) no longer waits for this one.
        if job.reply.is_closed() {
            continue;
        }
        if job.enqueued.elapsed() > queue_wait(&inner.cfg) {
            let _ = job.reply.send(Err(InvokeError::Failed(format!(
                "function {}: no worker was free within {:?}",
                inner.cfg.name,
                queue_wait(&inner.cfg)
            ))));
            continue;
        }
        break job;
    };
    inner.invocations.fetch_add(1, Ordering::Relaxed);
    let id = if job.id.is_empty() {
        portcullis_core::new_request_id().to_string()
    } else {
        job.id
    };
    if let Ok(mut last) = slot.last_id.lock() {
        last.clone_from(&id);
    }
    let timeout = inner.cfg.timeout;
    let deadline_ms = SystemTime::now()
        .checked_add(timeout)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis());
    let trace = format!(
        "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0;Lineage=1:{:08x}:0",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        fastrand::u128(..) >> 32,
        fastrand::u64(..),
        fastrand::u32(..)
    );
    if let Ok(mut h) = slot.holding.lock() {
        *h = Some(Holding {
            id: id.clone(),
            reply: job.reply,
            timer: None,
        });
    }
    // The function's timeout: the worker holding the invocation is killed and replaced.
    // Registered after the invocation, so that even a 1 ms timeout finds it.
    let timer = {
        let slot = slot.clone();
        let id = id.clone();
        let name = inner.cfg.name.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            let timed_out = take_holding(&slot, &id);
            if let Some(mut h) = timed_out {
                // This task is the timer: nothing to stop.
                h.timer = None;
                tracing::warn!(function = %name, worker = slot.index, request_id = %id, "invocation timed out after {:?}; killing the worker", timeout);
                h.answer(Err(InvokeError::Failed(format!(
                    "function {name}: invocation {id} timed out after {timeout:?}"
                ))));
                slot.kill.send_modify(|n| *n += 1);
            }
        })
        .abort_handle()
    };
    match slot.holding.lock() {
        Ok(mut h) => match h.as_mut().filter(|h| h.id == id) {
            Some(h) => h.timer = Some(timer),
            // Answered (or timed out) already.
            None => timer.abort(),
        },
        Err(_) => timer.abort(),
    }
    let mut r = Response::new(Full::new(job.event));
    let h = r.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = http::HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set("content-type", "application/json");
    set("lambda-runtime-aws-request-id", &id);
    set("lambda-runtime-deadline-ms", &deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", &inner.arn);
    set("lambda-runtime-trace-id", &trace);
    r
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
    use super::*;

    #[test]
    fn worker_output_is_logged_without_control_characters() {
        let line = b"a\0b\rc\x1b[31md\te\x7f\xc2\x85f\xe2\x80\xa8g\xffh \\ \xc3\xa9";
        let text = log_text(line);
        assert_eq!(
            text,
            "a\\x00b\\rc\\x1b[31md\\te\\x7f\\u{85}f\\u{2028}g\u{fffd}h \\ \u{e9}"
        );
        assert!(!text.chars().any(char::is_control));
    }

    /// `exited` reports the exit while the process is still a zombie: its pid, and with it
    /// the process group id that `kill_group` signals, cannot have been reused.
    #[tokio::test]
    async fn the_exit_is_seen_before_the_worker_is_reaped() {
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", "exit 3"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        tokio::time::timeout(Duration::from_secs(10), exited(pid))
            .await
            .expect("the exit was not seen");
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let state = stat.rsplit(')').next().unwrap().trim_start();
        assert!(state.starts_with('Z'), "not a zombie: {stat}");
        // The group still exists, with the zombie as its only member: signalling it is safe.
        kill_group(pid);
        assert_eq!(child.wait().await.unwrap().code(), Some(3));
    }
}
