//! Sellers' signed requests ([`crate::sign`]): the [`Signed`] extractor checks
//! the headers, the clock window, the API key, the MAC, the key's rate and the
//! nonce, and hands the handler the [`Caller`] and the body it signed.

// A `Problem` is built at most once per request and goes straight to the client.
#![allow(clippy::result_large_err)]

use crate::problem::{Problem, store_problem};
use crate::sign;
use crate::state::{SiteState, client_key};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use einvoice_core::Ubn;
use einvoice_secrets::purpose;
use einvoice_store::{Scope, Store};
use std::net::SocketAddr;
use std::sync::Arc;

/// An authenticated caller.
pub(crate) struct Caller {
    /// The API key's id.
    pub(crate) key_id: String,
    /// The sellers the key may act for.
    pub(crate) sellers: Vec<Ubn>,
    /// The same, as the store's scope.
    pub(crate) scope: Scope,
    /// Where scope denials are reported, and the client address.
    pub(crate) soc: Option<(crate::soc::SecurityEvents, Option<std::net::IpAddr>)>,
}

impl Caller {
    /// The ledger actor: `key:<key id>`.
    pub(crate) fn actor(&self) -> String {
        format!("key:{}", self.key_id)
    }

    /// `403 TENANT_SCOPE` unless the key may act for `seller` (a refusal
    /// is reported to the SOC as a scope denial).
    pub(crate) fn require(&self, seller: &Ubn) -> Result<(), Problem> {
        if self.scope.allows(seller) {
            Ok(())
        } else {
            if let Some((events, client)) = &self.soc {
                events.scope_denied(
                    "seller_api",
                    einvoice_soc::Actor::ApiKey(crate::soc::label(&self.key_id)),
                    *client,
                    seller.as_str(),
                    "TENANT_SCOPE",
                );
            }
            Err(Problem::new(
                StatusCode::FORBIDDEN,
                "TENANT_SCOPE",
                format!("this key may not act for seller {seller}"),
            ))
        }
    }
}

/// A request signed with a seller API key: who signed it and the body they
/// signed. Answers `401 AUTH_*` (or `429`, `503`) before the handler runs.
pub(crate) struct Signed {
    /// The key that signed the request.
    pub(crate) caller: Caller,
    /// The request body, as signed.
    pub(crate) body: Bytes,
}

impl<S: Store> FromRequest<Arc<SiteState<S>>> for Signed {
    type Rejection = Response;

    async fn from_request(req: Request, st: &Arc<SiteState<S>>) -> Result<Self, Response> {
        let method = req.method().clone();
        let uri = req.uri().clone();
        let headers = req.headers().clone();
        let client = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let body = Bytes::from_request(req, st)
            .await
            .map_err(IntoResponse::into_response)?;
        let mut caller = authenticate(st, &method, &uri, &headers, &body)
            .await
            .map_err(|p| {
                let header = |h| headers.get(h).and_then(|v| v.to_str().ok());
                let key_id = header(sign::KEY_HEADER);
                if p.code == "AUTH_SIGNATURE" {
                    st.opts
                        .soc
                        .signature_failed(key_id, &client_key(client), &p.code);
                } else if p.code == "AUTH_REPLAY" {
                    // Only a request that verified reaches the nonce check.
                    st.opts.soc.replayed(
                        "seller_api",
                        key_id.unwrap_or("unknown"),
                        header(sign::NONCE_HEADER).unwrap_or(""),
                        &client_key(client),
                    );
                }
                p.into_response()
            })?;
        caller.soc = Some((st.opts.soc.clone(), client.map(|c| c.ip())));
        Ok(Self { caller, body })
    }
}

fn unauthorized(code: &str, detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, code, detail)
}

/// Check a signed request: headers, clock window, key, MAC, rate, nonce.
async fn authenticate<S: Store>(
    st: &SiteState<S>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Caller, Problem> {
    let sign::SignedHeaders {
        key_id,
        timestamp: ts,
        nonce,
        signature,
    } = sign::parse_headers(headers).map_err(|e| unauthorized(e.code(), e.to_string()))?;
    let now = st.opts.clock.now_unix();
    if (ts - now).abs() > sign::MAX_SKEW_SECS {
        return Err(unauthorized(
            "AUTH_TIMESTAMP",
            format!(
                "the timestamp is {} s away from the server's clock (at most {} allowed): check the client's clock",
                ts - now,
                sign::MAX_SKEW_SECS
            ),
        ));
    }
    if !sign::nonce_ok(nonce) {
        return Err(unauthorized(
            "AUTH_NONCE",
            "X-Einvoice-Nonce must be 16-64 characters of [A-Za-z0-9_-]",
        ));
    }
    let bad_key = || unauthorized("AUTH_KEY", "unknown or disabled API key");
    let rec = st
        .store
        .api_key(key_id)
        .await
        .map_err(store_problem)?
        .filter(|k| !k.disabled)
        .ok_or_else(bad_key)?;
    let secret = st
        .sealer
        .open(purpose::API_KEY, &rec.secret_sealed)
        .map_err(|_| bad_key())?;
    let secret = String::from_utf8(secret).map_err(|_| bad_key())?;
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let text = sign::string_to_sign(method.as_str(), path, ts, nonce, body);
    if !sign::verify(&secret, &text, signature) {
        return Err(unauthorized(
            "AUTH_SIGNATURE",
            "the signature does not match: sign METHOD, path and query, timestamp, nonce and the body's SHA-256 (see /openapi.json)",
        ));
    }
    st.seller_limit.check(key_id)?;
    let fresh = st
        .store
        .remember_nonce(key_id, nonce, ts + sign::MAX_SKEW_SECS + 60)
        .await
        .map_err(store_problem)?;
    if !fresh {
        return Err(unauthorized(
            "AUTH_REPLAY",
            "this nonce was already used with this key: send a fresh nonce with every request",
        ));
    }
    Ok(Caller {
        key_id: rec.key_id.clone(),
        scope: Scope::sellers(rec.sellers.iter().copied()),
        sellers: rec.sellers,
        soc: None,
    })
}
