//! `draw …` and `bench draw` through the real binary.

mod common;

use common::{run_in, stdout_ok};
use std::path::Path;

/// `draw commit` of `s.snap`, its seed written to `seed.hex`.
fn commit(d: &Path) -> std::process::Output {
    run_in(
        d,
        &[
            "draw",
            "commit",
            "--snapshot",
            "s.snap",
            "--seed-file",
            "seed.hex",
        ],
    )
}

#[test]
fn bench_draw_json_has_the_figures() {
    let out = run_in(
        Path::new("."),
        &[
            "bench",
            "draw",
            "--invoices",
            "200000",
            "--rounds",
            "1",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout_ok(&out)).expect("json");
    assert_eq!(v["invoices"], 200_000);
    for k in ["match_s", "seq_read_s", "cloud_draw_s"] {
        assert!(v[k].as_f64().is_some_and(|x| x >= 0.0), "{k}");
    }
    // ~0.5 % of random numbers win something (sixth prizes dominate).
    let winners = v["winners"].as_u64().unwrap_or(0);
    assert!((500..2000).contains(&winners), "{winners}");
    // every eligible invoice wins when the tiers outnumber them
    assert_eq!(v["cloud_winners"], v["cloud_eligible"]);
    // DuckDB not requested: null, with a reason — never a made-up number
    assert!(v["duckdb_s"].is_null());
    assert!(v["duckdb_reason"].as_str().is_some());
}

#[test]
fn draw_commit_run_verify_report() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    stdout_ok(&run_in(
        d,
        &[
            "draw",
            "synth",
            "--invoices",
            "50000",
            "--out",
            "s.snap",
            "--period",
            "10802",
        ],
    ));
    let root = stdout_ok(&run_in(d, &["draw", "snapshot-digest", "s.snap"]));
    let c: serde_json::Value = serde_json::from_str(&stdout_ok(&commit(d))).expect("json");
    assert_eq!(c["snapshot_root"].as_str(), Some(root.trim()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("seed.hex"))
            .expect("seed")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // a seed file is never overwritten
    assert_ne!(commit(d).status.code(), Some(0));
    let commitment = c["commitment"].as_str().expect("commitment").to_string();
    // winning numbers of 10802 (a fact; written here rather than read from the fixtures)
    std::fs::write(
        d.join("numbers.json"),
        r#"{"period":"10802","special":"00106725","grand":"90819218","first":["13440631","26650552","09775722"],"additional_sixth":["809","264"]}"#,
    )
    .expect("numbers");
    let run = |out: &str, seed: &str| {
        run_in(
            d,
            &[
                "draw",
                "run",
                "--snapshot",
                "s.snap",
                "--numbers",
                "numbers.json",
                "--period",
                "10802",
                "--seed-file",
                seed,
                "--out",
                out,
                "--commitment",
                &commitment,
            ],
        )
    };
    stdout_ok(&run("a", "seed.hex"));
    stdout_ok(&run("b", "seed.hex"));
    for f in [
        "winners.csv",
        "winners.jsonl",
        "report.json",
        "manifest.json",
    ] {
        assert!(
            std::fs::read(d.join("a").join(f)).ok() == std::fs::read(d.join("b").join(f)).ok(),
            "{f} differs between runs"
        );
    }
    // a seed that does not open the published commitment
    std::fs::write(d.join("other.hex"), "11".repeat(32)).expect("seed");
    let bad = run("c", "other.hex");
    assert_ne!(bad.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("COMMITMENT_MISMATCH"));

    stdout_ok(&run_in(
        d,
        &[
            "draw",
            "verify",
            "--snapshot",
            "s.snap",
            "--out",
            "a",
            "--commitment",
            &commitment,
        ],
    ));
    let report: serde_json::Value = serde_json::from_str(&stdout_ok(&run_in(
        d,
        &["draw", "report", "--out", "a", "--json"],
    )))
    .expect("report");
    let lines = std::fs::read_to_string(d.join("a/winners.jsonl")).expect("jsonl");
    let sum: i64 = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("line")["amount"]
                .as_i64()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(report["total_amount"].as_i64(), Some(sum));
    assert!(stdout_ok(&run_in(d, &["draw", "report", "--dir", "a"])).contains("cloud_500"));

    // tamper with line 3 of winners.csv: verify exits 1 naming it
    let csv = std::fs::read_to_string(d.join("a/winners.csv")).expect("csv");
    let mut lines: Vec<String> = csv.lines().map(String::from).collect();
    lines[2].push('7');
    std::fs::write(d.join("a/winners.csv"), lines.join("\n") + "\n").expect("w");
    let v = run_in(d, &["draw", "verify", "--snapshot", "s.snap", "--out", "a"]);
    assert_eq!(v.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&v.stderr).contains("winners.csv line 3"),
        "{}",
        String::from_utf8_lossy(&v.stderr)
    );
}
