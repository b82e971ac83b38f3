//! Operator sessions: `POST /v1/ops/login` (password + TOTP, soft locks per
//! [`crate::lockout`]), logout, whoami, and the [`Operator`] extractor that
//! checks the bearer token and the role of every other route.

use super::answer::{Answer, JsonBody, ops_problem, problem, record};
use super::state::{OpsState, hex, random_bytes, token_hash};
use super::totp::totp_for;
use crate::password;
use crate::problem::{Problem, store_problem};
use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use einvoice_secrets::purpose;
use einvoice_store::{Role, SessionRecord, Store};
use serde::Deserialize;
use serde_json::json;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

/// The roles a route accepts ([`Operator`]'s marker); none means any
/// signed-in operator.
pub(super) trait Roles {
    /// Any one of these roles suffices; empty: any session.
    const ANY_OF: &'static [Role];
}

/// Any signed-in operator, whatever the role (logout, whoami).
pub(super) struct AnyRole;
/// The `operator` role: may act.
pub(super) struct RoleOperator;
/// The `operator` or the `auditor` role: may read.
pub(super) struct RoleOperatorOrAuditor;
/// The `soc` role: the security operations console.
pub(super) struct RoleSoc;

impl Roles for AnyRole {
    const ANY_OF: &'static [Role] = &[];
}
impl Roles for RoleOperator {
    const ANY_OF: &'static [Role] = &[Role::Operator];
}
impl Roles for RoleSoc {
    const ANY_OF: &'static [Role] = &[Role::Soc];
}
impl Roles for RoleOperatorOrAuditor {
    const ANY_OF: &'static [Role] = &[Role::Operator, Role::Auditor];
}

/// The operator of a live session (`Authorization: Bearer <token>`) holding
/// one of `R`'s roles: the extractor every operator route starts with. It
/// answers `401 AUTH_REQUIRED` / `401 SESSION_EXPIRED` without a live
/// session and `403 ROLE_FORBIDDEN` without the role.
pub(super) struct Operator<R> {
    session: Session,
    role: PhantomData<R>,
}

impl<R> std::ops::Deref for Operator<R> {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

impl<S: Store, R: Roles> FromRequestParts<Arc<OpsState<S>>> for Operator<R> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, st: &Arc<OpsState<S>>) -> Result<Self, Problem> {
        let mut session = session(st, &parts.headers).await?;
        session.client = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        if !R::ANY_OF.is_empty() {
            session.require(R::ANY_OF).inspect_err(|p| {
                st.cfg.soc.scope_denied(
                    "ops",
                    einvoice_soc::Actor::Operator(crate::soc::label(&session.name)),
                    session.client.as_deref().and_then(crate::soc::client_ip),
                    parts.uri.path(),
                    &p.code,
                );
            })?;
        }
        Ok(Self {
            session,
            role: PhantomData,
        })
    }
}

/// An authenticated session.
pub(super) struct Session {
    /// The operator's name.
    pub(super) name: String,
    /// The operator's roles.
    pub(super) roles: Vec<Role>,
    /// When the session ends unless used again.
    pub(super) expires_unix: i64,
    /// SHA-256 hex of the bearer token (the store's key of the session).
    pub(super) token_hash: String,
    /// The IP address this request came from (the two-person rule compares it).
    pub(super) client: Option<String>,
}

impl Session {
    /// The ledger actor: `operator:<name>`.
    pub(super) fn actor(&self) -> String {
        einvoice_store::operator_actor(&self.name)
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
    // Idle and absolute expiry both come from the stored record, so every
    // node and every restart agree; a record without them (kept before they
    // were stored) has ended.
    let rec = st
        .store
        .session(&h)
        .await
        .map_err(store_problem)?
        .filter(|s| s.expires_unix > now && s.absolute_expires_unix > now && s.issued_unix > 0)
        .ok_or_else(|| unauth("SESSION_EXPIRED", "the session has ended: log in again"))?;
    // A disabled account has no live session, nor has one whose sessions
    // were ended after this one was issued.
    let account = st
        .store
        .operator(&rec.operator)
        .await
        .map_err(store_problem)?;
    if account
        .as_ref()
        .is_none_or(|a| a.disabled || rec.issued_unix <= a.sessions_not_before_unix)
    {
        return Err(unauth(
            "SESSION_REVOKED",
            "the account is disabled or its sessions were ended by an operator",
        ));
    }
    let max_end = rec.absolute_expires_unix;
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
        token_hash: h,
        client: None,
    })
}

// ---- login ---------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
/// `POST /v1/ops/login`: name, password and the TOTP code.
pub(super) struct LoginBody {
    name: String,
    password: String,
    totp: String,
}

/// Logins one client address may try: 20 at once, then 20 a minute, over
/// all accounts (`429 RATE_LIMITED`), kept in the store like the accounts'
/// budgets so every node of a site counts them together.
const LOGIN_CLIENT_BURST: u32 = 20;
/// Seconds until one login of a client's [`LOGIN_CLIENT_BURST`] comes back.
const LOGIN_CLIENT_INTERVAL_SECS: i64 = 3;

/// One lock per operator name (process-wide), held only while the TOTP step
/// is checked and written, so a code cannot be used twice concurrently —
/// never across Argon2, and never across accounts.
pub(super) fn account_lock(name: &str) -> Arc<tokio::sync::Mutex<()>> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock, Weak};
    static LOCKS: OnceLock<Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut m = LOCKS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(l) = m.get(name).and_then(Weak::upgrade) {
        return l;
    }
    m.retain(|_, w| w.strong_count() > 0);
    let l = Arc::new(tokio::sync::Mutex::new(()));
    m.insert(name.to_string(), Arc::downgrade(&l));
    l
}

/// `POST /v1/ops/login`, reported to the SOC: a success, a failure
/// (`wrong_credentials` or `locked`), a refusal by the per-client limit or
/// a shed for lack of Argon2 permits.
pub(super) async fn login<S: Store>(
    st: State<Arc<OpsState<S>>>,
    client: crate::rate_limit::ClientAddr,
    JsonBody(b): JsonBody<LoginBody>,
) -> Answer {
    use einvoice_soc::Outcome;
    let (events, name, addr) = (st.cfg.soc.clone(), b.name.clone(), client.0.clone());
    let store = st.store.clone();
    let answer = login_checked(st, client, b).await;
    // What was typed as the name of a failed login may be a password typed
    // in the wrong field: it is reported only when it names an account.
    let name = match &answer {
        Err(_) if !matches!(store.operator(&name).await, Ok(Some(_))) => {
            crate::soc_sources::unknown_name_marker(&name)
        }
        _ => name,
    };
    match &answer {
        Ok(_) => events.operator_login(&name, &addr, Outcome::Success, "ok"),
        Err(p) => match p.code.as_str() {
            "LOGIN_FAILED" => {
                events.operator_login(&name, &addr, Outcome::Failure, "wrong_credentials")
            }
            "LOGIN_LOCKED" => events.operator_login(&name, &addr, Outcome::Failure, "locked"),
            "RATE_LIMITED" => events.rate_limited("ops_login", &addr),
            "LOGIN_BUSY" => events.shed("ops_login", &addr),
            _ => {}
        },
    }
    answer
}

async fn login_checked<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    crate::rate_limit::ClientAddr(client): crate::rate_limit::ClientAddr,
    b: LoginBody,
) -> Answer {
    use crate::password::Counted;
    use einvoice_store::{AttemptKey, Reservation};
    let failed = || {
        problem(
            StatusCode::UNAUTHORIZED,
            "LOGIN_FAILED",
            "name, password or code is wrong",
        )
    };
    let busy = |e: crate::password::Busy| {
        problem(StatusCode::SERVICE_UNAVAILABLE, "LOGIN_BUSY", e.to_string())
            .retry_after(crate::password::RETRY_AFTER_SECS)
    };
    let now = st.cfg.clock.now_unix();
    // Per client address, over all accounts.
    let per_client = AttemptKey {
        key: format!("ops-login@{client}"),
        interval_secs: LOGIN_CLIENT_INTERVAL_SECS,
        burst: LOGIN_CLIENT_BURST,
    };
    if let Reservation::Refused { retry_after_secs } = st
        .store
        .reserve_attempt(vec![per_client], now)
        .await
        .map_err(store_problem)?
    {
        let secs = u64::try_from(retry_after_secs).unwrap_or(1);
        return Err(crate::rate_limit::Limited {
            retry_after_secs: secs,
        }
        .problem("RATE_LIMITED", "this client"));
    }
    // Per account and per (account, client), counted before the check.
    let rec = st.store.operator(&b.name).await.map_err(store_problem)?;
    let keys = st
        .cfg
        .lockout
        .keys(&einvoice_store::operator_actor(&b.name), &client);
    let phc = rec.as_ref().map(|r| r.password_hash.clone());
    let spent = match password::check_counted(&st.store, keys.clone(), now, &b.password, phc).await
    {
        Ok(Ok(())) => None,
        Ok(Err(spent)) => Some(spent),
        Err(Counted::Locked(wait)) => {
            return Err(problem(
                StatusCode::TOO_MANY_REQUESTS,
                "LOGIN_LOCKED",
                format!("too many failed logins: retry in {wait} seconds"),
            )
            .retry_after(u64::try_from(wait).unwrap_or(1)));
        }
        Err(Counted::Busy(e)) => return Err(busy(e)),
        Err(Counted::Store(e)) => return Err(store_problem(e)),
    };
    let (Some(_), None) = (&rec, spent) else {
        tokio::time::sleep(st.cfg.lockout.delay(spent.unwrap_or(1))).await;
        return Err(failed());
    };
    // The password is right: check and use the TOTP step under the account's lock.
    let lock = account_lock(&b.name);
    let guard = lock.lock().await;
    let Some(mut rec) = st
        .store
        .operator(&b.name)
        .await
        .map_err(store_problem)?
        .filter(|r| !r.disabled)
    else {
        return Err(failed());
    };
    let step = st
        .sealer
        .open(purpose::TOTP, &rec.totp_sealed)
        .ok()
        .and_then(|s| totp_for(s, &rec.name).ok())
        .and_then(|t| t.check(b.totp.trim(), u64::try_from(now).unwrap_or(0)))
        .filter(|step| *step > rec.last_totp_step);
    let Some(step) = step else {
        drop(guard);
        // A wrong or reused code: the attempt stays counted.
        tokio::time::sleep(st.cfg.lockout.delay(1)).await;
        return Err(failed());
    };
    rec.failures = 0;
    rec.locked_until = 0;
    rec.last_totp_step = step;
    let roles = rec.roles.clone();
    let name = rec.name.clone();
    st.store.put_operator(rec).await.map_err(store_problem)?;
    drop(guard);
    st.store
        .release_attempt(keys, now)
        .await
        .map_err(store_problem)?;
    let token = hex(&random_bytes::<32>().map_err(ops_problem)?);
    let h = token_hash(&token);
    let expires_unix = now + st.cfg.idle_secs.min(st.cfg.max_secs);
    st.store
        .put_session(SessionRecord {
            token_hash: h.clone(),
            operator: name.clone(),
            roles: roles.clone(),
            expires_unix,
            issued_unix: now,
            absolute_expires_unix: now + st.cfg.max_secs,
        })
        .await
        .map_err(store_problem)?;
    record(
        &st,
        &einvoice_store::operator_actor(&name),
        format!("operator/{name}"),
        json!({"action": "login"}),
    )
    .await?;
    Ok(Json(
        json!({"token": token, "expires_unix": expires_unix, "roles": roles}),
    ))
}

pub(super) async fn logout<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<AnyRole>,
) -> Answer {
    st.store
        .put_session(SessionRecord {
            token_hash: s.token_hash.clone(),
            operator: s.name.clone(),
            roles: s.roles.clone(),
            expires_unix: 0,
            issued_unix: 0,
            absolute_expires_unix: 0,
        })
        .await
        .map_err(store_problem)?;
    record(
        &st,
        &s.actor(),
        format!("operator/{}", s.name),
        json!({"action": "logout"}),
    )
    .await?;
    Ok(Json(json!({"ok": true})))
}

pub(super) async fn whoami(s: Operator<AnyRole>) -> Answer {
    Ok(Json(
        json!({"name": s.name, "roles": s.roles, "expires_unix": s.expires_unix}),
    ))
}
