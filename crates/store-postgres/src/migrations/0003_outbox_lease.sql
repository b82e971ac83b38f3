-- Schema version 3: outbox leases. A worker claims due items by leasing them
-- (`lease_owner` until `lease_until`, Unix seconds) with
-- `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)`, so claims of
-- several nodes at once get disjoint items; only the holder records an
-- outcome, and a lapsed lease makes the item claimable again.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS lease_until BIGINT;
