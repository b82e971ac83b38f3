//! The chain of this site's origin: its head row, locked for the length of
//! a transaction, and the ledger entry insert that moves it. Every append
//! goes through here, and so do draw freezes, winners loads and imports.

use super::columns::{hash_of, to_i64, to_u64};
use super::sql::{INSERT_LEDGER, LOCK_HEAD, UPDATE_HEAD};
use crate::bodies::Bodies;
use crate::error::DbError;
use einvoice_store::body_codec::{self, BodyDict, CODEC_RAW};
use einvoice_store::{EntryHash, Hlc, NewEntry, Receipt, StoreError, body_digest, hash_entry_v2};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The chain head of this site's origin, read under its row lock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    pub(crate) seq: u64,
    pub(crate) hash: EntryHash,
    pub(crate) hlc: Hlc,
}

/// Append one event entry inside `t`, the transaction of another write (a
/// draw freeze or winners load), so that both commit or neither: lock this
/// origin's head row (creating it on first use), push the entry through
/// [`Writer::push`] — the chain code of every append — and move the head.
/// The entry's body is stored raw (such a writer has no dictionary: see
/// [`Writer::use_bodies`]).
/// The head row stays locked until `t` ends and every append of the origin
/// waits for it: call this last, just before the commit.
pub(crate) async fn append_event_in(
    t: &deadpool_postgres::Transaction<'_>,
    site: &str,
    known: &Mutex<HashSet<u32>>,
    entry: &NewEntry,
) -> Result<Receipt, DbError> {
    let lock = t.prepare_cached(LOCK_HEAD).await?;
    let (mut w, _) = Writer::begin(t, site, known, &lock).await?;
    let receipt = w
        .push(&entry.kind, &entry.key, &entry.actor, &entry.body, false)
        .await?;
    w.finish().await?;
    Ok(receipt)
}

/// One batch's transaction, positioned at the locked chain head.
pub(crate) struct Writer<'a, 't> {
    pub(crate) t: &'a deadpool_postgres::Transaction<'t>,
    pub(crate) site: &'a str,
    pub(crate) head: Head,
    pub(crate) start_seq: u64,
    pub(crate) known: &'a Mutex<HashSet<u32>>,
    /// Partitions this transaction created (remembered after the commit).
    pub(crate) created: Vec<u32>,
    /// The node's body dictionaries, when this writer compresses bodies
    /// ([`Writer::use_bodies`]); without, every body is stored raw.
    pub(crate) bodies: Option<&'a Bodies>,
    /// The dictionary this transaction compresses bodies with.
    pub(crate) dict: Option<Arc<BodyDict>>,
    /// Non-empty bodies this transaction stored raw.
    pub(crate) raw_written: u64,
}

impl<'a, 't> Writer<'a, 't> {
    /// Lock this origin's head row (creating it on first use) and read the head.
    /// The flag is true when the first statement sent took the lock (the
    /// head row existed): statements pipelined behind it ran under the lock.
    pub(crate) async fn begin(
        t: &'a deadpool_postgres::Transaction<'t>,
        site: &'a str,
        known: &'a Mutex<HashSet<u32>>,
        lock: &tokio_postgres::Statement,
    ) -> Result<(Self, bool), DbError> {
        let mut locked = true;
        let row = match t.query_opt(lock, &[&site]).await? {
            Some(row) => row,
            None => {
                locked = false;
                // First append of this origin in this database: start the head
                // at the ledger's last entry (normally none: genesis).
                let last = t
                    .query_opt(
                        "SELECT seq, hash, hlc FROM ledger WHERE origin = $1 ORDER BY seq DESC LIMIT 1",
                        &[&site],
                    )
                    .await?;
                let (seq, hash, hlc) = match last {
                    Some(r) => (
                        r.try_get::<_, i64>(0)?,
                        r.try_get::<_, Vec<u8>>(1)?,
                        r.try_get::<_, i64>(2)?,
                    ),
                    None => (0, EntryHash::GENESIS.0.to_vec(), 0),
                };
                t.execute(
                    "INSERT INTO ledger_heads (origin, seq, hash, hlc) VALUES ($1, $2, $3, $4) ON CONFLICT (origin) DO NOTHING",
                    &[&site, &seq, &hash, &hlc],
                )
                .await?;
                t.query_one(lock, &[&site]).await?
            }
        };
        let head = Head {
            seq: to_u64(row.try_get(0)?)?,
            hash: hash_of(&row.try_get::<_, Vec<u8>>(1)?)?,
            hlc: Hlc(to_u64(row.try_get(2)?)?),
        };
        Ok((
            Self {
                t,
                site,
                head,
                start_seq: head.seq,
                known,
                created: Vec::new(),
                bodies: None,
                dict: None,
                raw_written: 0,
            },
            locked,
        ))
    }

    /// Compress the bodies this transaction writes with the node's current
    /// dictionary (one query while the node knows of none).
    pub(crate) async fn use_bodies(&mut self, bodies: &'a Bodies) -> Result<(), DbError> {
        self.dict = bodies.current(&**self.t).await?;
        self.bodies = Some(bodies);
        Ok(())
    }

    /// What to store for a canonical body: `(bytes, codec)`.
    pub(crate) fn pack(&mut self, body: &[u8]) -> Result<(Vec<u8>, i64), DbError> {
        let (stored, codec) = body_codec::pack(self.dict.as_deref(), body)?;
        if codec == CODEC_RAW && !body.is_empty() {
            self.raw_written += 1;
        }
        Ok((stored, codec))
    }

    /// The canonical bytes of a body of the entry `at` read in this
    /// transaction (stored with `codec`).
    pub(crate) async fn unpack(
        &self,
        at: (&str, i64),
        stored: Vec<u8>,
        codec: i64,
    ) -> Result<Vec<u8>, DbError> {
        match self.bodies {
            Some(b) => b.unpack(&**self.t, at, stored, codec).await,
            None if codec == CODEC_RAW => Ok(stored),
            None => Err(DbError::Store(StoreError::Backend(
                "a writer without body dictionaries read a compressed body".into(),
            ))),
        }
    }

    /// Before the commit: train the first dictionary when this node has
    /// written enough raw bodies for it to be due. True when one was trained
    /// (call [`Bodies::forget_none`] after the commit).
    pub(crate) async fn settle_bodies(&mut self) -> Result<bool, DbError> {
        let Some(b) = self.bodies else {
            return Ok(false);
        };
        let n = std::mem::take(&mut self.raw_written);
        if self.dict.is_none() && b.wrote_raw(n) {
            return b.train_if_due(self.t).await;
        }
        Ok(false)
    }

    /// Move the head row to the last entry written.
    pub(crate) async fn finish(&mut self) -> Result<(), DbError> {
        if self.head.seq != self.start_seq {
            let st = self.t.prepare_cached(UPDATE_HEAD).await?;
            self.t
                .execute(
                    &st,
                    &[
                        &self.site,
                        &to_i64(self.head.seq)?,
                        &&self.head.hash.0[..],
                        &to_i64(self.head.hlc.0)?,
                    ],
                )
                .await?;
        }
        Ok(())
    }

    /// Append one ledger row (format v2, body present) at the head and advance the head.
    pub(crate) async fn push(
        &mut self,
        kind: &str,
        key: &str,
        actor: &str,
        body: &[u8],
        message: bool,
    ) -> Result<Receipt, DbError> {
        let seq = self.head.seq + 1;
        let hlc = Hlc::now_after(self.head.hlc);
        let digest = body_digest(body);
        let (stored, codec) = self.pack(body)?;
        let hash = hash_entry_v2(
            &self.head.hash,
            self.site,
            seq,
            hlc,
            kind,
            key,
            actor,
            &digest,
        );
        let st = self.t.prepare_cached(INSERT_LEDGER).await?;
        self.t
            .execute(
                &st,
                &[
                    &self.site,
                    &to_i64(seq)?,
                    &to_i64(hlc.0)?,
                    &kind,
                    &key,
                    &actor,
                    &stored,
                    &&self.head.hash.0[..],
                    &&hash.0[..],
                    &message,
                    &&digest.0[..],
                    &false,
                    &codec,
                ],
            )
            .await?;
        self.head = Head { seq, hash, hlc };
        Ok(Receipt::appended(self.site, seq, hash, hlc, kind, key))
    }
}
