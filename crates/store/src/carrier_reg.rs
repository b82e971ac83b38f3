//! Registration of mobile-barcode carriers by email (issue 17): pending
//! challenges (registration or forgotten-code reset, each with a single-use,
//! expiring confirmation code of which only the SHA-256 is stored), the
//! carriers' contacts (email, phone), the ledger entries that issue a
//! barcode or change its verification code, and the mail outbox the SMTP
//! sender drains.
//!
//! A barcode is issued, and a verification code changed, as a ledger entry
//! of the receiving site ([`CARRIER_REGISTERED`], [`CARRIER_VERIFICATION`])
//! appended in the same transaction that writes the carrier's record; the
//! entry carries the Argon2id PHC string of the verification code (never the
//! code) and the contact, so an import or a sync projects the carrier like
//! the site that accepted it ([`crate::CarrierLifeReplay::Carrier`]).

use crate::{NewEntry, OutboxItem, OutboxOutcome, Receipt, StoreError, canonical_json};
use einvoice_core::Carrier;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::future::Future;

/// Ledger kind of the issue of a mobile barcode after a confirmed registration.
pub const CARRIER_REGISTERED: &str = "CARRIER_REGISTERED";
/// Ledger kind of a change (or reset) of a carrier's verification code.
pub const CARRIER_VERIFICATION: &str = "CARRIER_VERIFICATION";
/// Kind of the mail outbox items.
pub const MAIL_KIND: &str = "mail";

/// What a challenge confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengePurpose {
    /// A new mobile barcode (issued on confirmation).
    Register,
    /// A forgotten verification code of an existing carrier (set on confirmation).
    Reset,
}

impl ChallengePurpose {
    /// Stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Reset => "reset",
        }
    }

    /// From the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "register" => Some(Self::Register),
            "reset" => Some(Self::Reset),
            _ => None,
        }
    }
}

/// A pending registration or reset, confirmed by a code sent by email.
#[derive(Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Random id (the path segment of the confirm route).
    pub id: String,
    /// What it confirms.
    pub purpose: ChallengePurpose,
    /// The address the code was sent to.
    pub email: String,
    /// The phone number (10 digits).
    pub phone: String,
    /// For a reset: the carrier whose code is reset.
    pub carrier: Option<Carrier>,
    /// For a registration: the Argon2id PHC string of the verification code
    /// chosen at registration, if one was (otherwise it is given on confirmation).
    pub verification_hash: Option<String>,
    /// Lowercase hex SHA-256 of the confirmation code.
    pub code_sha256: String,
    /// Created, Unix seconds.
    pub created_unix: i64,
    /// The code is refused from this Unix second on.
    pub expires_unix: i64,
    /// Confirmation attempts counted so far (right or wrong).
    pub attempts: u32,
    /// Confirmed already (a code is single-use).
    pub used: bool,
}

impl std::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenge")
            .field("id", &self.id)
            .field("purpose", &self.purpose)
            .field("carrier", &self.carrier)
            .field("expires_unix", &self.expires_unix)
            .field("attempts", &self.attempts)
            .field("used", &self.used)
            .finish_non_exhaustive()
    }
}

/// A carrier's contact (where its mail goes, and the phone it was registered with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierContact {
    /// The carrier.
    pub carrier: Carrier,
    /// Email address.
    pub email: String,
    /// Phone number (10 digits).
    pub phone: String,
}

/// One email to send: queued in the store, sent by the SMTP sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailMessage {
    /// Outbox id (unique; a second queue of the same id is ignored).
    pub id: String,
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
}

impl MailMessage {
    /// The outbox item body (JSON `{"to","subject","text"}`).
    pub fn body(&self) -> String {
        json!({"to": self.to, "subject": self.subject, "text": self.text}).to_string()
    }

    /// Back from an outbox item (`None` if its body is not a mail).
    pub fn from_item(item: &OutboxItem) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(&item.body).ok()?;
        let s = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        Some(Self {
            id: item.id.clone(),
            to: s("to")?,
            subject: s("subject")?,
            text: s("text")?,
        })
    }
}

/// The carrier record a registration or a code change writes, as carried
/// in its ledger entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierCredential {
    /// The carrier.
    pub carrier: Carrier,
    /// Argon2id PHC string of the verification code.
    pub verification_hash: String,
    /// The contact, on registration.
    pub contact: Option<CarrierContact>,
}

impl CarrierCredential {
    /// The ledger entry: [`CARRIER_REGISTERED`] when it has a contact, else
    /// [`CARRIER_VERIFICATION`]; key `carrier/<type>:<id>`.
    pub fn ledger_entry(&self, actor: &str) -> NewEntry {
        let mut body = json!({
            "carrier_type": self.carrier.kind.code(),
            "carrier_id": self.carrier.id,
            "verification_hash": self.verification_hash,
        });
        let kind = match (&self.contact, body.as_object_mut()) {
            (Some(c), Some(m)) => {
                m.insert("email".into(), json!(c.email));
                m.insert("phone".into(), json!(c.phone));
                CARRIER_REGISTERED
            }
            _ => CARRIER_VERIFICATION,
        };
        NewEntry {
            kind: kind.into(),
            key: format!("carrier/{}", crate::carrier_key(&self.carrier)),
            actor: actor.into(),
            body: canonical_json(&body),
        }
    }
}

/// The outcome of [`CarrierRegStore::complete_challenge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompleteOutcome {
    /// Done: the receipt of the ledger entry.
    Done(Receipt),
    /// The challenge was used already (or is unknown): nothing written.
    Used,
    /// Registration only: the barcode is taken (draw another one); nothing written.
    BarcodeTaken,
    /// Registration only: the phone or email has a carrier already; nothing written.
    ContactTaken,
}

/// The carrier registration storage (a supertrait of [`crate::Store`]).
pub trait CarrierRegStore: Send + Sync {
    /// Store a new challenge and queue its mail, in one transaction.
    fn put_challenge(
        &self,
        challenge: Challenge,
        mail: MailMessage,
        now_unix: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Count one confirmation attempt at challenge `id` before its code is
    /// compared (so parallel guesses cannot outrun the count), and return
    /// it as it is after the count; `None` when unknown.
    fn attempt_challenge(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Challenge>, StoreError>> + Send;

    /// Confirm challenge `id`: in one transaction, mark it used (only if it
    /// was not), write the carrier's record (failures reset; on
    /// registration only if the barcode, phone and email are free) and its
    /// contact, and append `credential`'s ledger entry by `actor`.
    fn complete_challenge(
        &self,
        id: &str,
        credential: CarrierCredential,
        actor: &str,
    ) -> impl Future<Output = Result<CompleteOutcome, StoreError>> + Send;

    /// Replace an existing carrier's verification code (its failures reset)
    /// and append its [`CARRIER_VERIFICATION`] entry, in one transaction;
    /// `mail`, if any, is queued in the same transaction.
    fn change_verification(
        &self,
        credential: CarrierCredential,
        actor: &str,
        mail: Option<MailMessage>,
        now_unix: i64,
    ) -> impl Future<Output = Result<Receipt, StoreError>> + Send;

    /// A carrier's contact.
    fn carrier_contact(
        &self,
        carrier: &Carrier,
    ) -> impl Future<Output = Result<Option<CarrierContact>, StoreError>> + Send;

    /// The carrier registered with `phone` (one per phone).
    fn carrier_by_phone(
        &self,
        phone: &str,
    ) -> impl Future<Output = Result<Option<CarrierContact>, StoreError>> + Send;

    /// The carrier registered with `email` (one per address).
    fn carrier_by_email(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Option<CarrierContact>, StoreError>> + Send;

    /// Queue one mail (a second queue of the same id is ignored).
    fn queue_mail(
        &self,
        mail: MailMessage,
        now_unix: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Claim up to `limit` due mails for `worker`, leased until
    /// `now_unix + lease_secs` (same rules as [`crate::Store::outbox_claim`],
    /// on the mail outbox). A delivered mail's text is erased.
    fn mail_claim(
        &self,
        now_unix: i64,
        limit: u32,
        lease_secs: u32,
        worker: &str,
    ) -> impl Future<Output = Result<Vec<OutboxItem>, StoreError>> + Send;

    /// Record `worker`'s delivery attempt of mail `id` (same rules as
    /// [`crate::Store::outbox_mark`]); a delivered mail's body is erased.
    fn mail_mark(
        &self,
        id: &str,
        worker: &str,
        outcome: OutboxOutcome,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The carrier record document a credential writes (failures reset).
pub fn credential_record(c: &CarrierCredential) -> crate::CarrierRecord {
    crate::CarrierRecord {
        carrier: c.carrier.clone(),
        verification_hash: c.verification_hash.clone(),
        failures: 0,
        locked_until: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use einvoice_core::CarrierType;

    #[test]
    fn entries_carry_the_hash_and_the_contact() {
        let carrier = Carrier::parse(CarrierType::MobileBarcode, "/ABC+123").expect("carrier");
        let c = CarrierCredential {
            carrier: carrier.clone(),
            verification_hash: "$argon2id$x".into(),
            contact: Some(CarrierContact {
                carrier,
                email: "a@example.com".into(),
                phone: "0912345678".into(),
            }),
        };
        let e = c.ledger_entry("site:main");
        assert_eq!(e.kind, CARRIER_REGISTERED);
        assert_eq!(e.key, "carrier/3J0002:/ABC+123");
        assert_eq!(
            String::from_utf8(e.body).expect("utf8"),
            r#"{"carrier_id":"/ABC+123","carrier_type":"3J0002","email":"a@example.com","phone":"0912345678","verification_hash":"$argon2id$x"}"#
        );
        let e = CarrierCredential { contact: None, ..c }.ledger_entry("x");
        assert_eq!(e.kind, CARRIER_VERIFICATION);
    }
}
