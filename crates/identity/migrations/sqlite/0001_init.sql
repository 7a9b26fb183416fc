-- Portcullis identity schema, version 1 (SQLite).
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sub TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL UNIQUE,
    enabled INTEGER NOT NULL DEFAULT 1,
    password_hash TEXT NOT NULL,
    email TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    signed_out_at INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE groups (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    precedence INTEGER NOT NULL DEFAULT 0,
    role TEXT,
    created_at INTEGER NOT NULL
);
CREATE TABLE memberships (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_name)
);
CREATE TABLE user_limits (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    rate DOUBLE PRECISION NOT NULL,
    burst INTEGER NOT NULL,
    quota INTEGER,
    quota_period TEXT
);
CREATE TABLE app_clients (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT,
    auth_flows TEXT NOT NULL,
    scopes TEXT NOT NULL,
    access_ttl INTEGER NOT NULL,
    id_ttl INTEGER NOT NULL,
    refresh_ttl INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    origin_jti TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE TABLE revoked_families (
    family_id TEXT PRIMARY KEY,
    origin_jti TEXT,
    revoked_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_families_origin ON revoked_families (origin_jti);
CREATE TABLE revoked_jtis (
    jti TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
);
