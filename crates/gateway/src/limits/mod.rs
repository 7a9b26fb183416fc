//! The limits a request is held to after authorization, as API Gateway's throttling stage.
//!
//! So far: the user's own limits. The built-in pool writes each user's limits into their
//! tokens (`portcullis:limits`: `rate`, `burst`, `quota`, `quota_period`); on a route that
//! authenticates with the pool they are enforced per user (`sub`), across every route of
//! every API, with API Gateway's answers: `429 {"message":"Too Many Requests"}` when the
//! user's bucket is empty, `429 {"message":"Limit Exceeded"}` when the period's quota is
//! spent, each with `Retry-After`.
//!
//! And API keys' usage plans: on a method that requires a key, the key's plan for the
//! stage meters it, per key, with the plan's throttle (or the method's own in the plan) and
//! quota, the offset taken off a key's first period.
//!
//! The state is kept in one process ([`Usage`], carried across reloads).

use std::sync::{Arc, LazyLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use portcullis_config::OnStoreFailure;
use portcullis_core::{ErrorKind, GatewayError, ResponseType};
use portcullis_limits::{Bucket, Decision, Keyed, Period, Quota, QuotaCounter, Spent, Throttle};

pub mod shared;
use serde_json::Value;

/// The claim the pool writes a user's limits into.
pub const LIMITS_CLAIM: &str = "portcullis:limits";

/// At most this many users' buckets (and as many quota counters) are held; idle ones
/// (a full bucket, a past period's count) make room for new users first.
const MAX_USERS: usize = 1_000_000;

/// The buckets' clock: nanoseconds since the process started.
static START: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Now, on the buckets' clock.
pub fn now_ns() -> u64 {
    u64::try_from(START.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A method's throttle on one stage, with its bucket (shared by every caller, and by the
/// plans before and after a reload).
#[derive(Debug)]
pub struct MethodBucket {
    /// The throttle that applies.
    pub throttle: Throttle,
    /// Whether it is the method's own, not its stage's default.
    pub own: bool,
    /// The bucket in this process.
    pub bucket: Arc<Bucket>,
    /// The bucket's name (API, stage, method, resource), for a shared store.
    pub key: Arc<[u8]>,
}

/// A configured throttle, compiled (the loader has checked its values).
pub fn compile(t: Option<portcullis_config::ThrottleConfig>) -> Option<Throttle> {
    t.and_then(|t| Throttle::new(t.rate, t.burst).ok())
}

/// `429 Too Many Requests`, with `Retry-After` when the wait is known; `why` is for the log.
fn throttled(retry_after: Option<u64>, why: String) -> GatewayError {
    let e = GatewayError::new(ErrorKind::Response(ResponseType::THROTTLED), why);
    match retry_after {
        Some(s) => e.with_retry_after(s),
        None => e,
    }
}

/// Every user's bucket and quota count, kept across reloads.
pub struct Usage {
    buckets: Keyed<Bucket>,
    quotas: Keyed<QuotaCounter>,
}

impl Default for Usage {
    fn default() -> Self {
        Usage {
            buckets: Keyed::new(MAX_USERS),
            quotas: Keyed::new(MAX_USERS),
        }
    }
}

impl std::fmt::Debug for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Usage").finish_non_exhaustive()
    }
}

/// One user's limits, read from their token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserLimits {
    /// Rate and burst.
    pub throttle: Throttle,
    /// Requests per period, if limited.
    pub quota: Option<Quota>,
}

impl UserLimits {
    /// The limits in `claims` (`portcullis:limits`): `None` when the token carries none; an
    /// error (the request is then refused) when the claim is there but unreadable.
    pub fn from_claims(
        claims: &serde_json::Map<String, Value>,
    ) -> Result<Option<Self>, &'static str> {
        Self::from_value(claims.get(LIMITS_CLAIM))
    }

    /// Limits in `portcullis:limits`' shape (a claim, or a Lambda context value parsed from
    /// its JSON text): `None` when there are none; an error when they are unreadable.
    pub fn from_value(v: Option<&Value>) -> Result<Option<Self>, &'static str> {
        let Some(v) = v else {
            return Ok(None);
        };
        let bad = "the caller's limits are malformed";
        let o = v.as_object().ok_or(bad)?;
        let rate = o.get("rate").and_then(Value::as_f64).ok_or(bad)?;
        let burst = o
            .get("burst")
            .and_then(Value::as_u64)
            .and_then(|b| u32::try_from(b).ok())
            .ok_or(bad)?;
        let throttle = Throttle::new(rate, burst).map_err(|_| bad)?;
        let quota = match o.get("quota") {
            None | Some(Value::Null) => None,
            Some(q) => {
                let limit = q.as_u64().ok_or(bad)?;
                let period = o
                    .get("quota_period")
                    .and_then(Value::as_str)
                    .and_then(Period::parse)
                    .ok_or(bad)?;
                Some(Quota::new(limit, period).map_err(|_| bad)?)
            }
        };
        Ok(Some(UserLimits { throttle, quota }))
    }
}

/// A caller's own limits: their own numbers, or a usage plan their authorizer named.
#[derive(Debug, Clone, Copy)]
pub enum CallerLimits<'a> {
    /// Rate, burst and quota of their own (the pool's `portcullis:limits`, or a claim or
    /// Lambda context value in that shape).
    Own(&'a UserLimits),
    /// A usage plan, metered per caller on the stages it covers.
    Plan(&'a MeteredBy),
}

/// A usage plan, compiled: each API key's throttle and quota in it.
#[derive(Debug)]
pub struct UsagePlan {
    /// Its name, which keys are attached by.
    pub name: Arc<str>,
    /// Each key's bucket over the plan's stages (unless a method has its own).
    pub throttle: Option<Throttle>,
    /// Each key's requests per period over the plan's stages.
    pub quota: Option<Quota>,
    /// Requests taken off the quota in a key's first period in the plan.
    pub offset: u64,
    /// What its limits do while the shared store is unreachable (`None`: the default).
    pub on_store_failure: Option<OnStoreFailure>,
}

impl UsagePlan {
    /// Compiles a configured plan (the loader has checked its values).
    pub fn compile(p: &portcullis_config::UsagePlanConfig) -> Self {
        UsagePlan {
            name: Arc::from(p.name.as_str()),
            throttle: compile(p.throttle),
            quota: p.quota.and_then(|q| Quota::new(q.limit, q.period).ok()),
            offset: p.quota.map_or(0, |q| q.offset),
            on_store_failure: p.on_store_failure,
        }
    }

    /// The quota that holds for a key attached at `attached_at` (Unix seconds), at
    /// `unix_secs`: the offset comes off the limit in the period the key joined in. A plan
    /// without a quota still counts each key's requests per UTC day (for `GetUsage`), with
    /// no limit.
    pub fn quota_at(&self, attached_at: i64, unix_secs: u64) -> Quota {
        let Some(q) = self.quota else {
            return Quota {
                limit: UNCOUNTED,
                period: Period::Day,
            };
        };
        let joined = u64::try_from(attached_at).unwrap_or(0);
        let first = q.period.bounds(joined).0 == q.period.bounds(unix_secs).0;
        if first {
            Quota {
                limit: q.limit.saturating_sub(self.offset),
                ..q
            }
        } else {
            q
        }
    }
}

/// A usage plan that meters a method on one stage, with the method's own throttle in the
/// plan, if it has one.
#[derive(Debug, Clone)]
pub struct MeteredBy {
    /// The plan.
    pub plan: Arc<UsagePlan>,
    /// The method's throttle in the plan, which replaces the plan's.
    pub method: Option<Throttle>,
    /// The method's name in the plan, as API Gateway writes it: `/pets/GET`, with the API
    /// and stage first (its bucket's key).
    pub method_key: Arc<str>,
}

/// The limit of a plan without a quota: its keys' requests are counted, never refused.
const UNCOUNTED: u64 = i64::MAX as u64;

/// An API key's usage of a plan in the current period, as API Gateway's `GetUsage` gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUsage {
    /// Requests counted in the period.
    pub used: u64,
    /// Requests left in it (`None`: the plan has no quota).
    pub remaining: Option<u64>,
    /// The period's start and end (exclusive), Unix seconds.
    pub period: (u64, u64),
}

fn composite(parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for p in parts {
        key.extend_from_slice(p);
        key.push(0);
    }
    key
}

/// One limit a request is spent against.
#[derive(Debug, Clone, Copy)]
pub struct Limit<'a> {
    /// Whose limit it is: the quota counter's name, and the start of the bucket's.
    pub who: &'a [u8],
    /// The bucket, told apart from other buckets of `who` by a suffix (empty for the only
    /// one), and its throttle.
    pub bucket: Option<(&'a [u8], &'a Throttle)>,
    /// The quota.
    pub quota: Option<&'a Quota>,
}

/// What a limit said about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within it.
    Pass,
    /// The bucket is empty (`Retry-After` when the wait is known).
    Throttled {
        /// Seconds until a token comes back.
        retry_after: Option<u64>,
    },
    /// The period's quota is spent.
    Exhausted {
        /// Seconds until the next period.
        reset_in: u64,
    },
    /// Too many callers are tracked to track this one: refused.
    Untracked,
    /// The shared store is unreachable and the limit fails closed.
    StoreDown,
}

impl Usage {
    /// Takes a token from the bucket at `key` (with `take` false, only looks).
    fn spend_token(&self, key: &[u8], t: &Throttle, take: bool) -> Option<Decision> {
        let now = now_ns();
        if take {
            self.buckets
                .with(key, |b| b.is_full(now), |b| b.check(t, now))
        } else {
            Some(self.buckets.peek(key, |b| {
                b.map_or_else(|| Bucket::new().check(t, now), |b| b.peek(t, now))
            }))
        }
    }

    /// Counts a request against the quota at `key` (with `take` false, only looks).
    fn spend_quota(&self, key: &[u8], quota: &Quota, secs: u64, take: bool) -> Option<Spent> {
        if take {
            self.quotas
                .with(key, |c| c.is_idle(quota, secs), |c| c.take(quota, secs))
        } else {
            Some(self.quotas.peek(key, |c| {
                c.map_or_else(
                    || QuotaCounter::new().peek(quota, secs),
                    |c| c.peek(quota, secs),
                )
            }))
        }
    }

    /// Spends one request of `limit` in this process: the bucket first (a throttled
    /// request spends no quota), then the quota. With `take` false it only looks.
    pub fn spend(&self, limit: &Limit<'_>, take: bool) -> Verdict {
        if let Some((suffix, t)) = limit.bucket {
            let key = composite(&[limit.who, suffix]);
            match self.spend_token(&key, t, take) {
                None => return Verdict::Untracked,
                Some(d) if !d.allowed() => {
                    return Verdict::Throttled {
                        retry_after: d.retry_after_secs(),
                    };
                }
                Some(_) => {}
            }
        }
        if let Some(q) = limit.quota {
            match self.spend_quota(limit.who, q, unix_secs(), take) {
                None => return Verdict::Untracked,
                Some(Spent::Exhausted { reset_in }) => return Verdict::Exhausted { reset_in },
                Some(Spent::Left(_)) => {}
            }
        }
        Verdict::Pass
    }

    /// Requests counted in `limit`'s quota period that holds `unix_secs`.
    fn quota_used(&self, limit: &Limit<'_>, unix_secs: u64) -> u64 {
        let Some(q) = limit.quota else { return 0 };
        self.quotas
            .peek(limit.who, |c| c.map_or(0, |c| c.used(q, unix_secs)))
    }
}

/// Where every limit is spent: this process, or a store shared by a fleet (with this
/// process as the fallback of limits that say `local`).
#[derive(Debug, Clone)]
pub struct Limiter {
    /// The counts in this process (kept across reloads).
    pub local: Arc<Usage>,
    /// The shared store, when `limits.store` names one.
    pub shared: Option<Arc<shared::SharedStore>>,
    /// What a limit does while the shared store is unreachable, unless its plan says.
    pub on_failure: OnStoreFailure,
}

impl Limiter {
    /// A limiter on this process alone.
    pub fn local(usage: Arc<Usage>) -> Self {
        Limiter {
            local: usage,
            shared: None,
            on_failure: OnStoreFailure::Local,
        }
    }

    /// Spends one request of `limit`; `on_failure` overrides the default failure mode.
    async fn spend(
        &self,
        limit: &Limit<'_>,
        take: bool,
        on_failure: Option<OnStoreFailure>,
        local: impl FnOnce() -> Verdict,
    ) -> Verdict {
        let Some(store) = &self.shared else {
            return local();
        };
        // A closed bucket (rate or burst 0) refuses everything: no store needs asking.
        if let Some((_, t)) = limit.bucket
            && (t.burst() == 0 || t.rate() <= 0.0)
        {
            return Verdict::Throttled { retry_after: None };
        }
        let secs = unix_secs();
        match store.spend(limit, take, secs).await {
            Ok(shared::Answer::Pass) => Verdict::Pass,
            Ok(shared::Answer::Untracked) => Verdict::Untracked,
            Ok(shared::Answer::Throttled { wait_ms }) => Verdict::Throttled {
                retry_after: Some(wait_ms.div_ceil(1000).max(1)),
            },
            Ok(shared::Answer::Exhausted) => Verdict::Exhausted {
                reset_in: limit
                    .quota
                    .map_or(1, |q| q.period.bounds(secs).1.saturating_sub(secs)),
            },
            Err(shared::Unreachable) => {
                let mode = on_failure.unwrap_or(self.on_failure);
                metrics::counter!(shared::STORE_FALLBACKS, "mode" => mode.name()).increment(1);
                match mode {
                    OnStoreFailure::Local => local(),
                    OnStoreFailure::Open => Verdict::Pass,
                    OnStoreFailure::Closed => Verdict::StoreDown,
                }
            }
        }
    }

    /// Takes one request from `sub`'s own bucket, then from their quota. With `take` false
    /// it only says what would happen, and takes nothing (`explain`).
    pub async fn check_user(
        &self,
        sub: &str,
        limits: &UserLimits,
        take: bool,
    ) -> Result<(), GatewayError> {
        let who = composite(&[b"u", sub.as_bytes()]);
        let t = &limits.throttle;
        let limit = Limit {
            who: &who,
            bucket: Some((b"", t)),
            quota: limits.quota.as_ref(),
        };
        let v = self
            .spend(&limit, take, None, || self.local.spend(&limit, take))
            .await;
        refuse(v, || {
            (
                format!(
                    "user throttle limit exceeded: rate {} burst {}",
                    t.rate(),
                    t.burst()
                ),
                limits.quota.map_or_else(String::new, |q| {
                    format!(
                        "user quota exhausted: limit {} period {}",
                        q.limit,
                        q.period.name()
                    )
                }),
            )
        })
    }

    /// Takes one request of API key `key_id` (attached to the plan at `attached_at`) from
    /// its bucket in the plan (the method's, when the plan gives the method its own), then
    /// from its quota in the plan. With `take` false it takes nothing.
    pub async fn check_key(
        &self,
        key_id: &str,
        m: &MeteredBy,
        attached_at: i64,
        take: bool,
    ) -> Result<(), GatewayError> {
        let plan = &m.plan;
        let who = composite(&[b"k", plan.name.as_bytes(), key_id.as_bytes()]);
        let throttle = match (&m.method, &plan.throttle) {
            (Some(t), _) => Some((m.method_key.as_bytes(), t)),
            (None, Some(t)) => Some((&b""[..], t)),
            (None, None) => None,
        };
        let quota = plan.quota_at(attached_at, unix_secs());
        let limit = Limit {
            who: &who,
            bucket: throttle,
            quota: Some(&quota),
        };
        let v = self
            .spend(&limit, take, plan.on_store_failure, || {
                self.local.spend(&limit, take)
            })
            .await;
        refuse(v, || {
            (
                throttle.map_or_else(String::new, |(_, t)| {
                    format!(
                        "Key throttle limit exceeded for Usage Plan ID {}, Limit: {:.2} Burst: {}",
                        plan.name,
                        t.rate(),
                        t.burst()
                    )
                }),
                format!(
                    "Key quota exhausted for Usage Plan ID {}, Limit: {} Period: {}",
                    plan.name,
                    quota.limit,
                    quota.period.name()
                ),
            )
        })
    }

    /// Takes a token from a method's bucket on its stage (with `take` false, only looks).
    pub async fn check_method(&self, mb: &MethodBucket, take: bool) -> Result<(), GatewayError> {
        let local = || {
            let now = now_ns();
            let d = if take {
                mb.bucket.check(&mb.throttle, now)
            } else {
                mb.bucket.peek(&mb.throttle, now)
            };
            if d.allowed() {
                Verdict::Pass
            } else {
                Verdict::Throttled {
                    retry_after: d.retry_after_secs(),
                }
            }
        };
        // A closed bucket needs no store to say so.
        let v = if self.shared.is_none() || mb.throttle.burst() == 0 || mb.throttle.rate() == 0.0 {
            local()
        } else {
            let limit = Limit {
                who: &mb.key,
                bucket: Some((b"", &mb.throttle)),
                quota: None,
            };
            self.spend(&limit, take, None, local).await
        };
        let scope = if mb.own { "method" } else { "stage" };
        refuse(v, || {
            (
                format!(
                    "{scope} throttle limit exceeded: rate {} burst {}",
                    mb.throttle.rate(),
                    mb.throttle.burst()
                ),
                String::new(),
            )
        })
    }

    /// API key `key_id`'s usage of `plan` in the current period: from the shared store when
    /// there is one (this process's count if it cannot be reached).
    pub async fn key_usage(&self, plan: &UsagePlan, key_id: &str, attached_at: i64) -> KeyUsage {
        let secs = unix_secs();
        let quota = plan.quota_at(attached_at, secs);
        let who = composite(&[b"k", plan.name.as_bytes(), key_id.as_bytes()]);
        let limit = Limit {
            who: &who,
            bucket: None,
            quota: Some(&quota),
        };
        let used = match &self.shared {
            Some(s) => match s.quota_used(&limit, secs).await {
                Ok(n) => n,
                Err(_) => self.local.quota_used(&limit, secs),
            },
            None => self.local.quota_used(&limit, secs),
        };
        KeyUsage {
            used,
            remaining: (quota.limit != UNCOUNTED).then(|| quota.limit.saturating_sub(used)),
            period: quota.period.bounds(secs),
        }
    }
}

/// The answer to a refused request: `why` gives the log's reasons (throttled, exhausted).
fn refuse(v: Verdict, why: impl FnOnce() -> (String, String)) -> Result<(), GatewayError> {
    match v {
        Verdict::Pass => Ok(()),
        Verdict::Throttled { retry_after } => Err(throttled(retry_after, why().0)),
        Verdict::Exhausted { reset_in } => Err(GatewayError::new(
            ErrorKind::Response(ResponseType::QUOTA_EXCEEDED),
            why().1,
        )
        .with_retry_after(reset_in.max(1))),
        Verdict::Untracked => Err(GatewayError::new(
            ErrorKind::Response(ResponseType::THROTTLED),
            "limits: too many callers to track; refused",
        )),
        Verdict::StoreDown => Err(throttled(
            Some(1),
            "limits store unreachable; the limit fails closed".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert(LIMITS_CLAIM.into(), v);
        m
    }

    #[test]
    fn limits_read_from_the_claim() {
        let l = UserLimits::from_claims(&claims(
            json!({"rate": 10.0, "burst": 20, "quota": 1000, "quota_period": "DAY"}),
        ))
        .unwrap()
        .unwrap();
        assert_eq!(l.throttle.burst(), 20);
        assert_eq!(l.quota, Some(Quota::new(1000, Period::Day).unwrap()));
        assert_eq!(UserLimits::from_claims(&serde_json::Map::new()), Ok(None));
        for bad in [
            json!("fast"),
            json!({"rate": -1, "burst": 2}),
            json!({"rate": 1, "burst": -2}),
            json!({"rate": 1, "burst": 2, "quota": 5}),
            json!({"rate": 1, "burst": 2, "quota": 5, "quota_period": "YEAR"}),
        ] {
            assert!(UserLimits::from_claims(&claims(bad)).is_err());
        }
    }

    #[tokio::test]
    async fn a_user_is_throttled_then_spends_the_quota() {
        let usage = Limiter::local(Arc::new(Usage::default()));
        let l = UserLimits {
            throttle: Throttle::new(1.0, 2).unwrap(),
            quota: None,
        };
        assert!(usage.check_user("alice", &l, true).await.is_ok());
        assert!(usage.check_user("alice", &l, true).await.is_ok());
        assert!(
            usage.check_user("alice", &l, false).await.is_err(),
            "a peek sees it"
        );
        let e = usage.check_user("alice", &l, true).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Response(ResponseType::THROTTLED));
        assert_eq!(e.retry_after, Some(1));
        assert!(
            usage.check_user("bob", &l, true).await.is_ok(),
            "each user has a bucket"
        );
        let q = UserLimits {
            throttle: Throttle::new(1000.0, 1000).unwrap(),
            quota: Some(Quota::new(2, Period::Day).unwrap()),
        };
        for _ in 0..5 {
            assert!(
                usage.check_user("carol", &q, false).await.is_ok(),
                "peeks take nothing"
            );
        }
        assert!(usage.check_user("carol", &q, true).await.is_ok());
        assert!(usage.check_user("carol", &q, true).await.is_ok());
        assert!(usage.check_user("carol", &q, false).await.is_err());
        let e = usage.check_user("carol", &q, true).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Response(ResponseType::QUOTA_EXCEEDED));
        assert!(e.retry_after.is_some_and(|s| (1..=86_400).contains(&s)));
    }

    /// A shared store that cannot be reached: each limit does what its failure mode says,
    /// and no request waits longer than the timeout.
    #[tokio::test]
    async fn an_unreachable_store_fails_as_configured_and_fast() {
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg = portcullis_config::LimitsConfig {
            store: portcullis_config::LimitsStore::Redis(format!("redis://127.0.0.1:{port}")),
            timeout: std::time::Duration::from_millis(50),
            ..portcullis_config::LimitsConfig::default()
        };
        let store = Arc::new(shared::SharedStore::new(&cfg).unwrap().unwrap());
        let l = UserLimits {
            throttle: Throttle::new(1.0, 1).unwrap(),
            quota: None,
        };
        for (mode, passes) in [
            (OnStoreFailure::Local, [true, false]),
            (OnStoreFailure::Open, [true, true]),
            (OnStoreFailure::Closed, [false, false]),
        ] {
            let limiter = Limiter {
                local: Arc::new(Usage::default()),
                shared: Some(store.clone()),
                on_failure: mode,
            };
            for expected in passes {
                let started = std::time::Instant::now();
                let r = limiter.check_user("dave", &l, true).await;
                assert_eq!(r.is_ok(), expected, "{mode:?}");
                assert!(started.elapsed() < std::time::Duration::from_millis(1_000));
                if let (OnStoreFailure::Closed, Err(e)) = (mode, &r) {
                    assert_eq!(e.retry_after, Some(1));
                }
            }
        }
        assert!(store.is_down());
    }
}
