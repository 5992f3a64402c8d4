-- A campaign's transmissions counted by status, kept by triggers in the
-- same transaction as every change, so GET /campaigns/{id} reads a few
-- rows instead of counting a million transmissions on every request. A
-- transmission a do-not-call list stopped counts as 'suppressed'.
CREATE TABLE campaign_status_counts (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (campaign_id) ON DELETE CASCADE,
    status      TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, status)
) WITHOUT ROWID;

INSERT INTO campaign_status_counts (campaign_id, status, n)
    SELECT campaign_id, CASE WHEN suppressed_list IS NOT NULL THEN 'suppressed' ELSE status END, COUNT(*) FROM transmissions
    WHERE campaign_id IS NOT NULL GROUP BY 1, 2;

CREATE TRIGGER transmissions_count_insert AFTER INSERT ON transmissions
WHEN NEW.campaign_id IS NOT NULL
BEGIN
    INSERT INTO campaign_status_counts (campaign_id, status, n)
        VALUES (NEW.campaign_id, CASE WHEN NEW.suppressed_list IS NOT NULL THEN 'suppressed' ELSE NEW.status END, 1)
        ON CONFLICT (campaign_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER transmissions_count_delete AFTER DELETE ON transmissions
WHEN OLD.campaign_id IS NOT NULL
BEGIN
    UPDATE campaign_status_counts SET n = n - 1 WHERE campaign_id = OLD.campaign_id
        AND status = CASE WHEN OLD.suppressed_list IS NOT NULL THEN 'suppressed' ELSE OLD.status END;
END;

CREATE TRIGGER transmissions_count_update AFTER UPDATE OF status, campaign_id, suppressed_list ON transmissions
WHEN OLD.status IS NOT NEW.status OR OLD.campaign_id IS NOT NEW.campaign_id
    OR (OLD.suppressed_list IS NULL) IS NOT (NEW.suppressed_list IS NULL)
BEGIN
    UPDATE campaign_status_counts SET n = n - 1
        WHERE OLD.campaign_id IS NOT NULL AND campaign_id = OLD.campaign_id
        AND status = CASE WHEN OLD.suppressed_list IS NOT NULL THEN 'suppressed' ELSE OLD.status END;
    INSERT INTO campaign_status_counts (campaign_id, status, n)
        SELECT NEW.campaign_id, CASE WHEN NEW.suppressed_list IS NOT NULL THEN 'suppressed' ELSE NEW.status END, 1
        WHERE NEW.campaign_id IS NOT NULL
        ON CONFLICT (campaign_id, status) DO UPDATE SET n = n + 1;
END;

-- GET /transmissions?campaign_id=N&page=P walks (and skips) the campaign's
-- entries of this index instead of every transmission of the tenant.
CREATE INDEX transmissions_tenant_campaign ON transmissions (tenant_id, campaign_id, transmission_id);
