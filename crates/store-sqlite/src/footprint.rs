//! Bytes on disk of a SQLite store, all tables and indexes, for the
//! benchmarks' bytes-per-invoice figure.

use crate::backend;
use einvoice_store::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// The size of a store's database after a WAL checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footprint {
    /// Pages in use times page size: every table and index, free pages
    /// included (the file size after the checkpoint).
    pub total_bytes: u64,
    /// Bytes per table or index (`dbstat`), largest first.
    pub by_object: Vec<(String, u64)>,
}

/// Checkpoint the WAL of the store at `path` into the database file and
/// measure it. Run it when no writer is busy (the checkpoint waits for one).
pub fn footprint(path: &Path) -> Result<Footprint, StoreError> {
    let c =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(backend)?;
    c.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(backend)?;
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .map_err(backend)?;
    let pages: i64 = c
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(backend)?;
    let size: i64 = c
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(backend)?;
    let mut st = c
        .prepare("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC")
        .map_err(backend)?;
    let by_object = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .map_err(backend)?
        .map(|r| r.map(|(n, b)| (n, u64::try_from(b).unwrap_or(0))))
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    Ok(Footprint {
        total_bytes: u64::try_from(pages.saturating_mul(size)).unwrap_or(0),
        by_object,
    })
}
