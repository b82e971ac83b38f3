//! The [`Store`] implementation: one block, each method delegating to the
//! module that speaks its SQL (`read`, `records`, `append`, `io`, `draw`,
//! `outbox`). The rules live in `einvoice-store`.

use crate::{SqliteStore, append, attempts, draw, io, outbox, read, records};
use einvoice_core::Period;
use einvoice_core::ids::{Carrier, InvoiceNumber, RandomNumber, Ubn};
use einvoice_store::read_projection::CarrierInvoice;
use einvoice_store::*;

impl Store for SqliteStore {
    fn site(&self) -> &str {
        &self.inner.site
    }

    // ---- the ledger ----

    // `Rejection` is the trait's own type; its size is not ours to change.
    #[allow(clippy::result_large_err)]
    async fn append_admitted(
        &self,
        actor: &str,
        messages: Vec<Result<AdmittedMessage, Rejection>>,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        let (actor, site) = (actor.to_string(), self.inner.site.clone());
        let prepared: Vec<Result<append::Prepared, Rejection>> = messages
            .into_iter()
            .map(|m| m.map(append::Prepared::new))
            .collect();
        self.write(move |t, head| append::append_messages(t, head, &site, &actor, &prepared))
            .await
    }

    async fn append_event(&self, entry: NewEntry) -> Result<Receipt, StoreError> {
        let site = self.inner.site.clone();
        self.write(move |t, head| append::append_event(t, head, &site, &entry))
            .await
    }

    async fn entries(
        &self,
        origin: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let origin = origin.to_string();
        self.read(move |c| read::entries(c, &origin, after, limit))
            .await
    }

    async fn verify_ledger(&self, origin: &str) -> Result<LedgerVerdict, StoreError> {
        let origin = origin.to_string();
        self.read(move |c| read::verify_ledger(c, &origin)).await
    }

    // ---- seller data (the scoped primitives) ----

    async fn seller_invoice(
        &self,
        seller: ScopedSeller,
        number: InvoiceNumber,
    ) -> Result<Option<InvoiceView>, StoreError> {
        self.read(move |c| read::invoice(c, seller.ubn(), number))
            .await
    }

    async fn seller_invoice_history(
        &self,
        seller: ScopedSeller,
        number: InvoiceNumber,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        self.read(move |c| read::invoice_history(c, seller.ubn(), number))
            .await
    }

    async fn seller_invoices(
        &self,
        seller: ScopedSeller,
        period: Period,
        after: Option<InvoiceNumber>,
        limit: u32,
    ) -> Result<Vec<InvoiceSummary>, StoreError> {
        self.read(move |c| read::list_invoices(c, seller.ubn(), period, after, limit))
            .await
    }

    async fn seller_tracks(
        &self,
        seller: ScopedSeller,
        period: Period,
    ) -> Result<Vec<TrackAllocation>, StoreError> {
        self.read(move |c| read::tracks(c, seller.ubn(), period))
            .await
    }

    async fn issued_numbers(
        &self,
        seller: ScopedSeller,
        allocation: &TrackAllocation,
    ) -> Result<Vec<u32>, StoreError> {
        let allocation = allocation.clone();
        self.read(move |c| read::issued_numbers(c, seller.ubn(), &allocation))
            .await
    }

    // ---- citizens and the public ----

    async fn carrier_invoices(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> Result<Vec<InvoiceView>, StoreError> {
        let carrier = carrier.clone();
        self.read(move |c| read::carrier_invoices(c, &carrier, period))
            .await
    }

    async fn carrier_invoice_rows(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> Result<Vec<CarrierInvoice>, StoreError> {
        let carrier = carrier.clone();
        self.read(move |c| crate::carrier_read::carrier_invoice_rows(c, &carrier, period))
            .await
    }

    async fn lookup_invoice(
        &self,
        number: InvoiceNumber,
        random: RandomNumber,
    ) -> Result<Option<einvoice_store::read_projection::CarrierInvoice>, StoreError> {
        self.read(move |c| crate::carrier_read::lookup_invoice(c, number, random))
            .await
    }

    async fn lookup_invoice_by_date(
        &self,
        number: InvoiceNumber,
        date: einvoice_core::time::Date,
    ) -> Result<Option<einvoice_store::read_projection::CarrierInvoice>, StoreError> {
        self.read(move |c| crate::carrier_read::lookup_invoice_by_date(c, number, date))
            .await
    }

    async fn put_carrier(&self, carrier: CarrierRecord) -> Result<(), StoreError> {
        self.put_record("carrier", carrier_key(&carrier.carrier), carrier)
            .await
    }

    async fn carrier(&self, carrier: &Carrier) -> Result<Option<CarrierRecord>, StoreError> {
        self.record("carrier", carrier_key(carrier)).await
    }

    async fn record_carrier_login(
        &self,
        carrier: &Carrier,
        attempt: LoginAttempt,
    ) -> Result<(), StoreError> {
        let id = carrier_key(carrier);
        self.write(move |t, _| records::record_carrier_login(t, &id, attempt))
            .await
    }

    async fn reserve_attempt(
        &self,
        keys: Vec<AttemptKey>,
        now: i64,
    ) -> Result<Reservation, StoreError> {
        self.write(move |t, _| attempts::reserve(t, &keys, now))
            .await
    }

    async fn release_attempt(&self, keys: Vec<AttemptKey>, _now: i64) -> Result<(), StoreError> {
        self.write(move |t, _| attempts::release(t, &keys)).await
    }

    // ---- tenants, keys, apps, operators ----

    async fn put_seller(&self, seller: SellerRecord) -> Result<(), StoreError> {
        self.put_record("seller", seller.ubn.as_str().to_string(), seller)
            .await
    }

    async fn seller(&self, ubn: Ubn) -> Result<Option<SellerRecord>, StoreError> {
        self.record("seller", ubn.as_str().to_string()).await
    }

    async fn put_api_key(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        self.put_record("api_key", key.key_id.clone(), key).await
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.record("api_key", key_id.to_string()).await
    }

    async fn remember_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        expires_unix: i64,
    ) -> Result<bool, StoreError> {
        let (k, n) = (key_id.to_string(), nonce.to_string());
        self.write(move |t, _| records::remember_nonce(t, &k, &n, expires_unix))
            .await
    }

    async fn put_app(&self, app: AppRecord) -> Result<(), StoreError> {
        self.put_record("app", app.app_id.clone(), app).await
    }

    async fn app(&self, app_id: &str) -> Result<Option<AppRecord>, StoreError> {
        self.record("app", app_id.to_string()).await
    }

    async fn put_soc_hold(&self, hold: SocHold) -> Result<(), StoreError> {
        self.put_record("soc_hold", hold.target.clone(), hold).await
    }

    async fn soc_hold(&self, target: &str) -> Result<Option<SocHold>, StoreError> {
        self.record("soc_hold", target.to_string()).await
    }

    async fn put_operator(&self, operator: OperatorRecord) -> Result<(), StoreError> {
        self.put_record("operator", operator.name.clone(), operator)
            .await
    }

    async fn operator(&self, name: &str) -> Result<Option<OperatorRecord>, StoreError> {
        self.record("operator", name.to_string()).await
    }

    async fn operator_count(&self) -> Result<u64, StoreError> {
        self.read(read::operator_count).await
    }

    async fn put_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        self.put_record("session", session.token_hash.clone(), session)
            .await
    }

    async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.record("session", token_hash.to_string()).await
    }

    // ---- winning numbers ----

    async fn put_winning_numbers(&self, record: WinningNumbersRecord) -> Result<(), StoreError> {
        self.write(move |t, _| records::put_winning_numbers(t, &record))
            .await
    }

    async fn winning_numbers(
        &self,
        period: Period,
    ) -> Result<Option<WinningNumbersRecord>, StoreError> {
        self.read(move |c| read::winning_numbers(c, period)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(read::ping).await
    }

    // ---- export / import ----

    async fn origins(&self) -> Result<Vec<String>, StoreError> {
        io::origins(self).await
    }

    async fn export_records(&self) -> Result<SiteRecords, StoreError> {
        io::export_records(self).await
    }

    async fn import_site(
        &self,
        records: SiteRecords,
        entries: Vec<LedgerEntry>,
    ) -> Result<(), StoreError> {
        io::import_site(self, records, entries).await
    }

    // ---- the draw ----

    async fn eligible_invoices(
        &self,
        period: Period,
        after: Option<EligibleCursor>,
        limit: u32,
    ) -> Result<Vec<EligibleRow>, StoreError> {
        draw::eligible_invoices(self, period, after, limit).await
    }

    async fn put_draw_freeze(
        &self,
        freeze: DrawFreeze,
        entry: NewEntry,
    ) -> Result<DrawPut, StoreError> {
        draw::put_draw_freeze(self, freeze, entry).await
    }

    async fn draw_freeze(&self, period: Period) -> Result<Option<DrawFreeze>, StoreError> {
        draw::draw_freeze(self, period).await
    }

    async fn put_winners(&self, load: WinnersLoad, entry: NewEntry) -> Result<DrawPut, StoreError> {
        draw::put_winners(self, load, entry).await
    }

    async fn winners_summary(&self, period: Period) -> Result<Option<WinnersSummary>, StoreError> {
        draw::winners_summary(self, period).await
    }

    async fn winners(
        &self,
        period: Period,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<WinnerRecord>, StoreError> {
        draw::winners(self, period, after, limit).await
    }

    async fn carrier_winnings(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> Result<Vec<WinnerRecord>, StoreError> {
        draw::carrier_winnings(self, carrier, period).await
    }

    async fn put_bank_account(&self, account: BankAccountRecord) -> Result<(), StoreError> {
        draw::put_bank_account(self, account).await
    }

    async fn bank_account(&self, carrier: &str) -> Result<Option<BankAccountRecord>, StoreError> {
        draw::bank_account(self, carrier).await
    }

    // ---- the outbox ----

    async fn outbox_claim(
        &self,
        now_unix: i64,
        limit: u32,
        lease_secs: u32,
        worker: &str,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        outbox::outbox_claim(self, now_unix, limit, lease_secs, worker).await
    }

    async fn outbox_mark(
        &self,
        id: &str,
        worker: &str,
        outcome: OutboxOutcome,
    ) -> Result<bool, StoreError> {
        outbox::outbox_mark(self, id, worker, outcome).await
    }

    // ---- site-to-site sync ----

    async fn apply_sync_page(
        &self,
        page: einvoice_store::SyncPage,
    ) -> Result<einvoice_store::SyncApplied, StoreError> {
        crate::sync::apply_sync_page(self, page).await
    }

    async fn sync_state(&self) -> Result<Vec<einvoice_store::SyncOriginState>, StoreError> {
        crate::sync::sync_state(self).await
    }

    async fn sync_records_cursor(&self, origin: &str) -> Result<u64, StoreError> {
        crate::sync_records::cursor(self, origin).await
    }

    async fn apply_sync_records(
        &self,
        origin: &str,
        upto: u64,
        records: einvoice_store::SyncRecords,
    ) -> Result<(), StoreError> {
        crate::sync_records::apply(self, origin, upto, records).await
    }
}

impl SqliteStore {
    /// Insert or replace the record `id` of `space` (one write job).
    async fn put_record<T: serde::Serialize + Send + 'static>(
        &self,
        space: &'static str,
        id: String,
        v: T,
    ) -> Result<(), StoreError> {
        self.write(move |t, _| records::put_record(t, space, &id, &v))
            .await
    }

    /// The record `id` of `space`, if any.
    async fn record<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        space: &'static str,
        id: String,
    ) -> Result<Option<T>, StoreError> {
        self.read(move |c| read::record(c, space, &id)).await
    }
}
