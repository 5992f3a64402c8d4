-- Compliance: do-not-call lists (a tenant's, or platform-wide with a NULL
-- tenant), their numbers (E.164, optional expiry), the opt-outs callers
-- made by key press, each tenant's calling window and redial limit, the
-- lists a campaign or transmission names, the campaign's window override,
-- and per transmission how it was suppressed or deferred.

CREATE TABLE dnc_lists (
    dnc_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT REFERENCES tenants (tenant_id) ON DELETE CASCADE, -- NULL: platform-wide
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    is_default  INTEGER NOT NULL DEFAULT 0,
    created_by  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX dnc_lists_tenant ON dnc_lists (tenant_id, dnc_id);

-- number is the E.164 number packed as an integer (dialer.DNCKey): half the
-- size of text in the table and its key, and the engine's map key.
CREATE TABLE dnc_numbers (
    dnc_id     INTEGER NOT NULL REFERENCES dnc_lists (dnc_id) ON DELETE CASCADE,
    number     INTEGER NOT NULL,
    expires_at INTEGER NOT NULL DEFAULT 0, -- Unix s; 0 never
    source     TEXT NOT NULL DEFAULT 'api', -- api, import, opt-out
    created_at INTEGER NOT NULL,
    PRIMARY KEY (dnc_id, number)
) WITHOUT ROWID;

CREATE TABLE dnc_optouts (
    optout_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    dnc_id          INTEGER NOT NULL,
    number          TEXT NOT NULL,
    spool_id        INTEGER NOT NULL DEFAULT 0,
    transmission_id INTEGER NOT NULL DEFAULT 0,
    campaign_id     INTEGER NOT NULL DEFAULT 0,
    digit           TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
);
CREATE INDEX dnc_optouts_spool ON dnc_optouts (spool_id);

CREATE TABLE tenant_compliance (
    tenant_id    TEXT PRIMARY KEY REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    window_start INTEGER NOT NULL DEFAULT 480,
    window_end   INTEGER NOT NULL DEFAULT 1260,
    window_days  INTEGER NOT NULL DEFAULT 127,
    redial_limit INTEGER NOT NULL DEFAULT 3,
    updated_by   INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL
);

-- The lists a campaign (campaign_id) or a single transmission
-- (transmission_id) names; the other id is 0.
CREATE TABLE dnc_uses (
    campaign_id     INTEGER NOT NULL DEFAULT 0,
    transmission_id INTEGER NOT NULL DEFAULT 0,
    dnc_id          INTEGER NOT NULL REFERENCES dnc_lists (dnc_id) ON DELETE CASCADE,
    PRIMARY KEY (campaign_id, transmission_id, dnc_id)
) WITHOUT ROWID;

-- window_override: the campaign's own window replaces the tenant's default
-- one; who set it and when are kept for the record.
ALTER TABLE campaigns ADD COLUMN window_override INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN window_override_by INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN window_override_at INTEGER NOT NULL DEFAULT 0;

-- suppressed_list: the list that stopped it (0: an opt-out held in memory
-- before it reached a stored list); NULL when not suppressed. deferrals:
-- how many times it waited for its calling window when due.
ALTER TABLE transmissions ADD COLUMN suppressed_list INTEGER;
ALTER TABLE transmissions ADD COLUMN deferrals INTEGER NOT NULL DEFAULT 0;

-- The redial limit reads the last 24 hours of attempts at start.
CREATE INDEX spools_time ON spools (time_spool);
