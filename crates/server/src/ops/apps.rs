//! `POST /v1/ops/apps`: register a MOF App API app (appID + API key, key
//! shown once, sealed for purpose `app-key`); disable and enable an app (a
//! disabled appID is answered as unknown, MOF code 903).

use super::answer::{Answer, JsonBody, ops_problem, problem, record};
use super::session::{Operator, RoleOperator};
use super::state::{OpsState, hex, random_bytes};
use crate::app_api::{AppKey, SignatureAlg};
use crate::problem::store_problem;
use axum::Json;
use axum::extract::{Path as UrlPath, State};
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
            disabled: false,
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

/// `POST /v1/ops/apps/{app_id}/disable` and `…/enable` `{reason?}`: set
/// whether the App API answers the app.
async fn set_app_disabled<S: Store>(
    st: &OpsState<S>,
    s: &Operator<RoleOperator>,
    app_id: &str,
    raw: &[u8],
    disabled: bool,
) -> Answer {
    let b: super::operators::ReasonBody = super::operators::optional_body(raw)?;
    let reason = b.reason();
    let mut app = st
        .store
        .app(app_id)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| {
            problem(
                StatusCode::NOT_FOUND,
                "APP_UNKNOWN",
                format!("no app {app_id}"),
            )
        })?;
    if app.disabled == disabled {
        let (code, state) = if disabled {
            ("APP_DISABLED", "disabled")
        } else {
            ("APP_ENABLED", "enabled")
        };
        return Err(problem(
            StatusCode::CONFLICT,
            code,
            format!("app {app_id} is already {state}"),
        ));
    }
    app.disabled = disabled;
    st.store.put_app(app).await.map_err(store_problem)?;
    let action = if disabled {
        "app.disable"
    } else {
        "app.enable"
    };
    record(
        st,
        &s.actor(),
        format!("app/{app_id}"),
        json!({"action": action, "app_id": app_id, "reason": reason}),
    )
    .await?;
    Ok(Json(json!({"app_id": app_id, "disabled": disabled})))
}

pub(super) async fn disable_app<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    UrlPath(app_id): UrlPath<String>,
    raw: axum::body::Bytes,
) -> Answer {
    set_app_disabled(&st, &s, &app_id, &raw, true).await
}

pub(super) async fn enable_app<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    UrlPath(app_id): UrlPath<String>,
    raw: axum::body::Bytes,
) -> Answer {
    set_app_disabled(&st, &s, &app_id, &raw, false).await
}
