//! The login throttling policy, one rule for carriers (載具 + 驗證碼,
//! [`crate::carrier_auth`]) and operators (password + TOTP, `ops` login),
//! each with its own settings.
//!
//! Every attempt is counted in the store *before* the secret is checked
//! ([`einvoice_store::Store::reserve_attempt`]), in two budgets at once:
//!
//! - per account: [`Lockout::lock_after`] attempts at once, then one more
//!   every [`Lockout::interval_secs`] — at most `lock_after + 3600 /
//!   interval_secs` secrets of one account are ever checked in an hour,
//!   however many clients guess in parallel (defaults: 5 + 5 = 10);
//! - per (account, client address): [`Lockout::client_lock_after`] at once,
//!   then one every [`Lockout::client_interval_secs`] — one client's guessing
//!   is stopped early, before it spends the account's budget (defaults: 3
//!   + 2 = 5 an hour), so a stranger alone cannot lock the owner out.
//!
//! Unused budget comes back by itself (failures decay: a quiet hour gives it
//! all back), so a few requests a day never keep an account locked. An
//! attempt abandoned half-way (the client hung up) stays counted: it may have
//! been checked. A right secret gives its attempt back. Answers to wrong
//! secrets are also delayed a little more the fuller the budget.

use einvoice_store::AttemptKey;
use std::time::Duration;

/// The two attempt budgets and the answer delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    /// Attempts an account may have checked at once before it is soft-locked.
    pub lock_after: u32,
    /// Seconds until one attempt of an account's budget comes back.
    pub interval_secs: i64,
    /// Attempts one client address may have checked at once on one account.
    pub client_lock_after: u32,
    /// Seconds until one attempt of an (account, client) budget comes back.
    pub client_interval_secs: i64,
    /// Delay of a wrong answer when one attempt is spent; doubles per further spent attempt.
    pub base_delay: Duration,
    /// Longest delay of a wrong answer.
    pub max_delay: Duration,
    /// Where wrong secrets and lockout refusals are reported (the site's
    /// SOC; [`crate::site::router`] sets it from `SiteOptions::soc`).
    pub events: crate::soc::SecurityEvents,
}

impl Default for Lockout {
    fn default() -> Self {
        Self {
            lock_after: 5,
            interval_secs: 720,
            client_lock_after: 3,
            client_interval_secs: 1800,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
            events: crate::soc::SecurityEvents::default(),
        }
    }
}

impl Lockout {
    /// The budgets an attempt on `account` (e.g. `carrier:3J0002:/ABC+123`,
    /// `operator:alice`) from client address `client` is charged to.
    pub fn keys(&self, account: &str, client: &str) -> Vec<AttemptKey> {
        vec![
            AttemptKey {
                key: account.to_string(),
                interval_secs: self.interval_secs,
                burst: self.lock_after,
            },
            AttemptKey {
                key: format!("{account}@{client}"),
                interval_secs: self.client_interval_secs,
                burst: self.client_lock_after,
            },
        ]
    }

    /// Most secrets of one account checked in any hour, whatever the attack.
    pub fn max_per_hour(&self) -> u32 {
        let refill = 3600 / self.interval_secs.max(1);
        self.lock_after
            .saturating_add(u32::try_from(refill).unwrap_or(u32::MAX))
    }

    /// Delay of a wrong answer when `spent` attempts of the fullest budget are spent.
    pub fn delay(&self, spent: u32) -> Duration {
        let doublings = spent.saturating_sub(1).min(16);
        self.base_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_check_at_most_ten_secrets_an_hour_and_delays_grow_capped() {
        let c = Lockout::default();
        assert_eq!(c.max_per_hour(), 10);
        let keys = c.keys("carrier:3J0002:/ABC+123", "192.0.2.1");
        assert_eq!(keys[1].key, "carrier:3J0002:/ABC+123@192.0.2.1");
        assert!(keys[1].burst < keys[0].burst);
        assert!(c.delay(2) > c.delay(1));
        assert_eq!(c.delay(30), c.max_delay);
    }
}
