//! `POST /v1/ops/keys`: an API key for sellers' signed requests (secret shown
//! once, sealed for purpose `api-key`); revoke and rotate a key.
//!
//! **Rotation** issues a new key for the same sellers and revokes the old
//! one at once: no stolen key outlives its rotation. An integrator that needs
//! both keys to work while it redeploys asks for a second key first
//! (`POST /v1/ops/keys`), switches, then revokes the old one: the overlap is
//! as long as the operator chooses, and every step is in the ledger.

use super::answer::{Answer, JsonBody, ops_problem, parse_ubn, problem, record};
use super::operators::{ReasonBody, optional_body};
use super::session::{Operator, RoleOperator};
use super::state::{OpsState, hex, random_bytes};
use crate::problem::Problem;
use crate::problem::store_problem;
use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use einvoice_core::Ubn;
use einvoice_secrets::purpose;
use einvoice_store::{ApiKeyRecord, Store};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
/// `POST /v1/ops/keys`: the sellers the key acts for.
pub(super) struct KeyBody {
    sellers: Vec<String>,
}

pub(super) async fn create_key<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    JsonBody(b): JsonBody<KeyBody>,
) -> Answer {
    if b.sellers.is_empty() || b.sellers.len() > 10_000 {
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "KEY_SELLERS",
            "a key acts for 1 to 10000 sellers",
        ));
    }
    let mut sellers = Vec::with_capacity(b.sellers.len());
    for u in &b.sellers {
        let ubn = parse_ubn("sellers", u)?;
        if st.store.seller(ubn).await.map_err(store_problem)?.is_none() {
            return Err(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "SELLER_UNKNOWN",
                format!("seller {ubn} is not registered: add it first"),
            ));
        }
        sellers.push(ubn);
    }
    sellers.sort();
    sellers.dedup();
    let (key_id, secret) = issue_key(&st, sellers.clone()).await?;
    let list: Vec<&str> = sellers.iter().map(Ubn::as_str).collect();
    record(
        &st,
        &s.actor(),
        format!("key/{key_id}"),
        json!({"action": "key.create", "key_id": key_id, "sellers": list}),
    )
    .await?;
    Ok(Json(
        json!({"key_id": key_id, "secret": secret, "sellers": list}),
    ))
}

/// Store a new key for `sellers`: its id and secret (the secret shown once).
async fn issue_key<S: Store>(
    st: &OpsState<S>,
    sellers: Vec<Ubn>,
) -> Result<(String, String), Problem> {
    let key_id = format!("K{}", hex(&random_bytes::<8>().map_err(ops_problem)?));
    let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>().map_err(ops_problem)?);
    let secret_sealed = st
        .sealer
        .seal(purpose::API_KEY, secret.as_bytes())
        .map_err(|e| ops_problem(e.into()))?;
    st.store
        .put_api_key(ApiKeyRecord {
            key_id: key_id.clone(),
            secret_sealed,
            sellers,
            disabled: false,
            created_unix: st.cfg.clock.now_unix(),
        })
        .await
        .map_err(store_problem)?;
    Ok((key_id, secret))
}

/// Revoke the live key `key_id`: `404 KEY_UNKNOWN`, `409 KEY_REVOKED`.
async fn revoke<S: Store>(st: &OpsState<S>, key_id: &str) -> Result<ApiKeyRecord, Problem> {
    let mut key = st
        .store
        .api_key(key_id)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| {
            problem(
                StatusCode::NOT_FOUND,
                "KEY_UNKNOWN",
                format!("no API key {key_id}"),
            )
        })?;
    if key.disabled {
        return Err(problem(
            StatusCode::CONFLICT,
            "KEY_REVOKED",
            format!("API key {key_id} is already revoked: create a new key"),
        ));
    }
    key.disabled = true;
    st.store
        .put_api_key(key.clone())
        .await
        .map_err(store_problem)?;
    Ok(key)
}

/// `POST /v1/ops/keys/{key_id}/revoke` `{reason?}`: the key authenticates
/// nothing from now on.
pub(super) async fn revoke_key<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    UrlPath(key_id): UrlPath<String>,
    raw: axum::body::Bytes,
) -> Answer {
    let reason = optional_body::<ReasonBody>(&raw)?.reason();
    revoke(&st, &key_id).await?;
    record(
        &st,
        &s.actor(),
        format!("key/{key_id}"),
        json!({"action": "key.revoke", "key_id": key_id, "reason": reason}),
    )
    .await?;
    Ok(Json(json!({"key_id": key_id, "revoked": true})))
}

/// `POST /v1/ops/keys/{key_id}/rotate` `{reason?}`: a new key for the same
/// sellers (secret shown once); the old key is revoked at once.
pub(super) async fn rotate_key<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    UrlPath(key_id): UrlPath<String>,
    raw: axum::body::Bytes,
) -> Answer {
    let reason = optional_body::<ReasonBody>(&raw)?.reason();
    let old = revoke(&st, &key_id).await?;
    let (new_id, secret) = issue_key(&st, old.sellers.clone()).await?;
    let list: Vec<&str> = old.sellers.iter().map(Ubn::as_str).collect();
    record(
        &st,
        &s.actor(),
        format!("key/{key_id}"),
        json!({"action": "key.rotate", "key_id": key_id, "new_key_id": new_id, "sellers": list, "reason": reason}),
    )
    .await?;
    Ok(Json(json!({
        "key_id": new_id,
        "secret": secret,
        "sellers": list,
        "replaces": key_id,
    })))
}
