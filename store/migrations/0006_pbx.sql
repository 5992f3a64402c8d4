-- PBX connection profiles (the PBX profiles document): Kazoo, 3CX, and
-- FreeSWITCH nodes, whose event socket the FreeSWITCH gateway connects to
-- while the profile is enabled. One table; the columns of the other types
-- stay at their defaults. Secrets are sealed (AES-GCM, see store/seal.go).

CREATE TABLE pbx_profiles (
    pbx_id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      TEXT NOT NULL REFERENCES tenants (tenant_id),
    created_by     INTEGER NOT NULL,
    type           TEXT NOT NULL CHECK (type IN
                       ('KazooPbxConnectionProfile', 'ThreeCxConnectionProfile', 'FreeSwitchConnectionProfile')),
    name           TEXT NOT NULL,
    enabled        INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
    -- Kazoo
    host_rest      TEXT NOT NULL DEFAULT '',
    host_websocket TEXT NOT NULL DEFAULT '',
    account_id     TEXT NOT NULL DEFAULT '',
    country_code   TEXT NOT NULL DEFAULT '',
    -- 3CX
    username                    TEXT NOT NULL DEFAULT '',
    enable_recording_archive    INTEGER NOT NULL DEFAULT 0 CHECK (enable_recording_archive IN (0, 1)),
    recording_archive_frequency TEXT NOT NULL DEFAULT '',
    -- FreeSWITCH event socket and switch.conf limits
    host           TEXT NOT NULL DEFAULT '',
    port           INTEGER NOT NULL DEFAULT 0,
    sps            INTEGER NOT NULL DEFAULT 0,
    max_sessions   INTEGER NOT NULL DEFAULT 0,
    -- sealed: Kazoo's apiKey or 3CX's licenseKey; 3CX's or FreeSWITCH's password
    key_sealed      TEXT NOT NULL DEFAULT '',
    password_sealed TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX pbx_profiles_name ON pbx_profiles (tenant_id, name COLLATE NOCASE);
CREATE INDEX pbx_profiles_enabled ON pbx_profiles (type, enabled);
