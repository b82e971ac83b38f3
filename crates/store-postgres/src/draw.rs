//! The draw on PostgreSQL: the eligibility freeze, frozen snapshots, winners
//! and bank accounts (tables in `migrations/0002_draw.sql`). The winner
//! notifications a load enqueues are delivered through `outbox.rs`.

use crate::PgStore;
use crate::append::{append_event_in, period_key, to_i64, to_u64};
use crate::error::DbError;
use einvoice_core::ids::CONSUMER_BUYER_ID;
use einvoice_core::{Carrier, Period};
use einvoice_store::*;
use tokio_postgres::Row;

/// Notifications per `INSERT … SELECT FROM UNNEST(…)` statement of a load.
const NOTE_CHUNK: usize = 50_000;

/// Bytes of binary `COPY` data sent per message of a winners load.
pub(crate) const COPY_CHUNK: usize = 1 << 20;

/// The signature, flags and header extension length of the binary `COPY` format.
pub(crate) const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// One binary `COPY` of `rows` with `sql` (`COPY … FROM STDIN (FORMAT
/// binary)`): each row is encoded by `put_row` and the rows are sent in
/// [`COPY_CHUNK`] messages while the next ones are encoded; the server's row
/// count must equal the rows sent (`what` names them in the error).
async fn copy_binary<T>(
    t: &tokio_postgres::Transaction<'_>,
    sql: &str,
    rows: &[T],
    what: &str,
    mut put_row: impl FnMut(&mut bytes::BytesMut, &T) -> Result<(), DbError>,
) -> Result<(), DbError> {
    use bytes::BufMut;
    use futures_util::SinkExt;
    let sink = t.copy_in::<_, bytes::Bytes>(sql).await?;
    let mut sink = std::pin::pin!(sink);
    let mut buf = bytes::BytesMut::with_capacity(COPY_CHUNK + 4096);
    buf.put_slice(COPY_HEADER);
    for row in rows {
        put_row(&mut buf, row)?;
        if buf.len() >= COPY_CHUNK {
            sink.send(buf.split().freeze()).await?;
        }
    }
    buf.put_i16(-1);
    sink.send(buf.split().freeze()).await?;
    let copied = sink.as_mut().finish().await?;
    if copied != rows.len() as u64 {
        return Err(DbError::Store(StoreError::Backend(format!(
            "COPY stored {copied} {what} of {}",
            rows.len()
        ))));
    }
    Ok(())
}

/// Load `winners` of period `pk` into `table` (a period's partition, or the
/// bench's ceiling table with the same columns) with one binary `COPY`.
pub(crate) async fn copy_winners(
    t: &tokio_postgres::Transaction<'_>,
    table: &str,
    pk: i32,
    winners: &[WinnerRecord],
) -> Result<(), DbError> {
    use bytes::BufMut;
    let sql = format!(
        "COPY {table} (period, line, invoice_number, seller, prize, amount, payable, carrier, npo) \
         FROM STDIN (FORMAT binary)"
    );
    copy_binary(t, &sql, winners, "winner lines", |buf, w| {
        buf.put_i16(9);
        buf.put_i32(4);
        buf.put_i32(pk);
        buf.put_i32(8);
        buf.put_i64(to_i64(w.line)?);
        for text in [
            Some(w.invoice_number.as_str()),
            Some(w.seller.as_str()),
            Some(w.prize.as_str()),
        ] {
            put_text(buf, text)?;
        }
        buf.put_i32(8);
        buf.put_i64(w.amount);
        buf.put_i32(8);
        buf.put_i64(w.payable);
        put_text(buf, w.carrier.as_deref())?;
        put_text(buf, w.npo.as_deref())
    })
    .await
}

/// Load `notes` (id, kind, body; the other columns keep their defaults)
/// into `table` (`outbox`, or the bench's ceiling table) with one binary
/// `COPY`.
pub(crate) async fn copy_notes(
    t: &tokio_postgres::Transaction<'_>,
    table: &str,
    notes: &[&OutboxItem],
) -> Result<(), DbError> {
    use bytes::BufMut;
    let sql = format!("COPY {table} (id, kind, body) FROM STDIN (FORMAT binary)");
    copy_binary(t, &sql, notes, "notifications", |buf, n| {
        buf.put_i16(3);
        for text in [&n.id, &n.kind, &n.body] {
            put_text(buf, Some(text))?;
        }
        Ok(())
    })
    .await
}

/// The table of a period's winners partition. `pk` is a period key (a
/// positive number), so formatting it into SQL is safe.
pub(crate) fn winners_partition(pk: i32) -> String {
    format!("winners_p{pk}")
}

/// Work done on a blocking thread beside a transaction: the first attempt
/// that needs it waits for it, later attempts reuse it.
struct Beside<T> {
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<T>>>,
    done: tokio::sync::OnceCell<T>,
    what: &'static str,
}

impl<T: Send + 'static> Beside<T> {
    fn spawn(what: &'static str, f: impl FnOnce() -> T + Send + 'static) -> Self {
        Self {
            task: tokio::sync::Mutex::new(Some(tokio::task::spawn_blocking(f))),
            done: tokio::sync::OnceCell::new(),
            what,
        }
    }

    async fn get(&self) -> Result<&T, DbError> {
        self.done
            .get_or_try_init(|| async {
                let task = self.task.lock().await.take().ok_or_else(|| {
                    DbError::Store(StoreError::Backend(format!("{} were lost", self.what)))
                })?;
                task.await.map_err(|e| {
                    DbError::Store(StoreError::Backend(format!(
                        "building {} failed: {e}",
                        self.what
                    )))
                })
            })
            .await
    }

    fn into_inner(self) -> Option<T> {
        self.done.into_inner()
    }
}

/// One text field of a binary `COPY` row (`None` is NULL).
pub(crate) fn put_text(buf: &mut bytes::BytesMut, text: Option<&str>) -> Result<(), DbError> {
    use bytes::BufMut;
    match text {
        None => buf.put_i32(-1),
        Some(s) => {
            let len = i32::try_from(s.len()).map_err(|_| {
                DbError::Store(StoreError::Backend(format!(
                    "a winner field of {} bytes exceeds the COPY limit",
                    s.len()
                )))
            })?;
            buf.put_i32(len);
            buf.put_slice(s.as_bytes());
        }
    }
    Ok(())
}

/// Insert `notes` with `INSERT … SELECT FROM UNNEST` in chunks of
/// [`NOTE_CHUNK`], skipping ids already in the outbox (the way a load
/// enqueues them when the outbox holds some of them already).
async fn insert_notes_skipping_existing(
    t: &tokio_postgres::Transaction<'_>,
    notes: &[OutboxItem],
) -> Result<(), DbError> {
    let ob = t
        .prepare(
            "INSERT INTO outbox (id, kind, body) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[]) ON CONFLICT (id) DO NOTHING",
        )
        .await?;
    for chunk in notes.chunks(NOTE_CHUNK) {
        let id: Vec<&str> = chunk.iter().map(|n| n.id.as_str()).collect();
        let kind: Vec<&str> = chunk.iter().map(|n| n.kind.as_str()).collect();
        let body: Vec<&str> = chunk.iter().map(|n| n.body.as_str()).collect();
        t.execute(&ob, &[&id, &kind, &body]).await?;
    }
    Ok(())
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, j: &str) -> Result<T, DbError> {
    serde_json::from_str(j).map_err(|e| DbError::Store(StoreError::Corrupt(format!("{what}: {e}"))))
}

fn json_of<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

/// A page of a period's winner lines: period, after this line, limit.
pub(crate) const WINNERS_PAGE: &str = "SELECT line, invoice_number, seller, prize, amount, payable, carrier, npo \
     FROM winners WHERE period = $1 AND line > $2 ORDER BY line LIMIT $3";

/// A carrier's winner lines of a period: carrier (`type:id`), period.
pub(crate) const CARRIER_WINNINGS: &str = "SELECT line, invoice_number, seller, prize, amount, payable, carrier, npo \
     FROM winners WHERE carrier = $1 AND period = $2 ORDER BY line";

fn winner_of(r: &Row) -> Result<WinnerRecord, DbError> {
    Ok(WinnerRecord {
        line: to_u64(r.try_get(0)?)?,
        invoice_number: r.try_get(1)?,
        seller: r.try_get(2)?,
        prize: r.try_get(3)?,
        amount: r.try_get(4)?,
        payable: r.try_get(5)?,
        carrier: r.try_get(6)?,
        npo: r.try_get(7)?,
    })
}

impl PgStore {
    pub(crate) async fn draw_eligible(
        &self,
        period: Period,
        after: Option<EligibleCursor>,
        limit: u32,
    ) -> Result<Vec<EligibleRow>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        let (an, asel) = after.map_or((String::new(), String::new()), |c| (c.number, c.seller));
        let (an, asel, lim) = (an.as_str(), asel.as_str(), i64::from(limit));
        self.run(|c| async move {
            let st = c
                .prepare_cached(
                    "SELECT number, seller, carrier_type, carrier_id, npoban FROM invoices \
                     WHERE period = $1 AND status = 'issued' AND buyer = $2 AND (number, seller) > ($3, $4) \
                     ORDER BY number, seller LIMIT $5",
                )
                .await?;
            let rows = c
                .query(&st, &[&pk, &CONSUMER_BUYER_ID, &an, &asel, &lim])
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(EligibleRow::from_stored(
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                ));
            }
            Ok(out)
        })
        .await
    }

    /// Store a freeze and append its ledger entry in one transaction (the
    /// entry last, so the origin's head row is locked only at the end).
    pub(crate) async fn draw_put_freeze(
        &self,
        freeze: DrawFreeze,
        entry: NewEntry,
    ) -> Result<DrawPut, StoreError> {
        check_draw_entry(&entry, DRAW_FREEZE, freeze.period)?;
        let pk = period_key(freeze.period).map_err(DbError::into_store)?;
        let json = json_of(&freeze)?;
        let shared = self.shared();
        let (site, known) = (shared.site.as_str(), &shared.partitions);
        let (json, freeze, entry) = (json.as_str(), &freeze, &entry);
        shared
            .run(true, |mut c| async move {
                let t = c.transaction().await?;
                let old = t
                    .query_opt(
                        "SELECT json FROM draw_freezes WHERE period = $1 FOR UPDATE",
                        &[&pk],
                    )
                    .await?;
                if let Some(row) = old {
                    let old: DrawFreeze = parse_json("draw freeze", &row.try_get::<_, String>(0)?)?;
                    return Ok(freeze.put_over(&old));
                }
                t.execute(
                    "INSERT INTO draw_freezes (period, root, json) VALUES ($1, $2, $3)",
                    &[&pk, &freeze.root, &json],
                )
                .await?;
                append_event_in(&t, site, known, entry).await?;
                t.commit().await?;
                Ok(DrawPut::Stored)
            })
            .await
    }

    pub(crate) async fn draw_get_freeze(
        &self,
        period: Period,
    ) -> Result<Option<DrawFreeze>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        self.run(|c| async move {
            match c
                .query_opt("SELECT json FROM draw_freezes WHERE period = $1", &[&pk])
                .await?
            {
                Some(r) => Ok(Some(parse_json(
                    "draw freeze",
                    &r.try_get::<_, String>(0)?,
                )?)),
                None => Ok(None),
            }
        })
        .await
    }

    /// Load winners, their notifications and their ledger entry in one
    /// transaction sized for a national draw. The transaction runs with
    /// `statement_timeout` and `idle_in_transaction_session_timeout` lifted
    /// to its own deadline ([`crate::PgOptions::bulk_deadline`] of the rows
    /// it writes, which is also the client-side deadline of the call).
    ///
    /// The period's row in `draw_loads` is inserted first (a concurrent load
    /// of the same period waits on its key, fails, and is retried to find
    /// this one) and given its digest and summary at the end: the digest and
    /// the notifications are computed on blocking threads while the lines
    /// are copied. The lines go with one binary `COPY` into a table of their
    /// own, which then gets its primary key and carrier index in one sorted
    /// pass each and is attached as the period's partition of `winners`
    /// (its `CHECK` constraint spares the attach a scan). The notifications
    /// go in id order (appending to both outbox indexes) with one binary
    /// `COPY` under a savepoint; if some of them are already in the outbox,
    /// the savepoint is rolled back and they are inserted with `ON CONFLICT
    /// DO NOTHING` instead. The ledger entry comes last, so the origin's
    /// head row (and the attach's lock on `winners`) is held only for the
    /// commit.
    pub(crate) async fn draw_put_winners(
        &self,
        load: WinnersLoad,
        entry: NewEntry,
    ) -> Result<DrawPut, StoreError> {
        check_draw_entry(&entry, DRAW_WINNERS, load.period)?;
        load.check_lines()?;
        let pk = period_key(load.period).map_err(DbError::into_store)?;
        let load = std::sync::Arc::new(load);
        let digest = {
            let load = load.clone();
            Beside::spawn("the digest of the winner lines", move || load.digest())
        };
        let notes = {
            let load = load.clone();
            Beside::spawn("the winner notifications", move || {
                let mut notes = winner_notifications(&load);
                notes.sort_unstable_by(|a, b| a.id.cmp(&b.id));
                notes
            })
        };
        let shared = self.shared();
        // Lines plus at most one notification each.
        let rows = u64::try_from(load.winners.len())
            .unwrap_or(u64::MAX)
            .saturating_mul(2);
        let deadline = shared.opts.bulk_deadline(rows);
        let ms = i32::try_from(deadline.as_millis()).unwrap_or(i32::MAX);
        let timeouts = format!(
            "SET LOCAL statement_timeout = {ms}; SET LOCAL idle_in_transaction_session_timeout = {ms}"
        );
        let part = winners_partition(pk);
        let (site, known) = (shared.site.as_str(), &shared.partitions);
        let (lines, entry, timeouts, part) = (&*load, &entry, timeouts.as_str(), part.as_str());
        let (digest_of, notes_of) = (&digest, &notes);
        let outcome = shared
            .run_within(deadline, true, |mut c| async move {
                let t = c.transaction().await?;
                t.batch_execute(timeouts).await?;
                let old = t
                    .query_opt(
                        "SELECT json FROM draw_loads WHERE period = $1 FOR UPDATE",
                        &[&pk],
                    )
                    .await?;
                if let Some(row) = old {
                    let old: WinnersSummary =
                        parse_json("winners load", &row.try_get::<_, String>(0)?)?;
                    return Ok(old.put_again(digest_of.get().await?));
                }
                // The load row first; its digest and summary at the end.
                t.execute(
                    "INSERT INTO draw_loads (period, digest, json) VALUES ($1, '', '')",
                    &[&pk],
                )
                .await?;
                t.batch_execute(&format!(
                    "CREATE TABLE {part} (LIKE winners); \
                     ALTER TABLE {part} ADD CONSTRAINT {part}_period CHECK (period = {pk})"
                ))
                .await?;
                copy_winners(&t, part, pk, &lines.winners).await?;
                t.batch_execute(&format!(
                    "ALTER TABLE {part} ADD PRIMARY KEY (period, line); \
                     CREATE INDEX ON {part} (carrier, period, line)"
                ))
                .await?;
                // Notifications commit or roll back with the winners.
                let notes = notes_of.get().await?;
                let refs: Vec<&OutboxItem> = notes.iter().collect();
                t.batch_execute("SAVEPOINT winner_notes").await?;
                match copy_notes(&t, "outbox", &refs).await {
                    Ok(()) => t.batch_execute("RELEASE SAVEPOINT winner_notes").await?,
                    Err(e)
                        if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
                    {
                        t.batch_execute("ROLLBACK TO SAVEPOINT winner_notes")
                            .await?;
                        insert_notes_skipping_existing(&t, notes).await?;
                    }
                    Err(e) => return Err(e),
                }
                t.batch_execute(&format!(
                    "ALTER TABLE winners ATTACH PARTITION {part} FOR VALUES IN ({pk}); \
                     ALTER TABLE {part} DROP CONSTRAINT {part}_period"
                ))
                .await?;
                let digest = digest_of.get().await?;
                let json = json_of(&lines.summary(digest.clone()))?;
                t.execute(
                    "UPDATE draw_loads SET digest = $2, json = $3 WHERE period = $1",
                    &[&pk, digest, &json],
                )
                .await?;
                append_event_in(&t, site, known, entry).await?;
                t.commit().await?;
                Ok(DrawPut::Stored)
            })
            .await;
        // The last references to millions of lines and notifications: free
        // them on a blocking thread, not on an async worker.
        let notes = notes.into_inner();
        tokio::task::spawn_blocking(move || drop((load, notes)));
        outcome
    }

    pub(crate) async fn draw_winners_summary(
        &self,
        period: Period,
    ) -> Result<Option<WinnersSummary>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        self.run(|c| async move {
            match c
                .query_opt("SELECT json FROM draw_loads WHERE period = $1", &[&pk])
                .await?
            {
                Some(r) => Ok(Some(parse_json(
                    "winners load",
                    &r.try_get::<_, String>(0)?,
                )?)),
                None => Ok(None),
            }
        })
        .await
    }

    pub(crate) async fn draw_winners(
        &self,
        period: Period,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<WinnerRecord>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        let after = match after {
            Some(a) => to_i64(a).map_err(DbError::into_store)?,
            None => -1,
        };
        let lim = i64::from(limit);
        self.run(|c| async move {
            let rows = c.query(WINNERS_PAGE, &[&pk, &after, &lim]).await?;
            rows.iter().map(winner_of).collect()
        })
        .await
    }

    pub(crate) async fn draw_carrier_winnings(
        &self,
        carrier: &Carrier,
        period: Period,
    ) -> Result<Vec<WinnerRecord>, StoreError> {
        let pk = period_key(period).map_err(DbError::into_store)?;
        let key = carrier_key(carrier);
        let key = key.as_str();
        self.run(|c| async move {
            let rows = c.query(CARRIER_WINNINGS, &[&key, &pk]).await?;
            rows.iter().map(winner_of).collect()
        })
        .await
    }

    pub(crate) async fn draw_put_bank_account(
        &self,
        account: BankAccountRecord,
    ) -> Result<(), StoreError> {
        let json = json_of(&account)?;
        let (json, carrier) = (json.as_str(), account.carrier.as_str());
        self.run(|c| async move {
            c.execute(
                "INSERT INTO bank_accounts (carrier, json) VALUES ($1, $2) \
                 ON CONFLICT (carrier) DO UPDATE SET json = excluded.json",
                &[&carrier, &json],
            )
            .await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn draw_bank_account(
        &self,
        carrier: &str,
    ) -> Result<Option<BankAccountRecord>, StoreError> {
        self.run(|c| async move {
            match c
                .query_opt(
                    "SELECT json FROM bank_accounts WHERE carrier = $1",
                    &[&carrier],
                )
                .await?
            {
                Some(r) => Ok(Some(parse_json(
                    "bank account",
                    &r.try_get::<_, String>(0)?,
                )?)),
                None => Ok(None),
            }
        })
        .await
    }
}
