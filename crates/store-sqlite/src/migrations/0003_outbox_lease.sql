-- Migration 3 ("version 2" of the old single-number scheme): outbox leases.
-- A worker claims due items by leasing them (`lease_owner` until
-- `lease_until`, Unix seconds); only the holder records an outcome, and a
-- lapsed lease makes the item claimable again.
-- Applied once by `migrate` (ALTER TABLE is not idempotent).
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until INTEGER;
