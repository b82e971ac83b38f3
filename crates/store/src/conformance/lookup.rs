//! The public lookup by invoice number and date (MOF `qryInvHeader`
//! without the random code).

use super::fixtures::{SELLER_A, allocation, invoice, ok_one};
use crate::{Scope, Store};
use einvoice_core::InvoiceNumber;
use einvoice_core::time::{Date, Month};

/// Found by number and its own date only; another date or number is `None`.
pub async fn lookup_by_number_and_date<S: Store>(s: S) {
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    ok_one(
        &s,
        &Scope::All,
        invoice(SELLER_A, "AB00000001", "1234", 100),
    )
    .await;
    let number = InvoiceNumber::parse("AB00000001").unwrap_or_else(|e| panic!("{e:?}"));
    let day = |d: u8| {
        Date::from_calendar_date(2025, Month::January, d).unwrap_or_else(|e| panic!("{e:?}"))
    };
    let found = s
        .lookup_invoice_by_date(number, day(15))
        .await
        .expect("lookup");
    let found = found.expect("the invoice");
    assert_eq!(found.summary.number, number);
    assert_eq!(found.summary.seller.as_str(), SELLER_A);
    assert!(
        s.lookup_invoice_by_date(number, day(16))
            .await
            .expect("lookup")
            .is_none()
    );
    let other = InvoiceNumber::parse("AB00000002").unwrap_or_else(|e| panic!("{e:?}"));
    assert!(
        s.lookup_invoice_by_date(other, day(15))
            .await
            .expect("lookup")
            .is_none()
    );
}
