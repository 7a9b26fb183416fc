//! Rate limits and quotas as API Gateway enforces them, as a pure library: no I/O, no
//! runtime, no clock of its own (callers pass the time in).
//!
//! - [`bucket`]: the token bucket API Gateway documents (burst is the bucket's size, rate
//!   its refill per second), kept as one number per bucket (GCRA's theoretical arrival
//!   time), updated with one compare-and-swap.
//! - [`quota`]: requests per `DAY`, `WEEK` or `MONTH`, in periods aligned as API Gateway
//!   aligns them (UTC), and the counter of one period.
//! - [`keyed`]: buckets and counters per key (a user, an API key), bounded in number.

pub mod bucket;
pub mod keyed;
pub mod quota;

pub use bucket::{Bucket, Decision, Throttle};
pub use keyed::Keyed;
pub use quota::{Period, Quota, QuotaCounter, Spent};

/// Why a limit's settings were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError(pub &'static str);

impl std::fmt::Display for LimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for LimitError {}
