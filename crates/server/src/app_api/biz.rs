//! The business (營業人 / POS) actions of the MOF App API on [`BIZ_PATH`]
//! (`/BIZAPIVAN/biz`): checks a POS makes before it prints or issues.
//!
//! | action (versions) | parameters | answer fields |
//! | --- | --- | --- |
//! | `bcv` (1.0) | `barCode` (a mobile barcode), `TxID`, `appID` | `isExist` `Y`/`N`, `TxID` |
//! | `preserveCodeCheck` (1.0) | `pCode` (a love code), `TxID`, `appID` | `isExist` `Y`/`N`, `TxID` |
//!
//! They reveal existence only — never who holds a barcode or anything about
//! its invoices. Not signed (the digest says so); `appID` must be a known app
//! and a `signature`, when sent, is verified.
//!
//! Choices where MOF documents nothing: `code` is a string (`"200"`) as on
//! the other `BIZAPIVAN` answers clients parse; a malformed `barCode` (not
//! `/` + 7 of `0-9A-Z.+-`) or `pCode` (not 3–7 digits) is `901` naming the
//! parameter, not `isExist: N`, so a POS can tell a typo from an unknown
//! carrier; `TxID` (1–64 visible characters) is required and echoed. The
//! other business actions of the catalogue (`cardBin`, `creditCardBan`,
//! `qryRecvRout`, `qryBanUnitTp`) answer `902` (not offered yet).

use super::answer::{Fail, code, fail, respond};
use super::lifecycle::app_limit;
use super::parameters::Params;
use super::router::rate_limited;
use super::signature::check_app;
use super::state::AppState;
use crate::rate_limit::ClientAddr;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use einvoice_core::{Carrier, CarrierType, LoveCode};
use einvoice_store::Store;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Path of the business actions (`bcv`, `preserveCodeCheck`, …).
pub const BIZ_PATH: &str = "/BIZAPIVAN/biz";
/// The `version` values accepted by the business actions.
const VERSIONS: [&str; 2] = ["1.0", "1.1"];

/// Answer one business action.
pub(super) async fn biz<S: Store>(
    State(st): State<Arc<AppState<S>>>,
    ClientAddr(client): ClientAddr,
    uri: Uri,
    body: Bytes,
) -> Response {
    let p = match Params::parse(&uri, &body) {
        Ok(p) => p,
        Err(f) => return respond("1.0", true, Err(f)),
    };
    let v = p.get("version").unwrap_or("").to_string();
    let result = async {
        // Every App API request counts against its client, then its app (907).
        st.per_client
            .check(&client)
            .map_err(|l| rate_limited(l, "this client"))?;
        let action = p.req("action")?.to_ascii_lowercase();
        if !VERSIONS.contains(&v.as_str()) {
            return Err(fail(
                code::ACTION,
                format!("version must be one of {}", VERSIONS.join(", ")),
            ));
        }
        match action.as_str() {
            "bcv" | "preservecodecheck" => {}
            "cardbin" | "creditcardban" | "qryrecvrout" | "qrybanunittp" => {
                return Err(fail(
                    code::ACTION,
                    "this action is not offered by this platform yet",
                ));
            }
            _ => return Err(fail(code::ACTION, "unknown action for this path")),
        }
        let tx = tx_id(&p)?;
        app_limit(&st, check_app(&st, &p).await?)?;
        let exists = if action == "bcv" {
            barcode_exists(&st, &p).await?
        } else {
            love_code_exists(&st, &p).await?
        };
        let mut m = Map::new();
        m.insert(
            "isExist".into(),
            Value::String(if exists { "Y" } else { "N" }.into()),
        );
        m.insert("TxID".into(), Value::String(tx));
        Ok(m)
    }
    .await;
    respond(&v, true, result)
}

fn tx_id(p: &Params) -> Result<String, Fail> {
    let tx = p.req("TxID")?;
    if tx.chars().count() > 64 || tx.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(fail(code::PARAM, "TxID must be 1 to 64 visible characters"));
    }
    Ok(tx.to_string())
}

/// `bcv`: is `barCode` a registered mobile barcode?
async fn barcode_exists<S: Store>(st: &AppState<S>, p: &Params) -> Result<bool, Fail> {
    let carrier = Carrier::parse(CarrierType::MobileBarcode, p.req("barCode")?).map_err(|_| {
        fail(
            code::PARAM,
            "barCode must be a mobile barcode: '/' followed by 7 of 0-9 A-Z . + -",
        )
    })?;
    Ok(st.store.carrier(&carrier).await?.is_some())
}

/// `preserveCodeCheck`: is `pCode` a love code of the NPO directory?
async fn love_code_exists<S: Store>(st: &AppState<S>, p: &Params) -> Result<bool, Fail> {
    let code = LoveCode::parse(p.req("pCode")?)
        .map_err(|_| fail(code::PARAM, "pCode must be a love code of 3 to 7 digits"))?;
    Ok(st.store.npo(&code).await?.is_some())
}
