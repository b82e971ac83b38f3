//! What the cases share: test sellers, messages, winner lines, the draw's
//! ledger entries and small helpers. Public items are used by other crates'
//! tests too.

use super::*;

/// Seller A (a valid UBN).
pub const SELLER_A: &str = "04595257";

/// Seller B (a valid UBN).
pub const SELLER_B: &str = "12345676";

pub(super) fn ubn(s: &str) -> Ubn {
    Ubn::parse(s).unwrap_or_else(|e| panic!("test UBN {s}: {e:?}"))
}

pub(super) fn v(json: &str) -> Validated {
    let m = einvoice_mig::decode_json(json.as_bytes())
        .unwrap_or_else(|e| panic!("decode: {e}\n{json}"));
    validate(&m, &Rules::production()).unwrap_or_else(|e| panic!("validate: {e:?}\n{json}"))
}

/// An E0401 giving `seller` numbers AB00000000–AB00000999 in period 11402.
pub fn allocation(seller: &str) -> Validated {
    v(&format!(
        r#"{{"message":"E0401","Main":{{"HeadBan":"{seller}","BranchBan":"{seller}","InvoiceType":"07","YearMonth":"11402","InvoiceTrack":"AB","InvoiceBeginNo":"00000000","InvoiceEndNo":"00000999"}},
        "Details":[{{"InvoiceBeginNo":"00000000","InvoiceEndNo":"00000999","InvoiceBooklet":"20"}}]}}"#
    ))
}

/// An E0401 giving `seller` numbers AB00000000–AB00002999 in period 11402
/// (room for enough invoices to train a body dictionary).
pub fn wide_allocation(seller: &str) -> Validated {
    v(&format!(
        r#"{{"message":"E0401","Main":{{"HeadBan":"{seller}","BranchBan":"{seller}","InvoiceType":"07","YearMonth":"11402","InvoiceTrack":"AB","InvoiceBeginNo":"00000000","InvoiceEndNo":"00002999"}},
        "Details":[{{"InvoiceBeginNo":"00000000","InvoiceEndNo":"00002999","InvoiceBooklet":"60"}}]}}"#
    ))
}

/// A five-item B2C F0401 number `AB{n:08}` (within [`wide_allocation`]) on
/// one of ten mobile barcodes (`/ABC+12{n % 10}`).
pub fn five_item_invoice(seller: &str, n: u32) -> Validated {
    let items: Vec<String> = (1..=5)
        .map(|k| {
            let price = 10 + (n * 7 + k * 13) % 290;
            format!(
                r#"{{"Description":"item {k} of order {n}","Quantity":"{k}","UnitPrice":"{price}","TaxType":"1","Amount":"{}","SequenceNumber":"{k}"}}"#,
                price * k
            )
        })
        .collect();
    let total: u32 = (1..=5).map(|k| (10 + (n * 7 + k * 13) % 290) * k).sum();
    v(&format!(
        r#"{{"message":"F0401","Main":{{"InvoiceNumber":"AB{n:08}","InvoiceDate":"20250115","InvoiceTime":"10:{:02}:00",
        "Seller":{{"Identifier":"{seller}","Name":"Shop {}","Address":"Taipei"}},"Buyer":{{"Identifier":"0000000000","Name":"0000"}},
        "InvoiceType":"07","DonateMark":"0","CarrierType":"3J0002","CarrierId1":"/ABC+12{}","CarrierId2":"/ABC+12{}","PrintMark":"N","RandomNumber":"{:04}"}},
        "Details":[{}],
        "Amount":{{"SalesAmount":"{total}","FreeTaxSalesAmount":"0","ZeroTaxSalesAmount":"0","TaxType":"1","TaxRate":"0.05","TaxAmount":"0","TotalAmount":"{total}"}}}}"#,
        n % 60,
        n % 17,
        n % 10,
        n % 10,
        n % 10_000,
        items.join(",")
    ))
}

/// A B2C F0401 on mobile barcode `/ABC+123` for NT$`total`.
pub fn invoice(seller: &str, number: &str, random: &str, total: u32) -> Validated {
    v(&format!(
        r#"{{"message":"F0401","Main":{{"InvoiceNumber":"{number}","InvoiceDate":"20250115","InvoiceTime":"10:00:00",
        "Seller":{{"Identifier":"{seller}","Name":"Shop","Address":"Taipei"}},"Buyer":{{"Identifier":"0000000000","Name":"0000"}},
        "InvoiceType":"07","DonateMark":"0","CarrierType":"3J0002","CarrierId1":"/ABC+123","CarrierId2":"/ABC+123","PrintMark":"N","RandomNumber":"{random}"}},
        "Details":[{{"Description":"Tea","Quantity":"1","UnitPrice":"{total}","TaxType":"1","Amount":"{total}","SequenceNumber":"1"}}],
        "Amount":{{"SalesAmount":"{total}","FreeTaxSalesAmount":"0","ZeroTaxSalesAmount":"0","TaxType":"1","TaxRate":"0.05","TaxAmount":"0","TotalAmount":"{total}"}}}}"#
    ))
}

/// An F0501 cancelling `number` (issued 2025-01-15).
pub fn cancel(seller: &str, number: &str, reason: &str) -> Validated {
    v(&format!(
        r#"{{"message":"F0501","CancelInvoiceNumber":"{number}","InvoiceDate":"20250115","BuyerId":"0000000000","SellerId":"{seller}","CancelDate":"20250116","CancelTime":"09:00:00","CancelReason":"{reason}"}}"#
    ))
}

pub(super) fn period() -> Period {
    Period::parse("11402").unwrap_or_else(|e| panic!("{e:?}"))
}

pub(super) fn num(s: &str) -> InvoiceNumber {
    InvoiceNumber::parse(s).unwrap_or_else(|e| panic!("{e:?}"))
}

pub(super) async fn ok_one<S: Store>(s: &S, scope: &Scope, m: Validated) -> crate::Receipt {
    let mut out = s.append(scope, "test", vec![m]).await.expect("append");
    out.remove(0).unwrap_or_else(|r| panic!("rejected: {r:?}"))
}

pub(super) async fn rejected<S: Store>(s: &S, scope: &Scope, m: Validated) -> Rejection {
    let mut out = s.append(scope, "test", vec![m]).await.expect("append");
    match out.remove(0) {
        Ok(r) => panic!("expected a rejection, got {r:?}"),
        Err(r) => r,
    }
}

/// Test winner lines: two on the conformance carrier, one donated.
pub fn sample_winners() -> Vec<crate::WinnerRecord> {
    let w = |line: u64,
             number: &str,
             prize: &str,
             amount: i64,
             payable: i64,
             carrier: Option<&str>,
             npo: Option<&str>| crate::WinnerRecord {
        line,
        invoice_number: number.into(),
        seller: SELLER_A.into(),
        prize: prize.into(),
        amount,
        payable,
        carrier: carrier.map(String::from),
        npo: npo.map(String::from),
    };
    vec![
        w(
            0,
            "AB00000001",
            "sixth",
            200,
            200,
            Some("3J0002:/ABC+123"),
            None,
        ),
        w(
            1,
            "AB00000001",
            "cloud_500",
            500,
            500,
            Some("3J0002:/ABC+123"),
            None,
        ),
        w(2, "AB00000007", "fifth", 1000, 1000, None, Some("919")),
        w(
            3,
            "AB00000009",
            "sixth",
            200,
            200,
            Some("3J0002:/XYZ+999"),
            None,
        ),
    ]
}

/// `n` payable sixth-prize lines of [`SELLER_A`], all on one carrier (so a
/// load of them enqueues `n` notifications, ids `winner/<period>/0` … in
/// line order).
pub fn carrier_winner_lines(n: u64) -> Vec<crate::WinnerRecord> {
    (0..n)
        .map(|line| crate::WinnerRecord {
            line,
            invoice_number: format!("AB{:08}", line + 1),
            seller: SELLER_A.into(),
            prize: "sixth".into(),
            amount: 200,
            payable: 200,
            carrier: Some("3J0002:/ABC+123".into()),
            npo: None,
        })
        .collect()
}

/// A winners load of [`carrier_winner_lines`] for the suite's period.
pub(super) fn many_winners(n: u64) -> crate::WinnersLoad {
    crate::WinnersLoad {
        period: period(),
        actor: "alice".into(),
        winners: carrier_winner_lines(n),
    }
}

pub(super) fn ids_of(v: Vec<crate::OutboxItem>) -> Vec<String> {
    v.into_iter().map(|n| n.id).collect()
}

/// The ledger entry a freeze is stored with, as `draw freeze` writes it.
pub fn freeze_entry(f: &crate::DrawFreeze) -> crate::NewEntry {
    f.ledger_entry()
}

/// The ledger entry a winners load is stored with, as `draw run` writes it
/// (with a fixed run: root, commitment and numbers version are not the
/// store's to check).
pub fn winners_entry(load: &crate::WinnersLoad) -> crate::NewEntry {
    let run = crate::DrawRunFacts {
        snapshot_root: "00".repeat(32),
        commitment: "11".repeat(32),
        numbers_version: 1,
        numbers_approved_by: "bob".into(),
    };
    load.ledger_entry(&run, &load.digest())
}

/// Load winners with [`winners_entry`] as their ledger entry.
pub async fn load_winners<S: Store>(s: &S, load: crate::WinnersLoad) -> crate::DrawPut {
    let entry = winners_entry(&load);
    s.put_winners(load, entry).await.expect("load")
}

/// Claim at time 1000 (60 s leases, `batch` a claim) as `worker` until
/// nothing is left: (item id, worker) of everything claimed.
pub async fn claim_until_empty<S: Store>(s: &S, worker: &str, batch: u32) -> Vec<(String, String)> {
    let mut got = Vec::new();
    loop {
        let items = s
            .outbox_claim(1000, batch, 60, worker)
            .await
            .expect("claim");
        if items.is_empty() {
            return got;
        }
        got.extend(items.into_iter().map(|i| (i.id, worker.to_string())));
    }
}

/// Every entry of the site's ledger, after checking that the chain verifies
/// (what `einvoice ledger verify` checks) and holds exactly them.
pub(super) async fn verified_ledger<S: Store>(s: &S) -> Vec<crate::LedgerEntry> {
    let entries = s.entries(s.site(), 0, 10_000).await.expect("entries");
    let verdict = s.verify_ledger(s.site()).await.expect("verify");
    assert_eq!(verdict.broken, None);
    assert_eq!(verdict.entries, entries.len() as u64);
    entries
}

/// Entries that are not the record's are refused before anything is
/// written: another kind, key, period or actor, or a body that is not JSON.
pub(super) fn mismatched(good: &crate::NewEntry) -> Vec<crate::NewEntry> {
    let other = Period::parse("11404").unwrap_or_else(|e| panic!("{e:?}"));
    let with = |f: &dyn Fn(&mut crate::NewEntry)| {
        let mut e = good.clone();
        f(&mut e);
        e
    };
    vec![
        with(&|e| e.kind = "ADMIN".into()),
        with(&|e| e.kind = "F0401".into()),
        with(&|e| e.key = crate::draw_entry_key(other)),
        with(&|e| e.actor = String::new()),
        with(&|e| e.body = b"not json".to_vec()),
        with(&|e| {
            e.body = serde_json::json!({"period": other.to_string()})
                .to_string()
                .into_bytes()
        }),
    ]
}

/// As worker `w` (holding `"winner/11402/0"` and `"winner/11402/1"`): the
/// first fails with HTTP 500 (retry at 100), the second is delivered at 5;
/// both marks must apply.
pub(super) async fn fail_0_deliver_1<S: Store>(s: &S) {
    let failed = crate::OutboxOutcome::Failed {
        next_unix: 100,
        error: "HTTP 500".into(),
    };
    assert!(
        s.outbox_mark("winner/11402/0", "w", failed)
            .await
            .expect("fail")
    );
    let delivered = crate::OutboxOutcome::Delivered { at_unix: 5 };
    assert!(
        s.outbox_mark("winner/11402/1", "w", delivered)
            .await
            .expect("done")
    );
}

/// A valid v1 hash chain of `n` `ADMIN` ledger entries (sequence numbers
/// 1..=`n`, body `{"n":<seq>}`) for `origin`, linked from
/// [`crate::EntryHash::GENESIS`]: what the chain checks of the store and of
/// an export file are tested against.
pub fn chain(origin: &str, n: u64) -> Vec<crate::LedgerEntry> {
    let mut prev = crate::EntryHash::GENESIS;
    (1..=n)
        .map(|seq| {
            let body = format!("{{\"n\":{seq}}}").into_bytes();
            let hlc = crate::Hlc(seq);
            let hash = crate::hash_entry(&prev, origin, seq, hlc, "ADMIN", "k", "test", &body);
            let entry = crate::LedgerEntry {
                origin: origin.into(),
                seq,
                hlc,
                kind: "ADMIN".into(),
                key: "k".into(),
                actor: "test".into(),
                body,
                prev_hash: prev,
                hash,
                body_digest: None,
                withheld: false,
            };
            prev = hash;
            entry
        })
        .collect()
}

/// The v2 chain another site would have written for `entries`, in order,
/// from seq 1 (hlc = seq): what a sync page of that origin carries.
pub fn chain_of(origin: &str, entries: &[crate::NewEntry]) -> Vec<crate::LedgerEntry> {
    let mut prev = crate::EntryHash::GENESIS;
    (1..)
        .zip(entries)
        .map(|(seq, n)| {
            let e = crate::LedgerEntry::new_v2(
                origin,
                seq,
                crate::Hlc(seq),
                &n.kind,
                &n.key,
                &n.actor,
                n.body.clone(),
                prev,
            );
            prev = e.hash;
            e
        })
        .collect()
}

/// A valid v2 hash chain of `n` `ADMIN` entries for `origin` (bodies
/// `{"n":<seq>}`, every body present): what withholding is tested against.
pub fn chain_v2(origin: &str, n: u64) -> Vec<crate::LedgerEntry> {
    let mut prev = crate::EntryHash::GENESIS;
    (1..=n)
        .map(|seq| {
            let body = format!("{{\"n\":{seq}}}").into_bytes();
            let e = crate::LedgerEntry::new_v2(
                origin,
                seq,
                crate::Hlc(seq),
                "ADMIN",
                "k",
                "test",
                body,
                prev,
            );
            prev = e.hash;
            e
        })
        .collect()
}
