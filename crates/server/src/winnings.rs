//! Citizens' winnings and bank accounts.
//!
//! | route | does |
//! | --- | --- |
//! | `GET /v1/carrier/winnings?period=` (Bearer token) | the carrier's winning invoices of a period (regular and cloud prizes), from the winners the draw loaded |
//! | `PUT /v1/carrier/bank-account` (Bearer token) `{bank_code, account_number, holder_name}` | register the account prizes are deposited to; answers the masked form |
//! | `GET /v1/carrier/bank-account` (Bearer token) | the masked form (`***1234`) |
//!
//! A bank account is sealed with the site's master key (AES-256-GCM, purpose
//! [`BANK_PURPOSE`], bound to its carrier) before it reaches the store; the
//! store keeps only that and the masked form. Nothing but the masked form is
//! ever answered or logged; the payout files (`einvoice draw payouts`) are the
//! one place the account is opened.

#![allow(clippy::result_large_err)]

use crate::citizen::{carrier_and_period, token_carrier};
use crate::problem::Problem;
use crate::seal::Sealer;
use crate::site::{SiteState, client_key, store_problem};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use einvoice_store::{BankAccountRecord, Store, carrier_key};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

/// Purpose under which bank accounts are sealed.
pub const BANK_PURPOSE: &str = "bank-account";

pub(crate) fn routes<S: Store>(st: Arc<SiteState<S>>) -> Router {
    Router::new()
        .route("/v1/carrier/winnings", get(winnings::<S>))
        .route(
            "/v1/carrier/bank-account",
            get(get_account::<S>).put(put_account::<S>),
        )
        .with_state(st)
}

fn bad(code: &str, detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, code, detail)
}

/// A bank account as entered (personal data: never logged, never answered).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankAccount {
    /// Bank code, 3 digits.
    pub bank_code: String,
    /// Account number, 1–16 digits.
    pub account_number: String,
    /// Account holder's name.
    pub holder_name: String,
}

impl std::fmt::Debug for BankAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BankAccount")
            .field("bank_code", &self.bank_code)
            .field("account_number", &self.masked())
            .finish_non_exhaustive()
    }
}

/// Why a bank account was refused or cannot be opened. Codes are stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BankError {
    /// `BANK_CODE`: not 3 digits.
    #[error("BANK_CODE: the bank code is 3 digits")]
    BankCode,
    /// `BANK_ACCOUNT`: not 1–16 digits.
    #[error("BANK_ACCOUNT: the account number is 1 to 16 digits")]
    Account,
    /// `BANK_HOLDER`: empty, longer than 64 characters or with control characters.
    #[error("BANK_HOLDER: the holder name is 1 to 64 characters without control characters")]
    Holder,
    /// `BANK_SEAL`: sealing or opening failed (wrong master key, another carrier's record).
    #[error("BANK_SEAL: {0}")]
    Seal(String),
}

impl BankError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BankCode => "BANK_CODE",
            Self::Account => "BANK_ACCOUNT",
            Self::Holder => "BANK_HOLDER",
            Self::Seal(_) => "BANK_SEAL",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Sealed {
    carrier: String,
    account: BankAccount,
}

impl BankAccount {
    /// Check the formats.
    pub fn check(&self) -> Result<(), BankError> {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if self.bank_code.len() != 3 || !digits(&self.bank_code) {
            return Err(BankError::BankCode);
        }
        if self.account_number.len() > 16 || !digits(&self.account_number) {
            return Err(BankError::Account);
        }
        let n = self.holder_name.trim().chars().count();
        if n == 0 || n > 64 || self.holder_name.chars().any(char::is_control) {
            return Err(BankError::Holder);
        }
        Ok(())
    }

    /// `***` and the last 4 digits (fewer when the number is shorter).
    pub fn masked(&self) -> String {
        let a = &self.account_number;
        let tail = &a[a.len().saturating_sub(4)..];
        format!("***{tail}")
    }

    /// Check and seal for `carrier` (`type:id`) into a store record.
    pub fn seal(
        &self,
        sealer: &Sealer,
        carrier: &str,
        now_unix: i64,
    ) -> Result<BankAccountRecord, BankError> {
        self.check()?;
        let plain = serde_json::to_vec(&Sealed {
            carrier: carrier.to_string(),
            account: self.clone(),
        })
        .map_err(|e| BankError::Seal(e.to_string()))?;
        let sealed = sealer
            .seal(BANK_PURPOSE, &plain)
            .map_err(|e| BankError::Seal(e.to_string()))?;
        Ok(BankAccountRecord {
            carrier: carrier.to_string(),
            sealed,
            masked: self.masked(),
            bank_code: self.bank_code.clone(),
            updated_unix: now_unix,
        })
    }

    /// Open a stored record (checks it belongs to the record's carrier).
    pub fn open(sealer: &Sealer, rec: &BankAccountRecord) -> Result<Self, BankError> {
        let plain = sealer
            .open(BANK_PURPOSE, &rec.sealed)
            .map_err(|e| BankError::Seal(e.to_string()))?;
        let s: Sealed = serde_json::from_slice(&plain)
            .map_err(|_| BankError::Seal("the sealed account is malformed".into()))?;
        if s.carrier != rec.carrier {
            return Err(BankError::Seal(
                "the sealed account belongs to another carrier".into(),
            ));
        }
        Ok(s.account)
    }
}

async fn winnings<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Problem> {
    let (carrier, period) = carrier_and_period(&st, addr, &headers, &uri)?;
    let loaded = st
        .store
        .winners_summary(period)
        .await
        .map_err(store_problem)?
        .is_some();
    let list = if loaded {
        st.store
            .carrier_winnings(&carrier, period)
            .await
            .map_err(store_problem)?
    } else {
        Vec::new()
    };
    let total: i64 = list.iter().map(|w| w.payable).sum();
    let rows: Vec<Value> = list
        .iter()
        .map(|w| {
            json!({
                "invoice_number": w.invoice_number,
                "seller": w.seller,
                "prize": w.prize,
                "amount": w.amount,
                "payable": w.payable,
                "donated_to": w.npo,
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "carrier": {"type": carrier.kind.code(), "id": carrier.id},
        "period": period.to_string(),
        "loaded": loaded,
        "winnings": rows,
        "payable_total": total,
    }))
    .into_response())
}

fn account_json(rec: &BankAccountRecord) -> Value {
    json!({
        "bank_code": rec.bank_code,
        "account_number": rec.masked,
        "updated_unix": rec.updated_unix,
    })
}

async fn put_account<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Problem> {
    let carrier = token_carrier(&st, &headers)?;
    st.carrier_limit.check(&client_key(Some(addr)))?;
    // The parser's message could quote the account: say only what is expected.
    let acct: BankAccount = serde_json::from_slice(&body).map_err(|_| {
        bad(
            "BODY_INVALID",
            "expected {bank_code, account_number, holder_name} as strings",
        )
    })?;
    let rec = acct
        .seal(
            &st.sealer,
            &carrier_key(&carrier),
            crate::app_api::now_unix(),
        )
        .map_err(|e| match e {
            BankError::Seal(_) => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                e.code(),
                "the account could not be sealed",
            ),
            e => bad(e.code(), e.to_string()),
        })?;
    st.store
        .put_bank_account(rec.clone())
        .await
        .map_err(store_problem)?;
    Ok(axum::Json(account_json(&rec)).into_response())
}

async fn get_account<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let carrier = token_carrier(&st, &headers)?;
    st.carrier_limit.check(&client_key(Some(addr)))?;
    let rec = st
        .store
        .bank_account(&carrier_key(&carrier))
        .await
        .map_err(store_problem)?
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                "BANK_ACCOUNT_NONE",
                "no bank account registered for this carrier: PUT one",
            )
        })?;
    Ok(axum::Json(account_json(&rec)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(code: &str, number: &str, holder: &str) -> BankAccount {
        BankAccount {
            bank_code: code.into(),
            account_number: number.into(),
            holder_name: holder.into(),
        }
    }

    #[test]
    fn formats_masking_and_sealing() {
        assert_eq!(acct("12", "1", "A").check(), Err(BankError::BankCode));
        assert_eq!(acct("812", "", "A").check(), Err(BankError::Account));
        assert_eq!(
            acct("812", "12345678901234567", "A").check(),
            Err(BankError::Account)
        );
        assert_eq!(acct("812", "12a", "A").check(), Err(BankError::Account));
        assert_eq!(acct("812", "1", " ").check(), Err(BankError::Holder));
        let a = acct("812", "0012345678", "王小明");
        assert_eq!(a.masked(), "***5678");
        assert_eq!(acct("812", "12", "x").masked(), "***12");
        assert!(!format!("{a:?}").contains("0012345678"));
        assert!(!format!("{a:?}").contains("王小明"));
        let sealer = Sealer::new(&[7u8; 32]);
        let rec = a.seal(&sealer, "3J0002:/ABC+123", 5).expect("seal");
        let raw = String::from_utf8_lossy(&rec.sealed).into_owned();
        assert!(!raw.contains("0012345678"));
        assert_eq!(BankAccount::open(&sealer, &rec).expect("open"), a);
        let moved = BankAccountRecord {
            carrier: "3J0002:/XYZ+999".into(),
            ..rec.clone()
        };
        assert_eq!(
            BankAccount::open(&sealer, &moved).map_err(|e| e.code()),
            Err("BANK_SEAL")
        );
        assert!(BankAccount::open(&Sealer::new(&[8u8; 32]), &rec).is_err());
    }
}
