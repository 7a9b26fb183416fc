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

use portcullis_core::{ErrorKind, GatewayError, ResponseType};
use portcullis_limits::{Bucket, Decision, Keyed, Period, Quota, QuotaCounter, Spent, Throttle};
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
    /// The bucket.
    pub bucket: std::sync::Arc<Bucket>,
}

impl MethodBucket {
    /// Takes a token (or, with `take` false, only looks: `explain`).
    pub fn check(&self, take: bool) -> Result<(), GatewayError> {
        let now = now_ns();
        let d = if take {
            self.bucket.check(&self.throttle, now)
        } else {
            self.bucket.peek(&self.throttle, now)
        };
        let scope = if self.own { "method" } else { "stage" };
        refuse_if_throttled(d, scope, &self.throttle)
    }
}

/// A configured throttle, compiled (the loader has checked its values).
pub fn compile(t: Option<portcullis_config::ThrottleConfig>) -> Option<Throttle> {
    t.and_then(|t| Throttle::new(t.rate, t.burst).ok())
}

/// `429 Too Many Requests` (with `Retry-After` when the wait is known) unless `d` allowed
/// the request; `scope` says whose throttle, for the log.
fn refuse_if_throttled(d: Decision, scope: &str, t: &Throttle) -> Result<(), GatewayError> {
    if d.allowed() {
        return Ok(());
    }
    let mut e = GatewayError::new(
        ErrorKind::Response(ResponseType::THROTTLED),
        format!(
            "{scope} throttle limit exceeded: rate {} burst {}",
            t.rate(),
            t.burst()
        ),
    );
    if let Some(s) = d.retry_after_secs() {
        e = e.with_retry_after(s);
    }
    Err(e)
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
}

impl UsagePlan {
    /// Compiles a configured plan (the loader has checked its values).
    pub fn compile(p: &portcullis_config::UsagePlanConfig) -> Self {
        UsagePlan {
            name: Arc::from(p.name.as_str()),
            throttle: compile(p.throttle),
            quota: p.quota.and_then(|q| Quota::new(q.limit, q.period).ok()),
            offset: p.quota.map_or(0, |q| q.offset),
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

    /// Takes one request from `sub`'s bucket, then from their quota. With `take` false it
    /// only says what would happen, and takes nothing (`explain`).
    pub fn check_user(
        &self,
        sub: &str,
        limits: &UserLimits,
        take: bool,
    ) -> Result<(), GatewayError> {
        let key = composite(&[b"u", sub.as_bytes()]);
        let t = &limits.throttle;
        let decision = self
            .spend_token(&key, t, take)
            .ok_or_else(|| too_many(ResponseType::THROTTLED))?;
        refuse_if_throttled(decision, "user", t)?;
        let Some(quota) = &limits.quota else {
            return Ok(());
        };
        let spent = self
            .spend_quota(&key, quota, unix_secs(), take)
            .ok_or_else(|| too_many(ResponseType::QUOTA_EXCEEDED))?;
        refuse_if_spent(spent, || {
            format!(
                "user quota exhausted: limit {} period {}",
                quota.limit,
                quota.period.name()
            )
        })
    }

    /// Takes one request of API key `key_id` (attached to the plan at `attached_at`) from
    /// its bucket in the plan (the method's, when the plan gives the method its own), then
    /// from its quota in the plan. With `take` false it takes nothing.
    pub fn check_key(
        &self,
        key_id: &str,
        m: &MeteredBy,
        attached_at: i64,
        take: bool,
    ) -> Result<(), GatewayError> {
        let plan = &m.plan;
        let throttle = match (&m.method, &plan.throttle) {
            (Some(t), _) => Some((
                t,
                composite(&[
                    b"k",
                    plan.name.as_bytes(),
                    key_id.as_bytes(),
                    m.method_key.as_bytes(),
                ]),
            )),
            (None, Some(t)) => Some((
                t,
                composite(&[b"k", plan.name.as_bytes(), key_id.as_bytes()]),
            )),
            (None, None) => None,
        };
        if let Some((t, key)) = throttle {
            let decision = self
                .spend_token(&key, t, take)
                .ok_or_else(|| too_many(ResponseType::THROTTLED))?;
            if !decision.allowed() {
                let mut e = GatewayError::new(
                    ErrorKind::Response(ResponseType::THROTTLED),
                    format!(
                        "Key throttle limit exceeded for Usage Plan ID {}, Limit: {:.2} Burst: {}",
                        plan.name,
                        t.rate(),
                        t.burst()
                    ),
                );
                if let Some(s) = decision.retry_after_secs() {
                    e = e.with_retry_after(s);
                }
                return Err(e);
            }
        }
        let secs = unix_secs();
        let quota = plan.quota_at(attached_at, secs);
        let key = composite(&[b"q", plan.name.as_bytes(), key_id.as_bytes()]);
        let spent = self
            .spend_quota(&key, &quota, secs, take)
            .ok_or_else(|| too_many(ResponseType::QUOTA_EXCEEDED))?;
        refuse_if_spent(spent, || {
            format!(
                "Key quota exhausted for Usage Plan ID {}, Limit: {} Period: {}",
                plan.name,
                quota.limit,
                quota.period.name()
            )
        })
    }

    /// API key `key_id`'s usage of `plan` in the current period.
    pub fn key_usage(&self, plan: &UsagePlan, key_id: &str, attached_at: i64) -> KeyUsage {
        let secs = unix_secs();
        let quota = plan.quota_at(attached_at, secs);
        let key = composite(&[b"q", plan.name.as_bytes(), key_id.as_bytes()]);
        let used = self
            .quotas
            .peek(&key, |c| c.map_or(0, |c| c.used(&quota, secs)));
        KeyUsage {
            used,
            remaining: (quota.limit != UNCOUNTED).then(|| quota.limit.saturating_sub(used)),
            period: quota.period.bounds(secs),
        }
    }
}

/// The store is full of active entries: the request is refused rather than let through
/// unmetered.
fn too_many(t: ResponseType) -> GatewayError {
    GatewayError::new(
        ErrorKind::Response(t),
        "limits: too many callers to track; refused",
    )
}

/// `429 Limit Exceeded` with `Retry-After` (the period's end) unless `spent` counted it.
fn refuse_if_spent(spent: Spent, why: impl FnOnce() -> String) -> Result<(), GatewayError> {
    match spent {
        Spent::Left(_) => Ok(()),
        Spent::Exhausted { reset_in } => Err(GatewayError::new(
            ErrorKind::Response(ResponseType::QUOTA_EXCEEDED),
            why(),
        )
        .with_retry_after(reset_in.max(1))),
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

    #[test]
    fn a_user_is_throttled_then_spends_the_quota() {
        let usage = Usage::default();
        let l = UserLimits {
            throttle: Throttle::new(1.0, 2).unwrap(),
            quota: None,
        };
        assert!(usage.check_user("alice", &l, true).is_ok());
        assert!(usage.check_user("alice", &l, true).is_ok());
        assert!(
            usage.check_user("alice", &l, false).is_err(),
            "a peek sees it"
        );
        let e = usage.check_user("alice", &l, true).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Response(ResponseType::THROTTLED));
        assert_eq!(e.retry_after, Some(1));
        assert!(
            usage.check_user("bob", &l, true).is_ok(),
            "each user has a bucket"
        );
        let q = UserLimits {
            throttle: Throttle::new(1000.0, 1000).unwrap(),
            quota: Some(Quota::new(2, Period::Day).unwrap()),
        };
        for _ in 0..5 {
            assert!(
                usage.check_user("carol", &q, false).is_ok(),
                "peeks take nothing"
            );
        }
        assert!(usage.check_user("carol", &q, true).is_ok());
        assert!(usage.check_user("carol", &q, true).is_ok());
        assert!(usage.check_user("carol", &q, false).is_err());
        let e = usage.check_user("carol", &q, true).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Response(ResponseType::QUOTA_EXCEEDED));
        assert!(e.retry_after.is_some_and(|s| (1..=86_400).contains(&s)));
    }
}
