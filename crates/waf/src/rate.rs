//! Counters for rate-based rules: requests per aggregation key over a sliding window.
//!
//! The window is cut into [`SLOTS`] slots; a key's rate is the sum of the slots inside the
//! window ending now, so the estimate is never older than one slot (a tenth of the window).
//! Counters live outside the compiled web ACL ([`RateRegistry`]) so that they survive a
//! reload that keeps the rule.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, Weak};

/// Slots per window.
pub const SLOTS: usize = 10;
/// Keys tracked per rule; beyond this, keys whose window has passed are dropped, and then
/// new keys are not counted until room frees up (AWS tracks at most 10,000 per rule).
pub const MAX_KEYS: usize = 100_000;
const SHARDS: usize = 16;

/// The counters of one rate-based rule.
#[derive(Debug)]
pub struct RateCounters {
    window_ms: u64,
    hasher: RandomState,
    shards: [Mutex<HashMap<u64, Slots>>; SHARDS],
}

#[derive(Debug, Clone, Copy)]
struct Slots {
    /// The slot number (`now / slot_ms`) of the newest slot.
    head: u64,
    counts: [u32; SLOTS],
}

impl RateCounters {
    /// Counters for a window of `window_sec` seconds.
    pub fn new(window_sec: u64) -> Self {
        Self {
            window_ms: window_sec.max(1) * 1000,
            hasher: RandomState::new(),
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }

    fn slot_ms(&self) -> u64 {
        (self.window_ms / SLOTS as u64).max(1)
    }

    /// Counts one request for `key` at `now_ms` and returns the key's requests in the
    /// window, this one included.
    pub fn hit(&self, key: &[u8], now_ms: u64) -> u64 {
        let hash = self.hasher.hash_one(key);
        let slot = now_ms / self.slot_ms();
        let Some(shard) = self
            .shards
            .get(usize::try_from(hash % SHARDS as u64).unwrap_or(0))
        else {
            return 0;
        };
        let mut map = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !map.contains_key(&hash) && map.len() >= MAX_KEYS / SHARDS {
            map.retain(|_, s| slot.saturating_sub(s.head) < SLOTS as u64);
            if map.len() >= MAX_KEYS / SHARDS {
                return 0;
            }
        }
        let s = map.entry(hash).or_insert(Slots {
            head: slot,
            counts: [0; SLOTS],
        });
        s.advance(slot);
        if let Some(c) = s
            .counts
            .get_mut(usize::try_from(slot % SLOTS as u64).unwrap_or(0))
        {
            *c = c.saturating_add(1);
        }
        s.counts.iter().map(|c| u64::from(*c)).sum()
    }
}

impl Slots {
    /// Moves the head to `slot`, zeroing the slots that fell out of the window.
    fn advance(&mut self, slot: u64) {
        if slot <= self.head {
            return;
        }
        let gap = slot - self.head;
        if gap >= SLOTS as u64 {
            self.counts = [0; SLOTS];
        } else {
            for n in 1..=gap {
                let i = usize::try_from((self.head + n) % SLOTS as u64).unwrap_or(0);
                if let Some(c) = self.counts.get_mut(i) {
                    *c = 0;
                }
            }
        }
        self.head = slot;
    }
}

/// Where rate counters are kept across reloads: by web ACL, rule and window.
#[derive(Debug, Default, Clone)]
pub struct RateRegistry {
    held: Arc<Mutex<HashMap<String, Weak<RateCounters>>>>,
}

impl RateRegistry {
    /// The counters for `id` (web ACL and rule) with this window: the same ones as the
    /// previous configuration had, while any compiled web ACL still holds them.
    pub fn counters(&self, id: &str, window_sec: u64) -> Arc<RateCounters> {
        let key = format!("{id}\u{0}{window_sec}");
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.retain(|_, w| w.strong_count() > 0);
        if let Some(live) = held.get(&key).and_then(Weak::upgrade) {
            return live;
        }
        let fresh = Arc::new(RateCounters::new(window_sec));
        held.insert(key, Arc::downgrade(&fresh));
        fresh
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    #[test]
    fn counts_within_the_window_and_forgets_after_it() {
        let c = RateCounters::new(60);
        for i in 0..5 {
            assert_eq!(c.hit(b"1.2.3.4", 1_000 + i), i + 1);
        }
        assert_eq!(c.hit(b"5.6.7.8", 1_000), 1, "keys are counted apart");
        // 30 s later the first five are still inside the window.
        assert_eq!(c.hit(b"1.2.3.4", 31_000), 6);
        // A full window after the last hit, nothing is left but this one.
        assert_eq!(c.hit(b"1.2.3.4", 31_000 + 60_000), 1);
    }

    #[test]
    fn old_slots_leave_the_window_one_by_one() {
        let c = RateCounters::new(60); // 6 s slots
        c.hit(b"k", 0);
        c.hit(b"k", 6_000);
        assert_eq!(c.hit(b"k", 59_000), 3);
        // At 60 s the slot of t=0 has left the window.
        assert_eq!(c.hit(b"k", 60_000), 3);
    }

    #[test]
    fn the_registry_hands_back_live_counters() {
        let reg = RateRegistry::default();
        let a = reg.counters("acl/rule", 300);
        a.hit(b"k", 0);
        let b = reg.counters("acl/rule", 300);
        assert_eq!(b.hit(b"k", 1), 2, "same counters across a reload");
        let other = reg.counters("acl/rule", 60);
        assert_eq!(other.hit(b"k", 1), 1, "a new window starts afresh");
        drop((a, b));
        let c = reg.counters("acl/rule", 300);
        assert_eq!(c.hit(b"k", 2), 1, "dropped counters are not resurrected");
    }
}
