//! Operator accounts: a new account's one-time secrets, the bootstrap of the
//! first operator (CLI, local), `POST /v1/ops/operators` (an enrolment token
//! for the new person, never their secrets), `POST /v1/ops/enrol` (the new
//! person sets their password and receives their TOTP secret), disabling and
//! enabling an account, and the creation line the two-person rule reads.

use super::answer::{Answer, JsonBody, ops_problem, problem, record};
use super::session::{Operator, RoleOperator};
use super::state::{OpsError, OpsState, hex, random_bytes, token_hash};
use super::totp::totp_for;
use crate::password;
use crate::problem::{Problem, store_problem};
use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use einvoice_secrets::{Sealer, purpose};
use einvoice_store::{Enrolment, NewEntry, OperatorRecord, Role, Store, canonical_json};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The ledger actor of accounts made by the CLI on the data directory.
const LOCAL_BOOTSTRAP: &str = "local:bootstrap";

/// Shortest password an operator may set at enrolment (characters).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password an operator may set at enrolment (characters).
pub const MAX_PASSWORD_CHARS: usize = 256;

fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
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

/// A fresh TOTP secret for `name`: sealed (purpose `totp`), Base32 and the
/// `otpauth://` URL.
fn new_totp(sealer: &Sealer, name: &str) -> Result<(Vec<u8>, String, String), OpsError> {
    let secret = random_bytes::<20>()?.to_vec();
    let totp_sealed = sealer.seal(purpose::TOTP, &secret)?;
    let totp = totp_for(secret.clone(), name)?;
    let otpauth_url = totp
        .to_url()
        .map_err(|_| OpsError::Crypto("otpauth URL failed"))?;
    let base32 = totp_rs::Secret::from(secret).to_base32();
    Ok((totp_sealed, base32, otpauth_url))
}

/// A new operator record and its one-time secrets (not stored yet), for the
/// local person at the CLI; `created_by` is left `None` (local).
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
    let (totp_sealed, totp_secret_base32, otpauth_url) = new_totp(sealer, name)?;
    let rec = OperatorRecord {
        name: name.to_string(),
        password_hash,
        totp_sealed,
        roles,
        last_totp_step: 0,
        failures: 0,
        locked_until: 0,
        created_by: None,
        disabled: false,
        held_password_hash: None,
        sessions_not_before_unix: 0,
        enrolment: None,
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
    let (mut rec, secrets) = new_operator(sealer, name, vec![Role::Operator])?;
    rec.created_by = Some(LOCAL_BOOTSTRAP.into());
    store.put_operator(rec).await?;
    store
        .append_event(NewEntry {
            kind: "ADMIN".into(),
            key: format!("operator/{name}"),
            actor: LOCAL_BOOTSTRAP.into(),
            body: canonical_json(
                &json!({"action": "operator.bootstrap", "name": name, "roles": ["operator"]}),
            ),
        })
        .await?;
    Ok(secrets)
}

/// Create an operator on the data directory (the CLI, `einvoice admin
/// operator add-local`): the secrets go to the local person only, and the
/// account starts its own creation line (`created_by` = `local:<who>`), so
/// it is independent of every account made through the API for the
/// two-person rule. Refused when the name exists (`OpsError::Exists`).
pub async fn add_local_operator<S: Store>(
    store: &S,
    sealer: &Sealer,
    name: &str,
    roles: Vec<Role>,
    who: &str,
) -> Result<NewOperatorSecrets, OpsError> {
    if store.operator(name).await?.is_some() {
        return Err(OpsError::Exists);
    }
    let (mut rec, secrets) = new_operator(sealer, name, roles.clone())?;
    let actor = format!("local:{who}");
    rec.created_by = Some(actor.clone());
    store.put_operator(rec).await?;
    store
        .append_event(NewEntry {
            kind: "ADMIN".into(),
            key: format!("operator/{name}"),
            actor,
            body: canonical_json(
                &json!({"action": "operator.create_local", "name": name, "roles": roles}),
            ),
        })
        .await?;
    Ok(secrets)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
/// `POST /v1/ops/operators`: the new operator's name and roles.
pub(super) struct OperatorBody {
    name: String,
    roles: Vec<Role>,
}

/// A hash of a random secret nobody holds: the password hash of an account
/// that cannot log in (not enrolled yet, or disabled). A login against it
/// costs the same Argon2 work as against a real one, and fails.
async fn unusable_password_hash() -> Result<String, Problem> {
    tokio::task::spawn_blocking(|| password::dummy_hash().to_string())
        .await
        .ok()
        .filter(|h| h.starts_with("$argon2id$"))
        .ok_or_else(|| {
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "hashing failed",
            )
        })
}

/// `POST /v1/ops/operators`: create an account with no credentials and a
/// single-use enrolment token (shown once; only its SHA-256 is stored). The
/// creator hands the token to the new person, who redeems it at
/// `POST /v1/ops/enrol`; the creator never sees the password or the TOTP
/// secret, and is recorded as `created_by`.
pub(super) async fn create_operator<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    JsonBody(b): JsonBody<OperatorBody>,
) -> Answer {
    let mut roles = b.roles;
    roles.sort_by_key(|r| format!("{r:?}"));
    roles.dedup();
    if roles.is_empty() {
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "OPERATOR_ROLES",
            "give at least one role: operator, auditor, soc",
        ));
    }
    if !valid_name(&b.name) {
        return Err(ops_problem(OpsError::Name));
    }
    let password_hash = unusable_password_hash().await?;
    let token = hex(&random_bytes::<32>().map_err(ops_problem)?);
    let now = st.cfg.clock.now_unix();
    let expires_unix = now + st.cfg.enrolment_secs;
    let _accounts = st.accounts.lock().await;
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
    let rec = OperatorRecord {
        name: b.name.clone(),
        password_hash,
        totp_sealed: Vec::new(),
        roles: roles.clone(),
        last_totp_step: 0,
        failures: 0,
        locked_until: 0,
        created_by: Some(s.actor()),
        disabled: false,
        held_password_hash: None,
        sessions_not_before_unix: 0,
        enrolment: Some(Enrolment {
            token_hash: token_hash(&token),
            expires_unix,
        }),
    };
    st.store.put_operator(rec).await.map_err(store_problem)?;
    record(
        &st,
        &s.actor(),
        format!("operator/{}", b.name),
        json!({"action": "operator.create", "name": b.name, "roles": roles, "enrolment_expires_unix": expires_unix}),
    )
    .await?;
    Ok(Json(json!({
        "name": b.name,
        "roles": roles,
        "created_by": s.actor(),
        "enrolment_token": token,
        "enrolment_expires_unix": expires_unix,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
/// `POST /v1/ops/enrol`: the account, its enrolment token and the password
/// its holder chooses.
pub(super) struct EnrolBody {
    name: String,
    token: String,
    password: String,
}

/// `POST /v1/ops/enrol` (no session): redeem an enrolment token once. The
/// holder sets their own password ([`MIN_PASSWORD_CHARS`]–[`MAX_PASSWORD_CHARS`]
/// characters) and receives a new TOTP secret, shown this once. Tokens are
/// compared as SHA-256 digests.
pub(super) async fn enrol<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    JsonBody(b): JsonBody<EnrolBody>,
) -> Answer {
    let chars = b.password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) || b.password == b.name {
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "PASSWORD_POLICY",
            format!(
                "password: choose {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters, not your name"
            ),
        ));
    }
    let invalid = || {
        problem(
            StatusCode::UNAUTHORIZED,
            "ENROLMENT_INVALID",
            "the name or the enrolment token is wrong, or the token was used or has expired: ask an operator for a new account",
        )
    };
    let given = token_hash(b.token.trim());
    let now = st.cfg.clock.now_unix();
    let _accounts = st.accounts.lock().await;
    let mut rec = st
        .store
        .operator(&b.name)
        .await
        .map_err(store_problem)?
        .ok_or_else(invalid)?;
    let pending = rec
        .enrolment
        .as_ref()
        .filter(|e| !rec.disabled && e.token_hash == given)
        .ok_or_else(invalid)?;
    if pending.expires_unix <= now {
        return Err(problem(
            StatusCode::UNAUTHORIZED,
            "ENROLMENT_EXPIRED",
            "the enrolment token has expired: ask an operator for a new account",
        ));
    }
    let (sealer, name, pw) = (st.sealer.clone(), rec.name.clone(), b.password);
    let (password_hash, (totp_sealed, totp_secret, otpauth_url)) =
        tokio::task::spawn_blocking(move || -> Result<_, OpsError> {
            let h = password::hash(pw.as_bytes())
                .map_err(|_| OpsError::Crypto("argon2 hashing failed"))?;
            Ok((h, new_totp(&sealer, &name)?))
        })
        .await
        .map_err(|_| {
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "enrolment failed",
            )
        })?
        .map_err(ops_problem)?;
    rec.password_hash = password_hash;
    rec.totp_sealed = totp_sealed;
    rec.enrolment = None;
    rec.last_totp_step = 0;
    rec.failures = 0;
    rec.locked_until = 0;
    let (name, roles) = (rec.name.clone(), rec.roles.clone());
    st.store.put_operator(rec).await.map_err(store_problem)?;
    record(
        &st,
        &einvoice_store::operator_actor(&name),
        format!("operator/{name}"),
        json!({"action": "operator.enrol", "name": name}),
    )
    .await?;
    Ok(Json(json!({
        "name": name,
        "roles": roles,
        "totp_secret": totp_secret,
        "otpauth_url": otpauth_url,
    })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
/// An optional body `{reason}` of a disable or enable.
pub(super) struct ReasonBody {
    #[serde(default, deserialize_with = "reason_text")]
    reason: Option<String>,
}

/// Most characters of a recorded reason (the document's `maxLength`).
const MAX_REASON_CHARS: usize = 1000;

/// A reason of at most [`MAX_REASON_CHARS`] characters, or `null`.
pub(super) fn reason_text<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    let r = <Option<String> as serde::Deserialize>::deserialize(d)?;
    match r {
        Some(text) if text.chars().count() > MAX_REASON_CHARS => Err(serde::de::Error::custom(
            format!("reason: at most {MAX_REASON_CHARS} characters"),
        )),
        r => Ok(r),
    }
}

/// Parse an optional JSON body: empty is the default.
pub(super) fn optional_body<T: serde::de::DeserializeOwned + Default>(
    raw: &[u8],
) -> Result<T, Problem> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        super::answer::body(raw)
    }
}

impl ReasonBody {
    /// The reason, trimmed; `None` when empty.
    pub(super) fn reason(self) -> Option<String> {
        self.reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
    }
}

/// The account `name`, or `404 OPERATOR_UNKNOWN`.
async fn account<S: Store>(st: &OpsState<S>, name: &str) -> Result<OperatorRecord, Problem> {
    st.store
        .operator(name)
        .await
        .map_err(store_problem)?
        .ok_or_else(|| {
            problem(
                StatusCode::NOT_FOUND,
                "OPERATOR_UNKNOWN",
                format!("no operator {name}"),
            )
        })
}

/// `POST /v1/ops/operators/{name}/disable` `{reason?}`: the account can no
/// longer log in and all its sessions end at once. Not one's own account
/// (`409 OPERATOR_SELF`).
pub(super) async fn disable_operator<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    UrlPath(name): UrlPath<String>,
    raw: axum::body::Bytes,
) -> Answer {
    let reason = optional_body::<ReasonBody>(&raw)?.reason();
    if name == s.name {
        return Err(problem(
            StatusCode::CONFLICT,
            "OPERATOR_SELF",
            "you cannot disable your own account: another operator must",
        ));
    }
    let unusable = unusable_password_hash().await?;
    // A login reads, checks and writes the account back under the account's
    // lock: taking it here keeps a login in flight from undoing the disable.
    let lock = super::session::account_lock(&name);
    let _login = lock.lock().await;
    let now = st.cfg.clock.now_unix();
    let _accounts = st.accounts.lock().await;
    let mut rec = account(&st, &name).await?;
    if rec.disabled {
        return Err(problem(
            StatusCode::CONFLICT,
            "OPERATOR_DISABLED",
            format!("operator {name} is already disabled"),
        ));
    }
    rec.held_password_hash = Some(std::mem::replace(&mut rec.password_hash, unusable));
    rec.disabled = true;
    rec.sessions_not_before_unix = now;
    st.store.put_operator(rec).await.map_err(store_problem)?;
    record(
        &st,
        &s.actor(),
        format!("operator/{name}"),
        json!({"action": "operator.disable", "name": name, "reason": reason}),
    )
    .await?;
    Ok(Json(
        json!({"name": name, "disabled": true, "sessions_ended_unix": now}),
    ))
}

/// `POST /v1/ops/operators/{name}/enable` `{reason?}`: the account's own
/// password and TOTP secret work again; the sessions ended by the disable
/// stay ended.
pub(super) async fn enable_operator<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    UrlPath(name): UrlPath<String>,
    raw: axum::body::Bytes,
) -> Answer {
    let reason = optional_body::<ReasonBody>(&raw)?.reason();
    // Sessions issued in the second of the disable count as ended: the
    // credentials work again only from the next second, so no session
    // issued after this enable is taken for one of those.
    let ended = account(&st, &name).await?.sessions_not_before_unix;
    if st.cfg.clock.now_unix() <= ended {
        tokio::time::sleep(std::time::Duration::from_millis(1001)).await;
    }
    let lock = super::session::account_lock(&name);
    let _login = lock.lock().await;
    let _accounts = st.accounts.lock().await;
    let mut rec = account(&st, &name).await?;
    let Some(held) = rec.held_password_hash.take().filter(|_| rec.disabled) else {
        return Err(problem(
            StatusCode::CONFLICT,
            "OPERATOR_ENABLED",
            format!("operator {name} is not disabled"),
        ));
    };
    rec.password_hash = held;
    rec.disabled = false;
    rec.failures = 0;
    rec.locked_until = 0;
    st.store.put_operator(rec).await.map_err(store_problem)?;
    record(
        &st,
        &s.actor(),
        format!("operator/{name}"),
        json!({"action": "operator.enable", "name": name, "reason": reason}),
    )
    .await?;
    Ok(Json(json!({"name": name, "disabled": false})))
}

/// The accounts whose holders handed `name` its credentials: its creator,
/// the creator's creator, and so on (local accounts end the line).
async fn creators<S: Store>(st: &OpsState<S>, name: &str) -> Result<Vec<String>, Problem> {
    let mut line = Vec::new();
    let mut at = name.to_string();
    // A line longer than this is cut (accounts are few; a cycle cannot be
    // made through the API, but a corrupt store must not loop).
    for _ in 0..64 {
        let Some(rec) = st.store.operator(&at).await.map_err(store_problem)? else {
            break;
        };
        let Some(creator) = rec
            .created_by
            .as_deref()
            .and_then(|c| c.strip_prefix("operator:"))
        else {
            break;
        };
        if creator == name || line.iter().any(|l| l == creator) {
            break;
        }
        line.push(creator.to_string());
        at = creator.to_string();
    }
    Ok(line)
}

/// Do the creation lines of `a` and `b` meet: did one create the other
/// (directly or through accounts it created), or did one account create
/// both? Such a pair may be one person as far as the two-person rule goes:
/// whoever creates an account holds its enrolment token and could have
/// redeemed it themselves. Accounts made on the data directory start lines
/// of their own.
pub(super) async fn same_line<S: Store>(
    st: &OpsState<S>,
    a: &str,
    b: &str,
) -> Result<bool, Problem> {
    let mut line_a = creators(st, a).await?;
    line_a.push(a.to_string());
    let mut line_b = creators(st, b).await?;
    line_b.push(b.to_string());
    Ok(line_a.iter().any(|x| line_b.contains(x)))
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

#[cfg(test)]
mod reason_tests {
    use super::*;

    #[test]
    fn a_reason_longer_than_the_documented_limit_is_refused() {
        let body = |n: usize| format!(r#"{{"reason":"{}"}}"#, "理".repeat(n));
        let ok: ReasonBody = optional_body(body(1000).as_bytes()).expect("1000 characters");
        assert_eq!(ok.reason().map(|r| r.chars().count()), Some(1000));
        assert!(optional_body::<ReasonBody>(body(1001).as_bytes()).is_err());
        assert!(
            optional_body::<ReasonBody>(b"")
                .expect("empty")
                .reason()
                .is_none()
        );
    }
}
