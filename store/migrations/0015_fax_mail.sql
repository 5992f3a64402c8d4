-- A fax received for a faxtoemail program waits here until its mail ends:
-- written in the same transaction as the fax (ReceiveFax), tried at once,
-- then again after a backoff while every email provider fails as a route
-- (an SMTP 4xx, no answer), until mail.faxtoemail_max_age. The row goes
-- with the transmission's final status. claim names the dialerd run that
-- is mailing it now, so that no fax is mailed twice at once.
CREATE TABLE fax_mails (
    transmission_id INTEGER PRIMARY KEY REFERENCES transmissions (transmission_id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL REFERENCES tenants (tenant_id),
    email           TEXT NOT NULL DEFAULT '',
    -- The PDF. No foreign key: a document deleted before the mail fails
    -- the mail (saying so) instead of dropping it unseen.
    document_id     INTEGER NOT NULL,
    from_number     TEXT NOT NULL DEFAULT '',
    did             TEXT NOT NULL DEFAULT '',
    pages           INTEGER NOT NULL DEFAULT 0,
    call_uuid       TEXT NOT NULL DEFAULT '',
    received_at     INTEGER NOT NULL,          -- Unix ms; the max age counts from here
    due_at          INTEGER NOT NULL,          -- Unix ms: the next try
    tries           INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',  -- the last try's SMTP reply or error
    claim           TEXT NOT NULL DEFAULT '',
    claimed_at      INTEGER NOT NULL DEFAULT 0 -- Unix ms
);
CREATE INDEX fax_mails_due ON fax_mails (due_at);
