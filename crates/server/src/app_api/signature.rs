//! App API signatures (HMAC-SHA256 or HMAC-SHA1 over the sorted parameters,
//! Base64) and the app keys they are keyed with; [`check_app`] checks a
//! request's appID and signature; [`admit`] is the one preamble of every
//! action served on a path of its own (client limit, action, version,
//! signature, `timeStamp`, `serial`, app and app limit).

use super::answer::{Fail, code, fail};
use super::parameters::{Params, timestamp_param};
use super::router::rate_limited;
use super::state::AppState;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use einvoice_secrets::{SealError, Sealer, purpose};
use einvoice_store::Store;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};

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

/// appID known, signature valid when present (or required); a signed
/// request's `timeStamp` in its window and the request seen once (a replay —
/// the same parameters, `serial` and `timeStamp`, hence the same signature —
/// is refused with `906`). Answers the appID.
pub(super) async fn check_app<S: Store>(st: &AppState<S>, p: &Params) -> Result<String, Fail> {
    let app_id = p.req("appID")?;
    let app = st
        .store
        .app(app_id)
        .await?
        .filter(|a| !a.disabled)
        .ok_or_else(|| fail(code::APP, "unknown or disabled appID"))?;
    let sig = p.get("signature");
    if sig.is_none() && !st.cfg.require_signature {
        return Ok(app.app_id);
    }
    // Signature failures and replays are SOC events (appID and client only).
    let events = &st.cfg.lockout.events;
    let client = crate::soc_sources::ops_client();
    let Some(sig) = sig else {
        events.app_signature_failed(&app.app_id, client, "missing");
        return Err(fail(code::SIGNATURE, "signature is required"));
    };
    let key = AppKey::open(&st.sealer, &app.api_key_sealed)
        .map_err(|_| fail(code::UNAVAILABLE, "the app's key cannot be opened"))?;
    let text = signing_string(p.0.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if !verify_signature(key.alg, &key.key, &text, sig) {
        events.app_signature_failed(&app.app_id, client, "mismatch");
        return Err(fail(code::SIGNATURE, "signature does not verify"));
    }
    // Without mandatory signatures, a legacy signed query may omit timeStamp.
    if p.get("timeStamp").is_none() && !st.cfg.require_signature {
        return Ok(app.app_id);
    }
    let window = st.cfg.timestamp_window_secs;
    let ts = timestamp_param(p, st.cfg.clock.now_unix(), window)?;
    let seen_first = st
        .store
        .remember_nonce(
            &format!("app-api:{}", app.app_id),
            &signature_nonce(sig),
            ts.saturating_add(window),
        )
        .await?;
    if !seen_first {
        events.app_replayed(&app.app_id, client, &signature_nonce(sig));
        return Err(fail(
            code::REPLAY,
            "this signed request was already received: send a new serial and timeStamp",
        ));
    }
    Ok(app.app_id)
}

/// The replay key of a signature: its bytes as sent (a `+` read back from
/// a space), hashed so the store keeps a short fixed-size value.
fn signature_nonce(sig: &str) -> String {
    use sha2::Digest;
    let sig = sig.trim().replace(' ', "+");
    let d = sha2::Sha256::digest(sig.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the preamble checks for one action: its name (matched
/// case-insensitively), the versions it accepts and whether it must be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ActionRule {
    /// The action name as MOF spells it.
    pub(super) name: &'static str,
    /// The `version` values accepted.
    pub(super) versions: &'static [&'static str],
    /// A `signature` is required (and with it `timeStamp` in its window,
    /// `expTimeStamp` not passed when sent, and `serial`).
    pub(super) signed: bool,
}

/// The preamble of an action served on its own path (or one of a few on a
/// path): the client's limit (`907`), the action among `rules` (`902`), its
/// version (`902`), for a signed action the signature's presence (`904`),
/// `timeStamp`/`expTimeStamp` (`905`) and `serial` (`901`), then the app
/// and its signature ([`check_app`]) and the app's limit (`907`). Answers
/// the rule of the action named.
pub(super) async fn admit<S: Store>(
    st: &AppState<S>,
    p: &Params,
    client: &str,
    rules: &[ActionRule],
) -> Result<ActionRule, Fail> {
    st.per_client
        .check(client)
        .map_err(|l| rate_limited(l, "this client"))?;
    let named = p.req("action")?;
    let rule = rules
        .iter()
        .find(|r| named.eq_ignore_ascii_case(r.name))
        .copied()
        .ok_or_else(|| match rules {
            [only] => fail(
                code::ACTION,
                format!("this path answers only {}", only.name),
            ),
            _ => fail(code::ACTION, "unknown action for this path"),
        })?;
    let v = p.get("version").unwrap_or("");
    if !rule.versions.contains(&v) {
        return Err(fail(
            code::ACTION,
            format!("version must be one of {}", rule.versions.join(", ")),
        ));
    }
    if rule.signed {
        if p.get("signature").is_none() {
            return Err(fail(
                code::SIGNATURE,
                format!("{} must be signed: send signature", rule.name),
            ));
        }
        check_time(st, p)?;
        p.req("serial")?;
    }
    let app_id = check_app(st, p).await?;
    app_limit(st, &app_id)?;
    Ok(rule)
}

/// The per-appID limit (`907`).
pub(super) fn app_limit<S>(st: &AppState<S>, app_id: &str) -> Result<(), Fail> {
    st.per_app
        .check(app_id)
        .map_err(|l| rate_limited(l, "this appID"))
}

/// `timeStamp` within the window (`905`), `expTimeStamp` (if sent) not passed.
pub(super) fn check_time<S>(st: &AppState<S>, p: &Params) -> Result<(), Fail> {
    let now = st.cfg.clock.now_unix();
    timestamp_param(p, now, st.cfg.timestamp_window_secs)?;
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
