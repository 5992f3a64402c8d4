-- Tenants as the accounts surface (seed 002) shows them: times to the
-- millisecond and who made and last changed them (CRNs); their API keys,
-- stored as keyed hashes only; and their members. This migration also gives
-- every tenant a fresh base62 id, in Go (store/tenants_migrate.go).
ALTER TABLE tenants ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN modified_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE tenants ADD COLUMN modified_by TEXT NOT NULL DEFAULT '';
UPDATE tenants SET created_ms = created_at * 1000, modified_ms = updated_at * 1000;

CREATE TABLE api_keys (
    key_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    TEXT NOT NULL REFERENCES tenants (tenant_id),
    name         TEXT NOT NULL COLLATE NOCASE,
    role         TEXT NOT NULL,
    enabled      INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    -- HMAC-SHA-256 of the secret under a key derived from the server's
    -- token key, hex; the secret itself is never stored
    secret_hash  TEXT NOT NULL UNIQUE,
    created_ms   INTEGER NOT NULL,
    modified_ms  INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    modified_by  TEXT NOT NULL,
    version      INTEGER NOT NULL DEFAULT 1,
    last_used_ms INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, name)
);

CREATE TABLE account_members (
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    user_id     INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    modified_by TEXT NOT NULL,
    version     INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX account_members_user ON account_members (user_id);
