//! `POST /v1/ops/apps`: register a MOF App API app (appID + API key, key
//! shown once, sealed for purpose `app-key`).

use super::answer::{Answer, JsonBody, ops_problem, problem, record};
use super::session::{Operator, RoleOperator};
use super::state::{OpsState, hex, random_bytes};
use crate::app_api::{AppKey, SignatureAlg};
use crate::problem::store_problem;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use einvoice_store::{AppRecord, Store};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
/// `POST /v1/ops/apps`: the app name, optional appID and HMAC.
pub(super) struct AppBody {
    name: String,
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    alg: Option<String>,
}

pub(super) async fn create_app<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    JsonBody(b): JsonBody<AppBody>,
) -> Answer {
    let alg = match b.alg.as_deref() {
        None => SignatureAlg::HmacSha256,
        Some(a) => SignatureAlg::parse(a).ok_or_else(|| {
            problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "APP_ALG",
                "alg is HmacSHA256 or HmacSHA1",
            )
        })?,
    };
    let app_id = match b.app_id {
        Some(id) => {
            if !(4..=40).contains(&id.len())
                || !id
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            {
                return Err(problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "APP_ID",
                    "an appID is 4-40 of A-Z a-z 0-9 - _",
                ));
            }
            id
        }
        None => format!(
            "EINV{}",
            hex(&random_bytes::<6>().map_err(ops_problem)?).to_uppercase()
        ),
    };
    if st
        .store
        .app(&app_id)
        .await
        .map_err(store_problem)?
        .is_some()
    {
        return Err(problem(
            StatusCode::CONFLICT,
            "APP_EXISTS",
            format!("appID {app_id} is already registered"),
        ));
    }
    let name = b.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "APP_NAME",
            "an app name is 1-80 characters",
        ));
    }
    let key = AppKey {
        alg,
        key: URL_SAFE_NO_PAD.encode(random_bytes::<24>().map_err(ops_problem)?),
    };
    let api_key_sealed = key.seal(&st.sealer).map_err(|_| {
        problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SEAL_FAILED",
            "sealing the app key failed",
        )
    })?;
    st.store
        .put_app(AppRecord {
            app_id: app_id.clone(),
            api_key_sealed,
            name: name.clone(),
        })
        .await
        .map_err(store_problem)?;
    record(
        &st,
        &s.actor(),
        format!("app/{app_id}"),
        json!({"action": "app.create", "app_id": app_id, "name": name, "alg": alg.name()}),
    )
    .await?;
    Ok(Json(
        json!({"app_id": app_id, "api_key": key.key, "alg": alg.name(), "name": name}),
    ))
}
