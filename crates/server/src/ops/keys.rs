//! `POST /v1/ops/keys`: an API key for sellers' signed requests (secret shown
//! once, sealed for purpose `api-key`).

use super::answer::{Answer, JsonBody, ops_problem, parse_ubn, problem, record};
use super::session::{Operator, RoleOperator};
use super::state::{OpsState, hex, random_bytes};
use crate::problem::store_problem;
use axum::Json;
use axum::extract::State;
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
            sellers: sellers.clone(),
            disabled: false,
            created_unix: st.cfg.clock.now_unix(),
        })
        .await
        .map_err(store_problem)?;
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
