//! JSON access log: one line per request, written off the request path.
//!
//! Lines are formatted on the request's task and handed to a writer task through a bounded
//! channel; when the writer falls behind, lines are dropped and counted rather than slowing
//! requests. Redaction is structural: the record has no field for headers, cookies or the
//! query string, so `Authorization`, tokens and secrets in query parameters cannot reach it.

use portcullis_core::civil_date;
use std::io::Write as _;
use std::net::IpAddr;

use portcullis_config::{AccessLogConfig, LogTarget};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::telemetry;

/// One access-log record. Everything here is safe to log.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessRecord<'a> {
    /// RFC 3339 UTC time the request arrived.
    pub time: String,
    /// `x-amzn-RequestId`.
    pub request_id: &'a str,
    /// Client address.
    pub source_ip: IpAddr,
    /// Method.
    pub method: &'a str,
    /// Path without the query string.
    pub path: &'a str,
    /// Matched resource template, if routed.
    pub route: Option<&'a str>,
    /// Status sent.
    pub status: u16,
    /// HTTP version.
    pub protocol: &'a str,
    /// Milliseconds from request head to last response byte.
    pub latency_ms: f64,
    /// Request body bytes received.
    pub bytes_in: u64,
    /// Response body bytes sent.
    pub bytes_out: u64,
    /// `User-Agent`, truncated to 256 bytes.
    pub user_agent: Option<&'a str>,
    /// False when the response body was cut short.
    pub complete: bool,
    /// The web ACL's verdict, when a rule matched or it blocked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waf: Option<&'a crate::firewall::WafRecord>,
    /// The id of the API key the request was metered by (never its value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<&'a str>,
}

/// Sends formatted lines to the writer task.
#[derive(Debug, Clone)]
pub struct AccessLog {
    tx: Option<mpsc::Sender<String>>,
}

impl AccessLog {
    /// A log that writes nothing.
    pub fn disabled() -> Self {
        Self { tx: None }
    }

    /// Starts the writer task for `config`.
    pub fn start(config: &AccessLogConfig) -> std::io::Result<Self> {
        if !config.enabled {
            return Ok(Self::disabled());
        }
        let mut out: Box<dyn std::io::Write + Send> = match &config.target {
            LogTarget::Stdout => Box::new(std::io::stdout()),
            LogTarget::Stderr => Box::new(std::io::stderr()),
            LogTarget::File(p) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
        };
        let (tx, mut rx) = mpsc::channel::<String>(16_384);
        tokio::task::spawn_blocking(move || {
            let mut buf = Vec::with_capacity(64 * 1024);
            while let Some(line) = rx.blocking_recv() {
                buf.extend_from_slice(line.as_bytes());
                buf.push(b'\n');
                let mut lines = 1u64;
                while let Ok(more) = rx.try_recv() {
                    buf.extend_from_slice(more.as_bytes());
                    buf.push(b'\n');
                    lines += 1;
                    if buf.len() > 60 * 1024 {
                        break;
                    }
                }
                if out.write_all(&buf).and_then(|()| out.flush()).is_err() {
                    metrics::counter!(telemetry::ACCESS_LOG_DROPPED).increment(lines);
                }
                buf.clear();
            }
        });
        Ok(Self { tx: Some(tx) })
    }

    /// Whether lines are written at all.
    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues one record.
    pub fn write(&self, record: &AccessRecord<'_>) {
        let Some(tx) = &self.tx else { return };
        match serde_json::to_string(record) {
            Ok(line) => {
                if tx.try_send(line).is_err() {
                    metrics::counter!(telemetry::ACCESS_LOG_DROPPED).increment(1);
                }
            }
            Err(e) => tracing::warn!(error = %e, "access-log record not serialisable"),
        }
    }
}

/// Formats milliseconds since the Unix epoch as RFC 3339 UTC with milliseconds.
pub fn rfc3339(epoch_ms: u64) -> String {
    let secs = epoch_ms / 1000;
    let ms = epoch_ms % 1000;
    let rem = secs % 86_400;
    let (year, month, day) = civil_date(secs);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Formats milliseconds since the Unix epoch as API Gateway's `requestTime`:
/// `09/Apr/2015:12:34:56 +0000`.
pub fn clf_time(epoch_ms: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = epoch_ms / 1000;
    let rem = secs % 86_400;
    let (year, month, day) = civil_date(secs);
    let name = MONTHS
        .get(month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("Jan");
    format!(
        "{day:02}/{name}/{year:04}:{:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(1_795_556_000_000), "2026-11-24T21:33:20.000Z");
    }
}
