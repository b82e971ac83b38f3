//! Registration of a mobile-barcode carrier by email, change and reset of
//! its verification code (issue 17): the decisions shared by the REST routes
//! (below) and the MOF actions (`app_api/registration.rs`).
//!
//! | route | does |
//! | --- | --- |
//! | `POST /v1/carrier/registrations` `{email, phone, verification_code?}` | validate, store a pending registration, email a confirmation code; `202 {id, expires_unix}` |
//! | `POST /v1/carrier/registrations/{id}/confirm` `{code, verification_code?}` | check the code (single use, expiring, [`MAX_CONFIRM_ATTEMPTS`]); issue the barcode as a `CARRIER_REGISTERED` ledger entry; `201 {carrier_type, carrier_id}` |
//! | `POST /v1/carrier/verification-code` `{carrier_id, old_verification_code, new_verification_code}` | change the code with the old one (counted like a login); `200` |
//! | `POST /v1/carrier/verification-code/reset` `{email, phone}` | forgotten code: a reset code by email if both match a carrier; `202 {id}` either way |
//! | `POST /v1/carrier/verification-code/reset/{id}/confirm` `{code, verification_code}` | set the new code; `200 {carrier_type, carrier_id}` |
//!
//! The confirmation code (8 digits) is stored only as its SHA-256 and
//! compared in constant time; every confirmation attempt is counted before
//! the comparison. Without SMTP configured (`[smtp] url`), the routes that
//! send mail answer `503 MAIL_NOT_CONFIGURED` and store nothing. Choices
//! MOF does not document: a phone or an address holds one barcode (`409
//! CONTACT_REGISTERED`); a reset request answers the same whether or not
//! the phone and address match (no enumeration); a code lives
//! [`CONFIRM_TTL_SECS`].

// A `Problem` is built at most once per request and goes straight to the client.
#![allow(clippy::result_large_err)]

use super::i18n::{Lang, problem};
use super::{fail, with_lang};
use crate::carrier_auth::{CarrierAuthError, authenticate, hash_verification_code};
use crate::problem::{Problem, store_problem};
use crate::state::{SiteState, client_key};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use einvoice_core::{Carrier, CarrierType};
use einvoice_store::{
    CarrierContact, CarrierCredential, Challenge, ChallengePurpose, CompleteOutcome, MailMessage,
    Store, StoreError,
};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;

/// A confirmation code is refused this long after it was sent.
pub const CONFIRM_TTL_SECS: i64 = 30 * 60;
/// Confirmation attempts allowed per code (right or wrong).
pub const MAX_CONFIRM_ATTEMPTS: u32 = 5;
/// Characters of a mobile barcode after the `/`.
const BARCODE_CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.+-";

/// Why a registration step was refused (nothing was stored, except the
/// count of a confirmation attempt).
#[derive(Debug, thiserror::Error)]
pub enum RegError {
    /// The email address is malformed.
    #[error("EMAIL_FORMAT")]
    Email,
    /// The phone number is not 10 digits starting with 09.
    #[error("PHONE_FORMAT")]
    Phone,
    /// The verification code breaks the rules (8–16, a letter and a digit).
    #[error("VERIFICATION_CODE_WEAK")]
    Weak,
    /// No verification code was chosen at registration nor given now.
    #[error("VERIFICATION_CODE_REQUIRED")]
    CodeRequired,
    /// SMTP is not configured: no mail can be sent.
    #[error("MAIL_NOT_CONFIGURED")]
    MailOff,
    /// The phone or the address holds a barcode already.
    #[error("CONTACT_REGISTERED")]
    ContactTaken,
    /// Unknown id, or wrong code (one answer).
    /// The confirmation code is not 8 digits (refused before any lookup or
    /// attempt count, like every malformed input).
    #[error("CONFIRMATION_CODE_FORMAT")]
    CodeFormat,
    #[error("CONFIRMATION_INVALID")]
    Invalid,
    /// The code has expired.
    #[error("CONFIRMATION_EXPIRED")]
    Expired,
    /// The code was used already.
    #[error("CONFIRMATION_USED")]
    Used,
    /// Too many attempts at this code.
    #[error("CONFIRMATION_EXHAUSTED")]
    Exhausted,
    /// The carrier or its (old) verification code is wrong.
    #[error("CARRIER_AUTH")]
    Auth,
    /// The carrier's attempt budget is spent: retry after this many seconds.
    #[error("CARRIER_LOCKED")]
    Locked(i64),
    /// Argon2 is busy, or no free barcode was drawn: retry.
    #[error("BUSY")]
    Busy,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RegError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Email => "EMAIL_FORMAT",
            Self::Phone => "PHONE_FORMAT",
            Self::Weak => "VERIFICATION_CODE_WEAK",
            Self::CodeRequired => "VERIFICATION_CODE_REQUIRED",
            Self::MailOff => "MAIL_NOT_CONFIGURED",
            Self::ContactTaken => "CONTACT_REGISTERED",
            Self::CodeFormat => "CONFIRMATION_CODE_FORMAT",
            Self::Invalid => "CONFIRMATION_INVALID",
            Self::Expired => "CONFIRMATION_EXPIRED",
            Self::Used => "CONFIRMATION_USED",
            Self::Exhausted => "CONFIRMATION_EXHAUSTED",
            Self::Auth => "CARRIER_AUTH",
            Self::Locked(_) => "CARRIER_LOCKED",
            Self::Busy => "BUSY",
            Self::Store(_) => "STORE",
        }
    }

    /// English and zh-TW texts.
    pub fn texts(&self) -> (String, String) {
        let (en, zh) = match self {
            Self::Email => (
                "email: an address such as name@example.com",
                "email：電子郵件地址格式如 name@example.com",
            ),
            Self::Phone => (
                "phone: 10 digits starting with 09",
                "phone：手機號碼為 09 開頭的 10 位數字",
            ),
            Self::Weak => (
                "verification code: 8 to 16 visible ASCII characters with at least one letter and one digit",
                "驗證碼：8 至 16 個可見 ASCII 字元，至少含一個英文字母與一個數字",
            ),
            Self::CodeRequired => (
                "verification_code: choose the carrier's verification code",
                "verification_code：請設定載具驗證碼",
            ),
            Self::MailOff => (
                "this site cannot send email (no [smtp] configured): registration is unavailable",
                "本站未設定電子郵件寄送（[smtp]），暫無法註冊",
            ),
            Self::ContactTaken => (
                "this phone number or email address has a mobile barcode already",
                "此手機號碼或電子郵件已註冊手機條碼",
            ),
            Self::CodeFormat => (
                "code: the 8-digit confirmation code from the mail",
                "code：請輸入郵件中的 8 位數確認碼",
            ),
            Self::Invalid => (
                "the confirmation id or code is wrong",
                "確認編號或確認碼錯誤",
            ),
            Self::Expired => (
                "the confirmation code has expired: register again",
                "確認碼已逾期，請重新申請",
            ),
            Self::Used => ("the confirmation code was used already", "確認碼已使用過"),
            Self::Exhausted => (
                "too many attempts at this confirmation code: register again",
                "確認碼嘗試次數過多，請重新申請",
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
            Self::Store(_) => ("", ""),
        };
        (en.to_string(), zh.to_string())
    }

    /// The HTTP status of the REST form.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Email | Self::Phone | Self::Weak | Self::CodeRequired | Self::CodeFormat => {
                StatusCode::BAD_REQUEST
            }
            Self::MailOff | Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::ContactTaken | Self::Used => StatusCode::CONFLICT,
            Self::Invalid | Self::Auth => StatusCode::UNAUTHORIZED,
            Self::Expired | Self::Exhausted => StatusCode::GONE,
            Self::Locked(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The problem document in `lang`.
    pub fn problem(self, lang: Lang) -> Problem {
        if let Self::Store(e) = self {
            return store_problem(e);
        }
        let (en, zh) = self.texts();
        let p = problem(lang, self.status(), self.code(), &en, &zh);
        match self {
            Self::Locked(s) => p.retry_after(s.max(1) as u64),
            Self::Busy | Self::MailOff => p.retry_after(crate::password::RETRY_AFTER_SECS),
            _ => p,
        }
    }
}

/// The documented form of an email address (OpenAPI `pattern`, with
/// `maxLength` [`EMAIL_MAX`]); [`parse_email`] accepts exactly these.
pub const EMAIL_PATTERN: &str = r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$";
/// The longest email address accepted (RFC 5321's path limit less `<>`).
pub const EMAIL_MAX: usize = 254;
/// The documented form of a Taiwanese mobile number (OpenAPI `pattern`).
pub const PHONE_PATTERN: &str = "^09[0-9]{8}$";
/// The documented form of a verification code (OpenAPI `pattern`, with
/// `minLength` 8 and `maxLength` 16).
pub const VERIFICATION_CODE_PATTERN: &str =
    "^[!-~]*([A-Za-z][!-~]*[0-9]|[0-9][!-~]*[A-Za-z])[!-~]*$";

/// An email address as [`EMAIL_PATTERN`] says: a local part of 1–64
/// characters from `A-Za-z0-9._%+-`, `@`, and a domain of two or more
/// non-empty labels of `A-Za-z0-9-`; at most [`EMAIL_MAX`] characters.
/// Nothing is trimmed: what the document refuses is refused here.
pub fn parse_email(s: &str) -> Result<String, RegError> {
    let local_char = |b: u8| b.is_ascii_alphanumeric() || b"._%+-".contains(&b);
    let label_ok =
        |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let (local, domain) = s.split_once('@').ok_or(RegError::Email)?;
    let good = s.len() <= EMAIL_MAX
        && (1..=64).contains(&local.len())
        && local.bytes().all(local_char)
        && domain.split('.').count() >= 2
        && domain.split('.').all(label_ok);
    good.then(|| s.to_string()).ok_or(RegError::Email)
}

/// A Taiwanese mobile number as [`PHONE_PATTERN`] says: 10 digits starting
/// with `09`, nothing around them.
pub fn parse_phone(s: &str) -> Result<String, RegError> {
    (s.len() == 10 && s.starts_with("09") && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.to_string())
        .ok_or(RegError::Phone)
}

/// A verification code by MOF's rule: 8–16 visible ASCII characters with
/// at least one letter and one digit.
pub fn check_verification_code(s: &str) -> Result<(), RegError> {
    let ok = (8..=16).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_graphic())
        && s.bytes().any(|b| b.is_ascii_alphabetic())
        && s.bytes().any(|b| b.is_ascii_digit());
    ok.then_some(()).ok_or(RegError::Weak)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], RegError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| RegError::Busy)?;
    Ok(b)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256_hex(s: &str) -> String {
    hex(&Sha256::digest(s.as_bytes()))
}

/// Constant-time equality of two byte strings of equal length.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new random mobile barcode: `/` + 7 of `[0-9A-Z.+-]`.
pub fn random_barcode() -> Result<Carrier, RegError> {
    let b = random_bytes::<7>()?;
    let id: String = std::iter::once('/')
        .chain(b.iter().map(|x| {
            // 256 % 39 != 0: the slight bias does not matter for uniqueness.
            BARCODE_CHARS[usize::from(*x) % BARCODE_CHARS.len()] as char
        }))
        .collect();
    Carrier::parse(CarrierType::MobileBarcode, &id).map_err(|_| RegError::Busy)
}

async fn hash_off_reactor(code: String) -> Result<String, RegError> {
    tokio::task::spawn_blocking(move || hash_verification_code(&code))
        .await
        .map_err(|_| RegError::Busy)?
        .map_err(|_| RegError::Busy)
}

/// What a registration step needs from the site.
pub struct RegContext<'a, S> {
    /// The store.
    pub store: &'a S,
    /// The sender address, when SMTP is configured.
    pub mail_from: Option<&'a str>,
    /// Now, Unix seconds.
    pub now: i64,
}

/// A challenge started: its id and when its code expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The id to confirm with.
    pub id: String,
    /// Unix seconds.
    pub expires_unix: i64,
}

/// Start a registration: validate, refuse a taken phone or address, store
/// the pending registration and queue the mail with its code.
pub async fn start_registration<S: Store>(
    cx: &RegContext<'_, S>,
    email: &str,
    phone: &str,
    verification_code: Option<&str>,
) -> Result<Started, RegError> {
    let email = parse_email(email)?;
    let phone = parse_phone(phone)?;
    if let Some(c) = verification_code {
        check_verification_code(c)?;
    }
    if cx.mail_from.is_none() {
        return Err(RegError::MailOff);
    }
    if cx.store.carrier_by_phone(&phone).await?.is_some()
        || cx.store.carrier_by_email(&email).await?.is_some()
    {
        return Err(RegError::ContactTaken);
    }
    let hash = match verification_code {
        Some(c) => Some(hash_off_reactor(c.to_string()).await?),
        None => None,
    };
    let id = hex(&random_bytes::<16>()?);
    let code = confirmation_code()?;
    let expires_unix = cx.now + CONFIRM_TTL_SECS;
    let text = format!(
        "Your mobile barcode registration confirmation code is {code}\n\
         您的手機條碼註冊確認碼為 {code}\n\n\
         Confirm within 30 minutes: POST /v1/carrier/registrations/{id}/confirm {{\"code\": \"{code}\"}}\n\
         If you did not ask for a mobile barcode, ignore this message.\n"
    );
    let mail = MailMessage {
        id: format!("register/{id}"),
        to: email.clone(),
        subject: "Mobile barcode registration / 手機條碼註冊確認".into(),
        text,
    };
    let ch = Challenge {
        id: id.clone(),
        purpose: ChallengePurpose::Register,
        email,
        phone,
        carrier: None,
        verification_hash: hash,
        code_sha256: sha256_hex(&code),
        created_unix: cx.now,
        expires_unix,
        attempts: 0,
        used: false,
    };
    cx.store.put_challenge(ch, mail, cx.now).await?;
    Ok(Started { id, expires_unix })
}

/// An 8-digit confirmation code.
fn confirmation_code() -> Result<String, RegError> {
    let n = u64::from_le_bytes(random_bytes::<8>()?) % 100_000_000;
    Ok(format!("{n:08}"))
}

/// Start a reset of a forgotten verification code: when `email` and
/// `phone` belong to one carrier, store the challenge and mail the code.
/// The answer is the same either way (a fresh id that is never confirmed
/// when nothing matched).
pub async fn start_reset<S: Store>(
    cx: &RegContext<'_, S>,
    email: &str,
    phone: &str,
) -> Result<Started, RegError> {
    let email = parse_email(email)?;
    let phone = parse_phone(phone)?;
    if cx.mail_from.is_none() {
        return Err(RegError::MailOff);
    }
    let id = hex(&random_bytes::<16>()?);
    let expires_unix = cx.now + CONFIRM_TTL_SECS;
    let found = cx
        .store
        .carrier_by_phone(&phone)
        .await?
        .filter(|c| c.email.eq_ignore_ascii_case(&email));
    if let Some(contact) = found {
        let code = confirmation_code()?;
        let text = format!(
            "Your verification code reset code for {} is {code}\n\
             您的手機條碼 {} 驗證碼重設確認碼為 {code}\n\n\
             Within 30 minutes: POST /v1/carrier/verification-code/reset/{id}/confirm \
             {{\"code\": \"{code}\", \"verification_code\": \"<new code>\"}}\n",
            contact.carrier.id, contact.carrier.id
        );
        let mail = MailMessage {
            id: format!("reset/{id}"),
            to: contact.email.clone(),
            subject: "Mobile barcode verification code reset / 手機條碼驗證碼重設".into(),
            text,
        };
        let ch = Challenge {
            id: id.clone(),
            purpose: ChallengePurpose::Reset,
            email: contact.email,
            phone,
            carrier: Some(contact.carrier),
            verification_hash: None,
            code_sha256: sha256_hex(&code),
            created_unix: cx.now,
            expires_unix,
            attempts: 0,
            used: false,
        };
        cx.store.put_challenge(ch, mail, cx.now).await?;
    }
    Ok(Started { id, expires_unix })
}

/// Confirm challenge `id` with `code` (counted first): a registration
/// issues a new barcode, a reset sets `verification_code`. Returns the carrier.
pub async fn confirm<S: Store>(
    cx: &RegContext<'_, S>,
    purpose: ChallengePurpose,
    id: &str,
    code: &str,
    verification_code: Option<&str>,
) -> Result<Carrier, RegError> {
    if let Some(c) = verification_code {
        check_verification_code(c)?;
    }
    if !(code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit())) {
        return Err(RegError::CodeFormat);
    }
    let well_formed =
        |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed(id) {
        return Err(RegError::Invalid);
    }
    let ch = cx
        .store
        .attempt_challenge(id)
        .await?
        .filter(|c| c.purpose == purpose)
        .ok_or(RegError::Invalid)?;
    if ch.used {
        return Err(RegError::Used);
    }
    if ch.attempts > MAX_CONFIRM_ATTEMPTS {
        return Err(RegError::Exhausted);
    }
    if cx.now >= ch.expires_unix {
        return Err(RegError::Expired);
    }
    if !ct_eq(sha256_hex(code).as_bytes(), ch.code_sha256.as_bytes()) {
        return Err(RegError::Invalid);
    }
    let hash = match (verification_code, &ch.verification_hash) {
        (Some(c), _) => hash_off_reactor(c.to_string()).await?,
        (None, Some(h)) => h.clone(),
        (None, None) => return Err(RegError::CodeRequired),
    };
    match purpose {
        ChallengePurpose::Register => {
            for _ in 0..8 {
                let carrier = random_barcode()?;
                let credential = CarrierCredential {
                    carrier: carrier.clone(),
                    verification_hash: hash.clone(),
                    contact: Some(CarrierContact {
                        carrier: carrier.clone(),
                        email: ch.email.clone(),
                        phone: ch.phone.clone(),
                    }),
                };
                let actor = format!("carrier:{}", einvoice_store::carrier_key(&carrier));
                match cx.store.complete_challenge(id, credential, &actor).await? {
                    CompleteOutcome::Done(_) => return Ok(carrier),
                    CompleteOutcome::BarcodeTaken => continue,
                    CompleteOutcome::Used => return Err(RegError::Used),
                    CompleteOutcome::ContactTaken => return Err(RegError::ContactTaken),
                }
            }
            Err(RegError::Busy)
        }
        ChallengePurpose::Reset => {
            let carrier = ch.carrier.clone().ok_or(RegError::Invalid)?;
            let credential = CarrierCredential {
                carrier: carrier.clone(),
                verification_hash: hash,
                contact: None,
            };
            let actor = format!("carrier:{}", einvoice_store::carrier_key(&carrier));
            match cx.store.complete_challenge(id, credential, &actor).await? {
                CompleteOutcome::Done(_) => {
                    // Reset through the registered contact: the carrier has
                    // verified again (a SOC hold on it is lifted).
                    crate::soc_holds::reverified(cx.store, &carrier, cx.now).await?;
                    Ok(carrier)
                }
                _ => Err(RegError::Used),
            }
        }
    }
}

/// Change a carrier's verification code with the old one (counted like a
/// login in the carrier's budgets); a mail tells the carrier's address.
pub async fn change_code<S: Store>(
    cx: &RegContext<'_, S>,
    lockout: &crate::lockout::Lockout,
    clock: &crate::clock::Clock,
    carrier: &Carrier,
    old: &str,
    new: &str,
    client: &str,
) -> Result<(), RegError> {
    check_verification_code(new)?;
    match authenticate(cx.store, lockout, clock, carrier, old, client).await {
        Ok(()) => {}
        Err(CarrierAuthError::Wrong) => return Err(RegError::Auth),
        Err(CarrierAuthError::Locked(s)) => return Err(RegError::Locked(s)),
        Err(CarrierAuthError::Busy(_)) => return Err(RegError::Busy),
        Err(CarrierAuthError::Store(e)) => return Err(e.into()),
    }
    let hash = hash_off_reactor(new.to_string()).await?;
    let mail = notice(
        cx,
        carrier,
        "code",
        "Your mobile barcode's verification code was changed / 您的手機條碼驗證碼已變更",
        "The verification code of your mobile barcode was changed. If you did not do this, reset it now.\n\
         您的手機條碼驗證碼已變更；若非您本人操作，請立即重設。\n",
    )
    .await?;
    let actor = format!("carrier:{}", einvoice_store::carrier_key(carrier));
    cx.store
        .change_verification(
            CarrierCredential {
                carrier: carrier.clone(),
                verification_hash: hash,
                contact: None,
            },
            &actor,
            mail,
            cx.now,
        )
        .await?;
    Ok(())
}

/// A notice mail to a carrier's address (none when it has no contact, or
/// no SMTP is configured).
pub async fn notice<S: Store>(
    cx: &RegContext<'_, S>,
    carrier: &Carrier,
    what: &str,
    subject: &str,
    text: &str,
) -> Result<Option<MailMessage>, RegError> {
    if cx.mail_from.is_none() {
        return Ok(None);
    }
    let Some(contact) = cx.store.carrier_contact(carrier).await? else {
        return Ok(None);
    };
    Ok(Some(MailMessage {
        id: format!("{what}/{}", hex(&random_bytes::<16>()?)),
        to: contact.email,
        subject: subject.into(),
        text: format!("{} ({})\n\n{text}", carrier.id, carrier.kind.code()),
    }))
}

// ---- REST ------------------------------------------------------------------

/// The routes of this module.
pub(crate) fn routes<S: Store>(st: Arc<SiteState<S>>) -> Router {
    Router::new()
        .route("/v1/carrier/registrations", post(register::<S>))
        .route(
            "/v1/carrier/registrations/{id}/confirm",
            post(confirm_registration::<S>),
        )
        .route("/v1/carrier/verification-code", post(change::<S>))
        .route("/v1/carrier/verification-code/reset", post(reset::<S>))
        .route(
            "/v1/carrier/verification-code/reset/{id}/confirm",
            post(confirm_reset::<S>),
        )
        .with_state(st)
}

fn cx<S: Store>(st: &SiteState<S>) -> RegContext<'_, S> {
    RegContext {
        store: &st.store,
        mail_from: st.opts.app_api.mail_from.as_deref(),
        now: st.opts.clock.now_unix(),
    }
}

/// Parses a citizen body. An optional field is left out, never sent as
/// `null`: the document declares no field nullable, so `null` is refused
/// like any other wrong type rather than read as "absent".
fn body<T: serde::de::DeserializeOwned>(lang: Lang, b: &[u8], fields: &str) -> Result<T, Response> {
    let refuse = || {
        let en = format!(
            "the body must be JSON {{{fields}}}, each once, as strings (leave an optional field out rather than send null)"
        );
        let zh = format!(
            "內容須為 JSON {{{fields}}}，每個欄位一次，皆為字串（選填欄位請省略，勿傳 null）"
        );
        fail(
            lang,
            problem(lang, StatusCode::BAD_REQUEST, "BODY_INVALID", &en, &zh),
        )
    };
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(b).map_err(|_| refuse())?;
    if map.values().any(serde_json::Value::is_null) {
        return Err(refuse());
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|_| refuse())
}

fn limited<S: Store>(st: &SiteState<S>, addr: SocketAddr, lang: Lang) -> Result<(), Response> {
    st.carrier_limit
        .check(&client_key(Some(addr)))
        .map_err(|p| fail(lang, p))
}

fn answer(lang: Lang, status: StatusCode, v: serde_json::Value) -> Response {
    with_lang(
        lang,
        crate::citizen::no_store((status, axum::Json(v)).into_response()),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    email: String,
    phone: String,
    verification_code: Option<String>,
}

async fn register<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let lang = Lang::of(&headers);
    if let Err(r) = limited(&st, addr, lang) {
        return r;
    }
    let b: RegisterBody = match body(lang, &raw, "email, phone, verification_code?") {
        Ok(b) => b,
        Err(r) => return r,
    };
    match start_registration(&cx(&st), &b.email, &b.phone, b.verification_code.as_deref()).await {
        Ok(s) => answer(
            lang,
            StatusCode::ACCEPTED,
            json!({"id": s.id, "expires_unix": s.expires_unix}),
        ),
        Err(e) => fail(lang, e.problem(lang)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    code: String,
    verification_code: Option<String>,
}

async fn confirm_with<S: Store>(
    st: &SiteState<S>,
    addr: SocketAddr,
    headers: &HeaderMap,
    purpose: ChallengePurpose,
    id: &str,
    raw: &[u8],
) -> Response {
    let lang = Lang::of(headers);
    if let Err(r) = limited(st, addr, lang) {
        return r;
    }
    let b: ConfirmBody = match body(lang, raw, "code, verification_code?") {
        Ok(b) => b,
        Err(r) => return r,
    };
    match confirm(
        &cx(st),
        purpose,
        id,
        &b.code,
        b.verification_code.as_deref(),
    )
    .await
    {
        Ok(c) => answer(
            lang,
            if purpose == ChallengePurpose::Register {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            json!({"carrier_type": c.kind.code(), "carrier_id": c.id}),
        ),
        Err(e) => fail(lang, e.problem(lang)),
    }
}

async fn confirm_registration<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    confirm_with(&st, addr, &headers, ChallengePurpose::Register, &id, &raw).await
}

async fn confirm_reset<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    confirm_with(&st, addr, &headers, ChallengePurpose::Reset, &id, &raw).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    carrier_id: String,
    old_verification_code: String,
    new_verification_code: String,
}

async fn change<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let lang = Lang::of(&headers);
    if let Err(r) = limited(&st, addr, lang) {
        return r;
    }
    let b: ChangeBody = match body(
        lang,
        &raw,
        "carrier_id, old_verification_code, new_verification_code",
    ) {
        Ok(b) => b,
        Err(r) => return r,
    };
    // An unknown or malformed barcode is the same answer as a wrong code.
    let Ok(carrier) = Carrier::parse(CarrierType::MobileBarcode, b.carrier_id.trim()) else {
        return fail(lang, RegError::Auth.problem(lang));
    };
    let cfg = &st.opts.app_api;
    match change_code(
        &cx(&st),
        &cfg.lockout,
        &cfg.clock,
        &carrier,
        &b.old_verification_code,
        &b.new_verification_code,
        &client_key(Some(addr)),
    )
    .await
    {
        Ok(()) => answer(
            lang,
            StatusCode::OK,
            json!({"carrier_type": carrier.kind.code(), "carrier_id": carrier.id}),
        ),
        Err(e) => fail(lang, e.problem(lang)),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    email: String,
    phone: String,
}

async fn reset<S: Store>(
    State(st): State<Arc<SiteState<S>>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let lang = Lang::of(&headers);
    if let Err(r) = limited(&st, addr, lang) {
        return r;
    }
    let b: ResetBody = match body(lang, &raw, "email, phone") {
        Ok(b) => b,
        Err(r) => return r,
    };
    match start_reset(&cx(&st), &b.email, &b.phone).await {
        Ok(s) => answer(
            lang,
            StatusCode::ACCEPTED,
            json!({"id": s.id, "expires_unix": s.expires_unix}),
        ),
        Err(e) => fail(lang, e.problem(lang)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_rules() {
        assert!(parse_email("a.b+c@example.com.tw").is_ok());
        for bad in [
            "",
            "a",
            "a@b",
            "@example.com",
            "a@@example.com",
            "a b@example.com",
            "a@example..com",
            "a@.example.com",
            "qgd@-w602RGI.V34.vwZ3*",
            " a@example.com",
            "a*b@example.com",
        ] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_phone("0912345678").ok().as_deref(),
            Some("0912345678")
        );
        for bad in [
            "091234567",
            "0812345678",
            "09123456789",
            "09-2345678",
            " 0912345678 ",
        ] {
            assert!(parse_phone(bad).is_err(), "{bad}");
        }
        assert!(check_verification_code("Code1234").is_ok());
        assert!(check_verification_code("Abcdefgh12345678").is_ok());
        for bad in [
            "Code123",
            "abcdefgh",
            "12345678",
            "Abcdefgh123456789",
            "Code 1234",
            "密碼密碼1234a",
        ] {
            assert!(check_verification_code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn barcodes_and_codes_have_their_shape() {
        for _ in 0..200 {
            let c = random_barcode().expect("barcode");
            assert_eq!(c.id.len(), 8);
            assert!(c.id.starts_with('/'));
            let code = confirmation_code().expect("code");
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    /// The parsers and the documented patterns agree on every string
    /// (found by the API fuzzer: `*` was accepted in an address's domain).
    mod agree_with_the_document {
        use super::*;
        use proptest::prelude::*;
        use regex_automata::meta::Regex;

        fn documented(pattern: &str, s: &str) -> bool {
            Regex::new(pattern).expect("pattern").is_match(s)
        }

        proptest! {
            #[test]
            fn email(s in "[A-Za-z0-9._%+*@ -]{0,12}(@[a-z.-]{0,8})?") {
                prop_assert_eq!(
                    parse_email(&s).is_ok(),
                    s.len() <= EMAIL_MAX && documented(EMAIL_PATTERN, &s),
                    "{:?}", s
                );
            }

            #[test]
            fn phone(s in "[09 -]{0,3}[0-9]{0,10}[ a]?") {
                prop_assert_eq!(parse_phone(&s).is_ok(), documented(PHONE_PATTERN, &s), "{:?}", s);
            }

            #[test]
            fn verification_code(s in "[A-Za-z0-9!~ 碼]{0,18}") {
                let len_ok = (8..=16).contains(&s.chars().count());
                prop_assert_eq!(
                    check_verification_code(&s).is_ok(),
                    len_ok && documented(VERIFICATION_CODE_PATTERN, &s),
                    "{:?}", s
                );
            }
        }
    }
}
