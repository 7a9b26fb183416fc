-- Confidential app clients: the secret sealed under the pool's secrets key, for Cognito's
-- SECRET_HASH (secret_hash keeps the SHA-256 used for every other check).
ALTER TABLE app_clients ADD COLUMN secret_sealed TEXT;
