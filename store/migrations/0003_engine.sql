-- The spool engine: campaigns, transmissions, their attempts (spools) and
-- what each attempt produced (results), and schedules.

CREATE TABLE campaigns (
    campaign_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id),
    created_by    INTEGER NOT NULL,
    program_id    INTEGER NOT NULL REFERENCES programs (program_id) ON DELETE RESTRICT,
    group_id      INTEGER NOT NULL REFERENCES groups (group_id) ON DELETE RESTRICT,
    account_id    INTEGER REFERENCES accounts (account_id) ON DELETE SET NULL,
    cpm           INTEGER NOT NULL DEFAULT 60,
    try_allowed   INTEGER NOT NULL DEFAULT 1,
    retry_delay   INTEGER NOT NULL DEFAULT 300,  -- seconds between tries
    status        TEXT NOT NULL DEFAULT 'new',   -- new, active, paused, stopped, completed
    -- calling window: minutes from midnight [start, end), weekday bitmask
    -- (bit 0 = Sunday), time zone; a contact's own time zone wins when set
    window_start  INTEGER NOT NULL DEFAULT 0,
    window_end    INTEGER NOT NULL DEFAULT 1440,
    window_days   INTEGER NOT NULL DEFAULT 127,
    window_tz     TEXT NOT NULL DEFAULT 'UTC',
    started_at    INTEGER NOT NULL DEFAULT 0,
    finished_at   INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE transmissions (
    transmission_id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL REFERENCES tenants (tenant_id),
    created_by      INTEGER NOT NULL,
    title           TEXT NOT NULL DEFAULT '',
    origin          TEXT NOT NULL DEFAULT '',
    contact_id      INTEGER NOT NULL REFERENCES contacts (contact_id) ON DELETE RESTRICT,
    account_id      INTEGER REFERENCES accounts (account_id) ON DELETE SET NULL,
    program_id      INTEGER NOT NULL REFERENCES programs (program_id) ON DELETE RESTRICT,
    campaign_id     INTEGER REFERENCES campaigns (campaign_id) ON DELETE CASCADE,
    service_flag    INTEGER NOT NULL DEFAULT 0,
    direction       TEXT NOT NULL DEFAULT 'outbound',
    status          TEXT NOT NULL DEFAULT 'pending',  -- pending, processing, completed, failed, invalid
    response        TEXT NOT NULL DEFAULT '',
    try_allowed     INTEGER NOT NULL DEFAULT 1,
    try_done        INTEGER NOT NULL DEFAULT 0,
    due_at          INTEGER NOT NULL DEFAULT 0,       -- Unix ms; 0 = not queued
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX transmissions_due ON transmissions (status, due_at);
CREATE INDEX transmissions_campaign ON transmissions (campaign_id, status);
CREATE INDEX transmissions_tenant ON transmissions (tenant_id, transmission_id);

CREATE TABLE spools (
    spool_id        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL REFERENCES tenants (tenant_id),
    transmission_id INTEGER NOT NULL REFERENCES transmissions (transmission_id) ON DELETE CASCADE,
    call_uuid       TEXT NOT NULL UNIQUE,
    provider_id     INTEGER,
    node            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'initiated',  -- initiated, completed, failed
    response        TEXT NOT NULL DEFAULT '',
    time_spool      INTEGER NOT NULL,
    time_start      INTEGER NOT NULL DEFAULT 0,
    time_connect    INTEGER NOT NULL DEFAULT 0,
    time_end        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX spools_transmission ON spools (transmission_id);
CREATE INDEX spools_status ON spools (status);

CREATE TABLE spool_results (
    spool_result_id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL REFERENCES tenants (tenant_id),
    spool_id        INTEGER NOT NULL REFERENCES spools (spool_id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    data            TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
);
CREATE INDEX spool_results_spool ON spool_results (spool_id);

CREATE TABLE schedules (
    schedule_id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    created_by  INTEGER NOT NULL,
    action      TEXT NOT NULL,   -- transmission.send, campaign.start, campaign.stop
    target_id   INTEGER NOT NULL,
    run_at      INTEGER NOT NULL, -- Unix seconds
    done_at     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE INDEX schedules_due ON schedules (done_at, run_at);
