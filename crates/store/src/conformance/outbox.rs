//! The outbox: disjoint claims, leases that end, rescheduled failures.

use super::*;

/// Concurrent claimers at the same instant get disjoint items: together they
/// take every due item exactly once, and while the leases run nobody else
/// gets any.
pub async fn outbox_claims_are_disjoint<S: Store>(s: S) {
    assert_eq!(
        load_winners(&s, many_winners(60)).await,
        crate::DrawPut::Stored
    );
    let mut tasks = Vec::new();
    for w in 0..6 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            claim_until_empty(&s, &format!("w{w}"), 7).await
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let mut ids: Vec<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort_unstable();
    let mut want: Vec<String> = (0..60).map(|l| format!("winner/11402/{l}")).collect();
    want.sort_unstable();
    assert_eq!(ids, want, "every item claimed exactly once");
    for now in [1000, 1059] {
        assert!(
            s.outbox_claim(now, 100, 60, "late")
                .await
                .expect("claim")
                .is_empty(),
            "leased at {now}"
        );
    }
    // Each item is marked by its own claimer only.
    for (id, worker) in &all {
        let other = if worker == "w0" { "w1" } else { "w0" };
        let done = crate::OutboxOutcome::Delivered { at_unix: 1001 };
        assert!(!s.outbox_mark(id, other, done.clone()).await.expect("mark"));
        assert!(s.outbox_mark(id, worker, done).await.expect("mark"));
    }
    assert!(
        s.outbox_claim(i64::MAX, 100, 60, "late")
            .await
            .expect("claim")
            .is_empty(),
        "all delivered"
    );
}

/// A lease ends: the items of a worker that never marked them (it crashed)
/// are claimable again; its late mark is then refused and changes nothing,
/// while a late mark of an item nobody claimed again still applies.
pub async fn outbox_lease_expiry<S: Store>(s: S) {
    use crate::OutboxOutcome::{Delivered, Failed};
    let failed = |next_unix: i64, error: &str| Failed {
        next_unix,
        error: error.into(),
    };
    load_winners(
        &s,
        crate::WinnersLoad {
            period: period(),
            actor: "alice".into(),
            winners: sample_winners(),
        },
    )
    .await;
    assert_eq!(s.outbox_claim(0, 100, 30, "a").await.expect("a").len(), 3);
    assert!(
        s.outbox_claim(29, 100, 30, "b")
            .await
            .expect("b")
            .is_empty()
    );
    let b = s.outbox_claim(30, 1, 30, "b").await.expect("b");
    assert_eq!(ids_of(b.clone()), ["winner/11402/0"]);
    assert_eq!(b[0].attempts, 0);
    // `a` comes back: its outcome for the re-claimed item is refused.
    assert!(
        !s.outbox_mark("winner/11402/0", "a", Delivered { at_unix: 31 })
            .await
            .expect("mark")
    );
    assert!(
        s.outbox_mark("winner/11402/0", "b", failed(40, "HTTP 503"))
            .await
            .expect("mark")
    );
    // The mark ended `b`'s lease: a second mark is refused too.
    assert!(
        !s.outbox_mark("winner/11402/0", "b", Delivered { at_unix: 32 })
            .await
            .expect("mark")
    );
    // Nobody claimed /1 again: `a` is still its holder, late or not.
    assert!(
        s.outbox_mark("winner/11402/1", "a", failed(50, "HTTP 500"))
            .await
            .expect("mark")
    );
    assert_eq!(
        ids_of(s.outbox_claim(39, 100, 30, "c").await.expect("c")),
        ["winner/11402/3"]
    );
    let c = s.outbox_claim(40, 100, 30, "c").await.expect("c");
    assert_eq!(ids_of(c.clone()), ["winner/11402/0"]);
    assert_eq!(c[0].attempts, 1);
    assert!(
        s.outbox_mark("winner/11402/0", "c", Delivered { at_unix: 41 })
            .await
            .expect("mark")
    );
    assert!(
        !s.outbox_mark("winner/11402/0", "c", Delivered { at_unix: 42 })
            .await
            .expect("mark"),
        "delivered stays delivered"
    );
    assert!(
        !s.outbox_mark("winner/11402/9", "c", Delivered { at_unix: 42 })
            .await
            .expect("mark"),
        "unknown"
    );
    let state: Vec<(String, u32, i64, Option<i64>)> = s
        .export_records()
        .await
        .expect("records")
        .outbox
        .into_iter()
        .map(|o| {
            (
                o.item.id,
                o.item.attempts,
                o.item.next_unix,
                o.delivered_unix,
            )
        })
        .collect();
    assert_eq!(
        state,
        [
            ("winner/11402/0".to_string(), 1, 40, Some(41)),
            ("winner/11402/1".to_string(), 1, 50, None),
            ("winner/11402/3".to_string(), 0, 0, None),
        ]
    );
    // Later still, every lease has ended: what is left is due again.
    assert_eq!(
        ids_of(s.outbox_claim(1000, 100, 30, "d").await.expect("d")),
        ["winner/11402/3", "winner/11402/1"]
    );
}

/// A failed item waits for the next attempt its worker chose (the backoff)
/// and comes back with its failed attempts counted; a delivered one never
/// comes back.
pub async fn outbox_failed_items_reschedule<S: Store>(s: S) {
    use crate::OutboxOutcome::{Delivered, Failed};
    let failed = |next_unix: i64| Failed {
        next_unix,
        error: "HTTP 500".into(),
    };
    load_winners(
        &s,
        crate::WinnersLoad {
            period: period(),
            actor: "alice".into(),
            winners: sample_winners(),
        },
    )
    .await;
    assert_eq!(s.outbox_claim(0, 100, 600, "w").await.expect("w").len(), 3);
    for (id, outcome) in [
        ("winner/11402/0", failed(10)),
        ("winner/11402/1", failed(30)),
        ("winner/11402/3", Delivered { at_unix: 1 }),
    ] {
        assert!(s.outbox_mark(id, "w", outcome).await.expect("mark"), "{id}");
    }
    // The marks ended the lease; the failed items wait for their schedule.
    assert!(
        s.outbox_claim(9, 100, 600, "w")
            .await
            .expect("w")
            .is_empty()
    );
    let again = s.outbox_claim(10, 100, 600, "w").await.expect("w");
    assert_eq!(ids_of(again.clone()), ["winner/11402/0"]);
    assert_eq!((again[0].attempts, again[0].next_unix), (1, 10));
    assert!(
        s.outbox_mark("winner/11402/0", "w", failed(30))
            .await
            .expect("mark")
    );
    let both = s.outbox_claim(30, 100, 600, "w").await.expect("w");
    let seen: Vec<(&str, u32)> = both.iter().map(|i| (i.id.as_str(), i.attempts)).collect();
    assert_eq!(seen, [("winner/11402/0", 2), ("winner/11402/1", 1)]);
    assert!(
        s.outbox_claim(629, 100, 600, "v")
            .await
            .expect("v")
            .is_empty()
    );
}
