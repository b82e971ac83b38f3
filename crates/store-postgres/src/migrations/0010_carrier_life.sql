-- Migration 10: the carrier lifecycle (issue 17).
-- The NPO directory of love codes (愛心碼 / NPOBAN); every change is also a
-- ledger entry of kind NPO. Donations of carrier invoices write `npoban`
-- of `invoices` and a ledger entry of kind DONATION (no table of their own).
CREATE TABLE IF NOT EXISTS npos (
    love_code TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    ubn       TEXT NOT NULL
);
