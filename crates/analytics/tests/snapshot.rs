//! The snapshot file and its Merkle root, recomputed here by hand from the
//! definition in `docs/DRAW.md` (no helper of the crate is used for hashing).

use einvoice_analytics::snapshot::{self, EligibleInvoice, Snapshot, SnapshotWriter};
use einvoice_analytics::synth;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::BufWriter;

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().expect("4"))
}
fn le64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().expect("8"))
}
fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// RFC 6962 §2.1, written out again.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    if leaves.is_empty() {
        return sha(&[]);
    }
    if leaves.len() == 1 {
        return leaves[0];
    }
    let mut k = 1;
    while k * 2 < leaves.len() {
        k *= 2;
    }
    sha(&[&[1u8], &mth(&leaves[..k]), &mth(&leaves[k..])])
}

/// The root from the raw file bytes, following the documented layout.
fn root_by_hand(file: &[u8]) -> [u8; 32] {
    assert_eq!(&file[..8], b"EINVSNAP");
    assert_eq!(le32(file, 8), 1);
    let rpl = u64::from(le32(file, 20));
    let rows = le64(file, 24);
    let leaves = le64(file, 32);
    let (c_off, c_len) = (le64(file, 48) as usize, le64(file, 56) as usize);
    let (n_off, n_len) = (le64(file, 72) as usize, le64(file, 80) as usize);
    let stride = (rpl * 19).div_ceil(64) * 64;
    let mut hashes = Vec::new();
    for i in 0..leaves {
        let r = (rows - i * rpl).min(rpl);
        let off = (128 + i * stride) as usize;
        hashes.push(sha(&[&[0u8], &file[off..off + 19 * r as usize]]));
    }
    sha(&[
        &[2u8],
        &file[..128],
        &sha(&[&file[c_off..c_off + c_len]]),
        &sha(&[&file[n_off..n_off + n_len]]),
        &mth(&hashes),
    ])
}

fn write(path: &std::path::Path, rpl: u32, rows: &[EligibleInvoice]) -> snapshot::SnapshotSummary {
    let f = File::create(path).expect("create");
    let mut w = SnapshotWriter::new(BufWriter::new(f), 11312, rpl).expect("writer");
    w.extend(rows).expect("rows");
    w.finish().expect("finish")
}

#[test]
fn root_matches_the_documented_definition() {
    let dir = tempfile::tempdir().expect("tmp");
    for (n, rpl) in [
        (0u64, 64u32),
        (1, 64),
        (64, 64),
        (65, 64),
        (1000, 128),
        (5000, 64),
    ] {
        let rows: Vec<_> = synth::invoices(n, 7 + n, synth::SynthMix::default()).collect();
        let p = dir.path().join(format!("s{n}-{rpl}.snap"));
        let sum = write(&p, rpl, &rows);
        let bytes = std::fs::read(&p).expect("read");
        assert_eq!(sum.root, root_by_hand(&bytes), "n={n} rpl={rpl}");
        let s = Snapshot::open(&p).expect("open");
        assert_eq!(s.rows(), n);
        for threads in [1, 2, 3] {
            assert_eq!(s.root(threads).expect("root"), sum.root);
        }
        // the columns read back
        let numbers = s.numbers(2).expect("numbers");
        let digits: Vec<u32> = (0..numbers.len())
            .filter_map(|i| numbers.digits(i))
            .collect();
        assert_eq!(digits, rows.iter().map(|r| r.number).collect::<Vec<_>>());
        let back = s
            .map_leaves(2, false, |l| {
                Ok((0..l.rows())
                    .map(|j| {
                        let t = snapshot::track_letters(l.track(j)).expect("track");
                        EligibleInvoice {
                            track: t,
                            number: l.number(j),
                            seller_ubn: l.seller(j),
                            carrier: s.carrier(l.carrier(j)).map(String::from),
                            npo: s.npo(l.npo(j)).map(String::from),
                            printed: l.flags(j) & snapshot::FLAG_PRINTED != 0,
                        }
                    })
                    .collect::<Vec<_>>())
            })
            .expect("leaves")
            .concat();
        assert_eq!(back, rows);
    }
}

#[test]
fn any_changed_byte_changes_the_root() {
    let dir = tempfile::tempdir().expect("tmp");
    let rows: Vec<_> = synth::invoices(300, 3, synth::SynthMix::default()).collect();
    let p = dir.path().join("a.snap");
    let sum = write(&p, 64, &rows);
    let bytes = std::fs::read(&p).expect("read");
    // a number in the third leaf, and a byte of the carrier dictionary
    let c_off = le64(&bytes, 48) as usize;
    let stride = 64 * 19;
    for at in [128 + 2 * stride + 5, c_off + 3] {
        let mut b = bytes.clone();
        b[at] ^= 1;
        std::fs::write(&p, &b).expect("write");
        let r = Snapshot::open(&p).and_then(|s| s.root(1));
        assert!(r.map_or(true, |r| r != sum.root), "byte {at}");
    }
}

#[test]
fn writer_rejects_bad_rows() {
    let inv = |track: [u8; 2], number: u32| EligibleInvoice {
        track,
        number,
        seller_ubn: 12345675,
        carrier: None,
        npo: None,
        printed: true,
    };
    let dir = tempfile::tempdir().expect("tmp");
    let mut w = SnapshotWriter::create(&dir.path().join("x"), 11312).expect("w");
    w.push(&inv(*b"AB", 5)).expect("first");
    for bad in [
        inv(*b"AB", 5),
        inv(*b"AA", 9),
        inv(*b"Ab", 9),
        inv(*b"AC", 100_000_000),
    ] {
        assert!(w.push(&bad).is_err(), "{bad:?}");
    }
    w.push(&inv(*b"AC", 1)).expect("later");
    assert_eq!(w.finish().expect("finish").rows, 2);
    std::fs::write(dir.path().join("y"), b"EINVSNAP").expect("w");
    assert!(Snapshot::open(&dir.path().join("y")).is_err());
}
