//! The verified-token cache: repeated requests with the same token skip the signature check;
//! and the refused-token cache: a token refused for what its bytes say (a bad signature, a
//! wrong issuer) is refused again without the signature check, for as long as the key set
//! it was checked against is current.
//!
//! Keyed by the SHA-256 of the exact token bytes (a different byte is a different token; no
//! one can make two tokens collide). An entry never outlives the token's `exp`, is dropped
//! when its signing key leaves the key set (retirement, rotation out of the JWKS), and the
//! revocation check runs on every hit, so a revoked token stops working at once. Memory is
//! bounded: sixteen shards of a fixed number of entries; a full shard drops an arbitrary
//! entry (expired ones first).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex};

use super::Principal;

const SHARDS: usize = 16;

/// The digest is uniformly distributed already: its first bytes are the hash.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut b = [0u8; 8];
        for (d, s) in b.iter_mut().zip(bytes) {
            *d = *s;
        }
        self.0 = u64::from_le_bytes(b);
    }
}

type Shard<V> = HashMap<[u8; 32], V, BuildHasherDefault<DigestHasher>>;

/// A bounded map from token digests to `V`, in sixteen locked shards.
#[derive(Debug)]
pub struct ShardedCache<V> {
    shards: Vec<Mutex<Shard<V>>>,
    per_shard: usize,
}

/// Verified tokens and their principals.
pub type TokenCache = ShardedCache<Arc<Principal>>;

impl std::fmt::Debug for DigestHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DigestHasher")
    }
}

/// The cache key of a token.
pub fn key(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

impl<V: Clone> ShardedCache<V> {
    /// A cache of at most `entries` values (0 disables it).
    pub fn new(entries: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: entries.div_ceil(SHARDS),
        }
    }

    fn shard(&self, key: &[u8; 32]) -> Option<&Mutex<Shard<V>>> {
        self.shards.get(usize::from(key[31]) % SHARDS)
    }

    /// The value for `key` if `valid` says it still holds (otherwise it is dropped).
    pub fn get(&self, key: &[u8; 32], valid: impl Fn(&V) -> bool) -> Option<V> {
        if self.per_shard == 0 {
            return None;
        }
        let mut shard = self.shard(key)?.lock().ok()?;
        let hit = shard.get(key)?.clone();
        if !valid(&hit) {
            shard.remove(key);
            return None;
        }
        Some(hit)
    }

    /// Remembers a value. A full shard first drops what `stale` marks, then an arbitrary
    /// entry.
    pub fn insert(&self, key: [u8; 32], value: V, stale: impl Fn(&V) -> bool) {
        if self.per_shard == 0 {
            return;
        }
        let Some(Ok(mut shard)) = self.shard(&key).map(|s| s.lock()) else {
            return;
        };
        if shard.len() >= self.per_shard {
            shard.retain(|_, v| !stale(v));
            if shard.len() >= self.per_shard
                && let Some(victim) = shard.keys().next().copied()
            {
                shard.remove(&victim);
            }
        }
        shard.insert(key, value);
    }

    /// Entries held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|s| s.len()).unwrap_or(0))
            .sum()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
