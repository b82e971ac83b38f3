//! The draw on a site through the real binary: demo seed → numbers published
//! in the store → freeze → commit → run (winners loaded) → re-run identical →
//! payouts.

use einvoice_core::Period;
use einvoice_store::WinningBody;
use einvoice_store::{Store, WinningNumbersRecord};
use einvoice_store_sqlite::SqliteStore;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::{run_as, stdout_ok};

const PERIOD: &str = "11410";

/// `einvoice ARGS…` in `dir`, as operator alice.
fn einvoice(dir: &Path, args: &[&str]) -> Output {
    run_as("alice", dir, args)
}

/// The draw of one period, run through the binary in `dir` against one
/// store (`["--data", DIR]` or `["--database", URL]`).
struct Draw<'a> {
    dir: &'a Path,
    period: &'a str,
    store: [&'a str; 2],
}

impl Draw<'_> {
    /// `draw CMD --period P <store> REST…`.
    fn on_store(&self, cmd: &str, rest: &[&str]) -> Output {
        let [flag, store] = self.store;
        let mut args = vec!["draw", cmd, "--period", self.period, flag, store];
        args.extend_from_slice(rest);
        einvoice(self.dir, &args)
    }

    /// `draw freeze` into the snapshot file `out`.
    fn freeze(&self, out: &str) -> Output {
        self.on_store("freeze", &["--out", out])
    }

    /// `draw commit` of `snap.bin`, its seed written to `seed.hex`.
    fn commit(&self) -> Output {
        einvoice(
            self.dir,
            &[
                "draw",
                "commit",
                "--snapshot",
                "snap.bin",
                "--seed-file",
                "seed.hex",
            ],
        )
    }

    /// `draw run` of `snap.bin` with `seed` into `out`, checked against
    /// `commitment` when there is one.
    fn run(&self, out: &str, seed: &str, commitment: Option<&str>) -> Output {
        let mut rest = vec!["--snapshot", "snap.bin", "--seed-file", seed, "--out", out];
        if let Some(c) = commitment {
            rest.extend(["--commitment", c]);
        }
        self.on_store("run", &rest)
    }

    /// `draw payouts` into `out`.
    fn payouts(&self, out: &str) -> Output {
        self.on_store("payouts", &["--out", out])
    }
}

fn failed(o: &Output) -> String {
    assert_ne!(o.status.code(), Some(0), "expected a failure");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The real numbers of `period` from the fixtures, or `None` (skipped loudly).
fn real_numbers(period: &str) -> Option<serde_json::Value> {
    let base = std::env::var_os("EINVOICE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
        });
    let Ok(b) = std::fs::read(base.join("winning-numbers.json")) else {
        eprintln!(
            "skipped: fixtures not found at {}; set EINVOICE_FIXTURES",
            base.display()
        );
        return None;
    };
    let v: serde_json::Value = serde_json::from_slice(&b).expect("json");
    v["periods"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["period"] == period))
        .cloned()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("rt")
}

/// Store a version of the numbers, published (`approved`) or a draft.
fn enter_numbers(data: &Path, rec: &serde_json::Value, version: u32, approved: bool) {
    let p = Period::parse(PERIOD).expect("period");
    let list = |k: &str| -> Vec<String> {
        rec[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let body = WinningBody {
        special: rec["special"].as_str().unwrap_or("").into(),
        grand: rec["grand"].as_str().unwrap_or("").into(),
        first: list("first"),
        additional_sixth: list("additional_sixth"),
        amounts: None,
        published_unix: approved.then_some(1_764_000_000),
    };
    rt().block_on(async {
        let s = SqliteStore::open(&data.join("einvoice.db"), "main").expect("open");
        s.put_winning_numbers(WinningNumbersRecord {
            period: p,
            version,
            body: body.to_value(p),
            entered_by: "alice".into(),
            approved_by: approved.then(|| "bob".into()),
            reason: None,
            entered_from: None,
        })
        .await
        .expect("numbers");
    });
}

fn summary(data: &Path) -> Option<einvoice_store::WinnersSummary> {
    rt().block_on(async {
        let s = SqliteStore::open(&data.join("einvoice.db"), "main").expect("open");
        s.winners_summary(Period::parse(PERIOD).expect("p"))
            .await
            .expect("summary")
    })
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn freeze_run_load_rerun_payouts() {
    let Some(rec) = real_numbers(PERIOD) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    let draw = Draw {
        dir: d,
        period: PERIOD,
        store: ["--data", "data"],
    };
    stdout_ok(&einvoice(
        d,
        &[
            "demo",
            "seed",
            "--data",
            "data",
            "--invoices",
            "600",
            "--sellers",
            "3",
            "--period",
            PERIOD,
        ],
    ));
    // Freeze: a snapshot of the period's eligible invoices, recorded once.
    let out = stdout_ok(&draw.freeze("snap.bin"));
    let frozen: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let rows = frozen["rows"].as_u64().expect("rows");
    assert!(rows > 300 && rows <= 600, "{rows}");
    assert_eq!(frozen["already_frozen"], false);
    let again = stdout_ok(&draw.freeze("snap2.bin"));
    let again: serde_json::Value = serde_json::from_str(again.trim()).expect("json");
    assert_eq!(again["already_frozen"], true);
    assert_eq!(again["snapshot_root"], frozen["snapshot_root"]);
    assert_eq!(read(&d.join("snap.bin")), read(&d.join("snap2.bin")));
    let commit = stdout_ok(&draw.commit());
    let commit: serde_json::Value = serde_json::from_str(commit.trim()).expect("json");
    let commitment = commit["commitment"].as_str().expect("c").to_string();
    let run = |out: &str, seed: &str| draw.run(out, seed, Some(&commitment));
    // Unpublished numbers are refused.
    enter_numbers(&d.join("data"), &rec, 1, false);
    assert!(failed(&run("draw1", "seed.hex")).contains("WINNING_NUMBERS_UNPUBLISHED"));
    enter_numbers(&d.join("data"), &rec, 1, true);
    stdout_ok(&run("draw1", "seed.hex"));
    let loaded = summary(&d.join("data")).expect("loaded");
    let report: serde_json::Value =
        serde_json::from_slice(&read(&d.join("draw1/report.json"))).expect("report");
    assert_eq!(loaded.lines, report["winners"].as_u64().expect("w"));
    assert_eq!(
        loaded.payable,
        report["payable_amount"].as_i64().expect("p")
    );
    assert!(loaded.lines > 0);
    // Re-run: byte-identical files, the store unchanged.
    stdout_ok(&run("draw2", "seed.hex"));
    for f in [
        "winners.csv",
        "winners.jsonl",
        "report.json",
        "manifest.json",
    ] {
        assert_eq!(
            read(&d.join("draw1").join(f)),
            read(&d.join("draw2").join(f)),
            "{f}"
        );
    }
    assert_eq!(summary(&d.join("data")), Some(loaded.clone()));
    // A different seed gives different winners: refused, nothing changed.
    std::fs::write(d.join("other.hex"), format!("{}\n", "7".repeat(64))).expect("seed");
    let refused = draw.run("draw3", "other.hex", None);
    assert!(failed(&refused).contains("DRAW_WINNERS_LOADED"));
    assert_eq!(summary(&d.join("data")), Some(loaded.clone()));
    // The ledger holds the freeze and the load, with who did them.
    let tail = stdout_ok(&einvoice(d, &["ledger", "tail", "--data", "data"]));
    for kind in ["DRAW_FREEZE", "DRAW_WINNERS"] {
        let n = tail
            .lines()
            .filter(|l| l.contains(&format!("\"kind\":\"{kind}\"")))
            .count();
        assert_eq!(n, 1, "{kind}");
    }
    assert!(tail.contains("operator:alice"));
    payouts_match(&draw, &loaded);
    // The period's invoices change after the freeze: a new freeze is refused.
    cancel_one(&d.join("data"));
    let changed = draw.freeze("snap3.bin");
    let err = failed(&changed);
    assert!(err.contains("DRAW_FROZEN"), "{err}");
    assert!(!d.join("snap3.bin").exists() && !d.join("snap3.freezing").exists());
}

/// Cancel the period's first eligible invoice (an F0501 through the store).
fn cancel_one(data: &Path) {
    rt().block_on(async {
        let s = SqliteStore::open(&data.join("einvoice.db"), "main").expect("open");
        let p = Period::parse(PERIOD).expect("p");
        let first = s.eligible_invoices(p, None, 1).await.expect("page");
        let row = first.first().expect("an eligible invoice");
        let seller = einvoice_core::Ubn::parse(&row.seller).expect("ubn");
        let number = einvoice_core::InvoiceNumber::parse(&row.number).expect("number");
        let view = s
            .invoice(&einvoice_store::Scope::All, seller, number)
            .await
            .expect("read")
            .expect("there");
        let date = view.summary.date.replace('-', "");
        let json = format!(
            r#"{{"message":"F0501","CancelInvoiceNumber":"{}","InvoiceDate":"{date}","BuyerId":"0000000000","SellerId":"{}","CancelDate":"{date}","CancelTime":"23:00:00","CancelReason":"test"}}"#,
            row.number, row.seller
        );
        let m = einvoice_mig::decode_json(json.as_bytes()).expect("decode");
        let v = einvoice_core::validate(&m, &einvoice_core::Rules::production()).expect("valid");
        let out = s
            .append(&einvoice_store::Scope::All, "test", vec![v])
            .await
            .expect("append");
        assert!(out.iter().all(Result::is_ok), "{out:?}");
    });
}

/// Register a bank account (sealed with the site's master key) for the
/// carrier of the first carrier winner; returns the account number.
fn register_bank_account(data: &Path) -> Option<String> {
    let key = einvoice_secrets::load_or_create_master_key(data).expect("key");
    let sealer = einvoice_secrets::Sealer::new(&key);
    rt().block_on(async {
        let s = SqliteStore::open(&data.join("einvoice.db"), "main").expect("open");
        let winners = s
            .winners(Period::parse(PERIOD).expect("p"), None, 100_000)
            .await
            .expect("winners");
        let carrier = winners
            .iter()
            .find(|w| w.payable > 0 && w.npo.is_none())
            .and_then(|w| w.carrier.clone())?;
        let acct = einvoice_secrets::BankAccount {
            bank_code: "812".into(),
            account_number: "0099887766".into(),
            holder_name: "Wang, Xiao-ming".into(),
        };
        let rec = acct.seal(&sealer, &carrier, 1).expect("seal");
        s.put_bank_account(rec).await.expect("put");
        Some(acct.account_number)
    })
}

fn payouts_match(draw: &Draw, loaded: &einvoice_store::WinnersSummary) {
    let d = draw.dir;
    let account = register_bank_account(&d.join("data"));
    stdout_ok(&draw.payouts("pay1"));
    let m: serde_json::Value =
        serde_json::from_slice(&read(&d.join("pay1/manifest.json"))).expect("manifest");
    let total: i64 = ["bank", "npo", "manual"]
        .iter()
        .map(|k| m["totals"][k]["amount"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(total, loaded.payable);
    assert_eq!(m["total_amount"].as_i64(), Some(loaded.payable));
    let csv = String::from_utf8(read(&d.join("pay1/payouts.csv"))).expect("utf8");
    let json_lines: serde_json::Value =
        serde_json::from_slice(&read(&d.join("pay1/payouts.json"))).expect("json");
    let n = json_lines["lines"].as_array().map_or(0, Vec::len);
    assert_eq!(csv.lines().count(), n + 1);
    if let Some(account) = account {
        assert!(
            m["totals"]["bank"]["count"].as_u64().unwrap_or(0) >= 1,
            "{m}"
        );
        assert!(
            csv.contains(&account),
            "the payout file carries the opened account"
        );
        assert!(csv.contains("\"Wang, Xiao-ming\""));
        assert!(!m.to_string().contains(&account), "never in the manifest");
    }
    for f in m["files"].as_array().expect("files") {
        use sha2::Digest;
        let name = f["name"].as_str().expect("name");
        let want: String = sha2::Sha256::digest(read(&d.join("pay1").join(name)))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(f["sha256"].as_str(), Some(want.as_str()), "{name}");
    }
    stdout_ok(&draw.payouts("pay2"));
    for f in ["payouts.csv", "payouts.json", "manifest.json"] {
        assert_eq!(
            read(&d.join("pay1").join(f)),
            read(&d.join("pay2").join(f)),
            "{f}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(d.join("pay1").join(f))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }
}

/// The same path on PostgreSQL (`--database`): freeze, run, winners loaded
/// once (a re-run leaves them unchanged).
#[test]
fn freeze_and_run_on_postgres() {
    use einvoice_store::conformance::{SELLER_A, allocation, invoice};
    use einvoice_store_postgres::PgStore;
    use einvoice_store_postgres::pg_harness::PgCluster;
    let cluster = PgCluster::start().expect("start a PostgreSQL cluster");
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    let p = Period::parse("11402").expect("p");
    let url = rt().block_on(async {
        let url = cluster.create_database().await.expect("database");
        let s = PgStore::connect(&url, "main").await.expect("connect");
        let mut msgs = vec![allocation(SELLER_A)];
        for i in 0..40u32 {
            msgs.push(invoice(
                SELLER_A,
                &format!("AB{:08}", i * 7 + 1),
                "1234",
                100 + i,
            ));
        }
        let out = s
            .append(&einvoice_store::Scope::All, "test", msgs)
            .await
            .expect("append");
        assert!(out.iter().all(Result::is_ok));
        let body = WinningBody {
            special: "11111111".into(),
            grand: "22222222".into(),
            first: vec!["33333008".into()],
            additional_sixth: vec![],
            amounts: None,
            published_unix: Some(1),
        };
        s.put_winning_numbers(WinningNumbersRecord {
            period: p,
            version: 1,
            body: body.to_value(p),
            entered_by: "alice".into(),
            approved_by: Some("bob".into()),
            reason: None,
            entered_from: None,
        })
        .await
        .expect("numbers");
        url
    });
    let draw = Draw {
        dir: d,
        period: "11402",
        store: ["--database", &url],
    };
    let out = stdout_ok(&draw.freeze("snap.bin"));
    let frozen: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(frozen["rows"], 40);
    stdout_ok(&draw.commit());
    stdout_ok(&draw.run("draw1", "seed.hex", None));
    let (summary, winners) = rt().block_on(async {
        let s = PgStore::connect(&url, "main").await.expect("connect");
        (
            s.winners_summary(p)
                .await
                .expect("summary")
                .expect("loaded"),
            s.winners(p, None, 1000).await.expect("winners"),
        )
    });
    let report: serde_json::Value =
        serde_json::from_slice(&read(&d.join("draw1/report.json"))).expect("report");
    assert_eq!(summary.lines, report["winners"].as_u64().expect("w"));
    assert_eq!(winners.len() as u64, summary.lines);
    // AB00000008 ends in 008: a sixth prize from the published numbers.
    assert!(
        winners
            .iter()
            .any(|w| w.invoice_number == "AB00000008" && w.prize == "sixth")
    );
    stdout_ok(&draw.run("draw2", "seed.hex", None));
    assert_eq!(
        read(&d.join("draw1/winners.jsonl")),
        read(&d.join("draw2/winners.jsonl"))
    );
    let _ = cluster.stop();
}
