-- Progress made durable as it happens, so recovery knows what a crash hid:
-- which gateway placed the call, when it rang, whether the message was
-- delivered, and (SIP) the dialog needed to end the call from a new process.
ALTER TABLE spools ADD COLUMN gateway INTEGER NOT NULL DEFAULT 0;
ALTER TABLE spools ADD COLUMN time_ringing INTEGER NOT NULL DEFAULT 0;
ALTER TABLE spools ADD COLUMN time_delivered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE spools ADD COLUMN dialog BLOB;
