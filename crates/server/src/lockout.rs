//! The soft-lock policy after failed logins, one rule for carriers (載具 +
//! 驗證碼, [`crate::carrier_auth`]) and operators (password + TOTP,
//! [`crate::ops`]), each with its own settings.
//!
//! Each consecutive failure delays the answer more (doubling, capped); from
//! [`Lockout::lock_after`] failures on, logins are refused until a time that
//! doubles per further failure, capped: never a permanent lock.

use std::time::Duration;

/// Failure count -> soft-lock end and answer delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    /// Consecutive failures before the soft lock starts.
    pub lock_after: u32,
    /// First soft-lock length, seconds; doubles with each further failure.
    pub base_lock_secs: i64,
    /// Longest soft lock, seconds.
    pub max_lock_secs: i64,
    /// Delay of the answer after the first failure; doubles per consecutive failure.
    pub base_delay: Duration,
    /// Longest delay of a failed answer.
    pub max_delay: Duration,
}

impl Default for Lockout {
    fn default() -> Self {
        Self {
            lock_after: 5,
            base_lock_secs: 60,
            max_lock_secs: 3600,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
        }
    }
}

impl Lockout {
    /// Soft-lock end (Unix seconds) after `failures` consecutive failures, 0 for none.
    pub fn lock_until(&self, failures: u32, now: i64) -> i64 {
        if failures < self.lock_after {
            return 0;
        }
        let doublings = (failures - self.lock_after).min(20);
        let secs = self
            .base_lock_secs
            .saturating_mul(1i64 << doublings)
            .min(self.max_lock_secs);
        now.saturating_add(secs)
    }

    /// Delay of the answer after `failures` consecutive failures.
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        self.base_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_grows_and_is_capped() {
        let c = Lockout::default();
        assert_eq!(c.lock_until(4, 100), 0);
        assert_eq!(c.lock_until(5, 100), 160);
        assert_eq!(c.lock_until(6, 100), 220);
        assert_eq!(c.lock_until(40, 100), 3700);
        assert!(c.delay(2) > c.delay(1));
        assert_eq!(c.delay(30), c.max_delay);
    }
}
