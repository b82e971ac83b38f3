//! Rows the store keeps besides the ledger: projections and tenant records.

use crate::entry::Receipt;
use einvoice_core::{BuyerId, Carrier, InvoiceNumber, Period, RandomNumber, Track, Ubn};
use serde::{Deserialize, Serialize};

/// The resolved state of an invoice (see `einvoice_core::resolve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Issued and in force.
    Issued,
    /// Cancelled (F0501).
    Cancelled,
    /// Voided (F0701).
    Voided,
    /// A cancel or void was received before the issue; held until it arrives.
    Pending,
}

/// One invoice as the APIs show it: summary fields plus the issuing message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceView {
    /// The summary row.
    pub summary: InvoiceSummary,
    /// The issuing message in the JSON form (MIG field names), if issued.
    pub message: Option<serde_json::Value>,
    /// Net allowances against it (NT$, tax included).
    pub allowance_total: i64,
    /// Receipt of the issuing entry.
    pub receipt: Option<Receipt>,
}

/// The list form of an invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceSummary {
    /// Seller UBN.
    pub seller: Ubn,
    /// Invoice number.
    pub number: InvoiceNumber,
    /// Period of the invoice date.
    pub period: Period,
    /// Invoice date, `YYYYMMDD`.
    pub date: String,
    /// Invoice time, `HH:MM:SS`.
    pub time: String,
    /// Buyer identifier (`0000000000` for consumers).
    pub buyer: BuyerId,
    /// Random number (B2C).
    pub random: Option<RandomNumber>,
    /// Carrier it is stored on, if any.
    pub carrier: Option<Carrier>,
    /// Love code (NPOBAN) if donated.
    pub donated_to: Option<String>,
    /// Total amount, NT$.
    pub total: i64,
    /// Current status.
    pub status: InvoiceStatus,
}

/// A range of numbers allocated to a seller (an E0401 item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackAllocation {
    /// Seller (branch) UBN.
    pub seller: Ubn,
    /// Period.
    pub period: Period,
    /// Track letters.
    pub track: Track,
    /// First number (8 digits as u32).
    pub begin: u32,
    /// Last number, inclusive.
    pub end: u32,
}

/// A run of unused numbers in an allocation (an E0402 item).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlankRange {
    /// Seller.
    pub seller: Ubn,
    /// Period.
    pub period: Period,
    /// Track.
    pub track: Track,
    /// First unused number.
    pub begin: u32,
    /// Last unused number, inclusive.
    pub end: u32,
}

/// A carrier's credential and its failure counters.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarrierRecord {
    /// The carrier.
    pub carrier: Carrier,
    /// Argon2id PHC string of the verification code.
    pub verification_hash: String,
    /// Consecutive failed logins.
    pub failures: u32,
    /// Unix seconds until which logins are refused (soft lock), 0 when not locked.
    pub locked_until: i64,
}

impl std::fmt::Debug for CarrierRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CarrierRecord")
            .field("carrier", &self.carrier)
            .field("failures", &self.failures)
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

/// A login attempt to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAttempt {
    /// Success: reset the failure counter.
    Succeeded,
    /// Failure: count it, and soft-lock until the given Unix second (0 = no lock).
    Failed {
        /// Soft lock until (Unix seconds), 0 for none.
        lock_until: i64,
    },
}

/// A seller (營業人) registered on the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerRecord {
    /// UBN.
    pub ubn: Ubn,
    /// Registered name.
    pub name: String,
    /// The seller's QR AES key, sealed by the server's master key (never logged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_key_sealed: Option<Vec<u8>>,
}

/// An API key: id, sealed secret, the sellers it may act for.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// Public key id.
    pub key_id: String,
    /// The HMAC secret sealed by the server's master key.
    pub secret_sealed: Vec<u8>,
    /// Sellers this key may act for (an integrator's key lists several).
    pub sellers: Vec<Ubn>,
    /// Disabled keys authenticate nothing.
    pub disabled: bool,
    /// Creation time, Unix seconds.
    pub created_unix: i64,
}

impl std::fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("key_id", &self.key_id)
            .field("sellers", &self.sellers)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A MOF App API application (appID + API key).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRecord {
    /// The appID apps send.
    pub app_id: String,
    /// The app's API key sealed by the server's master key.
    pub api_key_sealed: Vec<u8>,
    /// Display name.
    pub name: String,
    /// A disabled app is answered as an unknown appID (MOF code 903) until
    /// an operator enables it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

impl std::fmt::Debug for AppRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRecord")
            .field("app_id", &self.app_id)
            .field("name", &self.name)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// A response action of the security operations center that holds a
/// target, kept in force until it is lifted: a frozen seller (its writes are
/// refused), a carrier that must verify again (its tokens and code are
/// refused), the whole site read-only. Every change is also an `ADMIN`
/// ledger entry naming its actor; this record is what the request paths read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocHold {
    /// What is held: `seller:<ubn>`, `carrier:<type:id>`, or `site`.
    pub target: String,
    /// Whether the hold is in force now.
    pub in_force: bool,
    /// When it was last put in force (Unix seconds); a carrier's tokens
    /// issued at or before this second stay dead after the hold is lifted.
    pub since_unix: i64,
    /// Who changed it last (the ledger actor, e.g. `operator:alice`).
    pub by: String,
    /// When it changed last (Unix seconds).
    pub changed_unix: i64,
}

/// Operator roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Runs the platform: sellers, keys, tracks, apps, draws.
    Operator,
    /// Read-only audit trail.
    Auditor,
    /// Security operations console.
    Soc,
}

/// An operator account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorRecord {
    /// Login name.
    pub name: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// TOTP secret sealed by the server's master key.
    pub totp_sealed: Vec<u8>,
    /// Roles held.
    pub roles: Vec<Role>,
    /// The last TOTP time step accepted (a code is usable once).
    pub last_totp_step: u64,
    /// Consecutive failed logins.
    pub failures: u32,
    /// Soft lock until (Unix seconds), 0 when not locked.
    pub locked_until: i64,
    /// Who created the account: `operator:<name>` for the operator API,
    /// `local:…` for the CLI on the data directory; `None` on accounts made
    /// before creators were recorded (treated as local).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// A disabled account cannot log in and none of its sessions is accepted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// While disabled: the account's own password hash, held aside
    /// ([`Self::password_hash`] is then a hash of a secret nobody knows, so a
    /// login costs the same and fails); enabling restores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_password_hash: Option<String>,
    /// Sessions issued at or before this Unix second are dead (set when the
    /// account is disabled, so enabling it again revives none of them).
    #[serde(default)]
    pub sessions_not_before_unix: i64,
    /// A pending enrolment: the account has no usable password or TOTP
    /// secret until its holder redeems the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolment: Option<Enrolment>,
}

/// A single-use enrolment token of a new operator account (only its hash is kept).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    /// SHA-256 hex of the token.
    pub token_hash: String,
    /// The token is refused from this Unix second on.
    pub expires_unix: i64,
}

impl std::fmt::Debug for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolment")
            .field("expires_unix", &self.expires_unix)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for OperatorRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorRecord")
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("failures", &self.failures)
            .field("created_by", &self.created_by)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// An operator session (short-lived).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// SHA-256 hex of the bearer token (the token itself is never stored).
    pub token_hash: String,
    /// Operator name.
    pub operator: String,
    /// Roles of the session.
    pub roles: Vec<Role>,
    /// Expiry, Unix seconds (slides with use, never past `absolute_expires_unix`).
    pub expires_unix: i64,
    /// Login time, Unix seconds (0 on sessions stored before it was kept:
    /// such a session is refused).
    #[serde(default)]
    pub issued_unix: i64,
    /// The absolute end of the session, Unix seconds, however it is used
    /// (login + the maximum session length).
    #[serde(default)]
    pub absolute_expires_unix: i64,
}

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("operator", &self.operator)
            .field("roles", &self.roles)
            .field("expires_unix", &self.expires_unix)
            .field("absolute_expires_unix", &self.absolute_expires_unix)
            .finish_non_exhaustive()
    }
}

/// The result of walking a hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerVerdict {
    /// Origin checked.
    pub origin: String,
    /// Entries checked.
    pub entries: u64,
    /// Hash of the last good entry.
    pub head: crate::entry::EntryHash,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
    /// Good entries whose body is withheld at this copy (v2; the chain
    /// verifies through their body digests).
    #[serde(default)]
    pub withheld: u64,
    /// The withheld entries, as inclusive `[first, last]` runs of sequence numbers.
    #[serde(default)]
    pub withheld_runs: Vec<[u64; 2]>,
}

/// Where and why a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLink {
    /// Sequence of the first bad entry.
    pub seq: u64,
    /// `SEQ_GAP`, `PREV_HASH_MISMATCH`, `HASH_MISMATCH` or `BODY_DIGEST_MISMATCH`.
    pub code: String,
    /// What was found.
    pub message: String,
}

/// One version of a period's winning numbers and prize table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinningNumbersRecord {
    /// Period.
    pub period: Period,
    /// Version, from 1; a correction after publication is a new version.
    pub version: u32,
    /// The numbers in the shape of one record of `winning-numbers.json`
    /// (special, grand, first, additional_sixth), plus the prize table.
    pub body: serde_json::Value,
    /// Operator who entered it.
    pub entered_by: String,
    /// Second operator who approved it (two-person rule); `Some` = published.
    pub approved_by: Option<String>,
    /// Why this version exists (required for corrections).
    pub reason: Option<String>,
    /// The client address (IP) the draft was entered from: the two-person
    /// rule refuses an approval from the same client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entered_from: Option<String>,
}

impl CarrierRecord {
    /// Count a login attempt: a success clears the failures and the lock, a
    /// failure counts one more and locks until at least `lock_until`.
    pub fn record_login(&mut self, attempt: LoginAttempt) {
        match attempt {
            LoginAttempt::Succeeded => {
                self.failures = 0;
                self.locked_until = 0;
            }
            LoginAttempt::Failed { lock_until } => {
                self.failures = self.failures.saturating_add(1);
                self.locked_until = self.locked_until.max(lock_until);
            }
        }
    }
}

impl WinningNumbersRecord {
    /// May `self`, the stored version, be replaced by `new` (the same period
    /// and version)? Versions are immutable: a published (approved) version
    /// never changes (`WINNING_NUMBERS_PUBLISHED`), and a draft may only be
    /// replaced by its own approval — the same numbers, enterer, client and
    /// reason, with an approver (`WINNING_DRAFT_IMMUTABLE`). A change of the
    /// numbers is a new version.
    pub fn check_replace(&self, new: &WinningNumbersRecord) -> Result<(), crate::StoreError> {
        if self.approved_by.is_some() {
            return Err(crate::StoreError::Backend(format!(
                "WINNING_NUMBERS_PUBLISHED: version {} of {} is published and immutable; enter a new version with a reason",
                new.version, new.period
            )));
        }
        let same_draft = new.approved_by.is_some()
            && new.entered_by == self.entered_by
            && new.entered_from == self.entered_from
            && new.reason == self.reason
            && self.numbers_sha256() == new.numbers_sha256();
        if !same_draft {
            return Err(crate::StoreError::Backend(format!(
                "WINNING_DRAFT_IMMUTABLE: version {} of {} is a stored draft: it can only be approved as it is; enter a new version to change it",
                new.version, new.period
            )));
        }
        Ok(())
    }

    /// SHA-256 (lowercase hex) of the numbers of this version: the canonical
    /// JSON ([`crate::canonical_json`]: sorted keys, compact) of the body
    /// without its publication time. What an approver names
    /// (`expected_sha256`) to approve exactly the numbers they checked.
    pub fn numbers_sha256(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut body = self.body.clone();
        if let Some(m) = body.as_object_mut() {
            m.remove("published_unix");
        }
        let digest: [u8; 32] = Sha256::digest(crate::canonical_json(&body)).into();
        crate::EntryHash(digest).to_hex()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use einvoice_core::Period;

    fn draft(grand: &str) -> WinningNumbersRecord {
        WinningNumbersRecord {
            period: Period::parse("11402").expect("period"),
            version: 1,
            body: serde_json::json!({"special": "33333333", "grand": grand,
                "first": ["11111111"], "additional_sixth": [], "period": "11402"}),
            entered_by: "alice".into(),
            approved_by: None,
            reason: None,
            entered_from: Some("10.0.0.1".into()),
        }
    }

    #[test]
    fn the_numbers_hash_is_sha256_of_the_canonical_body_without_publication_time() {
        // Computed outside this code: sha256 of the sorted, compact JSON text.
        let want = "c11713a9bd5cdb43160dcfba20ab8a2bf5c7f8733159d255c17f9ab45de8c07f";
        let mut r = draft("22222222");
        assert_eq!(r.numbers_sha256(), want);
        r.body["published_unix"] = serde_json::json!(1_700_000_000);
        assert_eq!(r.numbers_sha256(), want);
    }

    #[test]
    fn a_draft_is_replaced_only_by_its_unchanged_approval() {
        let stored = draft("22222222");
        let code = |new: &WinningNumbersRecord| {
            stored
                .check_replace(new)
                .err()
                .map(|e| e.to_string().split(": ").nth(1).unwrap_or("").to_string())
        };
        let mut approved = stored.clone();
        approved.approved_by = Some("zoe".into());
        approved.body["published_unix"] = serde_json::json!(1);
        assert_eq!(code(&approved), None);
        let mut changed = approved.clone();
        changed.body["grand"] = serde_json::json!("22222223");
        assert_eq!(code(&changed).as_deref(), Some("WINNING_DRAFT_IMMUTABLE"));
        let mut other_client = approved.clone();
        other_client.entered_from = Some("10.0.0.2".into());
        assert_eq!(
            code(&other_client).as_deref(),
            Some("WINNING_DRAFT_IMMUTABLE")
        );
        // A draft over a draft (the old way of changing numbers) is refused.
        assert_eq!(
            code(&draft("22222223")).as_deref(),
            Some("WINNING_DRAFT_IMMUTABLE")
        );
        assert_eq!(code(&stored).as_deref(), Some("WINNING_DRAFT_IMMUTABLE"));
        // A published version never changes.
        assert_eq!(
            approved
                .check_replace(&approved)
                .err()
                .map(|e| e.to_string().contains("WINNING_NUMBERS_PUBLISHED")),
            Some(true)
        );
    }
}
