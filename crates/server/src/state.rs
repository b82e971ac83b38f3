//! The state the seller, citizen, public and probe routes share: the site's
//! options, the store, the master key and the per-key and per-client request
//! limits.

// A `Problem` is built at most once per request and goes straight to the client.
#![allow(clippy::result_large_err)]

use crate::app_api::AppApiConfig;
use crate::config::Limits;
use crate::ops::OpsConfig;
use crate::problem::Problem;
use axum::http::StatusCode;
use einvoice_core::Rules;
use einvoice_secrets::Sealer;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// Everything a site's API needs besides the store and the master key.
#[derive(Debug, Clone)]
pub struct SiteOptions {
    /// Validation rules (production or sandbox).
    pub rules: Rules,
    /// Request limits.
    pub limits: Limits,
    /// MOF App API settings (also the carrier lock-out settings).
    pub app_api: AppApiConfig,
    /// Operator session settings.
    pub ops: OpsConfig,
    /// Mount `POST /v1/noop` (the HTTP ceiling of `bench ingest`).
    pub noop_route: bool,
    /// Where the seller routes (request timestamps), carrier tokens and bank
    /// accounts read the time.
    pub clock: crate::clock::Clock,
    /// This site's role: what the role layer ([`crate::role::guard`]) refuses.
    pub role: std::sync::Arc<crate::role::SiteRole>,
    /// `POST /v1/uploads`: the virus scanner and the archive limits.
    pub uploads: crate::uploads::UploadOptions,
    /// The site's SOC: where handlers report security events
    /// ([`crate::soc`]); in memory unless opened on the data directory.
    pub soc: crate::soc::SecurityEvents,
}

impl Default for SiteOptions {
    fn default() -> Self {
        Self {
            rules: Rules::production(),
            limits: Limits::default(),
            app_api: AppApiConfig::default(),
            ops: OpsConfig::default(),
            noop_route: false,
            clock: crate::clock::Clock::default(),
            role: std::sync::Arc::default(),
            uploads: crate::uploads::UploadOptions::default(),
            soc: crate::soc::SecurityEvents::default(),
        }
    }
}

/// A keyed rate limiter with its housekeeping counter.
pub(crate) struct Limiter {
    inner: DefaultKeyedRateLimiter<String>,
    calls: AtomicU64,
    /// Where refusals are reported: the limiter's name and the site's SOC.
    report: Option<(&'static str, crate::soc::SecurityEvents)>,
}

impl Limiter {
    pub(crate) fn new(per_second: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        Self {
            inner: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            calls: AtomicU64::new(0),
            report: None,
        }
    }

    /// Report each refusal to `events` as a `rate_limited` event of `name`.
    pub(crate) fn reporting(
        mut self,
        name: &'static str,
        events: &crate::soc::SecurityEvents,
    ) -> Self {
        self.report = Some((name, events.clone()));
        self
    }

    /// `Err(problem)` with 429 and `Retry-After` when `key` is over its rate.
    pub(crate) fn check(&self, key: &str) -> Result<(), Problem> {
        if self.calls.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999 {
            self.inner.retain_recent();
        }
        match self.inner.check_key(&key.to_string()) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                if let Some((name, events)) = &self.report {
                    events.rate_limited(name, key);
                }
                Err(Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "RATE_LIMITED",
                    format!("too many requests from this client: retry after {secs} s"),
                )
                .retry_after(secs.max(1)))
            }
        }
    }
}

/// Shared state of the seller, citizen, public and probe routes.
pub(crate) struct SiteState<S> {
    pub(crate) store: S,
    pub(crate) sealer: Sealer,
    pub(crate) opts: SiteOptions,
    pub(crate) seller_limit: Limiter,
    pub(crate) public_limit: Limiter,
    pub(crate) carrier_limit: Limiter,
}

/// The client address of a request (for per-client limits).
pub(crate) fn client_key(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(|| "unknown".to_string(), |a| a.ip().to_string())
}
