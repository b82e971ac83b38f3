-- Schema version 2: the draw (eligibility freeze, frozen snapshots, winners,
-- bank accounts).

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
    line           BIGINT  NOT NULL,
    invoice_number TEXT    NOT NULL,
    seller         TEXT    NOT NULL,
    prize          TEXT    NOT NULL,
    amount         BIGINT  NOT NULL,
    payable        BIGINT  NOT NULL,
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
    next_unix      BIGINT  NOT NULL DEFAULT 0,
    delivered_unix BIGINT,
    last_error     TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (delivered_unix, next_unix, id);
