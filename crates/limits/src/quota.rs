//! Quotas: at most `limit` requests per period. Periods are aligned in UTC as API Gateway
//! aligns them: a `DAY` from midnight, a `WEEK` from Sunday midnight, a `MONTH` from
//! midnight on the 1st.

use std::sync::Mutex;

use crate::LimitError;

const DAY: u64 = 86_400;

/// A quota's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// From 00:00 UTC.
    Day,
    /// From Sunday 00:00 UTC.
    Week,
    /// From the 1st of the month, 00:00 UTC.
    Month,
}

impl Period {
    /// Reads `DAY`, `WEEK` or `MONTH` (any case).
    pub fn parse(s: &str) -> Option<Period> {
        match s.to_ascii_uppercase().as_str() {
            "DAY" => Some(Period::Day),
            "WEEK" => Some(Period::Week),
            "MONTH" => Some(Period::Month),
            _ => None,
        }
    }

    /// The name API Gateway uses.
    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "DAY",
            Period::Week => "WEEK",
            Period::Month => "MONTH",
        }
    }

    /// The period that holds `unix_secs`: its start and its end (exclusive), in seconds
    /// since the Unix epoch.
    pub fn bounds(self, unix_secs: u64) -> (u64, u64) {
        let day = unix_secs / DAY;
        match self {
            Period::Day => (day * DAY, (day + 1) * DAY),
            Period::Week => {
                // 1970-01-01 was a Thursday: day 0 is weekday 4 counting from Sunday. The
                // first days' week started before the epoch: it is cut at 0.
                let weekday = (day + 4) % 7;
                (day.saturating_sub(weekday) * DAY, (day + 7 - weekday) * DAY)
            }
            Period::Month => {
                let (y, m, _) = civil(day);
                let start = days_from_civil(y, m, 1);
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                (start * DAY, days_from_civil(ny, nm, 1) * DAY)
            }
        }
    }
}

/// The (year, month 1-12, day 1-31) of a day counted from 1970-01-01, in the proleptic
/// Gregorian calendar (days from 1970 onwards only).
fn civil(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, so that leap days end each 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097; // day of era, 0..146096
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // 0..399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st
    let mp = (5 * doy + 2) / 153; // month from March, 0..11
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// The day count from 1970-01-01 of (year, month, day), for years from 1970.
fn days_from_civil(y: u64, m: u64, d: u64) -> u64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A quota's settings, as API Gateway names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests per period.
    pub limit: u64,
    /// The period.
    pub period: Period,
}

impl Quota {
    /// `limit` requests per `period`. A limit of zero lets nothing through.
    pub fn new(limit: u64, period: Period) -> Result<Self, LimitError> {
        if limit > i64::MAX as u64 {
            return Err(LimitError("quota limit is too large"));
        }
        Ok(Quota { limit, period })
    }
}

/// The count of one period; it starts again at the next period.
#[derive(Debug, Default)]
pub struct QuotaCounter {
    /// (start of the counted period, requests counted in it).
    state: Mutex<(u64, u64)>,
}

/// What a quota said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    /// Counted; this many requests are left in the period.
    Left(u64),
    /// The period's requests are spent; the next period starts in this many seconds.
    Exhausted {
        /// Seconds until the period ends.
        reset_in: u64,
    },
}

impl QuotaCounter {
    /// An empty counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one request at `unix_secs` against `quota`, unless the period's are spent.
    pub fn take(&self, quota: &Quota, unix_secs: u64) -> Spent {
        let (start, end) = quota.period.bounds(unix_secs);
        let mut state = match self.state.lock() {
            Ok(g) => g,
            // A panic elsewhere while holding the lock leaves a consistent pair behind.
            Err(poisoned) => poisoned.into_inner(),
        };
        if state.0 != start {
            *state = (start, 0);
        }
        if state.1 >= quota.limit {
            return Spent::Exhausted {
                reset_in: end - unix_secs,
            };
        }
        state.1 += 1;
        Spent::Left(quota.limit - state.1)
    }

    /// What [`QuotaCounter::take`] would say at `unix_secs`, counting nothing.
    pub fn peek(&self, quota: &Quota, unix_secs: u64) -> Spent {
        let used = self.used(quota, unix_secs);
        if used >= quota.limit {
            Spent::Exhausted {
                reset_in: quota.period.bounds(unix_secs).1 - unix_secs,
            }
        } else {
            Spent::Left(quota.limit - used - 1)
        }
    }

    /// The requests counted in the period that holds `unix_secs`.
    pub fn used(&self, quota: &Quota, unix_secs: u64) -> u64 {
        let (start, _) = quota.period.bounds(unix_secs);
        let state = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if state.0 == start { state.1 } else { 0 }
    }

    /// Whether the counter holds nothing for the period of `unix_secs` (it can be dropped).
    pub fn is_idle(&self, quota: &Quota, unix_secs: u64) -> bool {
        self.used(quota, unix_secs) == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    /// Seconds since the epoch of a UTC date and time.
    fn at(y: u64, m: u64, d: u64, h: u64) -> u64 {
        days_from_civil(y, m, d) * DAY + h * 3600
    }

    #[test]
    fn the_epochs_first_days_have_periods_too() {
        for secs in [0, 1, 86_399, 2 * DAY + 5] {
            let (start, end) = Period::Week.bounds(secs);
            assert_eq!((start, end), (0, 3 * DAY), "week of {secs}");
            assert!(
                Period::Day.bounds(secs).0 <= secs && Period::Month.bounds(secs) == (0, 31 * DAY)
            );
        }
        assert_eq!(Period::Week.bounds(3 * DAY + 5), (3 * DAY, 10 * DAY));
    }

    #[test]
    fn calendar_round_trips() {
        for day in (0..200_000).step_by(7) {
            let (y, m, d) = civil(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(days_from_civil(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(days_from_civil(2026, 12, 7) * DAY, 1_796_601_600);
    }

    #[test]
    fn periods_align_in_utc() {
        let t = at(2026, 12, 7, 15); // a Monday afternoon
        assert_eq!(
            Period::Day.bounds(t),
            (at(2026, 12, 7, 0), at(2026, 12, 8, 0))
        );
        assert_eq!(
            Period::Week.bounds(t),
            (at(2026, 12, 6, 0), at(2026, 12, 13, 0))
        );
        assert_eq!(
            Period::Week.bounds(at(2026, 12, 6, 0)).0,
            at(2026, 12, 6, 0)
        );
        assert_eq!(
            Period::Month.bounds(t),
            (at(2026, 12, 1, 0), at(2027, 1, 1, 0))
        );
        assert_eq!(
            Period::Month.bounds(at(2024, 2, 29, 23)),
            (at(2024, 2, 1, 0), at(2024, 3, 1, 0))
        );
    }

    #[test]
    fn a_quota_counts_and_starts_again_each_period() {
        let q = Quota::new(2, Period::Day).unwrap();
        let c = QuotaCounter::new();
        let t = at(2026, 12, 7, 23);
        assert_eq!(c.take(&q, t), Spent::Left(1));
        assert_eq!(c.take(&q, t), Spent::Left(0));
        assert_eq!(c.take(&q, t), Spent::Exhausted { reset_in: 3600 });
        assert_eq!(c.used(&q, t), 2);
        let next = at(2026, 12, 8, 0);
        assert_eq!(c.used(&q, next), 0);
        assert_eq!(c.take(&q, next), Spent::Left(1));
        let none = Quota::new(0, Period::Week).unwrap();
        let reset_in = Period::Week.bounds(next).1 - next;
        assert_eq!(
            QuotaCounter::new().take(&none, next),
            Spent::Exhausted { reset_in }
        );
    }
}
