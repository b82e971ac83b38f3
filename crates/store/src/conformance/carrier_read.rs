//! The carrier read path ([`Store::carrier_invoice_rows`]): the projection
//! answers what decoding each issuing message answers, through every status.

use super::*;
use crate::read_projection::{CarrierInvoice, ItemLine};

/// Issued, cancelled and held-then-issued invoices on one carrier: the read
/// projection's rows equal the body-decoding path's, field by field.
pub async fn carrier_read_path<S: Store>(s: S) {
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    ok_one(&s, &Scope::All, cancel(SELLER_A, "AB00000002", "early")).await;
    for (n, r, t) in [
        ("AB00000001", "1111", 100),
        ("AB00000002", "2222", 50),
        ("AB00000003", "3333", 70),
    ] {
        ok_one(&s, &Scope::All, invoice(SELLER_A, n, r, t)).await;
    }
    ok_one(&s, &Scope::All, cancel(SELLER_A, "AB00000003", "typo")).await;
    let v = s
        .invoice(&Scope::All, ubn(SELLER_A), num("AB00000001"))
        .await
        .expect("read")
        .expect("there");
    let carrier = v.summary.carrier.clone().expect("carrier");
    let rows = s
        .carrier_invoice_rows(&carrier, period())
        .await
        .expect("rows");
    let old: Vec<CarrierInvoice> = s
        .carrier_invoices(&carrier, period())
        .await
        .expect("views")
        .iter()
        .map(CarrierInvoice::from_view)
        .collect();
    assert_eq!(rows, old);
    assert_eq!(rows.len(), 3);
    let statuses: Vec<_> = rows.iter().map(|r| r.summary.status).collect();
    assert_eq!(
        statuses,
        [
            InvoiceStatus::Issued,
            InvoiceStatus::Cancelled,
            InvoiceStatus::Cancelled
        ]
    );
    assert_eq!(rows[0].detail.seller_name.as_deref(), Some("Shop"));
    assert_eq!(rows[0].detail.seller_address.as_deref(), Some("Taipei"));
    assert_eq!(
        rows[0].detail.items,
        [ItemLine {
            description: Some("Tea".into()),
            quantity: Some("1".into()),
            unit_price: Some("100".into()),
            amount: Some("100".into()),
            sequence_number: Some("1".into()),
        }]
    );
    let other = Period::parse("11404").expect("period");
    assert!(
        s.carrier_invoice_rows(&carrier, other)
            .await
            .expect("rows")
            .is_empty()
    );
}
