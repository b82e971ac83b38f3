-- einvoice PostgreSQL schema, version 1.
-- Portable subset: plain tables, b-tree indexes (some partial), ON CONFLICT,
-- SELECT ... FOR UPDATE. The one PostgreSQL-specific piece is the declarative
-- partitioning of `invoices` (PARTITION BY LIST (period)).

-- Per-origin chain head. Its row is locked FOR UPDATE by every append
-- transaction of that origin, which serializes sequence allocation *and*
-- commit per origin: readers always see a gap-free prefix of the ledger.
CREATE TABLE IF NOT EXISTS ledger_heads (
    origin TEXT   PRIMARY KEY,
    seq    BIGINT NOT NULL,
    hash   BYTEA  NOT NULL,
    hlc    BIGINT NOT NULL
);

-- The ledger: one hash chain per origin.
CREATE TABLE IF NOT EXISTS ledger (
    origin    TEXT    NOT NULL,
    seq       BIGINT  NOT NULL,
    hlc       BIGINT  NOT NULL,
    kind      TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    body      BYTEA   NOT NULL,
    prev_hash BYTEA   NOT NULL,
    hash      BYTEA   NOT NULL,
    -- true for MIG messages (idempotent by kind + key), false for events (ADMIN, ...).
    message   BOOLEAN NOT NULL,
    PRIMARY KEY (origin, seq)
);
-- Idempotency: one message per (kind, natural key). Events are exempt.
CREATE UNIQUE INDEX IF NOT EXISTS ledger_message_key ON ledger (kind, key) WHERE message;
-- invoice_history: every entry about one natural key.
CREATE INDEX IF NOT EXISTS ledger_key ON ledger (key);

-- Projection: invoices, partitioned by period (partitions are created on
-- demand by the append transaction; old periods can be detached and dropped).
-- The primary key must contain the partition key; (seller, number) alone is
-- unique anyway because the ledger admits one F0401 per seller + number.
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
    total        BIGINT  NOT NULL,
    status       TEXT    NOT NULL,
    allowance    BIGINT  NOT NULL DEFAULT 0,
    body         BYTEA   NOT NULL,
    origin       TEXT    NOT NULL,
    seq          BIGINT  NOT NULL,
    PRIMARY KEY (seller, number, period)
) PARTITION BY LIST (period);
-- list_invoices (paged by number) and blanks (numbers within a track range).
CREATE INDEX IF NOT EXISTS invoices_by_period  ON invoices (seller, period, number);
-- carrier_invoices.
CREATE INDEX IF NOT EXISTS invoices_by_carrier ON invoices (carrier_type, carrier_id, period);
-- lookup_invoice (public, by number + random code).
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
    seller    TEXT    NOT NULL,
    allowance TEXT    NOT NULL,
    invoice   TEXT    NOT NULL,
    amount    BIGINT  NOT NULL,
    cancelled BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (seller, allowance, invoice)
);
CREATE INDEX IF NOT EXISTS allowances_by_invoice ON allowances (seller, invoice);

-- Track allocations (E0401 / E0501).
CREATE TABLE IF NOT EXISTS tracks (
    seller   TEXT    NOT NULL,
    period   INTEGER NOT NULL,
    track    TEXT    NOT NULL,
    begin_no BIGINT  NOT NULL,
    end_no   BIGINT  NOT NULL,
    PRIMARY KEY (seller, period, track, begin_no)
);
CREATE INDEX IF NOT EXISTS tracks_by_range ON tracks (period, track, begin_no);

-- Records kept as JSON documents: sellers, api keys, apps, operators, sessions, carriers.
CREATE TABLE IF NOT EXISTS records (
    space TEXT NOT NULL,
    id    TEXT NOT NULL,
    json  TEXT NOT NULL,
    PRIMARY KEY (space, id)
);

CREATE TABLE IF NOT EXISTS nonces (
    key_id  TEXT   NOT NULL,
    nonce   TEXT   NOT NULL,
    expires BIGINT NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX IF NOT EXISTS nonces_by_expiry ON nonces (expires);

CREATE TABLE IF NOT EXISTS winning_numbers (
    period  INTEGER NOT NULL,
    version INTEGER NOT NULL,
    json    TEXT    NOT NULL,
    PRIMARY KEY (period, version)
);
