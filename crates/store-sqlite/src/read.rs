//! The read side and the [`Store`] implementation.

use crate::{SqliteStore, append, backend};
use einvoice_core::ids::{
    BuyerId, Carrier, CarrierType, CarrierTypes, IdPolicy, InvoiceNumber, RandomNumber, Track, Ubn,
};
use einvoice_core::{Period, Validated};
use einvoice_store::*;
use rusqlite::{Connection, OptionalExtension, Row, params};

const INVOICE_COLUMNS: &str = "seller, number, period, date, time, buyer, random, carrier_type, carrier_id, npoban, total, status, allowance, body, origin, seq";

fn corrupt(what: &str, v: &str) -> StoreError {
    StoreError::Corrupt(format!("stored {what} {v:?} does not parse"))
}

/// UBNs were validated on the way in (possibly under sandbox rules); read them back leniently.
fn stored_ubn(s: &str) -> Result<Ubn, StoreError> {
    Ubn::parse(s)
        .or_else(|_| Ubn::parse_with(s, &IdPolicy::sandbox()))
        .map_err(|_| corrupt("UBN", s))
}

struct Row16 {
    summary: InvoiceSummary,
    allowance: i64,
    body: Vec<u8>,
    origin: String,
    seq: i64,
}

fn row_of(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        vec![
            r.get(0)?,
            r.get(1)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(11)?,
        ],
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(12)?,
        0,
        r.get(13)?,
        r.get(14)?,
        r.get(15)?,
        r.get(2)?,
    ))
}

type RawRow = (
    Vec<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
    Vec<u8>,
    String,
    i64,
    u32,
);

fn decode_row(raw: RawRow) -> Result<Row16, StoreError> {
    let (s, random, ct, cid, npo, total, allowance, _, body, origin, seq, period) = raw;
    let seller = stored_ubn(&s[0])?;
    let number = InvoiceNumber::parse(&s[1]).map_err(|_| corrupt("invoice number", &s[1]))?;
    let buyer = if s[4] == einvoice_core::ids::CONSUMER_BUYER_ID {
        BuyerId::Consumer
    } else {
        BuyerId::Business(stored_ubn(&s[4])?)
    };
    let period = Period::new(
        u16::try_from(period / 100).unwrap_or(0),
        u8::try_from(period % 100).unwrap_or(0),
    )
    .ok_or_else(|| corrupt("period", &period.to_string()))?;
    let random = match random {
        Some(r) => Some(RandomNumber::parse(&r).map_err(|_| corrupt("random number", &r))?),
        None => None,
    };
    let carrier = match (ct, cid) {
        (Some(t), Some(id)) => {
            let others = CarrierTypes::default();
            let kind = CarrierType::parse(&t, &others).unwrap_or(CarrierType::Other(t.clone()));
            Some(Carrier { kind, id })
        }
        _ => None,
    };
    let status = match s[5].as_str() {
        "issued" => InvoiceStatus::Issued,
        "cancelled" => InvoiceStatus::Cancelled,
        "voided" => InvoiceStatus::Voided,
        other => return Err(corrupt("status", other)),
    };
    Ok(Row16 {
        summary: InvoiceSummary {
            seller,
            number,
            period,
            date: s[2].clone(),
            time: s[3].clone(),
            buyer,
            random,
            carrier,
            donated_to: npo,
            total,
            status,
        },
        allowance,
        body,
        origin,
        seq,
    })
}

fn view_of(conn: &Connection, row: Row16) -> Result<InvoiceView, StoreError> {
    let receipt = conn
        .query_row(
            "SELECT hlc, kind, key, hash FROM ledger WHERE origin = ?1 AND seq = ?2",
            params![row.origin, row.seq],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Vec<u8>>(3)?,
                ))
            },
        )
        .optional()
        .map_err(backend)?
        .map(|(hlc, kind, key, hash)| {
            let mut h = [0u8; 32];
            if hash.len() == 32 {
                h.copy_from_slice(&hash);
            }
            Receipt {
                origin: row.origin.clone(),
                seq: u64::try_from(row.seq).unwrap_or(0),
                hash: EntryHash(h),
                hlc: Hlc(u64::try_from(hlc).unwrap_or(0)),
                kind,
                key,
                duplicate: false,
            }
        });
    Ok(InvoiceView {
        summary: row.summary,
        message: serde_json::from_slice(&row.body).ok(),
        allowance_total: row.allowance,
        receipt,
    })
}

fn query_views(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<InvoiceView>, StoreError> {
    let mut st = conn.prepare_cached(sql).map_err(backend)?;
    let raws: Vec<RawRow> = st
        .query_map(p, row_of)
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    raws.into_iter()
        .map(|raw| decode_row(raw).and_then(|r| view_of(conn, r)))
        .collect()
}

pub(crate) fn entry_of(r: &Row<'_>) -> rusqlite::Result<LedgerEntry> {
    let h = |v: Vec<u8>| {
        let mut a = [0u8; 32];
        if v.len() == 32 {
            a.copy_from_slice(&v);
        }
        EntryHash(a)
    };
    Ok(LedgerEntry {
        origin: r.get(0)?,
        seq: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
        hlc: Hlc(u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0)),
        kind: r.get(3)?,
        key: r.get(4)?,
        actor: r.get(5)?,
        body: r.get(6)?,
        prev_hash: h(r.get(7)?),
        hash: h(r.get(8)?),
    })
}

const ENTRY_COLUMNS: &str = "origin, seq, hlc, kind, key, actor, body, prev_hash, hash";

pub(crate) fn put_record<T: serde::Serialize>(
    t: &rusqlite::Transaction<'_>,
    space: &str,
    id: &str,
    v: &T,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(v).map_err(backend)?;
    t.prepare_cached("INSERT INTO records (space, id, json) VALUES (?1, ?2, ?3) ON CONFLICT (space, id) DO UPDATE SET json = excluded.json")
.map_err(backend)?
.execute(params![space, id, json],
    )
    .map_err(backend)?;
    Ok(())
}

fn get_record<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    space: &str,
    id: &str,
) -> Result<Option<T>, StoreError> {
    let json: Option<String> = conn
        .query_row(
            "SELECT json FROM records WHERE space = ?1 AND id = ?2",
            params![space, id],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    json.map(|j| {
        serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(format!("{space}/{id}: {e}")))
    })
    .transpose()
}

pub(crate) fn carrier_id(c: &Carrier) -> String {
    format!("{}:{}", c.kind.code(), c.id)
}

impl Store for SqliteStore {
    fn site(&self) -> &str {
        &self.inner.site
    }

    async fn append(
        &self,
        scope: &Scope,
        actor: &str,
        messages: Vec<Validated>,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        let (scope, actor, site) = (scope.clone(), actor.to_string(), self.inner.site.clone());
        let prepared: Vec<append::Prepared> =
            messages.into_iter().map(append::Prepared::new).collect();
        self.write(move |t, head| {
            append::append_messages(t, head, &site, &scope, &actor, &prepared)
        })
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
        self.read(move |c| {
            let mut st = c
                .prepare_cached(&format!("SELECT {ENTRY_COLUMNS} FROM ledger WHERE origin = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"))
                .map_err(backend)?;
            let rows = st
                .query_map(params![origin, i64::try_from(after).unwrap_or(i64::MAX), limit], entry_of)
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)
        })
        .await
    }

    async fn verify_ledger(&self, origin: &str) -> Result<LedgerVerdict, StoreError> {
        let origin = origin.to_string();
        self.read(move |c| {
            let mut st = c
                .prepare(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM ledger WHERE origin = ?1 ORDER BY seq"
                ))
                .map_err(backend)?;
            let mut rows = st.query(params![origin]).map_err(backend)?;
            let (mut prev, mut expect, mut n) = (EntryHash::GENESIS, 1u64, 0u64);
            while let Some(r) = rows.next().map_err(backend)? {
                let e = entry_of(r).map_err(backend)?;
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
                        origin,
                        entries: n,
                        head: prev,
                        broken: bad,
                    });
                }
                prev = e.hash;
                expect += 1;
                n += 1;
            }
            Ok(LedgerVerdict {
                origin,
                entries: n,
                head: prev,
                broken: None,
            })
        })
        .await
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
        self.read(move |c| {
            let v = query_views(
                c,
                &format!(
                    "SELECT {INVOICE_COLUMNS} FROM invoices WHERE seller = ?1 AND number = ?2"
                ),
                params![seller.as_str(), number.to_string()],
            )?;
            Ok(v.into_iter().next())
        })
        .await
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
        self.read(move |c| {
            let key = einvoice_core::NaturalKey::Invoice { seller, number }.to_key_string();
            let mut out: Vec<LedgerEntry> = {
                let mut st = c
                    .prepare_cached(&format!("SELECT {ENTRY_COLUMNS} FROM ledger WHERE key = ?1 ORDER BY hlc, origin, seq"))
                    .map_err(backend)?;
                let rows = st.query_map(params![key], entry_of).map_err(backend)?;
                rows.collect::<Result<_, _>>().map_err(backend)?
            };
            // Allowances naming this invoice.
            let mut st = c
                .prepare_cached(&format!(
                    "SELECT {ENTRY_COLUMNS} FROM ledger WHERE key IN (SELECT 'allowance/' || seller || '/' || allowance FROM allowances WHERE seller = ?1 AND invoice = ?2) ORDER BY hlc, origin, seq"
                ))
                .map_err(backend)?;
            let rows = st.query_map(params![seller.as_str(), number.to_string()], entry_of).map_err(backend)?;
            for r in rows {
                out.push(r.map_err(backend)?);
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
        self.read(move |c| {
            let after = after.map(|n| n.to_string()).unwrap_or_default();
            let v = query_views(
                c,
                &format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE seller = ?1 AND period = ?2 AND number > ?3 ORDER BY number LIMIT ?4"),
                params![seller.as_str(), period.key(), after, limit],
            )?;
            Ok(v.into_iter().map(|x| x.summary).collect())
        })
        .await
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
        self.read(move |c| tracks_of(c, seller, period)).await
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
        self.read(move |c| {
            let mut out = Vec::new();
            for t in tracks_of(c, seller, period)? {
                let used: Vec<u32> = {
                    let mut st = c
                        .prepare_cached("SELECT number FROM invoices WHERE seller = ?1 AND period = ?2 AND number >= ?3 AND number <= ?4 ORDER BY number")
                        .map_err(backend)?;
                    let lo = format!("{}{:08}", t.track, t.begin);
                    let hi = format!("{}{:08}", t.track, t.end);
                    let rows = st
                        .query_map(params![seller.as_str(), period.key(), lo, hi], |r| r.get::<_, String>(0))
                        .map_err(backend)?;
                    let mut v = Vec::new();
                    for r in rows {
                        let s = r.map_err(backend)?;
                        if let Ok(n) = InvoiceNumber::parse(&s) {
                            v.push(n.number());
                        }
                    }
                    v
                };
                let mut next = t.begin;
                for n in used {
                    if n > next {
                        out.push(BlankRange { seller, period, track: t.track, begin: next, end: n - 1 });
                    }
                    next = n.saturating_add(1);
                }
                if next <= t.end {
                    out.push(BlankRange { seller, period, track: t.track, begin: next, end: t.end });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn carrier_invoices(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> Result<Vec<InvoiceView>, StoreError> {
        let carrier = carrier.clone();
        self.read(move |c| {
            query_views(
                c,
                &format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE carrier_type = ?1 AND carrier_id = ?2 AND period = ?3 ORDER BY date, time, number"),
                params![carrier.kind.code(), carrier.id, period.key()],
            )
        })
        .await
    }

    async fn lookup_invoice(
        &self,
        number: InvoiceNumber,
        random: RandomNumber,
    ) -> Result<Option<InvoiceView>, StoreError> {
        self.read(move |c| {
            let v = query_views(
                c,
                &format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE number = ?1 AND random = ?2 LIMIT 2"),
                params![number.to_string(), random.as_str()],
            )?;
            // Two sellers can share a number+random by chance: then the lookup is ambiguous.
            Ok(if v.len() == 1 { v.into_iter().next() } else { None })
        })
        .await
    }

    async fn put_carrier(&self, carrier: CarrierRecord) -> Result<(), StoreError> {
        self.write(move |t, _| put_record(t, "carrier", &carrier_id(&carrier.carrier), &carrier))
            .await
    }

    async fn carrier(&self, carrier: &Carrier) -> Result<Option<CarrierRecord>, StoreError> {
        let id = carrier_id(carrier);
        self.read(move |c| get_record(c, "carrier", &id)).await
    }

    async fn record_carrier_login(
        &self,
        carrier: &Carrier,
        attempt: LoginAttempt,
    ) -> Result<(), StoreError> {
        let id = carrier_id(carrier);
        self.write(move |t, _| {
            let json: Option<String> = t
                .prepare_cached("SELECT json FROM records WHERE space = 'carrier' AND id = ?1")
                .map_err(backend)?
                .query_row(params![id], |r| r.get(0))
                .optional()
                .map_err(backend)?;
            let Some(json) = json else { return Ok(()) };
            let mut rec: CarrierRecord = serde_json::from_str(&json).map_err(backend)?;
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
            put_record(t, "carrier", &id, &rec)
        })
        .await
    }

    async fn put_seller(&self, seller: SellerRecord) -> Result<(), StoreError> {
        self.write(move |t, _| put_record(t, "seller", seller.ubn.as_str(), &seller))
            .await
    }

    async fn seller(&self, ubn: Ubn) -> Result<Option<SellerRecord>, StoreError> {
        self.read(move |c| get_record(c, "seller", ubn.as_str()))
            .await
    }

    async fn put_api_key(&self, key: ApiKeyRecord) -> Result<(), StoreError> {
        self.write(move |t, _| put_record(t, "api_key", &key.key_id, &key))
            .await
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let id = key_id.to_string();
        self.read(move |c| get_record(c, "api_key", &id)).await
    }

    async fn remember_nonce(
        &self,
        key_id: &str,
        nonce: &str,
        expires_unix: i64,
    ) -> Result<bool, StoreError> {
        let (k, n) = (key_id.to_string(), nonce.to_string());
        self.write(move |t, _| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0);
            t.prepare_cached("DELETE FROM nonces WHERE expires < ?1")
                .map_err(backend)?
                .execute(params![now])
                .map_err(backend)?;
            let added = t
                .prepare_cached(
                    "INSERT OR IGNORE INTO nonces (key_id, nonce, expires) VALUES (?1, ?2, ?3)",
                )
                .map_err(backend)?
                .execute(params![k, n, expires_unix])
                .map_err(backend)?;
            Ok(added == 1)
        })
        .await
    }

    async fn put_app(&self, app: AppRecord) -> Result<(), StoreError> {
        self.write(move |t, _| put_record(t, "app", &app.app_id, &app))
            .await
    }

    async fn app(&self, app_id: &str) -> Result<Option<AppRecord>, StoreError> {
        let id = app_id.to_string();
        self.read(move |c| get_record(c, "app", &id)).await
    }

    async fn put_operator(&self, operator: OperatorRecord) -> Result<(), StoreError> {
        self.write(move |t, _| put_record(t, "operator", &operator.name, &operator))
            .await
    }

    async fn operator(&self, name: &str) -> Result<Option<OperatorRecord>, StoreError> {
        let id = name.to_string();
        self.read(move |c| get_record(c, "operator", &id)).await
    }

    async fn operator_count(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            let n: i64 = c
                .prepare_cached("SELECT count(*) FROM records WHERE space = 'operator'")
                .map_err(backend)?
                .query_row([], |r| r.get(0))
                .map_err(backend)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn put_session(&self, session: SessionRecord) -> Result<(), StoreError> {
        self.write(move |t, _| put_record(t, "session", &session.token_hash, &session))
            .await
    }

    async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let id = token_hash.to_string();
        self.read(move |c| get_record(c, "session", &id)).await
    }

    async fn put_winning_numbers(&self, record: WinningNumbersRecord) -> Result<(), StoreError> {
        self.write(move |t, _| {
            let published: Option<String> = t
                .prepare_cached("SELECT json FROM winning_numbers WHERE period = ?1 AND version = ?2")
.map_err(backend)?
.query_row(params![record.period.key(), record.version],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            if let Some(j) = published {
                let old: WinningNumbersRecord = serde_json::from_str(&j).map_err(backend)?;
                if old.approved_by.is_some() {
                    return Err(StoreError::Backend(format!(
                        "WINNING_NUMBERS_PUBLISHED: version {} of {} is published and immutable; enter a new version with a reason",
                        record.version, record.period
                    )));
                }
            }
            let json = serde_json::to_string(&record).map_err(backend)?;
            t.prepare_cached("INSERT INTO winning_numbers (period, version, json) VALUES (?1, ?2, ?3) ON CONFLICT (period, version) DO UPDATE SET json = excluded.json")
.map_err(backend)?
.execute(params![record.period.key(), record.version, json],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn winning_numbers(
        &self,
        period: Period,
    ) -> Result<Option<WinningNumbersRecord>, StoreError> {
        self.read(move |c| {
            let j: Option<String> = c
                .prepare_cached("SELECT json FROM winning_numbers WHERE period = ?1 ORDER BY version DESC LIMIT 1")
.map_err(backend)?
.query_row(params![period.key()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            j.map(|j| serde_json::from_str(&j).map_err(backend)).transpose()
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT 1")
                .map_err(backend)?
                .query_row([], |_| Ok(()))
                .map_err(|e| StoreError::Unavailable(e.to_string()))
        })
        .await
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
        crate::draw::eligible_invoices(self, period, after, limit).await
    }

    async fn put_draw_freeze(
        &self,
        freeze: DrawFreeze,
        entry: NewEntry,
    ) -> Result<DrawPut, StoreError> {
        crate::draw::put_draw_freeze(self, freeze, entry).await
    }

    async fn draw_freeze(&self, period: Period) -> Result<Option<DrawFreeze>, StoreError> {
        crate::draw::draw_freeze(self, period).await
    }

    async fn put_winners(&self, load: WinnersLoad, entry: NewEntry) -> Result<DrawPut, StoreError> {
        crate::draw::put_winners(self, load, entry).await
    }

    async fn winners_summary(&self, period: Period) -> Result<Option<WinnersSummary>, StoreError> {
        crate::draw::winners_summary(self, period).await
    }

    async fn winners(
        &self,
        period: Period,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<WinnerRecord>, StoreError> {
        crate::draw::winners(self, period, after, limit).await
    }

    async fn carrier_winnings(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> Result<Vec<WinnerRecord>, StoreError> {
        crate::draw::carrier_winnings(self, carrier, period).await
    }

    async fn put_bank_account(&self, account: BankAccountRecord) -> Result<(), StoreError> {
        crate::draw::put_bank_account(self, account).await
    }

    async fn bank_account(&self, carrier: &str) -> Result<Option<BankAccountRecord>, StoreError> {
        crate::draw::bank_account(self, carrier).await
    }

    async fn outbox_claim(
        &self,
        now_unix: i64,
        limit: u32,
        lease_secs: u32,
        worker: &str,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        crate::draw::outbox_claim(self, now_unix, limit, lease_secs, worker).await
    }

    async fn outbox_mark(
        &self,
        id: &str,
        worker: &str,
        outcome: OutboxOutcome,
    ) -> Result<bool, StoreError> {
        crate::draw::outbox_mark(self, id, worker, outcome).await
    }
}

fn tracks_of(
    c: &Connection,
    seller: Ubn,
    period: Period,
) -> Result<Vec<TrackAllocation>, StoreError> {
    let mut st = c
        .prepare_cached("SELECT track, begin, end FROM tracks WHERE seller = ?1 AND period = ?2 ORDER BY track, begin")
        .map_err(backend)?;
    let rows = st
        .query_map(params![seller.as_str(), period.key()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, u32>(2)?,
            ))
        })
        .map_err(backend)?;
    let mut out = Vec::new();
    for r in rows {
        let (t, begin, end) = r.map_err(backend)?;
        let track = Track::parse(&t).map_err(|_| corrupt("track", &t))?;
        out.push(TrackAllocation {
            seller,
            period,
            track,
            begin,
            end,
        });
    }
    Ok(out)
}
