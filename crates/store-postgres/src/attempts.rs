//! Login attempt budgets ([`einvoice_store::AttemptKey`]) in the
//! `login_budgets` table: each key is charged by one conditional upsert
//! (`INSERT … ON CONFLICT DO UPDATE … WHERE … RETURNING`), which holds the
//! row lock, so concurrent attempts on every API node are counted one after
//! the other; all keys of one attempt are charged in one transaction, in key
//! order (no deadlock between two attempts).

use crate::PgStore;
use einvoice_store::{AttemptKey, Reservation, StoreError};

/// Every SQL statement of the budgets.
mod sql {
    /// Charge one attempt if the budget allows it (`$2` now, `$3` interval,
    /// `$4` tolerance = burst × interval); no row when it does not.
    pub(super) const CHARGE: &str = "INSERT INTO login_budgets AS b (key, tat) \
         VALUES ($1::TEXT, $2::BIGINT + $3::BIGINT) \
         ON CONFLICT (key) DO UPDATE SET tat = GREATEST(b.tat, $2::BIGINT) + $3::BIGINT \
         WHERE GREATEST(b.tat, $2::BIGINT) + $3::BIGINT - $2::BIGINT <= $4::BIGINT \
         RETURNING tat";
    /// A budget's theoretical arrival time.
    pub(super) const TAT: &str = "SELECT tat FROM login_budgets WHERE key = $1";
    /// Give one attempt back.
    pub(super) const RELEASE: &str =
        "UPDATE login_budgets SET tat = tat - $2::BIGINT WHERE key = $1::TEXT";
    /// Forget budgets that are whole again.
    pub(super) const FORGET: &str = "DELETE FROM login_budgets WHERE tat < $1::BIGINT";
}

impl PgStore {
    /// [`einvoice_store::Store::reserve_attempt`].
    pub(crate) async fn reserve_attempts(
        &self,
        mut keys: Vec<AttemptKey>,
        now: i64,
    ) -> Result<Reservation, StoreError> {
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        let keys = &keys;
        self.run(|mut c| async move {
            let t = c.transaction().await?;
            let charge = t.prepare_cached(sql::CHARGE).await?;
            let mut spent = 0u32;
            for k in keys {
                let row = t
                    .query_opt(&charge, &[&k.key, &now, &k.interval(), &k.tolerance()])
                    .await?;
                match row {
                    Some(row) => spent = spent.max(k.spent(row.try_get(0)?, now)),
                    None => {
                        // Nothing is charged: the transaction rolls back.
                        drop(t);
                        let mut wait = 1i64;
                        for k in keys {
                            let tat: Option<i64> = c
                                .query_opt(sql::TAT, &[&k.key])
                                .await?
                                .map(|r| r.try_get(0))
                                .transpose()?;
                            if let Err(w) = k.take(tat, now) {
                                wait = wait.max(w);
                            }
                        }
                        return Ok(Reservation::Refused {
                            retry_after_secs: wait,
                        });
                    }
                }
            }
            t.execute(sql::FORGET, &[&now]).await?;
            t.commit().await?;
            Ok(Reservation::Granted { spent })
        })
        .await
    }

    /// [`einvoice_store::Store::release_attempt`].
    pub(crate) async fn release_attempts(&self, keys: Vec<AttemptKey>) -> Result<(), StoreError> {
        let keys = &keys;
        self.run(|c| async move {
            for k in keys {
                c.execute(sql::RELEASE, &[&k.key, &k.interval()]).await?;
            }
            Ok(())
        })
        .await
    }
}
