-- The crossbar surfaces (seeds 000 and 001): centrex services and their
-- accounts (soft deleted: deleted_at is set, rows stay), and the services
-- of a tenant: assigned plans and settings, committed quantities, the
-- audit log and the prepaid ledger.

CREATE TABLE centrex (
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    centrex_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    callflow_id INTEGER NOT NULL REFERENCES programs (program_id) ON DELETE RESTRICT,
    revision    INTEGER NOT NULL DEFAULT 1,
    deleted_at  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, centrex_id)
) WITHOUT ROWID;

CREATE TABLE centrex_accounts (
    tenant_id          TEXT NOT NULL REFERENCES tenants (tenant_id),
    centrex_account_id TEXT NOT NULL,
    centrex_id         TEXT NOT NULL,
    user_id            INTEGER NOT NULL,
    number_offnet      TEXT NOT NULL,
    name               TEXT NOT NULL DEFAULT '',
    description        TEXT NOT NULL DEFAULT '',
    revision           INTEGER NOT NULL DEFAULT 1,
    deleted_at         INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, centrex_account_id),
    FOREIGN KEY (tenant_id, centrex_id) REFERENCES centrex (tenant_id, centrex_id)
) WITHOUT ROWID;
-- A number reaches one live account of its tenant; inbound routing looks
-- numbers up across tenants.
CREATE UNIQUE INDEX centrex_accounts_number ON centrex_accounts (tenant_id, number_offnet) WHERE deleted_at = 0;
CREATE INDEX centrex_accounts_inbound ON centrex_accounts (number_offnet) WHERE deleted_at = 0;
CREATE INDEX centrex_accounts_centrex ON centrex_accounts (tenant_id, centrex_id, centrex_account_id);

-- One row per tenant: its services document (assigned plans with their
-- overrides, billing id, manual quantities, overrides) as JSON.
CREATE TABLE services (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (tenant_id),
    doc        TEXT NOT NULL DEFAULT '{}',
    revision   INTEGER NOT NULL DEFAULT 1,
    synced_at  INTEGER NOT NULL DEFAULT 0,
    usage_mark INTEGER NOT NULL DEFAULT 0,  -- the spools with a lower id are in the usage quantities
    updated_at INTEGER NOT NULL
);

-- The quantities last committed (what the audit log has accounted for).
-- Stock items hold their count; usage items their running total.
CREATE TABLE service_quantities (
    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id),
    category  TEXT NOT NULL,
    item      TEXT NOT NULL,
    quantity  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, category, item)
) WITHOUT ROWID;

-- Audit ids are YYYYMM-<16 hex of the time in ns><16 random hex>: they sort
-- in time order, which paging relies on.
CREATE TABLE service_audit (
    audit_id       TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (tenant_id),
    created_at     INTEGER NOT NULL,  -- unix seconds
    type           TEXT NOT NULL,
    category       TEXT NOT NULL DEFAULT '',
    item           TEXT NOT NULL DEFAULT '',
    addition       INTEGER NOT NULL DEFAULT 0,
    removal        INTEGER NOT NULL DEFAULT 0,
    quantity       INTEGER NOT NULL DEFAULT 0,  -- the item's new count, or the usage recorded
    category_total INTEGER NOT NULL DEFAULT 0,  -- the category's count after the change
    sum_quantity   INTEGER NOT NULL DEFAULT 0,
    unit           TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'completed',
    reason         TEXT NOT NULL DEFAULT '',
    message        TEXT NOT NULL DEFAULT '',
    who            TEXT NOT NULL DEFAULT '{}',
    request        TEXT NOT NULL DEFAULT '{}',
    changes        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX service_audit_tenant ON service_audit (tenant_id, audit_id);

-- The prepaid ledger: credits (topups) and debits (answered seconds at the
-- plan's rate), in micro-dollars. A spool is debited once.
CREATE TABLE service_ledger (
    entry_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id),
    kind       TEXT NOT NULL CHECK (kind IN ('topup', 'usage')),
    amount     INTEGER NOT NULL,  -- micro-dollars, + credit, - debit
    seconds    INTEGER NOT NULL DEFAULT 0,
    spool_id   INTEGER UNIQUE,
    audit_id   TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX service_ledger_tenant ON service_ledger (tenant_id, entry_id);

-- Each tenant's ledger totals, kept by the insert of every entry: the
-- engine reads a balance every few seconds, which must not sum a row per
-- call ever made.
CREATE TABLE service_balances (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants (tenant_id),
    balance   INTEGER NOT NULL DEFAULT 0,
    credited  INTEGER NOT NULL DEFAULT 0,
    debited   INTEGER NOT NULL DEFAULT 0,
    seconds   INTEGER NOT NULL DEFAULT 0
);
CREATE TRIGGER service_ledger_balance AFTER INSERT ON service_ledger BEGIN
    INSERT INTO service_balances (tenant_id, balance, credited, debited, seconds)
    VALUES (NEW.tenant_id, NEW.amount, MAX(NEW.amount, 0), MAX(-NEW.amount, 0), NEW.seconds)
    ON CONFLICT (tenant_id) DO UPDATE SET balance = balance + NEW.amount, credited = credited + MAX(NEW.amount, 0),
        debited = debited + MAX(-NEW.amount, 0), seconds = seconds + NEW.seconds;
END;
