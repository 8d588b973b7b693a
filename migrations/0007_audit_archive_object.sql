-- The audit archive (docs/audit.md "Archive"): the queue consumer writes every request and admin event
-- to R2 as well (Parquet objects, src/audit/archive/), and D1 is the ledger of where each event went.
--
-- archive_object: the name of the R2 object holding this event, within its partition (the key
-- without the `audit/v1/kind=<kind>/dt=<day>/hour=<hour>/` prefix and the `.parquet` suffix, both
-- rebuilt from the name: src/audit/archive/layout.ts keyFromArchiveObject), for example
-- `20261206T101502.123Z_20261206T101559.004Z_3fa9c1e2b7d45a60`: 58 bytes of ASCII per row. Set in the
-- same D1 batch as the row, before the object is written; a redelivered batch checks that the object
-- exists and moves the event into one of its own objects if not (src/audit/consumer.ts). Never indexed:
-- it is read only by event_id, the primary key.
--
-- NULL for rows written before the archive existed (they are not in it).
ALTER TABLE audit_events ADD COLUMN archive_object TEXT;
ALTER TABLE admin_audit_events ADD COLUMN archive_object TEXT;
