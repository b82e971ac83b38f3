//! The period snapshot: a columnar file of the period's eligible invoices and
//! its Merkle root.
//!
//! Byte layout (all integers little-endian), specified for auditors in
//! `docs/DRAW.md`:
//!
//! * a 128-byte **header**: magic `EINVSNAP`, version 1, header length, period,
//!   rows per leaf, row count, leaf count, and the offsets, byte lengths and
//!   entry counts of the two dictionaries (carriers, love codes);
//! * the **leaves**: row groups of `rows_per_leaf` rows (65,536 by default; the
//!   last one may be shorter), each at a 64-byte aligned offset, each holding
//!   its `r` rows column by column: `number` u32 × r (the 8 digits), `seller`
//!   u32 × r (UBN), `carrier` u32 × r (dictionary index, `u32::MAX` = none),
//!   `npo` u32 × r (love-code dictionary index, `u32::MAX` = not donated),
//!   `track` u16 × r (`(A−'A')·26 + (B−'A')`), `flags` u8 × r (bit 0: printed);
//! * the **dictionaries**: carriers then love codes, each a run of entries
//!   `u16 length ‖ UTF-8 bytes`, indices by first appearance in row order.
//!
//! Rows are sorted by (track, number, seller): the order is stable and the
//! same for every site. The root is
//! `SHA-256(0x02 ‖ header ‖ SHA-256(carrier dictionary) ‖ SHA-256(love-code dictionary) ‖ MTH(leaves))`
//! with the RFC 6962 Merkle tree hash `MTH` over leaf hashes
//! `SHA-256(0x00 ‖ leaf bytes)` and nodes `SHA-256(0x01 ‖ left ‖ right)`.

use crate::HotColumn;
use crate::error::{Error, Result, io};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File magic.
pub const MAGIC: [u8; 8] = *b"EINVSNAP";
/// Format version written and read.
pub const VERSION: u32 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = 128;
/// Default rows per leaf (Merkle leaf and row group).
pub const DEFAULT_ROWS_PER_LEAF: u32 = 65_536;
/// Bytes per row across all columns.
pub const ROW_BYTES: u64 = 19;
/// Index value meaning "no carrier" / "not donated".
pub const NONE: u32 = u32::MAX;
/// Flag bit: a proof (證明聯) was printed, so the invoice is not a cloud invoice.
pub const FLAG_PRINTED: u8 = 1;

/// One eligible invoice of a period (B2C, not cancelled or voided, dated inside
/// the period) as the site feeds it to [`SnapshotWriter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibleInvoice {
    /// Track letters, two ASCII capitals.
    pub track: [u8; 2],
    /// The 8 digits, 0..=99,999,999.
    pub number: u32,
    /// Seller UBN as a number (8 digits).
    pub seller_ubn: u32,
    /// Carrier as `type:id` (e.g. `3J0002:/ABC1234`), if the invoice is on one.
    pub carrier: Option<String>,
    /// Love code (NPOBAN) the invoice was donated to, if any.
    pub npo: Option<String>,
    /// Whether a proof was printed (then it is not a cloud invoice).
    pub printed: bool,
}

/// Encode two track letters as `0..676`.
pub fn track_index(t: [u8; 2]) -> Option<u16> {
    let ok = |b: u8| b.is_ascii_uppercase();
    (ok(t[0]) && ok(t[1])).then(|| u16::from(t[0] - b'A') * 26 + u16::from(t[1] - b'A'))
}

/// Decode a track index back to its letters.
pub fn track_letters(i: u16) -> Option<[u8; 2]> {
    (i < 676).then(|| [b'A' + (i / 26) as u8, b'A' + (i % 26) as u8])
}

/// Lower-case hex of bytes.
pub fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(char::from(H[usize::from(x >> 4)]));
        s.push(char::from(H[usize::from(x & 15)]));
    }
    s
}

/// Parse exactly 32 bytes of hex.
pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    let s = s.trim().as_bytes();
    if s.len() != 64 {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = nib(s[2 * i])? << 4 | nib(s[2 * i + 1])?;
    }
    Some(out)
}

fn align64(x: u64) -> u64 {
    x.div_ceil(64) * 64
}

/// The decoded 128-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Period key, e.g. 11312.
    pub period: u32,
    /// Rows per leaf (a multiple of 64).
    pub rows_per_leaf: u32,
    /// Rows in the file.
    pub rows: u64,
    /// Leaves in the file.
    pub leaves: u64,
    /// Carrier dictionary: offset, bytes, entries.
    pub carriers: (u64, u64, u64),
    /// Love-code dictionary: offset, bytes, entries.
    pub npos: (u64, u64, u64),
}

impl Header {
    /// The 128 header bytes as stored.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..8].copy_from_slice(&MAGIC);
        h[8..12].copy_from_slice(&VERSION.to_le_bytes());
        h[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        h[16..20].copy_from_slice(&self.period.to_le_bytes());
        h[20..24].copy_from_slice(&self.rows_per_leaf.to_le_bytes());
        let words = [
            self.rows,
            self.leaves,
            HEADER_LEN as u64,
            self.carriers.0,
            self.carriers.1,
            self.carriers.2,
            self.npos.0,
            self.npos.1,
            self.npos.2,
        ];
        for (i, w) in words.iter().enumerate() {
            h[24 + 8 * i..32 + 8 * i].copy_from_slice(&w.to_le_bytes());
        }
        h
    }

    fn decode(h: &[u8; HEADER_LEN]) -> Result<Self> {
        let u32_at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let u64_at = |o: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[o..o + 8]);
            u64::from_le_bytes(b)
        };
        if h[0..8] != MAGIC {
            return Err(Error::Format("not a snapshot (bad magic)".into()));
        }
        if u32_at(8) != VERSION {
            return Err(Error::Format(format!(
                "version {} is not supported (this build reads {VERSION})",
                u32_at(8)
            )));
        }
        if u32_at(12) as usize != HEADER_LEN || u64_at(40) != HEADER_LEN as u64 {
            return Err(Error::Format("bad header length".into()));
        }
        if h[96..].iter().any(|&b| b != 0) {
            return Err(Error::Format("reserved header bytes are not zero".into()));
        }
        Ok(Self {
            period: u32_at(16),
            rows_per_leaf: u32_at(20),
            rows: u64_at(24),
            leaves: u64_at(32),
            carriers: (u64_at(48), u64_at(56), u64_at(64)),
            npos: (u64_at(72), u64_at(80), u64_at(88)),
        })
    }

    /// Distance between the starts of two leaves.
    pub fn leaf_stride(&self) -> u64 {
        align64(u64::from(self.rows_per_leaf) * ROW_BYTES)
    }

    /// Byte offset of leaf `i`.
    pub fn leaf_offset(&self, i: u64) -> u64 {
        HEADER_LEN as u64 + i * self.leaf_stride()
    }

    /// First row and row count of leaf `i`.
    pub fn leaf_rows(&self, i: u64) -> (u64, usize) {
        let first = i * u64::from(self.rows_per_leaf);
        let r = self
            .rows
            .saturating_sub(first)
            .min(u64::from(self.rows_per_leaf));
        (first, r as usize)
    }

    /// Where the leaves end and the carrier dictionary must start.
    fn expected_carriers_offset(&self) -> u64 {
        if self.leaves == 0 {
            return HEADER_LEN as u64;
        }
        let (_, r) = self.leaf_rows(self.leaves - 1);
        align64(self.leaf_offset(self.leaves - 1) + r as u64 * ROW_BYTES)
    }
}

/// Leaf hash: `SHA-256(0x00 ‖ leaf bytes)`.
pub fn leaf_hash(bytes: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(bytes);
    h.finalize().into()
}

/// RFC 6962 Merkle tree hash over leaf hashes (`SHA-256("")` when empty).
pub fn merkle_tree_hash(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = (n - 1).checked_ilog2().map_or(1, |b| 1usize << b);
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(merkle_tree_hash(&leaves[..k]));
            h.update(merkle_tree_hash(&leaves[k..]));
            h.finalize().into()
        }
    }
}

/// The snapshot root from its parts.
pub fn snapshot_root(
    header: &[u8; HEADER_LEN],
    carriers: &[u8],
    npos: &[u8],
    leaves: &[[u8; 32]],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([2u8]);
    h.update(header);
    h.update(Sha256::digest(carriers));
    h.update(Sha256::digest(npos));
    h.update(merkle_tree_hash(leaves));
    h.finalize().into()
}

#[derive(Default)]
struct Dict {
    index: HashMap<String, u32>,
    bytes: Vec<u8>,
}

impl Dict {
    fn intern(&mut self, s: &str, row: u64) -> Result<u32> {
        if let Some(&i) = self.index.get(s) {
            return Ok(i);
        }
        let len = u16::try_from(s.len())
            .ok()
            .filter(|&l| l > 0)
            .ok_or_else(|| Error::Record {
                row,
                message: "dictionary entries are 1 to 65,535 bytes".into(),
            })?;
        let i = u32::try_from(self.index.len())
            .ok()
            .filter(|&i| i != NONE)
            .ok_or_else(|| Error::Record {
                row,
                message: "dictionary full".into(),
            })?;
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes.extend_from_slice(s.as_bytes());
        self.index.insert(s.to_string(), i);
        Ok(i)
    }
}

#[derive(Default)]
struct LeafBuf {
    numbers: Vec<u32>,
    sellers: Vec<u32>,
    carriers: Vec<u32>,
    npos: Vec<u32>,
    tracks: Vec<u16>,
    flags: Vec<u8>,
}

impl LeafBuf {
    fn encode(&self, out: &mut Vec<u8>) {
        out.clear();
        for col in [&self.numbers, &self.sellers, &self.carriers, &self.npos] {
            for v in col.iter() {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        for v in &self.tracks {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.flags);
    }
    fn clear(&mut self) {
        self.numbers.clear();
        self.sellers.clear();
        self.carriers.clear();
        self.npos.clear();
        self.tracks.clear();
        self.flags.clear();
    }
}

/// What a finished snapshot is: its root and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotSummary {
    /// Merkle root.
    pub root: [u8; 32],
    /// Rows written.
    pub rows: u64,
    /// Leaves written.
    pub leaves: u64,
}

/// Streams eligible invoices, sorted by (track, number, seller), into a
/// snapshot file; the root is computed while writing.
pub struct SnapshotWriter<W: Write + Seek> {
    out: W,
    label: PathBuf,
    header: Header,
    cur: LeafBuf,
    carriers: Dict,
    npos: Dict,
    last: Option<(u16, u32, u32)>,
    leaf_hashes: Vec<[u8; 32]>,
    scratch: Vec<u8>,
    written: u64,
}

impl SnapshotWriter<BufWriter<File>> {
    /// Create `path` (truncating it) for period `period` (e.g. 11312).
    pub fn create(path: &Path, period: u32) -> Result<Self> {
        let f = File::create(path).map_err(io(path))?;
        let mut w = Self::new(
            BufWriter::with_capacity(1 << 20, f),
            period,
            DEFAULT_ROWS_PER_LEAF,
        )?;
        w.label = path.to_path_buf();
        Ok(w)
    }
}

impl<W: Write + Seek> SnapshotWriter<W> {
    /// Start a snapshot on `out` with leaves of `rows_per_leaf` rows (a
    /// positive multiple of 64).
    pub fn new(mut out: W, period: u32, rows_per_leaf: u32) -> Result<Self> {
        if rows_per_leaf == 0 || !rows_per_leaf.is_multiple_of(64) {
            return Err(Error::Input(
                "rows per leaf must be a positive multiple of 64".into(),
            ));
        }
        let label = PathBuf::from("<snapshot>");
        let header = Header {
            period,
            rows_per_leaf,
            rows: 0,
            leaves: 0,
            carriers: (0, 0, 0),
            npos: (0, 0, 0),
        };
        out.write_all(&[0u8; HEADER_LEN]).map_err(io(&label))?;
        Ok(Self {
            out,
            label,
            header,
            cur: LeafBuf::default(),
            carriers: Dict::default(),
            npos: Dict::default(),
            last: None,
            leaf_hashes: Vec::new(),
            scratch: Vec::new(),
            written: HEADER_LEN as u64,
        })
    }

    /// Append one invoice; it must sort strictly after the previous one.
    pub fn push(&mut self, inv: &EligibleInvoice) -> Result<()> {
        let row = self.header.rows;
        let bad = |message: String| Error::Record { row, message };
        let track = track_index(inv.track)
            .ok_or_else(|| bad("the track is two capital letters A-Z".into()))?;
        if inv.number >= 100_000_000 {
            return Err(bad("the number has more than 8 digits".into()));
        }
        if inv.seller_ubn >= 100_000_000 {
            return Err(bad("the seller UBN has more than 8 digits".into()));
        }
        let key = (track, inv.number, inv.seller_ubn);
        if self.last.is_some_and(|l| l >= key) {
            return Err(bad(
                "rows must be sorted by (track, number, seller) without duplicates".into(),
            ));
        }
        let carrier = match &inv.carrier {
            Some(c) => self.carriers.intern(c, row)?,
            None => NONE,
        };
        let npo = match &inv.npo {
            Some(n) => self.npos.intern(n, row)?,
            None => NONE,
        };
        self.last = Some(key);
        self.cur.numbers.push(inv.number);
        self.cur.sellers.push(inv.seller_ubn);
        self.cur.carriers.push(carrier);
        self.cur.npos.push(npo);
        self.cur.tracks.push(track);
        self.cur
            .flags
            .push(if inv.printed { FLAG_PRINTED } else { 0 });
        self.header.rows += 1;
        if self.cur.numbers.len() == self.header.rows_per_leaf as usize {
            self.flush_leaf()?;
        }
        Ok(())
    }

    /// Append every invoice of an iterator.
    pub fn extend<'a>(&mut self, it: impl IntoIterator<Item = &'a EligibleInvoice>) -> Result<()> {
        it.into_iter().try_for_each(|inv| self.push(inv))
    }

    fn pad_to(&mut self, to: u64) -> Result<()> {
        let pad = to - self.written;
        self.out
            .write_all(&vec![0u8; pad as usize])
            .map_err(io(&self.label))?;
        self.written = to;
        Ok(())
    }

    fn flush_leaf(&mut self) -> Result<()> {
        if self.cur.numbers.is_empty() {
            return Ok(());
        }
        let at = self.header.leaf_offset(self.header.leaves);
        self.pad_to(at)?;
        self.cur.encode(&mut self.scratch);
        self.out.write_all(&self.scratch).map_err(io(&self.label))?;
        self.written += self.scratch.len() as u64;
        self.leaf_hashes.push(leaf_hash(&self.scratch));
        self.header.leaves += 1;
        self.cur.clear();
        Ok(())
    }

    /// Write the last leaf, the dictionaries and the header; return the root.
    pub fn finish(mut self) -> Result<SnapshotSummary> {
        self.flush_leaf()?;
        let c_off = align64(self.written);
        self.pad_to(c_off)?;
        let carriers = std::mem::take(&mut self.carriers.bytes);
        let npos = std::mem::take(&mut self.npos.bytes);
        self.out.write_all(&carriers).map_err(io(&self.label))?;
        self.written += carriers.len() as u64;
        let n_off = align64(self.written);
        self.pad_to(n_off)?;
        self.out.write_all(&npos).map_err(io(&self.label))?;
        self.header.carriers = (
            c_off,
            carriers.len() as u64,
            self.carriers.index.len() as u64,
        );
        self.header.npos = (n_off, npos.len() as u64, self.npos.index.len() as u64);
        let h = self.header.encode();
        self.out.seek(SeekFrom::Start(0)).map_err(io(&self.label))?;
        self.out.write_all(&h).map_err(io(&self.label))?;
        self.out.flush().map_err(io(&self.label))?;
        Ok(SnapshotSummary {
            root: snapshot_root(&h, &carriers, &npos, &self.leaf_hashes),
            rows: self.header.rows,
            leaves: self.header.leaves,
        })
    }
}

/// Write a whole snapshot file from an iterator; returns its summary.
pub fn write_snapshot(
    path: &Path,
    period: u32,
    invoices: impl IntoIterator<Item = EligibleInvoice>,
) -> Result<SnapshotSummary> {
    let mut w = SnapshotWriter::create(path, period)?;
    for inv in invoices {
        w.push(&inv)?;
    }
    w.finish()
}

/// One leaf's bytes, read by column.
#[derive(Debug, Clone, Copy)]
pub struct LeafView<'a> {
    bytes: &'a [u8],
    rows: usize,
    /// Row index of the leaf's first row.
    pub first_row: u64,
}

impl<'a> LeafView<'a> {
    fn u32_at(&self, col: usize, j: usize) -> u32 {
        let o = col * 4 * self.rows + 4 * j;
        let b = &self.bytes[o..o + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    /// Rows in the leaf.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// The numbers column's bytes.
    pub fn number_bytes(&self) -> &'a [u8] {
        &self.bytes[..4 * self.rows]
    }
    /// Row `j`'s 8 digits.
    pub fn number(&self, j: usize) -> u32 {
        self.u32_at(0, j)
    }
    /// Row `j`'s seller UBN.
    pub fn seller(&self, j: usize) -> u32 {
        self.u32_at(1, j)
    }
    /// Row `j`'s carrier index ([`NONE`] if none).
    pub fn carrier(&self, j: usize) -> u32 {
        self.u32_at(2, j)
    }
    /// Row `j`'s love-code index ([`NONE`] if not donated).
    pub fn npo(&self, j: usize) -> u32 {
        self.u32_at(3, j)
    }
    /// Row `j`'s track index.
    pub fn track(&self, j: usize) -> u16 {
        let o = 16 * self.rows + 2 * j;
        u16::from_le_bytes([self.bytes[o], self.bytes[o + 1]])
    }
    /// Row `j`'s flags.
    pub fn flags(&self, j: usize) -> u8 {
        self.bytes[18 * self.rows + j]
    }
}

/// An open snapshot file: header and dictionaries in memory, leaves read on
/// demand (so a 1.3-billion-row file needs only the columns a step uses).
#[derive(Debug)]
pub struct Snapshot {
    path: PathBuf,
    header: Header,
    header_bytes: [u8; HEADER_LEN],
    carrier_bytes: Vec<u8>,
    npo_bytes: Vec<u8>,
    carriers: Vec<String>,
    npos: Vec<String>,
}

fn parse_dict(bytes: &[u8], count: u64, what: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < bytes.len() {
        let len = bytes
            .get(i..i + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or_else(|| Error::Format(format!("{what} dictionary truncated")))?;
        let s = bytes
            .get(i + 2..i + 2 + len)
            .ok_or_else(|| Error::Format(format!("{what} dictionary truncated")))?;
        out.push(
            String::from_utf8(s.to_vec())
                .map_err(|_| Error::Format(format!("{what} dictionary is not UTF-8")))?,
        );
        i += 2 + len;
    }
    if out.len() as u64 != count {
        return Err(Error::Format(format!(
            "{what} dictionary has {} entries, header says {count}",
            out.len()
        )));
    }
    Ok(out)
}

impl Snapshot {
    /// Open and check a snapshot file's structure (not yet its root).
    pub fn open(path: &Path) -> Result<Self> {
        let mut f = File::open(path).map_err(io(path))?;
        let len = f.metadata().map_err(io(path))?.len();
        let mut hb = [0u8; HEADER_LEN];
        f.read_exact(&mut hb)
            .map_err(|_| Error::Format("file shorter than the header".into()))?;
        let header = Header::decode(&hb)?;
        let rpl = u64::from(header.rows_per_leaf);
        if rpl == 0 || !rpl.is_multiple_of(64) {
            return Err(Error::Format(
                "rows per leaf must be a positive multiple of 64".into(),
            ));
        }
        if header.leaves != header.rows.div_ceil(rpl) {
            return Err(Error::Format("leaf count does not match row count".into()));
        }
        let (co, cb, cn) = header.carriers;
        let (no, nb, nn) = header.npos;
        if co != header.expected_carriers_offset()
            || no != align64(co.saturating_add(cb))
            || no.saturating_add(nb) != len
        {
            return Err(Error::Format(
                "section offsets do not match the file length".into(),
            ));
        }
        let read = |f: &mut File, off: u64, n: u64| -> Result<Vec<u8>> {
            let mut b = vec![0u8; n as usize];
            f.seek(SeekFrom::Start(off)).map_err(io(path))?;
            f.read_exact(&mut b).map_err(io(path))?;
            Ok(b)
        };
        let carrier_bytes = read(&mut f, co, cb)?;
        let npo_bytes = read(&mut f, no, nb)?;
        Ok(Self {
            path: path.to_path_buf(),
            header,
            header_bytes: hb,
            carriers: parse_dict(&carrier_bytes, cn, "carrier")?,
            npos: parse_dict(&npo_bytes, nn, "love code")?,
            carrier_bytes,
            npo_bytes,
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }
    /// Period key, e.g. 11312.
    pub fn period(&self) -> u32 {
        self.header.period
    }
    /// Rows (eligible invoices).
    pub fn rows(&self) -> u64 {
        self.header.rows
    }
    /// Carrier text of a dictionary index.
    pub fn carrier(&self, i: u32) -> Option<&str> {
        self.carriers.get(i as usize).map(String::as_str)
    }
    /// Love code of a dictionary index.
    pub fn npo(&self, i: u32) -> Option<&str> {
        self.npos.get(i as usize).map(String::as_str)
    }

    /// Run `f` on every leaf, the leaves split into `threads` contiguous runs;
    /// results come back in leaf order. `number_only` reads only the numbers
    /// column of each leaf.
    pub fn map_leaves<T, F>(&self, threads: usize, number_only: bool, f: F) -> Result<Vec<T>>
    where
        T: Send,
        F: Fn(LeafView<'_>) -> Result<T> + Sync,
    {
        let leaves = self.header.leaves;
        let threads = (threads.clamp(1, 64) as u64).min(leaves.max(1));
        let per = leaves.div_ceil(threads).max(1);
        let f = &f;
        let runs: Vec<Result<Vec<T>>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || -> Result<Vec<T>> {
                        let (lo, hi) = (t * per, ((t + 1) * per).min(leaves));
                        let mut out = Vec::new();
                        if lo >= hi {
                            return Ok(out);
                        }
                        let mut file = File::open(&self.path).map_err(io(&self.path))?;
                        let mut buf = Vec::new();
                        for i in lo..hi {
                            let (first_row, r) = self.header.leaf_rows(i);
                            let n = if number_only { 4 * r } else { 19 * r };
                            buf.resize(n, 0);
                            file.seek(SeekFrom::Start(self.header.leaf_offset(i)))
                                .map_err(io(&self.path))?;
                            file.read_exact(&mut buf).map_err(io(&self.path))?;
                            out.push(f(LeafView {
                                bytes: &buf,
                                rows: r,
                                first_row,
                            })?);
                        }
                        Ok(out)
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::Format("a reader thread panicked".into())))
                })
                .collect()
        });
        let mut all = Vec::with_capacity(leaves as usize);
        for r in runs {
            all.extend(r?);
        }
        Ok(all)
    }

    /// Recompute the Merkle root from the file's bytes.
    pub fn root(&self, threads: usize) -> Result<[u8; 32]> {
        self.root_with(threads, &|| {})
    }

    /// [`Self::root`], calling `tick` after each leaf (for progress bars).
    pub fn root_with(&self, threads: usize, tick: &(dyn Fn() + Sync)) -> Result<[u8; 32]> {
        let leaves = self.map_leaves(threads, false, |l| {
            let h = leaf_hash(l.bytes);
            tick();
            Ok(h)
        })?;
        Ok(snapshot_root(
            &self.header_bytes,
            &self.carrier_bytes,
            &self.npo_bytes,
            &leaves,
        ))
    }

    /// The numbers column as the match reads it ([`HotColumn`]: 4 bytes a
    /// row, contiguous), read on `threads` threads; fails on a value above
    /// 99,999,999.
    pub fn numbers(&self, threads: usize) -> Result<HotColumn> {
        let h = self.header;
        let rpl = h.rows_per_leaf as usize;
        let mut out = vec![0u32; h.rows as usize];
        let threads = (threads.clamp(1, 64) as u64).min(h.leaves.max(1));
        let per = h.leaves.div_ceil(threads).max(1);
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let hs: Vec<_> = out
                .chunks_mut((per as usize) * rpl)
                .enumerate()
                .map(|(t, run)| {
                    s.spawn(move || -> Result<()> {
                        let mut file = File::open(&self.path).map_err(io(&self.path))?;
                        let mut buf = Vec::new();
                        for (k, dst) in run.chunks_mut(rpl).enumerate() {
                            let i = t as u64 * per + k as u64;
                            buf.resize(4 * dst.len(), 0);
                            file.seek(SeekFrom::Start(h.leaf_offset(i)))
                                .map_err(io(&self.path))?;
                            file.read_exact(&mut buf).map_err(io(&self.path))?;
                            let mut max = 0;
                            for (d, b) in dst.iter_mut().zip(buf.chunks_exact(4)) {
                                let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                                max = max.max(v);
                                *d = HotColumn::encode(v);
                            }
                            if max >= 100_000_000 {
                                return Err(Error::Format(format!(
                                    "a number above 8 digits in leaf {i}"
                                )));
                            }
                        }
                        Ok(())
                    })
                })
                .collect();
            hs.into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::Format("a reader thread panicked".into())))
                })
                .collect()
        });
        results.into_iter().collect::<Result<()>>()?;
        // Every leaf was range-checked above.
        Ok(HotColumn::from_checked_words(out))
    }
}
