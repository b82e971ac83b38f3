//! The one place the server reads the time: [`Clock`] (soft locks, session
//! expiry, request time windows, carrier tokens) and [`now_unix`], the system
//! clock under it.

use einvoice_core::time::OffsetDateTime;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Unix seconds from the system clock (what a [`Clock`] adds its offset to;
/// for workers and tools that have no [`Clock`] of their own).
pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Unix seconds from the system clock plus an offset that only moves
/// forward. Copies share the offset. Tests move it instead of sleeping, so
/// lock and expiry tests do not depend on how loaded the machine is.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
}

impl Clock {
    /// Now, in Unix seconds.
    pub fn now_unix(&self) -> i64 {
        now_unix().saturating_add(self.offset.load(Ordering::Relaxed))
    }

    /// Move this clock (and every copy of it) `secs` seconds forward.
    pub fn advance(&self, secs: u32) {
        self.offset.fetch_add(i64::from(secs), Ordering::Relaxed);
    }
}

/// Two clocks are equal when they are copies of one another.
impl PartialEq for Clock {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.offset, &other.offset)
    }
}

impl Eq for Clock {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_move_together_and_only_forward() {
        let a = Clock::default();
        let b = a.clone();
        let before = b.now_unix();
        a.advance(3600);
        assert!(b.now_unix() >= before + 3600);
        assert_eq!(a, b);
        assert_ne!(a, Clock::default());
    }
}
