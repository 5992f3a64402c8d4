-- Tenants, users, and the roles and permissions granted to users.
-- Role and permission catalogues live in code (package dialer); these tables
-- record which of them each user holds.

CREATE TABLE tenants (
    tenant_id  TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    type       TEXT NOT NULL DEFAULT 'org' CHECK (type IN ('org', 'individual')),
    is_default INTEGER NOT NULL DEFAULT 0,
    version    INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE users (
    user_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id),
    username      TEXT NOT NULL COLLATE NOCASE UNIQUE,
    password_hash TEXT NOT NULL,
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    address       TEXT NOT NULL DEFAULT '',
    company       TEXT NOT NULL DEFAULT '',
    country_id    INTEGER NOT NULL DEFAULT 0,
    timezone_id   INTEGER NOT NULL DEFAULT 0,
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_by    INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    -- bumped on every password change; tokens issued before carry the old value
    password_epoch INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX users_tenant ON users (tenant_id, user_id);

CREATE TABLE user_roles (
    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id),
    user_id   INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    role_id   INTEGER NOT NULL,
    PRIMARY KEY (user_id, role_id)
);

CREATE TABLE user_permissions (
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id),
    user_id       INTEGER NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    permission_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, permission_id)
);
