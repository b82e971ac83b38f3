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
use einvoice_secrets::{SealError, Sealer, purpose};
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
    let token = seal_token(&st.sealer, carrier, expires)
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", e.to_string()))?;
    Ok((token, expires))
}

/// The token of `carrier` until `expires` (Unix seconds): the carrier and the
/// expiry as JSON, sealed for [`purpose::CARRIER_TOKEN`], base64url without padding.
pub fn seal_token(sealer: &Sealer, carrier: &Carrier, expires: i64) -> Result<String, SealError> {
    let plain = json!({"t": carrier.kind.code(), "i": carrier.id, "e": expires});
    let sealed = sealer.seal(purpose::CARRIER_TOKEN, plain.to_string().as_bytes())?;
    Ok(URL_SAFE_NO_PAD.encode(sealed))
}

/// Why a bearer token was refused (every one a `401`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No `Authorization: Bearer` header (`AUTH_MISSING`).
    #[error("send Authorization: Bearer <token> from POST /v1/carrier/login")]
    Missing,
    /// Not a token this site sealed, or not a carrier inside (`TOKEN_INVALID`).
    #[error("the token is not valid: log in again")]
    Invalid,
    /// A genuine token past its expiry (`TOKEN_EXPIRED`).
    #[error("the token has expired: log in again")]
    Expired,
}

impl TokenError {
    /// The stable error code the API answers.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "AUTH_MISSING",
            Self::Invalid => "TOKEN_INVALID",
            Self::Expired => "TOKEN_EXPIRED",
        }
    }
}

/// The carrier of an `Authorization` header value (`Bearer <token>`), if the
/// token is genuine (sealed under `sealer` for [`purpose::CARRIER_TOKEN`])
/// and not expired at `now` (Unix seconds).
pub fn open_bearer(
    sealer: &Sealer,
    authorization: Option<&str>,
    now: i64,
) -> Result<Carrier, TokenError> {
    open_bearer_until(sealer, authorization, now).map(|(c, _)| c)
}

/// [`open_bearer`], with the token's expiry (Unix seconds).
pub fn open_bearer_until(
    sealer: &Sealer,
    authorization: Option<&str>,
    now: i64,
) -> Result<(Carrier, i64), TokenError> {
    let token = authorization
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(TokenError::Missing)?;
    let sealed = URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| TokenError::Invalid)?;
    let plain = sealer
        .open(purpose::CARRIER_TOKEN, &sealed)
        .map_err(|_| TokenError::Invalid)?;
    let v: Value = serde_json::from_slice(&plain).map_err(|_| TokenError::Invalid)?;
    let exp = v
        .get("e")
        .and_then(Value::as_i64)
        .ok_or(TokenError::Invalid)?;
    if exp < now {
        return Err(TokenError::Expired);
    }
    let kind = v
        .get("t")
        .and_then(Value::as_str)
        .ok_or(TokenError::Invalid)?;
    let id = v
        .get("i")
        .and_then(Value::as_str)
        .ok_or(TokenError::Invalid)?;
    parse_carrier(kind, id)
        .map(|c| (c, exp))
        .map_err(|_| TokenError::Invalid)
}

/// The carrier a bearer token stands for and its expiry, if it is genuine
/// and unexpired.
fn token_carrier<S>(st: &SiteState<S>, headers: &HeaderMap) -> Result<(Carrier, i64), Problem> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    open_bearer_until(&st.sealer, authorization, st.opts.clock.now_unix())
        .map_err(|e| Problem::new(StatusCode::UNAUTHORIZED, e.code(), e.to_string()))
}

/// The carrier of a genuine, unexpired bearer token, after the per-client
/// carrier limit: `401 AUTH_MISSING` / `TOKEN_INVALID` / `TOKEN_EXPIRED`, or
/// `429 RATE_LIMITED`, before the handler runs.
pub(crate) struct CarrierToken(pub(crate) Carrier);

impl<S: einvoice_store::Store> FromRequestParts<Arc<SiteState<S>>> for CarrierToken {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &Arc<SiteState<S>>,
    ) -> Result<Self, Response> {
        let ConnectInfo(addr) = ConnectInfo::<SocketAddr>::from_request_parts(parts, st)
            .await
            .map_err(IntoResponse::into_response)?;
        let (carrier, expires) =
            token_carrier(st, &parts.headers).map_err(IntoResponse::into_response)?;
        st.carrier_limit
            .check(&client_key(Some(addr)))
            .map_err(IntoResponse::into_response)?;
        // A token is issued TOKEN_SECS before it expires.
        crate::soc_holds::refuse_dead_token(&st.store, &carrier, expires - TOKEN_SECS)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self(carrier))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carrier() -> Carrier {
        parse_carrier("3J0002", "/ABC1234").expect("a mobile barcode")
    }

    #[test]
    fn a_sealed_token_opens_until_it_expires() {
        let sealer = Sealer::new(&[1; 32]);
        let token = seal_token(&sealer, &carrier(), 1_000).expect("seal");
        let bearer = format!("Bearer {token}");
        assert_eq!(open_bearer(&sealer, Some(&bearer), 1_000), Ok(carrier()));
        assert_eq!(
            open_bearer(&sealer, Some(&bearer), 1_001),
            Err(TokenError::Expired)
        );
        assert_eq!(
            open_bearer(&Sealer::new(&[2; 32]), Some(&bearer), 0),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            open_bearer(&sealer, Some(&token), 0),
            Err(TokenError::Missing)
        );
        assert_eq!(
            open_bearer(&sealer, None, 0).map_err(|e| e.code()),
            Err("AUTH_MISSING")
        );
        assert_eq!(
            open_bearer(&sealer, Some("Bearer !!"), 0),
            Err(TokenError::Invalid)
        );
    }
}
