//! Aggregation (歸戶) in the MOF App API (issue 17): `carrierAction` links
//! (or unlinks) another carrier to a mobile barcode and `qryCarrierAgg`
//! lists the links, each on its MOF path with the shared dispatch of
//! `signature.rs` ([`admit`](super::signature::admit): limits, action,
//! version, signature required, `timeStamp`, `serial`, app). The decisions are the REST routes' own
//! ([`crate::carrier_life::aggregation`]).
//!
//! | action | path | signed | answer fields |
//! | --- | --- | --- | --- |
//! | `carrierAction` | [`CARRIER_ACTION_PATH`] | **required** | `publicCardNo`, `cardType`, `cardNo`, `actionType` |
//! | `qryCarrierAgg` | [`AGGREGATE_PATH`](super::AGGREGATE_PATH) | **required** | `cardNo`, `details: [{rowNum, cardType, cardNo, carrierName}]` |
//!
//! Codes besides the shared ones: `901` names the parameter (a
//! `publicCardType` other than `3J0002`, a `cardType` of `3J0002`, an
//! unknown `cardType`, a `cardNo` not matching its type, `carrierName` over
//! 40 characters, a malformed `email`, `actionType` not `A`/`D`), `919` the
//! barcode or the carrier or either verification code is wrong (one
//! answer), `920` either is locked, `957` the carrier is linked to this
//! barcode already, `958` it is linked to another barcode, `959` (unlink)
//! it is not linked to this barcode, `960` the barcode has 50 links.
//!
//! Choices where MOF documents nothing: `actionType` (optional, `A` link —
//! the default — or `D` unlink) selects the change, and an unlink needs
//! the linked carrier's verification code as a link does; `carrierName`
//! (optional) is kept as the link's name; `email` (optional) is checked
//! for shape and not stored (the barcode's own address gets the mail);
//! the barcode is authenticated (`publicVerifyCode`) before the carrier
//! (`verifyCode`), each counted in its own budgets.

use super::answer::{Fail, code, fail, respond};
use super::parameters::Params;
use super::signature::{ActionRule, admit};
use super::state::AppState;
use crate::carrier_auth::{CarrierAuthError, authenticate};
use crate::carrier_life::aggregation::{
    AggError, LinkContext, change_link, parse_carrier, parse_name,
};
use crate::carrier_life::registration::parse_email;
use crate::rate_limit::ClientAddr;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use einvoice_core::aggregation::LinkRefusal;
use einvoice_core::{Carrier, CarrierType};
use einvoice_store::Store;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Path of `carrierAction`.
pub const CARRIER_ACTION_PATH: &str = "/PB2CAPIVAN/MobBarCar/CarrierAction";

/// The versions these actions accept.
const VERSIONS: [&str; 8] = ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "1.0", "1.1"];

/// Codes of this family.
mod agg_code {
    pub const ALREADY_LINKED: u16 = 957;
    pub const LINKED_ELSEWHERE: u16 = 958;
    pub const NOT_LINKED: u16 = 959;
    pub const TOO_MANY: u16 = 960;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Link,
    List,
}

impl Action {
    fn rule(self) -> ActionRule {
        let name = match self {
            Self::Link => "carrierAction",
            Self::List => "qryCarrierAgg",
        };
        ActionRule {
            name,
            versions: &VERSIONS,
            signed: true,
        }
    }
}

/// The routes of this family (state added by the App API router).
pub(super) fn routes<S: Store>() -> Router<Arc<AppState<S>>> {
    async fn link<S: Store>(
        State(st): State<Arc<AppState<S>>>,
        ClientAddr(client): ClientAddr,
        uri: Uri,
        body: Bytes,
    ) -> Response {
        dispatch(&st, &client, &uri, &body, Action::Link).await
    }
    async fn list<S: Store>(
        State(st): State<Arc<AppState<S>>>,
        ClientAddr(client): ClientAddr,
        uri: Uri,
        body: Bytes,
    ) -> Response {
        dispatch(&st, &client, &uri, &body, Action::List).await
    }
    Router::new()
        .route(CARRIER_ACTION_PATH, get(link::<S>).post(link::<S>))
        .route(super::AGGREGATE_PATH, get(list::<S>).post(list::<S>))
}

async fn dispatch<S: Store>(
    st: &AppState<S>,
    client: &str,
    uri: &Uri,
    body: &[u8],
    action: Action,
) -> Response {
    let p = match Params::parse(uri, body) {
        Ok(p) => p,
        Err(f) => return respond("1.0", false, Err(f)),
    };
    let v = p.get("version").unwrap_or("").to_string();
    let result = async {
        admit(st, &p, client, &[action.rule()]).await?;
        match action {
            Action::Link => carrier_action(st, &p, client).await,
            Action::List => qry_carrier_agg(st, &p, client).await,
        }
    }
    .await;
    respond(&v, false, result)
}

fn agg_fail(e: AggError, kind_param: &str, id_param: &str) -> Fail {
    match e {
        AggError::CarrierType => fail(
            code::PARAM,
            format!("{kind_param} is not an accepted carrier type"),
        ),
        AggError::CarrierId => fail(
            code::PARAM,
            format!("{id_param} does not match the carrier type"),
        ),
        AggError::Name => fail(
            code::PARAM,
            "carrierName: at most 40 characters, no control characters",
        ),
        AggError::Auth => fail(
            code::CARRIER_AUTH,
            "a carrier or its verification code is wrong",
        ),
        AggError::Locked(s) => fail(
            code::CARRIER_LOCKED,
            format!("too many failed attempts: retry after {s} seconds"),
        ),
        AggError::Busy => fail(code::UNAVAILABLE, "busy: retry shortly"),
        AggError::Store(e) => e.into(),
        AggError::Refused(LinkRefusal::NotLinkable) => fail(
            code::PARAM,
            "cardType: a mobile barcode cannot be linked; link another carrier to it",
        ),
        AggError::Refused(LinkRefusal::AlreadyLinked) => fail(
            agg_code::ALREADY_LINKED,
            "the carrier is linked to this mobile barcode already",
        ),
        AggError::Refused(LinkRefusal::LinkedElsewhere) => fail(
            agg_code::LINKED_ELSEWHERE,
            "the carrier is linked to another mobile barcode: unlink it there first",
        ),
        AggError::Refused(LinkRefusal::NotLinked) => fail(
            agg_code::NOT_LINKED,
            "the carrier is not linked to this mobile barcode",
        ),
        AggError::Refused(LinkRefusal::TooMany) => fail(
            agg_code::TOO_MANY,
            "the mobile barcode has 50 linked carriers: unlink one first",
        ),
    }
}

/// The mobile barcode of `type_param` + `id_param`, authenticated by `code_param`.
async fn auth_barcode<S: Store>(
    st: &AppState<S>,
    p: &Params,
    client: &str,
    (type_param, id_param, code_param): (&str, &str, &str),
) -> Result<Carrier, Fail> {
    if p.req(type_param)? != einvoice_core::ids::CARRIER_MOBILE {
        return Err(fail(
            code::PARAM,
            format!("{type_param} must be 3J0002 (mobile barcode)"),
        ));
    }
    let barcode = Carrier::parse(CarrierType::MobileBarcode, p.req(id_param)?)
        .map_err(|_| fail(code::PARAM, format!("{id_param} must be a mobile barcode")))?;
    let given = p.req(code_param)?;
    match authenticate(
        &st.store,
        &st.cfg.lockout,
        &st.cfg.clock,
        &barcode,
        given,
        client,
    )
    .await
    {
        Ok(()) => Ok(barcode),
        Err(e @ CarrierAuthError::Wrong)
        | Err(e @ CarrierAuthError::Locked(_))
        | Err(e @ CarrierAuthError::Busy(_))
        | Err(e @ CarrierAuthError::Store(_)) => Err(agg_fail(e.into(), type_param, id_param)),
    }
}

/// `carrierAction`: link (`actionType=A`, the default) or unlink (`D`) the
/// carrier `cardType` + `cardNo` (proven by `verifyCode`) to or from the
/// mobile barcode `publicCardNo` (proven by `publicVerifyCode`).
async fn carrier_action<S: Store>(
    st: &AppState<S>,
    p: &Params,
    client: &str,
) -> Result<Map<String, Value>, Fail> {
    let link = match p.get("actionType").unwrap_or("A") {
        "A" | "a" => true,
        "D" | "d" => false,
        _ => {
            return Err(fail(
                code::PARAM,
                "actionType must be A (link) or D (unlink)",
            ));
        }
    };
    let carrier = parse_carrier(p.req("cardType")?, p.req("cardNo")?)
        .map_err(|e| agg_fail(e, "cardType", "cardNo"))?;
    if carrier.kind == CarrierType::MobileBarcode {
        return Err(agg_fail(
            AggError::Refused(LinkRefusal::NotLinkable),
            "cardType",
            "cardNo",
        ));
    }
    let code_given = p.req("verifyCode")?;
    let name = parse_name(p.get("carrierName").unwrap_or(""))
        .map_err(|e| agg_fail(e, "cardType", "cardNo"))?;
    if let Some(email) = p.get("email") {
        parse_email(email)
            .map_err(|_| fail(code::PARAM, "email: an address such as name@example.com"))?;
    }
    let barcode = auth_barcode(
        st,
        p,
        client,
        ("publicCardType", "publicCardNo", "publicVerifyCode"),
    )
    .await?;
    let cx = LinkContext {
        store: &st.store,
        lockout: &st.cfg.lockout,
        clock: &st.cfg.clock,
        client,
    };
    let actor = format!("app:{}", p.get("appID").unwrap_or(""));
    change_link(&cx, &barcode, &carrier, code_given, link, name, actor)
        .await
        .map_err(|e| agg_fail(e, "cardType", "cardNo"))?;
    let mut m = Map::new();
    let s = |x: &str| Value::String(x.to_string());
    m.insert("publicCardNo".into(), s(&barcode.id));
    m.insert("cardType".into(), s(carrier.kind.code()));
    m.insert("cardNo".into(), s(&carrier.id));
    m.insert("actionType".into(), s(if link { "A" } else { "D" }));
    Ok(m)
}

/// `qryCarrierAgg`: the carriers linked to the mobile barcode `cardNo`
/// (proven by `cardEncrypt`).
async fn qry_carrier_agg<S: Store>(
    st: &AppState<S>,
    p: &Params,
    client: &str,
) -> Result<Map<String, Value>, Fail> {
    let barcode = auth_barcode(st, p, client, ("cardType", "cardNo", "cardEncrypt")).await?;
    let links = st.store.carrier_links(&barcode).await?;
    let mut m = Map::new();
    m.insert("cardNo".into(), Value::String(barcode.id.clone()));
    m.insert(
        "details".into(),
        Value::Array(
            links
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    json!({
                        "rowNum": i + 1,
                        "cardType": l.carrier.kind.code(),
                        "cardNo": l.carrier.id,
                        "carrierName": l.name,
                    })
                })
                .collect(),
        ),
    );
    Ok(m)
}
