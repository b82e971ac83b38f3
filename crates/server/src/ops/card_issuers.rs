//! `PUT /v1/ops/card-issuers/{bank_code}`: add or update a bank of the
//! credit-card issuer directory (its name and card BINs) that the MOF App
//! API's `creditCardBan` and `cardBin` answer from; every change is a
//! `CARD_ISSUER` ledger entry written with it (the shape of `npos.rs`).

use super::answer::{Answer, JsonBody, problem};
use super::session::{Operator, RoleOperator};
use super::state::OpsState;
use crate::problem::store_problem;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use einvoice_store::{CardIssuerRecord, Store};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// `PUT /v1/ops/card-issuers/{bank_code}`: the bank's name and its card BINs.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CardIssuerBody {
    name: String,
    bins: Vec<String>,
}

pub(super) async fn put_card_issuer<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    Path(bank_code): Path<String>,
    JsonBody(b): JsonBody<CardIssuerBody>,
) -> Answer {
    let issuer = CardIssuerRecord::new(&bank_code, &b.name, b.bins)
        .map_err(|e| problem(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string()))?;
    let created = !st
        .store
        .card_issuers()
        .await
        .map_err(store_problem)?
        .iter()
        .any(|i| i.bank_code() == issuer.bank_code());
    let entry = issuer.ledger_entry(&s.actor());
    let receipt = st
        .store
        .put_card_issuer(issuer.clone(), entry)
        .await
        .map_err(store_problem)?;
    Ok(Json(json!({
        "bank_code": issuer.bank_code(),
        "name": issuer.name(),
        "bins": issuer.bins(),
        "created": created,
        "receipt": receipt,
    })))
}
