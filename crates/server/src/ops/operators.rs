//! Operator accounts: a new account's one-time secrets, the bootstrap of the
//! first operator (CLI, local) and `POST /v1/ops/operators`.

use super::answer::{Answer, JsonBody, ops_problem, problem, record};
use super::session::{Operator, RoleOperator};
use super::state::{OpsError, OpsState, random_bytes};
use super::totp::totp_for;
use crate::password;
use crate::problem::store_problem;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use einvoice_secrets::{Sealer, purpose};
use einvoice_store::{NewEntry, OperatorRecord, Role, Store, canonical_json};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
/// `POST /v1/ops/operators`: the new operator's name and roles.
pub(super) struct OperatorBody {
    name: String,
    roles: Vec<Role>,
}

pub(super) async fn create_operator<S: Store>(
    State(st): State<Arc<OpsState<S>>>,
    s: Operator<RoleOperator>,
    JsonBody(b): JsonBody<OperatorBody>,
) -> Answer {
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
