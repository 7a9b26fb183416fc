//! API keys, as API Gateway has them: an alphanumeric value of 20 to 128 characters that a
//! client sends in `x-api-key` (or that a Lambda authorizer returns as `usageIdentifierKey`),
//! attached to usage plans that meter it.
//!
//! The pool stores a key's value only as its SHA-256 digest: keys are random and long (a
//! generated one has 238 bits), so a fast hash is as safe as a slow one, and a lookup costs
//! one digest. The gateway holds every key in memory ([`ApiKeyRing`]), reloaded from the
//! database periodically, so an unknown key never reaches the database. A lookup finds
//! candidates by the digest's first eight bytes and compares whole digests in constant time.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};

/// Characters of a generated key.
pub const GENERATED_LEN: usize = 40;
/// Fewest characters of a key value (API Gateway's bound).
pub const MIN_LEN: usize = 20;
/// Most characters of a key value (API Gateway's bound).
pub const MAX_LEN: usize = 128;
/// Most characters of a key's name (API Gateway's bound).
pub const MAX_NAME_LEN: usize = 1024;
/// Characters of the value kept in the clear, to tell keys apart in listings.
pub const HINT_LEN: usize = 4;

const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A new random key value: [`GENERATED_LEN`] alphanumeric characters from the operating
/// system's generator (rejection sampling, so every character is equally likely).
pub fn generate_value() -> String {
    let mut out = String::with_capacity(GENERATED_LEN);
    let mut buf = [0u8; 64];
    while out.len() < GENERATED_LEN {
        crate::store::getrandom_fill(&mut buf);
        for b in buf {
            // 248 = 4 × 62: bytes at or above it would favour the first characters.
            if b < 248
                && out.len() < GENERATED_LEN
                && let Some(&c) = ALPHABET.get(usize::from(b % 62))
            {
                out.push(char::from(c));
            }
        }
    }
    out
}

/// Whether `value` has the shape of a key: 20 to 128 ASCII letters and digits.
pub fn valid_value(value: &str) -> bool {
    (MIN_LEN..=MAX_LEN).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The digest a key is stored and found by.
pub fn value_digest(value: &str) -> [u8; 32] {
    let d = digest(&SHA256, value.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The first characters of `value`, shown in listings.
pub fn hint(value: &str) -> String {
    value.chars().take(HINT_LEN).collect()
}

/// A key's membership of a usage plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanMembership {
    /// The plan's name (as in the config's `usage_plans`).
    pub plan: String,
    /// When the key was attached (Unix seconds): a plan's quota `offset` applies in the
    /// period that holds it.
    pub attached_at: i64,
}

/// An API key as stored (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id: ten lower-case letters and digits, as API Gateway's.
    pub id: String,
    /// Its name (unique).
    pub name: String,
    /// The first characters of its value.
    pub hint: String,
    /// A disabled key is refused like an unknown one.
    pub enabled: bool,
    /// Free text.
    pub description: String,
    /// The usage plans it is attached to, by name.
    pub plans: Vec<PlanMembership>,
    /// Unix time created.
    pub created_at: i64,
    /// Unix time of the last change (enabled, disabled, rotated, attached, detached).
    pub updated_at: i64,
}

impl ApiKey {
    /// When the key joined `plan`, if it is attached to it.
    pub fn attached_to(&self, plan: &str) -> Option<i64> {
        self.plans
            .iter()
            .find(|m| m.plan == plan)
            .map(|m| m.attached_at)
    }
}

/// A new id: ten lower-case letters and digits.
pub fn new_id() -> String {
    let mut out = String::with_capacity(10);
    let mut buf = [0u8; 32];
    while out.len() < 10 {
        crate::store::getrandom_fill(&mut buf);
        for b in buf {
            // 252 = 7 × 36.
            if b < 252
                && out.len() < 10
                && let Some(&c) = b"abcdefghijklmnopqrstuvwxyz0123456789".get(usize::from(b % 36))
            {
                out.push(char::from(c));
            }
        }
    }
    out
}

/// A key with its value's digest.
type Entry = ([u8; 32], Arc<ApiKey>);

/// Every key, in memory, found by value.
#[derive(Debug, Default)]
pub struct ApiKeyRing {
    /// By the digest's first eight bytes.
    by_prefix: HashMap<u64, Vec<Entry>>,
    len: usize,
}

fn prefix(d: &[u8; 32]) -> u64 {
    let mut p = [0u8; 8];
    p.copy_from_slice(d.get(..8).unwrap_or(&[0; 8]));
    u64::from_le_bytes(p)
}

impl ApiKeyRing {
    /// A ring of `keys`, each with its value's digest.
    pub fn new(keys: impl IntoIterator<Item = ([u8; 32], ApiKey)>) -> Self {
        let mut ring = ApiKeyRing::default();
        for (d, k) in keys {
            ring.by_prefix
                .entry(prefix(&d))
                .or_default()
                .push((d, Arc::new(k)));
            ring.len += 1;
        }
        ring
    }

    /// The key whose value is `value` (enabled or not), if any. A value that cannot be a
    /// key is not looked up.
    pub fn find(&self, value: &str) -> Option<&Arc<ApiKey>> {
        if !valid_value(value) {
            return None;
        }
        let d = value_digest(value);
        self.by_prefix
            .get(&prefix(&d))?
            .iter()
            .find(|(stored, _)| verify_slices_are_equal(stored, &d).is_ok())
            .map(|(_, k)| k)
    }

    /// Every key, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<ApiKey>> {
        self.by_prefix.values().flatten().map(|(_, k)| k)
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn key(id: &str) -> ApiKey {
        ApiKey {
            id: id.into(),
            name: id.into(),
            hint: String::new(),
            enabled: true,
            description: String::new(),
            plans: vec![],
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn generated_values_are_keys_and_differ() {
        let a = generate_value();
        let b = generate_value();
        assert_eq!(a.len(), GENERATED_LEN);
        assert!(valid_value(&a) && valid_value(&b));
        assert_ne!(a, b);
        let id = new_id();
        assert_eq!(id.len(), 10);
        assert!(
            id.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
    }

    #[test]
    fn value_shape() {
        assert!(valid_value(&"a".repeat(20)));
        assert!(valid_value(&"Z9".repeat(64)));
        assert!(!valid_value(&"a".repeat(19)));
        assert!(!valid_value(&"a".repeat(129)));
        assert!(!valid_value("abcdefghij-klmnopqrstuvwxyz"));
        assert!(!valid_value("ábcdefghijklmnopqrstuvwxyz"));
        assert!(!valid_value(""));
    }

    #[test]
    fn the_ring_finds_keys_by_value_only() {
        let v1 = generate_value();
        let v2 = generate_value();
        let ring = ApiKeyRing::new([
            (value_digest(&v1), key("one")),
            (value_digest(&v2), key("two")),
        ]);
        assert_eq!(ring.len(), 2);
        assert_eq!(ring.find(&v1).unwrap().id, "one");
        assert_eq!(ring.find(&v2).unwrap().id, "two");
        assert!(ring.find(&generate_value()).is_none());
        assert!(ring.find(&v1.to_lowercase()).is_none() || v1 == v1.to_lowercase());
        assert!(ring.find(&v1[..39]).is_none());
        assert!(ring.find("").is_none());
    }

    #[test]
    fn digests_sharing_a_prefix_are_told_apart() {
        let mut d1 = [7u8; 32];
        let d2 = d1;
        d1[31] = 8;
        let ring = ApiKeyRing::new([(d1, key("a")), (d2, key("b"))]);
        assert_eq!(ring.by_prefix.len(), 1);
        let found = ring.by_prefix.get(&prefix(&d2)).unwrap();
        assert_eq!(found.len(), 2);
    }
}
