//! The storage ceiling of `einvoice bench ingest --database postgres://…`: the
//! same rows loaded with a plain `COPY` into one table — what PostgreSQL can
//! ingest on this machine with no ledger, hashing, projections or HTTP. And
//! the ceiling of `einvoice bench winners` ([`raw_winners_ceiling`]).

use einvoice_store::StoreError;
use futures_util::SinkExt;
use std::time::{Duration, Instant};

/// One row: seller, number, message body (JSON text).
pub type RawRow = (String, String, Vec<u8>);

fn csv_field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for &b in bytes {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// `COPY` `rows` into a fresh table in the database at `url`, `batch` rows per
/// `COPY` statement (each its own transaction); the elapsed time.
pub async fn raw_copy_ceiling(
    url: &str,
    rows: &[RawRow],
    batch: usize,
) -> Result<Duration, StoreError> {
    let fail = |e: tokio_postgres::Error| StoreError::Unavailable(e.to_string());
    let c = crate::tls::pg_connect_config(url)?;
    let (client, conn) = c.config.connect(c.tls).await.map_err(fail)?;
    let driver = tokio::spawn(conn);
    client
        .batch_execute(
            "DROP TABLE IF EXISTS bench_ceiling;
             CREATE TABLE bench_ceiling (seller text NOT NULL, number text NOT NULL, body text NOT NULL,
                                         PRIMARY KEY (seller, number));",
        )
        .await
        .map_err(fail)?;
    let started = Instant::now();
    for chunk in rows.chunks(batch.max(1)) {
        let mut data = Vec::with_capacity(chunk.len() * 1200);
        for (s, n, b) in chunk {
            csv_field(&mut data, s.as_bytes());
            data.push(b',');
            csv_field(&mut data, n.as_bytes());
            data.push(b',');
            csv_field(&mut data, b);
            data.push(b'\n');
        }
        let sink = client
            .copy_in::<_, bytes::Bytes>(
                "COPY bench_ceiling (seller, number, body) FROM STDIN (FORMAT csv)",
            )
            .await
            .map_err(fail)?;
        let mut sink = Box::pin(sink);
        sink.send(bytes::Bytes::from(data)).await.map_err(fail)?;
        sink.as_mut().finish().await.map_err(fail)?;
    }
    let elapsed = started.elapsed();
    client
        .batch_execute("DROP TABLE IF EXISTS bench_ceiling")
        .await
        .map_err(fail)?;
    drop(client);
    let _ = driver.await;
    Ok(elapsed)
}

/// The ceiling of `einvoice bench winners`: the same winner lines and
/// notifications loaded with binary `COPY` (the store's encoding for the
/// lines) into fresh tables without any index (not even a primary key) in
/// the database at `url`, in one transaction — what PostgreSQL can load
/// here with no key, index or ledger. The elapsed time from `BEGIN` to the
/// commit.
pub async fn raw_winners_ceiling(
    url: &str,
    period_key: i32,
    winners: &[einvoice_store::WinnerRecord],
    notes: &[einvoice_store::OutboxItem],
) -> Result<Duration, StoreError> {
    let fail = |e: tokio_postgres::Error| StoreError::Unavailable(e.to_string());
    let c = crate::tls::pg_connect_config(url)?;
    let (mut client, conn) = c.config.connect(c.tls).await.map_err(fail)?;
    let driver = tokio::spawn(conn);
    client
        .batch_execute(
            "DROP TABLE IF EXISTS winners_ceiling, outbox_ceiling;
             CREATE TABLE winners_ceiling (period INTEGER NOT NULL, line BIGINT NOT NULL,
                 invoice_number TEXT NOT NULL, seller TEXT NOT NULL, prize TEXT NOT NULL,
                 amount BIGINT NOT NULL, payable BIGINT NOT NULL, carrier TEXT, npo TEXT);
             CREATE TABLE outbox_ceiling (id TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL);",
        )
        .await
        .map_err(fail)?;
    let started = Instant::now();
    let t = client.transaction().await.map_err(fail)?;
    crate::draw::copy_winners(&t, "winners_ceiling", period_key, winners)
        .await
        .map_err(crate::error::DbError::into_store)?;
    let notes: Vec<&einvoice_store::OutboxItem> = notes.iter().collect();
    crate::draw::copy_notes(&t, "outbox_ceiling", &notes)
        .await
        .map_err(crate::error::DbError::into_store)?;
    t.commit().await.map_err(fail)?;
    let elapsed = started.elapsed();
    client
        .batch_execute("DROP TABLE IF EXISTS winners_ceiling, outbox_ceiling")
        .await
        .map_err(fail)?;
    drop(client);
    let _ = driver.await;
    Ok(elapsed)
}
