//! Login attempt budgets ([`einvoice_store::AttemptKey`]) in the
//! `login_budgets` table: charged inside the single writer's transaction,
//! so concurrent attempts are counted one after the other.

use crate::backend;
use einvoice_store::{AttemptKey, Reservation, StoreError};
use rusqlite::{OptionalExtension, Transaction, params};

/// Every SQL statement of the budgets.
mod sql {
    /// A budget's theoretical arrival time.
    pub(super) const TAT: &str = "SELECT tat FROM login_budgets WHERE key = ?1";
    /// Set a budget's theoretical arrival time.
    pub(super) const PUT_TAT: &str = "INSERT INTO login_budgets (key, tat) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET tat = excluded.tat";
    /// Give one attempt back.
    pub(super) const RELEASE: &str = "UPDATE login_budgets SET tat = tat - ?2 WHERE key = ?1";
    /// Forget budgets that are whole again.
    pub(super) const FORGET: &str = "DELETE FROM login_budgets WHERE tat < ?1";
}

fn tat(t: &Transaction<'_>, key: &str) -> Result<Option<i64>, StoreError> {
    t.prepare_cached(sql::TAT)
        .map_err(backend)?
        .query_row(params![key], |r| r.get(0))
        .optional()
        .map_err(backend)
}

/// Charge one attempt in every budget of `keys`, or in none.
pub(crate) fn reserve(
    t: &Transaction<'_>,
    keys: &[AttemptKey],
    now: i64,
) -> Result<Reservation, StoreError> {
    let mut next = Vec::with_capacity(keys.len());
    let mut wait = 0i64;
    for k in keys {
        match k.take(tat(t, &k.key)?, now) {
            Ok(n) => next.push(n),
            Err(w) => wait = wait.max(w),
        }
    }
    if wait > 0 {
        return Ok(Reservation::Refused {
            retry_after_secs: wait,
        });
    }
    let mut spent = 0;
    for (k, n) in keys.iter().zip(next) {
        t.prepare_cached(sql::PUT_TAT)
            .map_err(backend)?
            .execute(params![k.key, n])
            .map_err(backend)?;
        spent = spent.max(k.spent(n, now));
    }
    t.prepare_cached(sql::FORGET)
        .map_err(backend)?
        .execute(params![now])
        .map_err(backend)?;
    Ok(Reservation::Granted { spent })
}

/// Give one attempt back in every budget of `keys`.
pub(crate) fn release(t: &Transaction<'_>, keys: &[AttemptKey]) -> Result<(), StoreError> {
    for k in keys {
        t.prepare_cached(sql::RELEASE)
            .map_err(backend)?
            .execute(params![k.key, k.interval()])
            .map_err(backend)?;
    }
    Ok(())
}
