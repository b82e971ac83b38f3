//! Appending: idempotency by (kind, natural key), numbers inside the
//! seller's allocations, blank ranges.

use super::*;

/// A retry is safe; a different message under the same key is a conflict naming the original.
pub async fn idempotency<S: Store>(s: S) {
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    let first = ok_one(
        &s,
        &Scope::All,
        invoice(SELLER_A, "AB00000001", "1234", 100),
    )
    .await;
    let again = ok_one(
        &s,
        &Scope::All,
        invoice(SELLER_A, "AB00000001", "1234", 100),
    )
    .await;
    assert!(again.duplicate);
    assert_eq!((again.seq, again.hash), (first.seq, first.hash));
    let conflict = rejected(
        &s,
        &Scope::All,
        invoice(SELLER_A, "AB00000001", "1234", 999),
    )
    .await;
    assert_eq!(conflict.code, "DUPLICATE_CONFLICT");
    assert_eq!(conflict.original.as_ref().map(|r| r.seq), Some(first.seq));
    // Inside one batch too.
    let out = s
        .append(
            &Scope::All,
            "t",
            vec![
                invoice(SELLER_A, "AB00000002", "1111", 5),
                invoice(SELLER_A, "AB00000002", "1111", 5),
            ],
        )
        .await
        .expect("batch");
    let (a, b) = (
        out[0].clone().expect("first"),
        out[1].clone().expect("second"),
    );
    assert!(!a.duplicate && b.duplicate && a.seq == b.seq);
    assert_eq!(s.entries(s.site(), 0, 100).await.expect("entries").len(), 3);
}

/// Numbers must come from the seller's own allocation.
pub async fn tracks_and_blanks<S: Store>(s: S) {
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    let outside = rejected(
        &s,
        &Scope::All,
        invoice(SELLER_A, "AC00000001", "1234", 100),
    )
    .await;
    assert_eq!(outside.code, "NUMBER_OUTSIDE_TRACK");
    let other = rejected(
        &s,
        &Scope::All,
        invoice(SELLER_B, "AB00000001", "1234", 100),
    )
    .await;
    assert_eq!(other.code, "NUMBER_OUTSIDE_TRACK");
    assert_eq!(
        rejected(&s, &Scope::All, allocation(SELLER_B)).await.code,
        "TRACK_OVERLAP"
    );
    for n in ["AB00000000", "AB00000001", "AB00000005"] {
        ok_one(&s, &Scope::All, invoice(SELLER_A, n, "1234", 10)).await;
    }
    let a = Scope::sellers([ubn(SELLER_A)]);
    let t = s.tracks(&a, ubn(SELLER_A), period()).await.expect("tracks");
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].begin, t[0].end), (0, 999));
    let b = s.blanks(&a, ubn(SELLER_A), period()).await.expect("blanks");
    let spans: Vec<(u32, u32)> = b.iter().map(|r| (r.begin, r.end)).collect();
    assert_eq!(spans, vec![(2, 4), (6, 999)]);
}
