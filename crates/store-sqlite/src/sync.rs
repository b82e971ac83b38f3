//! Site-to-site sync on SQLite: a page of another origin's entries applied
//! with its cursor and the upstream's state in one write transaction (the
//! entries through [`io::insert_verbatim`] and the carrier-lifecycle
//! replays, the import's path), and the
//! per-origin sync state for `einvoice sync status`.

use crate::read::hash_of;
use crate::{SqliteStore, backend, io};
use einvoice_core::Validated;
use einvoice_store::{
    CarrierLifeReplay, EntryHash, Hlc, LedgerEntry, OriginHead, StoreError, SyncApplied, SyncHalt,
    SyncOriginState, SyncPage, SyncUpstreamState, refuse_own_origin, replay_carrier_life,
    replay_facts, sync_meeting_seq, sync_overlap,
};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use std::collections::BTreeMap;

/// Every SQL statement of this module.
pub(crate) mod sql {
    /// An origin's stored head: its last entry.
    pub(crate) const HEAD_OF: &str =
        "SELECT seq, hash, hlc FROM ledger WHERE origin = ?1 ORDER BY seq DESC LIMIT 1";
    /// The hash of one entry.
    pub(crate) const HASH_AT: &str = "SELECT hash FROM ledger WHERE origin = ?1 AND seq = ?2";
    /// Every origin's head: the origins by a skip-scan of the (origin, seq)
    /// key (one index seek per origin, not a scan of the ledger), then each
    /// one's last entry.
    pub(crate) const HEADS: &str = "WITH RECURSIVE o(origin) AS (\
         SELECT min(origin) FROM ledger \
         UNION ALL SELECT (SELECT min(origin) FROM ledger WHERE origin > o.origin) FROM o WHERE o.origin IS NOT NULL) \
         SELECT l.origin, l.seq, l.hash, l.hlc FROM o JOIN ledger l ON l.origin = o.origin \
         AND l.seq = (SELECT max(seq) FROM ledger WHERE origin = o.origin) ORDER BY l.origin";
    /// Store an origin's cursor.
    pub(crate) const PUT_CURSOR: &str = "INSERT INTO sync_cursors (origin, seq, hash, hlc, updated_unix) \
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (origin) DO UPDATE SET \
         seq = excluded.seq, hash = excluded.hash, hlc = excluded.hlc, updated_unix = excluded.updated_unix";
    /// Store what an upstream offers of an origin and the link's last error.
    pub(crate) const PUT_UPSTREAM: &str = "INSERT INTO sync_upstreams \
         (origin, upstream, seq, hash, hlc, checked_unix, error_code, error_message, error_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (origin, upstream) DO UPDATE SET \
         seq = excluded.seq, hash = excluded.hash, hlc = excluded.hlc, checked_unix = excluded.checked_unix, \
         error_code = excluded.error_code, error_message = excluded.error_message, error_seq = excluded.error_seq";
    /// Every upstream's state.
    pub(crate) const UPSTREAMS: &str = "SELECT origin, upstream, seq, hash, hlc, checked_unix, \
         error_code, error_message, error_seq FROM sync_upstreams ORDER BY origin, upstream";
}

fn i64_of(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v} exceeds i64")))
}

fn u64_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn head_of(c: &Connection, origin: &str) -> Result<OriginHead, StoreError> {
    let row = c
        .prepare_cached(sql::HEAD_OF)
        .map_err(backend)?
        .query_row(params![origin], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .optional()
        .map_err(backend)?;
    Ok(match row {
        Some((seq, hash, hlc)) => OriginHead {
            origin: origin.to_string(),
            seq: u64_of(seq),
            hash: hash_of(&hash),
            hlc: Hlc(u64_of(hlc)),
        },
        None => OriginHead::empty(origin),
    })
}

fn hash_at(c: &Connection, origin: &str, seq: u64) -> Result<Option<EntryHash>, StoreError> {
    if seq == 0 {
        return Ok(Some(EntryHash::GENESIS));
    }
    c.prepare_cached(sql::HASH_AT)
        .map_err(backend)?
        .query_row(params![origin, i64_of(seq)?], |r| r.get::<_, Vec<u8>>(0))
        .optional()
        .map_err(backend)
        .map(|h| h.map(|h| hash_of(&h)))
}

fn put_upstream(
    t: &Transaction<'_>,
    origin: &str,
    s: &SyncUpstreamState,
) -> Result<(), StoreError> {
    let (code, message, seq) = match &s.error {
        Some(e) => (
            Some(&e.code),
            Some(&e.message),
            e.seq.map(i64_of).transpose()?,
        ),
        None => (None, None, None),
    };
    t.prepare_cached(sql::PUT_UPSTREAM)
        .map_err(backend)?
        .execute(params![
            origin,
            s.upstream,
            i64_of(s.head.seq)?,
            &s.head.hash.0[..],
            i64_of(s.head.hlc.0)?,
            s.checked_unix,
            code,
            message,
            seq
        ])
        .map_err(backend)?;
    Ok(())
}

/// Apply a page (see [`einvoice_store::Store::apply_sync_page`]).
pub(crate) async fn apply_sync_page(
    s: &SqliteStore,
    page: SyncPage,
) -> Result<SyncApplied, StoreError> {
    refuse_own_origin(&s.inner.site, &page.origin)?;
    // Decode on the caller's thread; the writer only does SQL.
    let prepared: Vec<(LedgerEntry, Option<Validated>)> = page
        .entries
        .iter()
        .map(|e| replay_facts(e).map(|v| (e.clone(), v)))
        .collect::<Result<_, _>>()?;
    // The carrier-lifecycle projections (NPOs, donations, carriers, links),
    // decoded like an import's; only the entries not already held apply.
    let lifecycle: Vec<Option<CarrierLifeReplay>> = page
        .entries
        .iter()
        .map(replay_carrier_life)
        .collect::<Result<_, _>>()?;
    s.write(move |t, _own_head| {
        let stored = head_of(t, &page.origin)?;
        let meet = sync_meeting_seq(&page, stored.seq);
        let skip = sync_overlap(&page, stored.seq, hash_at(t, &page.origin, meet)?)?;
        let mut head = stored;
        let mut applied = 0u64;
        let mut replays = Vec::new();
        for ((e, facts), replay) in prepared.iter().zip(&lifecycle).skip(skip) {
            if e.origin != page.origin {
                return Err(StoreError::Corrupt(format!(
                    "a sync page of origin {:?} holds an entry of origin {:?}",
                    page.origin, e.origin
                )));
            }
            io::insert_verbatim(t, e, facts.as_ref())?;
            replays.extend(replay.iter().cloned());
            head = OriginHead {
                origin: e.origin.clone(),
                seq: e.seq,
                hash: e.hash,
                hlc: e.hlc,
            };
            applied += 1;
        }
        crate::carrier_life::apply_replays(t, &replays)?;
        t.prepare_cached(sql::PUT_CURSOR)
            .map_err(backend)?
            .execute(params![
                page.origin,
                i64_of(head.seq)?,
                &head.hash.0[..],
                i64_of(head.hlc.0)?,
                page.seen.checked_unix
            ])
            .map_err(backend)?;
        put_upstream(t, &page.origin, &page.seen)?;
        Ok(SyncApplied { applied, head })
    })
    .await
}

/// Every origin's head and upstream states.
pub(crate) async fn sync_state(s: &SqliteStore) -> Result<Vec<SyncOriginState>, StoreError> {
    s.read(|c| {
        let mut out: BTreeMap<String, SyncOriginState> = BTreeMap::new();
        let mut st = c.prepare_cached(sql::HEADS).map_err(backend)?;
        let rows = st
            .query_map([], |r| {
                Ok(OriginHead {
                    origin: r.get(0)?,
                    seq: u64_of(r.get(1)?),
                    hash: hash_of(&r.get::<_, Vec<u8>>(2)?),
                    hlc: Hlc(u64_of(r.get(3)?)),
                })
            })
            .map_err(backend)?;
        for h in rows {
            let h = h.map_err(backend)?;
            out.insert(
                h.origin.clone(),
                SyncOriginState {
                    head: h,
                    upstreams: Vec::new(),
                },
            );
        }
        let mut st = c.prepare_cached(sql::UPSTREAMS).map_err(backend)?;
        let rows = st
            .query_map([], |r| {
                let origin: String = r.get(0)?;
                let code: Option<String> = r.get(6)?;
                let message: Option<String> = r.get(7)?;
                let seq: Option<i64> = r.get(8)?;
                Ok(SyncUpstreamState {
                    upstream: r.get(1)?,
                    head: OriginHead {
                        origin,
                        seq: u64_of(r.get(2)?),
                        hash: hash_of(&r.get::<_, Vec<u8>>(3)?),
                        hlc: Hlc(u64_of(r.get(4)?)),
                    },
                    checked_unix: r.get(5)?,
                    error: code.map(|code| SyncHalt {
                        code,
                        message: message.unwrap_or_default(),
                        seq: seq.map(u64_of),
                    }),
                })
            })
            .map_err(backend)?;
        for u in rows {
            let u = u.map_err(backend)?;
            out.entry(u.head.origin.clone())
                .or_insert_with(|| SyncOriginState {
                    head: OriginHead::empty(u.head.origin.clone()),
                    upstreams: Vec::new(),
                })
                .upstreams
                .push(u);
        }
        Ok(out.into_values().collect())
    })
    .await
}
