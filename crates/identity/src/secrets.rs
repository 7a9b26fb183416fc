//! App-client secrets.
//!
//! A secret is 256 random bits, base64url, shown once when the client is created. Two forms
//! are stored:
//! - `secret_hash`: `sha256:<hex>` of the secret. Checking a presented secret (HTTP Basic or
//!   the form at the token endpoint, `client_secret` at the JSON login) compares hashes in
//!   constant time. A fast hash is enough: the secret is random and 256 bits long, so there
//!   is no dictionary to try, and a slow hash would make every machine-to-machine token
//!   request cost a password hash.
//! - `secret_sealed`: the secret encrypted with AES-256-GCM under the pool's secrets key (a
//!   file readable only by the gateway's user), with the client id as associated data. Only
//!   Cognito's `SECRET_HASH` needs it: that value is an HMAC keyed by the secret itself, so
//!   it cannot be checked against a hash. A database copied without the key file yields no
//!   secret.

use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::model::Secret;
use crate::store::{getrandom_fill, hex, sha256_hex};

/// Prefix of the stored hash form.
const HASH_PREFIX: &str = "sha256:";
/// Prefix of the sealed form (the format version).
const SEALED_PREFIX: &str = "v1:";

/// A new client secret.
pub fn new_client_secret() -> Secret<String> {
    let mut bytes = [0u8; 32];
    getrandom_fill(&mut bytes);
    Secret::new(URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored hash form of a secret.
pub fn hash_secret(secret: &str) -> String {
    format!("{HASH_PREFIX}{}", sha256_hex(secret.as_bytes()))
}

/// Whether `presented` is the secret `stored` (a [`hash_secret`] value) was made from. The
/// comparison takes the same time wherever the hashes differ.
pub fn verify_secret(stored: &str, presented: &str) -> bool {
    let candidate = hash_secret(presented);
    constant_time::verify_slices_are_equal(stored.as_bytes(), candidate.as_bytes()).is_ok()
}

/// Cognito's `SECRET_HASH`: base64 of HMAC-SHA256 keyed by the client secret over the
/// username followed by the client id.
pub fn cognito_secret_hash(secret: &str, username: &str, client_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(username.as_bytes());
    ctx.update(client_id.as_bytes());
    STANDARD.encode(ctx.sign().as_ref())
}

/// Whether `presented` is the `SECRET_HASH` for this secret, username and client, compared
/// in constant time.
pub fn verify_cognito_secret_hash(
    secret: &str,
    username: &str,
    client_id: &str,
    presented: &str,
) -> bool {
    let expected = cognito_secret_hash(secret, username, client_id);
    constant_time::verify_slices_are_equal(expected.as_bytes(), presented.as_bytes()).is_ok()
}

/// Errors of the secrets key file.
#[derive(Debug, thiserror::Error)]
pub enum SecretsKeyError {
    /// The file could not be read or created.
    #[error("secrets key {path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The file is readable or writable by other users.
    #[error(
        "secrets key {path} is accessible to other users (mode {mode:o}); run `chmod 600 {path}`"
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file does not hold a key.
    #[error("secrets key {path} is not 64 hex digits")]
    Malformed {
        /// The file.
        path: PathBuf,
    },
}

/// The key that seals client secrets.
pub struct SecretsKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsKey(***)")
    }
}

impl SecretsKey {
    /// Reads the key at `path`, creating it (mode 0600, 256 random bits) when the file does
    /// not exist; the flag says whether it was created. A file that other users can read is
    /// refused. Creation is atomic: the key is written to a private temporary file that is
    /// then linked into place, so a process starting at the same moment reads either no file
    /// or the whole key, and one of two racing creators wins.
    pub fn open_or_create(path: &Path) -> Result<(Self, bool), SecretsKeyError> {
        use std::io::Write as _;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let io = |reason: String| SecretsKeyError::Io {
            path: path.to_owned(),
            reason,
        };
        let mut created = false;
        if !path.exists() {
            if let Some(dir) = path.parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|e| io(e.to_string()))?;
            }
            let mut bytes = [0u8; 32];
            getrandom_fill(&mut bytes);
            let mut suffix = [0u8; 8];
            getrandom_fill(&mut suffix);
            let mut tmp = path.as_os_str().to_owned();
            tmp.push(format!(".{}.tmp", hex(&suffix)));
            let tmp = PathBuf::from(tmp);
            let written = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .and_then(|mut f| {
                    f.write_all(format!("{}\n", hex(&bytes)).as_bytes())?;
                    f.sync_all()
                });
            let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => created = true,
                // Another process created it first: read theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io(e.to_string())),
            }
        }
        let meta = std::fs::metadata(path).map_err(|e| io(e.to_string()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretsKeyError::Permissions {
                path: path.to_owned(),
                mode,
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| io(e.to_string()))?;
        let malformed = || SecretsKeyError::Malformed {
            path: path.to_owned(),
        };
        let digits = text.trim();
        if digits.len() != 64 {
            return Err(malformed());
        }
        let mut bytes = [0u8; 32];
        for (i, slot) in bytes.iter_mut().enumerate() {
            let pair = digits.get(i * 2..i * 2 + 2).ok_or_else(malformed)?;
            *slot = u8::from_str_radix(pair, 16).map_err(|_| malformed())?;
        }
        Ok((Self::from_bytes(&bytes).ok_or_else(malformed)?, created))
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).ok()?;
        Some(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// Seals `secret` for `client_id`.
    pub fn seal(&self, client_id: &str, secret: &str) -> Option<String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom_fill(&mut nonce);
        let mut data = secret.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(client_id.as_bytes()),
                &mut data,
            )
            .ok()?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&data);
        Some(format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(blob)))
    }

    /// Opens a sealed secret of `client_id`; `None` if it was sealed under another key, for
    /// another client, or altered.
    pub fn open(&self, client_id: &str, sealed: &str) -> Option<Secret<String>> {
        let blob = URL_SAFE_NO_PAD
            .decode(sealed.strip_prefix(SEALED_PREFIX)?)
            .ok()?;
        let nonce: [u8; NONCE_LEN] = blob.get(..NONCE_LEN)?.try_into().ok()?;
        let mut data = blob.get(NONCE_LEN..)?.to_vec();
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(client_id.as_bytes()),
                &mut data,
            )
            .ok()?;
        String::from_utf8(plain.to_vec()).ok().map(Secret::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_same_secret() {
        let s = new_client_secret();
        let h = hash_secret(s.expose());
        assert!(h.starts_with("sha256:") && h.len() == 71);
        assert!(verify_secret(&h, s.expose()));
        assert!(!verify_secret(&h, "other"));
        assert!(!verify_secret("sha256:", s.expose()));
        assert_eq!(s.expose().len(), 43);
    }

    #[test]
    fn cognito_secret_hash_matches_the_documented_construction() {
        // HMAC-SHA256(key = "secret", message = "alice" + "client1"), base64: computed
        // independently with Python's hmac module.
        assert_eq!(
            cognito_secret_hash("secret", "alice", "client1"),
            "1f+jIZ5jrvd9T9LKNEBwDVXuGhIxTem62DTEPkKb29k="
        );
        assert!(verify_cognito_secret_hash(
            "secret",
            "alice",
            "client1",
            "1f+jIZ5jrvd9T9LKNEBwDVXuGhIxTem62DTEPkKb29k="
        ));
        assert!(!verify_cognito_secret_hash(
            "secret",
            "bob",
            "client1",
            "1f+jIZ5jrvd9T9LKNEBwDVXuGhIxTem62DTEPkKb29k="
        ));
    }

    #[test]
    fn sealed_secrets_open_only_for_their_client_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/secrets.key");
        let (key, created) = SecretsKey::open_or_create(&path).unwrap();
        assert!(created);
        let sealed = key.seal("c1", "s3cret").unwrap();
        assert!(!sealed.contains("s3cret"));
        assert_eq!(key.open("c1", &sealed).unwrap().expose(), "s3cret");
        assert!(key.open("c2", &sealed).is_none());
        // The same file reopens to the same key.
        let (again, created) = SecretsKey::open_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(again.open("c1", &sealed).unwrap().expose(), "s3cret");
        let other = SecretsKey::from_bytes(&[7; 32]).unwrap();
        assert!(other.open("c1", &sealed).is_none());
        let mut tampered = sealed.clone();
        tampered.push('A');
        assert!(key.open("c1", &tampered).is_none());
    }

    #[test]
    fn key_file_is_private_and_checked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.key");
        SecretsKey::open_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = SecretsKey::open_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "not a key").unwrap();
        let err = SecretsKey::open_or_create(&path).unwrap_err().to_string();
        assert!(err.contains("64 hex digits"), "{err}");
    }
}
