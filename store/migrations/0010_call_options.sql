-- A voicemessage or voicetts program's opt-out key and the recording that
-- confirms an opt-out, and a voicemessage's answering-machine policy.
ALTER TABLE programs ADD COLUMN opt_out_digit TEXT NOT NULL DEFAULT '';
ALTER TABLE programs ADD COLUMN opt_out_recording_id INTEGER REFERENCES recordings (recording_id) ON DELETE RESTRICT;
ALTER TABLE programs ADD COLUMN on_machine TEXT NOT NULL DEFAULT '';
