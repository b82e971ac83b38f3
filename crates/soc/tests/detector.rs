//! The streaming detector against a brute-force reference (every rule
//! kind, random streams), restart-splitting, and the built-in rules on
//! simulated attacks.

mod common;

use common::{ip, label};
use einvoice_soc::event::*;
use einvoice_soc::rules::{
    Alert, Detector, DetectorState, Rule, RuleKind, builtin_rules, parse_rules,
};
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};

/// The obvious quadratic reading of the documented semantics.
fn reference(rules: &[Rule], events: &[SecurityEvent]) -> Vec<Alert> {
    let mut last: HashMap<(String, String), u64> = HashMap::new();
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let t = e.time_ms;
        for rule in rules {
            let first = rule.filter.matches(e);
            let second = matches!(&rule.kind, RuleKind::Sequence { then } if then.matches(e));
            if !first && !second {
                continue;
            }
            let Some(key) = rule.key_of(e) else { continue };
            let in_window = |j: usize| {
                let ej = &events[j];
                rule.filter.matches(ej)
                    && rule.key_of(ej).as_deref() == Some(key.as_str())
                    && ej.time_ms + rule.window_ms > t
            };
            let (hit, count, first_seen) = match &rule.kind {
                RuleKind::Sequence { .. } => {
                    let firsts: Vec<usize> = (0..i).filter(|&j| in_window(j)).collect();
                    let fs = firsts.first().map_or(t, |&j| events[j].time_ms);
                    (second && !firsts.is_empty(), firsts.len() + 1, fs)
                }
                RuleKind::Distinct { field, .. } => {
                    if e.field(field).is_none() {
                        continue;
                    }
                    let win: Vec<usize> = (0..=i)
                        .filter(|&j| in_window(j) && events[j].field(field).is_some())
                        .collect();
                    let distinct: BTreeSet<String> =
                        win.iter().filter_map(|&j| events[j].field(field)).collect();
                    (
                        rule.enough(distinct.len()),
                        win.len(),
                        events[win[0]].time_ms,
                    )
                }
                _ => {
                    let win: Vec<usize> = (0..=i).filter(|&j| in_window(j)).collect();
                    (rule.enough(win.len()), win.len(), events[win[0]].time_ms)
                }
            };
            let id = (rule.id.as_str().to_owned(), key.clone());
            let quiet = last.get(&id).is_none_or(|&a| a + rule.window_ms <= t);
            if hit && quiet {
                last.insert(id, t);
                out.push(Alert {
                    rule: rule.id.as_str().to_owned(),
                    severity: rule.severity,
                    key,
                    opened_at: t,
                    events: count,
                    first_seen,
                    last_seen: t,
                });
            }
        }
    }
    out
}

fn rules_text(n: u32, w: u64, rate: f64) -> String {
    format!(
        r#"
[[rule]]
id = "thr"
title = "t"
severity = "high"
kind = "threshold"
window_s = {w}
count = {n}
key = ["src"]
[rule.match]
class = ["authentication"]
outcome = "failure"

[[rule]]
id = "rate"
title = "r"
severity = "low"
kind = "rate"
window_s = {w}
per_second = {rate}
key = ["target"]

[[rule]]
id = "dist"
title = "d"
severity = "medium"
kind = "distinct"
window_s = {w}
count = {n}
field = "attr.invoice_number"
key = ["src"]
[rule.match]
class = ["lookup"]

[[rule]]
id = "seq"
title = "s"
severity = "critical"
kind = "sequence"
window_s = {w}
key = ["src"]
[rule.match]
attrs = {{ action = "enter" }}
[rule.then]
attrs = {{ action = "approve" }}

# An event can match both halves: it must not pair with itself.
[[rule]]
id = "seq-overlap"
title = "s2"
severity = "low"
kind = "sequence"
window_s = {w}
key = ["target"]
[rule.match]
class = ["authentication"]
[rule.then]
outcome = "failure"

[[rule]]
id = "two-keys"
title = "k"
severity = "low"
kind = "threshold"
window_s = {w}
count = {n}
key = ["src", "target"]
"#
    )
}

#[derive(Debug, Clone)]
struct Gen {
    dt: u64,
    class: u8,
    outcome: u8,
    src: u8,
    target: u8,
    invoice: Option<u8>,
    action: u8,
}

fn gen_event() -> impl Strategy<Value = Gen> {
    (
        0u64..4000,
        0u8..3,
        0u8..3,
        0u8..3,
        0u8..3,
        proptest::option::of(0u8..6),
        0u8..3,
    )
        .prop_map(|(dt, class, outcome, src, target, invoice, action)| Gen {
            dt,
            class,
            outcome,
            src,
            target,
            invoice,
            action,
        })
}

fn build(gens: &[Gen]) -> Vec<SecurityEvent> {
    let mut t = 1_700_000_000_000u64;
    gens.iter()
        .map(|g| {
            t += g.dt;
            let class = [
                EventClass::Authentication,
                EventClass::Lookup,
                EventClass::OperatorAction,
            ][usize::from(g.class)];
            let outcome =
                [Outcome::Success, Outcome::Failure, Outcome::Refused][usize::from(g.outcome)];
            let mut e = SecurityEvent::new(
                class,
                Severity::Low,
                t,
                Actor::Anonymous,
                Some(ip(&format!("192.0.2.{}", g.src))),
                label(&format!("c{}", g.target)),
                outcome,
            );
            if let Some(n) = g.invoice {
                e = e
                    .with_text(AttrKey::InvoiceNumber, &format!("AB1000000{n}"))
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            if g.action < 2 {
                e = e
                    .with_text(AttrKey::Action, ["enter", "approve"][usize::from(g.action)])
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            e
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn streaming_agrees_with_the_reference(
        gens in proptest::collection::vec(gen_event(), 0..200),
        n in 1u32..5,
        w in 1u64..12,
        rate in prop_oneof![Just(0.25f64), Just(0.5), Just(1.0), Just(2.0)],
    ) {
        let rules = parse_rules(&rules_text(n, w, rate)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let events = build(&gens);
        let want = reference(&rules, &events);
        let mut d = Detector::new(rules);
        let got = d.feed_all(&events);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn a_restart_between_two_feeds_changes_nothing(
        gens in proptest::collection::vec(gen_event(), 0..200),
        split in 0usize..200,
        n in 1u32..5,
        w in 1u64..12,
    ) {
        let rules = parse_rules(&rules_text(n, w, 0.5)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let events = build(&gens);
        let k = split.min(events.len());
        let whole = Detector::new(rules.clone()).feed_all(&events);
        let mut first = Detector::new(rules.clone());
        let mut got = first.feed_all(&events[..k]);
        // Save and restore the state, as a restarted site would.
        let saved = serde_json::to_string(first.state()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let state: DetectorState = serde_json::from_str(&saved).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut second = Detector::with_state(rules, state).map_err(|e| TestCaseError::fail(e.to_string()))?;
        got.extend(second.feed_all(&events[k..]));
        prop_assert_eq!(got, whole);
    }
}

const T0: u64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z = 08:00 Taipei

fn detector() -> Detector {
    Detector::new(builtin_rules().unwrap_or_else(|e| panic!("{e}")))
}

fn fired<'a>(alerts: &'a [Alert], rule: &str) -> Vec<&'a Alert> {
    alerts.iter().filter(|a| a.rule == rule).collect()
}

fn guess(t: u64, from: &str, carrier: &str) -> SecurityEvent {
    SecurityEvent::carrier_verification(
        t,
        ip(from),
        label(carrier),
        &Redacted::new("0000"),
        Outcome::Failure,
        Some("wrong_code"),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn guessing_one_carrier_from_many_clients_raises_once() {
    let mut d = detector();
    let events: Vec<_> = (0..100)
        .map(|i| guess(T0 + i * 1000, &format!("198.51.100.{i}"), "/ABC1234"))
        .collect();
    let alerts = d.feed_all(&events);
    let g = fired(&alerts, "carrier-code-guessing");
    assert_eq!(
        g.len(),
        1,
        "one alert per key per window, not a storm: {alerts:?}"
    );
    assert_eq!(
        (g[0].key.as_str(), g[0].events, g[0].opened_at),
        ("/ABC1234", 10, T0 + 9000)
    );
    assert!(
        fired(&alerts, "carrier-spray-one-client").is_empty(),
        "each client tried one carrier"
    );
    // After the window (1 h) the same key raises again.
    let later = d.feed_all(
        &(0..10)
            .map(|i| guess(T0 + 3_700_000 + i, "198.51.100.1", "/ABC1234"))
            .collect::<Vec<_>>(),
    );
    assert_eq!(fired(&later, "carrier-code-guessing").len(), 1);
}

#[test]
fn many_carriers_from_one_client() {
    let mut d = detector();
    let events: Vec<_> = (0..6)
        .map(|i| guess(T0 + i, "203.0.113.5", &format!("/CAR{i:04}")))
        .collect();
    let alerts = d.feed_all(&events);
    let s = fired(&alerts, "carrier-spray-one-client");
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].key.as_str(), s[0].events), ("203.0.113.5", 5));
}

fn lookup(t: u64, from: &str, number: &str, api: &str) -> SecurityEvent {
    SecurityEvent::new(
        EventClass::Lookup,
        Severity::Informational,
        t,
        Actor::Anonymous,
        Some(ip(from)),
        label("lookup"),
        Outcome::Success,
    )
    .with_text(AttrKey::InvoiceNumber, number)
    .and_then(|e| e.with_text(AttrKey::Api, api))
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn invoice_enumeration_counts_distinct_numbers_per_client() {
    let mut d = detector();
    let mut events = Vec::new();
    for i in 0..40u64 {
        // The enumerator walks numbers, half through public lookup, half qryInvHeader.
        let api = if i % 2 == 0 {
            "public_lookup"
        } else {
            "qryInvHeader"
        };
        events.push(lookup(
            T0 + i * 500,
            "203.0.113.66",
            &format!("AB{:08}", 10_000_000 + i),
            api,
        ));
        // A busy but honest client asks about its one invoice again and again.
        events.push(lookup(
            T0 + i * 500,
            "192.0.2.10",
            "CD12345678",
            "public_lookup",
        ));
    }
    let alerts = d.feed_all(&events);
    let e = fired(&alerts, "invoice-enumeration");
    assert_eq!(e.len(), 1, "{alerts:?}");
    assert_eq!((e[0].key.as_str(), e[0].events), ("203.0.113.66", 30));
}

fn op(t: u64, who: &str, from: &str, action: &str) -> SecurityEvent {
    SecurityEvent::new(
        EventClass::OperatorAction,
        Severity::Medium,
        t,
        Actor::Operator(label(who)),
        Some(ip(from)),
        label("draw/2026-01"),
        Outcome::Success,
    )
    .with_text(AttrKey::Action, action)
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn winning_numbers_entered_and_approved_from_one_client() {
    let mut d = detector();
    let same = d.feed_all(&[
        op(T0, "alice", "10.0.0.7", "winning.enter"),
        op(T0 + 60_000, "bob", "10.0.0.7", "winning.approve"),
    ]);
    let s = fired(&same, "winning-numbers-one-client");
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].key, "10.0.0.7");
    let mut d = detector();
    let apart = d.feed_all(&[
        op(T0, "alice", "10.0.0.7", "winning.enter"),
        op(T0 + 60_000, "bob", "10.0.0.8", "winning.approve"),
    ]);
    assert!(fired(&apart, "winning-numbers-one-client").is_empty());
}

#[test]
fn operator_actions_out_of_hours() {
    let mut d = detector();
    // T0 + 2 h = 10:00 Taipei: office hours.
    assert!(
        fired(
            &d.feed(&op(
                T0 + 2 * 3_600_000,
                "alice",
                "10.0.0.7",
                "seller.create"
            )),
            "operator-out-of-hours"
        )
        .is_empty()
    );
    // T0 + 19 h = 03:00 Taipei.
    let night = d.feed(&op(
        T0 + 19 * 3_600_000,
        "alice",
        "10.0.0.7",
        "seller.create",
    ));
    let n = fired(&night, "operator-out-of-hours");
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].key, "operator:alice");
}

fn issue(t: u64, ubn: &str, reason: Option<&str>) -> SecurityEvent {
    let mut e = SecurityEvent::new(
        EventClass::Issuance,
        Severity::Informational,
        t,
        Actor::Seller(Ubn::new(ubn).unwrap_or_else(|e| panic!("{e}"))),
        Some(ip("192.0.2.1")),
        label("F0401"),
        if reason.is_some() {
            Outcome::Refused
        } else {
            Outcome::Success
        },
    );
    if let Some(r) = reason {
        e = e
            .with_text(AttrKey::Reason, r)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    e
}

#[test]
fn seller_volume_spike_and_numbers_outside_tracks() {
    let mut d = detector();
    // 40/s for a minute: below 50/s.
    let calm: Vec<_> = (0..2400)
        .map(|i| issue(T0 + i * 25, "12345675", None))
        .collect();
    assert!(fired(&d.feed_all(&calm), "seller-volume-spike").is_empty());
    // 100/s: 3000 events in the next 30 s fill the 60 s window past 3000.
    let spike: Vec<_> = (0..3000)
        .map(|i| issue(T0 + 60_000 + i * 10, "87654321", None))
        .collect();
    let a = d.feed_all(&spike);
    let s = fired(&a, "seller-volume-spike");
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].key.as_str(), s[0].events), ("seller:87654321", 3000));
    let o = d.feed(&issue(T0 + 100_000, "12345675", Some("outside_tracks")));
    assert_eq!(fired(&o, "numbers-outside-tracks").len(), 1);
    assert!(
        d.tracked_keys() < 10,
        "windows are evicted: {}",
        d.tracked_keys()
    );
}

#[test]
fn signature_spikes_replays_and_sync_tamper() {
    let mut d = detector();
    let sig: Vec<_> = (0..25)
        .map(|i| {
            SecurityEvent::new(
                EventClass::SignatureFailure,
                Severity::Low,
                T0 + i,
                Actor::App(label("APP-1")),
                Some(ip("192.0.2.3")),
                label("qryInvHeader"),
                Outcome::Failure,
            )
            .with_text(AttrKey::KeyId, "K7")
            .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let a = d.feed_all(&sig);
    let s = fired(&a, "signature-failure-spike");
    assert_eq!((s.len(), s[0].key.as_str()), (1, "K7"));
    let r = d.feed(&SecurityEvent::replay(
        T0 + 100,
        ip("192.0.2.4"),
        label("APP-1"),
        &Redacted::new("n1"),
    ));
    assert_eq!(fired(&r, "replayed-nonce").len(), 1);
    let tamper = SecurityEvent::new(
        EventClass::SyncChainBreak,
        Severity::Critical,
        T0 + 200,
        Actor::Site(label("site-b")),
        None,
        label("site-b"),
        Outcome::Failure,
    );
    let t = d.feed(&tamper);
    assert_eq!(fired(&t, "sync-tamper").len(), 1);
    assert_eq!(fired(&t, "sync-tamper")[0].key, "site-b");
}

#[test]
fn a_restored_state_must_match_the_rules() {
    let mut d = detector();
    d.feed(&guess(T0, "192.0.2.1", "/ABC1234"));
    let state = d.state().clone();
    let other = parse_rules("[[rule]]\nid='x'\ntitle='x'\nseverity='low'\nkind='threshold'\nwindow_s=1\ncount=1\nkey=['src']\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(Detector::with_state(other, state).is_err());
}

/// A throughput figure (run with `--ignored --nocapture`): the built-in
/// rules over a mixed stream of 200 000 events from 5 000 clients.
#[test]
#[ignore]
fn throughput() {
    let mut d = detector();
    let events: Vec<_> = (0..200_000u64)
        .map(|i| {
            let from = format!("10.{}.{}.{}", i % 5, (i / 5) % 100, i % 10);
            match i % 4 {
                0 => guess(T0 + i * 5, &from, &format!("/C{:06}", i % 20_000)),
                1 => lookup(T0 + i * 5, &from, &format!("AB{:08}", i), "public_lookup"),
                2 => issue(T0 + i * 5, "12345675", None),
                _ => op(T0 + i * 5, "alice", &from, "seller.create"),
            }
        })
        .collect();
    let start = std::time::Instant::now();
    let alerts = d.feed_all(&events);
    let el = start.elapsed();
    println!(
        "{} events in {:?}: {:.0} events/s, {} alerts, {} keys tracked",
        events.len(),
        el,
        events.len() as f64 / el.as_secs_f64(),
        alerts.len(),
        d.tracked_keys()
    );
}
