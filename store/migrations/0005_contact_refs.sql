-- Deleting a contact checks the transmissions that name it (ON DELETE
-- RESTRICT, and the API's 409): without this index, a scan of them all.
CREATE INDEX transmissions_contact ON transmissions (contact_id);
