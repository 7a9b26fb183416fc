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
