//! Aggregation (歸戶): links of carriers to mobile barcodes, each change one
//! transaction with its `CARRIER_LINK` entry; a refusal writes nothing; an
//! import rebuilds the links from the entries.

use crate::{CarrierLink, LinkChange, LinkOutcome, Store};
use einvoice_core::aggregation::LinkRefusal;
use einvoice_core::{Carrier, CarrierType};

fn barcode(id: &str) -> Carrier {
    Carrier::parse(CarrierType::MobileBarcode, id).unwrap_or_else(|e| panic!("{e:?}"))
}

fn card(kind: &str, id: &str) -> Carrier {
    Carrier::parse(CarrierType::Other(kind.into()), id).unwrap_or_else(|e| panic!("{e:?}"))
}

fn change(b: &str, c: &Carrier, link: bool) -> LinkChange {
    LinkChange {
        barcode: barcode(b),
        carrier: c.clone(),
        link,
        name: format!("{} card", c.kind.code()),
        actor: "app:demo".into(),
    }
}

async fn entry_count<S: Store>(s: &S) -> usize {
    s.entries(s.site(), 0, 10_000).await.expect("entries").len()
}

async fn refused<S: Store>(s: &S, c: LinkChange, want: LinkRefusal) {
    let before = entry_count(s).await;
    let out = s.change_link(c).await.expect("change");
    assert_eq!(out, LinkOutcome::Refused(want));
    assert_eq!(entry_count(s).await, before, "a refusal writes nothing");
}

/// Link, list, refuse a second link (here and elsewhere), unlink, relink
/// elsewhere; every change is one `CARRIER_LINK` entry.
pub async fn carrier_links<S: Store>(s: S) {
    let easy = card("1K0001", "0123456789");
    let ipass = card("1H0001", "IP-777");
    let before = entry_count(&s).await;
    for c in [&easy, &ipass] {
        match s
            .change_link(change("/ABC+123", c, true))
            .await
            .expect("link")
        {
            LinkOutcome::Done(r) => assert_eq!(r.kind, "CARRIER_LINK"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(entry_count(&s).await, before + 2);
    assert_eq!(
        s.carrier_links(&barcode("/ABC+123")).await.expect("links"),
        vec![
            CarrierLink {
                carrier: ipass.clone(),
                name: "1H0001 card".into()
            },
            CarrierLink {
                carrier: easy.clone(),
                name: "1K0001 card".into()
            },
        ]
    );
    assert_eq!(
        s.linked_barcode(&easy).await.expect("linked"),
        Some(barcode("/ABC+123"))
    );
    refused(
        &s,
        change("/ABC+123", &easy, true),
        LinkRefusal::AlreadyLinked,
    )
    .await;
    refused(
        &s,
        change("/XYZ-999", &easy, true),
        LinkRefusal::LinkedElsewhere,
    )
    .await;
    refused(&s, change("/XYZ-999", &easy, false), LinkRefusal::NotLinked).await;
    refused(
        &s,
        change("/XYZ-999", &barcode("/ABC+123"), true),
        LinkRefusal::NotLinkable,
    )
    .await;
    assert!(matches!(
        s.change_link(change("/ABC+123", &easy, false))
            .await
            .expect("unlink"),
        LinkOutcome::Done(_)
    ));
    assert_eq!(s.linked_barcode(&easy).await.expect("linked"), None);
    refused(&s, change("/ABC+123", &easy, false), LinkRefusal::NotLinked).await;
    assert!(matches!(
        s.change_link(change("/XYZ-999", &easy, true))
            .await
            .expect("relink"),
        LinkOutcome::Done(_)
    ));
    assert_eq!(
        s.carrier_links(&barcode("/ABC+123")).await.expect("links"),
        vec![CarrierLink {
            carrier: ipass,
            name: "1H0001 card".into()
        }]
    );
    assert_eq!(
        s.carrier_links(&barcode("/XYZ-999")).await.expect("links"),
        vec![CarrierLink {
            carrier: easy.clone(),
            name: "1K0001 card".into()
        }]
    );
    assert_eq!(
        s.linked_barcode(&easy).await.expect("linked"),
        Some(barcode("/XYZ-999"))
    );
    assert_eq!(entry_count(&s).await, before + 4);
}

/// An import rebuilds the links in force from the `CARRIER_LINK` entries
/// (link, unlink, link elsewhere: the last generation holds).
pub async fn carrier_links_survive_export_import<S: Store, T: Store>(a: S, b: T) {
    let easy = card("1K0001", "0123456789");
    for (bc, link) in [("/ABC+123", true), ("/ABC+123", false), ("/XYZ-999", true)] {
        let out = a
            .change_link(change(bc, &easy, link))
            .await
            .expect("change");
        assert!(matches!(out, LinkOutcome::Done(_)), "{out:?}");
    }
    let records = a.export_records().await.expect("export");
    let mut entries = Vec::new();
    for origin in a.origins().await.expect("origins") {
        entries.extend(a.entries(&origin, 0, 10_000).await.expect("entries"));
    }
    b.import_site(records, entries).await.expect("import");
    assert_eq!(
        b.linked_barcode(&easy).await.expect("linked"),
        Some(barcode("/XYZ-999"))
    );
    assert!(
        b.carrier_links(&barcode("/ABC+123"))
            .await
            .expect("links")
            .is_empty()
    );
    // The next change on the imported site continues the generations.
    assert!(matches!(
        b.change_link(change("/XYZ-999", &easy, false))
            .await
            .expect("unlink"),
        LinkOutcome::Done(_)
    ));
    assert_eq!(b.linked_barcode(&easy).await.expect("linked"), None);
}
