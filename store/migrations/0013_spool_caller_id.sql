-- The caller id an attempt presented, written with the attempt (the
-- write-ahead record), so the compliance report shows what the callee saw
-- rather than what the account's phone is now. '' : the trunk's own
-- identity; 'anonymous': none at all.
ALTER TABLE spools ADD COLUMN caller_id TEXT NOT NULL DEFAULT '';
