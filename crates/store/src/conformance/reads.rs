//! Reads: the invoice lifecycle as the queries show it, carriers and the
//! public lookup, nonces and records.

use super::*;

/// Cancel after issue; cancel before issue is held and applied on arrival; citizens and the public find invoices.
pub async fn lifecycle_and_queries<S: Store>(s: S) {
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    ok_one(
        &s,
        &Scope::All,
        invoice(SELLER_A, "AB00000001", "1234", 100),
    )
    .await;
    ok_one(&s, &Scope::All, cancel(SELLER_A, "AB00000001", "typo")).await;
    let sa = ubn(SELLER_A);
    let v = s
        .invoice(&Scope::All, sa, num("AB00000001"))
        .await
        .expect("read")
        .expect("there");
    assert_eq!(v.summary.status, InvoiceStatus::Cancelled);
    assert_eq!(
        v.message
            .as_ref()
            .and_then(|m| m["Main"]["InvoiceNumber"].as_str()),
        Some("AB00000001")
    );
    // Held cancel.
    ok_one(&s, &Scope::All, cancel(SELLER_A, "AB00000002", "early")).await;
    assert!(
        s.invoice(&Scope::All, sa, num("AB00000002"))
            .await
            .expect("read")
            .is_none()
    );
    ok_one(&s, &Scope::All, invoice(SELLER_A, "AB00000002", "2222", 50)).await;
    let v = s
        .invoice(&Scope::All, sa, num("AB00000002"))
        .await
        .expect("read")
        .expect("there");
    assert_eq!(v.summary.status, InvoiceStatus::Cancelled);
    ok_one(&s, &Scope::All, invoice(SELLER_A, "AB00000003", "3333", 70)).await;
    let carrier = v.summary.carrier.clone().expect("carrier");
    let on = s
        .carrier_invoices(&carrier, period())
        .await
        .expect("carrier");
    assert_eq!(on.len(), 3);
    let found = s
        .lookup_invoice(num("AB00000003"), RandomNumber::parse("3333").expect("r"))
        .await
        .expect("lookup");
    assert_eq!(found.map(|v| v.summary.total), Some(70));
    let wrong = s
        .lookup_invoice(num("AB00000003"), RandomNumber::parse("3334").expect("r"))
        .await
        .expect("lookup");
    assert!(wrong.is_none());
    let page1 = s
        .list_invoices(&Scope::All, sa, period(), None, 2)
        .await
        .expect("page");
    let page2 = s
        .list_invoices(&Scope::All, sa, period(), Some(page1[1].number), 2)
        .await
        .expect("page");
    assert_eq!(page1.len() + page2.len(), 3);
    assert_eq!(
        s.invoice_history(&Scope::All, sa, num("AB00000001"))
            .await
            .expect("h")
            .len(),
        2
    );
}

/// Nonces are single-use; records round-trip.
pub async fn nonces_and_records<S: Store>(s: S) {
    let far = 4_000_000_000;
    assert!(s.remember_nonce("K1", "n1", far).await.expect("nonce"));
    assert!(!s.remember_nonce("K1", "n1", far).await.expect("replay"));
    assert!(s.remember_nonce("K2", "n1", far).await.expect("other key"));
    let key = crate::ApiKeyRecord {
        key_id: "K1".into(),
        secret_sealed: vec![1, 2, 3],
        sellers: vec![ubn(SELLER_A)],
        disabled: false,
        created_unix: 1,
    };
    s.put_api_key(key.clone()).await.expect("put");
    assert_eq!(s.api_key("K1").await.expect("get"), Some(key));
    assert_eq!(s.api_key("nope").await.expect("get"), None);
    assert_eq!(s.operator_count().await.expect("count"), 0);
    s.ping().await.expect("ping");
}
