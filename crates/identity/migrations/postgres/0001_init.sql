-- Portcullis identity schema, version 1 (PostgreSQL).
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    sub TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL UNIQUE,
    enabled BIGINT NOT NULL DEFAULT 1,
    password_hash TEXT NOT NULL,
    email TEXT,
    attributes TEXT NOT NULL DEFAULT '{}',
    signed_out_at BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE groups (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    precedence BIGINT NOT NULL DEFAULT 0,
    role TEXT,
    created_at BIGINT NOT NULL
);
CREATE TABLE memberships (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_name TEXT NOT NULL REFERENCES groups(name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_name)
);
CREATE TABLE user_limits (
    user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    rate DOUBLE PRECISION NOT NULL,
    burst BIGINT NOT NULL,
    quota BIGINT,
    quota_period TEXT
);
CREATE TABLE app_clients (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT,
    auth_flows TEXT NOT NULL,
    scopes TEXT NOT NULL,
    access_ttl BIGINT NOT NULL,
    id_ttl BIGINT NOT NULL,
    refresh_ttl BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    origin_jti TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE TABLE revoked_families (
    family_id TEXT PRIMARY KEY,
    origin_jti TEXT,
    revoked_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_families_origin ON revoked_families (origin_jti);
CREATE TABLE revoked_jtis (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_pem TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);
