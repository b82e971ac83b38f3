//! The App API's settings ([`AppApiConfig`]) and the state every action reads.

use crate::clock::Clock;
use crate::lockout::Lockout;
use einvoice_secrets::Sealer;

/// Behaviour of the App API that a deployment may tune.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppApiConfig {
    /// Require a valid `signature` on every action (default: verify only when present).
    pub require_signature: bool,
    /// Allowed distance of `timeStamp` (Unix seconds) from now, for carrier actions.
    pub timestamp_window_secs: i64,
    /// Delays and soft locks after failed carrier logins (also the citizen API's).
    pub lockout: Lockout,
    /// Where carrier soft locks and the `timeStamp` window read the time.
    pub clock: Clock,
}

impl Default for AppApiConfig {
    fn default() -> Self {
        Self {
            require_signature: false,
            timestamp_window_secs: 300,
            lockout: Lockout::default(),
            clock: Clock::default(),
        }
    }
}

/// What every App API action reads: the store, the master key (app keys) and
/// the configuration.
pub(super) struct AppState<S> {
    pub(super) store: S,
    pub(super) sealer: Sealer,
    pub(super) cfg: AppApiConfig,
}
