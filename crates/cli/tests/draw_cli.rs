//! `bench draw` prints the figures the issue asks for.

#[test]
fn bench_draw_json_has_the_figures() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_einvoice"))
        .args([
            "bench",
            "draw",
            "--invoices",
            "200000",
            "--rounds",
            "1",
            "--json",
        ])
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["invoices"], 200_000);
    for k in ["match_s", "seq_read_s"] {
        assert!(v[k].as_f64().is_some_and(|x| x >= 0.0), "{k}");
    }
    // ~0.5 % of random numbers win something (sixth prizes dominate).
    let winners = v["winners"].as_u64().unwrap_or(0);
    assert!((500..2000).contains(&winners), "{winners}");
    assert!(v.get("cloud_draw_s").is_some() && v.get("duckdb_s").is_some());
}
