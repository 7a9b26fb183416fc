//! Password hashing with Argon2id, off the async threads and bounded.
//!
//! Hashing is deliberately expensive (about 12 ms of one core with the default OWASP
//! parameters, m = 19 MiB, t = 2, p = 1). Every hash and verification runs on tokio's
//! blocking pool behind a semaphore, so at most `max_concurrent` run at once and a login
//! flood waits in a queue instead of taking every core from proxied traffic.
//!
//! Verification of an unknown user runs against a dummy hash with the same parameters, so
//! "no such user" and "wrong password" take the same time and give the same answer.

use std::sync::Arc;

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
}

/// Hashes and verifies passwords on a bounded blocking pool.
#[derive(Debug, Clone)]
pub struct PasswordHasherPool {
    params: Params,
    permits: Arc<Semaphore>,
    dummy: Arc<String>,
}

impl PasswordHasherPool {
    /// A pool running at most `max_concurrent` hashes at once.
    pub fn new(params: HashParams, max_concurrent: usize) -> Result<Self, HashError> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| HashError::Params(e.to_string()))?;
        let dummy = hash_blocking(&params, b"portcullis-dummy-password")?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy: Arc::new(dummy),
        })
    }

    /// Hashes a password to a PHC string (`$argon2id$v=19$m=...`), with a random salt.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
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

    /// Checks `password` against `stored` (a PHC string), or against a dummy hash when
    /// `stored` is `None`, so that an unknown user costs the same as a wrong password.
    /// Returns true only for a stored hash that matches.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let (hash, real) = match stored {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy.as_ref().clone(), false),
        };
        let password = zeroizing(password);
        let ok = tokio::task::spawn_blocking(move || {
            // The PHC string carries its own parameters; the comparison is constant-time.
            Argon2::default()
                .verify_password(password.as_bytes(), hash.as_str())
                .is_ok()
        })
        .await
        .unwrap_or(false);
        ok && real
    }
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
        assert!(pool.verify("correct horse", Some(&h)).await);
        assert!(!pool.verify("correct horsE", Some(&h)).await);
        assert!(
            !pool.verify("correct horse", None).await,
            "the dummy hash never matches"
        );
        assert!(!pool.verify("x", Some("not a phc string")).await);
        assert_ne!(h, pool.hash("correct horse").await.unwrap(), "salts differ");
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
