//! Metrics (Prometheus text on the admin listener) and names used across the gateway.
//!
//! The recorder is process-wide and installed once; every gateway in the process (tests start
//! several) reports into it.

use std::sync::OnceLock;
use std::time::Duration;

use http::{Method, StatusCode};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests by route, method and status.
pub const REQUESTS: &str = "portcullis_requests_total";
/// Request latency histogram by route and method, in seconds.
pub const DURATION: &str = "portcullis_request_duration_seconds";
/// Upstream errors by route and kind.
pub const UPSTREAM_ERRORS: &str = "portcullis_upstream_errors_total";
/// Successful config reloads.
pub const RELOADS: &str = "portcullis_config_reloads_total";
/// Failed config reloads (the old plan kept serving).
pub const RELOAD_FAILURES: &str = "portcullis_config_reload_failures_total";
/// Open client connections.
pub const OPEN_CONNECTIONS: &str = "portcullis_open_connections";
/// Connections refused at once because `max_connections` were open.
pub const CONNECTIONS_REFUSED: &str = "portcullis_connections_refused_total";
/// Gauge: open HTTP/1 connections parked between requests (they hold no codec buffers).
pub const PARKED_CONNECTIONS: &str = "portcullis_parked_connections";
/// Connections that ended on an HTTP protocol error (a malformed request line or head).
pub const PROTOCOL_ERRORS: &str = "portcullis_protocol_errors_total";
/// Generation of the plan now serving.
pub const PLAN_GENERATION: &str = "portcullis_config_generation";
/// Access-log lines dropped because the writer fell behind.
pub const ACCESS_LOG_DROPPED: &str = "portcullis_access_log_dropped_total";

/// Lambda authorizer results by authorizer and result: `cached`, `invoked` (an answer to
/// judge), `unauthorized` (the function refused: `Unauthorized`, or `isAuthorized` false),
/// `refused` (an identity source missing or not matching; not invoked), `error` (function
/// error, timeout, crash or invalid answer).
pub const AUTHORIZER_RESULTS: &str = "portcullis_authorizer_results_total";
/// Lambda authorizer invocation latency by authorizer, in seconds.
pub const AUTHORIZER_LATENCY: &str = "portcullis_authorizer_invoke_seconds";
/// Worker processes started per local function (first starts and restarts).
pub use portcullis_lambda_host::FUNCTION_STARTS;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once) and returns its handle.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(DURATION.to_owned()), &buckets)
                .ok()?
                .set_buckets_for_metric(Matcher::Full(AUTHORIZER_LATENCY.to_owned()), &buckets)
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => {
                    metrics::describe_counter!(REQUESTS, "Requests by route, method and status.");
                    metrics::describe_histogram!(DURATION, metrics::Unit::Seconds, "Request latency until the last body byte.");
                    metrics::describe_counter!(UPSTREAM_ERRORS, "Integration failures by route and kind.");
                    metrics::describe_counter!(RELOADS, "Successful configuration reloads.");
                    metrics::describe_counter!(RELOAD_FAILURES, "Rejected configuration reloads; the previous plan kept serving.");
                    metrics::describe_gauge!(OPEN_CONNECTIONS, "Open client connections.");
                    metrics::describe_gauge!(PARKED_CONNECTIONS, "Open HTTP/1 connections parked between requests, holding no codec buffers.");
                    metrics::describe_counter!(CONNECTIONS_REFUSED, "Connections refused at once because max_connections were open.");
                    metrics::describe_counter!(PROTOCOL_ERRORS, "Connections that ended on an HTTP protocol error (malformed request line or head).");
                    metrics::describe_gauge!(PLAN_GENERATION, "Generation of the configuration now serving.");
                    metrics::describe_counter!(ACCESS_LOG_DROPPED, "Access-log lines dropped because the writer fell behind.");
                    metrics::describe_counter!(AUTHORIZER_RESULTS, "Lambda authorizer results by authorizer and result (cached, invoked, unauthorized, refused, error).");
                    metrics::describe_histogram!(AUTHORIZER_LATENCY, metrics::Unit::Seconds, "Lambda authorizer invocation latency.");
                    metrics::describe_counter!(FUNCTION_STARTS, "Worker processes started per local function, restarts included.");
                    metrics::counter!(RELOADS).absolute(0);
                    metrics::counter!(RELOAD_FAILURES).absolute(0);
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics will be empty");
                    None
                }
            }
        })
        .clone()
}

/// Runs the recorder's periodic upkeep (histogram maintenance) until the task is dropped.
pub async fn upkeep(handle: PrometheusHandle) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        handle.run_upkeep();
    }
}

/// A `'static` label for a status code.
pub fn status_label(status: StatusCode) -> &'static str {
    static LABELS: OnceLock<Vec<String>> = OnceLock::new();
    let labels = LABELS.get_or_init(|| (0..1000).map(|i| i.to_string()).collect());
    labels
        .get(usize::from(status.as_u16()))
        .map_or("other", String::as_str)
}

/// Metric handles of one route, registered once per plan: a request records into existing
/// handles (a short uncontended lock to find its status counter) instead of building,
/// hashing and allocating label sets.
#[derive(Debug)]
pub struct RouteMetrics {
    route: metrics::SharedString,
    durations: [std::sync::OnceLock<metrics::Histogram>; METHOD_LABELS.len()],
    requests: std::sync::Mutex<Vec<(usize, u16, metrics::Counter)>>,
}

const METHOD_LABELS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "OTHER",
];

impl RouteMetrics {
    /// Handles for `route` (a resource template, or `-` for unrouted requests).
    pub fn new(route: &str) -> Self {
        Self {
            route: metrics::SharedString::from(route.to_owned()),
            durations: Default::default(),
            requests: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Counts one finished request and records its latency.
    pub fn record(&self, method: &Method, status: StatusCode, seconds: f64) {
        let m = method_index(method);
        let method_label = METHOD_LABELS.get(m).copied().unwrap_or("OTHER");
        if let Some(slot) = self.durations.get(m) {
            slot.get_or_init(|| metrics::histogram!(DURATION, "route" => self.route.clone(), "method" => method_label))
                .record(seconds);
        }
        let code = status.as_u16();
        let Ok(mut counters) = self.requests.lock() else {
            return;
        };
        if let Some((_, _, c)) = counters.iter().find(|(mm, s, _)| *mm == m && *s == code) {
            c.increment(1);
            return;
        }
        let c = metrics::counter!(REQUESTS, "route" => self.route.clone(), "method" => method_label, "status" => status_label(status));
        c.increment(1);
        counters.push((m, code, c));
    }
}

fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::PATCH => 3,
        Method::DELETE => 4,
        Method::HEAD => 5,
        Method::OPTIONS => 6,
        _ => 7,
    }
}
