-- einvoice SQLite schema, migration 7: ledger format v2 (issue 14).
-- A v2 entry's hash commits to `body_digest` = SHA-256("einvoice/body/v2\0" || body)
-- instead of the body bytes (see `einvoice_store::hash_entry_v2`); NULL marks a
-- v1 entry, whose rows are untouched. `withheld` = 1: this copy of the ledger
-- does not hold the body (`body` is empty), the chain still verifies through
-- the digest. Only a v2 entry can be withheld.
ALTER TABLE ledger ADD COLUMN body_digest BLOB
    CHECK (body_digest IS NULL OR length(body_digest) = 32);
ALTER TABLE ledger ADD COLUMN withheld INTEGER NOT NULL DEFAULT 0
    CHECK (withheld = 0 OR (withheld = 1 AND body_digest IS NOT NULL AND length(body) = 0));
