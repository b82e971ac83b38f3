-- einvoice SQLite schema, migration 14: the records feed (einvoice-sync
-- `records`). Per origin pulled from peers: the last entry whose side record
-- (a bank account) has been fetched, checked and stored, written in the same
-- transaction as the records it covers.
CREATE TABLE IF NOT EXISTS sync_record_cursors (
    origin TEXT    PRIMARY KEY,
    seq    INTEGER NOT NULL
);
