//! `POST /v1/ops/sellers`: register or rename a seller (營業人).

use super::answer::{Answer, JsonBody, parse_ubn, problem, record};
use super::session::{Operator, RoleOperator};
use super::state::OpsState;
use crate::problem::store_problem;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use einvoice_core::proof::QrKey;
use einvoice_secrets::purpose::QR_KEY;
use einvoice_store::{SellerRecord, Store};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
/// `POST /v1/ops/sellers`: the seller's UBN (統一編號), name, and optionally
/// its QR key (the AES-128 key the seller's POS encrypts the proof's QR
/// verification field with, 32 hex digits), kept sealed so App API
/// `qryInvDetail` by QR code can check `encrypt`.
pub(super) struct SellerBody {
    ubn: String,
    name: String,
    #[serde(default, deserialize_with = "present")]
    qr_key: Option<String>,
}

/// An optional field that, when sent, is a string (`null` is refused: the
/// document declares the field a string, not nullable).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
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
    let qr_key_sealed = match &b.qr_key {
        None => None,
        Some(hex) => {
            // Exactly the documented pattern (`QrKey::parse_hex` also trims).
            let exact = hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit());
            let key = exact
                .then(|| QrKey::parse_hex(hex).ok())
                .flatten()
                .ok_or_else(|| {
                    problem(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "QR_KEY_FORMAT",
                        "qr_key: the seller's QR AES key is 32 hexadecimal digits",
                    )
                })?;
            let sealed = st
                .sealer
                .seal(QR_KEY, key.to_hex().as_bytes())
                .map_err(|_| {
                    problem(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "SEAL_FAILED",
                        "the QR key could not be sealed; nothing was stored",
                    )
                })?;
            Some(sealed)
        }
    };
    let qr_key_set = qr_key_sealed.is_some();
    let old = st.store.seller(ubn).await.map_err(store_problem)?;
    let created = old.is_none();
    st.store
        .put_seller(SellerRecord {
            ubn,
            name: name.clone(),
            qr_key_sealed: qr_key_sealed.or(old.and_then(|o| o.qr_key_sealed)),
        })
        .await
        .map_err(store_problem)?;
    record(
        &st,
        &s.actor(),
        format!("seller/{ubn}"),
        // The key itself never enters the ledger: only that it was set.
        json!({"action": "seller.put", "ubn": ubn.as_str(), "name": name, "qr_key_set": qr_key_set}),
    )
    .await?;
    Ok(Json(
        json!({"ubn": ubn.as_str(), "name": name, "created": created}),
    ))
}
