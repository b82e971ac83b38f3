//! The append-only, hash-chained security event log.
//!
//! Each record is `seq` (gap-free from 1), the previous record's hash
//! ([`GENESIS`] for seq 1) and its own hash:
//!
//! ```text
//! SHA-256( "einvoice-soc-event-v1\0" ‖ prev ‖ seq (u64 BE) ‖ time_ms (u64 BE)
//!          ‖ lp(class) ‖ severity id (u8) ‖ lp(actor kind) ‖ lp(actor id)
//!          ‖ lp(src or "") ‖ lp(target) ‖ lp(outcome)
//!          ‖ attr count (u32 BE) ‖ for each attr in key order: lp(key) ‖ lp(value) )
//! ```
//!
//! where `lp(x)` is `x`'s length as a u32 BE followed by its bytes — the
//! ledger's style (`einvoice_store::entry`): domain-separated, versioned,
//! length-prefixed, so no two different events encode alike.
//! [`verify_records`] names the first broken link.

use crate::event::{AttrValue, SecurityEvent};
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Mutex;

/// Domain separator and version of the record hash.
pub const RECORD_DOMAIN: &[u8] = b"einvoice-soc-event-v1\0";

/// The hash before the first record: 32 zero bytes.
pub const GENESIS: [u8; 32] = [0; 32];

/// One link of the event chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Gap-free sequence from 1.
    pub seq: u64,
    /// The previous record's hash (hex), [`GENESIS`] for seq 1.
    #[serde(with = "hex32")]
    pub prev_hash: [u8; 32],
    /// [`hash_record`] of this record (hex).
    #[serde(with = "hex32")]
    pub hash: [u8; 32],
    /// The event.
    pub event: SecurityEvent,
}

impl EventRecord {
    /// A record continuing a chain whose head is `prev_hash`.
    pub fn new(seq: u64, prev_hash: [u8; 32], event: SecurityEvent) -> Self {
        let hash = hash_record(&prev_hash, seq, &event);
        Self {
            seq,
            prev_hash,
            hash,
            event,
        }
    }
}

mod hex32 {
    pub fn serialize<S: serde::Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::hex(v))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        crate::unhex(&s)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

fn lp(h: &mut Sha256, b: &[u8]) {
    // Labels are ≤128 bytes and addresses short: the length always fits.
    h.update(u32::try_from(b.len()).unwrap_or(u32::MAX).to_be_bytes());
    h.update(b);
}

/// The record hash (see the module docs for the encoding).
pub fn hash_record(prev: &[u8; 32], seq: u64, e: &SecurityEvent) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(RECORD_DOMAIN);
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(e.time_ms.to_be_bytes());
    lp(&mut h, e.class.name().as_bytes());
    h.update([e.severity.id()]);
    let actor = e.actor.key();
    let (kind, id) = actor.split_once(':').unwrap_or((actor.as_str(), ""));
    lp(&mut h, kind.as_bytes());
    lp(&mut h, id.as_bytes());
    lp(
        &mut h,
        e.src.map(|a| a.to_string()).unwrap_or_default().as_bytes(),
    );
    lp(&mut h, e.target.as_str().as_bytes());
    lp(&mut h, e.outcome.name().as_bytes());
    h.update(
        u32::try_from(e.attrs.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    for (k, v) in &e.attrs {
        lp(&mut h, k.name().as_bytes());
        // The type is part of the value: 1 and "1" differ.
        let tagged = match v {
            AttrValue::Int(i) => format!("i:{i}"),
            AttrValue::Bool(b) => format!("b:{b}"),
            AttrValue::Text(t) => format!("t:{t}"),
        };
        lp(&mut h, tagged.as_bytes());
    }
    h.finalize().into()
}

/// Errors of the event log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The chain does not verify; `seq` is the first record that is wrong
    /// (or missing).
    #[error("soc.chain_broken: record {seq}: {reason}")]
    Broken {
        /// The first broken link.
        seq: u64,
        /// What is wrong with it.
        reason: BrokenReason,
    },
    /// The SQLite file.
    #[error("soc.sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored event did not decode.
    #[error("soc.decode: record {seq}: {message}")]
    Decode {
        /// The record.
        seq: u64,
        /// The decoder's message.
        message: String,
    },
    /// A lock was poisoned by a panicking writer.
    #[error("soc.poisoned: the event log's lock was poisoned")]
    Poisoned,
}

/// Why a link is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokenReason {
    /// A sequence number is missing or out of place.
    Gap,
    /// `prev_hash` does not name the previous record's hash.
    PrevMismatch,
    /// The stored hash is not the hash of the record's content.
    HashMismatch,
    /// The stored event does not decode.
    Undecodable,
    /// The record does not match a head anchored elsewhere (missing, or
    /// another hash): the tail was cut or rewritten.
    Anchor,
}

impl std::fmt::Display for BrokenReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BrokenReason::Gap => "sequence gap",
            BrokenReason::PrevMismatch => "previous hash does not match",
            BrokenReason::HashMismatch => "hash does not match the content",
            BrokenReason::Undecodable => "event does not decode",
            BrokenReason::Anchor => "does not match the anchored head",
        })
    }
}

/// Check one link: `r` should be record `expect` following `prev`; its hash.
fn check_link(expect: u64, prev: &[u8; 32], r: &EventRecord) -> Result<[u8; 32], LogError> {
    if r.seq != expect {
        return Err(LogError::Broken {
            seq: expect,
            reason: BrokenReason::Gap,
        });
    }
    if r.prev_hash != *prev {
        return Err(LogError::Broken {
            seq: r.seq,
            reason: BrokenReason::PrevMismatch,
        });
    }
    if hash_record(&r.prev_hash, r.seq, &r.event) != r.hash {
        return Err(LogError::Broken {
            seq: r.seq,
            reason: BrokenReason::HashMismatch,
        });
    }
    Ok(r.hash)
}

/// Verify a chain from seq 1: `Ok(head hash)` or the first broken link.
pub fn verify_records<'a>(
    records: impl IntoIterator<Item = &'a EventRecord>,
) -> Result<[u8; 32], LogError> {
    let mut prev = GENESIS;
    for (r, expect) in records.into_iter().zip(1u64..) {
        prev = check_link(expect, &prev, r)?;
    }
    Ok(prev)
}

/// An append-only event log. Appends are serialised; each returns the record
/// it wrote.
pub trait EventLog: Send + Sync {
    /// Append one event at the head.
    fn append(&self, event: SecurityEvent) -> Result<EventRecord, LogError>;
    /// Append several events in order, atomically where the backend can
    /// (SQLite: one transaction, so a busy site pays one commit per batch).
    fn append_all(&self, events: Vec<SecurityEvent>) -> Result<Vec<EventRecord>, LogError> {
        events.into_iter().map(|e| self.append(e)).collect()
    }
    /// Records with `seq >= from`, at most `limit`, in order.
    fn read(&self, from: u64, limit: usize) -> Result<Vec<EventRecord>, LogError>;
    /// The head: `(last seq, its hash)`, `(0, GENESIS)` when empty.
    fn head(&self) -> Result<(u64, [u8; 32]), LogError>;
    /// Re-hash every record from 1: the first broken link, or the head hash.
    fn verify(&self) -> Result<[u8; 32], LogError>;
}

/// Verify the chain and that it still holds an anchored head `(seq, hash)`
/// (one recorded elsewhere earlier, e.g. in the ledger or a receipt): the
/// chain alone cannot show that its tail was cut or its last records
/// rewritten. Returns the current head hash.
pub fn verify_anchored<L: EventLog + ?Sized>(
    log: &L,
    anchor_seq: u64,
    anchor_hash: &[u8; 32],
) -> Result<[u8; 32], LogError> {
    let head = log.verify()?;
    if anchor_seq == 0 {
        return Ok(head);
    }
    match log.read(anchor_seq, 1)?.first() {
        Some(r) if r.seq == anchor_seq && r.hash == *anchor_hash => Ok(head),
        _ => Err(LogError::Broken {
            seq: anchor_seq,
            reason: BrokenReason::Anchor,
        }),
    }
}

/// The in-memory log (tests, and a site without a data directory).
#[derive(Debug, Default)]
pub struct MemoryLog {
    records: Mutex<Vec<EventRecord>>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// A log holding these records as they are (e.g. read back from a JSON
    /// lines export); [`EventLog::verify`] then checks them.
    pub fn from_records(records: Vec<EventRecord>) -> Self {
        Self {
            records: Mutex::new(records),
        }
    }

    /// Every record (a copy).
    pub fn records(&self) -> Result<Vec<EventRecord>, LogError> {
        Ok(self.records.lock().map_err(|_| LogError::Poisoned)?.clone())
    }
}

impl EventLog for MemoryLog {
    fn append(&self, event: SecurityEvent) -> Result<EventRecord, LogError> {
        let mut g = self.records.lock().map_err(|_| LogError::Poisoned)?;
        let (seq, prev) = g.last().map(|r| (r.seq, r.hash)).unwrap_or((0, GENESIS));
        let r = EventRecord::new(seq + 1, prev, event);
        g.push(r.clone());
        Ok(r)
    }

    fn read(&self, from: u64, limit: usize) -> Result<Vec<EventRecord>, LogError> {
        let g = self.records.lock().map_err(|_| LogError::Poisoned)?;
        Ok(g.iter()
            .filter(|r| r.seq >= from)
            .take(limit)
            .cloned()
            .collect())
    }

    fn head(&self) -> Result<(u64, [u8; 32]), LogError> {
        let g = self.records.lock().map_err(|_| LogError::Poisoned)?;
        Ok(g.last().map(|r| (r.seq, r.hash)).unwrap_or((0, GENESIS)))
    }

    fn verify(&self) -> Result<[u8; 32], LogError> {
        let g = self.records.lock().map_err(|_| LogError::Poisoned)?;
        verify_records(g.iter())
    }
}

/// The SQLite log: `soc.sqlite` in a directory, WAL, one table
/// `soc_events(seq PRIMARY KEY, prev_hash, hash, event JSON)`.
#[derive(Debug)]
pub struct SqliteLog {
    conn: Mutex<rusqlite::Connection>,
    dir: std::path::PathBuf,
}

/// A stored row: the record, or the seq that does not decode.
type Row = Result<EventRecord, (u64, BrokenReason)>;

/// The file name under the data directory.
pub const SQLITE_FILE: &str = "soc.sqlite";

impl SqliteLog {
    /// Open (creating) `dir/soc.sqlite`.
    pub fn open(dir: &Path) -> Result<Self, LogError> {
        let conn = rusqlite::Connection::open(dir.join(SQLITE_FILE))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS soc_events (
                seq INTEGER PRIMARY KEY,
                prev_hash BLOB NOT NULL,
                hash BLOB NOT NULL,
                event TEXT NOT NULL
            ) STRICT;",
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
            dir: dir.to_owned(),
        })
    }

    /// The directory holding `soc.sqlite`.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn decode_row(
        seq: i64,
        prev: Vec<u8>,
        hash: Vec<u8>,
        event: String,
    ) -> Result<EventRecord, (u64, BrokenReason)> {
        let seq = u64::try_from(seq).unwrap_or(0);
        let bad = |_| (seq, BrokenReason::Undecodable);
        let prev_hash: [u8; 32] = prev
            .try_into()
            .map_err(|_| (seq, BrokenReason::Undecodable))?;
        let hash: [u8; 32] = hash
            .try_into()
            .map_err(|_| (seq, BrokenReason::Undecodable))?;
        let event: SecurityEvent = serde_json::from_str(&event).map_err(bad)?;
        Ok(EventRecord {
            seq,
            prev_hash,
            hash,
            event,
        })
    }

    fn rows(conn: &rusqlite::Connection, from: u64, limit: usize) -> Result<Vec<Row>, LogError> {
        let mut st = conn.prepare_cached(
            "SELECT seq, prev_hash, hash, event FROM soc_events WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
        )?;
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = st.query_map(rusqlite::params![from, limit], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, prev, hash, event) = row?;
            out.push(Self::decode_row(seq, prev, hash, event));
        }
        Ok(out)
    }
}

impl SqliteLog {
    fn append_tx(&self, events: Vec<SecurityEvent>) -> Result<Vec<EventRecord>, LogError> {
        let mut conn = self.conn.lock().map_err(|_| LogError::Poisoned)?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let head: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT seq, hash FROM soc_events ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (mut seq, mut prev) = match head {
            None => (0, GENESIS),
            Some((s, h)) => {
                let s = u64::try_from(s).unwrap_or(0);
                let h: [u8; 32] = h.try_into().map_err(|_| LogError::Broken {
                    seq: s,
                    reason: BrokenReason::Undecodable,
                })?;
                (s, h)
            }
        };
        let mut out = Vec::with_capacity(events.len());
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO soc_events (seq, prev_hash, hash, event) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for event in events {
                let r = EventRecord::new(seq + 1, prev, event);
                let json = serde_json::to_string(&r.event).map_err(|e| LogError::Decode {
                    seq: r.seq,
                    message: e.to_string(),
                })?;
                st.execute(rusqlite::params![
                    i64::try_from(r.seq).unwrap_or(i64::MAX),
                    &r.prev_hash[..],
                    &r.hash[..],
                    json
                ])?;
                seq = r.seq;
                prev = r.hash;
                out.push(r);
            }
        }
        tx.commit()?;
        Ok(out)
    }
}

impl EventLog for SqliteLog {
    fn append(&self, event: SecurityEvent) -> Result<EventRecord, LogError> {
        self.append_tx(vec![event])?.pop().ok_or(LogError::Poisoned)
    }

    fn append_all(&self, events: Vec<SecurityEvent>) -> Result<Vec<EventRecord>, LogError> {
        self.append_tx(events)
    }

    fn read(&self, from: u64, limit: usize) -> Result<Vec<EventRecord>, LogError> {
        let conn = self.conn.lock().map_err(|_| LogError::Poisoned)?;
        Self::rows(&conn, from, limit)?
            .into_iter()
            .map(|r| {
                r.map_err(|(seq, _)| LogError::Decode {
                    seq,
                    message: "stored event does not decode".into(),
                })
            })
            .collect()
    }

    fn head(&self) -> Result<(u64, [u8; 32]), LogError> {
        let conn = self.conn.lock().map_err(|_| LogError::Poisoned)?;
        let head: Option<(i64, Vec<u8>)> = conn
            .query_row(
                "SELECT seq, hash FROM soc_events ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(match head {
            None => (0, GENESIS),
            Some((s, h)) => (
                u64::try_from(s).unwrap_or(0),
                h.try_into().unwrap_or(GENESIS),
            ),
        })
    }

    fn verify(&self) -> Result<[u8; 32], LogError> {
        let conn = self.conn.lock().map_err(|_| LogError::Poisoned)?;
        let mut prev = GENESIS;
        let mut next = 1u64;
        loop {
            let page = Self::rows(&conn, next, 1000)?;
            if page.is_empty() {
                return Ok(prev);
            }
            // Verify this page in order, continuing from the previous one.
            let mut expect = next;
            for r in page {
                let r = r.map_err(|(seq, reason)| LogError::Broken { seq, reason })?;
                prev = check_link(expect, &prev, &r)?;
                expect += 1;
            }
            next = expect;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::*;

    fn base() -> SecurityEvent {
        SecurityEvent::new(
            EventClass::Lookup,
            Severity::Low,
            1,
            Actor::App(Label::new("A").unwrap_or_else(|e| panic!("{e}"))),
            Some("192.0.2.1".parse().unwrap_or_else(|e| panic!("{e}"))),
            Label::new("t").unwrap_or_else(|e| panic!("{e}")),
            Outcome::Success,
        )
    }

    #[test]
    fn every_field_is_committed_to() {
        let l = |s: &str| Label::new(s).unwrap_or_else(|e| panic!("{e}"));
        let h = |e: &SecurityEvent| hash_record(&GENESIS, 1, e);
        let b = base();
        let variants: Vec<SecurityEvent> = vec![
            SecurityEvent {
                class: EventClass::Replay,
                ..b.clone()
            },
            SecurityEvent {
                severity: Severity::High,
                ..b.clone()
            },
            SecurityEvent {
                time_ms: 2,
                ..b.clone()
            },
            SecurityEvent {
                actor: Actor::ApiKey(l("A")),
                ..b.clone()
            },
            SecurityEvent {
                actor: Actor::App(l("B")),
                ..b.clone()
            },
            SecurityEvent {
                src: None,
                ..b.clone()
            },
            SecurityEvent {
                target: l("u"),
                ..b.clone()
            },
            SecurityEvent {
                outcome: Outcome::Failure,
                ..b.clone()
            },
            b.clone().with_int(AttrKey::Count, 1),
            b.clone()
                .with_text(AttrKey::Count, "1")
                .unwrap_or_else(|e| panic!("{e}")),
            b.clone()
                .with_text(AttrKey::Reason, "1")
                .unwrap_or_else(|e| panic!("{e}")),
        ];
        let mut seen = std::collections::BTreeSet::new();
        seen.insert(h(&b));
        for v in &variants {
            assert!(seen.insert(h(v)), "{v:?} hashes like another event");
        }
        assert_ne!(
            hash_record(&GENESIS, 2, &b),
            h(&b),
            "the seq is committed to"
        );
        assert_ne!(
            hash_record(&[1; 32], 1, &b),
            h(&b),
            "the previous hash is committed to"
        );
    }
}
