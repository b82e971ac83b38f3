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

impl Roles for AnyRole {
    const ANY_OF: &'static [Role] = &[];
}
impl Roles for RoleOperator {
    const ANY_OF: &'static [Role] = &[Role::Operator];
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
            session.require(R::ANY_OF)?;
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

pub(super) async fn login<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    JsonBody(b): JsonBody<LoginBody>,
) -> Answer {
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
