//! Operator accounts and the operator API (`/v1/ops/…`).
//!
//! **Accounts.** An operator logs in with a password (Argon2id PHC string in
//! [`OperatorRecord::password_hash`]) and a TOTP code (RFC 6238: SHA-1, 6
//! digits, 30 s steps, ±1 step of skew; the secret sealed for purpose
//! [`purpose::TOTP`]). A code is usable once: the accepted step must be later
//! than [`OperatorRecord::last_totp_step`]. Failures (wrong password, wrong or
//! reused code) count; each delays the answer more, and from
//! [`OpsConfig::lock_after`] failures on the account is soft-locked for a time
//! that doubles per failure, capped (never permanent). An unknown name costs
//! the same Argon2 work as a known one.
//!
//! **Sessions.** A login returns a random 32-byte bearer token (hex); only its
//! SHA-256 (hex) is stored. A session ends after [`OpsConfig::idle_secs`]
//! without use and at most [`OpsConfig::max_secs`] after login.
//!
//! **Roles.** `operator` may act; `auditor` may only read; `soc` has its own
//! (future) routes. Anything else is `403 ROLE_FORBIDDEN`.
//!
//! **The ledger.** Every operator action is appended with
//! [`Store::append_event`] as kind `ADMIN`, actor `operator:<name>`, body
//! canonical JSON (sorted keys, compact) without secrets. A track allocation
//! is itself an E0401 ledger entry appended with that actor.
//!
//! | route | role | does |
//! | --- | --- | --- |
//! | `POST /v1/ops/login` `{name, password, totp}` | — | `{token, expires_unix, roles}` |
//! | `POST /v1/ops/logout` | any | ends the session |
//! | `GET /v1/ops/whoami` | any | `{name, roles, expires_unix}` |
//! | `POST /v1/ops/sellers` `{ubn, name}` | operator | register / rename a seller |
//! | `POST /v1/ops/keys` `{sellers: [ubn…]}` | operator | `{key_id, secret}` (secret shown once, sealed `api-key`) |
//! | `POST /v1/ops/apps` `{name, app_id?, alg?}` | operator | `{app_id, api_key, alg}` (key shown once, sealed `app-key`) |
//! | `POST /v1/ops/operators` `{name, roles}` | operator | `{name, roles, password, totp_secret, otpauth_url}` (shown once) |
//! | `POST /v1/ops/tracks` `{seller, period, track, begin, end, head?, invoice_type?}` | operator | E0401 validated and appended; the receipt |
//! | `POST /v1/ops/winning` `{period, special, grand, first, additional_sixth?, amounts?, reason?}` | operator | a draft version |
//! | `POST /v1/ops/winning/{period}/approve` `{version}` | operator (not the one who entered it) | publishes it |
//! | `GET /v1/ops/winning/{period}` | operator, auditor | the latest version |

// A `Problem` is built at most once per request and goes straight to the client:
// boxing it would only add noise.
#![allow(clippy::result_large_err)]

use crate::app_api::{AppKey, SignatureAlg};
pub use crate::clock::Clock;
use crate::lockout::Lockout;
use crate::password;
use crate::problem::Problem;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use einvoice_core::model::{BranchTrack, BranchTrackItem, BranchTrackMain};
use einvoice_core::{Message, Period, Rules, Ubn};
use einvoice_secrets::{SealError, Sealer, purpose};
use einvoice_store::{
    ApiKeyRecord, AppRecord, NewEntry, OperatorRecord, Role, Scope, SellerRecord, SessionRecord,
    Store, StoreError, WinningBody, WinningNumbersRecord, canonical_json,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use totp_rs::{Algorithm, Builder, Totp};

/// Issuer shown by authenticator apps.
pub const TOTP_ISSUER: &str = "einvoice";

/// Session and lock-out settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsConfig {
    /// A session ends after this many seconds without use.
    pub idle_secs: i64,
    /// A session ends this many seconds after login, used or not.
    pub max_secs: i64,
    /// Delays and soft locks after failed logins.
    pub lockout: Lockout,
    /// Where session expiry, soft locks and ledger times read the time.
    pub clock: Clock,
}

impl Default for OpsConfig {
    fn default() -> Self {
        Self {
            idle_secs: 15 * 60,
            max_secs: 8 * 3600,
            lockout: Lockout::default(),
            clock: Clock::default(),
        }
    }
}

/// Failures of operator account management outside HTTP.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// Bootstrap is only for an empty site.
    #[error(
        "BOOTSTRAP_REFUSED: operators already exist; create more with `einvoice admin operator add`"
    )]
    NotEmpty,
    /// A name outside `[a-z0-9._-]{1,32}`.
    #[error("OPERATOR_NAME: operator names are 1-32 of a-z 0-9 . _ -")]
    Name,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// Hashing, randomness or TOTP set-up failed.
    #[error("CRYPTO: {0}")]
    Crypto(&'static str),
}

/// The one-time secrets of a new operator: shown once, never stored in clear.
#[derive(Clone)]
pub struct NewOperatorSecrets {
    /// The generated password.
    pub password: String,
    /// The TOTP secret, Base32 (for manual entry).
    pub totp_secret_base32: String,
    /// The `otpauth://totp/…` URL (for a QR code).
    pub otpauth_url: String,
}

impl std::fmt::Debug for NewOperatorSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewOperatorSecrets(..)")
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N], OpsError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|_| OpsError::Crypto("random source failed"))?;
    Ok(b)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 hex of a bearer token (what the store keeps).
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

fn totp_for(secret: Vec<u8>, name: &str) -> Result<Totp, OpsError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some(TOTP_ISSUER))
        .with_account_name(name)
        .build()
        .map_err(|_| OpsError::Crypto("TOTP set-up failed"))
}

/// A new operator record and its one-time secrets (not stored yet).
pub fn new_operator(
    sealer: &Sealer,
    name: &str,
    roles: Vec<Role>,
) -> Result<(OperatorRecord, NewOperatorSecrets), OpsError> {
    if !valid_name(name) {
        return Err(OpsError::Name);
    }
    let password = URL_SAFE_NO_PAD.encode(random_bytes::<18>()?);
    let password_hash = password::hash(password.as_bytes())
        .map_err(|_| OpsError::Crypto("argon2 hashing failed"))?;
    let secret = random_bytes::<20>()?.to_vec();
    let totp_sealed = sealer.seal(purpose::TOTP, &secret)?;
    let totp = totp_for(secret.clone(), name)?;
    let otpauth_url = totp
        .to_url()
        .map_err(|_| OpsError::Crypto("otpauth URL failed"))?;
    let totp_secret_base32 = totp_rs::Secret::from(secret).to_base32();
    let rec = OperatorRecord {
        name: name.to_string(),
        password_hash,
        totp_sealed,
        roles,
        last_totp_step: 0,
        failures: 0,
        locked_until: 0,
    };
    Ok((
        rec,
        NewOperatorSecrets {
            password,
            totp_secret_base32,
            otpauth_url,
        },
    ))
}

/// Create the first operator (roles `operator`) on a site with no operators;
/// refused otherwise. Local only: the CLI calls it on the data directory.
pub async fn bootstrap_operator<S: Store>(
    store: &S,
    sealer: &Sealer,
    name: &str,
) -> Result<NewOperatorSecrets, OpsError> {
    if store.operator_count().await? != 0 {
        return Err(OpsError::NotEmpty);
    }
    let (rec, secrets) = new_operator(sealer, name, vec![Role::Operator])?;
    store.put_operator(rec).await?;
    store
        .append_event(NewEntry {
            kind: "ADMIN".into(),
            key: format!("operator/{name}"),
            actor: "local:bootstrap".into(),
            body: canonical_json(
                &json!({"action": "operator.bootstrap", "name": name, "roles": ["operator"]}),
            ),
        })
        .await?;
    Ok(secrets)
}

struct OpsState<S> {
    store: S,
    sealer: Sealer,
    cfg: OpsConfig,
    /// Serialises login checks so a TOTP step cannot be used twice concurrently.
    login: tokio::sync::Mutex<()>,
    /// Login time per session (token hash), for the maximum session length.
    started: std::sync::Mutex<HashMap<String, i64>>,
}

/// The operator API router with the default [`OpsConfig`].
pub fn router<S: Store>(store: S, sealer: Sealer) -> Router {
    router_with(store, sealer, OpsConfig::default())
}

/// The operator API router with a given configuration.
pub fn router_with<S: Store>(store: S, sealer: Sealer, cfg: OpsConfig) -> Router {
    let st = Arc::new(OpsState {
        store,
        sealer,
        cfg,
        login: tokio::sync::Mutex::new(()),
        started: std::sync::Mutex::new(HashMap::new()),
    });
    Router::new()
        .route("/v1/ops/login", post(login::<S>))
        .route("/v1/ops/logout", post(logout::<S>))
        .route("/v1/ops/whoami", get(whoami::<S>))
        .route("/v1/ops/sellers", post(put_seller::<S>))
        .route("/v1/ops/keys", post(create_key::<S>))
        .route("/v1/ops/apps", post(create_app::<S>))
        .route("/v1/ops/operators", post(create_operator::<S>))
        .route("/v1/ops/tracks", post(allocate_tracks::<S>))
        .route("/v1/ops/winning", post(enter_winning::<S>))
        .route("/v1/ops/winning/{period}", get(get_winning::<S>))
        .route(
            "/v1/ops/winning/{period}/approve",
            post(approve_winning::<S>),
        )
        .with_state(st)
}

type Answer = Result<Json<Value>, Problem>;

fn problem(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
    Problem::new(status, code, detail)
}

fn store_problem(e: StoreError) -> Problem {
    let detail = e.to_string();
    match e {
        StoreError::Unavailable(_) => {
            problem(StatusCode::SERVICE_UNAVAILABLE, e.code(), detail).retry_after(5)
        }
        _ => problem(StatusCode::INTERNAL_SERVER_ERROR, e.code(), detail),
    }
}

fn ops_problem(e: OpsError) -> Problem {
    match e {
        OpsError::Store(s) => store_problem(s),
        OpsError::Name => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "OPERATOR_NAME",
            e.to_string(),
        ),
        other => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            other.to_string(),
        ),
    }
}

fn bad_body(e: impl std::fmt::Display) -> Problem {
    problem(StatusCode::BAD_REQUEST, "BODY_INVALID", e.to_string())
}

/// Parse a JSON body ourselves so every refusal is a problem document.
fn body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(bytes).map_err(bad_body)
}

/// An authenticated session.
struct Session {
    name: String,
    roles: Vec<Role>,
    expires_unix: i64,
}

impl Session {
    fn actor(&self) -> String {
        format!("operator:{}", self.name)
    }

    fn require(&self, any_of: &[Role]) -> Result<(), Problem> {
        if self.roles.iter().any(|r| any_of.contains(r)) {
            Ok(())
        } else {
            Err(problem(
                StatusCode::FORBIDDEN,
                "ROLE_FORBIDDEN",
                format!(
                    "this action needs the role {}",
                    any_of
                        .iter()
                        .map(|r| format!("{r:?}").to_lowercase())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ))
        }
    }
}

async fn session<S: Store>(st: &OpsState<S>, headers: &HeaderMap) -> Result<Session, Problem> {
    let unauth = |code: &str, d: &str| problem(StatusCode::UNAUTHORIZED, code, d.to_string());
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            unauth(
                "AUTH_REQUIRED",
                "send Authorization: Bearer <token> from /v1/ops/login",
            )
        })?;
    let h = token_hash(token);
    let now = st.cfg.clock.now_unix();
    let rec = st
        .store
        .session(&h)
        .await
        .map_err(store_problem)?
        .filter(|s| s.expires_unix > now)
        .ok_or_else(|| unauth("SESSION_EXPIRED", "the session has ended: log in again"))?;
    let started = {
        let mut m = st.started.lock().unwrap_or_else(|p| p.into_inner());
        m.retain(|_, t| *t + st.cfg.max_secs > now);
        *m.entry(h.clone()).or_insert(now)
    };
    let max_end = started + st.cfg.max_secs;
    if max_end <= now {
        return Err(unauth(
            "SESSION_EXPIRED",
            "the session has ended: log in again",
        ));
    }
    let new_end = (now + st.cfg.idle_secs).min(max_end);
    // Slide the idle expiry, writing at most once a minute.
    let mut expires = rec.expires_unix;
    if new_end - rec.expires_unix >= 60 {
        expires = new_end;
        st.store
            .put_session(SessionRecord {
                expires_unix: new_end,
                ..rec.clone()
            })
            .await
            .map_err(store_problem)?;
    }
    Ok(Session {
        name: rec.operator,
        roles: rec.roles,
        expires_unix: expires,
    })
}

async fn record<S: Store>(
    st: &OpsState<S>,
    who: &str,
    key: String,
    body: Value,
) -> Result<(), Problem> {
    st.store
        .append_event(NewEntry {
            kind: "ADMIN".into(),
            key,
            actor: who.to_string(),
            body: canonical_json(&body),
        })
        .await
        .map(|_| ())
        .map_err(store_problem)
}

// ---- login ---------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    name: String,
    password: String,
    totp: String,
}

async fn login<S: Store>(State(st): State<Arc<OpsState<S>>>, raw: axum::body::Bytes) -> Answer {
    let b: LoginBody = body(&raw)?;
    let failed = || {
        problem(
            StatusCode::UNAUTHORIZED,
            "LOGIN_FAILED",
            "name, password or code is wrong",
        )
    };
    let guard = st.login.lock().await;
    let now = st.cfg.clock.now_unix();
    let rec = st.store.operator(&b.name).await.map_err(store_problem)?;
    let Some(mut rec) = rec else {
        password::verify_off_reactor(b.password.clone(), None).await;
        drop(guard);
        tokio::time::sleep(st.cfg.lockout.delay(1)).await;
        return Err(failed());
    };
    if rec.locked_until > now {
        let wait = rec.locked_until - now;
        return Err(problem(
            StatusCode::TOO_MANY_REQUESTS,
            "LOGIN_LOCKED",
            format!("too many failed logins: retry in {wait} seconds"),
        )
        .retry_after(u64::try_from(wait).unwrap_or(1)));
    }
    let pw_ok =
        password::verify_off_reactor(b.password.clone(), Some(rec.password_hash.clone())).await;
    let step = if pw_ok {
        st.sealer
            .open(purpose::TOTP, &rec.totp_sealed)
            .ok()
            .and_then(|s| totp_for(s, &rec.name).ok())
            .and_then(|t| t.check(b.totp.trim(), u64::try_from(now).unwrap_or(0)))
            .filter(|step| *step > rec.last_totp_step)
    } else {
        None
    };
    let Some(step) = step else {
        rec.failures = rec.failures.saturating_add(1);
        rec.locked_until = st.cfg.lockout.lock_until(rec.failures, now);
        let failures = rec.failures;
        st.store.put_operator(rec).await.map_err(store_problem)?;
        drop(guard);
        tokio::time::sleep(st.cfg.lockout.delay(failures)).await;
        return Err(failed());
    };
    rec.failures = 0;
    rec.locked_until = 0;
    rec.last_totp_step = step;
    let roles = rec.roles.clone();
    let name = rec.name.clone();
    st.store.put_operator(rec).await.map_err(store_problem)?;
    drop(guard);
    let token = hex(&random_bytes::<32>().map_err(ops_problem)?);
    let h = token_hash(&token);
    let expires_unix = now + st.cfg.idle_secs.min(st.cfg.max_secs);
    st.store
        .put_session(SessionRecord {
            token_hash: h.clone(),
            operator: name.clone(),
            roles: roles.clone(),
            expires_unix,
        })
        .await
        .map_err(store_problem)?;
    st.started
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(h, now);
    record(
        &st,
        &format!("operator:{name}"),
        format!("operator/{name}"),
        json!({"action": "login"}),
    )
    .await?;
    Ok(Json(
        json!({"token": token, "expires_unix": expires_unix, "roles": roles}),
    ))
}

async fn logout<S: Store>(State(st): State<Arc<OpsState<S>>>, headers: HeaderMap) -> Answer {
    let s = session(&st, &headers).await?;
    if let Some(t) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        let h = token_hash(t.trim());
        st.store
            .put_session(SessionRecord {
                token_hash: h.clone(),
                operator: s.name.clone(),
                roles: s.roles.clone(),
                expires_unix: 0,
            })
            .await
            .map_err(store_problem)?;
        st.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&h);
    }
    record(
        &st,
        &s.actor(),
        format!("operator/{}", s.name),
        json!({"action": "logout"}),
    )
    .await?;
    Ok(Json(json!({"ok": true})))
}

async fn whoami<S: Store>(State(st): State<Arc<OpsState<S>>>, headers: HeaderMap) -> Answer {
    let s = session(&st, &headers).await?;
    Ok(Json(
        json!({"name": s.name, "roles": s.roles, "expires_unix": s.expires_unix}),
    ))
}

// ---- tenants, keys, apps, operators ------------------------------------------------

fn parse_ubn(field: &str, s: &str) -> Result<Ubn, Problem> {
    Ubn::parse(s).map_err(|v| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            v.code,
            format!("{field}: {}", v.message),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SellerBody {
    ubn: String,
    name: String,
}

async fn put_seller<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Answer {
    let s = session(&st, &headers).await?;
    s.require(&[Role::Operator])?;
    let b: SellerBody = body(&raw)?;
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    sellers: Vec<String>,
}

async fn create_key<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Answer {
    let s = session(&st, &headers).await?;
    s.require(&[Role::Operator])?;
    let b: KeyBody = body(&raw)?;
    if b.sellers.is_empty() || b.sellers.len() > 10_000 {
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "KEY_SELLERS",
            "a key acts for 1 to 10000 sellers",
        ));
    }
    let mut sellers = Vec::with_capacity(b.sellers.len());
    for u in &b.sellers {
        let ubn = parse_ubn("sellers", u)?;
        if st.store.seller(ubn).await.map_err(store_problem)?.is_none() {
            return Err(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "SELLER_UNKNOWN",
                format!("seller {ubn} is not registered: add it first"),
            ));
        }
        sellers.push(ubn);
    }
    sellers.sort();
    sellers.dedup();
    let key_id = format!("K{}", hex(&random_bytes::<8>().map_err(ops_problem)?));
    let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>().map_err(ops_problem)?);
    let secret_sealed = st
        .sealer
        .seal(purpose::API_KEY, secret.as_bytes())
        .map_err(|e| ops_problem(e.into()))?;
    st.store
        .put_api_key(ApiKeyRecord {
            key_id: key_id.clone(),
            secret_sealed,
            sellers: sellers.clone(),
            disabled: false,
            created_unix: st.cfg.clock.now_unix(),
        })
        .await
        .map_err(store_problem)?;
    let list: Vec<&str> = sellers.iter().map(Ubn::as_str).collect();
    record(
        &st,
        &s.actor(),
        format!("key/{key_id}"),
        json!({"action": "key.create", "key_id": key_id, "sellers": list}),
    )
    .await?;
    Ok(Json(
        json!({"key_id": key_id, "secret": secret, "sellers": list}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppBody {
    name: String,
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    alg: Option<String>,
}

async fn create_app<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Answer {
    let s = session(&st, &headers).await?;
    s.require(&[Role::Operator])?;
    let b: AppBody = body(&raw)?;
    let alg = match b.alg.as_deref() {
        None => SignatureAlg::HmacSha256,
        Some(a) => SignatureAlg::parse(a).ok_or_else(|| {
            problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "APP_ALG",
                "alg is HmacSHA256 or HmacSHA1",
            )
        })?,
    };
    let app_id = match b.app_id {
        Some(id) => {
            if !(4..=40).contains(&id.len())
                || !id
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            {
                return Err(problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "APP_ID",
                    "an appID is 4-40 of A-Z a-z 0-9 - _",
                ));
            }
            id
        }
        None => format!(
            "EINV{}",
            hex(&random_bytes::<6>().map_err(ops_problem)?).to_uppercase()
        ),
    };
    if st
        .store
        .app(&app_id)
        .await
        .map_err(store_problem)?
        .is_some()
    {
        return Err(problem(
            StatusCode::CONFLICT,
            "APP_EXISTS",
            format!("appID {app_id} is already registered"),
        ));
    }
    let name = b.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "APP_NAME",
            "an app name is 1-80 characters",
        ));
    }
    let key = AppKey {
        alg,
        key: URL_SAFE_NO_PAD.encode(random_bytes::<24>().map_err(ops_problem)?),
    };
    let api_key_sealed = key.seal(&st.sealer).map_err(|_| {
        problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SEAL_FAILED",
            "sealing the app key failed",
        )
    })?;
    st.store
        .put_app(AppRecord {
            app_id: app_id.clone(),
            api_key_sealed,
            name: name.clone(),
        })
        .await
        .map_err(store_problem)?;
    record(
        &st,
        &s.actor(),
        format!("app/{app_id}"),
        json!({"action": "app.create", "app_id": app_id, "name": name, "alg": alg.name()}),
    )
    .await?;
    Ok(Json(
        json!({"app_id": app_id, "api_key": key.key, "alg": alg.name(), "name": name}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorBody {
    name: String,
    roles: Vec<Role>,
}

async fn create_operator<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Answer {
    let s = session(&st, &headers).await?;
    s.require(&[Role::Operator])?;
    let b: OperatorBody = body(&raw)?;
    let mut roles = b.roles;
    roles.dedup();
    if roles.is_empty() {
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "OPERATOR_ROLES",
            "give at least one role: operator, auditor, soc",
        ));
    }
    if st
        .store
        .operator(&b.name)
        .await
        .map_err(store_problem)?
        .is_some()
    {
        return Err(problem(
            StatusCode::CONFLICT,
            "OPERATOR_EXISTS",
            format!("operator {} exists", b.name),
        ));
    }
    let (sealer, name, r2) = (st.sealer.clone(), b.name.clone(), roles.clone());
    let (rec, secrets) = tokio::task::spawn_blocking(move || new_operator(&sealer, &name, r2))
        .await
        .map_err(|_| {
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "operator creation failed",
            )
        })?
        .map_err(ops_problem)?;
    st.store.put_operator(rec).await.map_err(store_problem)?;
    record(
        &st,
        &s.actor(),
        format!("operator/{}", b.name),
        json!({"action": "operator.create", "name": b.name, "roles": roles}),
    )
    .await?;
    Ok(Json(json!({
        "name": b.name,
        "roles": roles,
        "password": secrets.password,
        "totp_secret": secrets.totp_secret_base32,
        "otpauth_url": secrets.otpauth_url,
    })))
}

// ---- tracks ----------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrackBody {
    seller: String,
    period: String,
    track: String,
    begin: u32,
    end: u32,
    #[serde(default)]
    head: Option<String>,
    #[serde(default)]
    invoice_type: Option<String>,
}

/// The E0401 message allocating `begin..=end` of `track` to `seller` in `period`.
pub fn track_message(
    head: &str,
    seller: &str,
    invoice_type: &str,
    period: &str,
    track: &str,
    begin: u32,
    end: u32,
) -> Message {
    let booklets = if end >= begin {
        (end - begin + 1) / 50
    } else {
        0
    };
    Message::E0401(BranchTrack {
        main: BranchTrackMain {
            head_ban: head.to_string(),
            branch_ban: seller.to_string(),
            invoice_type: invoice_type.to_string(),
            year_month: period.to_string(),
            invoice_track: track.to_string(),
            invoice_begin_no: format!("{begin:08}"),
            invoice_end_no: format!("{end:08}"),
        },
        details: vec![BranchTrackItem {
            invoice_begin_no: format!("{begin:08}"),
            invoice_end_no: format!("{end:08}"),
            invoice_booklet: booklets.to_string(),
        }],
    })
}

async fn allocate_tracks<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Answer {
    let s = session(&st, &headers).await?;
    s.require(&[Role::Operator])?;
    let b: TrackBody = body(&raw)?;
    let msg = track_message(
        b.head.as_deref().unwrap_or(&b.seller),
        &b.seller,
        b.invoice_type.as_deref().unwrap_or("07"),
        &b.period,
        &b.track,
        b.begin,
        b.end,
    );
    let validated = einvoice_core::validate(&msg, &Rules::production())
        .map_err(|vs| Problem::violations(vs.0))?;
    let mut out = st
        .store
        .append(&Scope::All, &s.actor(), vec![validated])
        .await
        .map_err(store_problem)?;
    match out.pop() {
        Some(Ok(receipt)) => Ok(Json(json!({"receipt": receipt}))),
        Some(Err(r)) => {
            let status = if r.code == "DUPLICATE_CONFLICT" || r.code == "TRACK_OVERLAP" {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let mut p = problem(status, r.code, r.message.clone());
            p.errors = vec![crate::problem::ProblemError::from(
                einvoice_core::Violation::from(r),
            )];
            Err(p)
        }
        None => Err(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "the store returned no outcome",
        )),
    }
}

// ---- winning numbers -----------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WinningEntry {
    period: String,
    #[serde(flatten)]
    numbers: WinningBody,
    #[serde(default)]
    reason: Option<String>,
}

fn period_of(s: &str) -> Result<Period, Problem> {
    Period::parse(s).map_err(|v| problem(StatusCode::UNPROCESSABLE_ENTITY, v.code, v.message))
}

fn record_json(r: &WinningNumbersRecord) -> Value {
    json!({
        "period": r.period.to_string(),
        "version": r.version,
        "numbers": r.body,
        "entered_by": r.entered_by,
        "approved_by": r.approved_by,
        "reason": r.reason,
        "status": if r.approved_by.is_some() { "published" } else { "draft" },
    })
}

async fn enter_winning<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Answer {
    let s = session(&st, &headers).await?;
    s.require(&[Role::Operator])?;
    // `flatten` and `deny_unknown_fields` do not combine: check keys by hand.
    let v: Value = body(&raw)?;
    if let Some(m) = v.as_object()
        && let Some(k) = m.keys().find(|k| {
            ![
                "period",
                "special",
                "grand",
                "first",
                "additional_sixth",
                "amounts",
                "reason",
            ]
            .contains(&k.as_str())
        })
    {
        return Err(bad_body(format!("unknown field {k}")));
    }
    let b: WinningEntry = serde_json::from_value(v).map_err(bad_body)?;
    let period = period_of(&b.period)?;
    let mut numbers = b.numbers;
    numbers.published_unix = None;
    numbers
        .numbers(period)
        .map_err(|v| Problem::violations(vec![v]))?;
    let reason = b
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let latest = st
        .store
        .winning_numbers(period)
        .await
        .map_err(store_problem)?;
    let version = match &latest {
        None => 1,
        Some(r) if r.approved_by.is_none() => r.version,
        Some(r) => {
            if reason.is_none() {
                return Err(problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "REASON_REQUIRED",
                    format!(
                        "version {} of {period} is published: a correction needs a reason",
                        r.version
                    ),
                ));
            }
            r.version + 1
        }
    };
    let rec = WinningNumbersRecord {
        period,
        version,
        body: numbers.to_value(period),
        entered_by: s.name.clone(),
        approved_by: None,
        reason: reason.clone(),
    };
    st.store
        .put_winning_numbers(rec.clone())
        .await
        .map_err(store_problem)?;
    record(
        &st,
        &s.actor(),
        format!("winning/{period}/{version}"),
        json!({"action": "winning.enter", "period": period.to_string(), "version": version, "numbers": rec.body, "reason": reason}),
    )
    .await?;
    Ok(Json(record_json(&rec)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    version: u32,
}

async fn approve_winning<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    UrlPath(period): UrlPath<String>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Answer {
    let s = session(&st, &headers).await?;
    s.require(&[Role::Operator])?;
    let period = period_of(&period)?;
    let b: ApproveBody = body(&raw)?;
    let mut rec = st
        .store
        .winning_numbers(period)
        .await
        .map_err(store_problem)?
        .filter(|r| r.version == b.version)
        .ok_or_else(|| {
            problem(
                StatusCode::NOT_FOUND,
                "WINNING_VERSION_UNKNOWN",
                format!(
                    "version {} of {period} is not the latest version",
                    b.version
                ),
            )
        })?;
    if rec.approved_by.is_some() {
        return Err(problem(
            StatusCode::CONFLICT,
            "WINNING_NUMBERS_PUBLISHED",
            "this version is already published and immutable",
        ));
    }
    if rec.entered_by == s.name {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "TWO_PERSON_RULE",
            "the operator who entered the numbers cannot approve them: another operator must",
        ));
    }
    let mut numbers = WinningBody::from_value(&rec.body).map_err(|e| {
        problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "STORE_CORRUPT",
            format!("stored draft: {e}"),
        )
    })?;
    numbers.published_unix = Some(st.cfg.clock.now_unix());
    rec.body = numbers.to_value(period);
    rec.approved_by = Some(s.name.clone());
    st.store
        .put_winning_numbers(rec.clone())
        .await
        .map_err(store_problem)?;
    record(
        &st,
        &s.actor(),
        format!("winning/{period}/{}", rec.version),
        json!({"action": "winning.approve", "period": period.to_string(), "version": rec.version, "entered_by": rec.entered_by}),
    )
    .await?;
    Ok(Json(record_json(&rec)))
}

async fn get_winning<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    UrlPath(period): UrlPath<String>,
    headers: HeaderMap,
) -> Answer {
    let s = session(&st, &headers).await?;
    s.require(&[Role::Operator, Role::Auditor])?;
    let period = period_of(&period)?;
    let rec = st
        .store
        .winning_numbers(period)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| {
            problem(
                StatusCode::NOT_FOUND,
                "WINNING_NUMBERS_UNKNOWN",
                format!("no winning numbers for {period}"),
            )
        })?;
    Ok(Json(record_json(&rec)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("alice"));
        assert!(!valid_name("Alice"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
    }
}
