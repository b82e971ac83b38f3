//! More event sources for the SOC (issue 16, part 2): operator logins and
//! actions, replayed nonces, scope denials, shedding, scanner verdicts and
//! sync chain breaks, each reported through [`SecurityEvents`].
//!
//! Every event carries identifiers only (an operator name, a key id, an
//! action name, a client address): never a password, TOTP or verification
//! code, nonce (only its [`Redacted`] fingerprint) or card number — the
//! event types have no place for one.
//!
//! Operator actions are reported where they are written to the ledger
//! ([`crate::ops`]'s `record`); the client they came from is the request's,
//! kept for the handler's task by [`remember_ops_client`].

use crate::soc::{SecurityEvents, client_ip, label, now_ms};
use einvoice_soc::event::EventError;
use einvoice_soc::{Actor, AttrKey, EventClass, Label, Outcome, Redacted, SecurityEvent, Severity};
use std::net::IpAddr;

tokio::task_local! {
    /// The client address of the operator request being handled.
    static OPS_CLIENT: Option<IpAddr>;
}

/// Operator-route layer: keep the request's client address for the
/// handler's task, so the operator actions it records name where they came
/// from ([`ops_client`]).
pub async fn remember_ops_client(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let ip = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    OPS_CLIENT.scope(ip, next.run(req)).await
}

/// The client address of the operator or App API request this task handles,
/// if known (both routers carry [`remember_ops_client`]).
pub fn ops_client() -> Option<IpAddr> {
    OPS_CLIENT.try_with(|c| *c).ok().flatten()
}

/// The actor of a ledger actor string (`operator:<name>`, `key:<id>`,
/// `app:<id>`; anything else counts as the system).
pub fn ledger_actor(who: &str) -> Actor {
    match who.split_once(':') {
        Some(("operator", n)) => Actor::Operator(label(n)),
        Some(("key", k)) => Actor::ApiKey(label(k)),
        Some(("app", a)) => Actor::App(label(a)),
        _ => Actor::System,
    }
}

/// What a failed operator login reports instead of a typed name that names
/// no account (it may be a password typed in the wrong field): `unknown:`
/// and the first 4 hex digits of its fingerprint — enough to tell repeated
/// attempts apart, far too little to test a guess of a password against.
pub fn unknown_name_marker(typed: &str) -> String {
    let hex = Redacted::new(typed).fingerprint().to_string();
    format!("unknown:{}", hex.get(..4).unwrap_or("0000"))
}

impl SecurityEvents {
    /// An operator login (`POST /v1/ops/login`) by account `name` from
    /// `client`: `Success`, or `Failure` with `reason` (`wrong_credentials`
    /// for a wrong name, password or TOTP code — one reason for all, as the
    /// answer — or `locked`). Never the password or the code; a failed
    /// login's name is the caller's [`unknown_name_marker`] unless it names
    /// an account.
    pub fn operator_login(&self, name: &str, client: &str, outcome: Outcome, reason: &str) {
        let who = label(name);
        let severity = if outcome == Outcome::Success {
            Severity::Informational
        } else {
            Severity::Low
        };
        self.emit_with(|| {
            SecurityEvent::new(
                EventClass::Authentication,
                severity,
                now_ms(),
                Actor::Operator(who.clone()),
                client_ip(client),
                who,
                outcome,
            )
            .with_text(AttrKey::Subject, "operator")?
            .with_text(AttrKey::Api, "ops_login")?
            .with_text(AttrKey::Reason, reason)
        });
    }

    /// An operator action written to the ledger: `who` its ledger actor
    /// (`operator:<name>`), `action` its name (`winning.enter`,
    /// `key.revoke`, `soc.block_client`, ...), `target` its ledger key,
    /// `client` where the request came from.
    pub fn operator_action(&self, who: &str, client: Option<IpAddr>, action: &str, target: &str) {
        self.emit_with(|| {
            SecurityEvent::new(
                EventClass::OperatorAction,
                Severity::Informational,
                now_ms(),
                ledger_actor(who),
                client,
                label(target),
                Outcome::Success,
            )
            .with_text(AttrKey::Action, label(action).as_str())
        });
    }

    /// An App API call of app `app_id` from `client` whose signature was
    /// refused (`reason`: `missing` when required, `mismatch`): class
    /// signature failure, actor the app. Never the signature or the app's key.
    pub fn app_signature_failed(&self, app_id: &str, client: Option<IpAddr>, reason: &str) {
        let app = label(app_id);
        self.emit_with(|| {
            SecurityEvent::new(
                EventClass::SignatureFailure,
                Severity::Low,
                now_ms(),
                Actor::App(app.clone()),
                client,
                app.clone(),
                Outcome::Failure,
            )
            .with_text(AttrKey::Api, "app_api")?
            .with_text(AttrKey::AppId, app.as_str())?
            .with_text(AttrKey::Reason, reason)
        });
    }

    /// An App API signed call of app `app_id` received again (the same
    /// parameters, `serial` and `timeStamp`): class replay, the signature
    /// kept only as the fingerprint of `replay_key` (its digest).
    pub fn app_replayed(&self, app_id: &str, client: Option<IpAddr>, replay_key: &str) {
        let app = label(app_id);
        self.emit_with(|| {
            Ok::<_, EventError>(
                SecurityEvent::new(
                    EventClass::Replay,
                    Severity::Medium,
                    now_ms(),
                    Actor::App(app.clone()),
                    client,
                    app.clone(),
                    Outcome::Refused,
                )
                .with_text(AttrKey::Api, "app_api")?
                .with_text(AttrKey::AppId, app.as_str())?
                .with_fingerprint(AttrKey::NonceFingerprint, &Redacted::new(replay_key)),
            )
        });
    }

    /// A signed request whose nonce (or signature) was already used: `api`
    /// (`seller_api`), the key or app that signed it, the client. The nonce
    /// is kept only as its fingerprint.
    pub fn replayed(&self, api: &str, key_id: &str, nonce: &str, client: &str) {
        let key = label(key_id);
        self.emit_with(|| {
            Ok::<_, EventError>(
                SecurityEvent::new(
                    EventClass::Replay,
                    Severity::Medium,
                    now_ms(),
                    Actor::ApiKey(key.clone()),
                    client_ip(client),
                    key.clone(),
                    Outcome::Refused,
                )
                .with_text(AttrKey::Api, api)?
                .with_text(AttrKey::KeyId, key.as_str())?
                .with_fingerprint(AttrKey::NonceFingerprint, &Redacted::new(nonce)),
            )
        });
    }

    /// An authenticated caller refused for what it asked (`403`): `actor`
    /// who, `target` what (a seller's UBN, a route), `reason` the problem
    /// code (`TENANT_SCOPE`, `ROLE_FORBIDDEN`, ...).
    pub fn scope_denied(
        &self,
        api: &str,
        actor: Actor,
        client: Option<IpAddr>,
        target: &str,
        reason: &str,
    ) {
        self.emit_with(|| {
            SecurityEvent::new(
                EventClass::AuthorizationDenied,
                Severity::Low,
                now_ms(),
                actor,
                client,
                label(target),
                Outcome::Refused,
            )
            .with_text(AttrKey::Api, api)?
            .with_text(AttrKey::Reason, reason)
            .map(|e| e.with_int(AttrKey::Status, 403))
        });
    }

    /// A request shed (`503` with Retry-After) because `what` (`ops_login`,
    /// `carrier_check`, `uploads`) was at capacity.
    pub fn shed(&self, what: &str, client: &str) {
        self.emit_with(|| {
            SecurityEvent::new(
                EventClass::Shed,
                Severity::Low,
                now_ms(),
                Actor::Anonymous,
                client_ip(client),
                Label::new(what)?,
                Outcome::Refused,
            )
            .with_text(AttrKey::Api, what)
            .map(|e| e.with_int(AttrKey::Status, 503))
        });
    }

    /// The virus scanner's verdict on an upload by key `key_id`: `clean`
    /// (`Success`), `infected` with the `signature` found (`Refused`), or
    /// `none` when it could not scan (`Failure`; the upload is refused).
    pub fn scanner_verdict(
        &self,
        key_id: &str,
        client: &str,
        verdict: &str,
        signature: Option<&str>,
    ) {
        let key = label(key_id);
        let (outcome, severity) = match verdict {
            "clean" => (Outcome::Success, Severity::Informational),
            "infected" => (Outcome::Refused, Severity::High),
            _ => (Outcome::Failure, Severity::Medium),
        };
        self.emit_with(|| {
            let mut e = SecurityEvent::new(
                EventClass::ScannerVerdict,
                severity,
                now_ms(),
                Actor::ApiKey(key.clone()),
                client_ip(client),
                Label::new("uploads")?,
                outcome,
            )
            .with_text(AttrKey::Api, "uploads")?
            .with_text(AttrKey::KeyId, key.as_str())?
            .with_text(AttrKey::Reason, verdict)?;
            if let Some(sig) = signature {
                e = e.with_text(AttrKey::Signature, label(sig).as_str())?;
            }
            Ok::<_, EventError>(e)
        });
    }
}

/// Run the built-in rules over a stored log from its start (a stopped
/// site's `soc.sqlite`): the alerts and the incidents they open, as `einvoice
/// soc alerts|incidents --data` print them.
pub fn replay_incidents(
    log: &dyn einvoice_soc::EventLog,
) -> Result<(Vec<einvoice_soc::AlertLine>, Vec<einvoice_soc::Incident>), crate::soc::ReplayError> {
    let mut detector = einvoice_soc::Detector::new(einvoice_soc::builtin_rules()?);
    let mut book = einvoice_soc::IncidentBook::new();
    let mut alerts = Vec::new();
    let mut from = 1;
    loop {
        let recs = log.read(from, 4096)?;
        let Some(last) = recs.last() else { break };
        from = last.seq + 1;
        for r in &recs {
            for a in detector.feed(&r.event) {
                let id = book.file(a.clone());
                alerts.push(einvoice_soc::AlertLine::new(&a, id));
            }
        }
    }
    Ok((alerts, book.all().to_vec()))
}
