-- Who created a row, as a CRN (crn::user:<id> or crn:<tenant>:api-key:<name>):
-- an API key has no user id, so created_by alone cannot name it. Rows from
-- before, and rows the engine or inbound traffic create, keep '' and read
-- back as their created_by user's CRN.
ALTER TABLE accounts ADD COLUMN created_by_crn TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN created_by_crn TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN created_by_crn TEXT NOT NULL DEFAULT '';
ALTER TABLE groups ADD COLUMN created_by_crn TEXT NOT NULL DEFAULT '';
ALTER TABLE dnc_lists ADD COLUMN created_by_crn TEXT NOT NULL DEFAULT '';
ALTER TABLE documents ADD COLUMN created_by_crn TEXT NOT NULL DEFAULT '';
ALTER TABLE recordings ADD COLUMN created_by_crn TEXT NOT NULL DEFAULT '';
ALTER TABLE templates ADD COLUMN created_by_crn TEXT NOT NULL DEFAULT '';
ALTER TABLE texts ADD COLUMN created_by_crn TEXT NOT NULL DEFAULT '';
ALTER TABLE programs ADD COLUMN created_by_crn TEXT NOT NULL DEFAULT '';
ALTER TABLE providers ADD COLUMN created_by_crn TEXT NOT NULL DEFAULT '';
ALTER TABLE pbx_profiles ADD COLUMN created_by_crn TEXT NOT NULL DEFAULT '';
ALTER TABLE transmissions ADD COLUMN created_by_crn TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN created_by_crn TEXT NOT NULL DEFAULT '';
