-- einvoice SQLite schema, migration 1: the ledger, the invoice projections
-- and the records. (Databases of the old single-number scheme called this,
-- with 0002_draw.sql, "version 1"; see `legacy_versions` in lib.rs.)

-- The ledger: one hash chain per origin.
CREATE TABLE IF NOT EXISTS ledger (
    origin    TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    hlc       INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    body      BLOB    NOT NULL,
    prev_hash BLOB    NOT NULL,
    hash      BLOB    NOT NULL,
    PRIMARY KEY (origin, seq)
);
-- Idempotency: one message per (kind, natural key). Events (ADMIN, ...) are exempt.
CREATE UNIQUE INDEX IF NOT EXISTS ledger_message_key ON ledger (kind, key) WHERE kind GLOB '[A-G][0-9][0-9][0-9][0-9]';
CREATE INDEX IF NOT EXISTS ledger_key ON ledger (key);

-- Projection: invoices.
CREATE TABLE IF NOT EXISTS invoices (
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
    body         BLOB    NOT NULL,
    origin       TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    PRIMARY KEY (seller, number)
);
CREATE INDEX IF NOT EXISTS invoices_by_period  ON invoices (seller, period, number);
CREATE INDEX IF NOT EXISTS invoices_by_carrier ON invoices (carrier_type, carrier_id, period);
CREATE INDEX IF NOT EXISTS invoices_by_random  ON invoices (number, random);

-- Cancels / voids that arrived before their invoice (held, applied on arrival).
CREATE TABLE IF NOT EXISTS held (
    seller TEXT NOT NULL,
    number TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (seller, number, status)
);

-- Allowances per original invoice.
CREATE TABLE IF NOT EXISTS allowances (
    seller      TEXT    NOT NULL,
    allowance   TEXT    NOT NULL,
    invoice     TEXT    NOT NULL,
    amount      INTEGER NOT NULL,
    cancelled   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (seller, allowance, invoice)
);

-- Track allocations (E0401 / E0501).
CREATE TABLE IF NOT EXISTS tracks (
    seller TEXT    NOT NULL,
    period INTEGER NOT NULL,
    track  TEXT    NOT NULL,
    begin  INTEGER NOT NULL,
    end    INTEGER NOT NULL,
    PRIMARY KEY (seller, period, track, begin)
);
CREATE INDEX IF NOT EXISTS tracks_by_range ON tracks (period, track, begin);

-- Records kept as JSON documents: sellers, api keys, apps, operators, sessions, carriers.
CREATE TABLE IF NOT EXISTS records (
    space TEXT NOT NULL,
    id    TEXT NOT NULL,
    json  TEXT NOT NULL,
    PRIMARY KEY (space, id)
);

CREATE TABLE IF NOT EXISTS nonces (
    key_id  TEXT    NOT NULL,
    nonce   TEXT    NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires);

CREATE TABLE IF NOT EXISTS winning_numbers (
    period  INTEGER NOT NULL,
    version INTEGER NOT NULL,
    json    TEXT    NOT NULL,
    PRIMARY KEY (period, version)
);
