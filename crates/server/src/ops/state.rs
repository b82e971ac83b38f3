//! What the operator routes share: the settings ([`OpsConfig`]), the errors
//! outside HTTP ([`OpsError`]), random bytes, token hashes and the state.

use crate::clock::Clock;
use crate::lockout::Lockout;
use einvoice_secrets::{SealError, Sealer};
use einvoice_store::StoreError;
use sha2::{Digest, Sha256};

/// Session and lock-out settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsConfig {
    /// A session ends after this many seconds without use.
    pub idle_secs: i64,
    /// A session ends this many seconds after login, used or not.
    pub max_secs: i64,
    /// Delays and soft locks after failed logins.
    pub lockout: Lockout,
    /// Where session expiry, soft locks and ledger times read the time.
    pub clock: Clock,
    /// An enrolment token of a new operator is refused this many seconds
    /// after the account was created.
    pub enrolment_secs: i64,
    /// The site's SOC (`/v1/soc/…` reads it; [`crate::site::router`] sets
    /// it from `SiteOptions::soc`).
    pub soc: crate::soc::SecurityEvents,
}

impl Default for OpsConfig {
    fn default() -> Self {
        Self {
            idle_secs: 15 * 60,
            max_secs: 8 * 3600,
            lockout: Lockout::default(),
            clock: Clock::default(),
            enrolment_secs: 72 * 3600,
            soc: crate::soc::SecurityEvents::default(),
        }
    }
}

/// Failures of operator account management outside HTTP.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// Bootstrap is only for an empty site.
    #[error(
        "BOOTSTRAP_REFUSED: operators already exist; create more with `einvoice admin operator add`"
    )]
    NotEmpty,
    /// The operator exists already.
    #[error("OPERATOR_EXISTS: an operator of that name exists")]
    Exists,
    /// A name outside `[a-z0-9._-]{1,32}`.
    #[error("OPERATOR_NAME: operator names are 1-32 of a-z 0-9 . _ -")]
    Name,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// Hashing, randomness or TOTP set-up failed.
    #[error("CRYPTO: {0}")]
    Crypto(&'static str),
}

pub(super) fn random_bytes<const N: usize>() -> Result<[u8; N], OpsError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| OpsError::Crypto("random source failed"))?;
    Ok(b)
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 hex of a bearer token (what the store keeps).
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// What every operator route reads: the store, the master key, the settings
/// and the accounts' lock.
pub(super) struct OpsState<S> {
    pub(super) store: S,
    pub(super) sealer: Sealer,
    pub(super) cfg: OpsConfig,
    /// Serialises changes of operator accounts on this node (enrolment,
    /// disable, enable): an enrolment token is redeemed once.
    pub(super) accounts: tokio::sync::Mutex<()>,
}
