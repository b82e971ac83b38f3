//! Per-key request limits any route can share: [`KeyedLimit`] (a keyed
//! GCRA from `governor`, in this process's memory) and [`ClientAddr`], the
//! client address a limit is usually keyed by.
//!
//! A limit answers [`Limited`] with the seconds to wait; REST routes turn it
//! into `429` + `Retry-After` with a stable code ([`Limited::problem`]), the
//! MOF App API into its own answer code. Limits that must hold across every
//! API node (login attempts) are kept in the store instead
//! ([`einvoice_store::Store::reserve_attempt`], [`crate::lockout`]).

use crate::problem::Problem;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A request over its limit: retry after this many seconds (at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("RATE_LIMITED: too many requests; retry after {retry_after_secs} s")]
pub struct Limited {
    /// Seconds until the key is under its limit again.
    pub retry_after_secs: u64,
}

impl Limited {
    /// `429` + `Retry-After` with the stable `code` (e.g. `RATE_LIMITED`) and
    /// `what` named in the detail (e.g. "this client").
    pub fn problem(&self, code: &str, what: &str) -> Problem {
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            code,
            format!(
                "too many requests from {what}: retry after {} s",
                self.retry_after_secs
            ),
        )
        .retry_after(self.retry_after_secs)
    }
}

/// A rate per key: `burst` requests at once, then `per_minute` a minute.
pub struct KeyedLimit {
    inner: DefaultKeyedRateLimiter<String>,
    calls: AtomicU64,
}

impl std::fmt::Debug for KeyedLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedLimit").finish_non_exhaustive()
    }
}

impl KeyedLimit {
    /// `burst` requests at once per key, then `per_minute` a minute (each at least 1).
    pub fn per_minute(per_minute: u32, burst: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(Duration::from_secs(60) / per_minute.get())
            .unwrap_or_else(|| Quota::per_minute(per_minute))
            .allow_burst(burst);
        Self {
            inner: RateLimiter::keyed(quota),
            calls: AtomicU64::new(0),
        }
    }

    /// Count one request of `key`; [`Limited`] when it is over its rate.
    pub fn check(&self, key: &str) -> Result<(), Limited> {
        // Forget idle keys now and then, so the map stays small.
        if self.calls.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999 {
            self.inner.retain_recent();
        }
        self.inner.check_key(&key.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            Limited {
                retry_after_secs: secs.max(1),
            }
        })
    }
}

/// The client's IP address as text (`unknown` when the server was not
/// started with connection info), the key of per-client limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Self(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_string(), |c| c.0.ip().to_string()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_waits_and_keys_are_apart() {
        let l = KeyedLimit::per_minute(60, 3);
        for _ in 0..3 {
            assert_eq!(l.check("a"), Ok(()));
        }
        let e = l.check("a").expect_err("over the burst");
        assert_eq!(e.retry_after_secs, 1);
        assert_eq!(l.check("b"), Ok(()));
        assert_eq!(e.problem("RATE_LIMITED", "this client").status, 429);
    }
}
