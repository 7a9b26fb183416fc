//! Limits shared by a fleet of gateways through Redis (`limits.store: redis://…` or
//! `redis-cluster://…`).
//!
//! Each limit is one Lua script on the Redis side: API Gateway's token bucket kept as GCRA
//! (one theoretical arrival time per bucket, in Redis's own clock, so the gateways' clocks
//! need not agree) and the quota as a counter per period that expires after the period.
//! Both keys of one limit carry the same hash tag, so they sit in one Redis Cluster slot and
//! one script call sees both.
//!
//! **Leases.** A gateway does not call Redis for every request. It takes tokens in batches
//! and spends them locally until they run out or the lease lapses (`limits.lease`, 100 ms
//! by default). A batch starts at one token and doubles while batches run out before they
//! lapse, up to the smallest of 1,000, an eighth of the burst, the tokens the rate gives in
//! one lease, and a hundredth of the quota. Tokens that lapse unspent are given back (to the
//! bucket and the quota) by the gateway's next call for the limit; those still held when
//! traffic stops are not. A fleet can exceed a bucket in any window by at most the tokens
//! leased just before the window, `rate × lease`. A quota is never exceeded: its counter is
//! raised in Redis before the tokens are spent. A refusal (a wait, a spent quota) is
//! remembered by the lease until it no longer holds, so refused callers do not reach Redis.
//! A closed bucket (rate or burst 0) is refused without asking Redis.
//!
//! **Faults.** Every call, and the wait for another request's call, is bounded by
//! `limits.timeout`. A call that cannot reach Redis (refused, dropped, timed out) opens a
//! breaker: for 250 ms, doubling after each failed retry up to 5 s, no request waits on
//! Redis, and each limit does what its `on_store_failure` says (enforced locally, open, or
//! closed). After the pause one request tries again (a cancelled try lets the next one
//! try); success closes the breaker. An error Redis answers (a script error) fails that
//! request's limits the same way but does not open the breaker. Changes of state are logged
//! once and shown by `portcullis_limits_store_up`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use portcullis_config::{LimitsConfig, LimitsStore};
use portcullis_limits::Keyed;
#[cfg(test)]
use portcullis_limits::{Quota, Throttle};

use super::Limit;

/// Gauge: 1 while the shared limits store answers, 0 while its breaker is open.
pub const STORE_UP: &str = "portcullis_limits_store_up";
/// Calls to the shared store by result (`ok`, `error`, `timeout`).
pub const STORE_CALLS: &str = "portcullis_limits_store_calls_total";
/// Limits decided without the shared store because it was unreachable, by what was done
/// (`local`, `open`, `closed`).
pub const STORE_FALLBACKS: &str = "portcullis_limits_store_fallbacks_total";

/// Leases (one per limit in use) held at most.
const MAX_LEASES: usize = 1_000_000;
/// The largest batch of tokens taken at once.
const MAX_LEASE_TOKENS: u64 = 1_000;
/// First pause after a failure, and the longest.
const BREAKER_MIN: Duration = Duration::from_millis(250);
const BREAKER_MAX: Duration = Duration::from_secs(5);

/// The script: `KEYS[1]` the bucket, `KEYS[2]` the quota counter; `ARGV`: the bucket's
/// interval in µs (negative: no bucket), its burst, the tokens wanted (0: only look), the
/// quota's limit (negative: no quota), the counter's lifetime in seconds, and the tokens of
/// this gateway's last lease that lapsed unspent, given back first (to the bucket, never
/// below now, and to the quota's count). Answers `{granted, wait_ms, quota_spent}`.
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local back = tonumber(ARGV[6])
local grant = want
if want == 0 then grant = 1 end
local tat = now
if interval >= 0 then
  local stored = redis.call('GET', KEYS[1])
  if stored then tat = math.max(tonumber(stored) - back * interval, now) end
  local room = math.floor((now + burst * interval - tat) / interval)
  if room < grant then grant = room end
  if grant < 1 then
    return {0, math.ceil((tat + interval - burst * interval - now) / 1000), 0}
  end
end
if limit >= 0 then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if back > 0 and used > 0 then
    used = math.max(used - back, 0)
    redis.call('SET', KEYS[2], used, 'EX', ttl)
  end
  local avail = limit - used
  if avail < grant then grant = avail end
  if grant < 1 then return {0, 0, 1} end
  if want > 0 then
    redis.call('INCRBY', KEYS[2], grant)
    redis.call('EXPIRE', KEYS[2], ttl)
  end
end
if want == 0 then return {1, 0, 0} end
if interval >= 0 then
  tat = tat + grant * interval
  local px = math.min(math.ceil((tat - now) / 1000) + 1000, 4000000000000)
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', px)
end
return {grant, 0, 0}
";

/// The store could not be asked (unreachable, timed out, breaker open, or it answered
/// with an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable;

/// What the store said about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Within the limit.
    Pass,
    /// The bucket is empty; a token comes back in this many milliseconds.
    Throttled {
        /// Milliseconds until the next token.
        wait_ms: u64,
    },
    /// The quota of this period is spent.
    Exhausted,
    /// Too many limits are leased to hold another: refused, as in this process.
    Untracked,
}

enum Connection {
    /// One server: a connection manager (it reconnects by itself), made on first use
    /// (it needs the runtime).
    One {
        client: redis::Client,
        config: redis::aio::ConnectionManagerConfig,
        manager: std::sync::Mutex<Option<redis::aio::ConnectionManager>>,
    },
    /// A Redis Cluster: one multiplexed connection that follows the slot map, made on
    /// first use and again after an error.
    Cluster {
        client: redis::cluster::ClusterClient,
        conn: tokio::sync::Mutex<Option<redis::cluster_async::ClusterConnection>>,
    },
}

/// Tokens of one limit held by this gateway.
#[derive(Default)]
struct Lease {
    state: std::sync::Mutex<LeaseState>,
    /// Held while the lease is refilled, so that one request asks Redis and the others wait
    /// for its tokens (or its refusal).
    refill: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct LeaseState {
    tokens: u64,
    expires_ns: u64,
    /// The size of the last batch asked for.
    size: u64,
    /// How many the last batch granted.
    granted: u64,
    /// Redis said the bucket is empty until then (process clock): no need to ask before.
    throttled_until_ns: u64,
    /// Redis said this period's quota is spent (a lease is for one period).
    exhausted: bool,
}

impl LeaseState {
    fn take(&mut self, now: u64) -> bool {
        if self.tokens > 0 && now < self.expires_ns {
            self.tokens -= 1;
            true
        } else {
            false
        }
    }

    /// What Redis said last, while it still holds: a wait, or a spent quota.
    fn known_refusal(&self, now: u64) -> Option<Answer> {
        if self.exhausted {
            Some(Answer::Exhausted)
        } else if now < self.throttled_until_ns {
            Some(Answer::Throttled {
                wait_ms: (self.throttled_until_ns - now).div_ceil(1_000_000),
            })
        } else {
            None
        }
    }

    /// The next batch: twice the last when it ran out before it lapsed (the traffic
    /// outpaces it), else what was spent of it (at least one), at most `cap`.
    fn next_size(&self, cap: u64, now: u64) -> u64 {
        let next = if self.size == 0 {
            1
        } else if self.tokens == 0 && now < self.expires_ns {
            self.size.saturating_mul(2)
        } else {
            (self.granted - self.tokens.min(self.granted)).max(1)
        };
        next.clamp(1, cap.max(1))
    }
}

/// The breaker in front of the store.
struct Breaker {
    /// Process-clock nanoseconds until which the store is not asked (0: closed).
    down_until: AtomicU64,
    pause_ms: AtomicU64,
    probing: AtomicBool,
    /// When a store error was last logged (process clock), to log at most one a second.
    logged_ns: AtomicU64,
}

/// Leave to call the store: always while the breaker is closed; while it is open, the one
/// probe. Dropping a probe (its request was cancelled while it waited on Redis) lets
/// another request try.
struct Probe<'a>(Option<&'a AtomicBool>);

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            p.store(false, Ordering::Release);
        }
    }
}

impl Breaker {
    fn new() -> Self {
        Breaker {
            down_until: AtomicU64::new(0),
            pause_ms: AtomicU64::new(duration_ms(BREAKER_MIN)),
            probing: AtomicBool::new(false),
            logged_ns: AtomicU64::new(0),
        }
    }

    fn allow(&self, now: u64) -> Option<Probe<'_>> {
        let until = self.down_until.load(Ordering::Acquire);
        if until == 0 {
            return Some(Probe(None));
        }
        (now >= until
            && self
                .probing
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok())
        .then_some(Probe(Some(&self.probing)))
    }

    fn success(&self, label: &str) {
        if self.down_until.swap(0, Ordering::AcqRel) != 0 {
            tracing::info!(store = label, "limits store reachable again");
            metrics::gauge!(STORE_UP).set(1.0);
        }
        self.pause_ms
            .store(duration_ms(BREAKER_MIN), Ordering::Release);
    }

    /// A call found the store unreachable: the breaker opens for the pause (counted from
    /// now), or, after a failed probe, for twice the last pause. Calls that were in flight
    /// when it opened change nothing.
    fn failure(&self, probe: &Probe<'_>, label: &str, error: &str) {
        let was = self.down_until.load(Ordering::Acquire);
        if was != 0 && probe.0.is_none() {
            return;
        }
        let mut pause = self.pause_ms.load(Ordering::Acquire).max(1);
        if was != 0 {
            pause = pause.saturating_mul(2).min(duration_ms(BREAKER_MAX));
            self.pause_ms.store(pause, Ordering::Release);
        }
        let until = super::now_ns().saturating_add(pause.saturating_mul(1_000_000));
        self.down_until.store(until.max(1), Ordering::Release);
        if was == 0 {
            tracing::warn!(
                store = label,
                error,
                "limits store unreachable; limits follow their on_store_failure until it answers"
            );
            metrics::gauge!(STORE_UP).set(0.0);
        }
    }

    /// Logs a store that answered with an error (at most once a second).
    fn answered_error(&self, label: &str, error: &str) {
        let now = super::now_ns();
        let last = self.logged_ns.load(Ordering::Acquire);
        if (last == 0 || now.saturating_sub(last) >= 1_000_000_000)
            && self
                .logged_ns
                .compare_exchange(last, now.max(1), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            tracing::error!(
                store = label,
                error,
                "limits store answered with an error; the request's limits follow their on_store_failure"
            );
        }
    }

    fn is_open(&self) -> bool {
        self.down_until.load(Ordering::Acquire) != 0
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Whether an error means the store cannot be reached (as opposed to a store that answered
/// with an error, such as a script error, which does not open the breaker).
fn unreachable_error(e: &redis::RedisError) -> bool {
    !matches!(e.kind(), redis::ErrorKind::Server(_))
}

/// The shared store and this gateway's leases of it.
pub struct SharedStore {
    conn: Connection,
    timeout: Duration,
    lease_ns: u64,
    prefix: String,
    leases: Keyed<Arc<Lease>>,
    breaker: Breaker,
    /// The store as logged: host and port only (the URL may hold a password).
    pub label: String,
    /// The settings it was made with (a reload with the same ones keeps it).
    pub settings: LimitsConfig,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("store", &self.label)
            .finish_non_exhaustive()
    }
}

/// `host:port` of a Redis URL, without credentials or database.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

impl SharedStore {
    /// A store for `cfg` (`None` for the local store). Nothing is connected yet: the first
    /// request that needs Redis connects, so a gateway starts while Redis is down.
    pub fn new(cfg: &LimitsConfig) -> Result<Option<Self>, String> {
        let conn = match &cfg.store {
            LimitsStore::Local => return Ok(None),
            LimitsStore::Redis(url) => {
                let client =
                    redis::Client::open(url.as_str()).map_err(|e| format!("limits.store: {e}"))?;
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(cfg.timeout))
                    .set_response_timeout(Some(cfg.timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(BREAKER_MAX);
                Connection::One {
                    client,
                    config,
                    manager: std::sync::Mutex::new(None),
                }
            }
            LimitsStore::RedisCluster(nodes) => {
                let client = redis::cluster::ClusterClient::builder(nodes.clone())
                    .connection_timeout(cfg.timeout)
                    .response_timeout(cfg.timeout)
                    .retries(1)
                    .build()
                    .map_err(|e| format!("limits.store: {e}"))?;
                Connection::Cluster {
                    client,
                    conn: tokio::sync::Mutex::new(None),
                }
            }
        };
        let label = match &cfg.store {
            LimitsStore::Redis(url) => host_of(url),
            LimitsStore::RedisCluster(nodes) => nodes
                .iter()
                .map(|n| host_of(n))
                .collect::<Vec<_>>()
                .join(","),
            LimitsStore::Local => String::new(),
        };
        metrics::gauge!(STORE_UP).set(1.0);
        Ok(Some(SharedStore {
            conn,
            timeout: cfg.timeout,
            lease_ns: u64::try_from(cfg.lease.as_nanos()).unwrap_or(u64::MAX),
            prefix: cfg.key_prefix.clone(),
            leases: Keyed::new(MAX_LEASES),
            breaker: Breaker::new(),
            label,
            settings: cfg.clone(),
        }))
    }

    /// The single server's connection manager, made on first use.
    fn manager(
        client: &redis::Client,
        config: &redis::aio::ConnectionManagerConfig,
        slot: &std::sync::Mutex<Option<redis::aio::ConnectionManager>>,
    ) -> redis::RedisResult<redis::aio::ConnectionManager> {
        let mut slot = lock(slot);
        if let Some(m) = slot.as_ref() {
            return Ok(m.clone());
        }
        let m =
            redis::aio::ConnectionManager::new_lazy_with_config(client.clone(), config.clone())?;
        *slot = Some(m.clone());
        Ok(m)
    }

    /// The cluster connection, made on first use or after an error.
    async fn cluster(
        client: &redis::cluster::ClusterClient,
        slot: &tokio::sync::Mutex<Option<redis::cluster_async::ClusterConnection>>,
    ) -> redis::RedisResult<redis::cluster_async::ClusterConnection> {
        let mut slot = slot.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let c = client.get_async_connection().await?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Sends `cmd` (a script invocation or a command) on the store's connection.
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        match &self.conn {
            Connection::One {
                client,
                config,
                manager,
            } => {
                let mut m = Self::manager(client, config, manager)?;
                cmd.query_async(&mut m).await
            }
            Connection::Cluster { client, conn } => {
                let mut c = Self::cluster(client, conn).await?;
                let r = cmd.query_async(&mut c).await;
                if r.as_ref().is_err_and(unreachable_error) {
                    // Connect afresh next time: the topology may have changed.
                    *conn.lock().await = None;
                }
                r
            }
        }
    }

    /// Runs `cmd` under the breaker and the timeout.
    async fn call<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, Unreachable> {
        let Some(probe) = self.breaker.allow(super::now_ns()) else {
            return Err(Unreachable);
        };
        match tokio::time::timeout(self.timeout, self.query::<T>(cmd)).await {
            Ok(Ok(v)) => {
                metrics::counter!(STORE_CALLS, "result" => "ok").increment(1);
                self.breaker.success(&self.label);
                Ok(v)
            }
            Ok(Err(e)) => {
                metrics::counter!(STORE_CALLS, "result" => "error").increment(1);
                if unreachable_error(&e) {
                    self.breaker.failure(&probe, &self.label, &e.to_string());
                } else {
                    self.breaker.answered_error(&self.label, &e.to_string());
                }
                Err(Unreachable)
            }
            Err(_) => {
                metrics::counter!(STORE_CALLS, "result" => "timeout").increment(1);
                self.breaker
                    .failure(&probe, &self.label, "no answer within limits.timeout");
                Err(Unreachable)
            }
        }
    }

    /// Whether the breaker is open (Redis unreachable).
    pub fn is_down(&self) -> bool {
        self.breaker.is_open()
    }

    /// The Redis keys of `limit`: its bucket and its quota counter of the period that
    /// starts at `period_start`, with one hash tag.
    fn keys(&self, limit: &Limit<'_>, period_start: u64) -> (String, String) {
        use std::fmt::Write as _;
        let tag = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, limit.who);
        let mut hex = String::with_capacity(32);
        for b in tag.as_ref().iter().take(16) {
            let _ = write!(hex, "{b:02x}");
        }
        let mut bucket = format!("{}:{{{hex}}}:b", self.prefix);
        if let Some((suffix, _)) = limit.bucket
            && !suffix.is_empty()
        {
            let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, suffix);
            for b in d.as_ref().iter().take(8) {
                let _ = write!(bucket, "{b:02x}");
            }
        }
        (
            bucket,
            format!("{}:{{{hex}}}:q:{period_start}", self.prefix),
        )
    }

    /// Asks Redis for `want` tokens of `limit` (0: only looks), giving `back` unspent ones
    /// back first.
    async fn ask(
        &self,
        limit: &Limit<'_>,
        want: u64,
        back: u64,
        unix_secs: u64,
    ) -> Result<(u64, u64, bool), Unreachable> {
        let (interval_us, burst) = match limit.bucket {
            Some((_, t)) => (1_000_000.0 / t.rate(), f64::from(t.burst())),
            None => (-1.0, 0.0),
        };
        let (quota_limit, period_start, ttl) = match limit.quota {
            Some(q) => {
                let (start, end) = q.period.bounds(unix_secs);
                (
                    i64::try_from(q.limit).unwrap_or(i64::MAX),
                    start,
                    end.saturating_sub(unix_secs) + 60,
                )
            }
            None => (-1, 0, 60),
        };
        let (bucket, quota) = self.keys(limit, period_start);
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(SCRIPT)
            .arg(2)
            .arg(bucket)
            .arg(quota)
            .arg(interval_us)
            .arg(burst)
            .arg(want)
            .arg(quota_limit)
            .arg(ttl)
            .arg(back);
        let (granted, wait_ms, spent) = self.call::<(u64, u64, u64)>(&cmd).await?;
        Ok((granted, wait_ms, spent != 0))
    }

    /// The largest batch worth leasing for `limit`.
    fn lease_cap(&self, limit: &Limit<'_>) -> u64 {
        let mut cap = MAX_LEASE_TOKENS;
        if let Some((_, t)) = limit.bucket {
            let per_lease = (t.rate() * (self.lease_ns as f64) / 1e9).floor();
            let per_lease = if per_lease.is_finite() && per_lease >= 1.0 {
                per_lease as u64
            } else {
                1
            };
            cap = cap.min((u64::from(t.burst()) / 8).max(1)).min(per_lease);
        }
        if let Some(q) = limit.quota {
            cap = cap.min((q.limit / 100).max(1));
        }
        cap.max(1)
    }

    /// Spends one request of `limit` (with `take` false only looks, in Redis, spending
    /// nothing). `unix_secs` places the quota's period. A request waits for Redis at most
    /// `limits.timeout` for its lease's refill and as long again for the call.
    pub async fn spend(
        &self,
        limit: &Limit<'_>,
        take: bool,
        unix_secs: u64,
    ) -> Result<Answer, Unreachable> {
        let answer = |(granted, wait_ms, spent): (u64, u64, bool)| {
            if granted > 0 {
                Answer::Pass
            } else if spent {
                Answer::Exhausted
            } else {
                Answer::Throttled { wait_ms }
            }
        };
        if !take {
            return self.ask(limit, 0, 0, unix_secs).await.map(answer);
        }
        let key = leased_key(limit, unix_secs);
        let Some(lease) = self.leases.with(
            &key,
            |l| {
                l.refill.try_lock().is_ok()
                    && l.state.lock().map_or(true, |s| {
                        !s.exhausted && super::now_ns() >= s.expires_ns.max(s.throttled_until_ns)
                    })
            },
            Arc::clone,
        ) else {
            return Ok(Answer::Untracked);
        };
        {
            let mut s = lock(&lease.state);
            let now = super::now_ns();
            if s.take(now) {
                return Ok(Answer::Pass);
            }
            if let Some(refused) = s.known_refusal(now) {
                return Ok(refused);
            }
        }
        let Ok(_refilling) = tokio::time::timeout(self.timeout, lease.refill.lock()).await else {
            return Err(Unreachable);
        };
        let (want, back, now) = {
            // Another request may have refilled it, or learnt a refusal, meanwhile.
            let mut s = lock(&lease.state);
            let now = super::now_ns();
            if s.take(now) {
                return Ok(Answer::Pass);
            }
            if let Some(refused) = s.known_refusal(now) {
                return Ok(refused);
            }
            let want = s.next_size(self.lease_cap(limit), now);
            (want, std::mem::take(&mut s.tokens), now)
        };
        let got = self.ask(limit, want, back, unix_secs).await?;
        let mut s = lock(&lease.state);
        match got {
            (granted, _, _) if granted > 0 => {
                s.size = want;
                s.granted = granted;
                // One of them is this request's.
                s.tokens = granted - 1;
                s.expires_ns = now.saturating_add(self.lease_ns);
            }
            (_, wait_ms, false) => {
                s.throttled_until_ns = now.saturating_add(wait_ms.saturating_mul(1_000_000));
            }
            (_, _, true) => s.exhausted = true,
        }
        Ok(answer(got))
    }

    /// Requests counted in the quota period of `limit` that holds `unix_secs`.
    pub async fn quota_used(&self, limit: &Limit<'_>, unix_secs: u64) -> Result<u64, Unreachable> {
        let Some(q) = limit.quota else {
            return Ok(0);
        };
        let (_, key) = self.keys(limit, q.period.bounds(unix_secs).0);
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        Ok(self.call::<Option<u64>>(&cmd).await?.unwrap_or(0))
    }
}

/// A lease is per limit, per quota limit and per period (a new period, or a changed quota,
/// starts a new lease).
fn leased_key(limit: &Limit<'_>, unix_secs: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(limit.who.len() + 32);
    key.extend_from_slice(limit.who);
    key.push(0);
    if let Some((suffix, _)) = limit.bucket {
        key.extend_from_slice(suffix);
    }
    key.push(0);
    if let Some(q) = limit.quota {
        key.extend_from_slice(&q.period.bounds(unix_secs).0.to_le_bytes());
        key.extend_from_slice(&q.limit.to_le_bytes());
    }
    key
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The throttle and quota of a limit, for tests.
#[cfg(test)]
fn limit<'a>(who: &'a [u8], t: Option<&'a Throttle>, q: Option<&'a Quota>) -> Limit<'a> {
    Limit {
        who,
        bucket: t.map(|t| (&b""[..], t)),
        quota: q,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn leases_grow_while_spent_and_shrink_to_what_was_used() {
        let mut s = LeaseState::default();
        assert_eq!(s.next_size(100, 0), 1);
        s.size = 1;
        s.granted = 1;
        s.expires_ns = 1_000;
        assert_eq!(
            s.next_size(100, 500),
            2,
            "ran out before it lapsed: doubled"
        );
        assert_eq!(s.next_size(100, 1_000), 1, "lapsed after one was used: one");
        s.size = 64;
        s.granted = 64;
        assert_eq!(s.next_size(100, 500), 100, "capped");
        s.tokens = 60;
        assert_eq!(
            s.next_size(100, 2_000),
            4,
            "lapsed with 60 left: what was used"
        );
        s.tokens = 64;
        assert_eq!(s.next_size(100, 2_000), 1, "none used: one");
        s.throttled_until_ns = 3_000;
        assert_eq!(
            s.known_refusal(2_000),
            Some(Answer::Throttled { wait_ms: 1 })
        );
        assert_eq!(s.known_refusal(3_000), None);
        s.exhausted = true;
        assert_eq!(s.known_refusal(9_000), Some(Answer::Exhausted));
    }

    #[test]
    fn keys_share_a_hash_tag_and_hide_who() {
        let cfg = LimitsConfig {
            store: LimitsStore::Redis("redis://user:secret@127.0.0.1:6379/2".into()),
            ..LimitsConfig::default()
        };
        let store = SharedStore::new(&cfg).unwrap().unwrap();
        assert_eq!(store.label, "127.0.0.1:6379");
        let t = Throttle::new(5.0, 10).unwrap();
        let (b, q) = store.keys(
            &limit(b"u\0alice@example.com", Some(&t), None),
            1_700_000_000,
        );
        let tag = |k: &str| k[k.find('{').unwrap()..=k.find('}').unwrap()].to_owned();
        assert_eq!(tag(&b), tag(&q));
        assert!(b.starts_with("portcullis:{") && q.ends_with(":q:1700000000"));
        assert!(!b.contains("alice") && !q.contains("alice"));
        let store_cap = store.lease_cap(&limit(b"x", Some(&t), None));
        assert_eq!(store_cap, 1, "a burst of 10 leases one at a time");
        let big = Throttle::new(10_000.0, 20_000).unwrap();
        assert_eq!(store.lease_cap(&limit(b"x", Some(&big), None)), 1_000);
        let q = Quota::new(500, portcullis_limits::Period::Day).unwrap();
        assert_eq!(store.lease_cap(&limit(b"x", Some(&big), Some(&q))), 5);
    }
}
