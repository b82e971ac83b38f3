//! Citizens' winnings and bank accounts.
//!
//! | route | does |
//! | --- | --- |
//! | `GET /v1/carrier/winnings?period=` (Bearer token) | the carrier's winning invoices of a period (regular and cloud prizes), from the winners the draw loaded |
//! | `PUT /v1/carrier/bank-account` (Bearer token) `{bank_code, account_number, holder_name, verification_code}` | register the account prizes are deposited to — the token and the carrier's verification code again, counted like a login; recorded in the ledger as [`BANK_ACCOUNT_EVENT`] (masked account, hash of the sealed record, the salted commitment other sites check the travelling account against); answers the masked form |
//! | `GET /v1/carrier/bank-account` (Bearer token) | the masked form (`***1234`) |
//!
//! A change also queues a mail to the carrier's address (masked account
//! only) when the carrier registered one and SMTP is configured; MOF's
//! `generalCarrierBank` (`app_api/registration.rs`) does the same.
//!
//! A bank account is sealed with the site's master key (AES-256-GCM, purpose
//! [`einvoice_secrets::purpose::BANK_ACCOUNT`], bound to its carrier) before it reaches the store; the
//! store keeps only that and the masked form. Nothing but the masked form is
//! ever answered or logged; the payout files (`einvoice draw payouts`) are the
//! one place the account is opened.

#![allow(clippy::result_large_err)]

use crate::carrier_token::CarrierToken;
use crate::citizen::{bad, no_store, period_query};
use crate::problem::{Problem, store_problem};
use crate::state::{SiteState, client_key};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use einvoice_secrets::{BankAccount, BankError, Sealer, TravellingAccount};
use einvoice_store::{BankAccountRecord, NewEntry, Store, canonical_json, carrier_key};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

pub(crate) fn routes<S: Store>(st: Arc<SiteState<S>>) -> Router {
    Router::new()
        .route("/v1/carrier/winnings", get(winnings::<S>))
        .route(
            "/v1/carrier/bank-account",
            get(get_account::<S>).put(put_account::<S>),
        )
        .with_state(st)
}

async fn winnings<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    CarrierToken(carrier): CarrierToken,
    uri: Uri,
) -> Result<Response, Problem> {
    let period = period_query(&uri)?;
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

/// Ledger kind of a change of a carrier's prize bank account.
pub const BANK_ACCOUNT_EVENT: &str = einvoice_secrets::bank::CARRIER_BANK_ACCOUNT;

async fn put_account<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    CarrierToken(carrier): CarrierToken,
    body: Bytes,
) -> Result<Response, Problem> {
    // The parser's message could quote the account: say only what is expected.
    let expected = || {
        bad(
            "BODY_INVALID",
            "expected {bank_code, account_number, holder_name, verification_code} as strings",
        )
    };
    let mut fields: serde_json::Map<String, Value> =
        serde_json::from_slice(&body).map_err(|_| expected())?;
    let code = fields.remove("verification_code");
    let acct: BankAccount =
        serde_json::from_value(Value::Object(fields)).map_err(|_| expected())?;
    let now = st.opts.clock.now_unix();
    let rec = acct
        .seal(&st.sealer, &carrier_key(&carrier), now)
        .map_err(|e| match e {
            BankError::Seal(_) => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                e.code(),
                "the account could not be sealed",
            ),
            e => bad(e.code(), e.to_string()),
        })?;
    // The token alone is not enough: the verification code again, counted
    // in the carrier's attempt budgets like a login.
    let code = match code {
        Some(Value::String(c)) if !c.is_empty() => c,
        _ => {
            return Err(bad(
                "VERIFICATION_CODE_REQUIRED",
                "verification_code: changing the prize bank account needs the carrier's verification code again",
            ));
        }
    };
    crate::citizen::check_code(&st, &carrier, &code, &client_key(Some(addr))).await?;
    let cx = crate::carrier_life::registration::RegContext {
        store: &st.store,
        mail_from: st.opts.app_api.mail_from.as_deref(),
        now,
    };
    let mail = bank_notice(&cx, &carrier, &rec)
        .await
        .map_err(|e| e.problem(crate::carrier_life::i18n::Lang::En))?;
    record_bank_account(&st.store, &st.sealer, &carrier, &rec, mail, now)
        .await
        .map_err(store_problem)?;
    Ok(no_store(axum::Json(account_json(&rec)).into_response()))
}

/// The mail telling a carrier's address that its prize account changed
/// (masked account only); none without a contact or without SMTP.
pub(crate) async fn bank_notice<S: Store>(
    cx: &crate::carrier_life::registration::RegContext<'_, S>,
    carrier: &einvoice_core::Carrier,
    rec: &BankAccountRecord,
) -> Result<Option<einvoice_store::MailMessage>, crate::carrier_life::registration::RegError> {
    let text = format!(
        "The bank account your prizes are paid into was changed to bank {} account {}.\n\
         您的中獎獎金匯款帳戶已變更為銀行代碼 {} 帳號 {}。\n\
         If you did not do this, change your verification code now. 若非您本人操作，請立即變更驗證碼。\n",
        rec.bank_code, rec.masked, rec.bank_code, rec.masked
    );
    crate::carrier_life::registration::notice(
        cx,
        carrier,
        "bank",
        "Prize bank account changed / 中獎獎金匯款帳戶已變更",
        &text,
    )
    .await
}

/// Record a bank account change: the [`BANK_ACCOUNT_EVENT`] ledger entry
/// first (a change that is not recorded never happens), then the sealed
/// account, then the notice mail, if any. The entry commits to the account
/// (opened with `sealer` for its [`TravellingAccount::commitment`]), so the
/// records feed can carry it to other sites.
pub(crate) async fn record_bank_account<S: Store>(
    store: &S,
    sealer: &Sealer,
    carrier: &einvoice_core::Carrier,
    rec: &BankAccountRecord,
    mail: Option<einvoice_store::MailMessage>,
    now: i64,
) -> Result<(), einvoice_store::StoreError> {
    let commitment = TravellingAccount::open(sealer, rec)
        .map_err(|e| einvoice_store::StoreError::Backend(e.to_string()))?
        .commitment();
    store
        .append_event(NewEntry {
            kind: BANK_ACCOUNT_EVENT.into(),
            key: format!("carrier/{}", carrier_key(carrier)),
            actor: format!("carrier:{}", carrier_key(carrier)),
            body: canonical_json(&bank_event_body(rec, &commitment)),
        })
        .await?;
    store.put_bank_account(rec.clone()).await?;
    if let Some(m) = mail {
        store.queue_mail(m, now).await?;
    }
    Ok(())
}

/// The ledger body of a bank account change: the bank code, the masked
/// account, the SHA-256 of the sealed record (which ties the event to the
/// stored account at its site without the account number) and the salted
/// `account_commitment` ([`TravellingAccount::commitment`]) a receiving
/// site checks the travelling account against.
pub fn bank_event_body(rec: &BankAccountRecord, account_commitment: &str) -> Value {
    use sha2::Digest;
    let sealed_sha256: String = sha2::Sha256::digest(&rec.sealed)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    json!({
        "action": "bank_account_changed",
        "carrier": rec.carrier,
        "bank_code": rec.bank_code,
        "account_number": rec.masked,
        "sealed_sha256": sealed_sha256,
        "account_commitment": account_commitment,
    })
}

async fn get_account<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    CarrierToken(carrier): CarrierToken,
) -> Result<Response, Problem> {
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
