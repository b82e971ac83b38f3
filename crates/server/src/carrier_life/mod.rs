//! The carrier lifecycle's REST routes (issue 17), the citizen forms of the
//! MOF App API actions in `app_api/lifecycle.rs`. Problem texts follow
//! `Accept-Language` (zh-TW or English, [`i18n`]); codes are stable.
//!
//! | route | does |
//! | --- | --- |
//! | `GET /v1/carrier/love-codes?q=` | NPOs of the directory (愛心碼) whose love code starts with `q` or whose name contains it (MOF `qryLoveCode`); per-client limit |
//! | `POST /v1/carrier/donations` (Bearer token) `{invoice_number, invoice_date, love_code}` | donate one invoice of the carrier (MOF `carrierInvDnt`): a `DONATION` ledger entry; `201` with its receipt |
//!
//! Registration by email and the verification code's change and reset:
//! [`registration`]; carriers linked to a mobile barcode (歸戶): [`aggregation`].
//!
//! Refusals: `400 LOVE_CODE_QUERY`, `400 BODY_INVALID`, `400
//! INVOICE_NUMBER_FORMAT` / `NPOBAN_FORMAT` / `DATE_FORMAT`, `404
//! DONATION_INVOICE_NOT_FOUND`, `409 DONATION_ALREADY_DONATED` /
//! `DONATION_NOT_DONATABLE` / `DONATION_PERIOD_CLOSED`, `422
//! LOVE_CODE_UNKNOWN`. A refused request writes nothing.

// A `Problem` is built at most once per request and goes straight to the client.
#![allow(clippy::result_large_err)]

pub mod aggregation;
pub mod i18n;
pub mod registration;

use crate::carrier_token::CarrierToken;
use crate::clock::Clock;
use crate::problem::{Problem, store_problem};
use crate::state::{SiteState, client_key};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use einvoice_core::period::{format_mig_date, parse_mig_date};
use einvoice_core::time::{Date, OffsetDateTime, UtcOffset};
use einvoice_core::{InvoiceNumber, LoveCode};
use einvoice_store::{DonationOutcome, DonationRefusal, InvoiceDonation, Store};
use i18n::{Lang, problem};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

/// At most this many NPOs per love-code search.
pub const MAX_LOVE_CODES: u32 = 50;

/// A love-code search key (MOF `qKey`): trimmed, 1–30 visible characters.
pub fn love_code_query(q: &str) -> Option<&str> {
    let q = q.trim();
    (!q.is_empty() && q.chars().count() <= 30 && !q.chars().any(char::is_control)).then_some(q)
}

/// The routes of this module.
pub(crate) fn routes<S: Store>(st: Arc<SiteState<S>>) -> Router {
    Router::new()
        .route("/v1/carrier/love-codes", get(love_codes::<S>))
        .route("/v1/carrier/donations", post(donate::<S>))
        .with_state(st.clone())
        .merge(aggregation::routes(st.clone()))
        .merge(registration::routes(st))
}

/// Today in Taipei (UTC+8), by `clock`.
pub fn taipei_today(clock: &Clock) -> Date {
    let offset = UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC);
    OffsetDateTime::from_unix_timestamp(clock.now_unix())
        .map(|t| t.to_offset(offset).date())
        .unwrap_or(Date::MIN)
}

/// A donation that is too late by the calendar: from the period's draw
/// date (Taipei) on. The store refuses it too once the period is frozen.
pub fn donation_closed(clock: &Clock, d: &InvoiceDonation) -> Option<DonationRefusal> {
    let period = d.period()?;
    (taipei_today(clock) >= period.draw_date()).then_some(DonationRefusal::PeriodClosed)
}

fn with_lang(lang: Lang, mut r: Response) -> Response {
    r.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.tag()),
    );
    r
}

fn fail(lang: Lang, p: Problem) -> Response {
    with_lang(lang, p.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoveCodeQuery {
    q: String,
}

async fn love_codes<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = Lang::of(&headers);
    if let Err(p) = st.public_limit.check(&client_key(Some(addr))) {
        return fail(lang, p);
    }
    let q = serde_urlencoded::from_str::<LoveCodeQuery>(uri.query().unwrap_or(""))
        .ok()
        .and_then(|q| love_code_query(&q.q).map(str::to_string));
    let Some(q) = q else {
        return fail(
            lang,
            problem(
                lang,
                StatusCode::BAD_REQUEST,
                "LOVE_CODE_QUERY",
                "q: send ?q= with 1 to 30 characters: a love code or part of an NPO name",
                "q：請以 ?q= 提供 1 至 30 個字元的愛心碼或社福團體名稱的一部分",
            ),
        );
    };
    match st.store.find_npos(&q, MAX_LOVE_CODES).await {
        Ok(list) => {
            let npos: Vec<Value> = list
                .iter()
                .map(|n| json!({"love_code": n.love_code.as_str(), "name": n.name, "ubn": n.ubn.as_str()}))
                .collect();
            with_lang(lang, axum::Json(json!({ "npos": npos })).into_response())
        }
        Err(e) => fail(lang, store_problem(e)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DonationBody {
    invoice_number: String,
    invoice_date: String,
    love_code: String,
}

/// The invoice date: `YYYY-MM-DD`, `YYYY/MM/DD` or `YYYYMMDD`.
fn parse_date(s: &str) -> Option<Date> {
    let digits: String = s.chars().filter(|c| *c != '-' && *c != '/').collect();
    parse_mig_date(&digits).ok()
}

fn refusal_problem(lang: Lang, r: DonationRefusal) -> Problem {
    let (status, en, zh) = match r {
        DonationRefusal::NotFound => (
            StatusCode::NOT_FOUND,
            "no invoice with this number and date is on your carrier",
            "您的載具上沒有此號碼與日期的發票",
        ),
        DonationRefusal::NotDonatable => (
            StatusCode::CONFLICT,
            "this invoice cannot be donated: it is cancelled or voided, or has a business buyer",
            "此發票無法捐贈：已作廢、已註銷或買方為營業人",
        ),
        DonationRefusal::AlreadyDonated => (
            StatusCode::CONFLICT,
            "this invoice is donated already; a donation cannot be changed",
            "此發票已捐贈，捐贈後不能變更",
        ),
        DonationRefusal::PeriodClosed => (
            StatusCode::CONFLICT,
            "the invoice's period is closed for its draw: donate before the draw date",
            "此發票的期別已進入開獎作業，請於開獎日前捐贈",
        ),
        DonationRefusal::UnknownLoveCode => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "love_code: no NPO has this love code; search GET /v1/carrier/love-codes?q=",
            "love_code：查無此愛心碼，請以 GET /v1/carrier/love-codes?q= 查詢",
        ),
    };
    problem(lang, status, r.code(), en, zh)
}

async fn donate<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    CarrierToken(carrier): CarrierToken,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let lang = Lang::of(&headers);
    let bad = |code: &str, en: &str, zh: &str| {
        fail(lang, problem(lang, StatusCode::BAD_REQUEST, code, en, zh))
    };
    let b: DonationBody = match crate::json_body::object(&body) {
        Ok(b) => b,
        Err(e) => {
            let en = format!(
                "the body must be JSON {{invoice_number, invoice_date, love_code}}, each once: {e}"
            );
            let zh = format!(
                "內容須為 JSON {{invoice_number, invoice_date, love_code}}，每個欄位一次：{e}"
            );
            return bad("BODY_INVALID", &en, &zh);
        }
    };
    let Ok(number) = InvoiceNumber::parse(b.invoice_number.trim()) else {
        return bad(
            "INVOICE_NUMBER_FORMAT",
            "invoice_number: 2 capital letters and 8 digits, such as AB12345678",
            "invoice_number：發票號碼為 2 個大寫英文字母加 8 位數字，例如 AB12345678",
        );
    };
    let Some(date) = parse_date(b.invoice_date.trim()) else {
        return bad(
            "DATE_FORMAT",
            "invoice_date: a date such as 2025-03-05",
            "invoice_date：日期格式如 2025-03-05",
        );
    };
    let Ok(love_code) = LoveCode::parse(b.love_code.trim()) else {
        return bad(
            "NPOBAN_FORMAT",
            "love_code: 3 to 7 digits",
            "love_code：愛心碼為 3 至 7 位數字",
        );
    };
    let donation = InvoiceDonation {
        carrier: carrier.clone(),
        number,
        date,
        love_code: love_code.clone(),
        actor: format!("carrier:{}:{}", carrier.kind.code(), carrier.id),
    };
    if let Some(r) = donation_closed(&st.opts.clock, &donation) {
        return fail(lang, refusal_problem(lang, r));
    }
    match st.store.donate_invoice(donation).await {
        Ok(DonationOutcome::Donated { receipt, seller }) => with_lang(
            lang,
            (
                StatusCode::CREATED,
                axum::Json(json!({
                    "invoice_number": number.to_string(),
                    "invoice_date": format_mig_date(date),
                    "seller": seller.as_str(),
                    "love_code": love_code.as_str(),
                    "receipt": receipt,
                })),
            )
                .into_response(),
        ),
        Ok(DonationOutcome::Refused(r)) => fail(lang, refusal_problem(lang, r)),
        Err(e) => fail(lang, store_problem(e)),
    }
}
