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
