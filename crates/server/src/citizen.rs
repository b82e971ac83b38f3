//! Citizens' carrier API and the public one-invoice lookup.
//!
//! | route | does |
//! | --- | --- |
//! | `POST /v1/carrier/login` `{carrier_type, carrier_id, verification_code}` | `{token, expires_unix}`: a bearer token for [`TOKEN_SECS`] |
//! | `GET /v1/carrier/invoices?period=` (Bearer token) | the carrier's invoices of a period, with items |
//! | `GET /v1/public/invoices/{number}?random=&date=` | one invoice by number + random code (+ `YYYYMMDD` date): header and items only |
//!
//! The login checks the verification code with Argon2id, delays answers after
//! failures and soft-locks the carrier for a while (never for good) —
//! [`crate::carrier_auth`]. Argon2 is deliberately slow, so queries use the
//! token instead: it is the carrier and an expiry sealed with the site's
//! master key (AES-256-GCM, purpose [`purpose::CARRIER_TOKEN`]), so every node of a
//! site accepts it without shared session state, and nobody can forge or
//! alter one. Both routes, and the public lookup, are rate-limited per client
//! address (429 + `Retry-After`).
//!
//! The public lookup shows what the printed proof already shows (seller,
//! date, amount, items, status) and never the buyer or the carrier.

#![allow(clippy::result_large_err)]

use crate::carrier_auth::{self, CarrierAuthError};
use crate::problem::{Problem, store_problem};
use crate::site::{SiteState, client_key};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use einvoice_core::ids::CarrierTypes;
use einvoice_core::{Carrier, CarrierType, InvoiceNumber, Period, RandomNumber};
use einvoice_secrets::purpose;
use einvoice_store::{InvoiceView, Store};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

/// Lifetime of a carrier token, seconds.
pub const TOKEN_SECS: i64 = 15 * 60;

pub(crate) fn routes<S: Store>(st: Arc<SiteState<S>>) -> Router {
    Router::new()
        .route("/v1/carrier/login", post(login::<S>))
        .route("/v1/carrier/invoices", get(invoices::<S>))
        .route("/v1/public/invoices/{number}", get(public_lookup::<S>))
        .with_state(st)
}

fn bad(code: &str, detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, code, detail)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    carrier_type: String,
    carrier_id: String,
    verification_code: String,
}

fn parse_carrier(kind: &str, id: &str) -> Result<Carrier, Problem> {
    let kind = CarrierType::parse(kind, &CarrierTypes::default())
        .map_err(|v| bad(v.code, format!("carrier_type: {}", v.message)))?;
    Carrier::parse(kind, id).map_err(|v| bad(v.code, format!("carrier_id: {}", v.message)))
}

async fn login<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Result<Response, Problem> {
    st.carrier_limit.check(&client_key(Some(addr)))?;
    let b: LoginBody = serde_json::from_slice(&body).map_err(|e| {
        bad(
            "BODY_INVALID",
            format!("expected {{carrier_type, carrier_id, verification_code}}: {e}"),
        )
    })?;
    let carrier = parse_carrier(&b.carrier_type, &b.carrier_id)?;
    match carrier_auth::authenticate(
        &st.store,
        &st.opts.app_api.lockout,
        &st.opts.app_api.clock,
        &carrier,
        &b.verification_code,
    )
    .await
    {
        Ok(()) => {}
        Err(CarrierAuthError::Wrong) => {
            return Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                "CARRIER_AUTH",
                "the carrier or its verification code is wrong",
            ));
        }
        Err(CarrierAuthError::Locked(secs)) => {
            return Err(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "CARRIER_LOCKED",
                format!("too many failed attempts on this carrier: retry after {secs} s"),
            )
            .retry_after(secs.max(1) as u64));
        }
        Err(CarrierAuthError::Store(e)) => return Err(store_problem(e)),
    }
    let expires = st.opts.clock.now_unix() + TOKEN_SECS;
    let plain = json!({"t": carrier.kind.code(), "i": carrier.id, "e": expires});
    let sealed = st
        .sealer
        .seal(purpose::CARRIER_TOKEN, plain.to_string().as_bytes())
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string()))?;
    Ok(axum::Json(json!({
        "token": URL_SAFE_NO_PAD.encode(sealed),
        "expires_unix": expires,
    }))
    .into_response())
}

/// The carrier a bearer token stands for, if it is genuine and unexpired.
pub(crate) fn token_carrier<S>(st: &SiteState<S>, headers: &HeaderMap) -> Result<Carrier, Problem> {
    let unauth = |code: &str, d: &str| Problem::new(StatusCode::UNAUTHORIZED, code, d.to_string());
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            unauth(
                "AUTH_MISSING",
                "send Authorization: Bearer <token> from POST /v1/carrier/login",
            )
        })?;
    let invalid = || unauth("TOKEN_INVALID", "the token is not valid: log in again");
    let sealed = URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| invalid())?;
    let plain = st
        .sealer
        .open(purpose::CARRIER_TOKEN, &sealed)
        .map_err(|_| invalid())?;
    let v: Value = serde_json::from_slice(&plain).map_err(|_| invalid())?;
    let exp = v.get("e").and_then(Value::as_i64).ok_or_else(invalid)?;
    if exp < st.opts.clock.now_unix() {
        return Err(unauth(
            "TOKEN_EXPIRED",
            "the token has expired: log in again",
        ));
    }
    let kind = v.get("t").and_then(Value::as_str).ok_or_else(invalid)?;
    let id = v.get("i").and_then(Value::as_str).ok_or_else(invalid)?;
    parse_carrier(kind, id).map_err(|_| invalid())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodQuery {
    period: String,
}

/// The carrier of a bearer token, checked against the per-client carrier
/// limit, and the request's `?period=` — the preamble of every carrier route
/// that lists one period.
pub(crate) fn carrier_and_period<S: Store>(
    st: &SiteState<S>,
    addr: SocketAddr,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<(Carrier, Period), Problem> {
    let carrier = token_carrier(st, headers)?;
    st.carrier_limit.check(&client_key(Some(addr)))?;
    let q: PeriodQuery = serde_urlencoded::from_str(uri.query().unwrap_or(""))
        .map_err(|e| bad("QUERY_INVALID", format!("query string: {e}")))?;
    let period =
        Period::parse(&q.period).map_err(|v| bad(v.code, format!("period: {}", v.message)))?;
    Ok((carrier, period))
}

async fn invoices<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, Problem> {
    let (carrier, period) = carrier_and_period(&st, addr, &headers, &uri)?;
    let list = st
        .store
        .carrier_invoices(&carrier, period)
        .await
        .map_err(store_problem)?;
    let rows: Vec<Value> = list.iter().map(carrier_row).collect();
    Ok(axum::Json(json!({
        "carrier": {"type": carrier.kind.code(), "id": carrier.id},
        "period": period.to_string(),
        "invoices": rows,
    }))
    .into_response())
}

fn items(view: &InvoiceView) -> Value {
    let list = view
        .message
        .as_ref()
        .and_then(|m| m.get("Details"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|it| {
                    let f = |k: &str| it.get(k).cloned().unwrap_or(Value::Null);
                    json!({
                        "description": f("Description"),
                        "quantity": f("Quantity"),
                        "unit_price": f("UnitPrice"),
                        "amount": f("Amount"),
                    })
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    Value::Array(list)
}

fn seller_name(view: &InvoiceView) -> Value {
    view.message
        .as_ref()
        .and_then(|m| m.pointer("/Main/Seller/Name"))
        .cloned()
        .unwrap_or(Value::Null)
}

fn carrier_row(view: &InvoiceView) -> Value {
    let s = &view.summary;
    json!({
        "number": s.number.to_string(),
        "date": s.date,
        "time": s.time,
        "seller": s.seller.as_str(),
        "seller_name": seller_name(view),
        "total": s.total,
        "status": s.status,
        "donated_to": s.donated_to,
        "allowance_total": view.allowance_total,
        "items": items(view),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupQuery {
    random: String,
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
    if let Some(d) = &q.date
        && (d.len() != 8 || !d.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("DATE_FORMAT", "date must be YYYYMMDD"));
    }
    let not_found = || {
        Problem::new(
            StatusCode::NOT_FOUND,
            "INVOICE_NOT_FOUND",
            "no invoice with this number and random code",
        )
    };
    let view = st
        .store
        .lookup_invoice(number, random)
        .await
        .map_err(store_problem)?
        .ok_or_else(not_found)?;
    if let Some(d) = &q.date
        && view.summary.date.replace('-', "") != *d
    {
        return Err(not_found());
    }
    let s = &view.summary;
    Ok(axum::Json(json!({
        "number": s.number.to_string(),
        "date": s.date,
        "time": s.time,
        "period": s.period.to_string(),
        "seller": s.seller.as_str(),
        "seller_name": seller_name(&view),
        "total": s.total,
        "status": s.status,
        "items": items(&view),
    }))
    .into_response())
}
