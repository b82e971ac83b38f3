//! Golden vectors of the ledger's entry hashes, v1 and v2 side by side.
//!
//! Each expected value is computed twice, independently of
//! `einvoice_store::hash_entry*`: once here, step by step with the `sha2`
//! crate from the byte layout documented on `hash_entry` / `hash_entry_v2`,
//! and once outside Rust (Python's `hashlib` over the same layout); the
//! literal hex below is the latter. A change to either format fails here.

use einvoice_store::{
    BODY_DIGEST_DOMAIN, EntryFormat, EntryHash, Hlc, LedgerEntry, body_digest, hash_entry,
    hash_entry_v2,
};
use sha2::{Digest, Sha256};

const PREV: EntryHash = EntryHash([0x11; 32]);
const ORIGIN: &str = "main";
const SEQ: u64 = 7;
const HLC: Hlc = Hlc(0x0001_8c2f_5a3b_0004);
const KIND: &str = "F0401";
const KEY: &str = "12345675/AB12345678";
const ACTOR: &str = "key:K1";
const BODY: &[u8] = br#"{"a":1}"#;

/// v1 entry hash of the vector above.
const V1_HASH: &str = "30d91f478840f9666723b92826892210ec3ddb647ef7071af7f354b6682b708a";
/// `SHA-256("einvoice/body/v2\0" ‖ {"a":1})`.
const V2_BODY_DIGEST: &str = "ce936e330135e91d7cd5d6d2db919f091c4d295475aed793a407a664f492827c";
/// `SHA-256("einvoice/body/v2\0")`: the digest of an empty body.
const V2_EMPTY_BODY_DIGEST: &str =
    "532b2cc903121973ff7c39e4c3c3cb79ed625fe6274f77e1b356d0d50a4745ca";
/// v2 entry hash of the vector above.
const V2_HASH: &str = "e398b2b915c0fb5ae7d4591674b391cf9a2ca273a97ebd4752c58e79aca77a28";

fn hex(s: &str) -> EntryHash {
    EntryHash::from_hex(s).expect("64 hex digits")
}

/// The header both formats share after their marker and the previous hash.
fn header(pre: &mut Vec<u8>) {
    pre.extend_from_slice(&PREV.0);
    pre.extend_from_slice(&4u32.to_be_bytes());
    pre.extend_from_slice(b"main");
    pre.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]);
    pre.extend_from_slice(&[0x00, 0x01, 0x8c, 0x2f, 0x5a, 0x3b, 0x00, 0x04]);
    pre.extend_from_slice(&5u32.to_be_bytes());
    pre.extend_from_slice(b"F0401");
    pre.extend_from_slice(&19u32.to_be_bytes());
    pre.extend_from_slice(b"12345675/AB12345678");
    pre.extend_from_slice(&6u32.to_be_bytes());
    pre.extend_from_slice(b"key:K1");
}

#[test]
fn v1_golden_vector() {
    let mut pre = b"einvoice-ledger-v1".to_vec();
    header(&mut pre);
    pre.extend_from_slice(&7u32.to_be_bytes());
    pre.extend_from_slice(BODY);
    let by_layout = EntryHash(Sha256::digest(&pre).into());
    assert_eq!(by_layout, hex(V1_HASH));
    assert_eq!(
        hash_entry(&PREV, ORIGIN, SEQ, HLC, KIND, KEY, ACTOR, BODY),
        hex(V1_HASH)
    );
}

#[test]
fn v2_golden_vector() {
    let mut d = b"einvoice/body/v2\0".to_vec();
    assert_eq!(d, BODY_DIGEST_DOMAIN);
    d.extend_from_slice(BODY);
    let digest_by_layout = EntryHash(Sha256::digest(&d).into());
    assert_eq!(digest_by_layout, hex(V2_BODY_DIGEST));
    assert_eq!(body_digest(BODY), hex(V2_BODY_DIGEST));
    assert_eq!(body_digest(b""), hex(V2_EMPTY_BODY_DIGEST));

    let mut pre = b"einvoice-ledger-v2".to_vec();
    header(&mut pre);
    pre.extend_from_slice(&digest_by_layout.0);
    let by_layout = EntryHash(Sha256::digest(&pre).into());
    assert_eq!(by_layout, hex(V2_HASH));
    assert_eq!(
        hash_entry_v2(
            &PREV,
            ORIGIN,
            SEQ,
            HLC,
            KIND,
            KEY,
            ACTOR,
            &hex(V2_BODY_DIGEST)
        ),
        hex(V2_HASH)
    );
    let e = LedgerEntry::new_v2(ORIGIN, SEQ, HLC, KIND, KEY, ACTOR, BODY.to_vec(), PREV);
    assert_eq!(
        (e.hash, e.body_digest, e.format()),
        (hex(V2_HASH), Some(hex(V2_BODY_DIGEST)), EntryFormat::V2)
    );
    // Withheld, the entry still hashes the same.
    let w = e.withheld_copy().expect("v2 can withhold");
    assert_eq!((w.computed_hash(), w.body.len()), (hex(V2_HASH), 0));
}

#[test]
fn v1_and_v2_never_agree_on_the_same_fields() {
    // Even with the v1 body field replaced by the digest, the marker differs.
    let digest = body_digest(BODY);
    assert_ne!(
        hash_entry(&PREV, ORIGIN, SEQ, HLC, KIND, KEY, ACTOR, &digest.0),
        hash_entry_v2(&PREV, ORIGIN, SEQ, HLC, KIND, KEY, ACTOR, &digest)
    );
}

#[test]
fn export_json_of_v1_entries_reads_as_v1_and_v2_round_trips() {
    let v1 = format!(
        r#"{{"origin":"main","seq":7,"hlc":{},"kind":"F0401","key":"{KEY}","actor":"key:K1","body":"7b2261223a317d","prev_hash":"{}","hash":"{V1_HASH}"}}"#,
        HLC.0, PREV
    );
    let e: LedgerEntry = serde_json::from_str(&v1).expect("a v1 export line");
    assert_eq!((e.format(), e.withheld), (EntryFormat::V1, false));
    assert_eq!(e.computed_hash(), e.hash);
    assert_eq!(
        serde_json::to_string(&e).expect("json"),
        v1,
        "v1 bytes unchanged"
    );

    let v2 = LedgerEntry::new_v2(ORIGIN, SEQ, HLC, KIND, KEY, ACTOR, BODY.to_vec(), PREV)
        .withheld_copy()
        .expect("v2");
    let json = serde_json::to_string(&v2).expect("json");
    assert!(json.contains(&format!(
        r#""body_digest":"{V2_BODY_DIGEST}","withheld":true"#
    )));
    let back: LedgerEntry = serde_json::from_str(&json).expect("back");
    assert_eq!(back, v2);
}
