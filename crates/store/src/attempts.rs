//! Login attempt budgets: how many secret checks (carrier verification codes,
//! 驗證碼, and operator passwords) an account — or an (account, client)
//! pair — may have evaluated, counted in the store *before* the check so
//! that parallel guesses cannot outrun the count.
//!
//! A budget is a generic cell rate (GCRA): `burst` attempts at once, then one
//! more every `interval_secs`. The store keeps one number per key, the
//! *theoretical arrival time* (`tat`, Unix seconds); an attempt at `now` is
//! granted when `max(tat, now) + interval - now <= burst * interval`, and
//! then `tat` becomes `max(tat, now) + interval`. Unused budget comes back by
//! itself (failures decay), and in any span of `w` seconds at most
//! `burst + w / interval` attempts are granted.

/// One budget an attempt must fit in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptKey {
    /// What is counted, e.g. `carrier:3J0002:/ABC+123` or
    /// `carrier:3J0002:/ABC+123@127.0.0.1` (never a secret).
    pub key: String,
    /// Seconds until one spent attempt comes back (at least 1).
    pub interval_secs: i64,
    /// Attempts that may be spent at once (at least 1).
    pub burst: u32,
}

impl AttemptKey {
    /// The largest `tat - now` at which one more attempt is still granted.
    pub fn tolerance(&self) -> i64 {
        self.interval().saturating_mul(i64::from(self.burst.max(1)))
    }

    /// The interval, at least one second.
    pub fn interval(&self) -> i64 {
        self.interval_secs.max(1)
    }

    /// The answer for a budget whose stored `tat` is `tat` at `now`, and the
    /// new `tat` when granted: the one rule both backends apply.
    pub fn take(&self, tat: Option<i64>, now: i64) -> Result<i64, i64> {
        let next = tat.unwrap_or(now).max(now).saturating_add(self.interval());
        if next - now <= self.tolerance() {
            Ok(next)
        } else {
            Err((next - now - self.tolerance()).max(1))
        }
    }

    /// Attempts spent (not yet come back) when the budget's `tat` is `tat`.
    pub fn spent(&self, tat: i64, now: i64) -> u32 {
        let left = (tat - now).max(0);
        u32::try_from((left + self.interval() - 1) / self.interval()).unwrap_or(u32::MAX)
    }
}

/// The answer to [`Store::reserve_attempt`](crate::Store::reserve_attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt is counted in every budget: check the secret now. `spent`
    /// is the most attempts spent in any one of the budgets, this one included.
    Granted {
        /// Attempts spent in the fullest budget, this one included.
        spent: u32,
    },
    /// A budget is spent: nothing was counted; retry after this many seconds.
    Refused {
        /// Seconds until the fullest budget grants one attempt again.
        retry_after_secs: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_grants_its_burst_then_one_per_interval() {
        let k = AttemptKey {
            key: "k".into(),
            interval_secs: 100,
            burst: 3,
        };
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(k.take(tat, 1000).expect("granted"));
        }
        assert_eq!(tat, Some(1300));
        assert_eq!(k.spent(1300, 1000), 3);
        assert_eq!(k.take(tat, 1000), Err(100));
        assert_eq!(k.take(tat, 1099), Err(1));
        assert_eq!(k.take(tat, 1100), Ok(1400));
        // A quiet spell gives the whole burst back.
        assert_eq!(k.take(tat, 5000), Ok(5100));
    }
}
