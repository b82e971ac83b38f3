//! Site-to-site sync on PostgreSQL: a page of another origin's entries
//! applied in one transaction under that origin's locked `ledger_heads` row
//! (the append path's [`Writer::begin`]), each entry through
//! [`io::insert_verbatim`] and the carrier-lifecycle replays (the import's
//! path), the head row as the cursor
//! and the upstream's state beside it; and the per-origin sync state.

use crate::PgStore;
use crate::append::sql::{INSERT_LEDGER, LOCK_HEAD};
use crate::append::{Head, Writer, hash_of, to_i64, to_u64};
use crate::error::DbError;
use crate::io;
use einvoice_core::Validated;
use einvoice_store::{
    CarrierLifeReplay, EntryHash, Hlc, LedgerEntry, OriginHead, StoreError, SyncApplied, SyncHalt,
    SyncOriginState, SyncPage, SyncUpstreamState, refuse_own_origin, replay_carrier_life,
    replay_facts, sync_meeting_seq, sync_overlap,
};
use std::collections::BTreeMap;

/// Every SQL statement of this module.
pub(crate) mod sql {
    /// The hash of one entry.
    pub(crate) const HASH_AT: &str = "SELECT hash FROM ledger WHERE origin = $1 AND seq = $2";
    /// Every origin's head.
    pub(crate) const HEADS: &str =
        "SELECT origin, seq, hash, hlc FROM ledger_heads ORDER BY origin";
    /// Store what an upstream offers of an origin and the link's last error.
    pub(crate) const PUT_UPSTREAM: &str = "INSERT INTO sync_upstreams \
         (origin, upstream, seq, hash, hlc, checked_unix, error_code, error_message, error_seq) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (origin, upstream) DO UPDATE SET \
         seq = excluded.seq, hash = excluded.hash, hlc = excluded.hlc, checked_unix = excluded.checked_unix, \
         error_code = excluded.error_code, error_message = excluded.error_message, error_seq = excluded.error_seq";
    /// Every upstream's state.
    pub(crate) const UPSTREAMS: &str = "SELECT origin, upstream, seq, hash, hlc, checked_unix, \
         error_code, error_message, error_seq FROM sync_upstreams ORDER BY origin, upstream";
}

fn head_of(row: &tokio_postgres::Row, origin: usize) -> Result<OriginHead, DbError> {
    Ok(OriginHead {
        origin: row.try_get(origin)?,
        seq: to_u64(row.try_get(origin + 1)?)?,
        hash: hash_of(&row.try_get::<_, Vec<u8>>(origin + 2)?)?,
        hlc: Hlc(to_u64(row.try_get(origin + 3)?)?),
    })
}

impl PgStore {
    /// Apply a page (see [`einvoice_store::Store::apply_sync_page`]).
    pub(crate) async fn sync_apply(&self, page: SyncPage) -> Result<SyncApplied, StoreError> {
        refuse_own_origin(&self.shared().site, &page.origin)?;
        for e in &page.entries {
            if e.origin != page.origin {
                return Err(StoreError::Corrupt(format!(
                    "a sync page of origin {:?} holds an entry of origin {:?}",
                    page.origin, e.origin
                )));
            }
        }
        let prepared: Vec<(LedgerEntry, Option<Validated>)> = page
            .entries
            .iter()
            .map(|e| replay_facts(e).map(|v| (e.clone(), v)))
            .collect::<Result<_, _>>()?;
        // The carrier-lifecycle projections (NPOs, donations, carriers,
        // links), decoded like an import's; only the entries not already
        // held apply.
        let lifecycle: Vec<Option<CarrierLifeReplay>> = page
            .entries
            .iter()
            .map(replay_carrier_life)
            .collect::<Result<_, _>>()?;
        let (page, prepared, lifecycle) = (&page, &prepared, &lifecycle);
        let shared = self.shared();
        let (applied, created) = shared
            .run(false, |mut c| async move {
                let t = c.transaction().await?;
                let lock = t.prepare_cached(LOCK_HEAD).await?;
                let (mut w, _) = Writer::begin(&t, &page.origin, &shared.partitions, &lock).await?;
                w.use_bodies(&shared.bodies).await?;
                let meet = sync_meeting_seq(page, w.head.seq);
                let at = if meet == 0 {
                    Some(EntryHash::GENESIS)
                } else {
                    t.query_opt(sql::HASH_AT, &[&page.origin, &to_i64(meet)?])
                        .await?
                        .map(|r| hash_of(&r.try_get::<_, Vec<u8>>(0)?))
                        .transpose()?
                };
                let skip = sync_overlap(page, w.head.seq, at).map_err(DbError::Store)?;
                let insert = t.prepare_cached(INSERT_LEDGER).await?;
                let mut applied = 0u64;
                let mut replays = Vec::new();
                for ((e, facts), replay) in prepared.iter().zip(lifecycle).skip(skip) {
                    io::insert_verbatim(&mut w, &insert, e, facts.as_ref()).await?;
                    replays.extend(replay.iter().cloned());
                    w.head = Head {
                        seq: e.seq,
                        hash: e.hash,
                        hlc: e.hlc,
                    };
                    applied += 1;
                }
                crate::carrier_life::apply_replays(&t, &replays).await?;
                w.finish().await?;
                let trained = w.settle_bodies().await?;
                let head = OriginHead {
                    origin: page.origin.clone(),
                    seq: w.head.seq,
                    hash: w.head.hash,
                    hlc: w.head.hlc,
                };
                let created = std::mem::take(&mut w.created);
                let s = &page.seen;
                let (code, message, seq) = match &s.error {
                    Some(e) => (
                        Some(e.code.as_str()),
                        Some(e.message.as_str()),
                        e.seq.map(to_i64).transpose()?,
                    ),
                    None => (None, None, None),
                };
                t.execute(
                    sql::PUT_UPSTREAM,
                    &[
                        &page.origin,
                        &s.upstream,
                        &to_i64(s.head.seq)?,
                        &&s.head.hash.0[..],
                        &to_i64(s.head.hlc.0)?,
                        &s.checked_unix,
                        &code,
                        &message,
                        &seq,
                    ],
                )
                .await?;
                t.commit().await?;
                if trained {
                    shared.bodies.forget_none();
                }
                Ok((SyncApplied { applied, head }, created))
            })
            .await?;
        if let Ok(mut k) = shared.partitions.lock() {
            k.extend(created);
        }
        Ok(applied)
    }

    /// Every origin's head and upstream states.
    pub(crate) async fn sync_origins(&self) -> Result<Vec<SyncOriginState>, StoreError> {
        self.run(|c| async move {
            let mut out: BTreeMap<String, SyncOriginState> = BTreeMap::new();
            for r in c.query(sql::HEADS, &[]).await? {
                let head = head_of(&r, 0)?;
                out.insert(
                    head.origin.clone(),
                    SyncOriginState {
                        head,
                        upstreams: Vec::new(),
                    },
                );
            }
            for r in c.query(sql::UPSTREAMS, &[]).await? {
                let origin: String = r.try_get(0)?;
                let code: Option<String> = r.try_get(6)?;
                let message: Option<String> = r.try_get(7)?;
                let seq: Option<i64> = r.try_get(8)?;
                let u = SyncUpstreamState {
                    upstream: r.try_get(1)?,
                    head: OriginHead {
                        origin: origin.clone(),
                        seq: to_u64(r.try_get(2)?)?,
                        hash: hash_of(&r.try_get::<_, Vec<u8>>(3)?)?,
                        hlc: Hlc(to_u64(r.try_get(4)?)?),
                    },
                    checked_unix: r.try_get(5)?,
                    error: code.map(|code| SyncHalt {
                        code,
                        message: message.unwrap_or_default(),
                        seq: seq.and_then(|s| u64::try_from(s).ok()),
                    }),
                };
                out.entry(origin.clone())
                    .or_insert_with(|| SyncOriginState {
                        head: OriginHead::empty(origin),
                        upstreams: Vec::new(),
                    })
                    .upstreams
                    .push(u);
            }
            Ok(out.into_values().collect())
        })
        .await
    }
}
