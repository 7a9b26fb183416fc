//! Gateway <-> worker overhead of local Lambda functions: `FunctionPool::invoke` called
//! sequentially (one invocation in flight) with a TOKEN event, after a warm-up, against
//!
//! - `raw-http`   the floor: one HTTP/1.1 exchange with the same bytes on a kept-alive
//!   loopback connection (a hyper client task here, a blocking server thread);
//! - `api-thread` the pool's own machinery: a minimal blocking Runtime API client in a thread
//!   of this process answers a fixed policy (its turnaround, event read -> answer written,
//!   is timed). Back-to-back invocations put two exchanges on the critical path (the 202 to
//!   the worker's POST and its next GET, then the event and the POST), so
//!   `api-thread - 2 x raw-http` is what the pool adds;
//! - `rust`       `token-authorizer` (examples/lambda-authorizer/rust, lambda_runtime) as a
//!   `provided` runtime: the whole round trip is gateway <-> worker overhead, and
//!   `rust - api-thread` is the handler side (lambda_runtime and its process);
//! - `python`     examples/lambda-authorizer/token_authorizer.py under awslambdaric.
//!
//! Each under both schedulers `portcullis serve` picks from (multi-thread on 2+ CPUs,
//! current-thread on one). Besides p50/p90/p99 of `invoke()` it prints the CPU time per
//! invocation of this process (the gateway side; helper threads excluded) and of the worker
//! processes, read from `/proc/*/task/*/schedstat` (Linux; blank elsewhere).
//!
//! ```text
//! cargo build --release -p lambda-token-authorizer     # the Rust worker; skipped if missing
//! cargo bench -p portcullis-gateway --bench lambda_invoke
//! LAMBDA_BENCH_ITERS=3000 LAMBDA_BENCH_WARMUP=300      # the defaults
//! LAMBDA_BENCH_TARGETS=rust,python                     # a subset (comma-separated names)
//! LAMBDA_BENCH_RUST_BIN=/path/to/bootstrap             # another `provided` worker for `rust`
//! ```
//!
//! Latency here is mostly wake-ups: an invocation is four messages between two processes
//! (the event, the worker's POST, the 202, the worker's next GET) plus the thread hops inside
//! each runtime. On a VM whose idle vCPUs halt (no guest halt-polling), waking a halted vCPU
//! costs tens of µs, so an idle 2-vCPU machine reports several times what the same run
//! shows under `taskset -c 0` (everything on one vCPU) or on a busy machine: compare both.
#![allow(missing_docs, reason = "bench")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use portcullis_config::{FunctionConfig, FunctionRuntime, Loc};
use portcullis_gateway::lambda::runtime::FunctionPool;

const EVENT: &str = r#"{"type":"TOKEN","authorizationToken":"allow","methodArn":"arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/pets"}"#;
/// What the example handlers answer to `EVENT`.
const POLICY: &str = r#"{"principalId":"user","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"arn:aws:execute-api:us-east-1:123456789012:abc/prod/*/*"}]},"context":{"stringKey":"hello","numberKey":42,"booleanKey":true}}"#;
const P50_GOAL_US: f64 = 200.0;

type Res<T> = Result<T, String>;

fn main() {
    let iters = env_number("LAMBDA_BENCH_ITERS", 3000).max(1);
    let warmup = env_number("LAMBDA_BENCH_WARMUP", 300);
    let only = std::env::var("LAMBDA_BENCH_TARGETS").ok();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);

    let rust_bin = std::env::var_os("LAMBDA_BENCH_RUST_BIN").map_or_else(
        || root.join("target/release/token-authorizer"),
        PathBuf::from,
    );
    let rust = rust_bin.is_file();
    if !rust {
        println!(
            "lambda_invoke: skipping `rust`: {} not found; build it with \
             `cargo build --release -p lambda-token-authorizer`",
            rust_bin.display()
        );
    }
    let python = std::process::Command::new("python3")
        .args(["-c", "import awslambdaric"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !python {
        println!(
            "lambda_invoke: skipping `python`: `python3 -c 'import awslambdaric'` failed; \
             install it with `python3 -m pip install awslambdaric`"
        );
    }

    println!(
        "lambda_invoke: {iters} sequential invocations after {warmup} warm-up, TOKEN event \
         ({} B in, {} B out), {} CPUs",
        EVENT.len(),
        POLICY.len(),
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    );
    println!(
        "{:<11} {:<14} {:>8} {:>8} {:>8} {:>8}  {:>13} {:>13}",
        "target",
        "scheduler",
        "p50 µs",
        "p90 µs",
        "p99 µs",
        "max µs",
        "gw CPU µs/op",
        "wk CPU µs/op"
    );
    let mut rows = Vec::new();
    for flavor in [Flavor::MultiThread, Flavor::CurrentThread] {
        let runtime = match flavor.build() {
            Ok(r) => r,
            Err(e) => {
                println!(
                    "lambda_invoke: cannot build the {} runtime: {e}",
                    flavor.name()
                );
                continue;
            }
        };
        let mut targets = vec![Target::RawHttp, Target::ApiThread];
        if rust {
            targets.push(Target::Rust(rust_bin.clone()));
        }
        if python {
            targets.push(Target::Python(root.join("examples/lambda-authorizer")));
        }
        targets.retain(|t| {
            only.as_ref()
                .is_none_or(|o| o.split(',').any(|n| n == t.name()))
        });
        for target in targets {
            let name = target.name();
            // On a worker thread, as the gateway's request tasks are (block_on would poll it
            // on this thread, outside the pool, adding a thread hop per wake-up).
            let task = runtime.spawn(async move { run(&target, warmup, iters).await });
            let result = runtime
                .block_on(task)
                .unwrap_or_else(|e| Err(format!("the bench task failed: {e}")));
            match result {
                Ok(run) => {
                    run.print(name, flavor.name());
                    rows.push((name, flavor, run));
                }
                Err(e) => println!("{name:<11} {:<14} failed: {e}", flavor.name()),
            }
        }
        // Let the pools' supervisors kill their workers before the runtime goes.
        runtime.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
    }

    println!();
    println!(
        "differences of p50s (meaningful when wake-ups are cheap, e.g. under `taskset -c 0`):"
    );
    for flavor in [Flavor::MultiThread, Flavor::CurrentThread] {
        let p50 = |name: &str| {
            rows.iter()
                .find(|(n, f, _)| *n == name && *f == flavor)
                .map(|(_, _, r)| r.pct(0.50))
        };
        let turnaround = rows
            .iter()
            .find(|(n, f, _)| *n == "api-thread" && *f == flavor)
            .and_then(|(_, _, r)| r.side.as_ref())
            .map(|s| pct(s, 0.50));
        let (Some(raw), Some(api)) = (p50("raw-http"), p50("api-thread")) else {
            continue;
        };
        println!(
            "{}: pool machinery over two loopback HTTP exchanges: {:.1} µs (api-thread {:.1} - \
             2 x raw-http {:.1}); the api-thread worker's own turnaround p50 {:.1} µs",
            flavor.name(),
            api - 2.0 * raw,
            api,
            raw,
            turnaround.unwrap_or(f64::NAN)
        );
        if let Some(rust) = p50("rust") {
            println!(
                "{}: rust handler side (lambda_runtime + its process): {:.1} µs (rust {:.1} - \
                 api-thread {:.1}); gateway<->worker overhead p50 {:.1} µs, goal <= {P50_GOAL_US} µs: {}",
                flavor.name(),
                rust - api,
                rust,
                api,
                rust,
                if rust <= P50_GOAL_US { "PASS" } else { "MISS" }
            );
        }
        if let Some(py) = p50("python") {
            println!(
                "{}: python handler side (awslambdaric + handler): {:.1} µs (python {:.1} - api-thread {:.1})",
                flavor.name(),
                py - api,
                py,
                api
            );
        }
    }
}

fn env_number(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    MultiThread,
    CurrentThread,
}

impl Flavor {
    fn name(self) -> &'static str {
        match self {
            Self::MultiThread => "multi-thread",
            Self::CurrentThread => "current-thread",
        }
    }

    fn build(self) -> std::io::Result<tokio::runtime::Runtime> {
        match self {
            Self::MultiThread => tokio::runtime::Builder::new_multi_thread(),
            Self::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        }
        .enable_all()
        .build()
    }
}

#[derive(Clone)]
enum Target {
    RawHttp,
    ApiThread,
    Rust(PathBuf),
    Python(PathBuf),
}

impl Target {
    fn name(&self) -> &'static str {
        match self {
            Self::RawHttp => "raw-http",
            Self::ApiThread => "api-thread",
            Self::Rust(_) => "rust",
            Self::Python(_) => "python",
        }
    }
}

struct Run {
    /// Latency of each measured operation, sorted.
    lat: Vec<Duration>,
    /// CPU of this process's threads (helpers excluded) over the measured operations.
    gateway_cpu: Option<Duration>,
    /// CPU of the worker processes (or the helper thread) over the measured operations.
    worker_cpu: Option<Duration>,
    /// The helper worker's own turnaround per invocation, sorted.
    side: Option<Vec<Duration>>,
}

impl Run {
    fn pct(&self, p: f64) -> f64 {
        pct(&self.lat, p)
    }

    fn print(&self, name: &str, flavor: &str) {
        let n = self.lat.len() as f64;
        let per_op = |d: Option<Duration>| {
            d.map_or_else(String::new, |d| format!("{:.1}", d.as_secs_f64() * 1e6 / n))
        };
        println!(
            "{name:<11} {flavor:<14} {:>8.1} {:>8.1} {:>8.1} {:>8.1}  {:>13} {:>13}",
            self.pct(0.50),
            self.pct(0.90),
            self.pct(0.99),
            self.pct(1.0),
            per_op(self.gateway_cpu),
            per_op(self.worker_cpu)
        );
    }
}

/// The `p` quantile of sorted durations, in µs (nearest rank).
fn pct(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted
        .get(rank - 1)
        .map_or(f64::NAN, |d| d.as_secs_f64() * 1e6)
}

async fn run(target: &Target, warmup: usize, iters: usize) -> Res<Run> {
    match target {
        Target::RawHttp => raw_http(warmup, iters).await,
        Target::ApiThread => api_thread(warmup, iters).await,
        Target::Rust(bin) => {
            let code = bin.parent().unwrap_or(Path::new("/")).to_path_buf();
            let command = vec![bin.display().to_string()];
            let pool = start(function(
                FunctionRuntime::Provided,
                "bootstrap",
                code,
                command,
            ))?;
            invoke_loop(&pool, warmup, iters, &Helpers::default()).await
        }
        Target::Python(code) => {
            let handler = "token_authorizer.handler";
            let command = ["python3", "-m", "awslambdaric", handler]
                .map(str::to_owned)
                .to_vec();
            let mut f = function(FunctionRuntime::Python, handler, code.clone(), command);
            f.environment
                .push(("PYTHONDONTWRITEBYTECODE".to_owned(), "1".to_owned()));
            let pool = start(f)?;
            invoke_loop(&pool, warmup, iters, &Helpers::default()).await
        }
    }
}

/// One warm worker and no more, so sequential invocations always meet the same process.
fn function(
    runtime: FunctionRuntime,
    handler: &str,
    code: PathBuf,
    command: Vec<String>,
) -> FunctionConfig {
    FunctionConfig {
        name: "bench-authorizer".to_owned(),
        loc: Loc::default(),
        runtime,
        handler: handler.to_owned(),
        code,
        command,
        timeout: Duration::from_secs(3),
        memory: 128,
        min_workers: 1,
        max_workers: 1,
        queue: 64,
        environment: Vec::new(),
    }
}

fn start(cfg: FunctionConfig) -> Res<FunctionPool> {
    FunctionPool::start(cfg, "aws", "us-east-1", "123456789012")
}

/// Threads of this process that play the worker or the server (not the gateway), and what
/// they time themselves.
#[derive(Default, Clone)]
struct Helpers {
    tids: Arc<Mutex<Vec<u32>>>,
    turnarounds: Arc<Mutex<Vec<Duration>>>,
}

impl Helpers {
    fn register(&self) {
        if let (Some(tid), Ok(mut tids)) = (current_tid(), self.tids.lock()) {
            tids.push(tid);
        }
    }

    fn tids(&self) -> Vec<u32> {
        self.tids.lock().map(|t| t.clone()).unwrap_or_default()
    }

    fn helper_cpu(&self) -> Option<Duration> {
        let me = std::process::id();
        self.tids()
            .iter()
            .map(|tid| thread_cpu(me, *tid))
            .sum::<Option<Duration>>()
    }
}

/// CPU accounting around the measured operations.
struct Cpu {
    gateway: Option<Duration>,
    worker: Option<Duration>,
}

impl Cpu {
    fn now(helpers: &Helpers) -> Self {
        let gateway = process_cpu(std::process::id(), &helpers.tids());
        let children = child_pids();
        let worker = if helpers.tids().is_empty() {
            children
                .iter()
                .map(|p| process_cpu(*p, &[]))
                .sum::<Option<Duration>>()
        } else {
            helpers.helper_cpu()
        };
        Self { gateway, worker }
    }

    fn since(self, before: Self) -> (Option<Duration>, Option<Duration>) {
        let d = |a: Option<Duration>, b: Option<Duration>| Some(a?.saturating_sub(b?));
        (
            d(self.gateway, before.gateway),
            d(self.worker, before.worker),
        )
    }
}

async fn invoke_loop(
    pool: &FunctionPool,
    warmup: usize,
    iters: usize,
    helpers: &Helpers,
) -> Res<Run> {
    let event = Bytes::from_static(EVENT.as_bytes());
    // The gateway passes its request id, which becomes the invocation's: one per call.
    let mut n = 0u64;
    let mut request_id = || {
        n += 1;
        format!("00000000-0000-4000-8000-{n:012x}")
    };
    // The first call may wait for the worker's cold start.
    let first = pool
        .invoke(event.clone(), &request_id())
        .await
        .map_err(|e| format!("first invocation: {e:?}"))?;
    if !first.windows(7).any(|w| w == b"\"Allow\"") {
        return Err(format!(
            "unexpected answer: {}",
            String::from_utf8_lossy(&first)
        ));
    }
    for _ in 0..warmup {
        pool.invoke(event.clone(), &request_id())
            .await
            .map_err(|e| format!("warm-up: {e:?}"))?;
    }
    if let Ok(mut t) = helpers.turnarounds.lock() {
        t.clear();
    }
    let mut lat = Vec::with_capacity(iters);
    let before = Cpu::now(helpers);
    for _ in 0..iters {
        let id = request_id();
        let t = Instant::now();
        let r = pool.invoke(event.clone(), &id).await;
        lat.push(t.elapsed());
        r.map_err(|e| format!("invocation: {e:?}"))?;
    }
    let (gateway_cpu, worker_cpu) = Cpu::now(helpers).since(before);
    lat.sort_unstable();
    let side = helpers.turnarounds.lock().ok().map(|t| {
        let mut t = t.clone();
        t.sort_unstable();
        t
    });
    Ok(Run {
        lat,
        gateway_cpu,
        worker_cpu,
        side: side.filter(|s| !s.is_empty()),
    })
}

/// A worker process that does nothing but tell this process its Runtime API address; a
/// thread here then polls that API with a minimal blocking HTTP/1.1 client.
async fn api_thread(warmup: usize, iters: usize) -> Res<Run> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let addr_file = dir.path().join("runtime-api");
    let script = format!(
        "echo \"$AWS_LAMBDA_RUNTIME_API\" > '{}.tmp' && mv '{0}.tmp' '{0}' && exec sleep 100000",
        addr_file.display()
    );
    let command = ["/bin/sh", "-c", &script].map(str::to_owned).to_vec();
    let pool = start(function(
        FunctionRuntime::Provided,
        "bootstrap",
        dir.path().to_path_buf(),
        command,
    ))?;
    let helpers = Helpers::default();
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (helpers, stop) = (helpers.clone(), stop.clone());
        std::thread::spawn(move || {
            helpers.register();
            let r = poll_runtime_api(&addr_file, &stop, &helpers);
            if !stop.load(Ordering::Relaxed)
                && let Err(e) = r
            {
                println!("api-thread worker: {e}");
            }
        })
    };
    let run = invoke_loop(&pool, warmup, iters, &helpers).await;
    stop.store(true, Ordering::Relaxed);
    // Stopping the pool answers the thread's pending `next` with an error: it returns.
    drop(pool);
    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    run
}

fn poll_runtime_api(addr_file: &Path, stop: &AtomicBool, helpers: &Helpers) -> Res<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr = loop {
        if let Ok(a) = std::fs::read_to_string(addr_file)
            && !a.trim().is_empty()
        {
            break a.trim().to_owned();
        }
        if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
            return Err("the worker never wrote its Runtime API address".to_owned());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stream = TcpStream::connect(&addr).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    loop {
        writer
            .write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: api\r\n\r\n")
            .map_err(|e| e.to_string())?;
        let msg = read_message(&mut reader)?.ok_or("the gateway closed the connection")?;
        let started = Instant::now();
        if !msg.start.contains(" 200 ") {
            return Err(format!("next: {}", msg.start));
        }
        let id = msg
            .header("lambda-runtime-aws-request-id")
            .ok_or("next: no request id")?;
        let answer = format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nhost: api\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{POLICY}",
            POLICY.len()
        );
        writer
            .write_all(answer.as_bytes())
            .map_err(|e| e.to_string())?;
        let took = started.elapsed();
        if let Ok(mut t) = helpers.turnarounds.lock() {
            t.push(took);
        }
        let accepted = read_message(&mut reader)?.ok_or("the gateway closed the connection")?;
        if !accepted.start.contains(" 202 ") {
            return Err(format!("response: {}", accepted.start));
        }
    }
}

/// The floor: the same bytes through one HTTP/1.1 exchange on a kept-alive loopback
/// connection, from a hyper client task to a blocking server thread.
async fn raw_http(warmup: usize, iters: usize) -> Res<Run> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let helpers = Helpers::default();
    let server = {
        let helpers = helpers.clone();
        std::thread::spawn(move || {
            helpers.register();
            let _ = serve_fixed(&listener);
        })
    };
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let conn = tokio::spawn(conn);
    let mut exchange = async || -> Res<Duration> {
        let started = Instant::now();
        let req = http::Request::post("/2018-06-01/runtime/invocation/next")
            .header(http::header::HOST, "api")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from_static(EVENT.as_bytes())))
            .map_err(|e| e.to_string())?;
        sender.ready().await.map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        let took = started.elapsed();
        if body.to_bytes().len() != POLICY.len() {
            return Err("short answer".to_owned());
        }
        Ok(took)
    };
    for _ in 0..warmup {
        exchange().await?;
    }
    let mut lat = Vec::with_capacity(iters);
    let before = Cpu::now(&helpers);
    for _ in 0..iters {
        lat.push(exchange().await?);
    }
    let (gateway_cpu, worker_cpu) = Cpu::now(&helpers).since(before);
    drop(sender);
    let _ = conn.await;
    let _ = tokio::task::spawn_blocking(move || server.join()).await;
    lat.sort_unstable();
    Ok(Run {
        lat,
        gateway_cpu,
        worker_cpu,
        side: None,
    })
}

/// Answers every request on the first connection with `POLICY`, until it closes.
fn serve_fixed(listener: &TcpListener) -> Res<()> {
    let (stream, _) = listener.accept().map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{POLICY}",
        POLICY.len()
    );
    while read_message(&mut reader)?.is_some() {
        writer
            .write_all(answer.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// An HTTP/1.1 message's start line and headers (its `content-length` body is read and
/// dropped). `None` at a clean end of stream.
struct Message {
    start: String,
    headers: Vec<(String, String)>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_message(reader: &mut impl BufRead) -> Res<Option<Message>> {
    let mut line = String::new();
    if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
        return Ok(None);
    }
    let start = line.trim_end().to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("cut short in the headers".to_owned());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let msg = Message { start, headers };
    let len: u64 = msg
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    std::io::copy(&mut reader.take(len), &mut std::io::sink()).map_err(|e| e.to_string())?;
    Ok(Some(msg))
}

// ---------------------------------------------------------------- CPU time (Linux /proc)

fn current_tid() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// On-CPU time of one thread: the first field of its `schedstat`, in ns.
fn thread_cpu(pid: u32, tid: u32) -> Option<Duration> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat")).ok()?;
    let ns = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// On-CPU time of a process's threads, except `skip`.
fn process_cpu(pid: u32, skip: &[u32]) -> Option<Duration> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = Duration::ZERO;
    for entry in dir.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        if !skip.contains(&tid) {
            total += thread_cpu(pid, tid).unwrap_or_default();
        }
    }
    Some(total)
}

/// This process's children (the workers).
fn child_pids() -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{me}/task")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("children")).ok())
        .flat_map(|s| {
            s.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}
