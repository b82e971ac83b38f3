-- Migration 6: login attempt budgets (einvoice_store::AttemptKey). One row
-- per budget key (an account, or an account and a client address): its
-- theoretical arrival time `tat`, Unix seconds. Charged with one conditional
-- upsert per key before a secret is checked, so parallel guesses on any
-- number of API nodes cannot outrun the count.
CREATE TABLE IF NOT EXISTS login_budgets (
    key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);
