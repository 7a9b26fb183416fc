//! API Gateway's token bucket, as GCRA.
//!
//! A bucket holds `burst` tokens and gains `rate` tokens a second; a request takes one or
//! is throttled. GCRA keeps the same decisions in one number: the theoretical arrival time
//! (TAT), the time at which the bucket would be full again. A request at `now` is allowed
//! when `max(TAT, now) + interval - now <= burst * interval`, and then moves the TAT on by
//! one interval (`1 / rate`). The wait of a throttled request is exact: the time until
//! that inequality holds.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::LimitError;

const NANOS: f64 = 1e9;

/// A throttle's settings, as API Gateway names them: `rateLimit` (requests per second,
/// steady) and `burstLimit` (the bucket's size).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttle {
    rate: f64,
    burst: u32,
    /// Nanoseconds per token; `u64::MAX` for a rate of zero (nothing refills).
    interval: u64,
    /// `burst * interval`, saturated.
    tolerance: u64,
}

impl Throttle {
    /// A throttle of `rate` requests per second with a bucket of `burst`. A rate of zero or
    /// a burst of zero lets nothing through, as on API Gateway.
    pub fn new(rate: f64, burst: u32) -> Result<Self, LimitError> {
        if !rate.is_finite() || rate < 0.0 {
            return Err(LimitError(
                "rate must be a number of requests per second, 0 or more",
            ));
        }
        if rate > 1e9 {
            return Err(LimitError(
                "rate must be at most 1,000,000,000 requests per second",
            ));
        }
        let interval = if rate == 0.0 {
            u64::MAX
        } else {
            // At most 1e9 nanoseconds per request and at least 1: fits.
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "NANOS / rate is in [1, 1e18] here"
            )]
            let ns = (NANOS / rate).round().max(1.0) as u64;
            ns
        };
        Ok(Throttle {
            rate,
            burst,
            interval,
            tolerance: interval.saturating_mul(u64::from(burst)),
        })
    }

    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The bucket's size.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Whether this throttle lets through no more than `other` does: no higher rate and
    /// no larger bucket. Used to pick the strictest of several limits.
    pub fn at_most(&self, other: &Throttle) -> bool {
        self.rate <= other.rate && self.burst <= other.burst
    }
}

/// What a bucket said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed; a token was taken.
    Allowed,
    /// Throttled. `wait_ns`: when a request would next be allowed (`None` when it never
    /// will: a rate or burst of zero).
    Throttled {
        /// Nanoseconds until the next allowed request.
        wait_ns: Option<u64>,
    },
}

impl Decision {
    /// Whether the request may go on.
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allowed)
    }

    /// The wait in whole seconds, rounded up, for a `Retry-After` header.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Decision::Allowed | Decision::Throttled { wait_ns: None } => None,
            Decision::Throttled { wait_ns: Some(ns) } => Some(ns.div_ceil(1_000_000_000).max(1)),
        }
    }
}

/// One bucket's state: its theoretical arrival time, in nanoseconds on the caller's
/// clock. A new bucket is full.
#[derive(Debug, Default)]
pub struct Bucket {
    tat: AtomicU64,
}

impl Bucket {
    /// A full bucket.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes a token at `now_ns` (any monotonic clock, the same for every call on this
    /// bucket) if `throttle` allows it. Lock-free: concurrent callers each take their own
    /// token or are throttled, never both on one token.
    pub fn check(&self, throttle: &Throttle, now_ns: u64) -> Decision {
        if throttle.interval == u64::MAX || throttle.burst == 0 {
            // A rate or a burst of zero never lets a request through.
            return Decision::Throttled { wait_ns: None };
        }
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let next = tat.max(now_ns).saturating_add(throttle.interval);
            let ahead = next - now_ns;
            if ahead > throttle.tolerance {
                return Decision::Throttled {
                    wait_ns: Some(ahead - throttle.tolerance),
                };
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Decision::Allowed,
                Err(seen) => tat = seen,
            }
        }
    }

    /// What [`Bucket::check`] would say at `now_ns`, taking nothing (for explanations).
    pub fn peek(&self, throttle: &Throttle, now_ns: u64) -> Decision {
        Bucket {
            tat: AtomicU64::new(self.tat.load(Ordering::Relaxed)),
        }
        .check(throttle, now_ns)
    }

    /// Whether the bucket is full at `now_ns` (it then holds nothing worth keeping: a new
    /// bucket behaves the same).
    pub fn is_full(&self, now_ns: u64) -> bool {
        self.tat.load(Ordering::Relaxed) <= now_ns
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn run(t: &Throttle, times: &[u64]) -> Vec<bool> {
        let b = Bucket::new();
        times.iter().map(|now| b.check(t, *now).allowed()).collect()
    }

    #[test]
    fn burst_is_the_bucket_and_rate_refills_it() {
        let t = Throttle::new(1.0, 2).unwrap();
        // Two at once (the burst), the third throttled, one more a second later.
        assert_eq!(
            run(&t, &[10 * SEC, 10 * SEC, 10 * SEC, 11 * SEC, 11 * SEC]),
            [true, true, false, true, false]
        );
        let b = Bucket::new();
        assert!(b.check(&t, 5 * SEC).allowed());
        assert!(b.check(&t, 5 * SEC).allowed());
        let d = b.check(&t, 5 * SEC);
        assert_eq!(d, Decision::Throttled { wait_ns: Some(SEC) });
        assert_eq!(d.retry_after_secs(), Some(1));
        // A full bucket after a long pause holds no more than its burst.
        assert_eq!(
            run(&t, &[0, 100 * SEC, 100 * SEC, 100 * SEC]),
            [true, true, true, false]
        );
    }

    #[test]
    fn fractional_rates_and_the_wait() {
        let t = Throttle::new(0.5, 1).unwrap();
        let b = Bucket::new();
        assert!(b.check(&t, SEC).allowed());
        let d = b.check(&t, SEC + SEC / 2);
        assert_eq!(
            d,
            Decision::Throttled {
                wait_ns: Some(SEC + SEC / 2)
            }
        );
        assert_eq!(d.retry_after_secs(), Some(2));
        assert!(b.check(&t, 3 * SEC).allowed());
    }

    #[test]
    fn peeking_takes_nothing() {
        let t = Throttle::new(1.0, 1).unwrap();
        let b = Bucket::new();
        for _ in 0..3 {
            assert!(b.peek(&t, SEC).allowed());
        }
        assert!(b.check(&t, SEC).allowed());
        assert!(!b.peek(&t, SEC).allowed());
    }

    #[test]
    fn zero_lets_nothing_through() {
        for t in [
            Throttle::new(0.0, 10).unwrap(),
            Throttle::new(10.0, 0).unwrap(),
        ] {
            let d = Bucket::new().check(&t, SEC);
            assert!(!d.allowed());
            assert_eq!(d.retry_after_secs(), None);
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(Throttle::new(-1.0, 1).is_err());
        assert!(Throttle::new(f64::NAN, 1).is_err());
        assert!(Throttle::new(f64::INFINITY, 1).is_err());
    }

    #[test]
    fn concurrent_callers_share_the_bucket_exactly() {
        let t = Throttle::new(1.0, 1000).unwrap();
        let b = Bucket::new();
        let allowed = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..500 {
                        if b.check(&t, SEC).allowed() {
                            allowed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(allowed.load(Ordering::Relaxed), 1000);
    }

    proptest::proptest! {
        /// Over any window, a bucket allows at most burst + rate * elapsed requests, and a
        /// caller who waits as told is allowed.
        #[test]
        fn never_more_than_burst_plus_refill(
            rate in 0.1f64..1000.0,
            burst in 1u32..50,
            gaps in proptest::collection::vec(0u64..(SEC / 5), 1..300),
        ) {
            let t = Throttle::new(rate, burst).unwrap();
            let b = Bucket::new();
            let start = SEC;
            let mut now = start;
            let mut allowed = 0u64;
            for g in gaps {
                now += g;
                match b.check(&t, now) {
                    Decision::Allowed => allowed += 1,
                    Decision::Throttled { wait_ns } => {
                        let w = wait_ns.unwrap();
                        proptest::prop_assert!(b.check(&t, now + w).allowed());
                        allowed += 1;
                        now += w;
                    }
                }
            }
            let elapsed = (now - start) as f64 / 1e9;
            let bound = f64::from(burst) + rate * elapsed + 1.0;
            proptest::prop_assert!((allowed as f64) <= bound, "{allowed} > {bound}");
        }
    }
}
