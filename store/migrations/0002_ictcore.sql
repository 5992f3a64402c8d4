-- The ICTCore resources: contacts and groups, messages, programs, accounts,
-- providers. Every row carries tenant_id and created_by (the owning user).
-- Times are Unix seconds, as the ICTCore document shows them.

CREATE TABLE contacts (
    contact_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    created_by  INTEGER NOT NULL,
    first_name  TEXT NOT NULL DEFAULT '',
    last_name   TEXT NOT NULL DEFAULT '',
    phone       TEXT NOT NULL DEFAULT '',  -- E.164, normalised on write
    email       TEXT NOT NULL DEFAULT '',
    address     TEXT NOT NULL DEFAULT '',
    custom1     TEXT NOT NULL DEFAULT '',
    custom2     TEXT NOT NULL DEFAULT '',
    custom3     TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    timezone    TEXT NOT NULL DEFAULT '',  -- IANA name; '' = use the campaign's
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX contacts_tenant ON contacts (tenant_id, contact_id);
CREATE INDEX contacts_phone ON contacts (tenant_id, phone);

CREATE TABLE groups (
    group_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    created_by  INTEGER NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX groups_tenant ON groups (tenant_id, group_id);

CREATE TABLE group_contacts (
    tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id),
    group_id   INTEGER NOT NULL REFERENCES groups (group_id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES contacts (contact_id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX group_contacts_contact ON group_contacts (contact_id);

-- Message content. A media file lives under <data_dir>/media by content hash
-- (sha256, hex); the row names it. A failed upload leaves the old hash.
CREATE TABLE documents (
    document_id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    created_by  INTEGER NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    type        TEXT NOT NULL DEFAULT '',  -- pdf or tif, from the content
    file_hash   TEXT NOT NULL DEFAULT '',
    file_size   INTEGER NOT NULL DEFAULT 0,
    pages       INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE recordings (
    recording_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      TEXT NOT NULL REFERENCES tenants (tenant_id),
    created_by     INTEGER NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    type           TEXT NOT NULL DEFAULT '',  -- wav or mp3, from the content
    file_hash      TEXT NOT NULL DEFAULT '',  -- the upload as sent
    file_size      INTEGER NOT NULL DEFAULT 0,
    telephony_hash TEXT NOT NULL DEFAULT '',  -- 8 kHz 16-bit mono WAV
    length         REAL NOT NULL DEFAULT 0,   -- seconds
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE templates (
    template_id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    created_by  INTEGER NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL DEFAULT '',
    body        TEXT NOT NULL DEFAULT '',
    body_alt    TEXT NOT NULL DEFAULT '',
    type        TEXT NOT NULL DEFAULT '',
    file_hash   TEXT NOT NULL DEFAULT '',
    file_size   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE texts (
    text_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    created_by  INTEGER NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    data        TEXT NOT NULL DEFAULT '',
    type        TEXT NOT NULL DEFAULT 'plain',  -- plain, unicode or binary
    encoding    TEXT NOT NULL DEFAULT 'gsm7',   -- gsm7 or ucs2, from data
    segments    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Accounts are ICTCore's endpoints of a user: extension, DID or email.
CREATE TABLE accounts (
    account_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     TEXT NOT NULL REFERENCES tenants (tenant_id),
    created_by    INTEGER NOT NULL,
    user_id       INTEGER REFERENCES users (user_id) ON DELETE SET NULL,  -- NULL: free to assign
    type          TEXT NOT NULL DEFAULT 'extension',
    username      TEXT NOT NULL DEFAULT '',
    passwd_sealed TEXT NOT NULL DEFAULT '',
    pin_sealed    TEXT NOT NULL DEFAULT '',
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    address       TEXT NOT NULL DEFAULT '',
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX accounts_phone ON accounts (tenant_id, phone);

CREATE TABLE account_settings (
    tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id),
    account_id INTEGER NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

-- A program says what a transmission does. Its message columns point at
-- the content it uses; deleting content a program uses is refused.
CREATE TABLE programs (
    program_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    TEXT NOT NULL REFERENCES tenants (tenant_id),
    created_by   INTEGER NOT NULL,
    name         TEXT NOT NULL,
    type         TEXT NOT NULL,
    parent_id    INTEGER REFERENCES programs (program_id) ON DELETE SET NULL,
    account_id   INTEGER REFERENCES accounts (account_id) ON DELETE RESTRICT,
    document_id  INTEGER REFERENCES documents (document_id) ON DELETE RESTRICT,
    recording_id INTEGER REFERENCES recordings (recording_id) ON DELETE RESTRICT,
    template_id  INTEGER REFERENCES templates (template_id) ON DELETE RESTRICT,
    text_id      INTEGER REFERENCES texts (text_id) ON DELETE RESTRICT,
    tts_text     TEXT NOT NULL DEFAULT '',
    tts_voice    TEXT NOT NULL DEFAULT '',
    tts_language TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX programs_tenant ON programs (tenant_id, program_id);

CREATE TABLE account_programs (
    tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id),
    account_id INTEGER NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
    program_id INTEGER NOT NULL REFERENCES programs (program_id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, program_id)
) WITHOUT ROWID;

-- Trunks and gateways. The password is sealed (AES-GCM, key in the data dir)
-- and never returned.
CREATE TABLE providers (
    provider_id     INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       TEXT NOT NULL REFERENCES tenants (tenant_id),
    created_by      INTEGER NOT NULL,
    name            TEXT NOT NULL,
    gateway_flag    INTEGER NOT NULL DEFAULT 0,
    service_flag    INTEGER NOT NULL DEFAULT 0,
    node_id         INTEGER,
    host            TEXT NOT NULL DEFAULT '',
    port            INTEGER NOT NULL DEFAULT 0,
    username        TEXT NOT NULL DEFAULT '',
    password_sealed TEXT NOT NULL DEFAULT '',
    dialstring      TEXT NOT NULL DEFAULT '',
    prefix          TEXT NOT NULL DEFAULT '',
    settings        TEXT NOT NULL DEFAULT '',
    register        INTEGER NOT NULL DEFAULT 0 CHECK (register IN (0, 1)),
    weight          INTEGER NOT NULL DEFAULT 10,
    type            TEXT NOT NULL DEFAULT '',
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX providers_tenant ON providers (tenant_id, service_flag, active);
