//! einvoice-store-postgres: the PostgreSQL backend of [`Store`], for sites
//! that outgrow one machine — many API nodes (processes), one database.
//!
//! - **Ledger order across nodes.** Every append transaction first locks its
//!   origin's row of `ledger_heads` with `SELECT ... FOR UPDATE`, reads the
//!   chain head (sequence, hash, clock) under that lock, appends, moves the
//!   head and commits. Sequence allocation *and* commit are therefore
//!   serialized per origin: a transaction can only take the next number after
//!   the previous holder committed (PostgreSQL makes a commit visible before
//!   it releases the row lock), so readers following
//!   [`Store::entries`] always see a gap-free prefix and never miss an entry
//!   that commits later with a smaller number. A rolled-back transaction rolls
//!   its head back too, so no number is ever lost.
//! - **Group commit.** Each [`PgStore`] (one per node) has one writer task:
//!   appends from every request are queued to it; it takes what is queued (up
//!   to [`MAX_BATCH`] messages), runs it in **one** transaction, commits, and
//!   only then answers each caller. Batching buys throughput, never an early
//!   acknowledgement. A batch that fails for a reason other than an outage is
//!   re-run one request at a time, so one bad request cannot fail the others.
//! - **Invoices partitioned by period** (`PARTITION BY LIST (period)`). The
//!   partition of a period is created on demand, inside the append
//!   transaction that first needs it (so it commits or rolls back with the
//!   rows), remembered per node afterwards; [`PgStore::ensure_period`]
//!   creates one ahead of time and [`PgStore::detach_period`] detaches an old
//!   one so it can be archived and dropped. Winner lines are partitioned by
//!   period too: a winners load builds its period's partition as a table of
//!   its own and attaches it (migration 0004).
//! - **Failure behaviour.** Every connection runs with a `statement_timeout`
//!   (and an idle-in-transaction timeout); every operation has a client-side
//!   deadline and a bounded pool wait; serialization failures and deadlocks
//!   (SQLSTATE 40001 / 40P01) are retried with bounded, jittered backoff. A
//!   database outage surfaces as [`StoreError::Unavailable`] quickly and the
//!   pool reconnects by itself when the database is back.
//! - **Portable SQL**: plain tables, b-tree indexes, `INSERT ... ON CONFLICT`,
//!   `SELECT ... FOR UPDATE`; no advisory locks, no LISTEN/NOTIFY. Schema
//!   versions live in `schema_version`; [`PgStore::migrate`] is idempotent and
//!   safe to run from several nodes at once.
//!
//! Tenant scoping, receipts, ledger hashes ([`einvoice_store::hash_entry`])
//! and rejection codes are identical to the SQLite backend; the shared
//! conformance suite runs against both.

mod append;
mod attempts;
mod bodies;
mod carrier_agg;
mod carrier_life;
mod carrier_read;
mod carrier_reg;
pub mod ceiling;
mod draw;
mod error;
#[cfg(test)]
mod explain_tests;
pub mod footprint;
mod io;
mod outbox;
#[cfg(any(test, feature = "test-support"))]
pub mod pg_harness;
mod read;
#[cfg(test)]
mod retry_tests;
mod store;
mod sync;
mod sync_records;
pub mod tls;

use crate::error::DbError;
use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use einvoice_store::{AdmittedMessage, AppendOutcome, NewEntry, Receipt, Rejection, StoreError};
use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Most messages committed in one transaction.
pub const MAX_BATCH: usize = 256;

/// The schema version this binary writes (see `src/migrations/`).
pub const SCHEMA_VERSION: i32 = 15;

/// Embedded migrations: (version, SQL); every version not yet recorded in
/// `schema_migrations` is applied, in order (branches number their
/// migrations in parallel, so a lower number can arrive after a higher one).
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("migrations/0001_init.sql")),
    (2, include_str!("migrations/0002_draw.sql")),
    (3, include_str!("migrations/0003_outbox_lease.sql")),
    (4, include_str!("migrations/0004_winners_partitions.sql")),
    (6, include_str!("migrations/0006_login_budgets.sql")),
    (8, include_str!("migrations/0008_ledger_v2.sql")),
    (9, include_str!("migrations/0009_sync.sql")),
    (10, include_str!("migrations/0010_carrier_life.sql")),
    (11, include_str!("migrations/0011_carrier_reg.sql")),
    (12, include_str!("migrations/0012_carrier_links.sql")),
    (13, include_str!("migrations/0013_card_issuers.sql")),
    (14, include_str!("migrations/0014_sync_records.sql")),
    (15, include_str!("migrations/0015_compact_bodies.sql")),
];

/// The migrations a database kept at `counter` by the single
/// `schema_version` counter (before `schema_migrations`) has applied: the
/// versions those releases shipped, 1–4 and 8, up to the counter.
fn versions_applied_by_counter(counter: i32) -> Vec<i32> {
    [1, 2, 3, 4, 8]
        .into_iter()
        .filter(|v| *v <= counter)
        .collect()
}

/// The migration that keeps each body once, compactly (its rows are
/// finished in Rust: [`after_compact_bodies`]).
const COMPACT_BODIES: i32 = 15;

/// The part of migration 15 SQL cannot do, in its transaction: each
/// invoice's carrier read projection from its issuing entry's body, then
/// the first body dictionary when the store already holds enough bodies.
async fn after_compact_bodies(
    t: &deadpool_postgres::Transaction<'_>,
    bodies: &bodies::Bodies,
) -> Result<(), DbError> {
    carrier_read::rebuild(t, bodies).await?;
    if bodies.train_if_due(t).await? {
        bodies.forget_none();
    }
    Ok(())
}

/// The migrations not in `applied`, in version order.
fn pending_migrations(applied: &[i32]) -> Vec<(i32, &'static str)> {
    MIGRATIONS
        .iter()
        .filter(|(v, _)| !applied.contains(v))
        .map(|(v, sql)| (*v, *sql))
        .collect()
}

/// How to reach the database and how patient to be with it.
#[derive(Clone)]
pub struct PgOptions {
    /// A libpq-style connection string: `host=/run/postgresql user=einvoice dbname=einvoice`
    /// or `postgresql://user@host:5432/db`. No TLS: loopback or unix socket only.
    pub url: String,
    /// This site's id (the `origin` of the entries it appends).
    pub site: String,
    /// Server-side limit on every statement (`statement_timeout`).
    pub statement_timeout: Duration,
    /// Client-side limit on a whole store call (pool wait, connect, retries
    /// and statements); past it the call fails with [`StoreError::Unavailable`].
    pub operation_timeout: Duration,
    /// Longest wait for a free pooled connection.
    pub pool_wait_timeout: Duration,
    /// Longest wait to open a new connection.
    pub connect_timeout: Duration,
    /// Connections per node.
    pub pool_size: usize,
    /// Attempts for a transaction that hits a serialization failure or deadlock.
    pub max_attempts: u32,
    /// Run [`PgStore::migrate`] on connect (the default).
    pub migrate: bool,
    /// The slowest bulk write rate a [`einvoice_store::Store::put_winners`]
    /// is given time for, in rows per second, counting each winner line
    /// twice (the line and at most one notification). A national draw loads
    /// about 4 million lines in one transaction, which no `statement_timeout`
    /// / `operation_timeout` sized for requests fits, so that one transaction
    /// runs with both lifted to its own deadline, [`PgOptions::bulk_deadline`]:
    /// `operation_timeout` plus one second per this many rows. The default,
    /// 10 000 rows/s, gives 4 million lines 13.5 minutes — over ten times
    /// what `einvoice bench winners` measures for them on 2 cores.
    pub bulk_rows_per_second: u32,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never print it.
        f.debug_struct("PgOptions")
            .field("site", &self.site)
            .field("statement_timeout", &self.statement_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("pool_wait_timeout", &self.pool_wait_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("pool_size", &self.pool_size)
            .field("max_attempts", &self.max_attempts)
            .field("migrate", &self.migrate)
            .field("bulk_rows_per_second", &self.bulk_rows_per_second)
            .finish_non_exhaustive()
    }
}

impl PgOptions {
    /// Defaults: 5 s statements, 10 s per call, 2 s pool wait, 2 s connect,
    /// 8 connections, 6 attempts, migrate on connect, bulk loads given
    /// 10 000 rows/s.
    pub fn new(url: &str, site: &str) -> Self {
        Self {
            url: url.to_string(),
            site: site.to_string(),
            statement_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(10),
            pool_wait_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            pool_size: 8,
            max_attempts: 6,
            migrate: true,
            bulk_rows_per_second: 10_000,
        }
    }

    /// The deadline of a bulk write of `rows` rows: `operation_timeout` plus
    /// `rows / bulk_rows_per_second` seconds (see
    /// [`PgOptions::bulk_rows_per_second`]).
    pub fn bulk_deadline(&self, rows: u64) -> Duration {
        let rate = u64::from(self.bulk_rows_per_second.max(1));
        let ms = rows.saturating_mul(1000) / rate;
        self.operation_timeout + Duration::from_millis(ms)
    }
}

/// What the writer task needs; shared with the read side.
pub(crate) struct Shared {
    pub(crate) site: String,
    pub(crate) pool: Pool,
    pub(crate) opts: PgOptions,
    /// Periods whose invoice partition is known to exist (committed).
    pub(crate) partitions: Mutex<HashSet<u32>>,
    /// Body dictionaries (migration 15).
    pub(crate) bodies: bodies::Bodies,
}

/// One queued append and where its answer goes.
pub(crate) enum Job {
    Append {
        input: append::Request,
        reply: oneshot::Sender<Result<Vec<AppendOutcome>, StoreError>>,
    },
    Event {
        input: append::Request,
        reply: oneshot::Sender<Result<Receipt, StoreError>>,
    },
}

struct Inner {
    shared: Arc<Shared>,
    writer: mpsc::Sender<Job>,
}

/// A site's store in a PostgreSQL database. Cheap to clone; each
/// [`PgStore::connect`] is one node with its own pool and writer task.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("site", &self.inner.shared.site)
            .finish_non_exhaustive()
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl PgStore {
    /// Connect to the database at `url` as site `site` with default
    /// [`PgOptions`], migrating the schema if needed. Must be called inside a
    /// Tokio runtime (the writer task and connections live there).
    pub async fn connect(url: &str, site: &str) -> Result<Self, StoreError> {
        Self::connect_with(PgOptions::new(url, site)).await
    }

    /// Connect with explicit options.
    pub async fn connect_with(opts: PgOptions) -> Result<Self, StoreError> {
        // sslmode / sslrootcert: see [`tls`] (default verify-full off the machine).
        let tls::PgConnectConfig {
            config: mut cfg,
            tls,
            ..
        } = tls::pg_connect_config(&opts.url)?;
        let ms = |d: Duration| d.as_millis().max(1);
        let mut options = cfg.get_options().unwrap_or_default().to_string();
        options.push_str(&format!(
            " -c statement_timeout={} -c idle_in_transaction_session_timeout={}",
            ms(opts.statement_timeout),
            ms(opts.statement_timeout * 2),
        ));
        cfg.options(options.trim())
            .connect_timeout(opts.connect_timeout)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(10))
            .application_name(format!("einvoice-{}", opts.site));
        let manager = Manager::from_config(
            cfg,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(opts.pool_size.max(1))
            .wait_timeout(Some(opts.pool_wait_timeout))
            .create_timeout(Some(opts.connect_timeout))
            .recycle_timeout(Some(opts.connect_timeout))
            .runtime(Runtime::Tokio1)
            .post_create(Hook::async_fn(|client, _| {
                Box::pin(async move {
                    // Acknowledged means durable: a server (or database)
                    // default of `synchronous_commit = off` would let COMMIT
                    // return before the WAL is flushed. Raise it for our
                    // sessions; stronger settings (remote_apply, ...) stay.
                    let v: String = client
                        .query_one("SELECT current_setting('synchronous_commit')", &[])
                        .await
                        .and_then(|r| r.try_get(0))
                        .map_err(HookError::Backend)?;
                    if v == "off" {
                        client
                            .batch_execute("SET synchronous_commit = on")
                            .await
                            .map_err(HookError::Backend)?;
                    }
                    Ok(())
                })
            }))
            .build()
            .map_err(backend)?;
        let shared = Arc::new(Shared {
            site: opts.site.clone(),
            pool,
            opts,
            partitions: Mutex::new(HashSet::new()),
            bodies: bodies::Bodies::default(),
        });
        let (tx, rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
        let store = Self {
            inner: Arc::new(Inner {
                shared: shared.clone(),
                writer: tx,
            }),
        };
        if shared.opts.migrate {
            store.migrate().await?;
        }
        tokio::spawn(append::writer(shared, rx));
        Ok(store)
    }

    /// Create or upgrade the schema. Idempotent, and safe when several nodes
    /// run it at once: the stored version row is locked `FOR UPDATE` while the
    /// missing migrations run in the same transaction.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.inner
            .shared
            .run(true, |mut c| async move {
                c.batch_execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (id INTEGER PRIMARY KEY, version INTEGER NOT NULL);
                     INSERT INTO schema_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
                     CREATE TABLE IF NOT EXISTS schema_migrations (
                         version INTEGER PRIMARY KEY,
                         applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                )
                .await?;
                let t = c.transaction().await?;
                // The row lock serialises nodes migrating at once.
                let v: i32 = t
                    .query_one("SELECT version FROM schema_version WHERE id = 1 FOR UPDATE", &[])
                    .await?
                    .try_get(0)?;
                let mut applied: Vec<i32> = t
                    .query("SELECT version FROM schema_migrations", &[])
                    .await?
                    .iter()
                    .map(|r| r.try_get(0))
                    .collect::<Result<_, _>>()?;
                if applied.is_empty() && v > 0 {
                    // A database from before the per-version record: it holds
                    // what the single counter's releases shipped up to `v`.
                    applied = versions_applied_by_counter(v);
                    for version in &applied {
                        t.execute(
                            "INSERT INTO schema_migrations (version) VALUES ($1)",
                            &[version],
                        )
                        .await?;
                    }
                }
                let newest = applied.iter().copied().max().unwrap_or(0).max(v);
                if newest > SCHEMA_VERSION {
                    return Err(DbError::Store(StoreError::Corrupt(format!(
                        "the database has schema version {newest}, newer than this binary's {SCHEMA_VERSION}"
                    ))));
                }
                let shared = &self.inner.shared;
                for (version, sql) in pending_migrations(&applied) {
                    t.batch_execute(sql).await?;
                    if version == COMPACT_BODIES {
                        after_compact_bodies(&t, &shared.bodies).await?;
                    }
                    t.execute(
                        "INSERT INTO schema_migrations (version) VALUES ($1)",
                        &[&version],
                    )
                    .await?;
                }
                t.execute(
                    "UPDATE schema_version SET version = $1 WHERE id = 1",
                    &[&SCHEMA_VERSION.max(newest)],
                )
                .await?;
                t.commit().await?;
                Ok(())
            })
            .await
    }

    /// The schema version stored in the database.
    pub async fn schema_version(&self) -> Result<i32, StoreError> {
        self.inner
            .shared
            .run(false, |c| async move {
                Ok(
                    c.query_one("SELECT version FROM schema_version WHERE id = 1", &[])
                        .await?
                        .try_get(0)?,
                )
            })
            .await
    }

    /// A server setting as this store's sessions see it (diagnostics), e.g.
    /// `statement_timeout` or `synchronous_commit`.
    pub async fn setting(&self, name: &str) -> Result<String, StoreError> {
        self.run(|c| async move {
            Ok(c.query_one("SELECT current_setting($1)", &[&name])
                .await?
                .try_get(0)?)
        })
        .await
    }

    /// Create the invoice partition of a period ahead of time (appends create
    /// it on demand otherwise). Idempotent.
    pub async fn ensure_period(&self, period: einvoice_core::Period) -> Result<(), StoreError> {
        let key = period.key();
        self.inner
            .shared
            .run(true, |c| async move {
                c.batch_execute(&append::sql::create_partition_sql(key))
                    .await?;
                Ok(())
            })
            .await?;
        if let Ok(mut known) = self.inner.shared.partitions.lock() {
            known.insert(key);
        }
        Ok(())
    }

    /// Detach a period's invoice partition from the `invoices` table, rename
    /// it `invoices_p<period>_detached_<unix seconds>` and return that name
    /// (now a plain table, to archive and drop). Returns `None` when the
    /// period has no partition. An append for that period later creates an
    /// empty partition again — on other nodes too: a node whose remembered
    /// partition is gone gets "no partition for row", forgets what it
    /// remembered and retries.
    pub async fn detach_period(
        &self,
        period: einvoice_core::Period,
    ) -> Result<Option<String>, StoreError> {
        let key = period.key();
        let name = append::sql::partition_name(key);
        let name = name.as_str();
        let detached = self
            .inner
            .shared
            .run(false, |mut c| async move {
                let t = c.transaction().await?;
                let exists = t
                    .query_opt(
                        "SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                         WHERE i.inhparent = 'invoices'::regclass AND c.relname = $1",
                        &[&name],
                    )
                    .await?
                    .is_some();
                if !exists {
                    return Ok(None);
                }
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let archived = format!("{name}_detached_{now}");
                t.batch_execute(&format!(
                    "ALTER TABLE invoices DETACH PARTITION {name}; ALTER TABLE {name} RENAME TO {archived}"
                ))
                .await?;
                t.commit().await?;
                Ok(Some(archived))
            })
            .await?;
        if let Ok(mut known) = self.inner.shared.partitions.lock() {
            known.remove(&key);
        }
        Ok(detached)
    }

    /// Queue an append job and wait for its committed result.
    pub(crate) async fn write_messages(
        &self,
        actor: &str,
        messages: Vec<Result<AdmittedMessage, Rejection>>,
    ) -> Result<Vec<AppendOutcome>, StoreError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, rx) = oneshot::channel();
        let input = append::Request::Messages {
            actor: actor.to_string(),
            messages,
        };
        self.send(Job::Append { input, reply }).await?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the writer task stopped".into()))?
    }

    /// Queue an event append and wait for its committed receipt.
    pub(crate) async fn write_event(&self, entry: NewEntry) -> Result<Receipt, StoreError> {
        let (reply, rx) = oneshot::channel();
        let input = append::Request::Event(entry);
        self.send(Job::Event { input, reply }).await?;
        rx.await
            .map_err(|_| StoreError::Unavailable("the writer task stopped".into()))?
    }

    async fn send(&self, job: Job) -> Result<(), StoreError> {
        let deadline = self.inner.shared.opts.operation_timeout;
        match tokio::time::timeout(deadline, self.inner.writer.send(job)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(StoreError::Unavailable("the writer task stopped".into())),
            Err(_) => Err(StoreError::Unavailable(format!(
                "the write queue stayed full for {deadline:?}"
            ))),
        }
    }

    /// Run one read or small write with retries and the call deadline.
    pub(crate) async fn run<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnMut(deadpool_postgres::Client) -> Fut,
        Fut: Future<Output = Result<T, DbError>>,
    {
        self.inner.shared.run(false, f).await
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
    }
}

impl Shared {
    /// Run `f` on a pooled connection: retry serialization failures and
    /// deadlocks (and, with `races`, unique-key and duplicate-table races
    /// between writers) with jittered exponential backoff, all within the
    /// operation deadline. Failures become [`StoreError`]s.
    pub(crate) async fn run<T, F, Fut>(&self, races: bool, f: F) -> Result<T, StoreError>
    where
        F: FnMut(deadpool_postgres::Client) -> Fut,
        Fut: Future<Output = Result<T, DbError>>,
    {
        self.run_within(self.opts.operation_timeout, races, f).await
    }

    /// [`Shared::run`] with its own `deadline` instead of the operation
    /// timeout (bulk writes; see [`PgOptions::bulk_deadline`]).
    pub(crate) async fn run_within<T, F, Fut>(
        &self,
        deadline: Duration,
        races: bool,
        mut f: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut(deadpool_postgres::Client) -> Fut,
        Fut: Future<Output = Result<T, DbError>>,
    {
        let attempts = self.opts.max_attempts.max(1);
        let outcome = tokio::time::timeout(deadline, async {
            let mut attempt = 0u32;
            loop {
                let result = match self.pool.get().await {
                    Ok(client) => f(client).await,
                    Err(e) => Err(DbError::Pool(e)),
                };
                match result {
                    Ok(v) => return Ok(v),
                    Err(e)
                        if attempt + 1 < attempts
                            && (e.is_retryable() || (races && e.is_write_race())) =>
                    {
                        tokio::time::sleep(backoff(attempt)).await;
                        attempt += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
        })
        .await;
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if e.is_unavailable() {
                    self.forget_idle_connections();
                }
                Err(e.into_store())
            }
            Err(_) => {
                // A connection that did not answer in time may be stuck: do not reuse it.
                self.forget_idle_connections();
                Err(StoreError::Unavailable(format!(
                    "the database did not answer within {deadline:?}"
                )))
            }
        }
    }

    /// Drop every idle pooled connection (after an outage or a timeout they
    /// may be dead or stuck); new ones are opened on demand.
    pub(crate) fn forget_idle_connections(&self) {
        self.pool.retain(|_, _| false);
    }
}

/// 10 ms doubling per attempt up to 320 ms, times a jitter in [0.5, 1.5).
fn backoff(attempt: u32) -> Duration {
    let base = 10u64 << attempt.min(5);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // A cheap mix of the clock's low bits: enough to de-synchronize retries.
    let mixed = u64::from(nanos).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54; // 0..1024
    Duration::from_micros(base * (500 + mixed))
}
