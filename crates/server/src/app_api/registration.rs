//! The mobile-barcode actions of the MOF App API (issue 17): registration
//! by email, the verification code's change and reset, the barcode of a
//! phone number, and the prize bank account. Each on its MOF path with the
//! shared preamble of `signature.rs` ([`admit`](super::signature::admit):
//! limits, action, version, signature, `timeStamp`, `serial`, app); the decisions are the citizen REST routes' own
//! ([`crate::carrier_life::registration`]).
//!
//! | action | path | signed | answer fields |
//! | --- | --- | --- | --- |
//! | `generalCarrierReg` | [`CARRIER_REG_PATH`] | **required** | `regId`, `expTimeStamp` (the code is mailed; the citizen confirms with `POST /v1/carrier/registrations/{regId}/confirm` and chooses the verification code there) |
//! | `pubCarVerReg` | [`PUB_CAR_VER_REG_PATH`] | **required** | same, the verification code (`verify`) chosen now |
//! | `changeVer` | [`CHANGE_VER_PATH`] | **required** | `cardNo` |
//! | `forgetVer` | [`FORGET_VER_PATH`] | **required** | `regId`, `expTimeStamp` (same answer whether or not email + phone match) |
//! | `getBarcode` | [`GET_BARCODE_PATH`] | no | `cardNo` |
//! | `generalCarrierBank` | [`CARRIER_BANK_PATH`] | **required** | `bankNo`, `accountNo` (masked), `enableRemit` |
//!
//! Codes besides the shared ones: `901` names the parameter (`email`,
//! `phoneNo`, `verify`/`newVerify` by the 8–16 letter+digit rule,
//! `isVerification`, …), `919` unknown carrier or wrong code (one answer;
//! `getBarcode` too for an unknown phone), `920` locked, `951` no bank
//! account registered (`updateAcc=N`), `956` the phone or address holds a
//! barcode already, `998` mail is not configured on this site.
//!
//! Choices where MOF documents nothing: `generalCarrierBank` validates
//! `rocID` (a letter and 9 digits), `winnerPhone`, `userIdType` and
//! `enableRemit` but keeps only the account (sealed) and the holder's name;
//! `updateAcc=N` answers the registered account, masked.

use super::answer::{Fail, code, fail, respond};
use super::lifecycle::carrier_of;
use super::parameters::Params;
use super::signature::{ActionRule, admit};
use super::state::AppState;
use crate::carrier_auth::{CarrierAuthError, authenticate_phone};
use crate::carrier_life::registration::{
    RegContext, RegError, change_code, parse_phone, start_registration, start_reset,
};
use crate::rate_limit::ClientAddr;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use einvoice_core::{Carrier, CarrierType};
use einvoice_secrets::{BankAccount, BankError};
use einvoice_store::Store;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Path of `generalCarrierReg`.
pub const CARRIER_REG_PATH: &str = "/PB2CAPIVAN/appCarreg/AppCarReg";
/// Path of `pubCarVerReg`.
pub const PUB_CAR_VER_REG_PATH: &str = "/PB2CAPIVAN/MobBarCar/PubCarVerReg";
/// Path of `changeVer`.
pub const CHANGE_VER_PATH: &str = "/PB2CAPIVAN/MobBarCar/ChangeVer";
/// Path of `forgetVer`.
pub const FORGET_VER_PATH: &str = "/PB2CAPIVAN/MobBarCar/ForgetVer";
/// Path of `getBarcode`.
pub const GET_BARCODE_PATH: &str = "/PB2CAPIVAN/Carrier/AppGetBarcode";
/// Path of `generalCarrierBank`.
pub const CARRIER_BANK_PATH: &str = "/PB2CAPIVAN/PublicCarrier/AppBankInfo";

/// The versions these actions accept.
const VERSIONS: [&str; 8] = ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "1.0", "1.1"];
/// The phone or address holds a barcode already.
const CONTACT_TAKEN: u16 = 956;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Reg,
    PubReg,
    Change,
    Forget,
    Barcode,
    Bank,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Reg => "generalCarrierReg",
            Self::PubReg => "pubCarVerReg",
            Self::Change => "changeVer",
            Self::Forget => "forgetVer",
            Self::Barcode => "getBarcode",
            Self::Bank => "generalCarrierBank",
        }
    }
}

/// The routes of this family (state added by the App API router).
pub(super) fn routes<S: Store>() -> Router<Arc<AppState<S>>> {
    macro_rules! at {
        ($r:expr, $path:expr, $a:expr) => {{
            async fn h<S: Store>(
                State(st): State<Arc<AppState<S>>>,
                ClientAddr(client): ClientAddr,
                uri: Uri,
                body: Bytes,
            ) -> Response {
                dispatch(&st, &client, &uri, &body, $a).await
            }
            $r.route($path, get(h::<S>).post(h::<S>))
        }};
    }
    let r = Router::new();
    let r = at!(r, CARRIER_REG_PATH, Action::Reg);
    let r = at!(r, PUB_CAR_VER_REG_PATH, Action::PubReg);
    let r = at!(r, CHANGE_VER_PATH, Action::Change);
    let r = at!(r, FORGET_VER_PATH, Action::Forget);
    let r = at!(r, GET_BARCODE_PATH, Action::Barcode);
    at!(r, CARRIER_BANK_PATH, Action::Bank)
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
        let rule = ActionRule {
            name: action.name(),
            versions: &VERSIONS,
            signed: action != Action::Barcode,
        };
        admit(st, &p, client, &[rule]).await?;
        let cx = RegContext {
            store: &st.store,
            mail_from: st.cfg.mail_from.as_deref(),
            now: st.cfg.clock.now_unix(),
        };
        match action {
            Action::Reg | Action::PubReg => {
                yes_no(&p, "isVerification")?;
                let verify = if action == Action::PubReg {
                    Some(p.req("verify")?)
                } else {
                    None
                };
                let s = start_registration(&cx, p.req("email")?, p.req("phoneNo")?, verify)
                    .await
                    .map_err(|e| reg_fail(e, "verify"))?;
                Ok(started(s))
            }
            Action::Forget => {
                let s = start_reset(&cx, p.req("email")?, p.req("phoneNo")?)
                    .await
                    .map_err(|e| reg_fail(e, "verify"))?;
                Ok(started(s))
            }
            Action::Change => {
                let carrier = Carrier::parse(CarrierType::MobileBarcode, p.req("cardNo")?)
                    .map_err(|_| fail(code::PARAM, "cardNo must be a mobile barcode"))?;
                let (old, new) = (p.req("oldVerify")?, p.req("newVerify")?);
                change_code(
                    &cx,
                    &st.cfg.lockout,
                    &st.cfg.clock,
                    &carrier,
                    old,
                    new,
                    client,
                )
                .await
                .map_err(|e| reg_fail(e, "newVerify"))?;
                let mut m = Map::new();
                m.insert("cardNo".into(), Value::String(carrier.id));
                Ok(m)
            }
            Action::Barcode => get_barcode(st, &p, client).await,
            Action::Bank => bank(st, &cx, &p, client).await,
        }
    }
    .await;
    respond(&v, false, result)
}

fn yes_no<'a>(p: &'a Params, k: &str) -> Result<Option<&'a str>, Fail> {
    match p.get(k) {
        None => Ok(None),
        Some(v @ ("Y" | "N")) => Ok(Some(v)),
        Some(_) => Err(fail(code::PARAM, format!("{k} must be Y or N"))),
    }
}

fn started(s: crate::carrier_life::registration::Started) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("regId".into(), Value::String(s.id));
    m.insert("expTimeStamp".into(), Value::from(s.expires_unix));
    m
}

fn reg_fail(e: RegError, code_param: &str) -> Fail {
    match e {
        RegError::Email => fail(code::PARAM, "email: an address such as name@example.com"),
        RegError::Phone => fail(code::PARAM, "phoneNo: 10 digits starting with 09"),
        RegError::Weak => fail(
            code::PARAM,
            format!("{code_param}: 8 to 16 visible ASCII characters with a letter and a digit"),
        ),
        RegError::CodeRequired => fail(code::PARAM, format!("{code_param} is required")),
        RegError::CodeFormat => fail(code::PARAM, "the confirmation code is 8 digits"),
        RegError::MailOff => fail(
            code::UNAVAILABLE,
            "this site cannot send email: registration is unavailable",
        ),
        RegError::ContactTaken => fail(
            CONTACT_TAKEN,
            "this phone number or email address has a mobile barcode already",
        ),
        RegError::Auth => fail(
            code::CARRIER_AUTH,
            "the carrier or its verification code is wrong",
        ),
        RegError::Locked(s) => fail(
            code::CARRIER_LOCKED,
            format!("too many failed attempts: retry after {s} seconds"),
        ),
        RegError::Busy => fail(code::UNAVAILABLE, "busy: retry shortly"),
        RegError::Store(e) => e.into(),
        RegError::Invalid | RegError::Expired | RegError::Used | RegError::Exhausted => {
            fail(code::NOT_FOUND, "no such confirmation")
        }
    }
}

/// `getBarcode`: the mobile barcode of `phoneNo`, authenticated by its
/// verification code (`verificationCode`); an unknown phone is the same
/// answer as a wrong code, and attempts are counted in the phone's own
/// budgets ([`authenticate_phone`]) so 919/920 follow the same sequence for
/// a registered and an unregistered phone.
async fn get_barcode<S: Store>(
    st: &AppState<S>,
    p: &Params,
    client: &str,
) -> Result<Map<String, Value>, Fail> {
    let phone = parse_phone(p.req("phoneNo")?)
        .map_err(|_| fail(code::PARAM, "phoneNo: 10 digits starting with 09"))?;
    let given = p.req("verificationCode")?;
    let found = st.store.carrier_by_phone(&phone).await?;
    // The phone's own budget, charged alike whether or not it is registered
    // (an unknown phone costs the same Argon2 work and is never right).
    let carrier = found.map(|c| c.carrier);
    match authenticate_phone(
        &st.store,
        &st.cfg.lockout,
        &st.cfg.clock,
        &phone,
        carrier.as_ref(),
        given,
        client,
    )
    .await
    {
        Ok(()) if carrier.is_some() => {
            let mut m = Map::new();
            let id = carrier.map(|c| c.id).unwrap_or_default();
            m.insert("cardNo".into(), Value::String(id));
            Ok(m)
        }
        Ok(()) | Err(CarrierAuthError::Wrong) => Err(fail(
            code::CARRIER_AUTH,
            "the phone number or its verification code is wrong",
        )),
        Err(CarrierAuthError::Locked(s)) => Err(fail(
            code::CARRIER_LOCKED,
            format!("too many failed attempts: retry after {s} seconds"),
        )),
        Err(CarrierAuthError::Busy(b)) => Err(fail(code::UNAVAILABLE, b.to_string())),
        Err(CarrierAuthError::Store(e)) => Err(e.into()),
    }
}

fn masked(bank_code: &str, masked: &str, remit: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("bankNo".into(), Value::String(bank_code.into()));
    m.insert("accountNo".into(), Value::String(masked.into()));
    m.insert("enableRemit".into(), Value::String(remit.into()));
    m
}

/// `generalCarrierBank`: read (`updateAcc=N`) or change (`updateAcc=Y`)
/// the prize bank account of a carrier authenticated by `cardEncrypt`.
async fn bank<S: Store>(
    st: &AppState<S>,
    cx: &RegContext<'_, S>,
    p: &Params,
    client: &str,
) -> Result<Map<String, Value>, Fail> {
    let update =
        yes_no(p, "updateAcc")?.ok_or_else(|| fail(code::PARAM, "updateAcc is required"))?;
    let remit = yes_no(p, "enableRemit")?.unwrap_or("Y");
    match p.get("userIdType") {
        None | Some("1" | "2") => {}
        Some(_) => return Err(fail(code::PARAM, "userIdType must be 1 or 2")),
    }
    let new = if update == "Y" {
        let roc = p.req("rocID")?;
        let roc_ok = roc.len() == 10
            && roc.as_bytes()[0].is_ascii_uppercase()
            && roc.as_bytes()[1..].iter().all(u8::is_ascii_digit);
        if !roc_ok {
            return Err(fail(code::PARAM, "rocID: a capital letter and 9 digits"));
        }
        let phone = p.req("winnerPhone")?;
        if !(8..=15).contains(&phone.len()) || !phone.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail(code::PARAM, "winnerPhone: 8 to 15 digits"));
        }
        Some(BankAccount {
            bank_code: p.req("bankNo")?.to_string(),
            account_number: p.req("accountNo")?.to_string(),
            holder_name: p.req("winnerName")?.to_string(),
        })
    } else {
        None
    };
    let carrier = carrier_of(st, p, client).await?;
    let key = einvoice_store::carrier_key(&carrier);
    let Some(acct) = new else {
        let rec = st
            .store
            .bank_account(&key)
            .await?
            .ok_or_else(|| fail(code::NOT_FOUND, "no bank account registered"))?;
        return Ok(masked(&rec.bank_code, &rec.masked, remit));
    };
    let rec = acct.seal(&st.sealer, &key, cx.now).map_err(|e| match e {
        BankError::Seal(_) => fail(code::UNAVAILABLE, "the account could not be sealed"),
        e => fail(
            code::PARAM,
            format!(
                "{}: bankNo 3 digits, accountNo 1 to 16 digits, winnerName",
                e.code()
            ),
        ),
    })?;
    let mail = crate::winnings::bank_notice(cx, &carrier, &rec)
        .await
        .map_err(|e| reg_fail(e, "cardEncrypt"))?;
    crate::winnings::record_bank_account(&st.store, &st.sealer, &carrier, &rec, mail, cx.now)
        .await?;
    Ok(masked(&rec.bank_code, &rec.masked, remit))
}
