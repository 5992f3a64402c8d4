-- Campaign start creates one transmission per contact of the group that
-- has none yet: that NOT EXISTS needs (campaign_id, contact_id).
CREATE INDEX transmissions_campaign_contact ON transmissions (campaign_id, contact_id);
-- Schedules are found and cancelled by their target.
CREATE INDEX schedules_target ON schedules (action, target_id, done_at);
