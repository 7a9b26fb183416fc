//! Password hashing with Argon2id, off the async threads and bounded.
//!
//! Hashing is deliberately expensive (about 12 ms of one core with the default OWASP
//! parameters, m = 19 MiB, t = 2, p = 1). Every hash and verification runs on tokio's
//! blocking pool behind a semaphore, so at most `max_concurrent` run at once and a login
//! flood waits in a queue instead of taking every core from proxied traffic. The queue is
//! bounded too: past `max_queued` waiting, a request is refused at once with
//! [`HashError::Busy`] (the gateway answers 429), so a flood costs neither memory nor an
//! ever longer wait.
//!
//! Verification of an unknown user runs against a dummy hash, so "no such user" and "wrong
//! password" take the same time and give the same answer. A stored hash is checked with its
//! own parameters (the PHC string carries them), so after a cost change the dummy takes the
//! parameters most stored hashes have (see [`PasswordHasherPool::with_dummy_params`]), not
//! the new ones; and a user's hash is brought to the new cost at their next login.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for HashParams {
    /// OWASP's Argon2id minimum: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Rules a new password must meet (Cognito's password policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters.
    pub min_length: usize,
    /// At least one upper-case letter.
    pub require_uppercase: bool,
    /// At least one lower-case letter.
    pub require_lowercase: bool,
    /// At least one digit.
    pub require_digit: bool,
    /// At least one character that is neither a letter nor a digit.
    pub require_symbol: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            require_uppercase: false,
            require_lowercase: false,
            require_digit: false,
            require_symbol: false,
        }
    }
}

impl PasswordPolicy {
    /// Checks `password`; the error lists every rule it breaks.
    pub fn check(&self, password: &str) -> Result<(), String> {
        let mut unmet = Vec::new();
        if password.chars().count() < self.min_length {
            unmet.push(format!("at least {} characters", self.min_length));
        }
        if password.chars().count() > 256 {
            unmet.push("at most 256 characters".to_owned());
        }
        if self.require_uppercase && !password.chars().any(char::is_uppercase) {
            unmet.push("an upper-case letter".to_owned());
        }
        if self.require_lowercase && !password.chars().any(char::is_lowercase) {
            unmet.push("a lower-case letter".to_owned());
        }
        if self.require_digit && !password.chars().any(|c| c.is_ascii_digit()) {
            unmet.push("a digit".to_owned());
        }
        if self.require_symbol && !password.chars().any(|c| !c.is_alphanumeric()) {
            unmet.push("a symbol".to_owned());
        }
        if unmet.is_empty() {
            Ok(())
        } else {
            Err(format!("the password needs {}", unmet.join(", ")))
        }
    }
}

/// Hashing errors.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The parameters are out of Argon2's range.
    #[error("invalid Argon2 parameters: {0}")]
    Params(String),
    /// Hashing failed.
    #[error("hashing failed: {0}")]
    Hash(String),
    /// The worker pool is gone (shutting down).
    #[error("password hashing is unavailable")]
    Unavailable,
    /// Every hashing slot is taken and the queue is full: refused without waiting.
    #[error("password hashing queue is full")]
    Busy,
}

/// Queue length per concurrent hash when none is configured: with the default cost the
/// last in the queue waits about 16 hashing times (some 200 ms) before its turn.
pub const QUEUE_PER_WORKER: usize = 16;

/// Hashes and verifies passwords on a bounded blocking pool.
#[derive(Debug, Clone)]
pub struct PasswordHasherPool {
    params: Params,
    permits: Arc<Semaphore>,
    /// Requests admitted (running or waiting), at most `capacity`.
    admitted: Arc<AtomicUsize>,
    capacity: usize,
    dummy: Arc<String>,
    verified: Arc<AtomicU64>,
}

/// A place in the pool held by a test (see [`PasswordHasherPool::occupy`]).
#[cfg(feature = "test-support")]
#[derive(Debug)]
pub struct Occupied {
    _admission: Admission,
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// A place among the admitted requests, given back on drop.
#[derive(Debug)]
struct Admission(Arc<AtomicUsize>);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHasherPool {
    /// A pool running at most `max_concurrent` hashes at once, with at most
    /// [`QUEUE_PER_WORKER`] × `max_concurrent` more waiting.
    pub fn new(params: HashParams, max_concurrent: usize) -> Result<Self, HashError> {
        Self::with_queue(
            params,
            max_concurrent,
            max_concurrent.max(1).saturating_mul(QUEUE_PER_WORKER),
        )
    }

    /// A pool running at most `max_concurrent` hashes at once, with at most `max_queued`
    /// more waiting; past that, requests are refused with [`HashError::Busy`].
    pub fn with_queue(
        params: HashParams,
        max_concurrent: usize,
        max_queued: usize,
    ) -> Result<Self, HashError> {
        let max_concurrent = max_concurrent.max(1);
        let (params, dummy) = params_and_dummy(&params)?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(max_concurrent)),
            admitted: Arc::new(AtomicUsize::new(0)),
            capacity: max_concurrent.saturating_add(max_queued),
            dummy: Arc::new(dummy),
            verified: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Takes a place among the admitted requests, or refuses at once when they are full.
    fn admit(&self) -> Result<Admission, HashError> {
        self.admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .map(|_| Admission(self.admitted.clone()))
            .map_err(|_| HashError::Busy)
    }

    /// Takes one place in the pool, and a hashing slot if one is free, until the returned
    /// value is dropped: for tests that need the pool full.
    #[cfg(feature = "test-support")]
    pub fn occupy(&self) -> Result<Occupied, HashError> {
        let admission = self.admit()?;
        Ok(Occupied {
            _admission: admission,
            _slot: self.permits.clone().try_acquire_owned().ok(),
        })
    }

    /// Hashes a password to a PHC string (`$argon2id$v=19$m=...`), with a random salt.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let _admission = self.admit()?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Unavailable)?;
        let params = self.params.clone();
        let password = zeroizing(password);
        tokio::task::spawn_blocking(move || hash_blocking(&params, password.as_bytes()))
            .await
            .map_err(|_| HashError::Unavailable)?
    }

    /// How many verifications have been started (for metrics and tests).
    pub fn verifications(&self) -> u64 {
        self.verified.load(Ordering::Relaxed)
    }

    /// Checks `password` against `stored` (a PHC string), or against a dummy hash when
    /// `stored` is `None`, so that an unknown user costs the same as a wrong password.
    /// Returns true only for a stored hash that matches; [`HashError::Busy`] at once when the
    /// queue is full.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let _admission = self.admit()?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Unavailable)?;
        let (hash, real) = match stored {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy.as_ref().clone(), false),
        };
        let password = zeroizing(password);
        self.verified.fetch_add(1, Ordering::Relaxed);
        let ok = tokio::task::spawn_blocking(move || {
            // The PHC string carries its own parameters; the comparison is constant-time.
            Argon2::default()
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok()
        })
        .await
        .unwrap_or(false);
        Ok(ok && real)
    }

    /// The PHC string checked for unknown users.
    pub fn dummy_hash(&self) -> &str {
        &self.dummy
    }

    /// This pool, with the dummy hash made with `params` (those of most stored hashes), so
    /// that an unknown user costs what a known one does.
    pub fn with_dummy_params(self, params: HashParams) -> Result<Self, HashError> {
        let (_, dummy) = params_and_dummy(&params)?;
        Ok(Self {
            dummy: Arc::new(dummy),
            ..self
        })
    }

    /// Whether `stored` was made with other parameters than new hashes get.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let current = HashParams {
            memory_kib: self.params.m_cost(),
            iterations: self.params.t_cost(),
            parallelism: self.params.p_cost(),
        };
        parse_params(stored) != Some(current) || !stored.starts_with("$argon2id$v=19$")
    }
}

/// The Argon2 cost parameters of a PHC string (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`).
pub fn parse_params(phc: &str) -> Option<HashParams> {
    let fields = phc.split('$').nth(3)?;
    let mut out = (None, None, None);
    for kv in fields.split(',') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "m" => out.0 = Some(v),
            "t" => out.1 = Some(v),
            "p" => out.2 = Some(v),
            _ => return None,
        }
    }
    Some(HashParams {
        memory_kib: out.0?,
        iterations: out.1?,
        parallelism: out.2?,
    })
}

/// Argon2 parameters from `params`, and the dummy hash made with them.
fn params_and_dummy(params: &HashParams) -> Result<(Params, String), HashError> {
    let params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        None,
    )
    .map_err(|e| HashError::Params(e.to_string()))?;
    let dummy = hash_blocking(&params, b"portcullis-dummy-password")?;
    Ok((params, dummy))
}

fn hash_blocking(params: &Params, password: &[u8]) -> Result<String, HashError> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Hash(e.to_string()))
}

/// A copy of a password that is wiped when dropped.
struct Zeroizing(String);

impl Zeroizing {
    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl Drop for Zeroizing {
    fn drop(&mut self) {
        // Overwrite in place; the length stays, the contents do not.
        let bytes = std::mem::take(&mut self.0).into_bytes();
        let mut bytes = bytes;
        for b in bytes.iter_mut() {
            // A volatile-free wipe is enough here: the buffer is freed right after.
            *b = 0;
        }
        std::hint::black_box(&bytes);
    }
}

fn zeroizing(s: &str) -> Zeroizing {
    Zeroizing(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasherPool {
        PasswordHasherPool::new(
            HashParams {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            2,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn hashes_verify_and_mismatches_fail() {
        let pool = cheap();
        let h = pool.hash("correct horse").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{h}");
        assert!(pool.verify("correct horse", Some(&h)).await.unwrap());
        assert!(!pool.verify("correct horsE", Some(&h)).await.unwrap());
        assert!(
            !pool.verify("correct horse", None).await.unwrap(),
            "the dummy hash never matches"
        );
        assert!(!pool.verify("x", Some("not a phc string")).await.unwrap());
        assert_ne!(h, pool.hash("correct horse").await.unwrap(), "salts differ");
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_frees_its_places() {
        let pool = PasswordHasherPool::with_queue(
            HashParams {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            1,
            2,
        )
        .unwrap();
        let h = pool.hash("pw").await.unwrap();
        // Every worker busy and every queue place taken, as under a login flood.
        let held: Vec<_> = (0..3).map(|_| pool.admit().unwrap()).collect();
        let permit = pool.permits.clone().acquire_owned().await.unwrap();
        // The bound is a guard against a hang, not a timing assertion: before the queue was
        // bounded, this waited for the permit forever.
        let refused = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            (pool.verify("pw", Some(&h)).await, pool.hash("pw").await)
        })
        .await
        .expect("a full queue answers at once");
        assert!(matches!(refused.0, Err(HashError::Busy)), "{refused:?}");
        assert!(matches!(refused.1, Err(HashError::Busy)));
        drop(held);
        drop(permit);
        assert!(
            pool.verify("pw", Some(&h)).await.unwrap(),
            "places come back"
        );
        assert_eq!(pool.admitted.load(Ordering::Acquire), 0);
    }

    #[test]
    fn phc_parameters_are_read_and_compared() {
        let pool = cheap();
        assert_eq!(
            parse_params("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
            Some(HashParams::default())
        );
        assert_eq!(parse_params("not a phc string"), None);
        assert!(!pool.needs_rehash("$argon2id$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA"));
        assert!(pool.needs_rehash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"));
        assert!(pool.needs_rehash("$argon2i$v=19$m=64,t=1,p=1$c2FsdA$aGFzaA"));
        let other = HashParams {
            memory_kib: 32,
            iterations: 2,
            parallelism: 1,
        };
        let moved = cheap().with_dummy_params(other).unwrap();
        assert_eq!(parse_params(moved.dummy_hash()), Some(other));
    }

    #[test]
    fn the_dummy_hash_has_the_configured_cost() {
        let params = HashParams {
            memory_kib: 96,
            iterations: 3,
            parallelism: 2,
        };
        let pool = PasswordHasherPool::new(params, 1).unwrap();
        assert!(
            pool.dummy_hash()
                .starts_with("$argon2id$v=19$m=96,t=3,p=2$"),
            "{}",
            pool.dummy_hash()
        );
    }

    #[test]
    fn the_policy_lists_every_unmet_rule() {
        let strict = PasswordPolicy {
            min_length: 10,
            require_uppercase: true,
            require_lowercase: true,
            require_digit: true,
            require_symbol: true,
        };
        assert_eq!(
            strict.check("abc").unwrap_err(),
            "the password needs at least 10 characters, an upper-case letter, a digit, a symbol"
        );
        assert!(strict.check("Correct-Horse-7").is_ok());
        assert!(PasswordPolicy::default().check("1234567").is_err());
        assert!(PasswordPolicy::default().check("12345678").is_ok());
    }

    #[test]
    fn default_parameters_are_owasp_minimum() {
        assert_eq!(
            HashParams::default(),
            HashParams {
                memory_kib: 19456,
                iterations: 2,
                parallelism: 1
            }
        );
    }
}
