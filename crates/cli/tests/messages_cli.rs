//! The `validate`, `convert` and `prize` commands, run as a user runs them.

mod common;

use common::{assert_success, bin};
use std::path::PathBuf;

fn fixtures() -> Option<PathBuf> {
    let base = std::env::var_os("EINVOICE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
        });
    if base.join("mig41").is_dir() {
        Some(base)
    } else {
        eprintln!(
            "skipped: fixtures not found at {}; set EINVOICE_FIXTURES",
            base.display()
        );
        None
    }
}

fn lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn validate_json_reports_each_file_and_exit_status() {
    let Some(fx) = fixtures() else { return };
    let good = fx.join("mig41/F0401-KZ10000010-b2c-mobile-carrier.xml");
    let bad = fx.join("mig41/A0101-AA10000000-b2b-exchange.xml");
    let out = bin()
        .args(["validate", "--sandbox", "--json"])
        .arg(&good)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let v = lines(&out);
    assert_eq!(v[0]["message"], "F0401");
    assert_eq!(v[0]["valid"], true);
    assert_eq!(v[0]["errors"], serde_json::json!([]));

    let out = bin()
        .args(["validate", "--sandbox", "--json"])
        .arg(&good)
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let v = lines(&out);
    assert_eq!(v.len(), 2);
    assert_eq!(v[1]["message"], "A0101");
    assert_eq!(v[1]["valid"], false);
    let codes: Vec<&str> = v[1]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["code"].as_str())
        .collect();
    assert!(codes.contains(&"TAX_AMOUNT_MISMATCH"), "{codes:?}");
    assert!(v[1]["errors"][0]["field"].is_string() && v[1]["errors"][0]["message"].is_string());

    // Without --sandbox, MOF's test UBNs fail their checksum.
    let out = bin()
        .args(["validate", "--json"])
        .arg(&good)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("UBN_CHECKSUM"));

    // An unreadable file: exit 2.
    let out = bin()
        .args(["validate", "--json", "/nonexistent/x.xml"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn validate_reports_decode_errors_with_codes() {
    let dir = std::env::temp_dir().join(format!("einvoice-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let p = dir.join("dtd.xml");
    std::fs::write(
        &p,
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><Invoice/>",
    )
    .expect("write");
    let out = bin()
        .args(["validate", "--json"])
        .arg(&p)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let v = lines(&out);
    assert_eq!(v[0]["message"], serde_json::Value::Null);
    assert_eq!(v[0]["errors"][0]["code"], "XML_DTD_FORBIDDEN");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn convert_round_trips_through_json() {
    let Some(fx) = fixtures() else { return };
    let src = fx.join("mig41/G0401-ALW10000003-b2b-allowance.xml");
    let out = bin()
        .arg("convert")
        .arg(&src)
        .args(["--to", "json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["message"], "G0401");
    assert_eq!(json["Main"]["AllowanceNumber"], "ALW10000003");
    let dir = std::env::temp_dir().join(format!("einvoice-conv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let j = dir.join("a.json");
    std::fs::write(&j, &out.stdout).expect("write");
    let back = bin()
        .arg("convert")
        .arg(&j)
        .args(["--to", "xml"])
        .output()
        .expect("run");
    assert_eq!(back.status.code(), Some(0));
    let xml = String::from_utf8_lossy(&back.stdout);
    assert!(xml.contains("urn:GEINV:eInvoiceMessage:G0401:4.1"));
    assert!(xml.contains("<AllowanceNumber>ALW10000003</AllowanceNumber>"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn prize_uses_the_real_10802_numbers() {
    let Some(fx) = fixtures() else { return };
    let numbers = fx.join("winning-numbers.json");
    // Period 10802 (from the fixture): special 00106725, grand 90819218,
    // first 13440631 / 26650552 / 09775722, additional sixth 809 / 264.
    let out = bin()
        .args(["prize", "--period", "10802", "--json", "--numbers"])
        .arg(&numbers)
        .args([
            "AB00106725",
            "CD90819218",
            "EF13440631",
            "GH03440631",
            "IJ99999631",
            "KL12345809",
            "MN11111111",
        ])
        .output()
        .expect("run");
    assert_success(&out);
    let v = lines(&out);
    let got: Vec<(String, serde_json::Value, i64)> = v
        .iter()
        .map(|o| {
            (
                o["number"].as_str().unwrap_or("").to_string(),
                o["prize"].clone(),
                o["amount"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    let want = [
        ("AB00106725", serde_json::json!("special"), 10_000_000),
        ("CD90819218", serde_json::json!("grand"), 2_000_000),
        ("EF13440631", serde_json::json!("first"), 200_000),
        ("GH03440631", serde_json::json!("second"), 40_000),
        ("IJ99999631", serde_json::json!("sixth"), 200),
        ("KL12345809", serde_json::json!("additional_sixth"), 200),
        ("MN11111111", serde_json::Value::Null, 0),
    ];
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.0.as_str(), &g.1, g.2), (w.0, &w.1, w.2));
    }
}

#[test]
fn proof_prints_barcode_and_qr_texts_and_writes_svgs() {
    let Some(fx) = fixtures() else { return };
    let src = fx.join("mig41/F0401-KZ10000010-b2c-mobile-carrier.xml");
    let dir = std::env::temp_dir().join(format!("einvoice-proof-{}", std::process::id()));
    let out = bin()
        .arg("proof")
        .arg(&src)
        .args(["--qr-passphrase", "24634102", "--json", "--svg"])
        .arg(&dir)
        .output()
        .expect("run");
    assert_success(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let bar = v["barcode"].as_str().expect("barcode");
    // Invoice KZ10000010 dated 2024-12-01: period 11312.
    assert!(bar.starts_with("11312KZ10000010"), "{bar}");
    assert_eq!(bar.len(), 19);
    let left = v["qr_left"].as_str().expect("left");
    assert!(left.starts_with("KZ100000101131201"), "{left}");
    assert!(v["qr_right"].as_str().expect("right").starts_with("**"));
    for f in ["barcode.svg", "qr-left.svg", "qr-right.svg"] {
        let svg = std::fs::read_to_string(dir.join(f)).expect("svg written");
        assert!(svg.contains("<svg"), "{f}");
    }
    std::fs::remove_dir_all(&dir).ok();
    // The same key as hex gives the same texts.
    let again = bin()
        .arg("proof")
        .arg(&src)
        .args(["--qr-key", "FE05F029154F6AA67A78B338ED2F6601", "--json"])
        .output()
        .expect("run");
    assert_eq!(again.stdout, out.stdout);
}
