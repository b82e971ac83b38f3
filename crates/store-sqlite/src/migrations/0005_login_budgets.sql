-- Migration 5: login attempt budgets (einvoice_store::AttemptKey). One row
-- per budget key (an account, or an account and a client address): its
-- theoretical arrival time `tat`, Unix seconds. Charged before a secret is
-- checked, so parallel guesses cannot outrun the count.
CREATE TABLE IF NOT EXISTS login_budgets (
    key TEXT PRIMARY KEY,
    tat INTEGER NOT NULL
);
