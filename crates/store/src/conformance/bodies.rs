//! Bodies kept compactly (`body_codec`): once a store holds enough bodies
//! to train its dictionary, everything above the backend still sees the
//! exact canonical bytes — entries, idempotency, invoice views, the carrier
//! read path, the verify, export and import.

use super::*;
use crate::read_projection::{CarrierInvoice, InvoiceDetail};

/// Invoices appended: enough for every backend to train its dictionary.
const INVOICES: u32 = 2_100;

/// A store past its dictionary's training answers every read with the
/// canonical bytes it was given, decides idempotency on them, and an
/// import of its export into `b` answers the same.
pub async fn compressed_bodies_read_back_exactly<S: Store, T: Store>(a: S, b: T) {
    let mut sent = vec![wide_allocation(SELLER_A)];
    sent.extend((0..INVOICES).map(|n| five_item_invoice(SELLER_A, n)));
    for chunk in sent.chunks(300) {
        for o in a
            .append(&Scope::All, "test", chunk.to_vec())
            .await
            .expect("append")
        {
            o.unwrap_or_else(|r| panic!("rejected: {r:?}"));
        }
    }
    let entries = a.entries(a.site(), 0, 10_000).await.expect("entries");
    assert_eq!(entries.len(), sent.len());
    for (e, m) in entries.iter().zip(&sent) {
        assert_eq!(
            e.body,
            einvoice_mig::canonical(&m.message),
            "entry {}",
            e.seq
        );
    }

    // Idempotency compares canonical bytes, one by one and in a batch.
    let again = ok_one(&a, &Scope::All, five_item_invoice(SELLER_A, 7)).await;
    assert!(again.duplicate);
    assert_eq!(again.seq, entries[8].seq);
    let out = a
        .append(
            &Scope::All,
            "test",
            vec![
                five_item_invoice(SELLER_A, 8),
                invoice(SELLER_A, "AB00000009", "0009", 1),
            ],
        )
        .await
        .expect("batch");
    assert!(out[0].as_ref().is_ok_and(|r| r.duplicate));
    assert_eq!(
        out[1].as_ref().err().map(|r| r.code),
        Some("DUPLICATE_CONFLICT")
    );

    // The invoice view and the carrier read path.
    let view = a
        .invoice(&Scope::All, ubn(SELLER_A), num("AB00000017"))
        .await
        .expect("read")
        .expect("there");
    let body = einvoice_mig::canonical(&sent[18].message);
    assert_eq!(
        view.message,
        Some(serde_json::from_slice(&body).expect("json"))
    );
    let carrier = view.summary.carrier.clone().expect("carrier");
    let rows = a
        .carrier_invoice_rows(&carrier, period())
        .await
        .expect("rows");
    assert_eq!(rows.len(), INVOICES as usize / 10);
    let old: Vec<CarrierInvoice> = a
        .carrier_invoices(&carrier, period())
        .await
        .expect("views")
        .iter()
        .map(CarrierInvoice::from_view)
        .collect();
    assert_eq!(rows, old);
    let first = rows
        .iter()
        .find(|r| r.summary.number == num("AB00000017"))
        .expect("on the carrier");
    assert_eq!(
        first.detail,
        InvoiceDetail::from_body(&body).expect("detail")
    );
    let verdict = a.verify_ledger(a.site()).await.expect("verify");
    assert_eq!(
        (verdict.entries, verdict.broken.clone()),
        (sent.len() as u64, None)
    );

    // Export and import.
    let records = a.export_records().await.expect("records");
    b.import_site(records, entries.clone())
        .await
        .expect("import");
    assert_eq!(
        b.entries(a.site(), 0, 10_000).await.expect("entries"),
        entries
    );
    assert_eq!(
        b.carrier_invoice_rows(&carrier, period())
            .await
            .expect("rows"),
        rows
    );
    assert_eq!(b.verify_ledger(a.site()).await.expect("verify"), verdict);
}
