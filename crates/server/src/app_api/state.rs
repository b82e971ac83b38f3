//! The App API's settings ([`AppApiConfig`]) and the state every action reads.

use crate::clock::Clock;
use crate::lockout::Lockout;
use crate::rate_limit::KeyedLimit;
use einvoice_secrets::Sealer;

/// Behaviour of the App API that a deployment may tune.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppApiConfig {
    /// Require a valid `signature` on every action (default: verify only
    /// when present); `[app_api] require_signature` in the configuration
    /// file, on for sites `einvoice up` creates.
    pub require_signature: bool,
    /// Allowed distance of `timeStamp` (Unix seconds) from now, for carrier
    /// actions and signed requests; a signed request is also remembered this
    /// long, so a replay is refused.
    pub timestamp_window_secs: i64,
    /// Attempt budgets of carrier verification codes (also the citizen API's).
    pub lockout: Lockout,
    /// Where carrier budgets and the `timeStamp` window read the time.
    pub clock: Clock,
    /// Requests per minute one client address may send, every action together.
    pub client_per_minute: u32,
    /// Requests one client address may send at once.
    pub client_burst: u32,
    /// Requests per minute one appID may send, every client together.
    pub app_per_minute: u32,
    /// Requests one appID may send at once.
    pub app_burst: u32,
    /// The sender address of the site's mail, when SMTP is configured
    /// (`[smtp]`); without it, registrations and resets answer
    /// `MAIL_NOT_CONFIGURED` (shared with the citizen REST routes).
    pub mail_from: Option<String>,
}

impl Default for AppApiConfig {
    fn default() -> Self {
        Self {
            require_signature: false,
            timestamp_window_secs: 300,
            lockout: Lockout::default(),
            clock: Clock::default(),
            client_per_minute: 600,
            client_burst: 120,
            app_per_minute: 60_000,
            app_burst: 6_000,
            mail_from: None,
        }
    }
}

/// What every App API action reads: the store, the master key (app keys),
/// the configuration and the request limits.
pub(super) struct AppState<S> {
    pub(super) store: S,
    pub(super) sealer: Sealer,
    pub(super) cfg: AppApiConfig,
    /// Per client address ([`AppApiConfig::client_per_minute`]).
    pub(super) per_client: KeyedLimit,
    /// Per appID ([`AppApiConfig::app_per_minute`]).
    pub(super) per_app: KeyedLimit,
}

impl<S> AppState<S> {
    pub(super) fn new(store: S, sealer: Sealer, cfg: AppApiConfig) -> Self {
        Self {
            per_client: KeyedLimit::per_minute(cfg.client_per_minute, cfg.client_burst),
            per_app: KeyedLimit::per_minute(cfg.app_per_minute, cfg.app_burst),
            store,
            sealer,
            cfg,
        }
    }
}
