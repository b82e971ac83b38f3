//! einvoice-store: the ledger and its projections behind one [`Store`] trait.
//!
//! The ledger is the truth (DESIGN.md, principle 1): every accepted message is
//! appended as a [`LedgerEntry`] to the accepting site's hash chain, and the
//! projections (invoice state, carrier index, tracks, ...) are updated in the
//! same transaction. Two implementations satisfy the trait — SQLite
//! (`einvoice-store-sqlite`, the embedded default) and PostgreSQL
//! (`einvoice-store-postgres`) — and one conformance suite (`conformance`,
//! feature `conformance`) runs against both.
//!
//! **Tenant scoping lives here**: every seller-data method takes a [`Scope`]
//! and the implementation filters by it, so an HTTP handler cannot forget it.
//!
//! **Acknowledged means durable**: [`Store::append`] returns receipts only
//! after the transaction that holds the entries has been committed to disk.
//! Implementations batch concurrent appends into one transaction (group
//! commit) but never answer before the commit.

pub mod append_rules;
mod attempts;
mod blanks;
pub mod body_codec;
mod canonical;
mod card_issuer;
mod carrier_agg;
mod carrier_life;
mod carrier_reg;
mod chain;
#[cfg(feature = "conformance")]
pub mod conformance;
mod draw;
mod eligibility;
mod entry;
mod error;
mod io;
pub mod read_projection;
mod records;
mod scope;
pub mod stored;
mod sync;
mod winning;

pub use attempts::{AttemptKey, Reservation};
pub use canonical::canonical_json;
pub use card_issuer::*;
pub use carrier_agg::*;
pub use carrier_life::*;
pub use carrier_reg::*;
pub use chain::{BODY_DIGEST_MISMATCH, ChainCheck, HASH_MISMATCH, PREV_HASH_MISMATCH, SEQ_GAP};
pub use draw::*;
pub use entry::{
    BODY_DIGEST_DOMAIN, EntryFormat, EntryHash, Hlc, LedgerEntry, NewEntry, Receipt, body_digest,
    hash_entry, hash_entry_v2, operator_actor,
};
pub use error::{BODY_WITHHELD_CODE, Rejection, StoreError};
pub use io::{
    IMPORT_EMPTY_TABLES, OutboxRecord, SiteRecords, TARGET_NOT_EMPTY, WinnersExport,
    is_message_kind, replay_facts, target_not_empty,
};
pub use records::*;
pub use scope::{AdmittedMessage, Scope, ScopedSeller, TENANT_SCOPE};
pub use sync::{
    OriginHead, SYNC_HEAD_MISMATCH, SYNC_OWN_ORIGIN, SyncApplied, SyncHalt, SyncOriginState,
    SyncPage, SyncRecords, SyncUpstreamState, refuse_own_origin, sync_meeting_seq, sync_overlap,
};
pub use winning::WinningBody;

use einvoice_core::{Carrier, InvoiceNumber, Period, RandomNumber, Ubn, Validated};
use std::future::Future;

/// The outcome of appending one message: its receipt, or why it was refused.
pub type AppendOutcome = Result<Receipt, Rejection>;

/// The storage contract every backend satisfies. All methods are async and
/// their futures are `Send`, so the server can be generic over `S: Store`.
///
/// Errors of the backend itself (unreachable database, timeout) are
/// [`StoreError`]; the server maps [`StoreError::Unavailable`] to 503 with
/// `Retry-After`.
pub trait Store:
    Clone + Send + Sync + 'static + CarrierLifeStore + CarrierRegStore + CarrierAggStore
{
    // ---- the ledger -------------------------------------------------------

    /// This site's id (the `origin` of entries it appends).
    fn site(&self) -> &str;

    /// Append validated messages for sellers within `scope`, acting as `actor`.
    /// One outcome per message, in order. A message whose seller is outside
    /// `scope` is refused with `TENANT_SCOPE` (checked here, once, by
    /// [`Scope::admit_messages`]); the others go to
    /// [`Store::append_admitted`]. Idempotent by (kind, natural key):
    /// an identical resubmission (same canonical body) returns the original
    /// receipt with `duplicate: true` and appends nothing; a different body
    /// under the same (kind, key) is refused with `DUPLICATE_CONFLICT` naming
    /// the original entry. F0401/A0101 must lie in a track range allocated to
    /// the seller for the invoice's period (`NUMBER_OUTSIDE_TRACK`). Returns
    /// only after the commit is durable.
    fn append(
        &self,
        scope: &Scope,
        actor: &str,
        messages: Vec<Validated>,
    ) -> impl Future<Output = Result<Vec<AppendOutcome>, StoreError>> + Send {
        self.append_admitted(actor, scope.admit_messages(messages))
    }

    /// Backend primitive of [`Store::append`]: append the admitted messages
    /// (see [`append_rules`] for the decisions) and pass each refused one's
    /// rejection through, in order.
    // `Rejection` is the trait's own type; its size is not ours to change.
    #[allow(clippy::result_large_err)]
    fn append_admitted(
        &self,
        actor: &str,
        messages: Vec<Result<AdmittedMessage, Rejection>>,
    ) -> impl Future<Output = Result<Vec<AppendOutcome>, StoreError>> + Send;

    /// Append a non-invoice entry (operator actions, carrier and draw events):
    /// `kind` such as `ADMIN`, `body` canonical JSON without secrets.
    fn append_event(
        &self,
        entry: NewEntry,
    ) -> impl Future<Output = Result<Receipt, StoreError>> + Send;

    /// Entries of `origin` with `seq > after`, in sequence order, at most
    /// `limit`. Never skips an entry that becomes visible later with a smaller
    /// sequence (readers see a gap-free prefix).
    fn entries(
        &self,
        origin: &str,
        after: u64,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<LedgerEntry>, StoreError>> + Send;

    /// Walk `origin`'s hash chain from the start and report the first broken link.
    fn verify_ledger(
        &self,
        origin: &str,
    ) -> impl Future<Output = Result<LedgerVerdict, StoreError>> + Send;

    // ---- seller data (scoped) ---------------------------------------------
    //
    // The scoped reads are provided: each checks the caller's `Scope` once
    // (`Scope::admit`) and hands the backend's primitive the `ScopedSeller`
    // it proves, so a backend never sees a seller the caller may not read.
    // Outside the scope a read finds nothing.

    /// One invoice's current (resolved) view.
    fn invoice(
        &self,
        scope: &Scope,
        seller: Ubn,
        number: InvoiceNumber,
    ) -> impl Future<Output = Result<Option<InvoiceView>, StoreError>> + Send {
        async move {
            match scope.admit(seller) {
                Some(seller) => self.seller_invoice(seller, number).await,
                None => Ok(None),
            }
        }
    }

    /// Every ledger entry about one invoice (issue, cancel, void, allowances).
    fn invoice_history(
        &self,
        scope: &Scope,
        seller: Ubn,
        number: InvoiceNumber,
    ) -> impl Future<Output = Result<Vec<LedgerEntry>, StoreError>> + Send {
        async move {
            match scope.admit(seller) {
                Some(seller) => self.seller_invoice_history(seller, number).await,
                None => Ok(Vec::new()),
            }
        }
    }

    /// A seller's invoices in a period, ordered by number, after `after`.
    fn list_invoices(
        &self,
        scope: &Scope,
        seller: Ubn,
        period: Period,
        after: Option<InvoiceNumber>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<InvoiceSummary>, StoreError>> + Send {
        async move {
            match scope.admit(seller) {
                Some(seller) => self.seller_invoices(seller, period, after, limit).await,
                None => Ok(Vec::new()),
            }
        }
    }

    /// Track ranges allocated to a seller in a period.
    fn tracks(
        &self,
        scope: &Scope,
        seller: Ubn,
        period: Period,
    ) -> impl Future<Output = Result<Vec<TrackAllocation>, StoreError>> + Send {
        async move {
            match scope.admit(seller) {
                Some(seller) => self.seller_tracks(seller, period).await,
                None => Ok(Vec::new()),
            }
        }
    }

    /// Unused numbers of a seller's allocations in a period, computed from
    /// what was actually issued (the content of an E0402 blank report, see
    /// [`TrackAllocation::blanks`]).
    fn blanks(
        &self,
        scope: &Scope,
        seller: Ubn,
        period: Period,
    ) -> impl Future<Output = Result<Vec<BlankRange>, StoreError>> + Send {
        async move {
            let Some(seller) = scope.admit(seller) else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            for allocation in self.seller_tracks(seller, period).await? {
                let issued = self.issued_numbers(seller, &allocation).await?;
                out.extend(allocation.blanks(issued));
            }
            Ok(out)
        }
    }

    /// Backend primitive of [`Store::invoice`]: one invoice of an admitted seller.
    fn seller_invoice(
        &self,
        seller: ScopedSeller,
        number: InvoiceNumber,
    ) -> impl Future<Output = Result<Option<InvoiceView>, StoreError>> + Send;

    /// Backend primitive of [`Store::invoice_history`]: the entries whose key
    /// is the invoice's, then the allowances naming it, in (hlc, origin, seq)
    /// order.
    fn seller_invoice_history(
        &self,
        seller: ScopedSeller,
        number: InvoiceNumber,
    ) -> impl Future<Output = Result<Vec<LedgerEntry>, StoreError>> + Send;

    /// Backend primitive of [`Store::list_invoices`].
    fn seller_invoices(
        &self,
        seller: ScopedSeller,
        period: Period,
        after: Option<InvoiceNumber>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<InvoiceSummary>, StoreError>> + Send;

    /// Backend primitive of [`Store::tracks`]: the allocations in (track, begin) order.
    fn seller_tracks(
        &self,
        seller: ScopedSeller,
        period: Period,
    ) -> impl Future<Output = Result<Vec<TrackAllocation>, StoreError>> + Send;

    /// Backend primitive of [`Store::blanks`]: the 8-digit parts of the
    /// numbers issued within `allocation` (its seller and period), ascending.
    fn issued_numbers(
        &self,
        seller: ScopedSeller,
        allocation: &TrackAllocation,
    ) -> impl Future<Output = Result<Vec<u32>, StoreError>> + Send;

    // ---- citizens and the public ------------------------------------------

    /// Invoices on a carrier in a period (the caller has authenticated the carrier).
    fn carrier_invoices(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> impl Future<Output = Result<Vec<InvoiceView>, StoreError>> + Send;

    /// The carrier read path (`/v1/carrier/invoices`, App API
    /// `carrierInvChk`): a carrier's invoices in a period, in date, time and
    /// number order, with seller name, currency and item lines from the read
    /// projection ([`read_projection`]). This provided body decodes each
    /// invoice's message (the old path); a backend with the projection table
    /// overrides it and decodes no body.
    fn carrier_invoice_rows(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> impl Future<Output = Result<Vec<read_projection::CarrierInvoice>, StoreError>> + Send {
        async move {
            Ok(self
                .carrier_invoices(carrier, period)
                .await?
                .iter()
                .map(read_projection::CarrierInvoice::from_view)
                .collect())
        }
    }

    /// Public lookup of one invoice by number and random code, answered
    /// from the read projection like [`Store::carrier_invoice_rows`] (no
    /// canonical body decoded): `None` when no invoice — or more than one
    /// (two sellers' numbers and codes can meet by chance) — matches.
    fn lookup_invoice(
        &self,
        number: InvoiceNumber,
        random: RandomNumber,
    ) -> impl Future<Output = Result<Option<read_projection::CarrierInvoice>, StoreError>> + Send;

    /// Public lookup of one invoice by number and date (MOF `qryInvHeader`
    /// as clients send it, without the random code), from the read
    /// projection: `None` when no invoice — or more than one (two sellers
    /// with the number in the period) — has this number and date.
    fn lookup_invoice_by_date(
        &self,
        number: InvoiceNumber,
        date: einvoice_core::time::Date,
    ) -> impl Future<Output = Result<Option<read_projection::CarrierInvoice>, StoreError>> + Send;

    /// Register or replace a carrier's credential (argon2 hash of its verification code).
    fn put_carrier(
        &self,
        carrier: CarrierRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A carrier's credential and failure counters.
    fn carrier(
        &self,
        carrier: &Carrier,
    ) -> impl Future<Output = Result<Option<CarrierRecord>, StoreError>> + Send;

    /// Record a carrier login attempt (failure counters and soft lock).
    fn record_carrier_login(
        &self,
        carrier: &Carrier,
        attempt: LoginAttempt,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Count one login attempt in every budget of `keys` at once, before the
    /// secret is checked (see [`AttemptKey`]): either all are charged
    /// ([`Reservation::Granted`]) or none ([`Reservation::Refused`]). Atomic
    /// across concurrent callers (and, on a shared database, across nodes).
    fn reserve_attempt(
        &self,
        keys: Vec<AttemptKey>,
        now: i64,
    ) -> impl Future<Output = Result<Reservation, StoreError>> + Send;

    /// Give back one attempt in each budget of `keys` (the secret was right:
    /// a success does not count against the account).
    fn release_attempt(
        &self,
        keys: Vec<AttemptKey>,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    // ---- tenants, keys, apps, operators -----------------------------------

    /// Register or update a seller.
    fn put_seller(
        &self,
        seller: SellerRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One seller.
    fn seller(
        &self,
        ubn: Ubn,
    ) -> impl Future<Output = Result<Option<SellerRecord>, StoreError>> + Send;

    /// Create or replace an API key (secret stored sealed by the caller).
    fn put_api_key(&self, key: ApiKeyRecord)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One API key by id.
    fn api_key(
        &self,
        key_id: &str,
    ) -> impl Future<Output = Result<Option<ApiKeyRecord>, StoreError>> + Send;

    /// Remember a request nonce; `false` if it was already seen (a replay).
    /// Nonces older than `expires_unix` may be forgotten.
    fn remember_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        expires_unix: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Register or replace a MOF App API application.
    fn put_app(&self, app: AppRecord) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One application by appID.
    fn app(
        &self,
        app_id: &str,
    ) -> impl Future<Output = Result<Option<AppRecord>, StoreError>> + Send;

    /// Put (or replace) the SOC hold on [`SocHold::target`]: a response
    /// action in force, or lifted (kept, so a carrier's old tokens stay dead).
    fn put_soc_hold(&self, hold: SocHold) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The SOC hold on `target` (`seller:<ubn>`, `carrier:<type:id>`,
    /// `site`), in force or lifted, if one was ever put.
    fn soc_hold(
        &self,
        target: &str,
    ) -> impl Future<Output = Result<Option<SocHold>, StoreError>> + Send;

    /// Create or replace an operator account.
    fn put_operator(
        &self,
        operator: OperatorRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One operator by name.
    fn operator(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<OperatorRecord>, StoreError>> + Send;

    /// Number of operator accounts (bootstrap checks for zero).
    fn operator_count(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Create a session (the token is stored hashed).
    fn put_session(
        &self,
        session: SessionRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A live session by token hash.
    fn session(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<Option<SessionRecord>, StoreError>> + Send;

    // ---- winning numbers (per period, versioned) ------------------------------

    /// Store a version of a period's winning numbers (a draft, or an approval
    /// that publishes it). A published version is never modified: a correction
    /// is a new version.
    fn put_winning_numbers(
        &self,
        record: WinningNumbersRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The latest version of a period's winning numbers (published or not).
    fn winning_numbers(
        &self,
        period: Period,
    ) -> impl Future<Output = Result<Option<WinningNumbersRecord>, StoreError>> + Send;

    /// Readiness: can the store serve a query right now?
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    // ---- export / import --------------------------------------------------

    /// The origins present in the ledger, sorted.
    fn origins(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// Every record besides the ledger (see [`SiteRecords`]), in the form the
    /// store keeps it (secrets hashed or sealed, never decrypted), sorted by id.
    fn export_records(&self) -> impl Future<Output = Result<SiteRecords, StoreError>> + Send;

    /// Import a site into this **empty** store in one transaction: the
    /// records, then every entry verbatim (same origin, seq, HLC, body and
    /// hashes), each message entry projected through the same code as an
    /// append (facts re-derived with [`replay_facts`]). `entries` must be in
    /// sequence order per origin. A non-empty store is refused with
    /// [`TARGET_NOT_EMPTY`]; on any failure nothing is written.
    fn import_site(
        &self,
        records: SiteRecords,
        entries: Vec<LedgerEntry>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    // ---- the draw ---------------------------------------------------------

    /// A page of the period's eligible invoices (B2C, issued and neither
    /// cancelled nor voided, dated inside the period), ordered by (invoice
    /// number, seller) — the snapshot's (track, number, seller) order —
    /// strictly after `after`, at most `limit`.
    fn eligible_invoices(
        &self,
        period: Period,
        after: Option<EligibleCursor>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<EligibleRow>, StoreError>> + Send;

    /// Record a period's frozen snapshot and append its ledger `entry` (kind
    /// [`DRAW_FREEZE`], key [`draw_entry_key`]) in **one** transaction, through
    /// the same chain code as [`Store::append_event`]: a crash leaves both or
    /// neither. A period is frozen once: the same root again is
    /// [`DrawPut::Unchanged`], a different one a [`DrawPut::Conflict`]; both
    /// append nothing. An entry that is not the freeze's is refused
    /// ([`DRAW_ENTRY_MISMATCH`], see [`check_draw_entry`]) before anything is
    /// written.
    fn put_draw_freeze(
        &self,
        freeze: DrawFreeze,
        entry: NewEntry,
    ) -> impl Future<Output = Result<DrawPut, StoreError>> + Send;

    /// A period's frozen snapshot, if frozen.
    fn draw_freeze(
        &self,
        period: Period,
    ) -> impl Future<Output = Result<Option<DrawFreeze>, StoreError>> + Send;

    /// Load a period's winners, their notifications ([`winner_notifications`])
    /// and their ledger `entry` (kind [`DRAW_WINNERS`], key
    /// [`draw_entry_key`]), all in one transaction; the entry goes through the
    /// same chain code as [`Store::append_event`]. Idempotent: the same
    /// winners again are [`DrawPut::Unchanged`]; different winners for a
    /// period already loaded are a [`DrawPut::Conflict`]; both change nothing
    /// and append nothing. An entry that is not the load's
    /// ([`DRAW_ENTRY_MISMATCH`]) or lines out of order
    /// ([`WINNERS_LINE_ORDER`], see [`WinnersLoad::check_lines`]) are refused
    /// before anything is written.
    ///
    /// Sized for a national draw (millions of lines in one call): backends
    /// load the lines in bulk and give this one transaction its own deadline.
    fn put_winners(
        &self,
        load: WinnersLoad,
        entry: NewEntry,
    ) -> impl Future<Output = Result<DrawPut, StoreError>> + Send;

    /// What is loaded for a period, if its winners are loaded.
    fn winners_summary(
        &self,
        period: Period,
    ) -> impl Future<Output = Result<Option<WinnersSummary>, StoreError>> + Send;

    /// A page of a period's winner lines in line order, with `line > after`
    /// (all from the start when `None`), at most `limit`.
    fn winners(
        &self,
        period: Period,
        after: Option<u64>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<WinnerRecord>, StoreError>> + Send;

    /// The winner lines of one carrier in a period, in line order.
    fn carrier_winnings(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> impl Future<Output = Result<Vec<WinnerRecord>, StoreError>> + Send;

    /// Register or replace a carrier's bank account (sealed by the caller).
    fn put_bank_account(
        &self,
        account: BankAccountRecord,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A carrier's bank account (`carrier` as `type:id`), if registered.
    fn bank_account(
        &self,
        carrier: &str,
    ) -> impl Future<Output = Result<Option<BankAccountRecord>, StoreError>> + Send;

    /// Claim up to `limit` outbox items for delivery by `worker`
    /// ([`Store::put_winners`] enqueues [`winner_notifications`] in its
    /// transaction): atomically take undelivered items due at `now_unix`
    /// (`next_unix <= now_unix`) that are not under a live lease (none, or
    /// one that ended at or before `now_unix`), lease them to `worker` until
    /// `now_unix + lease_secs` (at least one second), and return them, oldest
    /// schedule first.
    ///
    /// Claims at the same instant, from one node or from several nodes of one
    /// database, get disjoint items. Items of a worker that never marks them
    /// (it crashed) are claimable again once the lease has ended. `worker`
    /// must be unique per delivering loop (e.g. node + process + random).
    fn outbox_claim(
        &self,
        now_unix: i64,
        limit: u32,
        lease_secs: u32,
        worker: &str,
    ) -> impl Future<Output = Result<Vec<OutboxItem>, StoreError>> + Send;

    /// Record `worker`'s delivery attempt of outbox item `id` and end its
    /// lease. Applies only while `worker` still holds the item's lease (its
    /// last claimer, even if the lease has run out since, as long as nobody
    /// claimed it again): returns `false`, changing nothing, when another
    /// worker has claimed the item since, when it is delivered already, or
    /// when it is unknown. A failed item becomes claimable at its `next_unix`.
    fn outbox_mark(
        &self,
        id: &str,
        worker: &str,
        outcome: OutboxOutcome,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    // ---- site-to-site sync (einvoice-sync) ---------------------------------

    /// Apply a page of another origin's entries (links already checked with
    /// [`ChainCheck`]) in **one** transaction: refuse this site's own origin
    /// ([`SYNC_OWN_ORIGIN`]); place the page on the stored head with
    /// [`sync_overlap`] (entries already stored are skipped, a page that does
    /// not meet the stored chain is [`SYNC_HEAD_MISMATCH`]); insert each new
    /// entry verbatim and project it through the same code as an import (and
    /// so as an append); store the origin's cursor and `page.seen` (the
    /// upstream's head and last error). On any failure nothing is written.
    fn apply_sync_page(
        &self,
        page: SyncPage,
    ) -> impl Future<Output = Result<SyncApplied, StoreError>> + Send;

    /// Every origin this site holds or has heard of from an upstream: its
    /// stored head and each upstream's last known state, sorted by origin
    /// then upstream.
    fn sync_state(&self) -> impl Future<Output = Result<Vec<SyncOriginState>, StoreError>> + Send;

    /// The records cursor of `origin` (another site's): the last of its
    /// entries whose side record has been fetched from the records feed,
    /// checked against the entry and stored (0 before any).
    fn sync_records_cursor(
        &self,
        origin: &str,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// In one transaction: store what travelled with `origin`'s entries up
    /// to `upto` (checked against their entries by the caller): each bank
    /// account (sealed under this site's key; it replaces the stored one of
    /// its carrier unless that one is newer) and each revoked API key
    /// (disabled where this site holds it); and move the origin's records
    /// cursor to `upto` (never back). This site's own origin is
    /// [`SYNC_OWN_ORIGIN`].
    fn apply_sync_records(
        &self,
        origin: &str,
        upto: u64,
        records: SyncRecords,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
