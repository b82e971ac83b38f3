//! Upload archives (`POST /v1/uploads`): any bytes into `read_archive`.
//!
//! Input: a selector byte, then the rest. Selector even: the rest is the
//! upload as received. Selector odd: the rest describes files
//! (`name length`, name, `method`, `content length` as two bytes little
//! endian, content; repeated), zipped here with the zip crate, so the fuzzer
//! works on names and contents rather than on ZIP checksums.
//!
//! Properties, under small limits: an accepted archive holds between one and
//! `max_entries` files, each a flat, portable name ending in `.xml` and
//! within the per-file limit, names unique, sizes adding up within the total;
//! reading is deterministic. An archive zipped here is read back as exactly
//! the files written, and one of plain unique `.xml` names within the limits
//! is never refused.
#![no_main]
use einvoice_server::uploads::{ArchiveLimits, MAX_NAME_BYTES, read_archive};
use libfuzzer_sys::fuzz_target;
use std::collections::HashSet;
use std::io::{Cursor, Write};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

const LIMITS: ArchiveLimits = ArchiveLimits {
    max_entries: 8,
    max_entry_bytes: 16 * 1024,
    max_total_bytes: 32 * 1024,
    max_ratio: 200,
};

/// The files described by `rest` (see the module comment); a description
/// cut short ends the list.
fn files_of(mut rest: &[u8]) -> Vec<(Vec<u8>, bool, Vec<u8>)> {
    let mut files = Vec::new();
    while let Some((&n, tail)) = rest.split_first() {
        let n = usize::from(n);
        if tail.len() < n + 3 {
            break;
        }
        let name = tail[..n].to_vec();
        let deflate = tail[n] & 1 == 1;
        let len = usize::from(u16::from_le_bytes([tail[n + 1], tail[n + 2]]));
        let body = &tail[n + 3..];
        let len = len.min(body.len());
        files.push((name, deflate, body[..len].to_vec()));
        rest = &body[len..];
    }
    files
}

/// A plain name: ASCII letters and digits, then `.xml`.
fn plain(name: &[u8]) -> bool {
    name.len() > 4
        && name.len() <= MAX_NAME_BYTES
        && name.ends_with(b".xml")
        && name[..name.len() - 4].iter().all(u8::is_ascii_alphanumeric)
}

fn check_accepted(files: &[einvoice_server::uploads::ArchiveFile]) {
    assert!(!files.is_empty() && files.len() <= LIMITS.max_entries);
    let mut names = HashSet::new();
    let mut total = 0u64;
    for f in files {
        let n = &f.name;
        assert!(names.insert(n.clone()), "duplicate name {n:?} accepted");
        assert!(!n.is_empty() && n.len() <= MAX_NAME_BYTES, "{n:?}");
        assert!(
            !n.contains(['/', '\\', ':']) && !n.chars().any(char::is_control),
            "unsafe name {n:?} accepted"
        );
        assert!(n.len() > 4 && n[n.len() - 4..].eq_ignore_ascii_case(".xml"), "{n:?}");
        assert!(f.bytes.len() as u64 <= LIMITS.max_entry_bytes, "{n:?} too large");
        total += f.bytes.len() as u64;
    }
    assert!(total <= LIMITS.max_total_bytes, "total {total} accepted");
}

fuzz_target!(|data: &[u8]| {
    let Some((sel, rest)) = data.split_first() else {
        return;
    };
    if sel & 1 == 0 {
        let got = read_archive(rest, &LIMITS);
        if let Ok(files) = &got {
            check_accepted(files);
        }
        assert_eq!(read_archive(rest, &LIMITS), got, "reading is deterministic");
        return;
    }
    let wanted = files_of(rest);
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, deflate, body) in &wanted {
        let method = if *deflate {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        };
        let opts = SimpleFileOptions::default().compression_method(method);
        // The writer takes names as text; one it refuses ends the test case.
        let Ok(name) = std::str::from_utf8(name) else {
            return;
        };
        if w.start_file(name, opts).is_err() {
            return;
        }
        w.write_all(body).expect("zip into memory");
    }
    let Ok(zipped) = w.finish() else {
        return;
    };
    let zipped = zipped.into_inner();
    let got = read_archive(&zipped, &LIMITS);
    if let Ok(files) = &got {
        check_accepted(files);
        assert_eq!(files.len(), wanted.len());
        for (f, (name, _, body)) in files.iter().zip(&wanted) {
            assert_eq!(f.name.as_bytes(), name.as_slice(), "name read back");
            assert_eq!(&f.bytes, body, "{}: content read back", f.name);
        }
    }
    let mut seen = HashSet::new();
    let honest = !wanted.is_empty()
        && wanted.len() <= LIMITS.max_entries
        && wanted.iter().all(|(n, _, _)| plain(n) && seen.insert(n.to_ascii_lowercase()))
        && wanted
            .iter()
            .all(|(_, _, b)| b.len() as u64 <= LIMITS.max_entry_bytes)
        && wanted.iter().map(|(_, _, b)| b.len() as u64).sum::<u64>() <= LIMITS.max_total_bytes;
    if honest {
        assert!(got.is_ok(), "an honest archive refused: {got:?}");
    }
});
