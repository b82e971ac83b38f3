//! Citizen authentication by carrier (載具) and verification code (驗證碼),
//! shared by the citizen API and the MOF App API.
//!
//! Each attempt is first counted in the store, in the carrier's budget and
//! in the (carrier, client address) budget ([`crate::lockout`],
//! [`Store::reserve_attempt`]); only a counted attempt is checked, with
//! Argon2id against [`CarrierRecord::verification_hash`] off the async
//! reactor under the process-wide Argon2 permits ([`crate::password`]). So
//! parallel guesses cannot outrun the count (the count lives in the store:
//! it holds across every API node of a PostgreSQL site), and an attempt the
//! client abandons stays counted. An unknown carrier is counted and costs
//! the same Argon2 work as a known one, and gets the same answer. Wrong codes
//! and lockout refusals are reported to the site's SOC
//! ([`Lockout::events`]), without the code.

use crate::clock::Clock;
use crate::lockout::Lockout;
use crate::password::{self, HashError};
use einvoice_core::Carrier;
use einvoice_store::{CarrierRecord, Store, StoreError, carrier_key};

/// Why a carrier login was refused.
#[derive(Debug, thiserror::Error)]
pub enum CarrierAuthError {
    /// The carrier or its verification code is wrong (one answer for both).
    #[error("CARRIER_AUTH: the carrier or its verification code is wrong")]
    Wrong,
    /// The attempt budget is spent: retry after this many seconds (nothing was checked).
    #[error("CARRIER_LOCKED: too many failed attempts; retry after {0} seconds")]
    Locked(i64),
    /// Every Argon2 permit is taken: retry shortly (nothing was checked or counted).
    #[error(transparent)]
    Busy(#[from] password::Busy),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Argon2id PHC string of a carrier verification code (驗證碼), as kept in
/// [`CarrierRecord::verification_hash`].
pub fn hash_verification_code(code: &str) -> Result<String, HashError> {
    password::hash(code.as_bytes())
}

/// The account name of a carrier in the attempt budgets: `carrier:<type:id>`.
pub fn budget_account(carrier: &Carrier) -> String {
    format!("carrier:{}", carrier_key(carrier))
}

/// Check `code` for `carrier` from client address `client`, counting the
/// attempt first (see the module docs): `lockout` says how many attempts
/// the budgets allow, `clock` when now is.
pub async fn authenticate<S: Store>(
    store: &S,
    lockout: &Lockout,
    clock: &Clock,
    carrier: &Carrier,
    code: &str,
    client: &str,
) -> Result<(), CarrierAuthError> {
    let rec: Option<CarrierRecord> = store.carrier(carrier).await?;
    let phc = rec.map(|r| r.verification_hash);
    let keys = lockout.keys(&budget_account(carrier), client);
    let ok = password::check_counted(store, keys.clone(), clock.now_unix(), code, phc)
        .await
        .map_err(|e| match e {
            password::Counted::Locked(secs) => {
                lockout
                    .events
                    .carrier_code_failed(&carrier_key(carrier), client, "locked");
                CarrierAuthError::Locked(secs)
            }
            password::Counted::Busy(b) => CarrierAuthError::Busy(b),
            password::Counted::Store(e) => CarrierAuthError::Store(e),
        })?;
    match ok {
        Ok(()) => {
            store.release_attempt(keys, clock.now_unix()).await?;
            Ok(())
        }
        Err(spent) => {
            lockout
                .events
                .carrier_code_failed(&carrier_key(carrier), client, "wrong_code");
            tokio::time::sleep(lockout.delay(spent)).await;
            Err(CarrierAuthError::Wrong)
        }
    }
}
