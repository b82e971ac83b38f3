-- einvoice SQLite schema, migration 6: the carrier read projection
-- (`einvoice_store::read_projection`): each issued invoice's seller name and
-- address, currency and item lines in `InvoiceDetail`'s compact encoding, so
-- the carrier queries decode no canonical body. Filled by the append path's
-- projection (and so by import); on a database that had invoices before this
-- migration, rebuilt from the ledger in the same transaction (migrate.rs).
CREATE TABLE IF NOT EXISTS invoice_detail (
    seller TEXT NOT NULL,
    number TEXT NOT NULL,
    detail BLOB NOT NULL,
    PRIMARY KEY (seller, number)
) WITHOUT ROWID;
