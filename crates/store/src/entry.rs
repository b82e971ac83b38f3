//! Ledger entries, receipts, the hybrid logical clock and the entry hash.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 digest, shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EntryHash(pub [u8; 32]);

impl EntryHash {
    /// The hash before the first entry of every chain: 32 zero bytes.
    pub const GENESIS: EntryHash = EntryHash([0; 32]);

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 15)]));
        }
        s
    }

    /// Parse 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = u8::try_from(hi * 16 + lo).ok()?;
        }
        Some(Self(out))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Debug for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntryHash({})", self.to_hex())
    }
}

impl fmt::Display for EntryHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for EntryHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for EntryHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::from_hex(&s).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

/// A hybrid logical clock reading: milliseconds since the Unix epoch in the
/// high 48 bits, a logical counter in the low 16. Monotonic per site even if
/// the wall clock steps back.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Hlc(pub u64);

impl Hlc {
    /// The next reading after `last`, given the wall clock `now_ms`.
    pub fn tick(last: Hlc, now_ms: u64) -> Hlc {
        let physical = now_ms << 16;
        if physical > last.0 {
            Hlc(physical)
        } else {
            Hlc(last.0 + 1)
        }
    }

    /// The reading for a wall clock now.
    pub fn now_after(last: Hlc) -> Hlc {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX >> 16))
            .unwrap_or(0);
        Self::tick(last, now_ms)
    }
}

/// An entry to append that is not an invoice message: operator actions,
/// carrier registrations, draw events. `body` is canonical (compact JSON with
/// sorted keys, no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// Entry kind, e.g. `ADMIN`.
    pub kind: String,
    /// Natural key, e.g. `seller/12345675`.
    pub key: String,
    /// Who did it (`operator:alice`, `key:K1`, `system`).
    pub actor: String,
    /// Canonical body bytes.
    pub body: Vec<u8>,
}

/// The format of a ledger entry's hash: which bytes [`LedgerEntry::hash`]
/// commits to. Every entry appended today is [`EntryFormat::V2`]; chains
/// written before keep their [`EntryFormat::V1`] entries as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryFormat {
    /// [`hash_entry`]: the hash covers the body bytes; the body can never be withheld.
    V1,
    /// [`hash_entry_v2`]: the hash covers the body's [`body_digest`], so the
    /// body may be withheld and the chain still verifies.
    V2,
}

impl EntryFormat {
    /// The number stored in the ledger's `format` column (1 or 2).
    pub fn number(self) -> u8 {
        match self {
            EntryFormat::V1 => 1,
            EntryFormat::V2 => 2,
        }
    }
}

/// One link of a site's hash chain.
///
/// A v1 entry has `body_digest: None` and always carries its body. A v2
/// entry carries its [`body_digest`] and either its body or, when
/// `withheld`, an empty `body`: the chain still verifies (the hash commits
/// to the digest), but nothing can be projected from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The site that accepted it.
    pub origin: String,
    /// Gap-free sequence per origin, from 1.
    pub seq: u64,
    /// Hybrid logical clock at acceptance.
    pub hlc: Hlc,
    /// Message kind (`F0401`, ...) or event kind (`ADMIN`, ...).
    pub kind: String,
    /// Natural key string (see `NaturalKey::to_key_string`).
    pub key: String,
    /// Who submitted it.
    pub actor: String,
    /// Canonical body bytes (for messages: `einvoice_mig::canonical`);
    /// empty when `withheld`.
    #[serde(with = "body_b64")]
    pub body: Vec<u8>,
    /// Hash of the previous entry of this origin ([`EntryHash::GENESIS`] for seq 1).
    pub prev_hash: EntryHash,
    /// [`hash_entry`] (v1) or [`hash_entry_v2`] (v2) of this entry.
    pub hash: EntryHash,
    /// v2 entries: the [`body_digest`] the hash commits to; `None` marks a v1 entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_digest: Option<EntryHash>,
    /// The body is withheld at this copy of the ledger (v2 only): `body` is
    /// empty, `body_digest` still names it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub withheld: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl LedgerEntry {
    /// A new v2 entry continuing a chain whose head is `prev_hash`: the body
    /// digest and the entry hash computed here (what every append writes).
    #[allow(clippy::too_many_arguments)]
    pub fn new_v2(
        origin: &str,
        seq: u64,
        hlc: Hlc,
        kind: &str,
        key: &str,
        actor: &str,
        body: Vec<u8>,
        prev_hash: EntryHash,
    ) -> Self {
        let digest = body_digest(&body);
        let hash = hash_entry_v2(&prev_hash, origin, seq, hlc, kind, key, actor, &digest);
        Self {
            origin: origin.into(),
            seq,
            hlc,
            kind: kind.into(),
            key: key.into(),
            actor: actor.into(),
            body,
            prev_hash,
            hash,
            body_digest: Some(digest),
            withheld: false,
        }
    }

    /// The hash format of this entry (v2 exactly when it carries a body digest).
    pub fn format(&self) -> EntryFormat {
        if self.body_digest.is_some() {
            EntryFormat::V2
        } else {
            EntryFormat::V1
        }
    }

    /// The body, unless withheld.
    pub fn present_body(&self) -> Option<&[u8]> {
        (!self.withheld).then_some(self.body.as_slice())
    }

    /// Recompute this entry's hash from its fields: v1 over the body bytes,
    /// v2 over the stored body digest (whether or not the body is present;
    /// [`LedgerEntry::body_matches_digest`] checks a present body).
    pub fn computed_hash(&self) -> EntryHash {
        match &self.body_digest {
            None => hash_entry(
                &self.prev_hash,
                &self.origin,
                self.seq,
                self.hlc,
                &self.kind,
                &self.key,
                &self.actor,
                &self.body,
            ),
            Some(digest) => hash_entry_v2(
                &self.prev_hash,
                &self.origin,
                self.seq,
                self.hlc,
                &self.kind,
                &self.key,
                &self.actor,
                digest,
            ),
        }
    }

    /// Whether a present v2 body hashes to the stored digest (true for a
    /// withheld body and for v1 entries, whose hash covers the body itself).
    pub fn body_matches_digest(&self) -> bool {
        match (&self.body_digest, self.withheld) {
            (Some(d), false) => body_digest(&self.body) == *d,
            _ => true,
        }
    }

    /// This entry with its body withheld: the digest stays, the body goes.
    /// `None` for a v1 entry, whose hash needs the body itself.
    pub fn withheld_copy(&self) -> Option<LedgerEntry> {
        self.body_digest.map(|_| LedgerEntry {
            body: Vec::new(),
            withheld: true,
            ..self.clone()
        })
    }
}

mod body_b64 {
    //! Bodies travel as lowercase hex in JSON exports (simple, unambiguous).
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let mut out = String::with_capacity(b.len() * 2);
        for x in b {
            out.push_str(&format!("{x:02x}"));
        }
        s.serialize_str(&out)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        if s.len() % 2 != 0 {
            return Err(serde::de::Error::custom("odd hex length"));
        }
        (0..s.len())
            .step_by(2)
            .map(|i| {
                s.get(i..i + 2)
                    .and_then(|p| u8::from_str_radix(p, 16).ok())
                    .ok_or_else(|| serde::de::Error::custom("bad hex"))
            })
            .collect()
    }
}

/// What a client gets back for an accepted message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Accepting site.
    pub origin: String,
    /// Ledger sequence of the entry.
    pub seq: u64,
    /// Entry hash.
    pub hash: EntryHash,
    /// Hybrid logical clock of the entry.
    pub hlc: Hlc,
    /// Kind of the entry.
    pub kind: String,
    /// Natural key of the entry.
    pub key: String,
    /// True when this was an identical resubmission answered with the original receipt.
    pub duplicate: bool,
}

impl Receipt {
    /// The receipt of an entry appended now (not a duplicate).
    pub fn appended(
        origin: &str,
        seq: u64,
        hash: EntryHash,
        hlc: Hlc,
        kind: &str,
        key: &str,
    ) -> Self {
        Self {
            origin: origin.to_string(),
            seq,
            hash,
            hlc,
            kind: kind.to_string(),
            key: key.to_string(),
            duplicate: false,
        }
    }
}

impl LedgerEntry {
    /// This entry's receipt (not a duplicate).
    pub fn receipt(&self) -> Receipt {
        Receipt::appended(
            &self.origin,
            self.seq,
            self.hash,
            self.hlc,
            &self.kind,
            &self.key,
        )
    }
}

/// The entry hash: SHA-256 over the previous hash and the canonical entry
/// encoding. Every variable field is length-prefixed (u32 big-endian) so no
/// two different entries encode alike:
///
/// ```text
/// "einvoice-ledger-v1" ‖ prev_hash(32) ‖ u32 len ‖ origin ‖ u64 seq ‖ u64 hlc
///   ‖ u32 len ‖ kind ‖ u32 len ‖ key ‖ u32 len ‖ actor ‖ u32 len ‖ body
/// ```
///
/// (integers big-endian). Changing this breaks every existing chain: don't.
#[allow(clippy::too_many_arguments)]
pub fn hash_entry(
    prev: &EntryHash,
    origin: &str,
    seq: u64,
    hlc: Hlc,
    kind: &str,
    key: &str,
    actor: &str,
    body: &[u8],
) -> EntryHash {
    let mut h = header(
        b"einvoice-ledger-v1",
        prev,
        origin,
        seq,
        hlc,
        kind,
        key,
        actor,
    );
    length_prefixed(&mut h, body);
    EntryHash(h.finalize().into())
}

/// One variable field: its length (u32 big-endian), then its bytes.
fn length_prefixed(h: &mut Sha256, b: &[u8]) {
    let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
    h.update(len.to_be_bytes());
    h.update(b);
}

/// The hasher after the header both formats share: the format marker,
/// `prev_hash`, origin, seq, hlc, kind, key and actor.
#[allow(clippy::too_many_arguments)]
fn header(
    marker: &[u8],
    prev: &EntryHash,
    origin: &str,
    seq: u64,
    hlc: Hlc,
    kind: &str,
    key: &str,
    actor: &str,
) -> Sha256 {
    let mut h = Sha256::new();
    h.update(marker);
    h.update(prev.0);
    length_prefixed(&mut h, origin.as_bytes());
    h.update(seq.to_be_bytes());
    h.update(hlc.0.to_be_bytes());
    length_prefixed(&mut h, kind.as_bytes());
    length_prefixed(&mut h, key.as_bytes());
    length_prefixed(&mut h, actor.as_bytes());
    h
}

/// Domain separator of the v2 body digest (NUL-terminated, versioned).
pub const BODY_DIGEST_DOMAIN: &[u8] = b"einvoice/body/v2\0";

/// The v2 body digest: `SHA-256("einvoice/body/v2\0" ‖ body)`. What a v2
/// entry hash commits to instead of the body bytes, so a copy of the ledger
/// can withhold the body and still verify every link.
pub fn body_digest(body: &[u8]) -> EntryHash {
    let mut h = Sha256::new();
    h.update(BODY_DIGEST_DOMAIN);
    h.update(body);
    EntryHash(h.finalize().into())
}

/// The v2 entry hash: SHA-256 over a header that starts with its format
/// marker, so no v2 preimage equals a v1 one (`"einvoice-ledger-v1"`):
///
/// ```text
/// "einvoice-ledger-v2" ‖ prev_hash(32) ‖ u32 len ‖ origin ‖ u64 seq ‖ u64 hlc
///   ‖ u32 len ‖ kind ‖ u32 len ‖ key ‖ u32 len ‖ actor ‖ body_digest(32)
/// ```
///
/// (integers big-endian; `body_digest` is [`body_digest`] of the body, fixed
/// length). Changing this breaks every chain written since v2: don't.
#[allow(clippy::too_many_arguments)]
pub fn hash_entry_v2(
    prev: &EntryHash,
    origin: &str,
    seq: u64,
    hlc: Hlc,
    kind: &str,
    key: &str,
    actor: &str,
    body_digest: &EntryHash,
) -> EntryHash {
    let mut h = header(
        b"einvoice-ledger-v2",
        prev,
        origin,
        seq,
        hlc,
        kind,
        key,
        actor,
    );
    h.update(body_digest.0);
    EntryHash(h.finalize().into())
}

/// The ledger actor of an operator (`operator:<name>`): who an `ADMIN` entry,
/// a track allocation or a draw step is recorded as.
pub fn operator_actor(name: &str) -> String {
    format!("operator:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hlc_is_monotonic_when_the_clock_steps_back() {
        let a = Hlc::tick(Hlc(0), 1_000);
        let b = Hlc::tick(a, 900);
        let c = Hlc::tick(b, 2_000);
        assert!(a < b && b < c);
        assert_eq!(c, Hlc(2_000 << 16));
    }

    #[test]
    fn hash_hex_round_trip_and_length_prefix_separates_fields() {
        let h1 = hash_entry(
            &EntryHash::GENESIS,
            "main",
            1,
            Hlc(5),
            "F0401",
            "ab",
            "c",
            b"x",
        );
        let h2 = hash_entry(
            &EntryHash::GENESIS,
            "main",
            1,
            Hlc(5),
            "F0401",
            "a",
            "bc",
            b"x",
        );
        assert_ne!(h1, h2);
        assert_eq!(EntryHash::from_hex(&h1.to_hex()), Some(h1));
        assert_eq!(EntryHash::from_hex("zz"), None);
    }
}
