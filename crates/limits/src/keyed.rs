//! State per key (a bucket or a quota counter per user, per API key), bounded in number:
//! a client cannot grow the store without limit by sending new keys.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

const SHARDS: usize = 16;

/// One shard: key to state.
type Shard<V> = RwLock<HashMap<Box<[u8]>, V>>;

/// Per-key state of type `V`, created on first use. Sixteen shards, each behind a
/// read-write lock: the common case (a key already there) takes a read lock only.
pub struct Keyed<V> {
    shards: Box<[Shard<V>]>,
    per_shard: usize,
    hasher: RandomState,
}

impl<V: Default> Keyed<V> {
    /// A store of at most about `max_keys` keys.
    pub fn new(max_keys: usize) -> Self {
        Keyed {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            per_shard: max_keys.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
        }
    }

    /// Runs `f` on `key`'s state, creating it when new. A full shard first drops the
    /// states `idle` calls worthless (a full bucket, a counter of a past period); when
    /// none is, the answer is `None` and the caller decides (fail closed: refuse).
    pub fn with<R>(
        &self,
        key: &[u8],
        idle: impl Fn(&V) -> bool,
        f: impl FnOnce(&V) -> R,
    ) -> Option<R> {
        let shard = self.shard(key)?;
        if let Some(v) = read(shard).get(key) {
            return Some(f(v));
        }
        let mut map = write(shard);
        if !map.contains_key(key) && map.len() >= self.per_shard {
            map.retain(|_, v| !idle(v));
            if map.len() >= self.per_shard {
                return None;
            }
        }
        let v = map.entry(Box::from(key)).or_default();
        Some(f(v))
    }

    /// Runs `f` on `key`'s state if there is one, creating nothing (for explanations).
    pub fn peek<R>(&self, key: &[u8], f: impl FnOnce(Option<&V>) -> R) -> R {
        match self.shard(key) {
            Some(shard) => f(read(shard).get(key)),
            None => f(None),
        }
    }

    fn shard(&self, key: &[u8]) -> Option<&Shard<V>> {
        let i = usize::try_from(self.hasher.hash_one(key)).unwrap_or(0) % SHARDS;
        self.shards.get(i)
    }

    /// How many keys are held.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| read(s).len()).sum()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::{Bucket, Throttle};

    #[test]
    fn each_key_has_its_own_bucket() {
        let t = Throttle::new(1.0, 1).unwrap();
        let store: Keyed<Bucket> = Keyed::new(100);
        let check = |k: &[u8]| {
            store
                .with(k, |b| b.is_full(5), |b| b.check(&t, 5).allowed())
                .unwrap()
        };
        assert!(check(b"alice"));
        assert!(!check(b"alice"));
        assert!(check(b"bob"));
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn a_full_store_drops_idle_keys_and_otherwise_refuses() {
        let t = Throttle::new(1.0, 1).unwrap();
        let store: Keyed<Bucket> = Keyed::new(16);
        let sec = 1_000_000_000u64;
        // Fill it with keys that took a token at t=1s: busy until t=2s.
        let mut refused = 0;
        for i in 0..1000u32 {
            let r = store.with(&i.to_be_bytes(), |b| b.is_full(sec), |b| b.check(&t, sec));
            if r.is_none() {
                refused += 1;
            }
        }
        assert!(refused > 0 && store.len() <= 16 + SHARDS);
        // At t=3s every bucket is full again: a new key takes an idle one's place.
        let now = 3 * sec;
        let new = 5000u32.to_be_bytes();
        assert!(
            store
                .with(&new, |b| b.is_full(now), |b| b.check(&t, now))
                .is_some()
        );
    }
}
