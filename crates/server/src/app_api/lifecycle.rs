//! The carrier lifecycle's MOF App API actions (issue 17): `qryLoveCode`
//! (the NPO directory, 愛心碼) and `carrierInvDnt` (donate one carrier
//! invoice, 發票捐贈), each on its MOF path: parse (a parameter given twice
//! is refused), the preamble every such action shares
//! ([`admit`](super::signature::admit): limits, action, version, signature,
//! `timeStamp`, `serial`, app), then the action.
//!
//! | action (versions accepted) | path | signed | answer fields |
//! | --- | --- | --- | --- |
//! | `qryLoveCode` (0.1–0.3) | [`LOVE_CODE_PATH`] | no | `details: [{rowNum, LoveCode, SocialWelfareBAN, SocialWelfareName, SocialWelfareAbbrev}]` |
//! | `carrierInvDnt` (0.1, 0.2, 1.0) | [`DONATE_PATH`](super::DONATE_PATH) | **required** | `invNum`, `invDate`, `npoBan`, `cardType`, `cardNo` |
//!
//! Codes besides the shared ones (see [`super`]): `qryLoveCode` answers
//! `951` when nothing matches; `carrierInvDnt` answers `901` naming the
//! parameter, `919` for an unknown carrier or a wrong verification code (one
//! answer), `951` when the invoice is not on the carrier (number + date),
//! `953` unknown love code, `954` not donatable (cancelled, voided, B2B or
//! donated already), `955` the period is closed for its draw.
//!
//! Choices where MOF documents nothing: `qKey` must be 1–30 characters, a
//! digit-only key matches love codes *starting* with it and any key matches
//! names containing it, at most [`MAX_LOVE_CODES`](crate::carrier_life::MAX_LOVE_CODES) rows; a donation is
//! refused from the period's draw date (Taipei) on, or as soon as the period
//! is frozen for its draw, whichever is first (after that the invoice may
//! have won); a donation cannot be undone.

use super::answer::{Fail, code, fail, respond};
use super::parameters::{Params, date_param, inv_num_param};
use super::signature::{ActionRule, admit};
use super::state::AppState;
use crate::carrier_life::{MAX_LOVE_CODES, donation_closed, love_code_query};
use crate::rate_limit::ClientAddr;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use einvoice_core::{Carrier, LoveCode};
use einvoice_store::{DonationOutcome, DonationRefusal, InvoiceDonation, NpoRecord, Store};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Path of `qryLoveCode`.
pub const LOVE_CODE_PATH: &str = "/PB2CAPIVAN/loveCodeapp/qryLoveCode";

/// Codes of this family (the shared ones are in `answer::code`).
mod dnt_code {
    pub const LOVE_CODE_UNKNOWN: u16 = 953;
    pub const NOT_DONATABLE: u16 = 954;
    pub const PERIOD_CLOSED: u16 = 955;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    LoveCode,
    Donate,
}

impl Action {
    fn rule(self) -> ActionRule {
        match self {
            Self::LoveCode => ActionRule {
                name: "qryLoveCode",
                versions: &["0.1", "0.2", "0.3"],
                signed: false,
            },
            Self::Donate => ActionRule {
                name: "carrierInvDnt",
                versions: &["0.1", "0.2", "1.0"],
                signed: true,
            },
        }
    }
}

/// The routes of this family, for the App API router (state added there).
pub(super) fn routes<S: Store>() -> Router<Arc<AppState<S>>> {
    Router::new()
        .route(LOVE_CODE_PATH, get(love_code::<S>).post(love_code::<S>))
        .route(super::DONATE_PATH, get(donate::<S>).post(donate::<S>))
        .route(
            super::biz::BIZ_PATH,
            get(super::biz::biz::<S>).post(super::biz::biz::<S>),
        )
}

async fn love_code<S: Store>(
    State(st): State<Arc<AppState<S>>>,
    ClientAddr(client): ClientAddr,
    uri: Uri,
    body: Bytes,
) -> Response {
    dispatch(&st, &client, &uri, &body, Action::LoveCode).await
}

async fn donate<S: Store>(
    State(st): State<Arc<AppState<S>>>,
    ClientAddr(client): ClientAddr,
    uri: Uri,
    body: Bytes,
) -> Response {
    dispatch(&st, &client, &uri, &body, Action::Donate).await
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
        Err(f) => return respond("0.1", false, Err(f)),
    };
    let v = p.get("version").unwrap_or("").to_string();
    let result = async {
        admit(st, &p, client, &[action.rule()]).await?;
        match action {
            Action::LoveCode => qry_love_code(st, &p).await,
            Action::Donate => carrier_inv_dnt(st, &p, client).await,
        }
    }
    .await;
    respond(&v, false, result)
}

fn npo_row(i: usize, n: &NpoRecord) -> Value {
    json!({
        "rowNum": i + 1,
        "LoveCode": n.love_code.as_str(),
        "SocialWelfareBAN": n.ubn.as_str(),
        "SocialWelfareName": n.name,
        "SocialWelfareAbbrev": n.name,
    })
}

/// `qryLoveCode`: NPOs whose love code starts with `qKey` or whose name contains it.
async fn qry_love_code<S: Store>(st: &AppState<S>, p: &Params) -> Result<Map<String, Value>, Fail> {
    let q = love_code_query(p.req("qKey")?).ok_or_else(|| {
        fail(
            code::PARAM,
            "qKey must be 1 to 30 visible characters (a love code or part of an NPO name)",
        )
    })?;
    let found = st.store.find_npos(q, MAX_LOVE_CODES).await?;
    if found.is_empty() {
        return Err(fail(code::NOT_FOUND, "no NPO matches qKey"));
    }
    let mut m = Map::new();
    m.insert(
        "details".into(),
        Value::Array(
            found
                .iter()
                .enumerate()
                .map(|(i, n)| npo_row(i, n))
                .collect(),
        ),
    );
    Ok(m)
}

/// The carrier of `cardType` + `cardNo`, authenticated by `cardEncrypt`
/// (the one check of the carrier actions, in `carrier.rs`).
pub(super) async fn carrier_of<S: Store>(
    st: &AppState<S>,
    p: &Params,
    client: &str,
) -> Result<Carrier, Fail> {
    super::carrier::auth_carrier(st, p, client).await
}

/// `carrierInvDnt`: donate one invoice of the carrier to the NPO of `npoBan`.
async fn carrier_inv_dnt<S: Store>(
    st: &AppState<S>,
    p: &Params,
    client: &str,
) -> Result<Map<String, Value>, Fail> {
    let number = inv_num_param(p)?;
    let date = date_param(p, "invDate")?;
    let love_code = LoveCode::parse(p.req("npoBan")?)
        .map_err(|_| fail(code::PARAM, "npoBan must be a love code of 3 to 7 digits"))?;
    let carrier = carrier_of(st, p, client).await?;
    let app = p.get("appID").unwrap_or("");
    let donation = InvoiceDonation {
        carrier: carrier.clone(),
        number,
        date,
        love_code: love_code.clone(),
        actor: format!("app:{app}"),
    };
    if let Some(refusal) = donation_closed(&st.cfg.clock, &donation) {
        return Err(refused(refusal));
    }
    match st.store.donate_invoice(donation).await? {
        DonationOutcome::Donated { .. } => {}
        DonationOutcome::Refused(r) => return Err(refused(r)),
    }
    let mut m = Map::new();
    let s = |x: &str| Value::String(x.to_string());
    m.insert("invNum".into(), s(&number.to_string()));
    m.insert(
        "invDate".into(),
        s(&einvoice_core::period::format_mig_date(date)),
    );
    m.insert("npoBan".into(), s(love_code.as_str()));
    m.insert("cardType".into(), s(carrier.kind.code()));
    m.insert("cardNo".into(), s(&carrier.id));
    Ok(m)
}

fn refused(r: DonationRefusal) -> Fail {
    match r {
        DonationRefusal::NotFound => fail(code::NOT_FOUND, "no such invoice on this carrier"),
        DonationRefusal::UnknownLoveCode => fail(
            dnt_code::LOVE_CODE_UNKNOWN,
            "npoBan is not a love code of the NPO directory (see qryLoveCode)",
        ),
        DonationRefusal::NotDonatable | DonationRefusal::AlreadyDonated => fail(
            dnt_code::NOT_DONATABLE,
            "the invoice cannot be donated (cancelled, voided, business buyer or donated already)",
        ),
        DonationRefusal::PeriodClosed => fail(
            dnt_code::PERIOD_CLOSED,
            "the invoice's period is closed for its draw: donations end before the draw",
        ),
    }
}
