//! The official MIG 4.1 samples and the retired MIG 3.x C0401 files.

use einvoice_mig::{canonical, decode_json, decode_xml, encode_json, encode_xml};
use std::path::PathBuf;

/// The fixtures folder, or `None` (with a printed reason) when it is missing.
fn fixtures(sub: &str) -> Option<PathBuf> {
    let base = std::env::var_os("EINVOICE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
        });
    let dir = base.join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: fixtures not found at {}; set EINVOICE_FIXTURES",
            dir.display()
        );
        None
    }
}

fn files(dir: &PathBuf) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_mig41_sample_decodes_and_round_trips() {
    let Some(dir) = fixtures("mig41") else { return };
    let all = files(&dir);
    assert!(all.len() >= 14, "expected the 14 official samples");
    for path in all {
        let bytes = std::fs::read(&path).expect("read");
        let msg = decode_xml(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        assert!(
            name.starts_with(msg.kind().as_str()),
            "{name} decoded as {}",
            msg.kind()
        );
        let via_xml = decode_xml(&encode_xml(&msg)).expect("xml round trip");
        assert_eq!(via_xml, msg, "{name}: XML round trip");
        let via_json = decode_json(&encode_json(&msg)).expect("json round trip");
        assert_eq!(via_json, msg, "{name}: JSON round trip");
        assert_eq!(canonical(&via_json), canonical(&msg));
        // Re-indenting the document changes no canonical byte.
        let squashed: String = String::from_utf8(bytes.clone())
            .expect("utf8")
            .lines()
            .map(str::trim)
            .collect();
        let again = decode_xml(squashed.as_bytes()).expect("squashed decodes");
        assert_eq!(canonical(&again), canonical(&msg), "{name}: whitespace");
    }
}

#[test]
fn samples_carry_the_values_a_reader_sees() {
    let Some(dir) = fixtures("mig41") else { return };
    let bytes = std::fs::read(dir.join("F0401-KZ10000010-b2c-mobile-carrier.xml")).expect("read");
    let einvoice_core::Message::F0401(inv) = decode_xml(&bytes).expect("decode") else {
        panic!("not an F0401")
    };
    assert_eq!(inv.main.invoice_number, "KZ10000010");
    assert_eq!(inv.main.invoice_date, "20241201");
    assert_eq!(inv.main.seller.identifier, "90000011");
    assert_eq!(inv.main.seller.name, "測試公司");
    // The E0402 sample has a tab inside a value: values are trimmed.
    let e0402 = std::fs::read(dir.join("E0402-branch-track-blank.xml")).expect("read");
    let msg = decode_xml(&e0402).expect("decode");
    let json = String::from_utf8(encode_json(&msg)).expect("utf8");
    assert!(!json.contains('\t'), "{json}");
}

#[test]
fn legacy_mig3_c0401_is_rejected_as_retired() {
    let Some(dir) = fixtures("legacy-c0401") else {
        return;
    };
    let all = files(&dir);
    assert!(!all.is_empty());
    for path in all {
        let bytes = std::fs::read(&path).expect("read");
        let err = decode_xml(&bytes).expect_err("MIG 3.x must not decode");
        assert_eq!(err.code, "MIG3_RETIRED", "{}: {err}", path.display());
    }
}
