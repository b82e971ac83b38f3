-- einvoice PostgreSQL schema, migration 15: each canonical body kept once and
-- compactly (issue 15), as SQLite's migration 12.
--
-- `ledger.body` may hold the body compressed with a zstd dictionary of
-- `body_dicts`: `body_codec` names it (0: the canonical bytes as they are).
-- Hashes and digests stay over the canonical bytes; every reader decodes
-- through one function (bodies.rs). The first dictionary is trained on the
-- store's own bodies (bodies.rs `train_if_due`, also run right after this
-- migration, in its transaction, for a database that already holds enough).
ALTER TABLE ledger ADD COLUMN IF NOT EXISTS body_codec BIGINT NOT NULL DEFAULT 0
    CHECK (body_codec >= 0);
CREATE TABLE IF NOT EXISTS body_dicts (
    id           BIGINT PRIMARY KEY CHECK (id > 0),
    dict         BYTEA  NOT NULL,
    created_unix BIGINT NOT NULL
);

-- `invoices` without its copy of the body (the views read the issuing
-- entry's body from the ledger), with the carrier read projection
-- (`InvoiceDetail::encode`): filled from the ledger right after this
-- migration (lib.rs `after_compact_bodies`), then by the append path.
ALTER TABLE invoices ADD COLUMN IF NOT EXISTS detail BYTEA;
ALTER TABLE invoices DROP COLUMN IF EXISTS body;

-- Within a partition (one period) `invoices_by_period` (seller, period,
-- number) orders exactly like the primary key (seller, number, period):
-- the key serves a seller's invoices of a period and the blanks.
DROP INDEX IF EXISTS invoices_by_period;
