//! Ledger bodies on SQLite, compactly (migration 12): `ledger.body` holds
//! the canonical bytes either raw or compressed with a dictionary of
//! `body_dicts`, named by `ledger.body_codec` (`einvoice_store::body_codec`).
//! Every write of a ledger row goes through [`pack`], every read through
//! [`unpack`]: the hash chain, verify, export, sync and the invoice views see
//! the canonical bytes only.
//!
//! The first dictionary is trained on this store's own bodies once it holds
//! [`TRAIN_AT`] of them ([`train_if_due`], from the writer, and from the
//! migration for a database that already has them); the bodies stored raw
//! until then are compressed in the same transaction.

use crate::backend;
use einvoice_store::StoreError;
use einvoice_store::body_codec::{self, BodyDict, CODEC_RAW};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// Raw bodies a store holds before it trains its first dictionary.
pub(crate) const TRAIN_AT: u64 = 2_000;
/// Most bodies a dictionary is trained on (the latest ones).
const TRAIN_SAMPLES: i64 = 4_000;
/// Rows rewritten per statement batch when compressing raw bodies.
const CHUNK: i64 = 2_000;

/// Every SQL statement of this module.
pub(crate) mod sql {
    /// The newest dictionary (the one new bodies are compressed with).
    pub(crate) const CURRENT: &str = "SELECT max(id) FROM body_dicts";
    /// One dictionary's bytes.
    pub(crate) const DICT: &str = "SELECT dict FROM body_dicts WHERE id = ?1";
    /// Store a new dictionary.
    pub(crate) const PUT_DICT: &str =
        "INSERT INTO body_dicts (id, dict, created_unix) VALUES (?1, ?2, ?3)";
    /// The latest raw, non-empty bodies (training samples).
    pub(crate) const SAMPLES: &str = "SELECT body FROM ledger WHERE body_codec = 0 \
         AND length(body) > 0 ORDER BY rowid DESC LIMIT ?1";
    /// Raw non-empty bodies after a rowid, in rowid order.
    pub(crate) const RAW_AFTER: &str = "SELECT rowid, body FROM ledger WHERE rowid > ?1 \
         AND body_codec = 0 AND length(body) > 0 ORDER BY rowid LIMIT ?2";
    /// Rewrite one body with its codec.
    pub(crate) const REWRITE: &str =
        "UPDATE ledger SET body = ?2, body_codec = ?3 WHERE rowid = ?1";
}

/// Loaded dictionaries by (database file, dictionary id).
type DictCache = HashMap<(String, i64), Arc<BodyDict>>;

/// Dictionaries by (database file, id), so a dictionary is loaded into zstd
/// once, not per body. A hit is used only when its bytes are the stored
/// ones (a file replaced by another database under the same name cannot
/// decode with the old one's dictionary). Databases without a file name are
/// not cached.
static CACHE: LazyLock<Mutex<DictCache>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn cache_key(c: &Connection, id: i64) -> Option<(String, i64)> {
    c.path()
        .filter(|p| !p.is_empty())
        .map(|p| (p.to_string(), id))
}

/// The dictionary stored under `id`, if the store holds it.
pub(crate) fn dict(c: &Connection, id: i64) -> Result<Option<Arc<BodyDict>>, StoreError> {
    let bytes: Option<Vec<u8>> = c
        .prepare_cached(sql::DICT)
        .map_err(backend)?
        .query_row(params![id], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    let key = cache_key(c, id);
    if let Some(k) = &key
        && let Some(d) = CACHE.lock().map_err(|_| poisoned())?.get(k)
        && d.bytes() == bytes.as_slice()
    {
        return Ok(Some(d.clone()));
    }
    let d = Arc::new(BodyDict::new(id, bytes)?);
    if let Some(k) = key {
        CACHE.lock().map_err(|_| poisoned())?.insert(k, d.clone());
    }
    Ok(Some(d))
}

fn poisoned() -> StoreError {
    StoreError::Backend("body dictionary cache lock poisoned".into())
}

/// The dictionary new bodies are compressed with, if one was trained.
pub(crate) fn current(c: &Connection) -> Result<Option<Arc<BodyDict>>, StoreError> {
    let id: Option<i64> = c
        .prepare_cached(sql::CURRENT)
        .map_err(backend)?
        .query_row([], |r| r.get(0))
        .map_err(backend)?;
    match id {
        Some(id) => dict(c, id),
        None => Ok(None),
    }
}

/// What to store for a canonical body: `(bytes, codec)`.
pub(crate) fn pack(c: &Connection, body: &[u8]) -> Result<(Vec<u8>, i64), StoreError> {
    if body.is_empty() {
        return Ok((Vec::new(), CODEC_RAW));
    }
    let d = current(c)?;
    body_codec::pack(d.as_deref(), body)
}

/// The canonical bytes of a stored body.
pub(crate) fn unpack(c: &Connection, stored: Vec<u8>, codec: i64) -> Result<Vec<u8>, StoreError> {
    if codec == CODEC_RAW {
        return Ok(stored);
    }
    let d = dict(c, codec)?;
    body_codec::unpack(d.as_deref(), stored, codec)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Train the first dictionary when the store has none and holds at least
/// [`TRAIN_AT`] raw bodies, then compress every raw body with it. Runs in
/// the caller's write transaction. Returns whether a dictionary was trained.
pub(crate) fn train_if_due(c: &Connection) -> Result<bool, StoreError> {
    if current(c)?.is_some() {
        return Ok(false);
    }
    let samples: Vec<Vec<u8>> = {
        let mut st = c.prepare(sql::SAMPLES).map_err(backend)?;
        let rows = st
            .query_map(params![TRAIN_SAMPLES], |r| r.get(0))
            .map_err(backend)?;
        rows.collect::<Result<_, _>>().map_err(backend)?
    };
    if (samples.len() as u64) < TRAIN_AT.min(TRAIN_SAMPLES as u64) {
        return Ok(false);
    }
    let bytes = body_codec::train(&samples)?;
    let d = BodyDict::new(1, bytes)?;
    c.execute(sql::PUT_DICT, params![d.id(), d.bytes(), unix_now()])
        .map_err(backend)?;
    compress_raw(c, &d)?;
    Ok(true)
}

/// Compress every raw, non-empty body with `d` (where that shrinks it).
fn compress_raw(c: &Connection, d: &BodyDict) -> Result<u64, StoreError> {
    let mut after = 0i64;
    let mut n = 0u64;
    loop {
        let chunk: Vec<(i64, Vec<u8>)> = {
            let mut st = c.prepare_cached(sql::RAW_AFTER).map_err(backend)?;
            let rows = st
                .query_map(params![after, CHUNK], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(backend)?;
            rows.collect::<Result<_, _>>().map_err(backend)?
        };
        let Some((last, _)) = chunk.last() else {
            return Ok(n);
        };
        after = *last;
        let mut st = c.prepare_cached(sql::REWRITE).map_err(backend)?;
        for (rowid, body) in &chunk {
            let (stored, codec) = body_codec::pack(Some(d), body)?;
            if codec != CODEC_RAW {
                st.execute(params![rowid, stored, codec]).map_err(backend)?;
                n += 1;
            }
        }
    }
}
