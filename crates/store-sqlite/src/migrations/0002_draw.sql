-- Migration 2: the draw. `IF NOT EXISTS` throughout: a database of the old
-- "version 1" may or may not have these tables, so it is given this
-- migration again (see `legacy_versions` in lib.rs).

-- The eligibility freeze pages a period's invoices by (number, seller).
CREATE INDEX IF NOT EXISTS invoices_by_draw ON invoices (period, number, seller);

-- A period's frozen snapshot (root + rows); a period is frozen once.
CREATE TABLE IF NOT EXISTS draw_freezes (
    period INTEGER PRIMARY KEY,
    root   TEXT    NOT NULL,
    json   TEXT    NOT NULL
);

-- A period's loaded winners: the digest of the load (idempotency) + summary.
CREATE TABLE IF NOT EXISTS draw_loads (
    period INTEGER PRIMARY KEY,
    digest TEXT    NOT NULL,
    json   TEXT    NOT NULL
);

-- Winner lines (one prize of one invoice), in draw order.
CREATE TABLE IF NOT EXISTS winners (
    period         INTEGER NOT NULL,
    line           INTEGER NOT NULL,
    invoice_number TEXT    NOT NULL,
    seller         TEXT    NOT NULL,
    prize          TEXT    NOT NULL,
    amount         INTEGER NOT NULL,
    payable        INTEGER NOT NULL,
    carrier        TEXT,
    npo            TEXT,
    PRIMARY KEY (period, line)
);
CREATE INDEX IF NOT EXISTS winners_by_carrier ON winners (carrier, period, line);

-- Citizens' bank accounts (the account sealed by the server's master key).
CREATE TABLE IF NOT EXISTS bank_accounts (
    carrier TEXT PRIMARY KEY,
    json    TEXT NOT NULL
);

-- Winner notifications to deliver (webhook), enqueued with the winners.
CREATE TABLE IF NOT EXISTS outbox (
    id             TEXT    PRIMARY KEY,
    kind           TEXT    NOT NULL,
    body           TEXT    NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_unix      INTEGER NOT NULL DEFAULT 0,
    delivered_unix INTEGER,
    last_error     TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (delivered_unix, next_unix, id);
