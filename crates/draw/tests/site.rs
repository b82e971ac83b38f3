//! The draw on a SQLite store in a temporary directory: freeze → commit →
//! run (winners loaded) → payouts, with each step's refusals and its
//! idempotency.

use einvoice_analytics::snapshot::{EligibleInvoice, SnapshotWriter};
use einvoice_core::Period;
use einvoice_draw::{DrawError, Event, RunInputs, SiteRun};
use einvoice_store::conformance::{SELLER_A, allocation, cancel, invoice};
use einvoice_store::{Scope, Store, WinningBody, WinningNumbersRecord};
use einvoice_store_sqlite::SqliteStore;
use std::path::{Path, PathBuf};

/// The conformance suite's allocation period.
const PERIOD: &str = "11402";
/// The carrier of every conformance invoice, as the draw writes it.
const CARRIER: &str = "3J0002:/ABC+123";

fn period() -> Period {
    Period::parse(PERIOD).expect("period")
}

fn quiet(_: Event<'_>) {}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A site with 40 issued B2C invoices of the period on one carrier.
async fn site(data: &Path) -> SqliteStore {
    let s = SqliteStore::open(&data.join("einvoice.db"), "main").expect("open");
    let mut msgs = vec![allocation(SELLER_A)];
    for i in 0..40u32 {
        msgs.push(invoice(
            SELLER_A,
            &format!("AB{:08}", i * 7 + 1),
            "1234",
            100 + i,
        ));
    }
    let out = s.append(&Scope::All, "test", msgs).await.expect("append");
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    s
}

/// Version `version` of the period's numbers; `33333008` as first prize makes
/// AB00000008 a sixth-prize winner.
async fn enter_numbers(s: &SqliteStore, version: u32, approved: bool) {
    let body = WinningBody {
        special: "11111111".into(),
        grand: "22222222".into(),
        first: vec!["33333008".into()],
        additional_sixth: vec![],
        amounts: None,
        published_unix: approved.then_some(1),
    };
    s.put_winning_numbers(WinningNumbersRecord {
        period: period(),
        version,
        body: body.to_value(period()),
        entered_by: "alice".into(),
        approved_by: approved.then(|| "bob".into()),
        reason: None,
        entered_from: None,
    })
    .await
    .expect("numbers");
}

struct Dirs {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Dirs {
    fn new() -> Self {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().to_path_buf();
        Self { _tmp: tmp, root }
    }

    fn at(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
}

/// A run of the period from (snapshot, seed file, draw directory).
fn site_run<'a>(paths: &'a [PathBuf; 3], commitment: Option<&'a str>) -> SiteRun<'a> {
    let [snapshot, seed_file, out] = paths;
    SiteRun {
        period: period(),
        inputs: RunInputs {
            snapshot,
            seed_file,
            out,
            commitment,
            prize_table: None,
            no_donated: false,
            threads: 1,
        },
        operator: "alice",
    }
}

#[tokio::test(flavor = "current_thread")]
async fn freeze_commit_run_payouts_on_a_site() {
    let d = Dirs::new();
    let data = d.at("data");
    std::fs::create_dir_all(&data).expect("data");
    let s = site(&data).await;
    let p = period();

    // Payouts before any winners are loaded are refused.
    einvoice_secrets::load_or_create_master_key(&data).expect("key");
    let sealer = einvoice_draw::site_sealer(&data).expect("sealer");
    let err = einvoice_draw::payouts(&s, p, &d.at("pay0"), &sealer)
        .await
        .expect_err("no winners");
    assert!(matches!(err, DrawError::WinnersNotLoaded(_)), "{err}");
    assert!(err.to_string().starts_with("DRAW_WINNERS_NOT_LOADED: "));

    // Freeze: every eligible invoice, recorded once.
    let frozen = einvoice_draw::freeze(&s, p, &d.at("snap.bin"), "alice", &quiet)
        .await
        .expect("freeze");
    assert_eq!((frozen.rows, frozen.already_frozen), (40, false));
    let again = einvoice_draw::freeze(&s, p, &d.at("snap2.bin"), "alice", &quiet)
        .await
        .expect("freeze again");
    assert!(again.already_frozen);
    assert_eq!(again.snapshot_root, frozen.snapshot_root);
    assert_eq!(read(&d.at("snap.bin")), read(&d.at("snap2.bin")));

    // Commit: the seed file is written once.
    let c = einvoice_draw::commit(&d.at("snap.bin"), &d.at("seed.hex"), 1).expect("commit");
    assert_eq!(c.snapshot_root, frozen.snapshot_root);
    assert_eq!(c.period, p.key());
    let err = einvoice_draw::commit(&d.at("snap.bin"), &d.at("seed.hex"), 1).expect_err("again");
    assert!(matches!(err, DrawError::SeedFile { .. }), "{err}");

    let paths = [d.at("snap.bin"), d.at("seed.hex"), d.at("draw1")];
    let run = site_run(&paths, Some(&c.commitment));

    // The numbers must be entered, then approved by a second operator.
    let err = einvoice_draw::run_on_site(&s, &run, &quiet)
        .await
        .expect_err("no numbers");
    assert!(matches!(err, DrawError::NumbersNotEntered(_)), "{err}");
    enter_numbers(&s, 1, false).await;
    let err = einvoice_draw::run_on_site(&s, &run, &quiet)
        .await
        .expect_err("draft");
    assert!(
        matches!(err, DrawError::NumbersAwaitApproval { version: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().starts_with("WINNING_NUMBERS_UNPUBLISHED: "));
    enter_numbers(&s, 1, true).await;

    // A malformed commitment, a snapshot of another period and a snapshot
    // that is not the frozen one are refused before anything is loaded.
    let bad = site_run(&paths, Some("zz"));
    let err = einvoice_draw::run_on_site(&s, &bad, &quiet)
        .await
        .expect_err("commitment");
    assert!(matches!(err, DrawError::CommitmentFormat), "{err}");
    let other = d.at("other-period.bin");
    SnapshotWriter::create(&other, 11404)
        .expect("create")
        .finish()
        .expect("finish");
    let other_paths = [other, d.at("seed.hex"), d.at("draw-x")];
    let err = einvoice_draw::run_on_site(&s, &site_run(&other_paths, None), &quiet)
        .await
        .expect_err("other period");
    assert!(
        matches!(err, DrawError::SnapshotOfOtherPeriod { .. }),
        "{err}"
    );
    let unfrozen = d.at("unfrozen.bin");
    let mut w = SnapshotWriter::create(&unfrozen, p.key()).expect("create");
    w.push(&EligibleInvoice {
        track: *b"AB",
        number: 8,
        seller_ubn: 4_595_257,
        carrier: None,
        npo: None,
        printed: true,
    })
    .expect("push");
    w.finish().expect("finish");
    let unfrozen_paths = [unfrozen, d.at("seed.hex"), d.at("draw-y")];
    let err = einvoice_draw::run_on_site(&s, &site_run(&unfrozen_paths, None), &quiet)
        .await
        .expect_err("not the frozen snapshot");
    assert!(matches!(err, DrawError::SnapshotMismatch { .. }), "{err}");
    assert_eq!(s.winners_summary(p).await.expect("summary"), None);

    // The run loads the winners; AB00000008 wins a sixth prize.
    let done = einvoice_draw::run_on_site(&s, &run, &quiet)
        .await
        .expect("run");
    assert!(!done.already_loaded);
    let loaded = s
        .winners_summary(p)
        .await
        .expect("summary")
        .expect("loaded");
    assert_eq!(loaded.lines, done.report.winners);
    assert_eq!(loaded.payable, done.report.payable_amount);
    assert_eq!(loaded.actor, "operator:alice");
    let winners = s.winners(p, None, 1000).await.expect("winners");
    assert!(
        winners
            .iter()
            .any(|w| w.invoice_number == "AB00000008" && w.prize == "sixth")
    );

    // Again: the same files, the store unchanged.
    let paths2 = [d.at("snap.bin"), d.at("seed.hex"), d.at("draw2")];
    let done2 = einvoice_draw::run_on_site(&s, &site_run(&paths2, None), &quiet)
        .await
        .expect("run again");
    assert!(done2.already_loaded);
    for f in ["winners.jsonl", "report.json", "manifest.json"] {
        assert_eq!(
            read(&d.at("draw1").join(f)),
            read(&d.at("draw2").join(f)),
            "{f}"
        );
    }
    // Another seed draws other cloud winners: refused, nothing changed.
    std::fs::write(d.at("other.hex"), format!("{}\n", "7".repeat(64))).expect("seed");
    let paths3 = [d.at("snap.bin"), d.at("other.hex"), d.at("draw3")];
    let err = einvoice_draw::run_on_site(&s, &site_run(&paths3, None), &quiet)
        .await
        .expect_err("other seed");
    assert!(
        matches!(err, DrawError::WinnersLoadedDifferently { .. }),
        "{err}"
    );
    assert!(!d.at("draw3").exists());
    assert_eq!(
        s.winners_summary(p).await.expect("summary"),
        Some(loaded.clone())
    );

    // One DRAW_FREEZE and one DRAW_WINNERS entry, by the operator.
    let entries = s.entries(s.site(), 0, 1000).await.expect("entries");
    for kind in ["DRAW_FREEZE", "DRAW_WINNERS"] {
        let of: Vec<_> = entries.iter().filter(|e| e.kind == kind).collect();
        assert_eq!(of.len(), 1, "{kind}");
        assert_eq!(of[0].actor, "operator:alice");
    }

    payouts_add_up(&s, &d, &loaded).await;

    // The period's invoices change after the freeze: a new freeze is refused
    // and leaves no file.
    let out = s
        .append(
            &Scope::All,
            "test",
            vec![cancel(SELLER_A, "AB00000001", "test")],
        )
        .await
        .expect("cancel");
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    let err = einvoice_draw::freeze(&s, p, &d.at("snap3.bin"), "alice", &quiet)
        .await
        .expect_err("changed");
    assert!(
        matches!(err, DrawError::FrozenDifferently { rows: 39, .. }),
        "{err}"
    );
    assert!(err.to_string().starts_with("DRAW_FROZEN: "));
    assert!(!d.at("snap3.bin").exists() && !d.at("snap3.freezing").exists());
}

/// Payouts: refused without the master key; with it, every payable line is
/// paid once, to the carrier's bank account, in owner-only files that are
/// the same bytes each time.
async fn payouts_add_up(s: &SqliteStore, d: &Dirs, loaded: &einvoice_store::WinnersSummary) {
    let p = period();
    let err = einvoice_draw::site_sealer(&d.at("no-key")).expect_err("no key");
    assert!(matches!(err, DrawError::MasterKeyMissing(_)), "{err}");
    let sealer = einvoice_draw::site_sealer(&d.at("data")).expect("sealer");
    let account = einvoice_secrets::BankAccount {
        bank_code: "812".into(),
        account_number: "0099887766".into(),
        holder_name: "Wang, Xiao-ming".into(),
    };
    s.put_bank_account(account.seal(&sealer, CARRIER, 1).expect("seal"))
        .await
        .expect("account");
    let paid = einvoice_draw::payouts(s, p, &d.at("pay1"), &sealer)
        .await
        .expect("payouts");
    assert_eq!(paid.total_amount, loaded.payable);
    let by: Vec<(&str, usize)> = paid.totals.iter().map(|t| (t.category, t.count)).collect();
    let payable = s
        .winners(p, None, 1000)
        .await
        .expect("winners")
        .iter()
        .filter(|w| w.payable > 0)
        .count();
    assert_eq!(by, [("bank", payable), ("npo", 0), ("manual", 0)]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&read(&d.at("pay1/manifest.json"))).expect("manifest");
    assert_eq!(manifest["totals"], paid.totals_json());
    assert!(!manifest.to_string().contains(&account.account_number));
    let csv = String::from_utf8(read(&d.at("pay1/payouts.csv"))).expect("utf8");
    assert_eq!(csv.lines().count(), payable + 1);
    assert!(csv.contains("\"Wang, Xiao-ming\""));
    einvoice_draw::payouts(s, p, &d.at("pay2"), &sealer)
        .await
        .expect("payouts again");
    for f in ["payouts.csv", "payouts.json", "manifest.json"] {
        assert_eq!(
            read(&d.at("pay1").join(f)),
            read(&d.at("pay2").join(f)),
            "{f}"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(d.at("pay1").join(f))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
    }
}
