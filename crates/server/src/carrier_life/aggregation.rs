//! Aggregation (歸戶, issue 17): linking other carriers (EasyCard `1K0001`,
//! iPASS `1H0001`, icash `2G0001`, citizen certificate `CQ0001`, a bank's
//! credit-card type, …) to a mobile barcode. The decisions shared by the
//! REST routes below and the MOF App API (`carrierAction`, `qryCarrierAgg`
//! in `app_api/aggregation.rs`); each change is a `CARRIER_LINK` ledger
//! entry of the receiving site ([`einvoice_store::CarrierAggStore`]).
//!
//! | route | does |
//! | --- | --- |
//! | `GET /v1/carrier/links` (Bearer token of a mobile barcode) | the carriers linked to it |
//! | `POST /v1/carrier/links` (same) `{carrier_type, carrier_id, verification_code, name?}` | link a carrier, proven by **its own** verification code; `201` |
//! | `POST /v1/carrier/links/remove` (same) `{carrier_type, carrier_id, verification_code}` | unlink it (its code again) |
//!
//! The linked carrier's code is checked like a login ([`crate::carrier_auth`]:
//! counted first in its budgets, Argon2id, one answer for an unknown carrier
//! and a wrong code). Invoices of linked carriers appear in the barcode's
//! App API carrier queries, and their prizes are paid into the barcode's bank
//! account (the payout files of `einvoice-draw`).
//!
//! Refusals: `400 BODY_INVALID` / `CARRIER_TYPE` / `LINK_NAME`, `401
//! CARRIER_AUTH`, `409 LINK_ALREADY_LINKED` / `LINK_LINKED_ELSEWHERE` /
//! `LINK_NOT_LINKED` / `LINK_TOO_MANY`, `422 LINK_NOT_LINKABLE` (the token
//! is not a mobile barcode, or the carrier is one) / `CARRIER_ID` (not of
//! its type's form), `429 CARRIER_LOCKED`, `503 BUSY`. A refused request writes nothing.

use super::i18n::{Lang, problem};
use super::{fail, with_lang};
use crate::carrier_auth::{CarrierAuthError, authenticate};
use crate::carrier_token::CarrierToken;
use crate::clock::Clock;
use crate::lockout::Lockout;
use crate::problem::{Problem, store_problem};
use crate::state::{SiteState, client_key};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use einvoice_core::aggregation::LinkRefusal;
use einvoice_core::ids::CarrierTypes;
use einvoice_core::{Carrier, CarrierType};
use einvoice_store::{
    CarrierLink, LinkChange, LinkOutcome, MAX_LINK_NAME_CHARS, Receipt, Store, StoreError,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

/// Why a link request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AggError {
    /// `carrier_type` is not an accepted carrier type.
    #[error("CARRIER_TYPE")]
    CarrierType,
    /// `carrier_id` does not match the carrier type.
    #[error("CARRIER_ID")]
    CarrierId,
    /// The name is longer than 40 characters or has control characters.
    #[error("LINK_NAME")]
    Name,
    /// A carrier or its verification code is wrong (one answer).
    #[error("CARRIER_AUTH")]
    Auth,
    /// The carrier's attempt budget is spent: retry after this many seconds.
    #[error("CARRIER_LOCKED")]
    Locked(i64),
    /// Every Argon2 permit is taken.
    #[error("BUSY")]
    Busy,
    /// The store refused the change.
    #[error("{}", .0.code())]
    Refused(LinkRefusal),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CarrierAuthError> for AggError {
    fn from(e: CarrierAuthError) -> Self {
        match e {
            CarrierAuthError::Wrong => Self::Auth,
            CarrierAuthError::Locked(s) => Self::Locked(s),
            CarrierAuthError::Busy(_) => Self::Busy,
            CarrierAuthError::Store(e) => Self::Store(e),
        }
    }
}

impl AggError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::CarrierType => "CARRIER_TYPE",
            Self::CarrierId => "CARRIER_ID",
            Self::Name => "LINK_NAME",
            Self::Auth => "CARRIER_AUTH",
            Self::Locked(_) => "CARRIER_LOCKED",
            Self::Busy => "BUSY",
            Self::Refused(r) => r.code(),
            Self::Store(_) => "STORE",
        }
    }

    /// English and zh-TW texts.
    pub fn texts(&self) -> (&'static str, &'static str) {
        match self {
            Self::CarrierType => (
                "carrier_type: an accepted carrier type such as 1K0001 (EasyCard), 1H0001 (iPASS), 2G0001 (icash) or CQ0001 (citizen certificate)",
                "carrier_type：載具類別如 1K0001（悠遊卡）、1H0001（一卡通）、2G0001（icash）或 CQ0001（自然人憑證）",
            ),
            Self::CarrierId => (
                "carrier_id does not match the carrier type",
                "carrier_id 與載具類別的格式不符",
            ),
            Self::Name => (
                "name: at most 40 characters, no control characters",
                "name：最多 40 個字元，不可含控制字元",
            ),
            Self::Auth => (
                "the carrier or its verification code is wrong",
                "載具號碼或驗證碼錯誤",
            ),
            Self::Locked(_) => (
                "too many failed attempts on this carrier: retry later",
                "此載具驗證失敗次數過多，請稍後再試",
            ),
            Self::Busy => ("busy: retry shortly", "系統忙碌，請稍後再試"),
            Self::Refused(LinkRefusal::NotLinkable) => (
                "only other carriers can be linked, and only to a mobile barcode",
                "僅能將其他載具歸戶至手機條碼",
            ),
            Self::Refused(LinkRefusal::AlreadyLinked) => (
                "this carrier is linked to your mobile barcode already",
                "此載具已歸戶至您的手機條碼",
            ),
            Self::Refused(LinkRefusal::LinkedElsewhere) => (
                "this carrier is linked to another mobile barcode: unlink it there first",
                "此載具已歸戶至其他手機條碼，請先於該條碼取消歸戶",
            ),
            Self::Refused(LinkRefusal::NotLinked) => (
                "this carrier is not linked to your mobile barcode",
                "此載具未歸戶至您的手機條碼",
            ),
            Self::Refused(LinkRefusal::TooMany) => (
                "your mobile barcode has 50 linked carriers already: unlink one first",
                "您的手機條碼已歸戶 50 個載具，請先取消其中之一",
            ),
            Self::Store(_) => ("", ""),
        }
    }

    /// The HTTP status of the REST form.
    pub fn status(&self) -> StatusCode {
        match self {
            // A carrier id of the schema's shape that is not one of its
            // type's (a rule across two fields the schema cannot say): 422.
            Self::CarrierId => StatusCode::UNPROCESSABLE_ENTITY,
            Self::CarrierType | Self::Name => StatusCode::BAD_REQUEST,
            Self::Auth => StatusCode::UNAUTHORIZED,
            Self::Locked(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy | Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Refused(LinkRefusal::NotLinkable) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Refused(_) => StatusCode::CONFLICT,
        }
    }

    /// The problem document in `lang`.
    pub fn problem(self, lang: Lang) -> Problem {
        if let Self::Store(e) = self {
            return store_problem(e);
        }
        let (en, zh) = self.texts();
        let p = problem(lang, self.status(), self.code(), en, zh);
        match self {
            Self::Locked(s) => p.retry_after(s.max(1) as u64),
            Self::Busy => p.retry_after(crate::password::RETRY_AFTER_SECS),
            _ => p,
        }
    }
}

/// The carrier of a type code and an id.
pub fn parse_carrier(kind: &str, id: &str) -> Result<Carrier, AggError> {
    let kind = CarrierType::parse(kind.trim(), &CarrierTypes::default())
        .map_err(|_| AggError::CarrierType)?;
    Carrier::parse(kind, id.trim()).map_err(|_| AggError::CarrierId)
}

/// A link's name (MOF `carrierName`): trimmed, at most 40 characters, no
/// control characters; may be empty.
pub fn parse_name(s: &str) -> Result<String, AggError> {
    let s = s.trim();
    if s.chars().count() > MAX_LINK_NAME_CHARS || s.chars().any(char::is_control) {
        return Err(AggError::Name);
    }
    Ok(s.to_string())
}

/// What a link request needs besides the store.
pub struct LinkContext<'a, S> {
    /// The store.
    pub store: &'a S,
    /// The attempt budgets.
    pub lockout: &'a Lockout,
    /// Now.
    pub clock: &'a Clock,
    /// The client address (its own budgets).
    pub client: &'a str,
}

/// Link (`link = true`) or unlink `carrier` to or from `barcode` (already
/// authenticated by the caller), proven by the carrier's own verification
/// code `code` (checked first, counted in its budgets).
pub async fn change_link<S: Store>(
    cx: &LinkContext<'_, S>,
    barcode: &Carrier,
    carrier: &Carrier,
    code: &str,
    link: bool,
    name: String,
    actor: String,
) -> Result<Receipt, AggError> {
    if barcode.kind != CarrierType::MobileBarcode || carrier.kind == CarrierType::MobileBarcode {
        return Err(AggError::Refused(LinkRefusal::NotLinkable));
    }
    authenticate(cx.store, cx.lockout, cx.clock, carrier, code, cx.client).await?;
    let change = LinkChange {
        barcode: barcode.clone(),
        carrier: carrier.clone(),
        link,
        name,
        actor,
    };
    match cx.store.change_link(change).await? {
        LinkOutcome::Done(r) => Ok(r),
        LinkOutcome::Refused(r) => Err(AggError::Refused(r)),
    }
}

/// `carrier` and the carriers linked to it (only a mobile barcode has
/// any): the carriers whose invoices its queries show.
pub async fn with_links<S: Store>(
    store: &S,
    carrier: &Carrier,
) -> Result<Vec<Carrier>, StoreError> {
    let mut out = vec![carrier.clone()];
    if carrier.kind == CarrierType::MobileBarcode {
        out.extend(
            store
                .carrier_links(carrier)
                .await?
                .into_iter()
                .map(|l| l.carrier),
        );
    }
    Ok(out)
}

/// The invoices of `period` that `carrier`'s queries show: its own, then
/// those of each carrier linked to it ([`with_links`]), each with the
/// carrier it is on. The one read behind the App API's `carrierInvChk` and
/// the REST `GET /v1/carrier/invoices`.
pub async fn invoices_with_links<S: Store>(
    store: &S,
    carrier: &Carrier,
    period: einvoice_core::Period,
) -> Result<Vec<(Carrier, einvoice_store::read_projection::CarrierInvoice)>, StoreError> {
    let mut out = Vec::new();
    for c in with_links(store, carrier).await? {
        for row in store.carrier_invoice_rows(&c, period).await? {
            out.push((c.clone(), row));
        }
    }
    Ok(out)
}

/// The routes of this module.
pub(crate) fn routes<S: Store>(st: Arc<SiteState<S>>) -> Router {
    Router::new()
        .route(
            "/v1/carrier/links",
            get(list::<S>).post(change_route::<S, LinkBody>),
        )
        .route(
            "/v1/carrier/links/remove",
            post(change_route::<S, UnlinkBody>),
        )
        .with_state(st)
}

fn link_json(l: &CarrierLink) -> Value {
    json!({"carrier_type": l.carrier.kind.code(), "carrier_id": l.carrier.id, "name": l.name})
}

async fn list<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    CarrierToken(barcode): CarrierToken,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&headers);
    if barcode.kind != CarrierType::MobileBarcode {
        return fail(
            lang,
            AggError::Refused(LinkRefusal::NotLinkable).problem(lang),
        );
    }
    match st.store.carrier_links(&barcode).await {
        Ok(links) => with_lang(
            lang,
            crate::citizen::no_store(
                axum::Json(json!({
                    "barcode": barcode.id,
                    "links": links.iter().map(link_json).collect::<Vec<_>>(),
                }))
                .into_response(),
            ),
        ),
        Err(e) => fail(lang, store_problem(e)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    carrier_type: String,
    carrier_id: String,
    verification_code: String,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnlinkBody {
    carrier_type: String,
    carrier_id: String,
    verification_code: String,
}

/// The body of a link (`POST /v1/carrier/links`) or an unlink
/// (`POST /v1/carrier/links/remove`): what [`change_route`] reads.
trait ChangeBody: serde::de::DeserializeOwned {
    /// `true` for a link.
    const LINK: bool;
    /// The body's fields, for `BODY_INVALID`.
    const FIELDS: &'static str;
    /// Carrier type, carrier id, verification code; the name (link only).
    fn parts(&self) -> ((&str, &str, &str), Option<&str>);
}

impl ChangeBody for LinkBody {
    const LINK: bool = true;
    const FIELDS: &'static str = "carrier_type, carrier_id, verification_code, name?";
    fn parts(&self) -> ((&str, &str, &str), Option<&str>) {
        let ids = (
            self.carrier_type.as_str(),
            self.carrier_id.as_str(),
            self.verification_code.as_str(),
        );
        (ids, self.name.as_deref())
    }
}

impl ChangeBody for UnlinkBody {
    const LINK: bool = false;
    const FIELDS: &'static str = "carrier_type, carrier_id, verification_code";
    fn parts(&self) -> ((&str, &str, &str), Option<&str>) {
        let ids = (
            self.carrier_type.as_str(),
            self.carrier_id.as_str(),
            self.verification_code.as_str(),
        );
        (ids, None)
    }
}

fn body_invalid(lang: Lang, fields: &str) -> Response {
    let en = format!("the body must be JSON {{{fields}}}, each once, as strings");
    let zh = format!("內容須為 JSON {{{fields}}}，每個欄位一次，皆為字串");
    fail(
        lang,
        problem(lang, StatusCode::BAD_REQUEST, "BODY_INVALID", &en, &zh),
    )
}

/// Link (`201`) or unlink (`200`) the carrier of the body `B` to or from
/// the token's mobile barcode.
async fn change_route<S: Store, B: ChangeBody>(
    State(st): State<Arc<SiteState<S>>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    CarrierToken(barcode): CarrierToken,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let lang = Lang::of(&headers);
    let Ok(body) = serde_json::from_slice::<B>(&raw) else {
        return body_invalid(lang, B::FIELDS);
    };
    let ((kind, id, code), name) = body.parts();
    let client = client_key(Some(addr));
    if let Err(p) = st.carrier_limit.check(&client) {
        return fail(lang, p);
    }
    let run = async {
        let carrier = parse_carrier(kind, id)?;
        let name = parse_name(name.unwrap_or(""))?;
        let cfg = &st.opts.app_api;
        let cx = LinkContext {
            store: &st.store,
            lockout: &cfg.lockout,
            clock: &cfg.clock,
            client: &client,
        };
        let actor = format!("carrier:{}", einvoice_store::carrier_key(&barcode));
        let receipt = change_link(&cx, &barcode, &carrier, code, B::LINK, name, actor).await?;
        Ok::<_, AggError>((carrier, receipt))
    };
    match run.await {
        Ok((carrier, receipt)) => {
            let status = if B::LINK {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let body = axum::Json(json!({
                "barcode": barcode.id,
                "carrier_type": carrier.kind.code(),
                "carrier_id": carrier.id,
                "linked": B::LINK,
                "receipt": receipt,
            }));
            with_lang(
                lang,
                crate::citizen::no_store((status, body).into_response()),
            )
        }
        Err(e) => fail(lang, e.problem(lang)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_rules() {
        assert!(parse_carrier("1K0001", "0123456789").is_ok());
        assert!(matches!(
            parse_carrier("ZZ9999", "1"),
            Err(AggError::CarrierType)
        ));
        assert!(matches!(
            parse_carrier("CQ0001", "AB123"),
            Err(AggError::CarrierId)
        ));
        assert_eq!(parse_name("  my card ").ok().as_deref(), Some("my card"));
        assert!(matches!(parse_name("a\u{7}b"), Err(AggError::Name)));
        assert!(matches!(parse_name(&"悠".repeat(41)), Err(AggError::Name)));
        assert!(parse_name(&"悠".repeat(40)).is_ok());
    }
}
