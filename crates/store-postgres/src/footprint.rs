//! Bytes on disk of a PostgreSQL store, all tables and indexes (TOAST
//! included), for the benchmarks' bytes-per-invoice figure.

use einvoice_store::StoreError;

/// The size of a store's tables in its database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footprint {
    /// `pg_total_relation_size` summed over every table of the schema
    /// (each invoice partition counted as its own table; their indexes and
    /// TOAST included).
    pub total_bytes: u64,
    /// Bytes per table (partitions folded into their parent), largest first.
    pub by_object: Vec<(String, u64)>,
}

/// Every ordinary table of the current schema with its total size, the
/// partitions under their parent's name.
const SIZES: &str = "SELECT coalesce(p.relname, c.relname) AS name, \
     sum(pg_total_relation_size(c.oid))::bigint AS bytes \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     LEFT JOIN pg_inherits i ON i.inhrelid = c.oid \
     LEFT JOIN pg_class p ON p.oid = i.inhparent \
     WHERE n.nspname = current_schema() AND c.relkind = 'r' \
     GROUP BY 1 ORDER BY 2 DESC, 1";

/// Measure the store in the database at `url` (its own connection). Run it
/// when no writer is busy.
pub async fn footprint(url: &str) -> Result<Footprint, StoreError> {
    let fail = |e: tokio_postgres::Error| StoreError::Unavailable(e.to_string());
    let c = crate::tls::pg_connect_config(url)?;
    let (client, conn) = c.config.connect(c.tls).await.map_err(fail)?;
    let driver = tokio::spawn(conn);
    let rows = client.query(SIZES, &[]).await.map_err(fail)?;
    drop(client);
    let _ = driver.await;
    let mut by_object = Vec::with_capacity(rows.len());
    for r in rows {
        let name: String = r.try_get(0).map_err(fail)?;
        let bytes: i64 = r.try_get(1).map_err(fail)?;
        by_object.push((name, u64::try_from(bytes).unwrap_or(0)));
    }
    Ok(Footprint {
        total_bytes: by_object.iter().map(|(_, b)| b).sum(),
        by_object,
    })
}
