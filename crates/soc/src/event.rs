//! Security events, shaped like OCSF: class, severity, time, actor, source
//! address, target, outcome and a small map of typed attributes.
//!
//! # No secrets, by construction
//!
//! Nothing in an event is free-form text from a request. Attribute keys are a
//! closed set ([`AttrKey`]) with no key for a password, verification code,
//! token or card number; text values are [`Label`]s (short, printable, and
//! refused when they look like a card number). A secret that an event must
//! refer to (a replayed nonce, a guessed code) enters only as a
//! [`Redacted`] value, which can be turned into a [`Fingerprint`] (a
//! domain-separated SHA-256 prefix) and never serialises or prints its
//! plaintext. The test `no_secret_reaches_a_serialised_event` plants secrets
//! through every constructor of every class and searches the output.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// Why a value was refused as part of an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A label was empty, too long or held a character outside printable ASCII.
    #[error("soc.label: {0:?} is not a label (1..=128 printable ASCII characters)")]
    Label(String),
    /// A label held 13 or more digits in a row (a card number, or a code).
    #[error("soc.label_digits: a label may not hold a run of 13 or more digits")]
    LooksLikeCardNumber,
    /// A seller's unified business number is not 8 digits.
    #[error("soc.ubn: {0:?} is not 8 digits")]
    Ubn(String),
    /// An attribute key is not one of [`AttrKey`].
    #[error("soc.attr_key: unknown attribute {0:?}")]
    AttrKey(String),
    /// An event class name is not one of [`EventClass`].
    #[error("soc.class: unknown event class {0:?}")]
    Class(String),
    /// A severity id outside 0..=6.
    #[error("soc.severity: {0} is not an OCSF severity id (0..=6)")]
    Severity(u8),
}

/// Short printable text: an identifier, a reason code, a route. 1..=128
/// printable ASCII characters, and no run of 13 or more digits (so a card
/// number cannot be stored as one, even by mistake).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Label(String);

impl Label {
    /// Check and wrap.
    pub fn new(s: impl Into<String>) -> Result<Self, EventError> {
        let s = s.into();
        if s.is_empty() || s.len() > 128 || !s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(EventError::Label(s.chars().take(32).collect()));
        }
        let mut run = 0;
        for b in s.bytes() {
            run = if b.is_ascii_digit() { run + 1 } else { 0 };
            if run >= 13 {
                return Err(EventError::LooksLikeCardNumber);
            }
        }
        Ok(Self(s))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Label::new(s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret an event refers to but must never contain: a nonce, a guessed
/// verification code, a token. It prints and serialises as `[redacted]`;
/// the only thing that leaves it is its [`Fingerprint`].
#[derive(Clone)]
pub struct Redacted(String);

impl Redacted {
    /// Wrap a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// A 16-byte, domain-separated SHA-256 prefix: equal secrets give equal
    /// fingerprints (so a replayed nonce can be counted), the secret itself
    /// cannot be read back for high-entropy values.
    pub fn fingerprint(&self) -> Fingerprint {
        let mut h = Sha256::new();
        h.update(b"einvoice/soc/fingerprint/v1\0");
        h.update(self.0.as_bytes());
        let d: [u8; 32] = h.finalize().into();
        let mut out = [0u8; 16];
        out.copy_from_slice(&d[..16]);
        Fingerprint(out)
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Redacted {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// The fingerprint of a [`Redacted`] secret: 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(pub [u8; 16]);

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::hex(&self.0))
    }
}

impl Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let v = crate::unhex(&s).ok_or_else(|| serde::de::Error::custom("expected hex"))?;
        let a: [u8; 16] = v
            .try_into()
            .map_err(|_| serde::de::Error::custom("expected 32 hex digits"))?;
        Ok(Self(a))
    }
}

/// The event class (OCSF's `class_uid`, named for this service).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventClass {
    /// A login or verification attempt (operator password, carrier code, API key).
    Authentication,
    /// An authenticated caller asked for something outside its scope or role.
    AuthorizationDenied,
    /// An App API or webhook signature did not verify.
    SignatureFailure,
    /// A signed request's nonce was seen before.
    Replay,
    /// A request refused by a rate limit or attempt budget.
    RateLimited,
    /// A request refused by load shedding or a connection cap.
    Shed,
    /// A burst of refused (invalid) messages from one caller.
    ValidationFlood,
    /// Something an operator did (draft, approve, create an account, respond).
    OperatorAction,
    /// A sync peer's chain did not verify.
    SyncChainBreak,
    /// The antivirus scanner's verdict on an upload.
    ScannerVerdict,
    /// A public lookup or an App API `qryInvHeader`/`qryInvDetail`.
    Lookup,
    /// An invoice issued, voided or allowance made by a seller.
    Issuance,
}

impl EventClass {
    /// Every class, in declaration order.
    pub const ALL: [EventClass; 12] = [
        EventClass::Authentication,
        EventClass::AuthorizationDenied,
        EventClass::SignatureFailure,
        EventClass::Replay,
        EventClass::RateLimited,
        EventClass::Shed,
        EventClass::ValidationFlood,
        EventClass::OperatorAction,
        EventClass::SyncChainBreak,
        EventClass::ScannerVerdict,
        EventClass::Lookup,
        EventClass::Issuance,
    ];

    /// The snake_case name (as serialised and as written in rules).
    pub fn name(self) -> &'static str {
        match self {
            EventClass::Authentication => "authentication",
            EventClass::AuthorizationDenied => "authorization_denied",
            EventClass::SignatureFailure => "signature_failure",
            EventClass::Replay => "replay",
            EventClass::RateLimited => "rate_limited",
            EventClass::Shed => "shed",
            EventClass::ValidationFlood => "validation_flood",
            EventClass::OperatorAction => "operator_action",
            EventClass::SyncChainBreak => "sync_chain_break",
            EventClass::ScannerVerdict => "scanner_verdict",
            EventClass::Lookup => "lookup",
            EventClass::Issuance => "issuance",
        }
    }
}

/// OCSF severity ids 0..=6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// 0.
    Unknown,
    /// 1.
    Informational,
    /// 2.
    Low,
    /// 3.
    Medium,
    /// 4.
    High,
    /// 5.
    Critical,
    /// 6.
    Fatal,
}

impl Severity {
    /// The OCSF `severity_id`.
    pub fn id(self) -> u8 {
        self as u8
    }

    /// From an OCSF `severity_id`.
    pub fn from_id(id: u8) -> Result<Self, EventError> {
        Ok(match id {
            0 => Severity::Unknown,
            1 => Severity::Informational,
            2 => Severity::Low,
            3 => Severity::Medium,
            4 => Severity::High,
            5 => Severity::Critical,
            6 => Severity::Fatal,
            _ => return Err(EventError::Severity(id)),
        })
    }

    /// The RFC 5424 severity (0 emergency .. 7 debug) this maps to.
    pub fn syslog(self) -> u8 {
        match self {
            Severity::Fatal => 1,
            Severity::Critical => 2,
            Severity::High => 3,
            Severity::Medium => 4,
            Severity::Low => 5,
            Severity::Informational | Severity::Unknown => 6,
        }
    }
}

/// A seller's unified business number (8 digits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Ubn(String);

impl Ubn {
    /// Check and wrap.
    pub fn new(s: &str) -> Result<Self, EventError> {
        if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(EventError::Ubn(s.chars().take(16).collect()))
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Ubn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ubn::new(&s).map_err(serde::de::Error::custom)
    }
}

/// Who acted: typed, never a credential.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A seller, by business number.
    Seller(Ubn),
    /// A carrier holder, by carrier id (e.g. a mobile barcode; an identifier, not a secret).
    Carrier(Label),
    /// An operator, by account name.
    Operator(Label),
    /// An App API application, by app id.
    App(Label),
    /// An integrator's API key, by key id.
    ApiKey(Label),
    /// A sync peer site, by site id.
    Site(Label),
    /// The service itself (scanner, sync, detector).
    System,
    /// Nobody authenticated.
    Anonymous,
}

impl Actor {
    /// `kind:id` (or `kind`), the form rules key on.
    pub fn key(&self) -> String {
        match self {
            Actor::Seller(u) => format!("seller:{}", u.as_str()),
            Actor::Carrier(l) => format!("carrier:{l}"),
            Actor::Operator(l) => format!("operator:{l}"),
            Actor::App(l) => format!("app:{l}"),
            Actor::ApiKey(l) => format!("key:{l}"),
            Actor::Site(l) => format!("site:{l}"),
            Actor::System => "system".into(),
            Actor::Anonymous => "anonymous".into(),
        }
    }
}

/// What came of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Success,
    /// Tried and failed (wrong code, bad signature).
    Failure,
    /// Not tried: refused by policy (rate limit, lock, block, shedding).
    Refused,
}

impl Outcome {
    /// The snake_case name.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Refused => "refused",
        }
    }
}

/// The closed set of attribute keys. There is deliberately no key for a
/// password, verification code, token, secret or card number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttrKey {
    /// Which interface (`public_lookup`, `qryInvHeader`, `app_api`, `ops`, `upload`).
    Api,
    /// What was authenticated (`carrier`, `operator`, `api_key`, `app`).
    Subject,
    /// A machine reason code (`wrong_code`, `locked`, `outside_tracks`, ...).
    Reason,
    /// An operator or response action name (`winning.enter`, as the ledger names it, ...).
    Action,
    /// An invoice number (`AB12345678`).
    InvoiceNumber,
    /// A signing key or API key id.
    KeyId,
    /// An App API app id.
    AppId,
    /// A [`Fingerprint`] of a nonce (never the nonce).
    NonceFingerprint,
    /// A count (refused messages in a flood, entries in an upload).
    Count,
    /// A route template (`/v1/invoices/{id}`), never a full URL with a query.
    Route,
    /// An HTTP status.
    Status,
    /// A scanner's signature name (`Eicar-Test-Signature`).
    Signature,
    /// A sync peer or site id.
    Peer,
    /// A ledger or event sequence number.
    Seq,
}

impl AttrKey {
    /// The snake_case name (as in rules, `attr.<name>`).
    pub fn name(self) -> &'static str {
        match self {
            AttrKey::Api => "api",
            AttrKey::Subject => "subject",
            AttrKey::Reason => "reason",
            AttrKey::Action => "action",
            AttrKey::InvoiceNumber => "invoice_number",
            AttrKey::KeyId => "key_id",
            AttrKey::AppId => "app_id",
            AttrKey::NonceFingerprint => "nonce_fingerprint",
            AttrKey::Count => "count",
            AttrKey::Route => "route",
            AttrKey::Status => "status",
            AttrKey::Signature => "signature",
            AttrKey::Peer => "peer",
            AttrKey::Seq => "seq",
        }
    }

    /// Parse a snake_case name.
    pub fn parse(s: &str) -> Result<Self, EventError> {
        ALL_ATTR_KEYS
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| EventError::AttrKey(s.chars().take(32).collect()))
    }
}

const ALL_ATTR_KEYS: [AttrKey; 14] = [
    AttrKey::Api,
    AttrKey::Subject,
    AttrKey::Reason,
    AttrKey::Action,
    AttrKey::InvoiceNumber,
    AttrKey::KeyId,
    AttrKey::AppId,
    AttrKey::NonceFingerprint,
    AttrKey::Count,
    AttrKey::Route,
    AttrKey::Status,
    AttrKey::Signature,
    AttrKey::Peer,
    AttrKey::Seq,
];

/// A typed attribute value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttrValue {
    /// A number.
    Int(i64),
    /// A flag.
    Bool(bool),
    /// A label (also how a [`Fingerprint`] is stored, as hex).
    Text(Label),
}

impl AttrValue {
    /// The value as rules compare it.
    pub fn render(&self) -> String {
        match self {
            AttrValue::Int(i) => i.to_string(),
            AttrValue::Bool(b) => b.to_string(),
            AttrValue::Text(l) => l.as_str().to_owned(),
        }
    }
}

/// One security event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEvent {
    /// What kind of event.
    pub class: EventClass,
    /// How bad.
    pub severity: Severity,
    /// When, in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Who.
    pub actor: Actor,
    /// From which client address (`None` for the service's own events).
    pub src: Option<IpAddr>,
    /// On what (a carrier id, a seller, a route, a peer).
    pub target: Label,
    /// What came of it.
    pub outcome: Outcome,
    /// Typed attributes.
    #[serde(default)]
    pub attrs: BTreeMap<AttrKey, AttrValue>,
}

impl SecurityEvent {
    /// A new event with no attributes.
    pub fn new(
        class: EventClass,
        severity: Severity,
        time_ms: u64,
        actor: Actor,
        src: Option<IpAddr>,
        target: Label,
        outcome: Outcome,
    ) -> Self {
        Self {
            class,
            severity,
            time_ms,
            actor,
            src,
            target,
            outcome,
            attrs: BTreeMap::new(),
        }
    }

    /// Add a text attribute (checked as a [`Label`]).
    pub fn with_text(mut self, key: AttrKey, value: &str) -> Result<Self, EventError> {
        self.attrs.insert(key, AttrValue::Text(Label::new(value)?));
        Ok(self)
    }

    /// Add a number attribute.
    pub fn with_int(mut self, key: AttrKey, value: i64) -> Self {
        self.attrs.insert(key, AttrValue::Int(value));
        self
    }

    /// Add the fingerprint of a secret (never the secret).
    pub fn with_fingerprint(mut self, key: AttrKey, secret: &Redacted) -> Self {
        // Grouped by 8 (`xxxxxxxx-xxxxxxxx-...`): never a 13-digit run, always a Label.
        let hex = secret.fingerprint().to_string();
        let grouped: Vec<&str> = (0..4).map(|i| &hex[i * 8..i * 8 + 8]).collect();
        if let Ok(l) = Label::new(grouped.join("-")) {
            self.attrs.insert(key, AttrValue::Text(l));
        }
        self
    }

    /// A carrier verification attempt: `target` is the carrier id, the code
    /// tried enters only as [`Redacted`] and is not recorded at all.
    pub fn carrier_verification(
        time_ms: u64,
        src: IpAddr,
        carrier: Label,
        _code_tried: &Redacted,
        outcome: Outcome,
        reason: Option<&str>,
    ) -> Result<Self, EventError> {
        let severity = if outcome == Outcome::Success {
            Severity::Informational
        } else {
            Severity::Low
        };
        let mut e = Self::new(
            EventClass::Authentication,
            severity,
            time_ms,
            Actor::Anonymous,
            Some(src),
            carrier,
            outcome,
        )
        .with_text(AttrKey::Subject, "carrier")?;
        if let Some(r) = reason {
            e = e.with_text(AttrKey::Reason, r)?;
        }
        Ok(e)
    }

    /// An operator login attempt; the password enters only as [`Redacted`].
    pub fn operator_login(
        time_ms: u64,
        src: IpAddr,
        operator: Label,
        _password: &Redacted,
        outcome: Outcome,
    ) -> Result<Self, EventError> {
        Self::new(
            EventClass::Authentication,
            if outcome == Outcome::Success {
                Severity::Informational
            } else {
                Severity::Low
            },
            time_ms,
            Actor::Operator(operator.clone()),
            Some(src),
            operator,
            outcome,
        )
        .with_text(AttrKey::Subject, "operator")
    }

    /// A replayed signed request: the nonce is recorded as a fingerprint.
    pub fn replay(time_ms: u64, src: IpAddr, app: Label, nonce: &Redacted) -> Self {
        Self::new(
            EventClass::Replay,
            Severity::Medium,
            time_ms,
            Actor::App(app.clone()),
            Some(src),
            app,
            Outcome::Refused,
        )
        .with_fingerprint(AttrKey::NonceFingerprint, nonce)
    }

    /// A field rules can key or filter on (see [`Field`]).
    pub fn field(&self, f: &Field) -> Option<String> {
        match f {
            Field::Class => Some(self.class.name().into()),
            Field::Outcome => Some(self.outcome.name().into()),
            Field::Actor => Some(self.actor.key()),
            Field::Src => self.src.map(|a| a.to_string()),
            Field::Target => Some(self.target.as_str().into()),
            Field::Attr(k) => self.attrs.get(k).map(AttrValue::render),
        }
    }
}

/// A field of an event that a rule keys on or counts distinct values of:
/// `class`, `outcome`, `actor`, `src`, `target` or `attr.<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// The class name.
    Class,
    /// The outcome name.
    Outcome,
    /// [`Actor::key`].
    Actor,
    /// The source address.
    Src,
    /// The target.
    Target,
    /// An attribute.
    Attr(AttrKey),
}

impl Field {
    /// Parse `class`, `outcome`, `actor`, `src`, `target` or `attr.<name>`.
    pub fn parse(s: &str) -> Result<Self, EventError> {
        Ok(match s {
            "class" => Field::Class,
            "outcome" => Field::Outcome,
            "actor" => Field::Actor,
            "src" => Field::Src,
            "target" => Field::Target,
            _ => match s.strip_prefix("attr.") {
                Some(a) => Field::Attr(AttrKey::parse(a)?),
                None => return Err(EventError::AttrKey(s.chars().take(32).collect())),
            },
        })
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Class => f.write_str("class"),
            Field::Outcome => f.write_str("outcome"),
            Field::Actor => f.write_str("actor"),
            Field::Src => f.write_str("src"),
            Field::Target => f.write_str("target"),
            Field::Attr(k) => write!(f, "attr.{}", k.name()),
        }
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Field::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_refuse_card_numbers_and_control_characters() {
        assert_eq!(
            Label::new("4111111111111111"),
            Err(EventError::LooksLikeCardNumber)
        );
        assert_eq!(
            Label::new("card 4111-1111111111111"),
            Err(EventError::LooksLikeCardNumber)
        );
        assert!(Label::new("a\nb").is_err());
        assert!(Label::new("").is_err());
        assert!(Label::new("x".repeat(129)).is_err());
        assert!(Label::new("AB12345678").is_ok());
        assert!(serde_json::from_str::<Label>("\"4111111111111111\"").is_err());
    }

    #[test]
    fn redacted_never_prints() {
        let r = Redacted::new("hunter2");
        assert_eq!(format!("{r:?}"), "[redacted]");
        assert_eq!(
            serde_json::to_string(&r).unwrap_or_default(),
            "\"[redacted]\""
        );
        assert_eq!(r.fingerprint(), Redacted::new("hunter2").fingerprint());
        assert_ne!(r.fingerprint(), Redacted::new("hunter3").fingerprint());
    }

    #[test]
    fn fields_parse_and_print() {
        for s in [
            "class",
            "outcome",
            "actor",
            "src",
            "target",
            "attr.invoice_number",
        ] {
            assert_eq!(Field::parse(s).map(|f| f.to_string()).as_deref(), Ok(s));
        }
        assert!(Field::parse("attr.password").is_err());
        assert!(Field::parse("nope").is_err());
    }
}
