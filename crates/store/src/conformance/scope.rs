//! Tenant scope: no tenant reads or writes another's data.

use super::*;

/// No tenant reads or writes another's data; an integrator sees what it was granted.
pub async fn tenant_matrix<S: Store>(s: S) {
    ok_one(&s, &Scope::All, allocation(SELLER_A)).await;
    let a = Scope::sellers([ubn(SELLER_A)]);
    let b = Scope::sellers([ubn(SELLER_B)]);
    let both = Scope::sellers([ubn(SELLER_A), ubn(SELLER_B)]);
    assert_eq!(
        rejected(&s, &b, invoice(SELLER_A, "AB00000001", "1234", 100))
            .await
            .code,
        "TENANT_SCOPE"
    );
    ok_one(&s, &a, invoice(SELLER_A, "AB00000001", "1234", 100)).await;
    let (sa, n) = (ubn(SELLER_A), num("AB00000001"));
    for (scope, visible) in [(&a, true), (&b, false), (&both, true), (&Scope::All, true)] {
        assert_eq!(
            s.invoice(scope, sa, n).await.expect("invoice").is_some(),
            visible
        );
        assert_eq!(
            !s.invoice_history(scope, sa, n)
                .await
                .expect("history")
                .is_empty(),
            visible
        );
        assert_eq!(
            !s.list_invoices(scope, sa, period(), None, 10)
                .await
                .expect("list")
                .is_empty(),
            visible
        );
        assert_eq!(
            !s.tracks(scope, sa, period())
                .await
                .expect("tracks")
                .is_empty(),
            visible
        );
        assert_eq!(
            !s.blanks(scope, sa, period())
                .await
                .expect("blanks")
                .is_empty(),
            visible
        );
    }
}
