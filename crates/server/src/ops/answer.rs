//! What every operator route reads and answers: JSON bodies parsed into
//! problem documents on refusal, the problems themselves, and the `ADMIN`
//! ledger record of each act.

use super::state::{OpsError, OpsState};
use crate::problem::{Problem, store_problem};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use einvoice_core::Ubn;
use einvoice_store::{NewEntry, Store, canonical_json};
use serde_json::Value;

/// What an operator route answers: JSON or a problem document.
pub(super) type Answer = Result<Json<Value>, Problem>;

pub(super) fn problem(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
    Problem::new(status, code, detail)
}

pub(super) fn ops_problem(e: OpsError) -> Problem {
    match e {
        OpsError::Store(s) => store_problem(s),
        OpsError::Name => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "OPERATOR_NAME",
            e.to_string(),
        ),
        other => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            other.to_string(),
        ),
    }
}

pub(super) fn bad_body(e: impl std::fmt::Display) -> Problem {
    problem(StatusCode::BAD_REQUEST, "BODY_INVALID", e.to_string())
}

/// A JSON request body, parsed by [`body`]: a body that does not parse
/// answers `400 BODY_INVALID` as a problem document.
pub(super) struct JsonBody<T>(pub(super) T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, st: &S) -> Result<Self, Response> {
        let raw = Bytes::from_request(req, st)
            .await
            .map_err(IntoResponse::into_response)?;
        body(&raw).map(Self).map_err(IntoResponse::into_response)
    }
}

/// Parse a JSON body ourselves so every refusal is a problem document.
pub(super) fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    crate::json_body::object(bytes).map_err(bad_body)
}

pub(super) async fn record<S: Store>(
    st: &OpsState<S>,
    who: &str,
    key: String,
    body: Value,
) -> Result<(), Problem> {
    let action = body
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("admin");
    let target = key.clone();
    st.store
        .append_event(NewEntry {
            kind: "ADMIN".into(),
            key,
            actor: who.to_string(),
            body: canonical_json(&body),
        })
        .await
        .map(|_| ())
        .map_err(store_problem)?;
    // Reported once written: the SOC sees what the ledger holds.
    st.cfg
        .soc
        .operator_action(who, crate::soc_sources::ops_client(), action, &target);
    Ok(())
}

pub(super) fn parse_ubn(field: &str, s: &str) -> Result<Ubn, Problem> {
    Ubn::parse(s).map_err(|v| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            v.code,
            format!("{field}: {}", v.message),
        )
    })
}
