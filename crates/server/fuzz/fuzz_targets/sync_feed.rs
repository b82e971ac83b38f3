//! Sync feed pages (`GET /v1/sync/{origin}`), as a pulling site decodes them.
//!
//! Input: a selector byte, then the page. Selector odd: the rest is the
//! plain JSON-lines text, gzip-compressed here (so the fuzzer works on the
//! lines, not on gzip's checksums); even: the rest is the page's bytes as
//! received. Properties: an accepted page holds exactly `count` entries of
//! the header's origin in the current format, and re-encoding it decodes
//! to the same header and entries.
#![no_main]
use einvoice_sync::feed::{FEED_FORMAT, decode_page, encode_page};
use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let Some((sel, rest)) = data.split_first() else {
        return;
    };
    let page = if sel & 1 == 1 {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(rest).expect("gzip into memory");
        gz.finish().expect("gzip into memory")
    } else {
        rest.to_vec()
    };
    let Ok((header, entries)) = decode_page(&page) else {
        return;
    };
    assert_eq!(header.format, FEED_FORMAT);
    assert_eq!(entries.len() as u64, header.count);
    assert!(entries.iter().all(|e| e.origin == header.origin));
    let again = encode_page(&header, &entries).expect("an accepted page encodes");
    let (h2, e2) = decode_page(&again).expect("a re-encoded page decodes");
    assert_eq!(h2, header);
    assert_eq!(e2, entries);
});
