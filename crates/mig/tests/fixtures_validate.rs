//! The official MIG 4.1 samples against the core's rules.

use einvoice_core::{Rules, validate};
use einvoice_mig::decode_xml;
use std::path::PathBuf;

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

#[test]
fn consistent_samples_validate_in_sandbox_and_a0101_reports_its_tax() {
    let Some(dir) = fixtures("mig41") else { return };
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if !name.ends_with(".xml") {
            continue;
        }
        seen += 1;
        let msg = decode_xml(&std::fs::read(&path).expect("read")).expect("decodes");
        let verdict = validate(&msg, &Rules::sandbox());
        if name.starts_with("A0101") {
            // Fixtures README: TaxType 2 (zero-rated) with TaxAmount 875.
            let errs = verdict.expect_err("A0101 sample is known to be inconsistent");
            assert!(
                errs.iter()
                    .any(|v| v.code == "TAX_AMOUNT_MISMATCH" && v.field == "Amount/TaxAmount"),
                "{name}: {errs:?}"
            );
        } else {
            let ok = verdict.unwrap_or_else(|e| panic!("{name} should validate: {e:?}"));
            assert_eq!(ok.kind(), msg.kind());
        }
        // Production rules reject MOF's test identifiers by checksum.
        let prod = validate(&msg, &Rules::production()).expect_err("test UBNs fail in production");
        assert!(prod.has("UBN_CHECKSUM"), "{name}: {prod:?}");
    }
    assert!(seen >= 14);
}
