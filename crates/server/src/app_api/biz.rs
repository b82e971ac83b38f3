//! The business (營業人 / POS) actions of the MOF App API on [`BIZ_PATH`]
//! (`/BIZAPIVAN/biz`): checks a POS or an invoicing system makes before it
//! prints or issues.
//!
//! | action (versions) | parameters | signed | answer fields |
//! | --- | --- | --- | --- |
//! | `bcv` (1.0, 1.1) | `barCode` (a mobile barcode), `TxID`, `appID` | no | `isExist` `Y`/`N`, `TxID` |
//! | `preserveCodeCheck` (1.0, 1.1) | `pCode` (a love code), `TxID`, `appID` | no | `isExist` `Y`/`N`, `TxID` |
//! | `cardBin` (1.0, 1.1) | `bankNo` (3 digits), `TxID`, `appID` | no | `bankNo`, `bankName`, `details: [{rowNum, cardBin}]`, `TxID` |
//! | `creditCardBan` (1.0, 1.1) | `TxID`, `appID` | no | `details: [{rowNum, bankNo, bankName}]`, `TxID` |
//! | `qryRecvRout` (1.0, 1.1) | `ban` (UBN), `serial`, `timeStamp`, `TxID`, `appID` | **required** | `ban`, `recvRout`, `TxID` |
//! | `qryBanUnitTp` (1.0, 1.1) | `ban` (UBN), `serial`, `timeStamp`, `appID` (`TxID` optional) | **required** | `ban`, `banUnitTp`, `TxID` when sent |
//!
//! `bcv` and `preserveCodeCheck` reveal existence only — never who holds a
//! barcode or anything about its invoices. The unsigned actions need a known
//! `appID` and verify a `signature` when one is sent; the signed ones go
//! through the shared preamble ([`admit`]: `signature` required,
//! `timeStamp` in its window, `serial`, replay refused with `906`).
//!
//! `cardBin` and `creditCardBan` answer from the platform's credit-card
//! issuer directory ([`einvoice_store::CardIssuerRecord`], maintained by
//! `PUT /v1/ops/card-issuers/{bank_code}`, seeded in the demo);
//! `qryRecvRout` and `qryBanUnitTp` from the seller records: a UBN registered
//! as a seller on this site receives its B2B invoices through this platform.
//!
//! Choices where MOF documents nothing: `code` is a string (`"200"`) as on
//! the other `BIZAPIVAN` answers clients parse; a malformed `barCode` (not
//! `/` + 7 of `0-9A-Z.+-`), `pCode` (not 3–7 digits), `bankNo` (not 3
//! digits) or `ban` (not a UBN by the checksum of core's `Ubn`) is `901`
//! naming the parameter, not a negative answer, so a POS can tell a typo
//! from an unknown value; `TxID` (1–64 visible characters) is required and
//! echoed (optional for `qryBanUnitTp`, whose catalogue entry has none); a
//! bank not in the directory (`cardBin`) and a UBN that is not a seller here
//! (`qryRecvRout`, `qryBanUnitTp`) answer `951`; an empty directory
//! (`creditCardBan`) answers `200` with no rows. `recvRout` is `"PLATFORM"`
//! (this platform; the only route a site knows — a Turnkey or another value
//! access point is not recorded) and `banUnitTp` is `"B"` (營業人, a business
//! issuing invoices; the seller records hold no finer type).

use super::answer::{Fail, code, fail, respond};
use super::parameters::Params;
use super::signature::{ActionRule, admit};
use super::state::AppState;
use crate::rate_limit::ClientAddr;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use einvoice_core::{Carrier, CarrierType, LoveCode, Ubn};
use einvoice_store::{CardIssuerRecord, Store, is_bank_code};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Path of the business actions (`bcv`, `preserveCodeCheck`, …).
pub const BIZ_PATH: &str = "/BIZAPIVAN/biz";
/// The `version` values accepted by the business actions.
const VERSIONS: [&str; 2] = ["1.0", "1.1"];

/// The actions of this path, in the order of the catalogue.
const RULES: [ActionRule; 6] = [
    rule("bcv", false),
    rule("preserveCodeCheck", false),
    rule("cardBin", false),
    rule("creditCardBan", false),
    rule("qryRecvRout", true),
    rule("qryBanUnitTp", true),
];

const fn rule(name: &'static str, signed: bool) -> ActionRule {
    ActionRule {
        name,
        versions: &VERSIONS,
        signed,
    }
}

/// What `recvRout` answers for a seller of this site.
const ROUTE_PLATFORM: &str = "PLATFORM";
/// What `banUnitTp` answers for a seller of this site (營業人).
const UNIT_BUSINESS: &str = "B";

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
        let rule = admit(&st, &p, &client, &RULES).await?;
        let tx = if rule.name == "qryBanUnitTp" && p.get("TxID").is_none() {
            None
        } else {
            Some(tx_id(&p)?)
        };
        let mut m = match rule.name {
            "bcv" => exists(barcode_exists(&st, &p).await?),
            "preserveCodeCheck" => exists(love_code_exists(&st, &p).await?),
            "cardBin" => card_bins(&st, &p).await?,
            "creditCardBan" => card_banks(&st).await?,
            _ => seller_answer(&st, &p, rule.name == "qryRecvRout").await?,
        };
        if let Some(tx) = tx {
            m.insert("TxID".into(), Value::String(tx));
        }
        Ok(m)
    }
    .await;
    respond(&v, true, result)
}

fn exists(yes: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "isExist".into(),
        Value::String(if yes { "Y" } else { "N" }.into()),
    );
    m
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

/// `cardBin`: the BINs of the bank `bankNo` (`951` for a bank not in the
/// directory).
async fn card_bins<S: Store>(st: &AppState<S>, p: &Params) -> Result<Map<String, Value>, Fail> {
    let bank = p.req("bankNo")?;
    if !is_bank_code(bank) {
        return Err(fail(code::PARAM, "bankNo must be a bank code of 3 digits"));
    }
    let issuer = st
        .store
        .card_issuers()
        .await?
        .into_iter()
        .find(|i| i.bank_code() == bank)
        .ok_or_else(|| {
            fail(
                code::NOT_FOUND,
                "bankNo is not a bank offering credit-card carriers (see creditCardBan)",
            )
        })?;
    let mut m = Map::new();
    m.insert("bankNo".into(), Value::String(issuer.bank_code().into()));
    m.insert("bankName".into(), Value::String(issuer.name().into()));
    m.insert(
        "details".into(),
        Value::Array(
            issuer
                .bins()
                .iter()
                .enumerate()
                .map(|(i, b)| json!({"rowNum": i + 1, "cardBin": b}))
                .collect(),
        ),
    );
    Ok(m)
}

/// `creditCardBan`: the banks offering credit-card carriers.
async fn card_banks<S: Store>(st: &AppState<S>) -> Result<Map<String, Value>, Fail> {
    let banks: Vec<CardIssuerRecord> = st.store.card_issuers().await?;
    let mut m = Map::new();
    m.insert(
        "details".into(),
        Value::Array(
            banks
                .iter()
                .enumerate()
                .map(|(i, b)| json!({"rowNum": i + 1, "bankNo": b.bank_code(), "bankName": b.name()}))
                .collect(),
        ),
    );
    Ok(m)
}

/// `qryRecvRout` (`route`) and `qryBanUnitTp`: what the seller records say
/// of the UBN `ban` (`951` when it is not a seller of this site).
async fn seller_answer<S: Store>(
    st: &AppState<S>,
    p: &Params,
    route: bool,
) -> Result<Map<String, Value>, Fail> {
    let ban = Ubn::parse(p.req("ban")?).map_err(|v| {
        fail(
            code::PARAM,
            format!("ban must be a UBN of 8 digits: {}", v.message),
        )
    })?;
    st.store
        .seller(ban)
        .await?
        .ok_or_else(|| fail(code::NOT_FOUND, "ban is not a business registered here"))?;
    let mut m = Map::new();
    m.insert("ban".into(), Value::String(ban.as_str().into()));
    if route {
        m.insert("recvRout".into(), Value::String(ROUTE_PLATFORM.into()));
    } else {
        m.insert("banUnitTp".into(), Value::String(UNIT_BUSINESS.into()));
    }
    Ok(m)
}
