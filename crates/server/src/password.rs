//! Argon2id secrets: carrier verification codes (驗證碼) and operator
//! passwords, kept as PHC strings.
//!
//! Verifying is deliberately slow (19 MiB, a few tens of milliseconds), so
//! the server runs it off the async reactor ([`verify_off_reactor`]) and at
//! most [`permits`] checks at once, process-wide (one per core): a caller
//! waits at most [`MAX_WAIT`] for a turn, else gets [`Busy`] (answered `503`
//! with `Retry-After`), so a flood of logins can neither exhaust memory nor
//! starve the other requests. An unknown account is checked against
//! [`dummy_hash`] so that unknown and known names cost the same.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use einvoice_store::{AttemptKey, Reservation, Store, StoreError};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Why a secret could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("HASH_FAILED: argon2id hashing failed")]
pub struct HashError;

/// Every Argon2 permit stayed taken for [`MAX_WAIT`]: the check was not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "LOGIN_BUSY: too many logins are being checked; retry in {} s",
    RETRY_AFTER_SECS
)]
pub struct Busy;

/// Longest wait for an Argon2 permit.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// `Retry-After` of a [`Busy`] answer, seconds.
pub const RETRY_AFTER_SECS: u64 = 2;

/// Argon2id PHC string of `secret` (random salt, default parameters).
pub fn hash(secret: &[u8]) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(secret)
        .map(|h| h.to_string())
        .map_err(|_| HashError)
}

/// Constant-time Argon2id check of `secret` against a PHC string.
pub fn verify(secret: &[u8], phc: &str) -> bool {
    Argon2::default().verify_password(secret, phc).is_ok()
}

/// A PHC string of a random secret, verified against when the account does
/// not exist so that unknown and known ids take the same time.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut r = [0u8; 16];
        let _ = getrandom::fill(&mut r);
        hash(&r).unwrap_or_default()
    })
}

/// Argon2 checks that may run at once in this process: one per core.
pub fn permits() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

fn semaphore() -> &'static Semaphore {
    static SEM: OnceLock<Semaphore> = OnceLock::new();
    SEM.get_or_init(|| Semaphore::new(permits()))
}

async fn permit() -> Result<tokio::sync::SemaphorePermit<'static>, Busy> {
    tokio::time::timeout(MAX_WAIT, semaphore().acquire())
        .await
        .map_err(|_| Busy)?
        .map_err(|_| Busy)
}

/// Run the Argon2 check on the blocking pool, giving `permit` back after it.
async fn verify_holding(
    permit: tokio::sync::SemaphorePermit<'static>,
    secret: &str,
    phc: Option<String>,
) -> bool {
    let known = phc.is_some();
    let phc = phc.unwrap_or_else(|| dummy_hash().to_string());
    let secret = secret.to_string();
    let ok = tokio::task::spawn_blocking(move || verify(secret.as_bytes(), &phc))
        .await
        .unwrap_or(false);
    drop(permit);
    ok && known
}

/// Check `secret` against `phc` on the blocking pool, holding one of the
/// [`permits`]; with no `phc` (no such account) the same work is done
/// against [`dummy_hash`] and the answer is `false`. [`Busy`] when no permit
/// came within [`MAX_WAIT`].
pub async fn verify_off_reactor(secret: String, phc: Option<String>) -> Result<bool, Busy> {
    let permit = permit().await?;
    Ok(verify_holding(permit, &secret, phc).await)
}

/// Why [`check_counted`] checked nothing.
#[derive(Debug, thiserror::Error)]
pub enum Counted {
    /// An attempt budget is spent: retry after this many seconds.
    #[error("LOGIN_LOCKED: too many failed attempts; retry after {0} seconds")]
    Locked(i64),
    /// No Argon2 permit in time (nothing was counted).
    #[error(transparent)]
    Busy(#[from] Busy),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The throttled login check of [`crate::lockout`], one rule for carriers
/// and operators: charge the attempt to every budget of `keys` in the store
/// *before* checking (a spent budget answers at once, without waiting for
/// Argon2), take an Argon2 permit (none in time: the attempt is given back,
/// [`Busy`]), and check `secret` against
/// `phc` (no `phc`: an unknown account, same work, never right). `Ok(Ok(()))`:
/// right — the caller gives the attempt back with
/// [`Store::release_attempt`] once the whole login succeeded (a second
/// factor may still fail); `Ok(Err(spent))`: wrong, with the attempts spent
/// in the fullest budget (for the answer delay).
pub async fn check_counted<S: Store>(
    store: &S,
    keys: Vec<AttemptKey>,
    now: i64,
    secret: &str,
    phc: Option<String>,
) -> Result<Result<(), u32>, Counted> {
    let spent = match store.reserve_attempt(keys.clone(), now).await? {
        Reservation::Granted { spent } => spent,
        Reservation::Refused { retry_after_secs } => return Err(Counted::Locked(retry_after_secs)),
    };
    let permit = match permit().await {
        Ok(p) => p,
        Err(busy) => {
            // Not checked: the attempt goes back.
            store.release_attempt(keys, now).await?;
            return Err(Counted::Busy(busy));
        }
    };
    if verify_holding(permit, secret, phc).await {
        Ok(Ok(()))
    } else {
        Ok(Err(spent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_accounts_never_pass() {
        let phc = hash(b"123456").expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify(b"123456", &phc));
        assert!(!verify(b"654321", &phc));
        assert_eq!(
            verify_off_reactor("123456".into(), Some(phc)).await,
            Ok(true)
        );
        assert_eq!(verify_off_reactor("123456".into(), None).await, Ok(false));
    }

    #[tokio::test]
    async fn a_check_waits_for_a_permit_at_most_max_wait_then_is_busy() {
        let all = u32::try_from(permits()).expect("permits");
        let held = semaphore().acquire_many(all).await.expect("permits");
        let got = verify_off_reactor("123456".into(), None).await;
        assert_eq!(got, Err(Busy));
        drop(held);
        assert_eq!(verify_off_reactor("123456".into(), None).await, Ok(false));
    }
}
