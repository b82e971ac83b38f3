//! The sync feed: what `GET /v1/sync/{origin}?after=SEQ&limit=N` answers.
//!
//! A page is **gzip over JSON lines** (`Content-Type: application/x-ndjson`,
//! `Content-Encoding: gzip`): the first line is a [`FeedHeader`] (format,
//! origin, `after`, the origin's head at the serving site, the number of
//! entries that follow); each further line is one
//! [`einvoice_store::LedgerEntry`] exactly as its serde form (so a withheld
//! body or a v2 digest is just a field of the entry). Entries are in
//! sequence order from `after + 1`, contiguous. JSON lines keep the feed
//! readable with `curl --compressed`; gzip takes the hex of the bodies back
//! to about their size.
//!
//! `GET /v1/sync/heads` answers [`Heads`] as plain JSON.

use crate::error::SyncError;
use einvoice_store::{LedgerEntry, OriginHead};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};

/// The feed format named in every header.
pub const FEED_FORMAT: &str = "einvoice-sync-1";
/// Content type of a feed page (before `Content-Encoding: gzip`).
pub const FEED_CONTENT_TYPE: &str = "application/x-ndjson";
/// Most entries one page may carry.
pub const MAX_PAGE: u32 = 10_000;
/// Most bytes a page may decompress to (a guard against a compression bomb).
pub const MAX_PAGE_BYTES: u64 = 256 * 1024 * 1024;

/// The first line of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedHeader {
    /// [`FEED_FORMAT`].
    pub format: String,
    /// The origin of every entry of the page.
    pub origin: String,
    /// The page holds entries `after + 1 ..= after + count`.
    pub after: u64,
    /// The origin's head at the serving site when the page was read.
    pub head: OriginHead,
    /// Entries that follow.
    pub count: u64,
}

/// Every origin a site holds, with its head (`GET /v1/sync/heads`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heads {
    /// The serving site.
    pub site: String,
    /// One head per origin, sorted by origin.
    pub heads: Vec<OriginHead>,
}

fn feed_err(e: impl std::fmt::Display) -> SyncError {
    SyncError::Feed(e.to_string())
}

/// Encode a page: the header, then one line per entry, gzip-compressed.
pub fn encode_page(header: &FeedHeader, entries: &[LedgerEntry]) -> Result<Vec<u8>, SyncError> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    serde_json::to_writer(&mut gz, header).map_err(feed_err)?;
    gz.write_all(b"\n").map_err(feed_err)?;
    for e in entries {
        serde_json::to_writer(&mut gz, e).map_err(feed_err)?;
        gz.write_all(b"\n").map_err(feed_err)?;
    }
    gz.finish().map_err(feed_err)
}

/// Decode a page and check its shape: the format, `count` lines, every entry
/// of the header's origin, at most [`MAX_PAGE_BYTES`] decompressed. (Links
/// are the caller's to check, with [`einvoice_store::ChainCheck`].)
pub fn decode_page(bytes: &[u8]) -> Result<(FeedHeader, Vec<LedgerEntry>), SyncError> {
    let mut lines = BufReader::new(GzDecoder::new(bytes).take(MAX_PAGE_BYTES + 1)).lines();
    let first = lines
        .next()
        .ok_or_else(|| feed_err("an empty page (no header line)"))?
        .map_err(feed_err)?;
    let header: FeedHeader =
        serde_json::from_str(&first).map_err(|e| feed_err(format!("header: {e}")))?;
    if header.format != FEED_FORMAT {
        return Err(feed_err(format!(
            "format {:?}, this site reads {FEED_FORMAT:?}",
            header.format
        )));
    }
    if header.count > u64::from(MAX_PAGE) {
        return Err(feed_err(format!(
            "a page of {} entries, at most {MAX_PAGE}",
            header.count
        )));
    }
    let mut entries = Vec::with_capacity(usize::try_from(header.count).unwrap_or(0));
    let mut total = u64::try_from(first.len()).unwrap_or(u64::MAX);
    for (i, line) in lines.enumerate() {
        let line = line.map_err(feed_err)?;
        total = total.saturating_add(u64::try_from(line.len()).unwrap_or(u64::MAX) + 1);
        if total > MAX_PAGE_BYTES {
            return Err(feed_err(format!(
                "the page decompresses to more than {MAX_PAGE_BYTES} bytes"
            )));
        }
        let e: LedgerEntry = serde_json::from_str(&line)
            .map_err(|e| feed_err(format!("entry line {}: {e}", i + 1)))?;
        if e.origin != header.origin {
            return Err(feed_err(format!(
                "entry line {} is of origin {:?} in a page of origin {:?}",
                i + 1,
                e.origin,
                header.origin
            )));
        }
        entries.push(e);
    }
    if u64::try_from(entries.len()).unwrap_or(u64::MAX) != header.count {
        return Err(feed_err(format!(
            "the header announces {} entries, the page holds {} (cut short?)",
            header.count,
            entries.len()
        )));
    }
    Ok((header, entries))
}

#[cfg(test)]
mod tests {
    use super::*;
    use einvoice_store::conformance::chain;
    use proptest::prelude::*;

    fn header(origin: &str, after: u64, count: usize) -> FeedHeader {
        FeedHeader {
            format: FEED_FORMAT.into(),
            origin: origin.into(),
            after,
            head: OriginHead::empty(origin),
            count: count as u64,
        }
    }

    proptest! {
        #[test]
        fn pages_round_trip(n in 0u64..20, bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 20)) {
            let mut c = chain("main", n);
            for (e, b) in c.iter_mut().zip(bodies) {
                e.body = b;
            }
            let bytes = encode_page(&header("main", 0, n as usize), &c).expect("encode");
            let (h, back) = decode_page(&bytes).expect("decode");
            prop_assert_eq!(h, header("main", 0, n as usize));
            prop_assert_eq!(back, c);
        }
    }

    #[test]
    fn a_short_or_foreign_page_is_refused() {
        let c = chain("main", 3);
        let cut = encode_page(&header("main", 0, 4), &c).expect("encode");
        let e = decode_page(&cut).expect_err("cut short");
        assert!(e.to_string().contains("announces 4 entries"), "{e}");
        let foreign = encode_page(&header("cloud-a", 0, 3), &c).expect("encode");
        let e = decode_page(&foreign).expect_err("foreign");
        assert!(e.to_string().contains("of origin \"main\""), "{e}");
        let e = decode_page(b"not gzip").expect_err("garbage");
        assert_eq!(e.code(), "SYNC_FEED");
    }
}
