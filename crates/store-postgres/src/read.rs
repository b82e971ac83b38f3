//! The read side and the [`Store`] implementation.

use crate::PgStore;
use crate::append::{hash_of, period_key, to_i64, to_u64};
use crate::error::DbError;
use einvoice_core::ids::{
    BuyerId, Carrier, CarrierType, CarrierTypes, IdPolicy, InvoiceNumber, RandomNumber, Track, Ubn,
};
use einvoice_core::{Period, Validated};
use einvoice_store::*;
use tokio_postgres::Row;

/// Every SQL statement of the read side, by query shape. The `EXPLAIN` test
/// (`src/explain_tests.rs`) runs these very strings.
pub(crate) mod sql {
    macro_rules! invoice_select {
        () => {
            "SELECT i.seller, i.number, i.period, i.date, i.time, i.buyer, i.random, i.carrier_type, \
             i.carrier_id, i.npoban, i.total, i.status, i.allowance, i.body, i.origin, i.seq, \
             l.hlc, l.kind, l.key, l.hash \
             FROM invoices i LEFT JOIN ledger l ON l.origin = i.origin AND l.seq = i.seq "
        };
    }
    macro_rules! entry_select {
        () => {
            "SELECT origin, seq, hlc, kind, key, actor, body, prev_hash, hash FROM ledger "
        };
    }

    /// One invoice by seller + number (no period: every partition's primary key is probed).
    pub(crate) const INVOICE_BY_NUMBER: &str =
        concat!(invoice_select!(), "WHERE i.seller = $1 AND i.number = $2");
    /// A seller's invoices in a period, paged by number.
    pub(crate) const INVOICES_OF_SELLER: &str = concat!(
        invoice_select!(),
        "WHERE i.seller = $1 AND i.period = $2 AND i.number > $3 ORDER BY i.number LIMIT $4"
    );
    /// Invoices on a carrier in a period.
    pub(crate) const INVOICES_ON_CARRIER: &str = concat!(
        invoice_select!(),
        "WHERE i.carrier_type = $1 AND i.carrier_id = $2 AND i.period = $3 ORDER BY i.date, i.time, i.number"
    );
    /// Public lookup by number + random code.
    pub(crate) const INVOICE_BY_RANDOM: &str = concat!(
        invoice_select!(),
        "WHERE i.number = $1 AND i.random = $2 LIMIT 2"
    );
    /// Issued numbers of a seller within a track range (blanks).
    pub(crate) const NUMBERS_IN_RANGE: &str = "SELECT number FROM invoices WHERE seller = $1 AND period = $2 \
         AND number >= $3 AND number <= $4 ORDER BY number";
    /// A seller's allocations in a period.
    pub(crate) const TRACKS_OF_SELLER: &str = "SELECT track, begin_no, end_no FROM tracks WHERE seller = $1 AND period = $2 \
         ORDER BY track, begin_no";
    /// Ledger entries of an origin after a sequence.
    pub(crate) const ENTRIES_AFTER: &str = concat!(
        entry_select!(),
        "WHERE origin = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    );
    /// Every entry about one natural key.
    pub(crate) const ENTRIES_OF_KEY: &str =
        concat!(entry_select!(), "WHERE key = $1 ORDER BY hlc, origin, seq");
    /// Allowance entries naming one invoice.
    pub(crate) const ALLOWANCE_ENTRIES_OF_INVOICE: &str = concat!(
        entry_select!(),
        "WHERE key IN (SELECT 'allowance/' || seller || '/' || allowance FROM allowances \
         WHERE seller = $1 AND invoice = $2) ORDER BY hlc, origin, seq"
    );
    /// One record document.
    pub(crate) const RECORD: &str = "SELECT json FROM records WHERE space = $1 AND id = $2";
    /// Insert or replace a record document.
    pub(crate) const PUT_RECORD: &str = "INSERT INTO records (space, id, json) VALUES ($1, $2, $3) \
         ON CONFLICT (space, id) DO UPDATE SET json = excluded.json";
    /// The latest version of a period's winning numbers.
    pub(crate) const LATEST_WINNING: &str =
        "SELECT json FROM winning_numbers WHERE period = $1 ORDER BY version DESC LIMIT 1";
}

/// Rows per statement when walking a whole chain.
const VERIFY_CHUNK: i64 = 2_000;

fn corrupt(what: &str, v: &str) -> DbError {
    DbError::Store(StoreError::Corrupt(format!(
        "stored {what} {v:?} does not parse"
    )))
}

/// UBNs were validated on the way in (possibly under sandbox rules); read them back leniently.
fn stored_ubn(s: &str) -> Result<Ubn, DbError> {
    Ubn::parse(s)
        .or_else(|_| Ubn::parse_with(s, &IdPolicy::sandbox()))
        .map_err(|_| corrupt("UBN", s))
}

fn stored_period(key: i32) -> Result<Period, DbError> {
    u16::try_from(key / 100)
        .ok()
        .zip(u8::try_from(key % 100).ok())
        .and_then(|(y, m)| Period::new(y, m))
        .ok_or_else(|| corrupt("period", &key.to_string()))
}

/// An [`InvoiceView`] from a row of `sql::invoice_select!`.
fn view_of(r: &Row) -> Result<InvoiceView, DbError> {
    let seller = stored_ubn(&r.try_get::<_, String>(0)?)?;
    let number_s: String = r.try_get(1)?;
    let number =
        InvoiceNumber::parse(&number_s).map_err(|_| corrupt("invoice number", &number_s))?;
    let period = stored_period(r.try_get(2)?)?;
    let buyer_s: String = r.try_get(5)?;
    let buyer = if buyer_s == einvoice_core::ids::CONSUMER_BUYER_ID {
        BuyerId::Consumer
    } else {
        BuyerId::Business(stored_ubn(&buyer_s)?)
    };
    let random = match r.try_get::<_, Option<String>>(6)? {
        Some(x) => Some(RandomNumber::parse(&x).map_err(|_| corrupt("random number", &x))?),
        None => None,
    };
    let carrier = match (
        r.try_get::<_, Option<String>>(7)?,
        r.try_get::<_, Option<String>>(8)?,
    ) {
        (Some(t), Some(id)) => {
            let others = CarrierTypes::default();
            let kind = CarrierType::parse(&t, &others).unwrap_or(CarrierType::Other(t.clone()));
            Some(Carrier { kind, id })
        }
        _ => None,
    };
    let status_s: String = r.try_get(11)?;
    let status = match status_s.as_str() {
        "issued" => InvoiceStatus::Issued,
        "cancelled" => InvoiceStatus::Cancelled,
        "voided" => InvoiceStatus::Voided,
        other => return Err(corrupt("status", other)),
    };
    let body: Vec<u8> = r.try_get(13)?;
    let origin: String = r.try_get(14)?;
    let seq = to_u64(r.try_get(15)?)?;
    let receipt = match (
        r.try_get::<_, Option<i64>>(16)?,
        r.try_get::<_, Option<String>>(17)?,
        r.try_get::<_, Option<String>>(18)?,
        r.try_get::<_, Option<Vec<u8>>>(19)?,
    ) {
        (Some(hlc), Some(kind), Some(key), Some(hash)) => Some(Receipt {
            origin,
            seq,
            hash: hash_of(&hash)?,
            hlc: Hlc(to_u64(hlc)?),
            kind,
            key,
            duplicate: false,
        }),
        _ => None,
    };
    Ok(InvoiceView {
        summary: InvoiceSummary {
            seller,
            number,
            period,
            date: r.try_get(3)?,
            time: r.try_get(4)?,
            buyer,
            random,
            carrier,
            donated_to: r.try_get(9)?,
            total: r.try_get(10)?,
            status,
        },
        message: serde_json::from_slice(&body).ok(),
        allowance_total: r.try_get(12)?,
        receipt,
    })
}

pub(crate) fn entry_of(r: &Row) -> Result<LedgerEntry, DbError> {
    Ok(LedgerEntry {
        origin: r.try_get(0)?,
        seq: to_u64(r.try_get(1)?)?,
        hlc: Hlc(to_u64(r.try_get(2)?)?),
        kind: r.try_get(3)?,
        key: r.try_get(4)?,
        actor: r.try_get(5)?,
        body: r.try_get(6)?,
        prev_hash: hash_of(&r.try_get::<_, Vec<u8>>(7)?)?,
        hash: hash_of(&r.try_get::<_, Vec<u8>>(8)?)?,
    })
}

pub(crate) fn carrier_id(c: &Carrier) -> String {
    format!("{}:{}", c.kind.code(), c.id)
}

fn json_of<T: serde::Serialize>(v: &T) -> Result<String, DbError> {
    serde_json::to_string(v).map_err(|e| DbError::Store(StoreError::Backend(e.to_string())))
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, j: &str) -> Result<T, DbError> {
    serde_json::from_str(j).map_err(|e| DbError::Store(StoreError::Corrupt(format!("{what}: {e}"))))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl PgStore {
    async fn put_record<T: serde::Serialize + Sync>(
        &self,
        space: &str,
        id: &str,
        v: &T,
    ) -> Result<(), StoreError> {
        let json = json_of(v).map_err(DbError::into_store)?;
        let json = json.as_str();
        self.run(|c| async move {
            let st = c.prepare_cached(sql::PUT_RECORD).await?;
            c.execute(&st, &[&space, &id, &json]).await?;
            Ok(())
        })
        .await
    }

    async fn get_record<T: serde::de::DeserializeOwned + Send>(
        &self,
        space: &str,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        self.run(|c| async move {
            let st = c.prepare_cached(sql::RECORD).await?;
            match c.query_opt(&st, &[&space, &id]).await? {
                Some(row) => Ok(Some(parse_json(
                    &format!("{space}/{id}"),
                    &row.try_get::<_, String>(0)?,
                )?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn views(
        &self,
        query: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<InvoiceView>, StoreError> {
        self.run(|c| async move {
            let st = c.prepare_cached(query).await?;
            c.query(&st, params).await?.iter().map(view_of).collect()
        })
        .await
    }

    async fn tracks_of(
        &self,
        seller: Ubn,
        period: Period,
    ) -> Result<Vec<TrackAllocation>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        self.run(|c| async move {
            let st = c.prepare_cached(sql::TRACKS_OF_SELLER).await?;
            let mut out = Vec::new();
            for r in c.query(&st, &[&seller.as_str(), &pk]).await? {
                let t: String = r.try_get(0)?;
                let track = Track::parse(&t).map_err(|_| corrupt("track", &t))?;
                let bound = |i: usize| -> Result<u32, DbError> {
                    let v: i64 = r.try_get(i)?;
                    u32::try_from(v).map_err(|_| corrupt("track bound", &v.to_string()))
                };
                out.push(TrackAllocation {
                    seller,
                    period,
                    track,
                    begin: bound(1)?,
                    end: bound(2)?,
                });
            }
            Ok(out)
        })
        .await
    }
}

impl Store for PgStore {
    fn site(&self) -> &str {
        &self.shared().site
    }

    async fn append(
        &self,
        scope: &Scope,
        actor: &str,
        messages: Vec<Validated>,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        self.write_messages(scope, actor, messages).await
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
        let after = to_i64(after).map_err(DbError::into_store)?;
        let limit = i64::from(limit);
        self.run(|c| async move {
            let st = c.prepare_cached(sql::ENTRIES_AFTER).await?;
            c.query(&st, &[&origin, &after, &limit])
                .await?
                .iter()
                .map(entry_of)
                .collect()
        })
        .await
    }

    async fn verify_ledger(&self, origin: &str) -> Result<LedgerVerdict, StoreError> {
        // The ledger is append-only: walking it in chunks (one statement
        // each, bounded by the statement timeout) sees one consistent prefix.
        let (mut prev, mut expect, mut n) = (EntryHash::GENESIS, 1u64, 0u64);
        loop {
            let chunk = self
                .run(|c| async move {
                    let st = c.prepare_cached(sql::ENTRIES_AFTER).await?;
                    let after = to_i64(expect - 1)?;
                    c.query(&st, &[&origin, &after, &VERIFY_CHUNK])
                        .await?
                        .iter()
                        .map(entry_of)
                        .collect::<Result<Vec<_>, _>>()
                })
                .await?;
            if chunk.is_empty() {
                break;
            }
            for e in chunk {
                let broken = |code: &str, message: String| BrokenLink {
                    seq: expect,
                    code: code.into(),
                    message,
                };
                let bad = if e.seq != expect {
                    Some(broken(
                        "SEQ_GAP",
                        format!("expected entry {expect}, found {}", e.seq),
                    ))
                } else if e.prev_hash != prev {
                    Some(broken(
                        "PREV_HASH_MISMATCH",
                        format!(
                            "entry {} links to {} but the previous entry's hash is {prev}",
                            e.seq, e.prev_hash
                        ),
                    ))
                } else if e.computed_hash() != e.hash {
                    Some(broken(
                        "HASH_MISMATCH",
                        format!(
                            "entry {} was changed: its content hashes to {}, not the stored {}",
                            e.seq,
                            e.computed_hash(),
                            e.hash
                        ),
                    ))
                } else {
                    None
                };
                if bad.is_some() {
                    return Ok(LedgerVerdict {
                        origin: origin.to_string(),
                        entries: n,
                        head: prev,
                        broken: bad,
                    });
                }
                prev = e.hash;
                expect += 1;
                n += 1;
            }
        }
        Ok(LedgerVerdict {
            origin: origin.to_string(),
            entries: n,
            head: prev,
            broken: None,
        })
    }

    async fn invoice(
        &self,
        scope: &Scope,
        seller: Ubn,
        number: InvoiceNumber,
    ) -> Result<Option<InvoiceView>, StoreError> {
        if !scope.allows(&seller) {
            return Ok(None);
        }
        let number = number.to_string();
        let v = self
            .views(sql::INVOICE_BY_NUMBER, &[&seller.as_str(), &number])
            .await?;
        Ok(v.into_iter().next())
    }

    async fn invoice_history(
        &self,
        scope: &Scope,
        seller: Ubn,
        number: InvoiceNumber,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        if !scope.allows(&seller) {
            return Ok(Vec::new());
        }
        let key = einvoice_core::NaturalKey::Invoice { seller, number }.to_key_string();
        let (key, number) = (key.as_str(), number.to_string());
        let number = number.as_str();
        self.run(|c| async move {
            let st = c.prepare_cached(sql::ENTRIES_OF_KEY).await?;
            let mut out = c
                .query(&st, &[&key])
                .await?
                .iter()
                .map(entry_of)
                .collect::<Result<Vec<_>, _>>()?;
            let st = c.prepare_cached(sql::ALLOWANCE_ENTRIES_OF_INVOICE).await?;
            for r in c.query(&st, &[&seller.as_str(), &number]).await? {
                out.push(entry_of(&r)?);
            }
            out.sort_by(|a, b| (a.hlc, &a.origin, a.seq).cmp(&(b.hlc, &b.origin, b.seq)));
            Ok(out)
        })
        .await
    }

    async fn list_invoices(
        &self,
        scope: &Scope,
        seller: Ubn,
        period: Period,
        after: Option<InvoiceNumber>,
        limit: u32,
    ) -> Result<Vec<InvoiceSummary>, StoreError> {
        if !scope.allows(&seller) {
            return Ok(Vec::new());
        }
        let after = after.map(|n| n.to_string()).unwrap_or_default();
        let pk = period_key(period).map_err(DbError::into_store)?;
        let limit = i64::from(limit);
        let v = self
            .views(
                sql::INVOICES_OF_SELLER,
                &[&seller.as_str(), &pk, &after, &limit],
            )
            .await?;
        Ok(v.into_iter().map(|x| x.summary).collect())
    }

    async fn tracks(
        &self,
        scope: &Scope,
        seller: Ubn,
        period: Period,
    ) -> Result<Vec<TrackAllocation>, StoreError> {
        if !scope.allows(&seller) {
            return Ok(Vec::new());
        }
        self.tracks_of(seller, period).await
    }

    async fn blanks(
        &self,
        scope: &Scope,
        seller: Ubn,
        period: Period,
    ) -> Result<Vec<BlankRange>, StoreError> {
        if !scope.allows(&seller) {
            return Ok(Vec::new());
        }
        let pk = period_key(period).map_err(DbError::into_store)?;
        let mut out = Vec::new();
        for t in self.tracks_of(seller, period).await? {
            let lo = format!("{}{:08}", t.track, t.begin);
            let hi = format!("{}{:08}", t.track, t.end);
            let (lo, hi) = (lo.as_str(), hi.as_str());
            let used: Vec<u32> = self
                .run(|c| async move {
                    let st = c.prepare_cached(sql::NUMBERS_IN_RANGE).await?;
                    let mut v = Vec::new();
                    for r in c.query(&st, &[&seller.as_str(), &pk, &lo, &hi]).await? {
                        let s: String = r.try_get(0)?;
                        if let Ok(n) = InvoiceNumber::parse(&s) {
                            v.push(n.number());
                        }
                    }
                    Ok(v)
                })
                .await?;
            let mut next = t.begin;
            for n in used {
                if n > next {
                    out.push(BlankRange {
                        seller,
                        period,
                        track: t.track,
                        begin: next,
                        end: n - 1,
                    });
                }
                next = n.saturating_add(1);
            }
            if next <= t.end {
                out.push(BlankRange {
                    seller,
                    period,
                    track: t.track,
                    begin: next,
                    end: t.end,
                });
            }
        }
        Ok(out)
    }

    async fn carrier_invoices(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> Result<Vec<InvoiceView>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        self.views(
            sql::INVOICES_ON_CARRIER,
            &[&carrier.kind.code(), &carrier.id, &pk],
        )
        .await
    }

    async fn lookup_invoice(
        &self,
        number: InvoiceNumber,
        random: RandomNumber,
    ) -> Result<Option<InvoiceView>, StoreError> {
        let number = number.to_string();
        let v = self
            .views(sql::INVOICE_BY_RANDOM, &[&number, &random.as_str()])
            .await?;
        // Two sellers can share a number+random by chance: then the lookup is ambiguous.
        Ok(if v.len() == 1 {
            v.into_iter().next()
        } else {
            None
        })
    }

    async fn put_carrier(&self, carrier: CarrierRecord) -> Result<(), StoreError> {
        self.put_record("carrier", &carrier_id(&carrier.carrier), &carrier)
            .await
    }

    async fn carrier(&self, carrier: &Carrier) -> Result<Option<CarrierRecord>, StoreError> {
        self.get_record("carrier", &carrier_id(carrier)).await
    }

    async fn record_carrier_login(
        &self,
        carrier: &Carrier,
        attempt: LoginAttempt,
    ) -> Result<(), StoreError> {
        let id = carrier_id(carrier);
        let id = id.as_str();
        self.run(|mut c| async move {
            let t = c.transaction().await?;
            let row = t
                .query_opt(
                    "SELECT json FROM records WHERE space = 'carrier' AND id = $1 FOR UPDATE",
                    &[&id],
                )
                .await?;
            let Some(row) = row else { return Ok(()) };
            let mut rec: CarrierRecord =
                parse_json(&format!("carrier/{id}"), &row.try_get::<_, String>(0)?)?;
            match attempt {
                LoginAttempt::Succeeded => {
                    rec.failures = 0;
                    rec.locked_until = 0;
                }
                LoginAttempt::Failed { lock_until } => {
                    rec.failures = rec.failures.saturating_add(1);
                    rec.locked_until = rec.locked_until.max(lock_until);
                }
            }
            let json = json_of(&rec)?;
            t.execute(sql::PUT_RECORD, &[&"carrier", &id, &json])
                .await?;
            t.commit().await?;
            Ok(())
        })
        .await
    }

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
        let now = unix_now();
        self.run(|c| async move {
            let st = c
                .prepare_cached("DELETE FROM nonces WHERE expires < $1")
                .await?;
            c.execute(&st, &[&now]).await?;
            let st = c
                .prepare_cached(
                    "INSERT INTO nonces (key_id, nonce, expires) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .await?;
            Ok(c.execute(&st, &[&key_id, &nonce, &expires_unix]).await? == 1)
        })
        .await
    }

    async fn put_app(&self, app: AppRecord) -> Result<(), StoreError> {
        self.put_record("app", &app.app_id, &app).await
    }

    async fn app(&self, app_id: &str) -> Result<Option<AppRecord>, StoreError> {
        self.get_record("app", app_id).await
    }

    async fn put_operator(&self, operator: OperatorRecord) -> Result<(), StoreError> {
        self.put_record("operator", &operator.name, &operator).await
    }

    async fn operator(&self, name: &str) -> Result<Option<OperatorRecord>, StoreError> {
        self.get_record("operator", name).await
    }

    async fn operator_count(&self) -> Result<u64, StoreError> {
        self.run(|c| async move {
            let n: i64 = c
                .query_one("SELECT count(*) FROM records WHERE space = 'operator'", &[])
                .await?
                .try_get(0)?;
            to_u64(n)
        })
        .await
    }

    async fn put_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        self.put_record("session", &session.token_hash, &session)
            .await
    }

    async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.get_record("session", token_hash).await
    }

    async fn put_winning_numbers(&self, record: WinningNumbersRecord) -> Result<(), StoreError> {
        let pk = period_key(record.period).map_err(DbError::into_store)?;
        let version = i32::try_from(record.version)
            .map_err(|_| StoreError::Backend(format!("version {} too large", record.version)))?;
        let json = json_of(&record).map_err(DbError::into_store)?;
        let (json, record) = (json.as_str(), &record);
        self.run(|mut c| async move {
            let t = c.transaction().await?;
            let old = t
                .query_opt(
                    "SELECT json FROM winning_numbers WHERE period = $1 AND version = $2 FOR UPDATE",
                    &[&pk, &version],
                )
                .await?;
            if let Some(row) = old {
                let old: WinningNumbersRecord =
                    parse_json("winning numbers", &row.try_get::<_, String>(0)?)?;
                if old.approved_by.is_some() {
                    return Err(DbError::Store(StoreError::Backend(format!(
                        "WINNING_NUMBERS_PUBLISHED: version {} of {} is published and immutable; enter a new version with a reason",
                        record.version, record.period
                    ))));
                }
            }
            t.execute(
                "INSERT INTO winning_numbers (period, version, json) VALUES ($1, $2, $3) \
                 ON CONFLICT (period, version) DO UPDATE SET json = excluded.json",
                &[&pk, &version, &json],
            )
            .await?;
            t.commit().await?;
            Ok(())
        })
        .await
    }

    async fn winning_numbers(
        &self,
        period: Period,
    ) -> Result<Option<WinningNumbersRecord>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        self.run(|c| async move {
            let st = c.prepare_cached(sql::LATEST_WINNING).await?;
            match c.query_opt(&st, &[&pk]).await? {
                Some(row) => Ok(Some(parse_json(
                    "winning numbers",
                    &row.try_get::<_, String>(0)?,
                )?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run(|c| async move {
            c.simple_query("SELECT 1").await?;
            Ok(())
        })
        .await
        .map_err(|e| match e {
            StoreError::Backend(m) => StoreError::Unavailable(m),
            other => other,
        })
    }

    // ---- export / import (see io.rs) ----

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

    // ---- the draw (crate::draw) ----

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

    async fn outbox_claim(
        &self,
        now_unix: i64,
        limit: u32,
        lease_secs: u32,
        worker: &str,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.draw_outbox_claim(now_unix, limit, lease_secs, worker)
            .await
    }

    async fn outbox_mark(
        &self,
        id: &str,
        worker: &str,
        outcome: OutboxOutcome,
    ) -> Result<bool, StoreError> {
        self.draw_outbox_mark(id, worker, outcome).await
    }
}
