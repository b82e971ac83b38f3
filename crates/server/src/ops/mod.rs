//! Operator accounts and the operator API (`/v1/ops/…`).
//!
//! **Accounts.** An operator logs in with a password (Argon2id PHC string in
//! [`OperatorRecord::password_hash`]) and a TOTP code (RFC 6238: SHA-1, 6
//! digits, 30 s steps, ±1 step of skew; the secret sealed for purpose
//! [`purpose::TOTP`]). A code is usable once: the accepted step must be later
//! than [`OperatorRecord::last_totp_step`]. Failures (wrong password, wrong or
//! reused code) count; each delays the answer more, and from
//! [`OpsConfig::lock_after`] failures on the account is soft-locked for a time
//! that doubles per failure, capped (never permanent). An unknown name costs
//! the same Argon2 work as a known one.
//!
//! **Sessions.** A login returns a random 32-byte bearer token (hex); only its
//! SHA-256 (hex) is stored. A session ends after [`OpsConfig::idle_secs`]
//! without use and at most [`OpsConfig::max_secs`] after login.
//!
//! **Roles.** `operator` may act; `auditor` may only read; `soc` has its own
//! (future) routes. Anything else is `403 ROLE_FORBIDDEN`.
//!
//! **The ledger.** Every operator action is appended with
//! [`Store::append_event`] as kind `ADMIN`, actor `operator:<name>`, body
//! canonical JSON (sorted keys, compact) without secrets. A track allocation
//! is itself an E0401 ledger entry appended with that actor.
//!
//! | route | role | does |
//! | --- | --- | --- |
//! | `POST /v1/ops/login` `{name, password, totp}` | — | `{token, expires_unix, roles}` |
//! | `POST /v1/ops/logout` | any | ends the session |
//! | `GET /v1/ops/whoami` | any | `{name, roles, expires_unix}` |
//! | `POST /v1/ops/sellers` `{ubn, name}` | operator | register / rename a seller |
//! | `POST /v1/ops/keys` `{sellers: [ubn…]}` | operator | `{key_id, secret}` (secret shown once, sealed `api-key`) |
//! | `POST /v1/ops/apps` `{name, app_id?, alg?}` | operator | `{app_id, api_key, alg}` (key shown once, sealed `app-key`) |
//! | `POST /v1/ops/operators` `{name, roles}` | operator | `{name, roles, password, totp_secret, otpauth_url}` (shown once) |
//! | `POST /v1/ops/tracks` `{seller, period, track, begin, end, head?, invoice_type?}` | operator | E0401 validated and appended; the receipt |
//! | `POST /v1/ops/winning` `{period, special, grand, first, additional_sixth?, amounts?, reason?}` | operator | a draft version |
//! | `POST /v1/ops/winning/{period}/approve` `{version}` | operator (not the one who entered it) | publishes it |
//! | `GET /v1/ops/winning/{period}` | operator, auditor | the latest version |

// A `Problem` is built at most once per request and goes straight to the client:
// boxing it would only add noise.
#![allow(clippy::result_large_err)]

//! # Where things are
//!
//! | file | holds |
//! | --- | --- |
//! | `router.rs` | the routes above and the state they share |
//! | `session.rs` | login, logout, whoami and the `Operator<R>` extractor (session + role) every other route starts with |
//! | `answer.rs` | problem documents, JSON bodies, the `ADMIN` ledger record |
//! | `operators.rs` | operator accounts: new accounts, bootstrap, `POST /v1/ops/operators` |
//! | `totp.rs` | the operators' TOTP (RFC 6238) parameters |
//! | `sellers.rs`, `keys.rs`, `apps.rs`, `tracks.rs`, `winning.rs` | one resource each |
//!
//! **A new route** goes in the file of its resource (or a new one named after
//! it): a handler taking `State`, an `Operator<RoleOperator>` (or
//! `Operator<RoleOperatorOrAuditor>` for a read) and the raw body, answering
//! `Answer` (`answer.rs`) and recording what it did with `record`; then add it to
//! `router.rs`, to the table above and to the OpenAPI table ([`crate::openapi`]).

mod answer;
mod apps;
mod keys;
mod operators;
mod router;
mod sellers;
mod session;
mod totp;
mod tracks;
mod winning;

pub use crate::clock::Clock;
pub use operators::{bootstrap_operator, new_operator};
pub use router::{router, router_with};
pub use totp::TOTP_ISSUER;
pub use tracks::track_message;

use crate::lockout::Lockout;
use einvoice_secrets::{SealError, Sealer};
use einvoice_store::StoreError;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

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
}

impl Default for OpsConfig {
    fn default() -> Self {
        Self {
            idle_secs: 15 * 60,
            max_secs: 8 * 3600,
            lockout: Lockout::default(),
            clock: Clock::default(),
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

/// The one-time secrets of a new operator: shown once, never stored in clear.
#[derive(Clone)]
pub struct NewOperatorSecrets {
    /// The generated password.
    pub password: String,
    /// The TOTP secret, Base32 (for manual entry).
    pub totp_secret_base32: String,
    /// The `otpauth://totp/…` URL (for a QR code).
    pub otpauth_url: String,
}

impl std::fmt::Debug for NewOperatorSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewOperatorSecrets(..)")
    }
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

/// What every operator route reads: the store, the master key, the settings,
/// the login lock and the sessions' login times.
struct OpsState<S> {
    store: S,
    sealer: Sealer,
    cfg: OpsConfig,
    /// Serialises login checks so a TOTP step cannot be used twice concurrently.
    login: tokio::sync::Mutex<()>,
    /// Login time per session (token hash), for the maximum session length.
    started: std::sync::Mutex<HashMap<String, i64>>,
}
