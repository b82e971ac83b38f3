//! Moving a site between stores: the records an export carries besides the
//! ledger, and the re-derivation of a stored entry's typed facts so that an
//! import projects it through the same code the original append used.

use crate::draw::{
    BankAccountRecord, DrawFreeze, OutboxItem, WinnerRecord, WinnersLoad, WinnersSummary,
};
use crate::entry::LedgerEntry;
use crate::error::StoreError;
use crate::records::{
    ApiKeyRecord, AppRecord, CarrierRecord, OperatorRecord, SellerRecord, WinningNumbersRecord,
};
use einvoice_core::ids::{CarrierTypes, IdPolicy};
use einvoice_core::{MessageKind, Rules, Validated, validate};
use serde::{Deserialize, Serialize};

/// Every record a site keeps besides the ledger and its projections, in the
/// form the store keeps it (secrets stay hashed or sealed; nothing is
/// decrypted). Sessions and request nonces are short-lived and not moved:
/// operators log in again after a move. The draw's records default to empty,
/// so records written before they were exported still read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteRecords {
    /// Registered sellers, by UBN.
    pub sellers: Vec<SellerRecord>,
    /// API keys (secrets sealed), by key id.
    pub api_keys: Vec<ApiKeyRecord>,
    /// Carrier credentials (Argon2id hashes) and their counters.
    pub carriers: Vec<CarrierRecord>,
    /// MOF App API applications (keys sealed).
    pub apps: Vec<AppRecord>,
    /// Operator accounts (password hashes, sealed TOTP secrets).
    pub operators: Vec<OperatorRecord>,
    /// Every version of every period's winning numbers.
    pub winning_numbers: Vec<WinningNumbersRecord>,
    /// Frozen periods (snapshot root and size), by period.
    #[serde(default)]
    pub draw_freezes: Vec<DrawFreeze>,
    /// Loaded winners (summary and every line), by period.
    #[serde(default)]
    pub winner_loads: Vec<WinnersExport>,
    /// Citizens' bank accounts (sealed as stored, never decrypted), by carrier.
    #[serde(default)]
    pub bank_accounts: Vec<BankAccountRecord>,
    /// Outbox notifications with their delivery state, by id.
    #[serde(default)]
    pub outbox: Vec<OutboxRecord>,
}

/// One period's loaded winners as stored: the summary exactly as loaded and
/// every winner line in line order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinnersExport {
    /// What was loaded (lines, payable total, digest, who loaded them).
    pub summary: WinnersSummary,
    /// Every winner line, in line order.
    pub winners: Vec<WinnerRecord>,
}

impl WinnersExport {
    /// Refuse (`STORE_CORRUPT`) lines that do not match their summary: the
    /// line count, the payable total and the digest must be the load's.
    pub fn check(&self) -> Result<(), StoreError> {
        let load = WinnersLoad {
            period: self.summary.period,
            actor: self.summary.actor.clone(),
            winners: self.winners.clone(),
        };
        let lines = u64::try_from(self.winners.len()).unwrap_or(u64::MAX);
        if lines != self.summary.lines
            || load.payable_total() != self.summary.payable
            || load.digest() != self.summary.digest
        {
            return Err(StoreError::Corrupt(format!(
                "winners of period {}: {lines} lines (NT${} payable, digest {}) do not match the loaded summary ({} lines, NT${} payable, digest {})",
                self.summary.period,
                load.payable_total(),
                load.digest(),
                self.summary.lines,
                self.summary.payable,
                self.summary.digest
            )));
        }
        Ok(())
    }
}

/// An outbox notification with its delivery state, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    /// The notification (id, kind, body, failed attempts, next attempt).
    pub item: OutboxItem,
    /// When it was delivered (Unix seconds), if it was.
    #[serde(default)]
    pub delivered_unix: Option<i64>,
    /// Why the last attempt failed, if it did.
    #[serde(default)]
    pub last_error: Option<String>,
}

impl SiteRecords {
    /// Total number of records.
    pub fn len(&self) -> usize {
        self.sellers.len()
            + self.api_keys.len()
            + self.carriers.len()
            + self.apps.len()
            + self.operators.len()
            + self.winning_numbers.len()
            + self.draw_freezes.len()
            + self.winner_loads.len()
            + self
                .winner_loads
                .iter()
                .map(|l| l.winners.len())
                .sum::<usize>()
            + self.bank_accounts.len()
            + self.outbox.len()
    }

    /// True when there is no record at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The code prefix of the error an import into a non-empty store returns.
pub const TARGET_NOT_EMPTY: &str = "IMPORT_TARGET_NOT_EMPTY";

/// The error for an import into a store that already holds data (`what`).
pub fn target_not_empty(what: &str) -> StoreError {
    StoreError::Backend(format!(
        "{TARGET_NOT_EMPTY}: the target store already holds {what}; import only into an empty store (a fresh data directory or database)"
    ))
}

/// The tables an import requires empty, in the order they are checked, with
/// what [`target_not_empty`] calls their rows. Both backends have these
/// tables (PostgreSQL checks its `ledger_heads` right after `ledger`).
pub const IMPORT_EMPTY_TABLES: &[(&str, &str)] = &[
    ("ledger", "ledger entries"),
    (
        "records",
        "records (sellers, keys, carriers, apps, operators or sessions)",
    ),
    ("winning_numbers", "winning numbers"),
    ("invoices", "invoices"),
    ("tracks", "track allocations"),
    ("draw_freezes", "draw freezes"),
    ("draw_loads", "loaded winners"),
    ("winners", "winner lines"),
    ("bank_accounts", "bank accounts"),
    ("outbox", "outbox notifications"),
    ("npos", "NPO directory rows"),
    ("carrier_contacts", "carrier contacts"),
    ("carrier_links", "carrier links"),
    ("card_issuers", "card issuer directory rows"),
];

/// True when `kind` names a MIG message (`F0401`, …): such entries are
/// idempotent by (kind, key) and update the projections; other kinds
/// (`ADMIN`, carrier and draw events) are ledger-only.
pub fn is_message_kind(kind: &str) -> bool {
    MessageKind::parse(kind).is_some()
}

/// The most permissive rules: an entry was validated when it was accepted
/// (under that site's rules, possibly sandbox or extra carrier types), so
/// re-deriving its facts must not refuse what the original site accepted.
fn replay_rules() -> Rules {
    Rules {
        ids: IdPolicy::sandbox(),
        carrier_types: CarrierTypes {
            exact: Vec::new(),
            // Every well-shaped 6-character type code.
            prefixes: vec![String::new()],
        },
        ..Rules::production()
    }
}

/// Re-derive the typed facts of a stored message entry from its canonical
/// body, so an import (or a sync) projects it exactly as the original append
/// did. `Ok(None)` for event entries. Refuses (`STORE_CORRUPT`, naming the
/// entry) a body that does not decode, does not validate, does not
/// re-encode to the same canonical bytes, or whose kind or natural key
/// differs from the entry's.
///
/// Ledger format v2: a present body that does not match its digest is
/// `STORE_CORRUPT`; a withheld body is fine for an event entry (it only
/// advances the chain) and `BODY_WITHHELD` for a message entry, whose
/// projection needs it.
pub fn replay_facts(e: &LedgerEntry) -> Result<Option<Validated>, StoreError> {
    let at = || format!("entry {}#{} ({} {})", e.origin, e.seq, e.kind, e.key);
    if !e.body_matches_digest() {
        return Err(StoreError::Corrupt(format!(
            "{}: body does not match its digest",
            at()
        )));
    }
    if !is_message_kind(&e.kind) {
        return Ok(None);
    }
    if e.withheld {
        return Err(StoreError::BodyWithheld(format!(
            "{}: this copy of the ledger holds only the digest of this {} entry, but the invoice projections need its body; \
             get it from a site that holds every body of origin {} (a main or standby site)",
            at(),
            e.kind,
            e.origin
        )));
    }
    let msg = einvoice_mig::decode_json(&e.body)
        .map_err(|err| StoreError::Corrupt(format!("{}: body does not decode: {err}", at())))?;
    if einvoice_mig::canonical(&msg) != e.body {
        return Err(StoreError::Corrupt(format!(
            "{}: body is not in canonical form",
            at()
        )));
    }
    let v = validate(&msg, &replay_rules()).map_err(|vs| {
        let first =
            vs.0.first()
                .map(|x| format!("{} at {}", x.code, x.field))
                .unwrap_or_default();
        StoreError::Corrupt(format!("{}: body does not validate ({first})", at()))
    })?;
    if v.kind().as_str() != e.kind || v.key().to_key_string() != e.key {
        return Err(StoreError::Corrupt(format!(
            "{}: body is a {} for {}",
            at(),
            v.kind().as_str(),
            v.key().to_key_string()
        )));
    }
    Ok(Some(v))
}
