//! Citizen authentication by carrier (載具) and verification code (驗證碼),
//! shared by the citizen API and the MOF App API.
//!
//! The code is checked with Argon2id against [`CarrierRecord::verification_hash`]
//! off the async reactor. An unknown carrier costs the same Argon2 work as a
//! known one and gets the same answer. Each failure on a known carrier is
//! recorded; the answer is delayed more after each consecutive failure, and
//! after [`Lockout::lock_after`] failures logins are refused for a time
//! that doubles per further failure, capped — never a permanent lock, so an
//! attacker cannot lock a citizen out of their own invoices for long
//! ([`crate::lockout`]).

use crate::clock::Clock;
use crate::lockout::Lockout;
use crate::password::{self, HashError};
use einvoice_core::Carrier;
use einvoice_store::{CarrierRecord, LoginAttempt, Store, StoreError};

/// Why a carrier login was refused.
#[derive(Debug, thiserror::Error)]
pub enum CarrierAuthError {
    /// The carrier or its verification code is wrong (one answer for both).
    #[error("CARRIER_AUTH: the carrier or its verification code is wrong")]
    Wrong,
    /// Too many failures: retry after this many seconds.
    #[error("CARRIER_LOCKED: too many failed attempts; retry after {0} seconds")]
    Locked(i64),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Argon2id PHC string of a carrier verification code (驗證碼), as kept in
/// [`CarrierRecord::verification_hash`].
pub fn hash_verification_code(code: &str) -> Result<String, HashError> {
    password::hash(code.as_bytes())
}

/// Check `code` for `carrier`, recording the attempt (see the module docs):
/// `lockout` says how failures delay and lock, `clock` when now is.
pub async fn authenticate<S: Store>(
    store: &S,
    lockout: &Lockout,
    clock: &Clock,
    carrier: &Carrier,
    code: &str,
) -> Result<(), CarrierAuthError> {
    let now = clock.now_unix();
    let rec: Option<CarrierRecord> = store.carrier(carrier).await?;
    if let Some(r) = &rec
        && r.locked_until > now
    {
        return Err(CarrierAuthError::Locked(r.locked_until - now));
    }
    let known = rec.is_some();
    let phc = rec.as_ref().map(|r| r.verification_hash.clone());
    if password::verify_off_reactor(code.to_string(), phc).await {
        store
            .record_carrier_login(carrier, LoginAttempt::Succeeded)
            .await?;
        return Ok(());
    }
    let failures = rec.as_ref().map_or(1, |r| r.failures.saturating_add(1));
    if known {
        let lock_until = lockout.lock_until(failures, now);
        store
            .record_carrier_login(carrier, LoginAttempt::Failed { lock_until })
            .await?;
    }
    tokio::time::sleep(lockout.delay(failures)).await;
    Err(CarrierAuthError::Wrong)
}
