//! SOC holds ([`crate::SocHold`]): put, read back, replaced in place.

use crate::{SocHold, Store};

/// A hold reads back as put; putting it again (lifted) replaces it; other
/// targets are untouched and an unknown one is `None`.
pub async fn soc_holds_round_trip<S: Store>(s: S) {
    assert_eq!(s.soc_hold("site").await.expect("read"), None);
    let held = SocHold {
        target: "carrier:3J0002:/ABC+123".into(),
        in_force: true,
        since_unix: 1_700_000_000,
        by: "operator:sam".into(),
        changed_unix: 1_700_000_000,
    };
    s.put_soc_hold(held.clone()).await.expect("put");
    s.put_soc_hold(SocHold {
        target: "site".into(),
        ..held.clone()
    })
    .await
    .expect("put site");
    assert_eq!(
        s.soc_hold(&held.target).await.expect("read"),
        Some(held.clone())
    );
    let lifted = SocHold {
        in_force: false,
        changed_unix: 1_700_000_100,
        ..held.clone()
    };
    s.put_soc_hold(lifted.clone()).await.expect("lift");
    assert_eq!(s.soc_hold(&held.target).await.expect("read"), Some(lifted));
    assert_eq!(
        s.soc_hold("site").await.expect("read").map(|h| h.in_force),
        Some(true)
    );
    assert_eq!(s.soc_hold("seller:04595257").await.expect("read"), None);
}
