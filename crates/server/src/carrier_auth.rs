//! Citizen authentication by carrier (載具) and verification code (驗證碼),
//! shared by the citizen API and the MOF App API.
//!
//! The code is checked with Argon2id against [`CarrierRecord::verification_hash`]
//! off the async reactor. An unknown carrier costs the same Argon2 work as a
//! known one and gets the same answer. Each failure on a known carrier is
//! recorded; the answer is delayed more after each consecutive failure, and
//! after [`AppApiConfig::lock_after`] failures logins are refused for a time
//! that doubles per further failure, capped — never a permanent lock, so an
//! attacker cannot lock a citizen out of their own invoices for long.

use crate::app_api::{AppApiConfig, argon2_verify, dummy_hash};
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

/// Check `code` for `carrier`, recording the attempt (see the module docs).
pub async fn authenticate<S: Store>(
    store: &S,
    cfg: &AppApiConfig,
    carrier: &Carrier,
    code: &str,
) -> Result<(), CarrierAuthError> {
    let now = cfg.clock.now_unix();
    let rec: Option<CarrierRecord> = store.carrier(carrier).await?;
    if let Some(r) = &rec
        && r.locked_until > now
    {
        return Err(CarrierAuthError::Locked(r.locked_until - now));
    }
    let phc = rec
        .as_ref()
        .map(|r| r.verification_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let known = rec.is_some();
    let given = code.to_string();
    let ok = tokio::task::spawn_blocking(move || argon2_verify(given.as_bytes(), &phc))
        .await
        .unwrap_or(false)
        && known;
    if ok {
        store
            .record_carrier_login(carrier, LoginAttempt::Succeeded)
            .await?;
        return Ok(());
    }
    let failures = rec.as_ref().map_or(1, |r| r.failures.saturating_add(1));
    if known {
        let lock_until = cfg.lock_until(failures, now);
        store
            .record_carrier_login(carrier, LoginAttempt::Failed { lock_until })
            .await?;
    }
    tokio::time::sleep(cfg.delay(failures)).await;
    Err(CarrierAuthError::Wrong)
}
