//! Failed-login throttling: exponential backoff, then a temporary lockout, per username and
//! per source address.
//!
//! The first `free_attempts` failures cost nothing; each further failure doubles the wait
//! before the next attempt is even checked, from `base_delay` up to `max_delay` (the
//! lockout). A success clears the username's record (not the address's: one good password
//! must not unlock an address that is guessing at others). Records are forgotten after a
//! quiet period of twice `max_delay`. Usernames are throttled whether or not they exist, so the throttle
//! itself reveals nothing. Pure arithmetic on a caller-supplied clock, bounded in memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Throttle settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Failures allowed before any delay.
    pub free_attempts: u32,
    /// First delay, milliseconds.
    pub base_delay_ms: u64,
    /// Longest delay (the lockout), milliseconds.
    pub max_delay_ms: u64,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            free_attempts: 5,
            base_delay_ms: 1_000,
            max_delay_ms: 15 * 60 * 1_000,
        }
    }
}

/// Most records kept; past it, expired ones are dropped, then the oldest.
const MAX_RECORDS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    blocked_until_ms: u64,
    last_failure_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Addr(IpAddr),
}

/// Why an attempt may not proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    /// Milliseconds until the next attempt is allowed.
    pub retry_after_ms: u64,
}

/// The throttle.
#[derive(Debug)]
pub struct LoginThrottle {
    settings: ThrottleSettings,
    records: Mutex<HashMap<Key, Record>>,
}

impl LoginThrottle {
    /// A throttle with `settings`.
    pub fn new(settings: ThrottleSettings) -> Self {
        Self {
            settings,
            records: Mutex::new(HashMap::new()),
        }
    }

    fn keys(username: &str, addr: Option<IpAddr>) -> impl Iterator<Item = Key> {
        std::iter::once(Key::User(username.to_lowercase())).chain(addr.map(Key::Addr))
    }

    /// Whether an attempt for `username` from `addr` may be checked now.
    pub fn check(&self, username: &str, addr: Option<IpAddr>, now_ms: u64) -> Result<(), Blocked> {
        let Ok(records) = self.records.lock() else {
            return Ok(());
        };
        let wait = Self::keys(username, addr)
            .filter_map(|k| records.get(&k))
            .map(|r| r.blocked_until_ms.saturating_sub(now_ms))
            .max()
            .unwrap_or(0);
        if wait > 0 {
            Err(Blocked {
                retry_after_ms: wait,
            })
        } else {
            Ok(())
        }
    }

    /// Quiet time after which past failures are forgotten: twice the lockout, so that
    /// sitting out one lockout does not reset the count.
    fn forgive_after(&self) -> u64 {
        self.settings.max_delay_ms.saturating_mul(2)
    }

    fn delay_after(&self, failures: u32) -> u64 {
        let over = failures.saturating_sub(self.settings.free_attempts);
        if over == 0 {
            return 0;
        }
        let shift = over.saturating_sub(1).min(32);
        self.settings
            .base_delay_ms
            .saturating_mul(1u64 << shift)
            .min(self.settings.max_delay_ms)
    }

    /// Records a failed attempt.
    pub fn failure(&self, username: &str, addr: Option<IpAddr>, now_ms: u64) {
        let Ok(mut records) = self.records.lock() else {
            return;
        };
        if records.len() >= MAX_RECORDS {
            let horizon = self.forgive_after();
            records.retain(|_, r| now_ms.saturating_sub(r.last_failure_ms) < horizon);
            if records.len() >= MAX_RECORDS {
                // Still full: forget the quietest half, never the ones locked out right now.
                let mut ages: Vec<u64> = records.values().map(|r| r.last_failure_ms).collect();
                ages.sort_unstable();
                let cutoff = ages.get(ages.len() / 2).copied().unwrap_or(0);
                records.retain(|_, r| r.last_failure_ms > cutoff || r.blocked_until_ms > now_ms);
            }
        }
        for key in Self::keys(username, addr) {
            let horizon = self.forgive_after();
            let entry = records.entry(key).or_insert(Record {
                failures: 0,
                blocked_until_ms: 0,
                last_failure_ms: now_ms,
            });
            if now_ms.saturating_sub(entry.last_failure_ms) >= horizon.max(1)
                && entry.blocked_until_ms <= now_ms
            {
                // A quiet period as long as the lockout forgives the past.
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure_ms = now_ms;
            let delay = self.delay_after(entry.failures);
            entry.blocked_until_ms = now_ms.saturating_add(delay);
        }
    }

    /// Records a successful login: the username starts afresh.
    pub fn success(&self, username: &str) {
        if let Ok(mut records) = self.records.lock() {
            records.remove(&Key::User(username.to_lowercase()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> LoginThrottle {
        LoginThrottle::new(ThrottleSettings {
            free_attempts: 3,
            base_delay_ms: 1_000,
            max_delay_ms: 60_000,
        })
    }

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)));

    #[test]
    fn backoff_doubles_then_caps_at_the_lockout() {
        let th = t();
        let mut now = 0;
        for _ in 0..3 {
            assert!(th.check("alice", IP, now).is_ok());
            th.failure("alice", IP, now);
        }
        // free attempts used; the next failure starts the backoff
        assert!(th.check("alice", IP, now).is_ok());
        let mut waits = Vec::new();
        for _ in 0..8 {
            th.failure("alice", IP, now);
            let w = th.check("alice", IP, now).unwrap_err().retry_after_ms;
            waits.push(w);
            now += w;
            assert!(
                th.check("alice", IP, now).is_ok(),
                "allowed again once the wait is over"
            );
        }
        assert_eq!(
            waits,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
    }

    #[test]
    fn unknown_and_known_users_are_throttled_alike_and_case_insensitively() {
        let th = t();
        for _ in 0..4 {
            th.failure("NoSuchUser", None, 0);
        }
        assert!(th.check("nosuchuser", None, 0).is_err());
        assert!(th.check("other", None, 0).is_ok());
    }

    #[test]
    fn the_address_is_throttled_across_usernames_and_success_clears_only_the_user() {
        let th = t();
        for (i, user) in ["a", "b", "c", "d"].iter().enumerate() {
            th.failure(user, IP, i as u64);
        }
        assert!(
            th.check("e", IP, 4).is_err(),
            "guessing across usernames from one address"
        );
        assert!(th.check("e", None, 4).is_ok());
        for _ in 0..4 {
            th.failure("alice", None, 10);
        }
        th.success("ALICE");
        assert!(th.check("alice", None, 10).is_ok());
        assert!(
            th.check("zed", IP, 10).is_err(),
            "the address stays throttled"
        );
    }

    #[test]
    fn a_quiet_period_forgives() {
        let th = t();
        for _ in 0..4 {
            th.failure("alice", None, 0);
        }
        assert!(th.check("alice", None, 500).is_err());
        th.failure("alice", None, 130_000);
        assert!(
            th.check("alice", None, 130_000).is_ok(),
            "failures older than twice the lockout are forgotten"
        );
    }
}
