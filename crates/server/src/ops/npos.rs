//! `PUT /v1/ops/npos/{love_code}`: add or update an NPO of the love-code
//! directory (愛心碼 / NPOBAN) that citizens donate to; every change is an
//! `NPO` ledger entry written with it.

use super::answer::{Answer, JsonBody, parse_ubn, problem};
use super::session::{Operator, RoleOperator};
use super::state::OpsState;
use crate::problem::store_problem;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use einvoice_core::LoveCode;
use einvoice_store::{NpoRecord, Store};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// `PUT /v1/ops/npos/{love_code}`: the NPO's name and UBN (統一編號).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NpoBody {
    name: String,
    ubn: String,
}

pub(super) async fn put_npo<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    Path(code): Path<String>,
    JsonBody(b): JsonBody<NpoBody>,
) -> Answer {
    let love_code = LoveCode::parse(&code).map_err(|v| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            v.code,
            format!("love_code: {}", v.message),
        )
    })?;
    let ubn = parse_ubn("ubn", &b.ubn)?;
    let name = b.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "NPO_NAME",
            "name: an NPO name is 1-60 visible characters",
        ));
    }
    let created = st
        .store
        .npo(&love_code)
        .await
        .map_err(store_problem)?
        .is_none();
    let npo = NpoRecord {
        love_code,
        name,
        ubn,
    };
    let entry = npo.ledger_entry(&s.actor());
    let receipt = st
        .store
        .put_npo(npo.clone(), entry)
        .await
        .map_err(store_problem)?;
    Ok(Json(json!({
        "love_code": npo.love_code.as_str(),
        "name": npo.name,
        "ubn": npo.ubn.as_str(),
        "created": created,
        "receipt": receipt,
    })))
}
