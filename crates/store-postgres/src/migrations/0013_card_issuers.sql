-- Migration 13: the credit-card issuer directory (issue 17): the banks whose
-- credit cards can be carriers and their card BINs (`,`-joined, sorted);
-- every change is also a ledger entry of kind CARD_ISSUER.
CREATE TABLE IF NOT EXISTS card_issuers (
    bank_code TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    bins      TEXT NOT NULL
);
