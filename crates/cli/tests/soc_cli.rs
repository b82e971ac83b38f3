//! `soc events|alerts|incidents` on a stopped site's data directory, and
//! `soc respond` refusing a malformed id before any request.

use einvoice_soc::{
    Actor, AttrKey, EventClass, EventLog, Label, Outcome, SecurityEvent, Severity, SqliteLog,
};
use serde_json::Value;

mod common;

use common::{assert_success, bin};

/// `n` wrong verification codes for one carrier from one client.
fn guesses(n: u64) -> Vec<SecurityEvent> {
    let carrier = Label::new("3J0002:/ABC+123").expect("label");
    (0..n)
        .map(|i| {
            SecurityEvent::new(
                EventClass::Authentication,
                Severity::Low,
                1_780_000_000_000 + i * 1000,
                Actor::Carrier(carrier.clone()),
                Some("192.0.2.9".parse().expect("ip")),
                carrier.clone(),
                Outcome::Failure,
            )
            .with_text(AttrKey::Subject, "carrier")
            .and_then(|e| e.with_text(AttrKey::Reason, "wrong_code"))
            .expect("event")
        })
        .collect()
}

fn lines(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn events_alerts_and_incidents_of_a_stopped_site_and_a_broken_log_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let log = SqliteLog::open(dir.path()).expect("log");
        log.append_all(guesses(12)).expect("append");
    }
    let run = |args: &[&str]| {
        bin()
            .args(["soc"])
            .args(args)
            .arg("--data")
            .arg(dir.path())
            .output()
            .expect("run")
    };

    let out = run(&["events", "--json", "--from", "3", "--limit", "5"]);
    assert_success(&out);
    let ev = lines(&out);
    let seqs: Vec<u64> = ev.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert_eq!(seqs, [3, 4, 5, 6, 7]);
    assert_eq!(ev[0]["event"]["class"], "authentication");
    assert_eq!(ev[0]["event"]["target"], "3J0002:/ABC+123");
    let out = run(&["events"]);
    assert_success(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 12);

    let out = run(&["alerts", "--json"]);
    assert_success(&out);
    let alerts = lines(&out);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["rule"], "carrier-code-guessing");
    assert_eq!(alerts[0]["key"], "3J0002:/ABC+123");
    assert_eq!(alerts[0]["incident"], 1);

    let out = run(&["incidents", "--json"]);
    assert_success(&out);
    let incidents = lines(&out);
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0]["id"], 1);
    assert_eq!(incidents[0]["state"], "open");
    assert_eq!(incidents[0]["alerts"][0]["rule"], "carrier-code-guessing");
    let out = run(&["incidents"]);
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("incident 1") && text.contains("carrier-code-guessing"),
        "{text}"
    );

    // One stored event changed on disk: the chain check refuses the log.
    let file = dir.path().join(einvoice_soc::log::SQLITE_FILE);
    let mut bytes = std::fs::read(&file).expect("read");
    let at = bytes
        .windows(11)
        .position(|w| w == b"wrong_code\"")
        .expect("an event in the file");
    bytes[at] = b'W';
    std::fs::write(&file, bytes).expect("write");
    let out = run(&["events"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SOC_LOG_BROKEN"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // No log at all: said so.
    let empty = tempfile::tempdir().expect("tmp");
    let out = bin()
        .args(["soc", "events", "--data"])
        .arg(empty.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SOC_LOG_MISSING"));
}

#[test]
fn respond_refuses_an_id_that_is_not_one_path_segment() {
    let out = bin()
        .args([
            "soc",
            "respond",
            "--url",
            "http://127.0.0.1:9",
            "revoke-key",
            "--key-id",
            "../operators/x",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ID_INVALID"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `soc respond --data DIR --actor NAME` on a stopped site: the holds are
/// applied to its store and recorded in its ledger as `local:NAME`; the
/// actor must be an operator of role soc; a block (a running node's
/// memory) is refused there.
#[test]
fn respond_on_a_stopped_site_applies_holds_audited_with_the_actor() {
    use einvoice_store::Store;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let d = data.to_str().expect("utf-8 path");
    assert_success(
        &bin()
            .args(["admin", "bootstrap", "--data", d, "--name", "alice"])
            .output()
            .expect("bootstrap"),
    );
    assert_success(
        &bin()
            .args(["admin", "operator", "add-local", "--data", d])
            .args(["--name", "sam", "--role", "soc"])
            .output()
            .expect("add-local"),
    );
    let respond = |actor: Option<&str>, action: &[&str]| {
        let mut c = bin();
        c.args(["soc", "respond", "--data", d]);
        if let Some(a) = actor {
            c.args(["--actor", a]);
        }
        c.args(action).output().expect("respond")
    };
    let refused = |out: std::process::Output, code: &str| {
        assert!(!out.status.success(), "{code}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(code), "{code}: {err}");
    };

    let out = respond(
        Some("sam"),
        &[
            "freeze-seller",
            "--ubn",
            "04595257",
            "--reason",
            "incident 3",
        ],
    );
    let v = common::ok(&out);
    assert_eq!(v["target"], "seller:04595257");
    assert_eq!(v["in_force"], true);
    assert_eq!(v["by"], "local:sam");
    refused(
        respond(Some("sam"), &["freeze-seller", "--ubn", "04595257"]),
        "HOLD_IN_FORCE",
    );
    refused(respond(Some("alice"), &["read-only"]), "ACTOR_UNKNOWN");
    refused(respond(None, &["read-only"]), "ACTOR_REQUIRED");
    refused(
        respond(
            Some("sam"),
            &["block", "--range", "192.0.2.7", "--minutes", "5"],
        ),
        "RESPOND_ONLINE_ONLY",
    );
    refused(
        respond(Some("sam"), &["freeze-seller", "--ubn", "04595258"]),
        "UBN_CHECKSUM",
    );
    for action in [
        &[
            "reverify-carrier",
            "--carrier-type",
            "3J0002",
            "--carrier-id",
            "/ABC+123",
        ][..],
        &["read-only"][..],
        &["read-write"][..],
        &["unfreeze-seller", "--ubn", "04595257"][..],
    ] {
        common::ok(&respond(Some("sam"), action));
    }

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let s = einvoice_store_sqlite::SqliteStore::open(&data.join("einvoice.db"), "main")
            .expect("open");
        let held = |t: &'static str| {
            let s = s.clone();
            async move { s.soc_hold(t).await.expect("read").map(|h| h.in_force) }
        };
        assert_eq!(held("seller:04595257").await, Some(false));
        assert_eq!(held("carrier:3J0002:/ABC+123").await, Some(true));
        assert_eq!(held("site").await, Some(false));
        let entries = s.entries("main", 0, 1000).await.expect("entries");
        let soc: Vec<(&str, &str)> = entries
            .iter()
            .filter(|e| e.key.starts_with("soc/"))
            .map(|e| (e.key.as_str(), e.actor.as_str()))
            .collect();
        assert_eq!(
            soc,
            vec![
                ("soc/seller:04595257", "local:sam"),
                ("soc/carrier:3J0002:/ABC+123", "local:sam"),
                ("soc/site", "local:sam"),
                ("soc/site", "local:sam"),
                ("soc/seller:04595257", "local:sam"),
            ]
        );
    });
}
