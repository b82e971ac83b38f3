-- Schema version 2: outbox leases. A worker claims due items by leasing
-- them (`lease_owner` until `lease_until`, Unix seconds); only the holder
-- records an outcome, and a lapsed lease makes the item claimable again.
-- Applied once by `migrate` to databases of version 1 (ALTER TABLE is not
-- idempotent, so it is versioned, not `IF NOT EXISTS` like draw.sql).
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until INTEGER;
