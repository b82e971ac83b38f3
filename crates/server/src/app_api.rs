//! The MOF App API (財政部電子發票應用 API), so existing apps can point at this
//! site by changing the host.
//!
//! # Paths and actions (MOF-RULES.md, "MOF App API")
//!
//! | path | actions |
//! | --- | --- |
//! | [`INV_APP_PATH`] `/PB2CAPIVAN/invapp/InvApp` | `QryWinningList`, `qryInvHeader`, `qryInvDetail` |
//! | [`INV_SERV_PATH`] `/PB2CAPIVAN/invServ/InvServ` | `carrierInvChk`, `carrierInvDetail` |
//! | [`DONATE_PATH`], [`AGGREGATE_PATH`] | `carrierInvDnt`, `qryCarrierAgg`: answered `902` (not offered yet) |
//!
//! Parameters are form-encoded (POST body) or in the query string (GET); both
//! are read, a name given twice is refused. Every answer is HTTP 200 with a JSON
//! body carrying `v` (the version the client sent), `code` and `msg`, as MOF
//! does. `QryWinningList` sends `code` as a string (`"200"`, as captured in
//! `fixtures/app-api/`); the other actions send it as a number (`200`).
//!
//! Versions: real clients send `0.2`–`0.6` for the same action; all of those
//! are accepted for every action ([`ACCEPTED_VERSIONS`]) and echoed in `v`.
//! Action names are matched case-insensitively (clients differ in case).
//!
//! # Codes (ours; MOF's own table is not public here, see the digest)
//!
//! | code | meaning |
//! | --- | --- |
//! | 200 | success |
//! | 901 | a parameter is missing or malformed (`msg` names it) |
//! | 902 | unknown action for this path, unsupported version, or an action not offered |
//! | 903 | unknown or disabled appID |
//! | 904 | signature invalid (or missing when required) |
//! | 905 | `timeStamp` outside the allowed window, or `expTimeStamp` passed |
//! | 919 | carrier id or verification code wrong (one answer for both: no enumeration) |
//! | 920 | carrier soft-locked after repeated failures; `msg` says when to retry |
//! | 951 | not found (no such invoice, or winning numbers not published) |
//! | 998 | temporarily unavailable (the store failed); retry later |
//!
//! # Signatures
//!
//! `signature` = Base64 (standard alphabet) of HMAC over every other parameter,
//! sorted by name (byte order), joined as `name=value&…` with the decoded
//! values, keyed with the app's API key (its UTF-8 bytes). The hash is the one
//! the app registered with ([`SignatureAlg`]: HMAC-SHA256 or HMAC-SHA1). The
//! digest says most query actions are not signed, so by default a signature
//! is verified when present and required only if
//! [`AppApiConfig::require_signature`] is set. Comparison is constant-time
//! (`Mac::verify_slice`).
//!
//! # Carrier authentication
//!
//! `carrierInvChk` / `carrierInvDetail` authenticate the citizen with the
//! carrier (`cardType` + `cardNo`) and its verification code (`cardEncrypt`),
//! checked with Argon2id against [`CarrierRecord::verification_hash`]. Each
//! failure is recorded with [`Store::record_carrier_login`]; the answer is
//! delayed more with each consecutive failure, and after
//! [`AppApiConfig::lock_after`] failures the carrier is soft-locked for a time
//! that doubles with each further failure, capped at
//! [`AppApiConfig::max_lock_secs`]: never permanent. Verification codes are
//! never logged.

use crate::carrier_auth::CarrierAuthError;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use einvoice_core::ids::CarrierTypes;
use einvoice_core::time::{Date, Month, OffsetDateTime, UtcOffset};
use einvoice_core::{
    Carrier, CarrierType, InvoiceNumber, Period, RandomNumber, Ubn, WinningNumbers,
};
use einvoice_secrets::{SealError, Sealer, purpose};
use einvoice_store::{InvoiceStatus, InvoiceView, Store, StoreError};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Path of `QryWinningList`, `qryInvHeader`, `qryInvDetail`.
pub const INV_APP_PATH: &str = "/PB2CAPIVAN/invapp/InvApp";
/// Path of `carrierInvChk`, `carrierInvDetail`.
pub const INV_SERV_PATH: &str = "/PB2CAPIVAN/invServ/InvServ";
/// Path of `carrierInvDnt` (not offered yet: answers 902).
pub const DONATE_PATH: &str = "/PB2CAPIVAN/CarInv/Donate";
/// Path of `qryCarrierAgg` (not offered yet: answers 902).
pub const AGGREGATE_PATH: &str = "/PB2CAPIVAN/Carrier/Aggregate";
/// The `version` values accepted for every action.
pub const ACCEPTED_VERSIONS: [&str; 5] = ["0.2", "0.3", "0.4", "0.5", "0.6"];

/// Limits on the request: parameter count and value length.
const MAX_PARAMS: usize = 64;
const MAX_VALUE_LEN: usize = 1024;
/// At most this many periods (one year) per `carrierInvChk`.
const MAX_PERIODS: usize = 6;

/// Answer codes (see the module table).
mod code {
    pub const OK: u16 = 200;
    pub const PARAM: u16 = 901;
    pub const ACTION: u16 = 902;
    pub const APP: u16 = 903;
    pub const SIGNATURE: u16 = 904;
    pub const TIME: u16 = 905;
    pub const CARRIER_AUTH: u16 = 919;
    pub const CARRIER_LOCKED: u16 = 920;
    pub const NOT_FOUND: u16 = 951;
    pub const UNAVAILABLE: u16 = 998;
}

/// Behaviour of the App API that a deployment may tune.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppApiConfig {
    /// Require a valid `signature` on every action (default: verify only when present).
    pub require_signature: bool,
    /// Allowed distance of `timeStamp` (Unix seconds) from now, for carrier actions.
    pub timestamp_window_secs: i64,
    /// Consecutive carrier failures before the soft lock starts.
    pub lock_after: u32,
    /// First soft-lock length, seconds; doubles with each further failure.
    pub base_lock_secs: i64,
    /// Longest soft lock, seconds.
    pub max_lock_secs: i64,
    /// Delay of the answer after the first failure; doubles per consecutive failure.
    pub base_delay: Duration,
    /// Longest delay of a failed answer.
    pub max_delay: Duration,
    /// Where carrier soft locks read the time.
    pub clock: crate::clock::Clock,
}

impl Default for AppApiConfig {
    fn default() -> Self {
        Self {
            require_signature: false,
            timestamp_window_secs: 300,
            lock_after: 5,
            base_lock_secs: 60,
            max_lock_secs: 3600,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
            clock: crate::clock::Clock::default(),
        }
    }
}

impl AppApiConfig {
    /// Soft-lock end (Unix seconds) after `failures` consecutive failures, 0 for none.
    pub fn lock_until(&self, failures: u32, now: i64) -> i64 {
        if failures < self.lock_after {
            return 0;
        }
        let doublings = (failures - self.lock_after).min(20);
        let secs = self
            .base_lock_secs
            .saturating_mul(1i64 << doublings)
            .min(self.max_lock_secs);
        now.saturating_add(secs)
    }

    /// Delay of the answer after `failures` consecutive failures.
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        self.base_delay
            .saturating_mul(1u32 << doublings)
            .min(self.max_delay)
    }
}

/// The HMAC an app signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignatureAlg {
    /// HMAC-SHA256 (the default for new apps).
    #[serde(rename = "HmacSHA256")]
    HmacSha256,
    /// HMAC-SHA1 (what some older clients use).
    #[serde(rename = "HmacSHA1")]
    HmacSha1,
}

impl SignatureAlg {
    /// Parse `HmacSHA256` / `sha256` / `HmacSHA1` / `sha1` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "hmacsha256" | "sha256" | "hmac-sha256" => Some(Self::HmacSha256),
            "hmacsha1" | "sha1" | "hmac-sha1" => Some(Self::HmacSha1),
            _ => None,
        }
    }

    /// The name used in sealed records and the operator API.
    pub fn name(&self) -> &'static str {
        match self {
            Self::HmacSha256 => "HmacSHA256",
            Self::HmacSha1 => "HmacSHA1",
        }
    }
}

/// An app's API key and the HMAC it registered with: the plaintext of
/// [`einvoice_store::AppRecord::api_key_sealed`] (JSON, sealed for [`purpose::APP_KEY`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppKey {
    /// The signature algorithm.
    pub alg: SignatureAlg,
    /// The API key (an HMAC key; never logged).
    pub key: String,
}

impl std::fmt::Debug for AppKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Why an app key could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum AppKeyError {
    /// Sealing or opening failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The opened plaintext is not an app key record.
    #[error("APP_KEY_FORMAT: the sealed app key is not a valid record")]
    Format,
}

impl AppKey {
    /// Seal for storage in an [`einvoice_store::AppRecord`].
    pub fn seal(&self, sealer: &Sealer) -> Result<Vec<u8>, AppKeyError> {
        let plain = serde_json::to_vec(self).map_err(|_| AppKeyError::Format)?;
        Ok(sealer.seal(purpose::APP_KEY, &plain)?)
    }

    /// Open a sealed app key.
    pub fn open(sealer: &Sealer, sealed: &[u8]) -> Result<Self, AppKeyError> {
        let plain = sealer.open(purpose::APP_KEY, sealed)?;
        serde_json::from_slice(&plain).map_err(|_| AppKeyError::Format)
    }
}

/// The text that is signed: every parameter but `signature`, sorted by name,
/// joined as `name=value&…`.
pub fn signing_string<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut v: Vec<(&str, &str)> = params
        .into_iter()
        .filter(|(k, _)| *k != "signature")
        .collect();
    v.sort();
    v.iter()
        .map(|(k, val)| format!("{k}={val}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Base64 HMAC of `text` under `key` (what a client sends as `signature`).
pub fn sign(alg: SignatureAlg, key: &str, text: &str) -> String {
    match alg {
        SignatureAlg::HmacSha256 => match Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()) {
            Ok(mut m) => {
                m.update(text.as_bytes());
                B64.encode(m.finalize().into_bytes())
            }
            Err(_) => String::new(),
        },
        SignatureAlg::HmacSha1 => match Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()) {
            Ok(mut m) => {
                m.update(text.as_bytes());
                B64.encode(m.finalize().into_bytes())
            }
            Err(_) => String::new(),
        },
    }
}

/// Constant-time check of a Base64 `signature` over `text`.
pub fn verify_signature(alg: SignatureAlg, key: &str, text: &str, signature: &str) -> bool {
    // A `+` sent unencoded in a form arrives as a space.
    let sig = signature.trim().replace(' ', "+");
    let Ok(raw) = B64.decode(sig.as_bytes()) else {
        return false;
    };
    match alg {
        SignatureAlg::HmacSha256 => Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes())
            .map(|mut m| {
                m.update(text.as_bytes());
                m.verify_slice(&raw).is_ok()
            })
            .unwrap_or(false),
        SignatureAlg::HmacSha1 => Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes())
            .map(|mut m| {
                m.update(text.as_bytes());
                m.verify_slice(&raw).is_ok()
            })
            .unwrap_or(false),
    }
}

/// Why a verification code could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("HASH_FAILED: argon2id hashing failed")]
pub struct HashError;

/// Argon2id PHC string of a carrier verification code (for [`CarrierRecord`]).
pub fn hash_verification_code(code: &str) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(code.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| HashError)
}

/// Constant-time Argon2id check of `secret` against a PHC string.
pub(crate) fn argon2_verify(secret: &[u8], phc: &str) -> bool {
    Argon2::default().verify_password(secret, phc).is_ok()
}

/// A PHC string of a random secret, verified against when the account does
/// not exist so that unknown and known ids take the same time.
pub(crate) fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut r = [0u8; 16];
        let _ = getrandom::fill(&mut r);
        Argon2::default()
            .hash_password(&r)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// Unix seconds now.
pub(crate) fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

struct AppState<S> {
    store: S,
    sealer: Sealer,
    cfg: AppApiConfig,
}

/// The App API router with the default [`AppApiConfig`].
pub fn router<S: Store>(store: S, sealer: Sealer) -> Router {
    router_with(store, sealer, AppApiConfig::default())
}

/// The App API router with a given configuration.
pub fn router_with<S: Store>(store: S, sealer: Sealer, cfg: AppApiConfig) -> Router {
    let st = Arc::new(AppState { store, sealer, cfg });
    Router::new()
        .route(INV_APP_PATH, get(inv_app::<S>).post(inv_app::<S>))
        .route(INV_SERV_PATH, get(inv_serv::<S>).post(inv_serv::<S>))
        .route(DONATE_PATH, get(not_offered).post(not_offered))
        .route(AGGREGATE_PATH, get(not_offered).post(not_offered))
        .with_state(st)
}

/// A refused request: code and message.
#[derive(Debug)]
struct Fail {
    code: u16,
    msg: String,
}

fn fail(code: u16, msg: impl Into<String>) -> Fail {
    Fail {
        code,
        msg: msg.into(),
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        fail(
            code::UNAVAILABLE,
            format!("{}: temporarily unavailable, retry later", e.code()),
        )
    }
}

/// Decoded request parameters.
struct Params(BTreeMap<String, String>);

impl Params {
    fn parse(uri: &Uri, body: &[u8]) -> Result<Self, Fail> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(q) = uri.query() {
            pairs.extend(
                serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                    .map_err(|_| fail(code::PARAM, "the query string is not form-encoded"))?,
            );
        }
        if !body.is_empty() {
            pairs.extend(
                serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
                    .map_err(|_| fail(code::PARAM, "the body is not form-encoded"))?,
            );
        }
        if pairs.len() > MAX_PARAMS {
            return Err(fail(code::PARAM, "too many parameters"));
        }
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            if v.len() > MAX_VALUE_LEN || k.len() > 64 {
                return Err(fail(code::PARAM, "a parameter is too long"));
            }
            if map.contains_key(&k) {
                return Err(fail(code::PARAM, format!("parameter {k} is given twice")));
            }
            map.insert(k, v);
        }
        Ok(Self(map))
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|s| !s.is_empty())
    }

    fn req(&self, k: &str) -> Result<&str, Fail> {
        self.get(k)
            .ok_or_else(|| fail(code::PARAM, format!("parameter {k} is required")))
    }
}

/// The actions this module answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    WinningList,
    InvHeader,
    InvDetail,
    CarrierChk,
    CarrierDetail,
}

impl Action {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "qrywinninglist" => Some(Self::WinningList),
            "qryinvheader" => Some(Self::InvHeader),
            "qryinvdetail" => Some(Self::InvDetail),
            "carrierinvchk" => Some(Self::CarrierChk),
            "carrierinvdetail" => Some(Self::CarrierDetail),
            _ => None,
        }
    }

    /// `QryWinningList` answers `code` as a string, the others as a number.
    fn string_code(&self) -> bool {
        matches!(self, Self::WinningList)
    }
}

fn respond(v: &str, string_code: bool, result: Result<Map<String, Value>, Fail>) -> Response {
    let (c, msg, mut body) = match result {
        Ok(body) => (code::OK, "查詢成功".to_string(), body),
        Err(f) => (f.code, f.msg, Map::new()),
    };
    body.insert("v".into(), Value::String(v.to_string()));
    body.insert(
        "code".into(),
        if string_code {
            Value::String(c.to_string())
        } else {
            Value::from(c)
        },
    );
    body.insert("msg".into(), Value::String(msg));
    axum::Json(Value::Object(body)).into_response()
}

async fn not_offered(uri: Uri, body: Bytes) -> Response {
    let v = Params::parse(&uri, &body)
        .ok()
        .and_then(|p| p.get("version").map(str::to_string))
        .unwrap_or_else(|| "0.5".into());
    respond(
        &v,
        false,
        Err(fail(
            code::ACTION,
            "this action is not offered by this platform yet",
        )),
    )
}

async fn inv_app<S: Store>(State(st): State<Arc<AppState<S>>>, uri: Uri, body: Bytes) -> Response {
    dispatch(
        &st,
        &uri,
        &body,
        &[Action::WinningList, Action::InvHeader, Action::InvDetail],
    )
    .await
}

async fn inv_serv<S: Store>(State(st): State<Arc<AppState<S>>>, uri: Uri, body: Bytes) -> Response {
    dispatch(
        &st,
        &uri,
        &body,
        &[Action::CarrierChk, Action::CarrierDetail],
    )
    .await
}

async fn dispatch<S: Store>(
    st: &AppState<S>,
    uri: &Uri,
    body: &[u8],
    allowed: &[Action],
) -> Response {
    let p = match Params::parse(uri, body) {
        Ok(p) => p,
        Err(f) => return respond("0.5", false, Err(f)),
    };
    let v = p.get("version").unwrap_or("").to_string();
    let action = p.get("action").and_then(Action::parse);
    let string_code = action.is_some_and(|a| a.string_code());
    let Some(action) = action.filter(|a| allowed.contains(a)) else {
        return respond(
            &v,
            string_code,
            Err(fail(code::ACTION, "unknown action for this path")),
        );
    };
    if !ACCEPTED_VERSIONS.contains(&v.as_str()) {
        return respond(
            &v,
            string_code,
            Err(fail(
                code::ACTION,
                format!("version must be one of {}", ACCEPTED_VERSIONS.join(", ")),
            )),
        );
    }
    let result = async {
        check_app(st, &p).await?;
        match action {
            Action::WinningList => winning_list(st, &p).await,
            Action::InvHeader => inv_header(st, &p).await,
            Action::InvDetail => inv_detail(st, &p).await,
            Action::CarrierChk => carrier_chk(st, &p).await,
            Action::CarrierDetail => carrier_detail(st, &p).await,
        }
    }
    .await;
    respond(&v, string_code, result)
}

/// appID known, signature valid when present (or required).
async fn check_app<S: Store>(st: &AppState<S>, p: &Params) -> Result<(), Fail> {
    let app_id = p.req("appID")?;
    let app = st
        .store
        .app(app_id)
        .await?
        .ok_or_else(|| fail(code::APP, "unknown appID"))?;
    let sig = p.get("signature");
    if sig.is_none() && !st.cfg.require_signature {
        return Ok(());
    }
    let sig = sig.ok_or_else(|| fail(code::SIGNATURE, "signature is required"))?;
    let key = AppKey::open(&st.sealer, &app.api_key_sealed)
        .map_err(|_| fail(code::UNAVAILABLE, "the app's key cannot be opened"))?;
    let text = signing_string(p.0.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if verify_signature(key.alg, &key.key, &text, sig) {
        Ok(())
    } else {
        Err(fail(code::SIGNATURE, "signature does not verify"))
    }
}

fn period_param(p: &Params, k: &str) -> Result<Period, Fail> {
    Period::parse(p.req(k)?)
        .map_err(|_| fail(code::PARAM, format!("{k} must be a period such as 11402")))
}

/// `yyyy/MM/dd` (also `yyyyMMdd` and `yyyy-MM-dd`).
fn date_param(p: &Params, k: &str) -> Result<Date, Fail> {
    let s = p.req(k)?;
    parse_date(s).ok_or_else(|| fail(code::PARAM, format!("{k} must be a date yyyy/MM/dd")))
}

fn parse_date(s: &str) -> Option<Date> {
    let digits: String = s.chars().filter(|c| *c != '/' && *c != '-').collect();
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i32 = digits.get(..4)?.parse().ok()?;
    let m: u8 = digits.get(4..6)?.parse().ok()?;
    let d: u8 = digits.get(6..)?.parse().ok()?;
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

/// `YYYYMMDD` of the store's summary.
fn summary_date(s: &str) -> Option<Date> {
    parse_date(s)
}

fn taipei() -> UtcOffset {
    UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC)
}

// ---- QryWinningList ----------------------------------------------------------

async fn winning_list<S: Store>(st: &AppState<S>, p: &Params) -> Result<Map<String, Value>, Fail> {
    let period = period_param(p, "invTerm")?;
    let rec = st
        .store
        .winning_numbers(period)
        .await?
        .filter(|r| r.approved_by.is_some())
        .ok_or_else(|| {
            fail(
                code::NOT_FOUND,
                "the winning numbers of this period are not published",
            )
        })?;
    let body = einvoice_store::WinningBody::from_value(&rec.body)
        .map_err(|_| fail(code::UNAVAILABLE, "stored winning numbers are malformed"))?;
    Ok(winning_list_body(period, &body))
}

/// The `QryWinningList` fields (everything but `v`, `code`, `msg`) of a published record.
pub(crate) fn winning_list_body(
    period: Period,
    b: &einvoice_store::WinningBody,
) -> Map<String, Value> {
    use einvoice_core::Prize;
    let mut m = Map::new();
    let s = |x: &str| Value::String(x.to_string());
    m.insert("invoYm".into(), s(&period.to_string()));
    m.insert("superPrizeNo".into(), s(&b.special));
    m.insert("spcPrizeNo".into(), s(&b.grand));
    m.insert("spcPrizeNo2".into(), s(""));
    m.insert("spcPrizeNo3".into(), s(""));
    for i in 0..10 {
        let v = b.first.get(i).map(String::as_str).unwrap_or("");
        m.insert(format!("firstPrizeNo{}", i + 1), s(v));
    }
    for i in 0..6 {
        let v = b.additional_sixth.get(i).map(String::as_str).unwrap_or("");
        m.insert(format!("sixthPrizeNo{}", i + 1), s(v));
    }
    let table = b.prize_table();
    let amt = |p: Prize| format!("{:07}", table.amount(p).0);
    m.insert("superPrizeAmt".into(), s(&amt(Prize::Special)));
    m.insert("spcPrizeAmt".into(), s(&amt(Prize::Grand)));
    m.insert("firstPrizeAmt".into(), s(&amt(Prize::First)));
    m.insert("secondPrizeAmt".into(), s(&amt(Prize::Second)));
    m.insert("thirdPrizeAmt".into(), s(&amt(Prize::Third)));
    m.insert("fourthPrizeAmt".into(), s(&amt(Prize::Fourth)));
    m.insert("fifthPrizeAmt".into(), s(&amt(Prize::Fifth)));
    m.insert("sixthPrizeAmt".into(), s(&amt(Prize::Sixth)));
    // Publication time; before one is recorded, the draw date.
    let published = b
        .published_unix
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .map(|t| t.to_offset(taipei()))
        .unwrap_or_else(|| period.draw_date().midnight().assume_offset(taipei()));
    m.insert(
        "updateDate".into(),
        s(&einvoice_core::period::format_roc_date(published.date())),
    );
    m.insert("timeStamp".into(), java_date(published));
    m
}

/// A `java.util.Date` as MOF serialises it: years since 1900, months from 0
/// (the shape of `timeStamp` in the QryWinningList fixtures).
fn java_date(t: OffsetDateTime) -> Value {
    json!({
        "date": t.day(),
        "day": t.weekday().number_days_from_sunday(),
        "hours": t.hour(),
        "minutes": t.minute(),
        "month": u8::from(t.month()) - 1,
        "seconds": t.second(),
        "time": t.unix_timestamp() * 1000,
        "timezoneOffset": -480,
        "year": t.year() - 1900,
    })
}

/// `invDate` of carrier answers: ROC year and months 1–12 (MOF-RULES.md).
fn inv_date(date: Date, time: &str) -> Value {
    let mut parts = time.split(':').map(|x| x.parse::<u8>().unwrap_or(0));
    let (h, mi, se) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    let t = date
        .with_hms(h.min(23), mi.min(59), se.min(59))
        .unwrap_or_else(|_| date.midnight())
        .assume_offset(taipei());
    json!({
        "year": date.year() - einvoice_core::period::ROC_OFFSET,
        "month": u8::from(date.month()),
        "date": date.day(),
        "day": date.weekday().number_days_from_sunday(),
        "hours": h,
        "minutes": mi,
        "seconds": se,
        "time": t.unix_timestamp() * 1000,
        "timezoneOffset": -480,
    })
}

// ---- invoice answers ------------------------------------------------------------

fn status_text(s: InvoiceStatus) -> &'static str {
    match s {
        InvoiceStatus::Issued => "已確認",
        InvoiceStatus::Cancelled => "已作廢",
        InvoiceStatus::Voided => "已註銷",
        InvoiceStatus::Pending => "處理中",
    }
}

fn msg_str<'a>(view: &'a InvoiceView, pointer: &str) -> &'a str {
    view.message
        .as_ref()
        .and_then(|m| m.pointer(pointer))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Header fields shared by qryInvHeader, qryInvDetail and carrierInvDetail.
fn header_fields(view: &InvoiceView) -> Map<String, Value> {
    let s = &view.summary;
    let mut m = Map::new();
    let st = |x: &str| Value::String(x.to_string());
    m.insert("invNum".into(), st(&s.number.to_string()));
    m.insert("invDate".into(), st(&s.date));
    m.insert("sellerName".into(), st(msg_str(view, "/Main/Seller/Name")));
    m.insert("invStatus".into(), st(status_text(s.status)));
    m.insert("invPeriod".into(), st(&s.period.to_string()));
    m.insert("sellerBan".into(), st(s.seller.as_str()));
    m.insert(
        "sellerAddress".into(),
        st(msg_str(view, "/Main/Seller/Address")),
    );
    m.insert("invoiceTime".into(), st(&s.time));
    let buyer = if s.buyer.is_business() {
        s.buyer.qr_str()
    } else {
        String::new()
    };
    m.insert("buyerBan".into(), st(&buyer));
    m.insert("currency".into(), st(msg_str(view, "/Amount/Currency")));
    m
}

fn detail_fields(view: &InvoiceView) -> Map<String, Value> {
    let mut m = header_fields(view);
    m.insert(
        "amount".into(),
        Value::String(view.summary.total.to_string()),
    );
    let items = view
        .message
        .as_ref()
        .and_then(|msg| msg.get("Details"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .enumerate()
                .map(|(i, it)| {
                    let f = |k: &str| it.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    let row = {
                        let n = f("SequenceNumber");
                        if n.is_empty() { (i + 1).to_string() } else { n }
                    };
                    json!({
                        "rowNum": row,
                        "description": f("Description"),
                        "quantity": f("Quantity"),
                        "unitPrice": f("UnitPrice"),
                        "amount": f("Amount"),
                    })
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    m.insert("details".into(), Value::Array(items));
    m
}

fn same_date(view: &InvoiceView, d: Date) -> bool {
    summary_date(&view.summary.date) == Some(d)
}

fn inv_num_param(p: &Params) -> Result<InvoiceNumber, Fail> {
    InvoiceNumber::parse(p.req("invNum")?)
        .map_err(|_| fail(code::PARAM, "invNum must be 2 letters and 8 digits"))
}

fn check_type(p: &Params) -> Result<bool, Fail> {
    match p.req("type")? {
        t if t.eq_ignore_ascii_case("QRCode") => Ok(true),
        t if t.eq_ignore_ascii_case("Barcode") => Ok(false),
        _ => Err(fail(code::PARAM, "type must be QRCode or Barcode")),
    }
}

/// Find one invoice by number and date, with a random number or a seller id.
async fn find_public<S: Store>(st: &AppState<S>, p: &Params) -> Result<InvoiceView, Fail> {
    let number = inv_num_param(p)?;
    let date = date_param(p, "invDate")?;
    let not_found = || fail(code::NOT_FOUND, "no such invoice");
    let view = if let Some(r) = p.get("randomNumber") {
        let random = RandomNumber::parse(r)
            .map_err(|_| fail(code::PARAM, "randomNumber must be 4 digits"))?;
        st.store.lookup_invoice(number, random).await?
    } else if let Some(seller) = p.get("sellerID") {
        let seller = Ubn::parse(seller).map_err(|_| fail(code::PARAM, "sellerID must be a UBN"))?;
        st.store
            .invoice(&einvoice_store::Scope::All, seller, number)
            .await?
    } else {
        // TODO(store): a header by number + date alone needs a store lookup by
        // number and date; until then the random number or seller id is required.
        return Err(fail(
            code::PARAM,
            "randomNumber (or sellerID) is required on this platform",
        ));
    };
    let view = view.filter(|v| same_date(v, date)).ok_or_else(not_found)?;
    if let Some(seller) = p.get("sellerID")
        && seller != view.summary.seller.as_str()
    {
        return Err(not_found());
    }
    Ok(view)
}

async fn inv_header<S: Store>(st: &AppState<S>, p: &Params) -> Result<Map<String, Value>, Fail> {
    check_type(p)?;
    let view = find_public(st, p).await?;
    Ok(header_fields(&view))
}

async fn inv_detail<S: Store>(st: &AppState<S>, p: &Params) -> Result<Map<String, Value>, Fail> {
    let qr = check_type(p)?;
    p.req("randomNumber")?;
    if qr {
        p.req("sellerID")?;
        // `encrypt` is the QR's 24-character AES field. TODO: verify it with the
        // seller's QR key once sellers' keys are registered; its shape is checked now.
        let enc = p.req("encrypt")?;
        if enc.len() != 24 {
            return Err(fail(code::PARAM, "encrypt must be 24 characters"));
        }
    }
    let view = find_public(st, p).await?;
    if !qr {
        let term = period_param(p, "invTerm")?;
        if term != view.summary.period {
            return Err(fail(code::NOT_FOUND, "no such invoice"));
        }
    }
    Ok(detail_fields(&view))
}

// ---- carrier actions -----------------------------------------------------------

fn check_time<S>(st: &AppState<S>, p: &Params) -> Result<(), Fail> {
    let now = now_unix();
    let ts: i64 = p
        .req("timeStamp")?
        .trim()
        .parse()
        .map_err(|_| fail(code::PARAM, "timeStamp must be Unix seconds"))?;
    if (ts - now).abs() > st.cfg.timestamp_window_secs {
        return Err(fail(
            code::TIME,
            "timeStamp is too far from the current time",
        ));
    }
    if let Some(exp) = p.get("expTimeStamp") {
        let exp: i64 = exp
            .trim()
            .parse()
            .map_err(|_| fail(code::PARAM, "expTimeStamp must be Unix seconds"))?;
        if exp < now {
            return Err(fail(code::TIME, "the request has expired (expTimeStamp)"));
        }
    }
    Ok(())
}

/// Authenticate the carrier with its verification code.
async fn auth_carrier<S: Store>(st: &AppState<S>, p: &Params) -> Result<Carrier, Fail> {
    let kind = CarrierType::parse(p.req("cardType")?, &CarrierTypes::default())
        .map_err(|_| fail(code::PARAM, "cardType is not an accepted carrier type"))?;
    let carrier = Carrier::parse(kind, p.req("cardNo")?)
        .map_err(|_| fail(code::PARAM, "cardNo does not match the carrier type"))?;
    let code_given = p.req("cardEncrypt")?;
    match crate::carrier_auth::authenticate(&st.store, &st.cfg, &carrier, code_given).await {
        Ok(()) => Ok(carrier),
        Err(CarrierAuthError::Locked(secs)) => Err(fail(
            code::CARRIER_LOCKED,
            format!("too many failed attempts: retry after {secs} seconds"),
        )),
        Err(CarrierAuthError::Wrong) => Err(fail(
            code::CARRIER_AUTH,
            "the carrier or its verification code is wrong",
        )),
        Err(CarrierAuthError::Store(e)) => Err(e.into()),
    }
}

fn carrier_row(i: usize, carrier: &Carrier, view: &InvoiceView) -> Value {
    let s = &view.summary;
    let date = summary_date(&s.date).unwrap_or(Date::MIN);
    let donatable =
        s.status == InvoiceStatus::Issued && s.donated_to.is_none() && !s.buyer.is_business();
    json!({
        "rowNum": i + 1,
        "invNum": s.number.to_string(),
        "cardType": carrier.kind.code(),
        "cardNo": carrier.id,
        "sellerName": msg_str(view, "/Main/Seller/Name"),
        "invStatus": status_text(s.status),
        "invDonatable": donatable,
        "amount": s.total.to_string(),
        "invPeriod": s.period.to_string(),
        "donateMark": if s.donated_to.is_some() { 1 } else { 0 },
        "invDate": inv_date(date, &s.time),
        "sellerBan": s.seller.as_str(),
        "sellerAddress": msg_str(view, "/Main/Seller/Address"),
        "invoiceTime": s.time,
        "buyerBan": if s.buyer.is_business() { s.buyer.qr_str() } else { String::new() },
        "currency": msg_str(view, "/Amount/Currency"),
    })
}

/// The published winning numbers of a period, if any.
async fn published_numbers<S: Store>(
    st: &AppState<S>,
    period: Period,
) -> Result<Option<WinningNumbers>, Fail> {
    let Some(rec) = st.store.winning_numbers(period).await? else {
        return Ok(None);
    };
    // TODO(store): while a correction is a draft, the latest version is not
    // published and the earlier published one is not reachable through the
    // trait; such a period shows no winners until the correction is approved.
    if rec.approved_by.is_none() {
        return Ok(None);
    }
    let body = einvoice_store::WinningBody::from_value(&rec.body)
        .map_err(|_| fail(code::UNAVAILABLE, "stored winning numbers are malformed"))?;
    Ok(body.numbers(period).ok())
}

/// How `carrierInvChk` with `onlyWinningInv=Y` picks a period's winners.
enum WinFilter {
    /// The stored winners of the draw: (invoice number, seller) on the carrier.
    Stored(std::collections::HashSet<(String, String)>),
    /// Regular prizes from the published numbers (winners not loaded yet).
    Numbers(einvoice_core::WinningNumbers),
}

async fn carrier_chk<S: Store>(st: &AppState<S>, p: &Params) -> Result<Map<String, Value>, Fail> {
    check_time(st, p)?;
    let start = date_param(p, "startDate")?;
    let end = date_param(p, "endDate")?;
    if end < start {
        return Err(fail(code::PARAM, "endDate is before startDate"));
    }
    let only_winning = match p.get("onlyWinningInv").unwrap_or("N") {
        "Y" | "y" => true,
        "N" | "n" => false,
        _ => return Err(fail(code::PARAM, "onlyWinningInv must be Y or N")),
    };
    let (Some(first), Some(last)) = (Period::of_date(start), Period::of_date(end)) else {
        return Err(fail(code::PARAM, "dates out of range"));
    };
    let mut periods = vec![first];
    while let Some(&cur) = periods.last() {
        if cur >= last {
            break;
        }
        let Some(n) = cur.next() else { break };
        periods.push(n);
        if periods.len() > MAX_PERIODS {
            return Err(fail(code::PARAM, "the date range spans more than a year"));
        }
    }
    let carrier = auth_carrier(st, p).await?;
    let mut rows = Vec::new();
    for period in periods {
        // Winners loaded by the draw (regular and cloud prizes) when the
        // period's winners are in the store; else the regular prizes
        // computed from the published numbers.
        let winning = if !only_winning {
            None
        } else if st.store.winners_summary(period).await?.is_some() {
            let won: std::collections::HashSet<(String, String)> = st
                .store
                .carrier_winnings(&carrier, period)
                .await?
                .into_iter()
                .map(|w| (w.invoice_number, w.seller))
                .collect();
            Some(WinFilter::Stored(won))
        } else {
            match published_numbers(st, period).await? {
                Some(w) => Some(WinFilter::Numbers(w)),
                None => continue,
            }
        };
        for view in st.store.carrier_invoices(&carrier, period).await? {
            let s = &view.summary;
            let Some(d) = summary_date(&s.date) else {
                continue;
            };
            if d < start || d > end {
                continue;
            }
            match &winning {
                None => {}
                Some(WinFilter::Stored(won))
                    if !won.contains(&(s.number.to_string(), s.seller.as_str().to_string())) =>
                {
                    continue;
                }
                Some(WinFilter::Stored(_)) => {}
                Some(WinFilter::Numbers(w)) => {
                    let takes_part = s.status == InvoiceStatus::Issued && !s.buyer.is_business();
                    if !takes_part || w.prize_of(&s.number).is_none() {
                        continue;
                    }
                }
            }
            let row = carrier_row(rows.len(), &carrier, &view);
            rows.push(row);
        }
    }
    let mut m = Map::new();
    m.insert(
        "onlyWinningInv".into(),
        Value::String(if only_winning { "Y" } else { "N" }.into()),
    );
    m.insert("details".into(), Value::Array(rows));
    Ok(m)
}

async fn carrier_detail<S: Store>(
    st: &AppState<S>,
    p: &Params,
) -> Result<Map<String, Value>, Fail> {
    check_time(st, p)?;
    let number = inv_num_param(p)?;
    let date = date_param(p, "invDate")?;
    let period = Period::of_date(date).ok_or_else(|| fail(code::PARAM, "invDate out of range"))?;
    let carrier = auth_carrier(st, p).await?;
    let view = st
        .store
        .carrier_invoices(&carrier, period)
        .await?
        .into_iter()
        .find(|v| v.summary.number == number && same_date(v, date))
        .ok_or_else(|| fail(code::NOT_FOUND, "no such invoice on this carrier"))?;
    let mut m = detail_fields(&view);
    m.insert("cardType".into(), Value::String(carrier.kind.code().into()));
    m.insert("cardNo".into(), Value::String(carrier.id.clone()));
    Ok(m)
}
