//! Citizens' carrier API and the public one-invoice lookup.
//!
//! | route | does |
//! | --- | --- |
//! | `POST /v1/carrier/login` `{carrier_type, carrier_id, verification_code}` | `{token, expires_unix}`: a bearer token for [`TOKEN_SECS`] |
//! | `GET /v1/carrier/invoices?period=` (Bearer token) | the carrier's invoices of a period, with items; a mobile barcode's include those of the carriers linked to it (歸戶), each row naming its `carrier` |
//! | `GET /v1/public/invoices/{number}?random=&date=` | one invoice by number + random code + `YYYYMMDD` date (all required): header and items only |
//!
//! The login checks the verification code with Argon2id, delays answers after
//! failures and soft-locks the carrier for a while (never for good) —
//! [`crate::carrier_auth`]. Argon2 is deliberately slow, so queries use the
//! token instead: it is the carrier and an expiry sealed with the site's
//! master key (AES-256-GCM, purpose [`purpose::CARRIER_TOKEN`](einvoice_secrets::purpose::CARRIER_TOKEN)), so every node of a
//! site accepts it without shared session state, and nobody can forge or
//! alter one. Both routes, and the public lookup, are rate-limited per client
//! address (429 + `Retry-After`).
//!
//! The public lookup shows what the printed proof already shows (seller,
//! date, amount, items, status) and never the buyer or the carrier.

#![allow(clippy::result_large_err)]

use crate::carrier_auth::{self, CarrierAuthError};
use crate::carrier_token::{self, CarrierToken, parse_carrier};
use crate::problem::{Problem, store_problem};
use crate::state::{SiteState, client_key};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use einvoice_core::{Carrier, InvoiceNumber, Period, RandomNumber};
use einvoice_store::Store;
use einvoice_store::read_projection::{CarrierInvoice, InvoiceDetail};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

pub use crate::carrier_token::TOKEN_SECS;
pub use crate::carrier_token::{TokenError, open_bearer, seal_token};

pub(crate) fn routes<S: Store>(st: Arc<SiteState<S>>) -> Router {
    Router::new()
        .route("/v1/carrier/login", post(login::<S>))
        .route("/v1/carrier/invoices", get(invoices::<S>))
        .route("/v1/public/invoices/{number}", get(public_lookup::<S>))
        .with_state(st)
}

/// A `400` problem.
pub(crate) fn bad(code: &str, detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, code, detail)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    carrier_type: String,
    carrier_id: String,
    verification_code: String,
}

async fn login<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Result<Response, Problem> {
    st.carrier_limit.check(&client_key(Some(addr)))?;
    let b: LoginBody = crate::json_body::object(&body).map_err(|e| {
        bad(
            "BODY_INVALID",
            format!("expected {{carrier_type, carrier_id, verification_code}}: {e}"),
        )
    })?;
    let carrier = parse_carrier(&b.carrier_type, &b.carrier_id)?;
    check_code(&st, &carrier, &b.verification_code, &client_key(Some(addr))).await?;
    let (token, expires) = carrier_token::issue(&st, &carrier)?;
    Ok(no_store(
        axum::Json(json!({
            "token": token,
            "expires_unix": expires,
        }))
        .into_response(),
    ))
}

/// `response` marked `Cache-Control: no-store` (and `Pragma: no-cache` for
/// HTTP/1.0 caches): it carries a token or a citizen's data, which no cache
/// may keep.
pub(crate) fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    h.insert(
        axum::http::header::PRAGMA,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    response
}

/// Check a carrier's verification code from `client` ([`carrier_auth`]):
/// `401 CARRIER_AUTH`, `429 CARRIER_LOCKED` or `503 LOGIN_BUSY` with
/// `Retry-After` when it is not accepted.
pub(crate) async fn check_code<S: Store>(
    st: &SiteState<S>,
    carrier: &einvoice_core::Carrier,
    code: &str,
    client: &str,
) -> Result<(), Problem> {
    match carrier_auth::authenticate(
        &st.store,
        &st.opts.app_api.lockout,
        &st.opts.app_api.clock,
        carrier,
        code,
        client,
    )
    .await
    {
        Ok(()) => Ok(()),
        Err(CarrierAuthError::Wrong) => Err(Problem::new(
            StatusCode::UNAUTHORIZED,
            "CARRIER_AUTH",
            "the carrier or its verification code is wrong",
        )),
        Err(CarrierAuthError::Locked(secs)) => Err(Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "CARRIER_LOCKED",
            format!("too many failed attempts on this carrier: retry after {secs} s"),
        )
        .retry_after(secs.max(1) as u64)),
        Err(CarrierAuthError::Busy(b)) => {
            Err(
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "LOGIN_BUSY", b.to_string())
                    .retry_after(crate::password::RETRY_AFTER_SECS),
            )
        }
        Err(CarrierAuthError::Store(e)) => Err(store_problem(e)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodQuery {
    period: String,
}

/// The request's `?period=` (the carrier routes that list one period).
pub(crate) fn period_query(uri: &Uri) -> Result<Period, Problem> {
    let q: PeriodQuery = serde_urlencoded::from_str(uri.query().unwrap_or(""))
        .map_err(|e| bad("QUERY_INVALID", format!("query string: {e}")))?;
    Period::parse(&q.period).map_err(|v| bad(v.code, format!("period: {}", v.message)))
}

async fn invoices<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    CarrierToken(carrier): CarrierToken,
    uri: Uri,
) -> Result<Response, Problem> {
    let period = period_query(&uri)?;
    // A mobile barcode's include those of the carriers linked to it (歸戶).
    let list = crate::carrier_life::aggregation::invoices_with_links(&st.store, &carrier, period)
        .await
        .map_err(store_problem)?;
    let rows: Vec<Value> = list.iter().map(|(c, row)| carrier_row(c, row)).collect();
    Ok(no_store(
        axum::Json(json!({
            "carrier": {"type": carrier.kind.code(), "id": carrier.id},
            "period": period.to_string(),
            "invoices": rows,
        }))
        .into_response(),
    ))
}

/// The item lines as the citizen routes show them.
fn items(detail: &InvoiceDetail) -> Value {
    detail
        .items
        .iter()
        .map(|it| {
            json!({
                "description": it.description,
                "quantity": it.quantity,
                "unit_price": it.unit_price,
                "amount": it.amount,
            })
        })
        .collect()
}

fn carrier_row(carrier: &Carrier, row: &CarrierInvoice) -> Value {
    let s = &row.summary;
    json!({
        "carrier": {"type": carrier.kind.code(), "id": carrier.id},
        "number": s.number.to_string(),
        "date": s.date,
        "time": s.time,
        "seller": s.seller.as_str(),
        "seller_name": row.detail.seller_name,
        "total": s.total,
        "status": s.status,
        "donated_to": s.donated_to,
        "allowance_total": row.allowance_total,
        "items": items(&row.detail),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupQuery {
    random: String,
    /// `YYYYMMDD`, required: the number and random code alone are too easy to enumerate.
    #[serde(default)]
    date: Option<String>,
}

async fn public_lookup<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(number): Path<String>,
    uri: Uri,
) -> Result<Response, Problem> {
    st.public_limit.check(&client_key(Some(addr)))?;
    let number =
        InvoiceNumber::parse(&number).map_err(|v| bad(v.code, format!("number: {}", v.message)))?;
    let q: LookupQuery = serde_urlencoded::from_str(uri.query().unwrap_or(""))
        .map_err(|e| bad("QUERY_INVALID", format!("query string: {e}")))?;
    let random = RandomNumber::parse(&q.random)
        .map_err(|v| bad(v.code, format!("random: {}", v.message)))?;
    let d = q.date.as_deref().ok_or_else(|| {
        bad(
            "DATE_REQUIRED",
            "date: the invoice date (YYYYMMDD, as printed on the proof) is required",
        )
    })?;
    if d.len() != 8 || !d.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("DATE_FORMAT", "date must be YYYYMMDD"));
    }
    let num = number.to_string();
    let not_found = || {
        (st.opts.soc).lookup_miss("public_lookup", &num, &client_key(Some(addr)));
        Problem::new(
            StatusCode::NOT_FOUND,
            "INVOICE_NOT_FOUND",
            "no invoice with this number and random code",
        )
    };
    let row = st
        .store
        .lookup_invoice(number, random)
        .await
        .map_err(store_problem)?
        .ok_or_else(not_found)?;
    if row.summary.date.replace('-', "") != d {
        return Err(not_found());
    }
    let (s, detail) = (&row.summary, &row.detail);
    Ok(axum::Json(json!({
        "number": s.number.to_string(),
        "date": s.date,
        "time": s.time,
        "period": s.period.to_string(),
        "seller": s.seller.as_str(),
        "seller_name": detail.seller_name,
        "total": s.total,
        "status": s.status,
        "items": items(detail),
    }))
    .into_response())
}
