//! The records feed: side records that travel with the ledger entries that
//! commit to them (`GET /v1/sync/records/{origin}?after=SEQ&limit=N`, peer
//! listener only, plain JSON [`RecordsPage`]).
//!
//! A ledger entry only commits to a record a service needs; two kinds
//! travel today:
//!
//! - a carrier's prize bank account: its `CARRIER_BANK_ACCOUNT` entry
//!   carries the salted [`TravellingAccount::commitment`]; the record itself
//!   is a secret sealed under its site's master key;
//! - an API key's operator entry (`ADMIN`, key `key/<id>`), whose body a
//!   cloud receives only as a digest: the line carries the body, checked
//!   against the entry's digest, so a key revoked or rotated away at main
//!   ([`KEY_REVOKING_ACTIONS`]) is disabled wherever it is held.
//!
//! The serving site opens an account ([`serve_records`]) and sends it over
//! mutual TLS; the receiving site checks each line against **its own copy**
//! of the entry — same hash, same kind, same carrier and commitment (or
//! body digest) — and seals an account again under **its own** master key
//! ([`check_records`]); a record that does not match is
//! [`SYNC_RECORD_MISMATCH`] and nothing of its page is stored. (Neither an
//! operator account nor any secret of one travels: of the operator entries
//! only the key entries' bodies — key id, sellers, reason.) The records and
//! the origin's records cursor are stored in one transaction
//! ([`Store::apply_sync_records`]).
//!
//! A site serves another origin's records only up to its own records cursor
//! of that origin (it re-serves what it has checked), and a record only
//! while it is the one its entry commits to (a later change of the same
//! carrier travels with its own, later entry). Entries without a
//! commitment (written before accounts travelled) or with a withheld body
//! carry no record.

use crate::error::SyncError;
use crate::pull::Puller;
use einvoice_secrets::bank::CARRIER_BANK_ACCOUNT;
use einvoice_secrets::{Sealer, TravellingAccount};
use einvoice_store::{EntryHash, LedgerEntry, Store, SyncHalt, SyncRecords, body_digest};
use serde::{Deserialize, Serialize};

/// The records feed format named in every page.
pub const RECORDS_FORMAT: &str = "einvoice-records-1";

/// Code of a travelling record that does not match its ledger entry.
pub const SYNC_RECORD_MISMATCH: &str = "SYNC_RECORD_MISMATCH";

/// Fewest entries a records page is asked to scan.
const RECORDS_MIN_SCAN: u32 = 1000;

/// Kind of the operator entries, among them those about API keys.
pub const ADMIN: &str = "ADMIN";

/// Prefix of the key of an API key's operator entries (`key/<key_id>`).
pub const KEY_ENTRY_PREFIX: &str = "key/";

/// The actions of a key's operator entry that leave the key revoked.
pub const KEY_REVOKING_ACTIONS: &[&str] = &["key.revoke", "key.rotate"];

/// Whether `e` has a line on the records feed.
fn bears_record(e: &LedgerEntry) -> bool {
    e.kind == CARRIER_BANK_ACCOUNT || (e.kind == ADMIN && e.key.starts_with(KEY_ENTRY_PREFIX))
}

/// One page of the records feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsPage {
    /// [`RECORDS_FORMAT`].
    pub format: String,
    /// The origin of the entries the records travel with.
    pub origin: String,
    /// The page covers the origin's entries `after + 1 ..= upto`.
    pub after: u64,
    /// The last entry the page covers (every record-bearing entry up to it
    /// has its line).
    pub upto: u64,
    /// One line per record-bearing entry covered, in sequence order.
    pub records: Vec<RecordLine>,
}

/// The record travelling with one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordLine {
    /// The entry's sequence number.
    pub seq: u64,
    /// The entry's hash (the receiver's copy must have the same).
    pub hash: EntryHash,
    /// The entry's kind.
    pub kind: String,
    /// The bank account, when the entry commits to one the serving site
    /// holds (absent: superseded by a later change, or nothing to carry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_account: Option<TravellingAccount>,
    /// An API key's operator entry: its body (canonical JSON), which the
    /// receiver checks against the entry's digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_body: Option<String>,
}

/// What a `CARRIER_BANK_ACCOUNT` entry commits to: its carrier and the
/// account's commitment (`None` for an entry that carries none: withheld,
/// or written before accounts travelled).
fn committed(e: &LedgerEntry) -> Option<(String, String)> {
    if e.kind != CARRIER_BANK_ACCOUNT || e.withheld {
        return None;
    }
    let body: serde_json::Value = serde_json::from_slice(&e.body).ok()?;
    let text = |k: &str| body.get(k)?.as_str().map(str::to_string);
    Some((text("carrier")?, text("account_commitment")?))
}

/// The page of `origin`'s records after entry `after` (at most `limit`
/// entries scanned), opened with this site's `sealer`.
pub async fn serve_records<S: Store>(
    store: &S,
    sealer: &Sealer,
    origin: &str,
    after: u64,
    limit: u32,
) -> Result<RecordsPage, SyncError> {
    let bound = if origin == store.site() {
        u64::MAX
    } else {
        store.sync_records_cursor(origin).await?
    };
    let mut upto = after;
    let mut records = Vec::new();
    for e in store.entries(origin, after, limit).await? {
        if e.seq > bound {
            break;
        }
        upto = e.seq;
        if !bears_record(&e) {
            continue;
        }
        let admin_body = (e.kind == ADMIN && !e.withheld)
            .then(|| String::from_utf8(e.body.clone()).ok())
            .flatten();
        let mut bank_account = None;
        if let Some((carrier, commitment)) = committed(&e)
            && let Some(rec) = store.bank_account(&carrier).await?
        {
            // A record this site cannot open (sealed before accounts
            // travelled) or that a later change replaced does not travel.
            bank_account = TravellingAccount::open(sealer, &rec)
                .ok()
                .filter(|t| t.commitment() == commitment);
        }
        records.push(RecordLine {
            seq: e.seq,
            hash: e.hash,
            kind: e.kind,
            bank_account,
            admin_body,
        });
    }
    Ok(RecordsPage {
        format: RECORDS_FORMAT.into(),
        origin: origin.to_string(),
        after,
        upto,
        records,
    })
}

/// Check `page` (asked for `origin` after `after`, at most `limit`
/// entries) against this site's own copy of the entries and seal its
/// accounts under this site's `sealer`: the last entry covered (never
/// beyond the entries this site holds) and the records to store. A line
/// for every record-bearing entry covered, each naming the entry this site
/// holds, each account the one its entry commits to — any mismatch is
/// [`SyncError::RecordMismatch`].
pub async fn check_records<S: Store>(
    store: &S,
    sealer: &Sealer,
    origin: &str,
    after: u64,
    limit: u32,
    page: RecordsPage,
) -> Result<(u64, SyncRecords), SyncError> {
    let mismatch = |seq: u64, message: &str| SyncError::RecordMismatch {
        origin: origin.to_string(),
        seq,
        message: message.to_string(),
    };
    if page.format != RECORDS_FORMAT
        || page.origin != origin
        || page.after != after
        || page.upto < after
        || page.upto - after > u64::from(limit)
    {
        return Err(SyncError::Feed(format!(
            "asked for at most {limit} entries' records of {origin} after {after}, got {:?} of {} covering {}..={}",
            page.format, page.origin, page.after, page.upto
        )));
    }
    let held = store
        .entries(
            origin,
            after,
            u32::try_from(page.upto - after).unwrap_or(limit),
        )
        .await?;
    let upto = held.last().map_or(after, |e| e.seq.min(page.upto));
    let bearing: Vec<&LedgerEntry> = held
        .iter()
        .filter(|e| bears_record(e) && e.seq <= upto)
        .collect();
    let lines: Vec<RecordLine> = page.records.into_iter().filter(|l| l.seq <= upto).collect();
    if let Some(e) = bearing
        .iter()
        .find(|e| !lines.iter().any(|l| l.seq == e.seq))
    {
        return Err(mismatch(e.seq, "the page left out this entry's line"));
    }
    if lines.len() != bearing.len() {
        let extra = lines
            .iter()
            .find(|l| !bearing.iter().any(|e| e.seq == l.seq));
        return Err(mismatch(
            extra.map_or(upto, |l| l.seq),
            "a line names no record-bearing entry this site holds",
        ));
    }
    let mut records = SyncRecords::default();
    for (line, entry) in lines.into_iter().zip(bearing) {
        if entry.seq != line.seq || entry.hash != line.hash || entry.kind != line.kind {
            return Err(mismatch(
                line.seq,
                "the line names another entry than the one this site holds",
            ));
        }
        if entry.kind == ADMIN {
            if line.bank_account.is_some() {
                return Err(mismatch(line.seq, "a bank account came with a key entry"));
            }
            if let Some(key_id) =
                revoked_key(entry, line.admin_body.as_deref()).map_err(|m| mismatch(line.seq, m))?
            {
                records.revoked_keys.push(key_id);
            }
            continue;
        }
        if line.admin_body.is_some() {
            return Err(mismatch(
                line.seq,
                "a key entry's body came with another entry",
            ));
        }
        let Some(account) = line.bank_account else {
            continue;
        };
        let Some((carrier, commitment)) = committed(entry) else {
            return Err(mismatch(
                line.seq,
                "a bank account came with an entry that commits to none",
            ));
        };
        if account.carrier != carrier || account.commitment() != commitment {
            return Err(mismatch(
                line.seq,
                "the bank account is not the one the entry commits to",
            ));
        }
        let sealed = account
            .seal(sealer)
            .map_err(|e| SyncError::RecordMismatch {
                origin: origin.to_string(),
                seq: line.seq,
                message: e.to_string(),
            })?;
        records.accounts.push(sealed);
    }
    Ok((upto, records))
}

/// The key an API key's operator entry revokes, if it does: `body` (from
/// the line) must be the entry's body — equal to it, or to its digest when
/// this site holds it withheld — and name the key of the entry's key.
fn revoked_key(entry: &LedgerEntry, body: Option<&str>) -> Result<Option<String>, &'static str> {
    let body = body.ok_or("the line of a key entry carries no body")?;
    let matches = match (&entry.body_digest, entry.withheld) {
        (Some(d), true) => body_digest(body.as_bytes()) == *d,
        _ => entry.body == body.as_bytes(),
    };
    if !matches {
        return Err("the body is not the one the entry commits to");
    }
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|_| "the key entry's body is not JSON")?;
    let text = |k: &str| v.get(k).and_then(serde_json::Value::as_str);
    let action = text("action").unwrap_or_default();
    if !KEY_REVOKING_ACTIONS.contains(&action) {
        return Ok(None);
    }
    match text("key_id") {
        Some(id) if entry.key.strip_prefix(KEY_ENTRY_PREFIX) == Some(id) => {
            Ok(Some(id.to_string()))
        }
        _ => Err("the key entry's body names another key than its entry"),
    }
}

impl<S: Store> Puller<S> {
    /// Pull `origin`'s side records from `upstream` (site `site`) up to the
    /// entries this site holds (`held`: its head; nothing is asked when the
    /// records cursor is there already), page by page, each page checked
    /// ([`check_records`]) and stored with the records cursor in one
    /// transaction. A mismatch stops the origin's records at the last good
    /// page: logged, counted in `einvoice_sync_refused_total` and told to
    /// the halt hook once (an alert). Nothing to do without
    /// [`Puller::with_records`].
    pub(crate) async fn pull_records(
        &self,
        site: &str,
        upstream: &str,
        origin: &str,
        held: u64,
    ) -> Result<(), SyncError> {
        let Some(sealer) = &self.records else {
            return Ok(());
        };
        let key = (upstream.to_string(), format!("records:{origin}"));
        // Entries scanned per page: the lines are few (record-bearing
        // entries only), so not the ledger feed's page when that is small.
        let limit = self.page.max(RECORDS_MIN_SCAN);
        loop {
            let after = self.store.sync_records_cursor(origin).await?;
            if after >= held {
                return Ok(());
            }
            let path = format!("/v1/sync/records/{origin}?after={after}&limit={limit}");
            let page = match self.get(upstream, &path).await.and_then(|b| {
                serde_json::from_slice::<RecordsPage>(&b)
                    .map_err(|e| SyncError::Feed(format!("{path}: {e}")))
            }) {
                Ok(p) => p,
                Err(e) => {
                    // Unreachable or refused: the ledger pull records the
                    // link's state; try again on the next pull.
                    eprintln!("einvoice: sync: records: {e}");
                    return Ok(());
                }
            };
            match check_records(&self.store, sealer, origin, after, limit, page).await {
                Ok((upto, accounts)) => {
                    self.halted.lock().await.remove(&key);
                    if upto <= after {
                        return Ok(());
                    }
                    self.store
                        .apply_sync_records(origin, upto, accounts)
                        .await?;
                }
                Err(SyncError::RecordMismatch {
                    origin,
                    seq,
                    message,
                }) => {
                    let halt = SyncHalt {
                        code: SYNC_RECORD_MISMATCH.into(),
                        message: format!(
                            "{upstream} (site {site:?}) served a record of origin {origin:?} entry {seq} that does not match the entry: {message}; refused, the origin's records wait at entry {after}"
                        ),
                        seq: Some(seq),
                    };
                    eprintln!("einvoice: sync: {}: {}", halt.code, halt.message);
                    metrics::counter!("einvoice_sync_refused_total", "peer" => site.to_string())
                        .increment(1);
                    let mut halted = self.halted.lock().await;
                    let now = (halt.code.clone(), halt.seq);
                    if halted.get(&key) != Some(&now) {
                        halted.insert(key, now);
                        if let Some(hook) = &self.on_halt {
                            hook(site, &origin, &halt);
                        }
                    }
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
    }
}
