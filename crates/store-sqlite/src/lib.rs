//! einvoice-store-sqlite: the embedded default backend of [`Store`].
//!
//! - **One writer thread** owns the write connection. Appends from every
//!   request are queued to it; it drains what is queued (up to
//!   [`MAX_BATCH`] jobs), runs them in **one** `BEGIN IMMEDIATE` transaction,
//!   commits, and only then answers each caller (group commit: batching buys
//!   throughput, never an early acknowledgement).
//! - **Durability**: WAL journal with `synchronous = FULL`, so a commit has
//!   been fsynced to the WAL before any receipt leaves.
//! - **Readers** use a small pool of read-only connections on blocking tasks;
//!   WAL lets them run beside the writer.
//! - The schema is the numbered migrations in `src/migrations/`, applied in
//!   order by [`SqliteStore::open`] through [`migrate`], which records each
//!   applied version (and adopts databases of the old single-number scheme).

mod append;
mod attempts;
mod bodies;
mod carrier_agg;
mod carrier_life;
mod carrier_read;
mod carrier_reg;
pub mod ceiling;
mod draw;
pub mod footprint;
mod io;
#[cfg(test)]
mod legacy_tests;
mod migrate;
mod outbox;
mod read;
mod records;
mod store;
mod sync;
mod sync_records;

pub use migrate::{
    Migrated, MigrationEvent, Reclaimed, SCHEMA_VERSION, migrate, migrate_and_reclaim, reclaim,
    schema_version,
};

use einvoice_store::{EntryHash, Hlc, StoreError};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Most jobs committed in one transaction.
pub const MAX_BATCH: usize = 512;
/// The chain head of this site's origin, as the writer sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    pub seq: u64,
    pub hash: EntryHash,
    pub hlc: Hlc,
}

type Reply = Box<dyn FnOnce(Result<(), StoreError>) + Send>;
type Job = Box<dyn FnOnce(&rusqlite::Transaction<'_>, &mut Head) -> Reply + Send>;

struct Inner {
    site: String,
    path: PathBuf,
    writer: Mutex<Option<mpsc::Sender<Job>>>,
    readers: Mutex<Vec<Connection>>,
    /// At most [`READERS`] reads run at once, so every read finds a pooled
    /// connection instead of opening (and parsing the schema of) a new one.
    read_slots: tokio::sync::Semaphore,
}

/// Read-only connections kept open (and concurrent reads allowed): a few per
/// core is enough — SQLite reads are CPU-bound once the pages are cached.
const READERS: usize = 8;

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the writer thread.
        if let Ok(mut w) = self.writer.lock() {
            w.take();
        }
    }
}

/// A site's store in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("site", &self.inner.site)
            .field("path", &self.inner.path)
            .finish()
    }
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn open_conn(path: &Path, read_only: bool) -> Result<Connection, StoreError> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let c = Connection::open_with_flags(path, flags).map_err(backend)?;
    c.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(backend)?;
    if !read_only {
        c.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        // Savepoint (statement) journals only serve a rollback inside the
        // open transaction: keep them in memory instead of a temp file that
        // every per-request SAVEPOINT used to write to. No effect on what a
        // commit makes durable.
        c.pragma_update(None, "temp_store", "MEMORY")
            .map_err(backend)?;
        // A page cache large enough for a group commit's working set (64 MiB)
        // so the writer neither spills dirty pages mid-transaction nor re-reads
        // index pages it just wrote.
        c.pragma_update(None, "cache_size", -65536)
            .map_err(backend)?;
        // Checkpoint every 8192 WAL pages (32 MiB) rather than 1000: hot
        // index pages rewritten by consecutive group commits are copied back
        // to the database once instead of many times. Commits are still
        // fsynced to the WAL before anyone is answered.
        c.pragma_update(None, "wal_autocheckpoint", 8192)
            .map_err(backend)?;
    }
    c.pragma_update(None, "synchronous", "FULL")
        .map_err(backend)?;
    c.pragma_update(None, "foreign_keys", "ON")
        .map_err(backend)?;
    Ok(c)
}

impl SqliteStore {
    /// Open (creating and migrating if needed) the store at `path` for site `site`.
    pub fn open(path: &Path, site: &str) -> Result<Self, StoreError> {
        Self::open_reporting(path, site, &mut |_| {})
    }

    /// [`SqliteStore::open`], telling `report` when a migration that
    /// rewrote tables is followed by reclaiming their space
    /// ([`migrate_and_reclaim`]).
    pub fn open_reporting(
        path: &Path,
        site: &str,
        report: &mut dyn FnMut(MigrationEvent),
    ) -> Result<Self, StoreError> {
        let mut conn = open_conn(path, false)?;
        migrate_and_reclaim(&conn, report)?;
        let mut head = conn
            .query_row(append::sql::HEAD_OF_ORIGIN, [site], |r| {
                let seq: i64 = r.get(0)?;
                let hash: Vec<u8> = r.get(1)?;
                let hlc: i64 = r.get(2)?;
                Ok((seq, hash, hlc))
            })
            .map(|(seq, hash, hlc)| {
                let mut h = [0u8; 32];
                if hash.len() == 32 {
                    h.copy_from_slice(&hash);
                }
                Head {
                    seq: u64::try_from(seq).unwrap_or(0),
                    hash: EntryHash(h),
                    hlc: Hlc(u64::try_from(hlc).unwrap_or(0)),
                }
            })
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(Head {
                    seq: 0,
                    hash: EntryHash::GENESIS,
                    hlc: Hlc(0),
                }),
                e => Err(backend(e)),
            })?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(format!("einvoice-sqlite-writer-{site}"))
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    while jobs.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(j) => jobs.push(j),
                            Err(_) => break,
                        }
                    }
                    let txn = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
                        Ok(t) => t,
                        Err(e) => {
                            let err = StoreError::Unavailable(format!("cannot begin a write: {e}"));
                            // Each job must still get an answer: run none, fail all.
                            drop(jobs);
                            let _ = err;
                            continue;
                        }
                    };
                    let saved = head;
                    let replies: Vec<Reply> =
                        jobs.into_iter().map(|j| j(&txn, &mut head)).collect();
                    match txn.commit() {
                        Ok(()) => replies.into_iter().for_each(|r| r(Ok(()))),
                        Err(e) => {
                            head = saved;
                            let err = StoreError::Unavailable(format!("commit failed: {e}"));
                            replies.into_iter().for_each(|r| r(Err(err.clone())));
                        }
                    }
                }
            })
            .map_err(backend)?;
        Ok(Self {
            inner: Arc::new(Inner {
                site: site.to_string(),
                path: path.to_path_buf(),
                writer: Mutex::new(Some(tx)),
                readers: Mutex::new(Vec::new()),
                read_slots: tokio::sync::Semaphore::new(READERS),
            }),
        })
    }

    /// Queue a write job and wait for its committed result.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &mut Head) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |txn, head| {
            // Each request runs in its own savepoint: a request that fails
            // part-way leaves nothing behind, while the others in the same
            // group commit go ahead.
            let saved = *head;
            let out = match txn.execute_batch("SAVEPOINT job") {
                Err(e) => Err(backend(e)),
                Ok(()) => {
                    let out = f(txn, head);
                    let end = if out.is_ok() {
                        "RELEASE job"
                    } else {
                        *head = saved;
                        "ROLLBACK TO job; RELEASE job"
                    };
                    txn.execute_batch(end).map_err(backend).and(out)
                }
            };
            Box::new(move |committed: Result<(), StoreError>| {
                let _ = tx.send(committed.and(out));
            })
        });
        {
            let guard = self
                .inner
                .writer
                .lock()
                .map_err(|_| backend("writer lock poisoned"))?;
            let sender = guard
                .as_ref()
                .ok_or_else(|| StoreError::Unavailable("store closed".into()))?;
            sender
                .send(job)
                .map_err(|_| StoreError::Unavailable("the writer thread has stopped".into()))?;
        }
        rx.await.map_err(|_| {
            StoreError::Unavailable("the writer dropped the request (begin failed)".into())
        })?
    }

    /// Run a read on a pooled read-only connection.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        // Wait for a slot rather than opening connection after connection
        // under load; the permit travels with the blocking task.
        let permit = self
            .inner
            .read_slots
            .acquire()
            .await
            .map_err(|_| backend("read slots closed"))?;
        let out = tokio::task::spawn_blocking(move || {
            let conn = match inner
                .readers
                .lock()
                .map_err(|_| backend("pool lock poisoned"))?
                .pop()
            {
                Some(c) => c,
                None => open_conn(&inner.path, true)?,
            };
            let out = f(&conn);
            if let Ok(mut pool) = inner.readers.lock()
                && pool.len() < READERS
            {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|e| backend(format!("read task failed: {e}")))?;
        drop(permit);
        out
    }

    /// Test hook: change one stored entry's body, as an attacker with file access would.
    #[doc(hidden)]
    pub async fn tamper_for_tests(&self, origin: &str, seq: u64) -> Result<(), StoreError> {
        let origin = origin.to_string();
        self.write(move |t, _| {
            let seq = i64::try_from(seq).unwrap_or(i64::MAX);
            let (stored, codec): (Vec<u8>, i64) = t
                .query_row(
                    "SELECT body, body_codec FROM ledger WHERE origin = ?1 AND seq = ?2",
                    rusqlite::params![origin, seq],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(backend)?;
            // The canonical bytes changed (one byte prepended), stored raw.
            let mut body = vec![0u8];
            body.extend(bodies::unpack(t, stored, codec)?);
            t.execute(
                "UPDATE ledger SET body = ?3, body_codec = 0 WHERE origin = ?1 AND seq = ?2",
                rusqlite::params![origin, seq, body],
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(store: &SqliteStore) -> i64 {
        let c = open_conn(&store.inner.path, true).expect("open");
        c.query_row("SELECT count(*) FROM records WHERE space = 't'", [], |r| {
            r.get(0)
        })
        .expect("count")
    }

    /// A request that fails after writing leaves nothing, and the requests
    /// committed in the same group still land.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_request_is_rolled_back_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("s.db"), "main").expect("open");
        let insert = |id: &'static str, fail: bool| {
            let store = store.clone();
            async move {
                store
                    .write(move |t, _| {
                        t.execute(
                            "INSERT INTO records (space, id, json) VALUES ('t', ?1, '{}')",
                            [id],
                        )
                        .map_err(backend)?;
                        if fail {
                            return Err(StoreError::Backend("boom after a write".into()));
                        }
                        Ok(())
                    })
                    .await
            }
        };
        let (a, b, c) = tokio::join!(insert("a", false), insert("b", true), insert("c", false));
        assert!(a.is_ok() && c.is_ok());
        assert!(b.is_err());
        assert_eq!(count(&store), 2);
    }
}
