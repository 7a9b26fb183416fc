//! Failed-login throttling: exponential backoff, then a temporary lockout, per username and
//! per source address.
//!
//! The first `free_attempts` failures cost nothing; each further failure doubles the wait
//! before the next attempt is even checked, from `base_delay` up to `max_delay` (the
//! lockout). A success clears the username's record (not the address's: one good password
//! must not unlock an address that is guessing at others). Records are forgotten after a
//! quiet period of twice `max_delay`. Usernames are throttled whether or not they exist, so the throttle
//! itself reveals nothing. Pure arithmetic on a caller-supplied clock, bounded in memory.
//!
//! An attempt is taken with [`LoginThrottle::reserve`], which checks and counts it in one
//! step under the lock, and is settled afterwards with [`Attempt::failed`] or
//! [`Attempt::succeeded`]. An attempt still being checked counts as a failure for the
//! attempts that come after it: many guesses sent at once (HTTP/2 streams on one connection)
//! get no more password checks than the same guesses sent one after another, that is
//! `free_attempts + 1` before the first delay. An attempt dropped unsettled (its request was
//! cancelled) is released without counting either way.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

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
    /// Attempts reserved and not yet settled.
    in_flight: u32,
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

/// One login attempt, counted as in flight until settled. Dropping it unsettled releases it
/// without recording anything.
#[must_use = "settle the attempt with `failed` or `succeeded`"]
#[derive(Debug)]
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    user: String,
    addr: Option<IpAddr>,
    settled: bool,
}

impl Attempt<'_> {
    /// The password check failed (or the user is unknown or disabled).
    pub fn failed(mut self, now_ms: u64) {
        self.settled = true;
        self.throttle.settle(&self.user, self.addr, Some(now_ms));
    }

    /// The password was right: the username starts afresh.
    pub fn succeeded(mut self) {
        self.settled = true;
        self.throttle.settle(&self.user, self.addr, None);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.throttle.release(&self.user, self.addr);
        }
    }
}

impl LoginThrottle {
    /// A throttle with `settings`.
    pub fn new(settings: ThrottleSettings) -> Self {
        Self {
            settings,
            records: Mutex::new(HashMap::new()),
        }
    }

    fn keys(user: &str, addr: Option<IpAddr>) -> impl Iterator<Item = Key> {
        std::iter::once(Key::User(user.to_owned())).chain(addr.map(Key::Addr))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Record>> {
        // The map holds plain counters, consistent after every statement: a panic elsewhere
        // while it was held leaves nothing half-done, so a poisoned lock is still usable.
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether an attempt for `username` from `addr` may be checked now, counting the
    /// attempts in flight as failures. Reserves nothing: use [`LoginThrottle::reserve`] to
    /// take an attempt.
    pub fn check(&self, username: &str, addr: Option<IpAddr>, now_ms: u64) -> Result<(), Blocked> {
        let records = self.lock();
        self.wait(&records, &username.to_lowercase(), addr, now_ms)
    }

    fn wait(
        &self,
        records: &HashMap<Key, Record>,
        user: &str,
        addr: Option<IpAddr>,
        now_ms: u64,
    ) -> Result<(), Blocked> {
        let wait = Self::keys(user, addr)
            .filter_map(|k| records.get(&k))
            .map(|r| {
                let past = r.blocked_until_ms.saturating_sub(now_ms);
                if r.in_flight == 0 {
                    return past;
                }
                // Were every attempt in flight to fail now, would this one have to wait?
                let failures = if self.forgiven(r, now_ms) {
                    0
                } else {
                    r.failures
                };
                past.max(self.delay_after(failures.saturating_add(r.in_flight)))
            })
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

    /// Checks an attempt for `username` from `addr` and, if it may proceed, counts it as in
    /// flight, in one step.
    pub fn reserve(
        &self,
        username: &str,
        addr: Option<IpAddr>,
        now_ms: u64,
    ) -> Result<Attempt<'_>, Blocked> {
        let user = username.to_lowercase();
        let mut records = self.lock();
        self.wait(&records, &user, addr, now_ms)?;
        self.make_room(&mut records, now_ms);
        for key in Self::keys(&user, addr) {
            let entry = records.entry(key).or_insert(Record {
                failures: 0,
                in_flight: 0,
                blocked_until_ms: 0,
                last_failure_ms: now_ms,
            });
            entry.in_flight = entry.in_flight.saturating_add(1);
        }
        Ok(Attempt {
            throttle: self,
            user,
            addr,
            settled: false,
        })
    }

    /// Quiet time after which past failures are forgotten: twice the lockout, so that
    /// sitting out one lockout does not reset the count.
    fn forgive_after(&self) -> u64 {
        self.settings.max_delay_ms.saturating_mul(2)
    }

    /// Whether `r`'s failures are old enough to be forgotten.
    fn forgiven(&self, r: &Record, now_ms: u64) -> bool {
        now_ms.saturating_sub(r.last_failure_ms) >= self.forgive_after().max(1)
            && r.blocked_until_ms <= now_ms
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

    /// Keeps the map under [`MAX_RECORDS`]: drops forgiven records, then the quietest half,
    /// never one locked out right now or with an attempt in flight.
    fn make_room(&self, records: &mut HashMap<Key, Record>, now_ms: u64) {
        if records.len() < MAX_RECORDS {
            return;
        }
        let horizon = self.forgive_after();
        records
            .retain(|_, r| r.in_flight > 0 || now_ms.saturating_sub(r.last_failure_ms) < horizon);
        if records.len() >= MAX_RECORDS {
            let mut ages: Vec<u64> = records.values().map(|r| r.last_failure_ms).collect();
            ages.sort_unstable();
            let cutoff = ages.get(ages.len() / 2).copied().unwrap_or(0);
            records.retain(|_, r| {
                r.in_flight > 0 || r.last_failure_ms > cutoff || r.blocked_until_ms > now_ms
            });
        }
    }

    /// Ends an attempt in flight: a failure at `failed_at`, or a success when `None`.
    fn settle(&self, user: &str, addr: Option<IpAddr>, failed_at: Option<u64>) {
        let mut records = self.lock();
        Self::release_in(&mut records, user, addr);
        match failed_at {
            Some(now_ms) => self.failure_in(&mut records, user, addr, now_ms),
            None => {
                let key = Key::User(user.to_owned());
                let busy = records.get(&key).is_some_and(|r| r.in_flight > 0);
                if busy {
                    // Other attempts for this user are still being checked: keep their count.
                    if let Some(r) = records.get_mut(&key) {
                        r.failures = 0;
                        r.blocked_until_ms = 0;
                    }
                } else {
                    records.remove(&key);
                }
            }
        }
    }

    /// Ends an attempt in flight without counting it.
    fn release(&self, user: &str, addr: Option<IpAddr>) {
        let mut records = self.lock();
        Self::release_in(&mut records, user, addr);
    }

    fn release_in(records: &mut HashMap<Key, Record>, user: &str, addr: Option<IpAddr>) {
        for key in Self::keys(user, addr) {
            if let Some(r) = records.get_mut(&key) {
                r.in_flight = r.in_flight.saturating_sub(1);
                if r.in_flight == 0 && r.failures == 0 {
                    records.remove(&key);
                }
            }
        }
    }

    fn failure_in(
        &self,
        records: &mut HashMap<Key, Record>,
        user: &str,
        addr: Option<IpAddr>,
        now_ms: u64,
    ) {
        self.make_room(records, now_ms);
        for key in Self::keys(user, addr) {
            let entry = records.entry(key).or_insert(Record {
                failures: 0,
                in_flight: 0,
                blocked_until_ms: 0,
                last_failure_ms: now_ms,
            });
            if self.forgiven(entry, now_ms) {
                // A quiet period as long as the lockout forgives the past.
                entry.failures = 0;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure_ms = now_ms;
            let delay = self.delay_after(entry.failures);
            entry.blocked_until_ms = now_ms.saturating_add(delay);
        }
    }

    /// Records a failed attempt that was not reserved (in tests).
    #[cfg(test)]
    fn failure(&self, username: &str, addr: Option<IpAddr>, now_ms: u64) {
        let mut records = self.lock();
        self.failure_in(&mut records, &username.to_lowercase(), addr, now_ms);
    }

    /// Records a success that was not reserved (in tests).
    #[cfg(test)]
    fn success(&self, username: &str) {
        self.lock().remove(&Key::User(username.to_lowercase()));
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
    fn attempts_in_flight_count_as_failures_for_those_after_them() {
        let th = t();
        // Four at once pass (the three free failures and one more, as one after another
        // would); the fifth waits for one of them.
        let held: Vec<_> = (0..4)
            .map(|_| {
                th.reserve("alice", IP, 0)
                    .expect("within the free attempts")
            })
            .collect();
        let blocked = th.reserve("ALICE", None, 0).unwrap_err();
        assert_eq!(blocked.retry_after_ms, 1_000);
        assert!(th.reserve("bob", IP, 0).is_err(), "the address is busy too");
        assert!(th.reserve("bob", None, 0).is_ok());
        for a in held {
            a.failed(0);
        }
        assert_eq!(
            th.check("alice", None, 0).unwrap_err().retry_after_ms,
            1_000
        );
        assert!(th.check("alice", None, 1_000).is_ok());
    }

    #[test]
    fn cancelled_attempts_release_and_success_keeps_others_in_flight() {
        let th = t();
        let a = th.reserve("alice", IP, 0).unwrap();
        drop(a);
        assert!(th.lock().is_empty(), "a dropped attempt leaves no record");
        let a = th.reserve("alice", IP, 0).unwrap();
        let b = th.reserve("alice", IP, 0).unwrap();
        th.failure("alice", IP, 0);
        a.succeeded();
        let left = th.lock().get(&Key::User("alice".into())).copied().unwrap();
        assert_eq!((left.failures, left.in_flight), (0, 1));
        b.failed(0);
        assert_eq!(
            th.lock().get(&Key::User("alice".into())).unwrap().failures,
            1
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
