//! `bench peak`: a small run through the gateway (main, two clouds, the
//! gateway as processes; cloud-a killed -9 and restarted) prints the one
//! JSON object of the issue and exits 0 having done real work; a run whose
//! carrier queries find no invoice exits non-zero.

mod common;

use common::bin;
use serde_json::Value;
use std::process::Output;

fn bench_peak(extra: &[&str]) -> Output {
    let mut cmd = bin();
    cmd.args([
        "bench",
        "peak",
        "--json",
        "--rate",
        "20",
        "--duration",
        "4",
        "--burst-seconds",
        "0.5",
        "--invoices",
        "300",
    ]);
    cmd.args(extra);
    cmd.output().expect("run einvoice bench peak")
}

fn report(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("null")).unwrap_or(Value::Null)
}

#[test]
fn a_small_draw_day_reports_each_class_and_checks_its_real_work() {
    let out = bench_peak(&[]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let r = report(&out);
    assert_eq!(out.status.code(), Some(0), "{r}\n{err}");
    // Exactly one JSON object on standard output, of the shape.
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    let mut keys: Vec<&str> = r
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "cached_winning_list_per_s",
            "classes",
            "gateway_overhead_p50_ms",
            "killed_site"
        ]
    );
    assert_eq!(r["killed_site"], "cloud-a");
    let classes = r["classes"].as_array().expect("classes");
    assert_eq!(classes.len(), 2, "{r}");
    for (c, want) in classes.iter().zip([1, 2]) {
        assert_eq!(c["class"], want, "{r}");
        let mut ks: Vec<&str> = c
            .as_object()
            .expect("class")
            .keys()
            .map(String::as_str)
            .collect();
        ks.sort_unstable();
        assert_eq!(
            ks,
            [
                "achieved_per_s",
                "class",
                "errors",
                "p50_ms",
                "p99_ms",
                "shed",
                "success_rate",
                "target_per_s"
            ]
        );
        assert!(c["achieved_per_s"].as_f64().expect("rate") > 0.0, "{r}");
        assert!(c["success_rate"].as_f64().expect("success") > 0.5, "{r}");
    }
    assert_eq!(classes[0]["target_per_s"], 15.0);
    assert_eq!(classes[1]["target_per_s"], 5.0);
    assert!(r["cached_winning_list_per_s"].as_f64().expect("burst") > 0.0);
    assert!(r["gateway_overhead_p50_ms"].is_number());
    // The real work it saw, on standard error.
    assert!(err.contains("issuance receipts"), "{err}");
    assert!(!err.contains("nothing real was measured"), "{err}");
}

#[test]
fn carrier_queries_that_find_no_invoice_fail_the_run() {
    let out = bench_peak(&["--empty-carrier"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the carrier queries returned no invoice: nothing real was measured"),
        "{err}"
    );
    // The rest of the report is still printed.
    assert!(report(&out)["classes"].is_array());
}
