-- API keys: the value only as its SHA-256 digest (hex), a four-character hint to tell keys
-- apart, and the usage plans each key is attached to (plans themselves live in the config).
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    value_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1,
    description TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE api_key_plans (
    key_id TEXT NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    plan TEXT NOT NULL,
    attached_at INTEGER NOT NULL,
    PRIMARY KEY (key_id, plan)
);
