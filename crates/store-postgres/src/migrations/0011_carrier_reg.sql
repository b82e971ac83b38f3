-- Migration 11: registration of mobile-barcode carriers by email (issue 17).
-- Pending registrations and forgotten-code resets: only the SHA-256 of the
-- emailed confirmation code is kept; single-use (`used`), expiring, with a
-- count of confirmation attempts.
CREATE TABLE IF NOT EXISTS carrier_challenges (
    id                TEXT PRIMARY KEY,
    purpose           TEXT    NOT NULL,
    email             TEXT    NOT NULL,
    phone             TEXT    NOT NULL,
    carrier_type      TEXT,
    carrier_id        TEXT,
    verification_hash TEXT,
    code_sha256       TEXT    NOT NULL,
    created_unix      BIGINT NOT NULL,
    expires_unix      BIGINT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    used              BIGINT NOT NULL DEFAULT 0
);
-- Where a carrier's mail goes; one carrier per phone and per address.
CREATE TABLE IF NOT EXISTS carrier_contacts (
    carrier TEXT PRIMARY KEY,
    email   TEXT NOT NULL UNIQUE,
    phone   TEXT NOT NULL UNIQUE
);
-- Mail to send (its own outbox: the webhook worker never sees it).
CREATE TABLE IF NOT EXISTS mail_outbox (
    id             TEXT PRIMARY KEY,
    body           TEXT    NOT NULL,
    created_unix   BIGINT NOT NULL,
    next_unix      BIGINT NOT NULL,
    attempts       BIGINT NOT NULL DEFAULT 0,
    last_error     TEXT,
    delivered_unix BIGINT,
    lease_owner    TEXT,
    lease_until    BIGINT
);
CREATE INDEX IF NOT EXISTS mail_outbox_due ON mail_outbox (next_unix) WHERE delivered_unix IS NULL;
