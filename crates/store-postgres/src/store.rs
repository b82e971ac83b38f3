//! The [`Store`] implementation: one block, each method delegating to the
//! module that speaks its SQL (`read`, `append`, `io`, `draw`, `outbox`).
//! The rules live in `einvoice-store`.

use crate::PgStore;
use einvoice_core::Period;
use einvoice_core::ids::{Carrier, InvoiceNumber, RandomNumber, Ubn};
use einvoice_store::*;

impl Store for PgStore {
    fn site(&self) -> &str {
        &self.shared().site
    }

    // ---- the ledger ----

    async fn append_admitted(
        &self,
        actor: &str,
        messages: Vec<Result<AdmittedMessage, Rejection>>,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        self.write_messages(actor, messages).await
    }

    async fn append_event(&self, entry: NewEntry) -> Result<Receipt, StoreError> {
        self.write_event(entry).await
    }

    async fn entries(
        &self,
        origin: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        self.entries_after(origin, after, limit).await
    }

    async fn verify_ledger(&self, origin: &str) -> Result<LedgerVerdict, StoreError> {
        self.verify_chain(origin).await
    }

    // ---- seller data (the scoped primitives) ----

    async fn seller_invoice(
        &self,
        seller: ScopedSeller,
        number: InvoiceNumber,
    ) -> Result<Option<InvoiceView>, StoreError> {
        self.invoice_of_seller(seller.ubn(), number).await
    }

    async fn seller_invoice_history(
        &self,
        seller: ScopedSeller,
        number: InvoiceNumber,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        self.history_of_invoice(seller.ubn(), number).await
    }

    async fn seller_invoices(
        &self,
        seller: ScopedSeller,
        period: Period,
        after: Option<InvoiceNumber>,
        limit: u32,
    ) -> Result<Vec<InvoiceSummary>, StoreError> {
        self.invoices_of_seller(seller.ubn(), period, after, limit)
            .await
    }

    async fn seller_tracks(
        &self,
        seller: ScopedSeller,
        period: Period,
    ) -> Result<Vec<TrackAllocation>, StoreError> {
        self.tracks_of(seller.ubn(), period).await
    }

    async fn issued_numbers(
        &self,
        seller: ScopedSeller,
        allocation: &TrackAllocation,
    ) -> Result<Vec<u32>, StoreError> {
        self.issued_numbers_in(seller.ubn(), allocation).await
    }

    // ---- citizens and the public ----

    async fn carrier_invoices(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> Result<Vec<InvoiceView>, StoreError> {
        self.invoices_on_carrier(carrier, period).await
    }

    async fn carrier_invoice_rows(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> Result<Vec<einvoice_store::read_projection::CarrierInvoice>, StoreError> {
        self.carrier_rows(carrier, period).await
    }

    async fn lookup_invoice(
        &self,
        number: InvoiceNumber,
        random: RandomNumber,
    ) -> Result<Option<einvoice_store::read_projection::CarrierInvoice>, StoreError> {
        self.public_by_random(number, random).await
    }

    async fn lookup_invoice_by_date(
        &self,
        number: InvoiceNumber,
        date: einvoice_core::time::Date,
    ) -> Result<Option<einvoice_store::read_projection::CarrierInvoice>, StoreError> {
        self.public_by_date(number, date).await
    }

    async fn put_carrier(&self, carrier: CarrierRecord) -> Result<(), StoreError> {
        self.put_record("carrier", &carrier_key(&carrier.carrier), &carrier)
            .await
    }

    async fn carrier(&self, carrier: &Carrier) -> Result<Option<CarrierRecord>, StoreError> {
        self.get_record("carrier", &carrier_key(carrier)).await
    }

    async fn record_carrier_login(
        &self,
        carrier: &Carrier,
        attempt: LoginAttempt,
    ) -> Result<(), StoreError> {
        self.carrier_login(carrier, attempt).await
    }

    async fn reserve_attempt(
        &self,
        keys: Vec<AttemptKey>,
        now: i64,
    ) -> Result<Reservation, StoreError> {
        self.reserve_attempts(keys, now).await
    }

    async fn release_attempt(&self, keys: Vec<AttemptKey>, _now: i64) -> Result<(), StoreError> {
        self.release_attempts(keys).await
    }

    // ---- tenants, keys, apps, operators ----

    async fn put_seller(&self, seller: SellerRecord) -> Result<(), StoreError> {
        self.put_record("seller", seller.ubn.as_str(), &seller)
            .await
    }

    async fn seller(&self, ubn: Ubn) -> Result<Option<SellerRecord>, StoreError> {
        self.get_record("seller", ubn.as_str()).await
    }

    async fn put_api_key(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        self.put_record("api_key", &key.key_id, &key).await
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.get_record("api_key", key_id).await
    }

    async fn remember_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        expires_unix: i64,
    ) -> Result<bool, StoreError> {
        self.remember_nonce_once(key_id, nonce, expires_unix).await
    }

    async fn put_app(&self, app: AppRecord) -> Result<(), StoreError> {
        self.put_record("app", &app.app_id, &app).await
    }

    async fn app(&self, app_id: &str) -> Result<Option<AppRecord>, StoreError> {
        self.get_record("app", app_id).await
    }

    async fn put_soc_hold(&self, hold: SocHold) -> Result<(), StoreError> {
        self.put_record("soc_hold", &hold.target, &hold).await
    }

    async fn soc_hold(&self, target: &str) -> Result<Option<SocHold>, StoreError> {
        self.get_record("soc_hold", target).await
    }

    async fn put_operator(&self, operator: OperatorRecord) -> Result<(), StoreError> {
        self.put_record("operator", &operator.name, &operator).await
    }

    async fn operator(&self, name: &str) -> Result<Option<OperatorRecord>, StoreError> {
        self.get_record("operator", name).await
    }

    async fn operator_count(&self) -> Result<u64, StoreError> {
        self.count_operators().await
    }

    async fn put_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        self.put_record("session", &session.token_hash, &session)
            .await
    }

    async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.get_record("session", token_hash).await
    }

    // ---- winning numbers ----

    async fn put_winning_numbers(&self, record: WinningNumbersRecord) -> Result<(), StoreError> {
        self.store_winning_numbers(record).await
    }

    async fn winning_numbers(
        &self,
        period: Period,
    ) -> Result<Option<WinningNumbersRecord>, StoreError> {
        self.latest_winning_numbers(period).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.probe().await
    }

    // ---- export / import ----

    async fn origins(&self) -> Result<Vec<String>, StoreError> {
        crate::io::origins(self).await
    }

    async fn export_records(&self) -> Result<SiteRecords, StoreError> {
        crate::io::export_records(self).await
    }

    async fn import_site(
        &self,
        records: SiteRecords,
        entries: Vec<LedgerEntry>,
    ) -> Result<(), StoreError> {
        crate::io::import_site(self, records, entries).await
    }

    // ---- the draw ----

    async fn eligible_invoices(
        &self,
        period: Period,
        after: Option<EligibleCursor>,
        limit: u32,
    ) -> Result<Vec<EligibleRow>, StoreError> {
        self.draw_eligible(period, after, limit).await
    }

    async fn put_draw_freeze(
        &self,
        freeze: DrawFreeze,
        entry: NewEntry,
    ) -> Result<DrawPut, StoreError> {
        self.draw_put_freeze(freeze, entry).await
    }

    async fn draw_freeze(&self, period: Period) -> Result<Option<DrawFreeze>, StoreError> {
        self.draw_get_freeze(period).await
    }

    async fn put_winners(&self, load: WinnersLoad, entry: NewEntry) -> Result<DrawPut, StoreError> {
        self.draw_put_winners(load, entry).await
    }

    async fn winners_summary(&self, period: Period) -> Result<Option<WinnersSummary>, StoreError> {
        self.draw_winners_summary(period).await
    }

    async fn winners(
        &self,
        period: Period,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<WinnerRecord>, StoreError> {
        self.draw_winners(period, after, limit).await
    }

    async fn carrier_winnings(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> Result<Vec<WinnerRecord>, StoreError> {
        self.draw_carrier_winnings(carrier, period).await
    }

    async fn put_bank_account(&self, account: BankAccountRecord) -> Result<(), StoreError> {
        self.draw_put_bank_account(account).await
    }

    async fn bank_account(&self, carrier: &str) -> Result<Option<BankAccountRecord>, StoreError> {
        self.draw_bank_account(carrier).await
    }

    // ---- the outbox ----

    async fn outbox_claim(
        &self,
        now_unix: i64,
        limit: u32,
        lease_secs: u32,
        worker: &str,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.claim_outbox(now_unix, limit, lease_secs, worker).await
    }

    async fn outbox_mark(
        &self,
        id: &str,
        worker: &str,
        outcome: OutboxOutcome,
    ) -> Result<bool, StoreError> {
        self.mark_outbox(id, worker, outcome).await
    }

    // ---- site-to-site sync ----

    async fn apply_sync_page(
        &self,
        page: einvoice_store::SyncPage,
    ) -> Result<einvoice_store::SyncApplied, StoreError> {
        self.sync_apply(page).await
    }

    async fn sync_state(&self) -> Result<Vec<einvoice_store::SyncOriginState>, StoreError> {
        self.sync_origins().await
    }

    async fn sync_records_cursor(&self, origin: &str) -> Result<u64, StoreError> {
        self.records_cursor(origin).await
    }

    async fn apply_sync_records(
        &self,
        origin: &str,
        upto: u64,
        records: einvoice_store::SyncRecords,
    ) -> Result<(), StoreError> {
        self.records_apply(origin, upto, records).await
    }
}
