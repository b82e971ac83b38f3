//! Ledger bodies on PostgreSQL, compactly (migration 15), the same way as
//! SQLite: `ledger.body` holds the canonical bytes either raw or compressed
//! with a dictionary of `body_dicts`, named by `ledger.body_codec`
//! (`einvoice_store::body_codec`). Every ledger row is written through
//! [`einvoice_store::body_codec::pack`] with the dictionary the transaction
//! began with ([`Bodies::current`]), and read back through
//! [`Bodies::unpack`]: the hash chain, verify, export, sync, idempotency and
//! the invoice views see the canonical bytes only.
//!
//! The first dictionary is trained on the store's own bodies once it holds
//! [`TRAIN_AT`] of them ([`Bodies::train_if_due`], from the writers and from
//! the migration for a database that already has them); the bodies stored raw
//! until then are compressed in the same transaction. Dictionaries are
//! immutable, so each node caches them by id. A node that does not know of a
//! dictionary yet keeps writing raw bodies, which stay valid.

use crate::error::DbError;
use einvoice_store::StoreError;
use einvoice_store::body_codec::{self, BodyDict, CODEC_RAW};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_postgres::GenericClient;

/// Raw bodies a store holds before it trains its first dictionary.
pub(crate) const TRAIN_AT: i64 = 2_000;
/// Most bodies a dictionary is trained on (the latest ones).
const TRAIN_SAMPLES: i64 = 4_000;
/// Rows rewritten per statement when compressing raw bodies.
const CHUNK: i64 = 2_000;
/// Raw bodies a node writes between two looks at whether training is due.
const TRAIN_CHECK_EVERY: u64 = 500;
/// How long a node trusts "no dictionary yet" before asking the database
/// again (another node may have trained one).
const RECHECK: Duration = Duration::from_secs(5);

/// Every SQL statement of this module.
pub(crate) mod sql {
    /// The newest dictionary (the one new bodies are compressed with).
    pub(crate) const CURRENT: &str = "SELECT max(id) FROM body_dicts";
    /// One dictionary's bytes.
    pub(crate) const DICT: &str = "SELECT dict FROM body_dicts WHERE id = $1";
    /// Store a new dictionary (another node may have stored it first).
    pub(crate) const PUT_DICT: &str = "INSERT INTO body_dicts (id, dict, created_unix) \
         VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING";
    /// The latest raw, non-empty bodies (training samples).
    pub(crate) const SAMPLES: &str = "SELECT body FROM ledger WHERE body_codec = 0 \
         AND length(body) > 0 ORDER BY hlc DESC LIMIT $1";
    /// Raw non-empty bodies after an (origin, seq), in that order.
    pub(crate) const RAW_AFTER: &str = "SELECT origin, seq, body FROM ledger \
         WHERE (origin, seq) > ($1, $2) AND body_codec = 0 AND length(body) > 0 \
         ORDER BY origin, seq LIMIT $3";
    /// Rewrite bodies with their codec, one array per column.
    pub(crate) const REWRITE: &str = "UPDATE ledger l SET body = u.body, body_codec = u.codec \
         FROM UNNEST($1::text[], $2::bigint[], $3::bytea[], $4::bigint[]) AS u(origin, seq, body, codec) \
         WHERE l.origin = u.origin AND l.seq = u.seq";
}

/// A node's dictionaries, by id, and whether it is time to train.
#[derive(Default)]
pub(crate) struct Bodies {
    dicts: Mutex<HashMap<i64, Arc<BodyDict>>>,
    /// The newest dictionary known, or when the database last said none.
    current: Mutex<Current>,
    /// Raw bodies this node wrote since it last looked at training.
    raw_written: AtomicU64,
}

#[derive(Default)]
struct Current {
    dict: Option<Arc<BodyDict>>,
    none_seen: Option<Instant>,
}

fn poisoned() -> DbError {
    DbError::Store(StoreError::Backend(
        "body dictionary cache lock poisoned".into(),
    ))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Bodies {
    /// The dictionary stored under `id`, if the store holds it.
    pub(crate) async fn dict<C: GenericClient + Sync>(
        &self,
        c: &C,
        id: i64,
    ) -> Result<Option<Arc<BodyDict>>, DbError> {
        if let Some(d) = self.dicts.lock().map_err(|_| poisoned())?.get(&id) {
            return Ok(Some(d.clone()));
        }
        let Some(row) = c.query_opt(sql::DICT, &[&id]).await? else {
            return Ok(None);
        };
        let d = Arc::new(BodyDict::new(id, row.try_get(0)?)?);
        self.dicts
            .lock()
            .map_err(|_| poisoned())?
            .insert(id, d.clone());
        Ok(Some(d))
    }

    /// The dictionary new bodies are compressed with, if one was trained.
    pub(crate) async fn current<C: GenericClient + Sync>(
        &self,
        c: &C,
    ) -> Result<Option<Arc<BodyDict>>, DbError> {
        {
            let cur = self.current.lock().map_err(|_| poisoned())?;
            if cur.dict.is_some() {
                return Ok(cur.dict.clone());
            }
            if cur.none_seen.is_some_and(|t| t.elapsed() < RECHECK) {
                return Ok(None);
            }
        }
        let id: Option<i64> = c.query_one(sql::CURRENT, &[]).await?.try_get(0)?;
        let d = match id {
            Some(id) => self.dict(c, id).await?,
            None => None,
        };
        let mut cur = self.current.lock().map_err(|_| poisoned())?;
        cur.none_seen = d.is_none().then(Instant::now);
        cur.dict = d.clone();
        Ok(d)
    }

    /// The canonical bytes of a body stored with `codec` by the entry
    /// `origin`/`seq`; a body that does not decode is
    /// [`StoreError::Corrupt`] naming the entry.
    pub(crate) async fn unpack<C: GenericClient + Sync>(
        &self,
        c: &C,
        (origin, seq): (&str, i64),
        stored: Vec<u8>,
        codec: i64,
    ) -> Result<Vec<u8>, DbError> {
        if codec == CODEC_RAW {
            return Ok(stored);
        }
        let d = self.dict(c, codec).await?;
        body_codec::unpack(d.as_deref(), stored, codec).map_err(|e| {
            DbError::Store(StoreError::Corrupt(format!(
                "ledger entry {origin}/{seq}: {e}"
            )))
        })
    }

    /// Count raw bodies a transaction of this node wrote; true when it is
    /// time to look at training ([`Bodies::train_if_due`]).
    pub(crate) fn wrote_raw(&self, n: u64) -> bool {
        if n == 0 {
            return false;
        }
        let before = self.raw_written.fetch_add(n, Ordering::Relaxed);
        before / TRAIN_CHECK_EVERY != (before + n) / TRAIN_CHECK_EVERY
    }

    /// Train the first dictionary when the store has none and holds at least
    /// [`TRAIN_AT`] raw bodies, then compress every raw body with it. Runs in
    /// the caller's write transaction. Returns whether a dictionary was
    /// trained here.
    pub(crate) async fn train_if_due(
        &self,
        t: &deadpool_postgres::Transaction<'_>,
    ) -> Result<bool, DbError> {
        if let Some(row) = t.query_opt(sql::CURRENT, &[]).await?
            && row.try_get::<_, Option<i64>>(0)?.is_some()
        {
            return Ok(false);
        }
        let samples: Vec<Vec<u8>> = t
            .query(sql::SAMPLES, &[&TRAIN_SAMPLES])
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        if (samples.len() as i64) < TRAIN_AT.min(TRAIN_SAMPLES) {
            return Ok(false);
        }
        let bytes = body_codec::train(&samples)?;
        let d = BodyDict::new(1, bytes)?;
        if t.execute(sql::PUT_DICT, &[&d.id(), &d.bytes(), &unix_now()])
            .await?
            == 0
        {
            // Another node trained it first (and compressed what it saw).
            return Ok(false);
        }
        compress_raw(t, &d).await?;
        Ok(true)
    }

    /// After a transaction that trained a dictionary committed: use it.
    pub(crate) fn forget_none(&self) {
        if let Ok(mut cur) = self.current.lock() {
            cur.none_seen = None;
        }
    }
}

/// Compress every raw, non-empty body with `d` (where that shrinks it).
async fn compress_raw(t: &deadpool_postgres::Transaction<'_>, d: &BodyDict) -> Result<(), DbError> {
    let (mut origin, mut seq) = (String::new(), -1i64);
    loop {
        let rows = t.query(sql::RAW_AFTER, &[&origin, &seq, &CHUNK]).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        (origin, seq) = (last.try_get(0)?, last.try_get(1)?);
        let (mut origins, mut seqs, mut packed, mut codecs) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for r in &rows {
            let body: Vec<u8> = r.try_get(2)?;
            let (stored, codec) = body_codec::pack(Some(d), &body)?;
            if codec != CODEC_RAW {
                origins.push(r.try_get::<_, String>(0)?);
                seqs.push(r.try_get::<_, i64>(1)?);
                packed.push(stored);
                codecs.push(codec);
            }
        }
        t.execute(sql::REWRITE, &[&origins, &seqs, &packed, &codecs])
            .await?;
    }
}
