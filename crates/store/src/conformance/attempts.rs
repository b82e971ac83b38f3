//! Login attempt budgets ([`crate::AttemptKey`]): counted atomically, all
//! budgets of an attempt or none, given back on success, decaying with time.

use crate::{AttemptKey, Reservation, Store};

fn key(name: &str, burst: u32) -> AttemptKey {
    AttemptKey {
        key: name.to_string(),
        interval_secs: 600,
        burst,
    }
}

/// 64 attempts at once on one account: exactly its burst is granted, the
/// rest refused with the wait; a success gives one back; the budget comes
/// back with time; a refused attempt charges none of its budgets.
pub async fn attempts_are_counted_atomically<S: Store + Clone + 'static>(s: S) {
    const NOW: i64 = 1_750_000_000;
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.reserve_attempt(vec![key("carrier:x", 5)], NOW).await
        }));
    }
    let mut granted = 0;
    for t in tasks {
        match t.await.expect("task").expect("reserve") {
            Reservation::Granted { spent } => {
                granted += 1;
                assert!((1..=5).contains(&spent), "spent {spent}");
            }
            Reservation::Refused { retry_after_secs } => {
                assert_eq!(retry_after_secs, 600);
            }
        }
    }
    assert_eq!(granted, 5, "exactly the burst is granted");
    // A success gives one back.
    s.release_attempt(vec![key("carrier:x", 5)], NOW)
        .await
        .expect("release");
    assert_eq!(
        s.reserve_attempt(vec![key("carrier:x", 5)], NOW)
            .await
            .expect("reserve"),
        Reservation::Granted { spent: 5 }
    );
    // One interval later, one attempt is back; a quiet spell gives all back.
    assert!(matches!(
        s.reserve_attempt(vec![key("carrier:x", 5)], NOW + 599)
            .await
            .expect("reserve"),
        Reservation::Refused {
            retry_after_secs: 1
        }
    ));
    assert_eq!(
        s.reserve_attempt(vec![key("carrier:x", 5)], NOW + 600)
            .await
            .expect("reserve"),
        Reservation::Granted { spent: 5 }
    );
    assert_eq!(
        s.reserve_attempt(vec![key("carrier:x", 5)], NOW + 100_000)
            .await
            .expect("reserve"),
        Reservation::Granted { spent: 1 }
    );
    // All or nothing: the client budget (burst 1) refuses the second
    // attempt, and the account budget is not charged for it.
    let both = || vec![key("carrier:y", 2), key("carrier:y@192.0.2.1", 1)];
    assert!(matches!(
        s.reserve_attempt(both(), NOW).await.expect("reserve"),
        Reservation::Granted { .. }
    ));
    assert!(matches!(
        s.reserve_attempt(both(), NOW).await.expect("reserve"),
        Reservation::Refused { .. }
    ));
    assert_eq!(
        s.reserve_attempt(vec![key("carrier:y", 2)], NOW)
            .await
            .expect("reserve"),
        Reservation::Granted { spent: 2 },
        "the refused attempt charged the account budget"
    );
}
