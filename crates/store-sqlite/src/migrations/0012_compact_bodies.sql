-- einvoice SQLite schema, migration 12: each canonical body kept once and
-- compactly (issue 15).
--
-- `ledger.body` may hold the body compressed with a zstd dictionary of
-- `body_dicts`: `body_codec` names it (0: the canonical bytes as they are).
-- Hashes and digests stay over the canonical bytes; every reader decodes
-- through one function (bodies.rs). The first dictionary is trained on the
-- store's own bodies (bodies.rs `train_if_due`, also run right after this
-- migration for a database that already holds enough of them).
ALTER TABLE ledger ADD COLUMN body_codec INTEGER NOT NULL DEFAULT 0 CHECK (body_codec >= 0);
CREATE TABLE body_dicts (
    id           INTEGER PRIMARY KEY CHECK (id > 0),
    dict         BLOB    NOT NULL,
    created_unix INTEGER NOT NULL
);

-- `invoices` without its copy of the body (views read the issuing entry's
-- body from the ledger), with the carrier read projection folded in
-- (`detail`, was `invoice_detail`: one row, one key per invoice), and
-- clustered on its key (WITHOUT ROWID: no second copy of the key).
CREATE TABLE invoices_v12 (
    seller       TEXT    NOT NULL,
    number       TEXT    NOT NULL,
    period       INTEGER NOT NULL,
    date         TEXT    NOT NULL,
    time         TEXT    NOT NULL,
    buyer        TEXT    NOT NULL,
    random       TEXT,
    carrier_type TEXT,
    carrier_id   TEXT,
    npoban       TEXT,
    total        INTEGER NOT NULL,
    status       TEXT    NOT NULL,
    allowance    INTEGER NOT NULL DEFAULT 0,
    origin       TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    detail       BLOB,
    PRIMARY KEY (seller, number)
) WITHOUT ROWID;
INSERT INTO invoices_v12 (seller, number, period, date, time, buyer, random, carrier_type,
        carrier_id, npoban, total, status, allowance, origin, seq, detail)
    SELECT i.seller, i.number, i.period, i.date, i.time, i.buyer, i.random, i.carrier_type,
        i.carrier_id, i.npoban, i.total, i.status, i.allowance, i.origin, i.seq, d.detail
    FROM invoices i LEFT JOIN invoice_detail d ON d.seller = i.seller AND d.number = i.number;
DROP TABLE invoices;
DROP TABLE invoice_detail;
ALTER TABLE invoices_v12 RENAME TO invoices;
CREATE INDEX invoices_by_period  ON invoices (seller, period, number);
CREATE INDEX invoices_by_carrier ON invoices (carrier_type, carrier_id, period);
CREATE INDEX invoices_by_random  ON invoices (number, random);
CREATE INDEX invoices_by_draw    ON invoices (period, number, seller);
