//! The schema: numbered migrations (`src/migrations/NNNN_*.sql`) applied in
//! order, each once, by [`migrate`], which records every applied version in
//! `schema_migrations`.
//!
//! Databases written before the numbered scheme kept one number in
//! `schema_version`: "version 1" (what is now migration 1, plus migration 2's
//! draw tables created if missing on every open) and "version 2" (plus the
//! outbox leases, now migration 3). [`migrate`] translates that number once
//! ([`legacy_versions`]) and drops the old table.

use crate::backend;
use einvoice_store::StoreError;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

/// The schema version this binary writes: its last migration.
pub const SCHEMA_VERSION: i64 = 15;

/// The migrations: (version, SQL), in order.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_draw.sql")),
    (3, include_str!("migrations/0003_outbox_lease.sql")),
    (5, include_str!("migrations/0005_login_budgets.sql")),
    (6, include_str!("migrations/0006_invoice_detail.sql")),
    (7, include_str!("migrations/0007_ledger_v2.sql")),
    (8, include_str!("migrations/0008_sync.sql")),
    (9, include_str!("migrations/0009_carrier_life.sql")),
    (10, include_str!("migrations/0010_carrier_reg.sql")),
    (11, include_str!("migrations/0011_carrier_links.sql")),
    (12, include_str!("migrations/0012_compact_bodies.sql")),
    (13, include_str!("migrations/0013_card_issuers.sql")),
    (14, include_str!("migrations/0014_sync_records.sql")),
    (
        15,
        include_str!("migrations/0015_detail_sequence_numbers.sql"),
    ),
];

/// Migrations that rewrite whole tables: the pages of the old copies are
/// free once they ran, and [`reclaim`] gives them back to the file system.
const REWRITES_TABLES: &[i64] = &[12];

/// What [`migrate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migrated {
    /// The migrations applied by this call, in order.
    pub applied: Vec<i64>,
    /// Whether one of them rewrote the tables of a database that had some
    /// migrations already (see [`reclaim`]; a new database has nothing to
    /// reclaim).
    pub rewrote_tables: bool,
}

/// The size of the database file before and after [`reclaim`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reclaimed {
    /// Bytes in use before (pages times page size).
    pub before: u64,
    /// Bytes after.
    pub after: u64,
}

/// What opening a store reports while it migrates (for a progress line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationEvent {
    /// Migrations rewrote tables: the database (`bytes` now) is being
    /// compacted (`VACUUM`, outside the migration's transaction; it takes
    /// about as long as copying the file and as much free disk space).
    Reclaiming {
        /// The migrations applied.
        applied: Vec<i64>,
        /// Bytes in use before.
        bytes: u64,
    },
    /// The space of the rewritten tables is back.
    Reclaimed(Reclaimed),
}

/// Every SQL statement of the runner.
mod sql {
    /// The record of applied migrations.
    pub(super) const CREATE_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
         version INTEGER PRIMARY KEY, applied_unix INTEGER NOT NULL)";
    /// The highest applied migration.
    pub(super) const LATEST: &str = "SELECT max(version) FROM schema_migrations";
    /// Whether one migration is recorded.
    pub(super) const IS_APPLIED: &str = "SELECT 1 FROM schema_migrations WHERE version = ?1";
    /// Record one applied migration.
    pub(super) const RECORD: &str =
        "INSERT INTO schema_migrations (version, applied_unix) VALUES (?1, ?2)";
    /// Whether the old single-number table exists.
    pub(super) const HAS_LEGACY: &str =
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'";
    /// The old single number.
    pub(super) const LEGACY_VERSION: &str = "SELECT max(version) FROM schema_version";
    /// Retire the old table once translated.
    pub(super) const DROP_LEGACY: &str = "DROP TABLE schema_version";
    /// Rewrite the database without its free pages.
    pub(super) const VACUUM: &str = "VACUUM";
    /// Copy the WAL back and truncate it (after a `VACUUM`).
    pub(super) const CHECKPOINT: &str = "PRAGMA wal_checkpoint(TRUNCATE)";
}

/// The migrations a database of the old single-number scheme has had:
/// "version 1" had migration 1 (migration 2's `IF NOT EXISTS` tables may be
/// missing, so it runs again), "version 2" had migrations 1 to 3.
pub(crate) fn legacy_versions(old: i64) -> Result<&'static [i64], StoreError> {
    match old {
        1 => Ok(&[1]),
        2 => Ok(&[1, 2, 3]),
        v => Err(StoreError::Corrupt(format!(
            "the database has schema version {v}, newer than this binary's {SCHEMA_VERSION}"
        ))),
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Translate an old single-number database, if this is one.
fn adopt_legacy(t: &Transaction<'_>) -> Result<(), StoreError> {
    let legacy: Option<i64> = t
        .query_row(sql::HAS_LEGACY, [], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    if legacy.is_none() {
        return Ok(());
    }
    let old: Option<i64> = t
        .query_row(sql::LEGACY_VERSION, [], |r| r.get(0))
        .map_err(backend)?;
    if let Some(old) = old {
        let now = unix_now();
        for v in legacy_versions(old)? {
            t.execute(sql::RECORD, params![v, now]).map_err(backend)?;
        }
    }
    t.execute_batch(sql::DROP_LEGACY).map_err(backend)
}

/// Create or upgrade the schema of the database at `conn`: apply, in one
/// write transaction (two processes opening one file at once cannot both
/// apply a migration), every migration not recorded yet, in order — not only
/// those above the highest, so migrations numbered on parallel branches and
/// released together are never skipped.
pub fn migrate(conn: &Connection) -> Result<Migrated, StoreError> {
    let t = Transaction::new_unchecked(conn, TransactionBehavior::Immediate).map_err(backend)?;
    t.execute_batch(sql::CREATE_MIGRATIONS).map_err(backend)?;
    adopt_legacy(&t)?;
    let applied: i64 = t
        .query_row(sql::LATEST, [], |r| r.get::<_, Option<i64>>(0))
        .map_err(backend)?
        .unwrap_or(0);
    if applied > SCHEMA_VERSION {
        return Err(StoreError::Corrupt(format!(
            "the database has schema version {applied}, newer than this binary's {SCHEMA_VERSION}"
        )));
    }
    let now = unix_now();
    let mut migrated = Migrated::default();
    let mut projection_added = false;
    let mut compacted = false;
    for (version, sql) in MIGRATIONS {
        let done: Option<i64> = t
            .query_row(sql::IS_APPLIED, params![version], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        if done.is_some() {
            continue;
        }
        t.execute_batch(sql).map_err(backend)?;
        t.execute(sql::RECORD, params![version, now])
            .map_err(backend)?;
        // 6 added the read projection, 15 changed its encoding.
        projection_added |= *version == 6 || *version == 15;
        compacted |= *version == 12;
        migrated.applied.push(*version);
        // A new database has no old copies to reclaim.
        migrated.rewrote_tables |= applied > 0 && REWRITES_TABLES.contains(version);
    }
    if projection_added {
        // Invoices stored before the read projection (or in its first
        // encoding): rebuild it from the ledger in the migration's
        // transaction.
        crate::carrier_read::rebuild(&t)?;
    }
    if compacted {
        // Bodies stored before compact storage: train the store's dictionary
        // on them and compress them in the migration's transaction.
        crate::bodies::train_if_due(&t)?;
    }
    t.commit().map_err(backend)?;
    Ok(migrated)
}

/// Bytes the database at `conn` uses (pages times page size).
fn bytes_in_use(conn: &Connection) -> Result<u64, StoreError> {
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .map_err(backend)?;
    let size: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .map_err(backend)?;
    Ok(u64::try_from(pages.saturating_mul(size)).unwrap_or(0))
}

/// Give the free pages of the database at `conn` back to the file system:
/// `VACUUM` (it cannot run inside a transaction; readers may go on, writers
/// wait), then a truncating WAL checkpoint so the file shrinks now.
pub fn reclaim(conn: &Connection) -> Result<Reclaimed, StoreError> {
    let before = bytes_in_use(conn)?;
    conn.execute_batch(sql::VACUUM).map_err(backend)?;
    conn.query_row(sql::CHECKPOINT, [], |_| Ok(()))
        .map_err(backend)?;
    Ok(Reclaimed {
        before,
        after: bytes_in_use(conn)?,
    })
}

/// [`migrate`], then [`reclaim`] when a migration rewrote tables, telling
/// `report` before and after (the `VACUUM` of a large store takes a while).
pub fn migrate_and_reclaim(
    conn: &Connection,
    report: &mut dyn FnMut(MigrationEvent),
) -> Result<Migrated, StoreError> {
    let migrated = migrate(conn)?;
    if migrated.rewrote_tables {
        report(MigrationEvent::Reclaiming {
            applied: migrated.applied.clone(),
            bytes: bytes_in_use(conn)?,
        });
        report(MigrationEvent::Reclaimed(reclaim(conn)?));
    }
    Ok(migrated)
}

/// The schema version of the database at `conn`: its highest applied migration.
pub fn schema_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row(sql::LATEST, [], |r| r.get(0))
        .map_err(backend)
}
