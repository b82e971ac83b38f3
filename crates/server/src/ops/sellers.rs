//! `POST /v1/ops/sellers`: register or rename a seller (營業人).

use super::answer::{Answer, JsonBody, parse_ubn, problem, record};
use super::session::{Operator, RoleOperator};
use super::state::OpsState;
use crate::problem::store_problem;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use einvoice_store::{SellerRecord, Store};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
/// `POST /v1/ops/sellers`: the seller's UBN (統一編號) and name.
pub(super) struct SellerBody {
    ubn: String,
    name: String,
}

pub(super) async fn put_seller<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    JsonBody(b): JsonBody<SellerBody>,
) -> Answer {
    let ubn = parse_ubn("ubn", &b.ubn)?;
    let name = b.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "SELLER_NAME",
            "a seller name is 1-60 characters",
        ));
    }
    let old = st.store.seller(ubn).await.map_err(store_problem)?;
    let created = old.is_none();
    st.store
        .put_seller(SellerRecord {
            ubn,
            name: name.clone(),
            qr_key_sealed: old.and_then(|o| o.qr_key_sealed),
        })
        .await
        .map_err(store_problem)?;
    record(
        &st,
        &s.actor(),
        format!("seller/{ubn}"),
        json!({"action": "seller.put", "ubn": ubn.as_str(), "name": name}),
    )
    .await?;
    Ok(Json(
        json!({"ubn": ubn.as_str(), "name": name, "created": created}),
    ))
}
