//! The carrier token (載具 session): after `POST /v1/carrier/login` the
//! citizen's queries carry `Authorization: Bearer <token>`, the carrier and an
//! expiry sealed with the site's master key (purpose
//! [`purpose::CARRIER_TOKEN`]), so every node of a site accepts it without
//! shared session state. [`CarrierToken`] is the extractor of every route
//! that needs one.

// A `Problem` is built at most once per request and goes straight to the client.
#![allow(clippy::result_large_err)]

use crate::problem::Problem;
use crate::state::{SiteState, client_key};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use einvoice_core::ids::CarrierTypes;
use einvoice_core::{Carrier, CarrierType};
use einvoice_secrets::purpose;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

/// Lifetime of a carrier token, seconds.
pub const TOKEN_SECS: i64 = 15 * 60;

fn bad(code: &str, detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, code, detail)
}

/// A carrier from its type code and id (`400` with the field named if either is wrong).
pub(crate) fn parse_carrier(kind: &str, id: &str) -> Result<Carrier, Problem> {
    let kind = CarrierType::parse(kind, &CarrierTypes::default())
        .map_err(|v| bad(v.code, format!("carrier_type: {}", v.message)))?;
    Carrier::parse(kind, id).map_err(|v| bad(v.code, format!("carrier_id: {}", v.message)))
}

/// A new token for `carrier` and its expiry (Unix seconds), [`TOKEN_SECS`] from now.
pub(crate) fn issue<S>(st: &SiteState<S>, carrier: &Carrier) -> Result<(String, i64), Problem> {
    let expires = st.opts.clock.now_unix() + TOKEN_SECS;
    let plain = json!({"t": carrier.kind.code(), "i": carrier.id, "e": expires});
    let sealed = st
        .sealer
        .seal(purpose::CARRIER_TOKEN, plain.to_string().as_bytes())
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string()))?;
    Ok((URL_SAFE_NO_PAD.encode(sealed), expires))
}

/// The carrier a bearer token stands for, if it is genuine and unexpired.
fn token_carrier<S>(st: &SiteState<S>, headers: &HeaderMap) -> Result<Carrier, Problem> {
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

/// The carrier of a genuine, unexpired bearer token, after the per-client
/// carrier limit: `401 AUTH_MISSING` / `TOKEN_INVALID` / `TOKEN_EXPIRED`, or
/// `429 RATE_LIMITED`, before the handler runs.
pub(crate) struct CarrierToken(pub(crate) Carrier);

impl<S: Send + Sync> FromRequestParts<Arc<SiteState<S>>> for CarrierToken {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &Arc<SiteState<S>>,
    ) -> Result<Self, Response> {
        let ConnectInfo(addr) = ConnectInfo::<SocketAddr>::from_request_parts(parts, st)
            .await
            .map_err(IntoResponse::into_response)?;
        let carrier = token_carrier(st, &parts.headers).map_err(IntoResponse::into_response)?;
        st.carrier_limit
            .check(&client_key(Some(addr)))
            .map_err(IntoResponse::into_response)?;
        Ok(Self(carrier))
    }
}
