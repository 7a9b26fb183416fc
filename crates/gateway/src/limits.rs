//! The limits a request is held to after authorization, as API Gateway's throttling stage.
//!
//! So far: the user's own limits. The built-in pool writes each user's limits into their
//! tokens (`portcullis:limits`: `rate`, `burst`, `quota`, `quota_period`); on a route that
//! authenticates with the pool they are enforced per user (`sub`), across every route of
//! every API, with API Gateway's answers: `429 {"message":"Too Many Requests"}` when the
//! user's bucket is empty, `429 {"message":"Limit Exceeded"}` when the period's quota is
//! spent, each with `Retry-After`.
//!
//! The state is kept in one process ([`Usage`], carried across reloads).

use std::sync::LazyLock;
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
    /// The limits in `claims`: `None` when the token carries none; an error (the request
    /// is then refused) when the claim is there but unreadable.
    pub fn from_claims(
        claims: &serde_json::Map<String, Value>,
    ) -> Result<Option<Self>, &'static str> {
        let Some(v) = claims.get(LIMITS_CLAIM) else {
            return Ok(None);
        };
        let bad = "the token's portcullis:limits claim is malformed";
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

impl Usage {
    /// Takes one request from `sub`'s bucket, then from their quota. With `take` false it
    /// only says what would happen, and takes nothing (`explain`).
    pub fn check_user(
        &self,
        sub: &str,
        limits: &UserLimits,
        take: bool,
    ) -> Result<(), GatewayError> {
        let key = sub.as_bytes();
        let now = now_ns();
        let t = &limits.throttle;
        let decision = if take {
            self.buckets
                .with(key, |b| b.is_full(now), |b| b.check(t, now))
        } else {
            Some(self.buckets.peek(key, |b| {
                b.map_or_else(|| Bucket::new().check(t, now), |b| b.peek(t, now))
            }))
        }
        .ok_or_else(|| {
            GatewayError::new(
                ErrorKind::Response(ResponseType::THROTTLED),
                "user limits: too many users to track; refused",
            )
        })?;
        refuse_if_throttled(decision, "user", t)?;
        let Some(quota) = &limits.quota else {
            return Ok(());
        };
        let secs = unix_secs();
        let spent = if take {
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
        .ok_or_else(|| {
            GatewayError::new(
                ErrorKind::Response(ResponseType::QUOTA_EXCEEDED),
                "user limits: too many users to track; refused",
            )
        })?;
        match spent {
            Spent::Left(_) => Ok(()),
            Spent::Exhausted { reset_in } => Err(GatewayError::new(
                ErrorKind::Response(ResponseType::QUOTA_EXCEEDED),
                format!(
                    "user quota exhausted: limit {} period {}",
                    quota.limit,
                    quota.period.name()
                ),
            )
            .with_retry_after(reset_in.max(1))),
        }
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
