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
    let phc = checkable_hash(store, carrier).await?;
    let account = budget_account(carrier);
    check_in_budget(
        store,
        lockout,
        clock,
        &account,
        &carrier_key(carrier),
        phc,
        code,
        client,
    )
    .await
}

/// The verification hash a code of `carrier` is checked against: `None`
/// (never right, the same work) for an unknown carrier, and for one the
/// SOC forced to verify again ([`crate::soc_holds`]: its code answers as a
/// wrong one until it is reset through its registered contact).
async fn checkable_hash<S: Store>(
    store: &S,
    carrier: &Carrier,
) -> Result<Option<String>, StoreError> {
    let rec: Option<CarrierRecord> = store.carrier(carrier).await?;
    if rec.is_some()
        && crate::soc_holds::in_force(store, &crate::soc_holds::carrier_target(carrier)).await?
    {
        return Ok(None);
    }
    Ok(rec.map(|r| r.verification_hash))
}

/// The account name of a phone number in the attempt budgets:
/// `phone:<first 16 hex digits of its SHA-256>` (the number itself is not
/// kept in the budgets).
pub fn phone_budget_account(phone: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(phone.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("phone:{hex}")
}

/// Check `code` for the carrier registered with `phone` (`carrier`, or
/// `None` when no carrier has this phone), counting the attempt first in
/// the **phone's** budgets ([`phone_budget_account`]) — the same budgets,
/// the same Argon2 work and the same answers whether or not the phone is
/// registered, so neither the answer nor its time tells (MOF `getBarcode`).
pub async fn authenticate_phone<S: Store>(
    store: &S,
    lockout: &Lockout,
    clock: &Clock,
    phone: &str,
    carrier: Option<&Carrier>,
    code: &str,
    client: &str,
) -> Result<(), CarrierAuthError> {
    let phc = match carrier {
        Some(c) => checkable_hash(store, c).await?,
        None => None,
    };
    let account = phone_budget_account(phone);
    check_in_budget(store, lockout, clock, &account, &account, phc, code, client).await
}

/// Count an attempt in `account`'s budgets, then check `code` against `phc`
/// (none: never right, same work); `reported` names the account in SOC
/// events.
#[allow(clippy::too_many_arguments)]
async fn check_in_budget<S: Store>(
    store: &S,
    lockout: &Lockout,
    clock: &Clock,
    account: &str,
    reported: &str,
    phc: Option<String>,
    code: &str,
    client: &str,
) -> Result<(), CarrierAuthError> {
    let keys = lockout.keys(account, client);
    let ok = password::check_counted(store, keys.clone(), clock.now_unix(), code, phc)
        .await
        .map_err(|e| match e {
            password::Counted::Locked(secs) => {
                lockout
                    .events
                    .carrier_code_failed(reported, client, "locked");
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
                .carrier_code_failed(reported, client, "wrong_code");
            tokio::time::sleep(lockout.delay(spent)).await;
            Err(CarrierAuthError::Wrong)
        }
    }
}
