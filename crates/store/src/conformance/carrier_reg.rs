//! Carrier registration by email: challenges (attempts counted, single
//! use), the barcode issued with its ledger entry in one transaction,
//! refusals that write nothing, code changes, and the mail outbox.

use crate::{
    CarrierContact, CarrierCredential, Challenge, ChallengePurpose, CompleteOutcome, MailMessage,
    OutboxOutcome, Store,
};
use einvoice_core::{Carrier, CarrierType};

fn barcode(id: &str) -> Carrier {
    Carrier::parse(CarrierType::MobileBarcode, id).unwrap_or_else(|e| panic!("{e:?}"))
}

fn challenge(id: &str, email: &str, phone: &str) -> Challenge {
    Challenge {
        id: id.into(),
        purpose: ChallengePurpose::Register,
        email: email.into(),
        phone: phone.into(),
        carrier: None,
        verification_hash: Some("$argon2id$v=19$chosen".into()),
        code_sha256: "ab".repeat(32),
        created_unix: 1_000,
        expires_unix: 1_900,
        attempts: 0,
        used: false,
    }
}

fn mail(id: &str, to: &str) -> MailMessage {
    MailMessage {
        id: id.into(),
        to: to.into(),
        subject: "Your code".into(),
        text: "code: 12345678".into(),
    }
}

fn credential(c: &Carrier, email: &str, phone: &str) -> CarrierCredential {
    CarrierCredential {
        carrier: c.clone(),
        verification_hash: "$argon2id$v=19$chosen".into(),
        contact: Some(CarrierContact {
            carrier: c.clone(),
            email: email.into(),
            phone: phone.into(),
        }),
    }
}

async fn entry_count<S: Store>(s: &S) -> usize {
    s.entries(s.site(), 0, 10_000).await.expect("entries").len()
}

/// A registration: the challenge and its mail in one write, attempts
/// counted, the barcode issued once (record, contact and
/// `CARRIER_REGISTERED` entry together), taken barcodes and contacts
/// refused with nothing written, code changes recorded.
pub async fn carrier_registration<S: Store>(s: S) {
    let (a, b) = (barcode("/ABC+123"), barcode("/XYZ-999"));
    s.put_challenge(
        challenge("r1", "a@example.com", "0912345678"),
        mail("m1", "a@example.com"),
        1_000,
    )
    .await
    .expect("put");
    let claimed = s.mail_claim(1_000, 10, 30, "w1").await.expect("claim");
    assert_eq!(claimed.len(), 1);
    let m = MailMessage::from_item(&claimed[0]).expect("a mail");
    assert_eq!(m, mail("m1", "a@example.com"));
    assert!(
        s.attempt_challenge("nope")
            .await
            .expect("attempt")
            .is_none()
    );
    let ch = s
        .attempt_challenge("r1")
        .await
        .expect("attempt")
        .expect("known");
    assert_eq!(
        (ch.attempts, ch.used, ch.purpose),
        (1, false, ChallengePurpose::Register)
    );
    assert_eq!(
        ch.verification_hash.as_deref(),
        Some("$argon2id$v=19$chosen")
    );
    assert_eq!(
        s.attempt_challenge("r1")
            .await
            .expect("attempt")
            .map(|c| c.attempts),
        Some(2)
    );

    // A taken barcode refuses and writes nothing.
    s.put_carrier(crate::CarrierRecord {
        carrier: b.clone(),
        verification_hash: "x".into(),
        failures: 0,
        locked_until: 0,
    })
    .await
    .expect("carrier");
    let before = entry_count(&s).await;
    assert_eq!(
        s.complete_challenge(
            "r1",
            credential(&b, "a@example.com", "0912345678"),
            "site:t"
        )
        .await
        .expect("complete"),
        CompleteOutcome::BarcodeTaken
    );
    assert_eq!(entry_count(&s).await, before);
    assert!(!s.attempt_challenge("r1").await.expect("a").expect("k").used);

    let done = s
        .complete_challenge(
            "r1",
            credential(&a, "a@example.com", "0912345678"),
            "site:t",
        )
        .await
        .expect("complete");
    let CompleteOutcome::Done(receipt) = done else {
        panic!("{done:?}")
    };
    assert_eq!(receipt.kind, crate::CARRIER_REGISTERED);
    assert_eq!(entry_count(&s).await, before + 1);
    let rec = s.carrier(&a).await.expect("carrier").expect("registered");
    assert_eq!(rec.verification_hash, "$argon2id$v=19$chosen");
    let contact = s
        .carrier_by_phone("0912345678")
        .await
        .expect("phone")
        .expect("found");
    assert_eq!(contact.carrier, a);
    assert_eq!(
        s.carrier_by_email("a@example.com")
            .await
            .expect("email")
            .map(|c| c.carrier),
        Some(a.clone())
    );
    assert_eq!(
        s.carrier_contact(&a)
            .await
            .expect("contact")
            .map(|c| c.phone),
        Some("0912345678".into())
    );
    // Single use.
    assert_eq!(
        s.complete_challenge(
            "r1",
            credential(&a, "a@example.com", "0912345678"),
            "site:t"
        )
        .await
        .expect("complete"),
        CompleteOutcome::Used
    );
    assert!(s.attempt_challenge("r1").await.expect("a").expect("k").used);
    // The same phone again: refused, nothing written.
    s.put_challenge(
        challenge("r2", "b@example.com", "0912345678"),
        mail("m2", "b@example.com"),
        1_000,
    )
    .await
    .expect("put");
    let c = barcode("/QQQ.000");
    assert_eq!(
        s.complete_challenge(
            "r2",
            credential(&c, "b@example.com", "0912345678"),
            "site:t"
        )
        .await
        .expect("complete"),
        CompleteOutcome::ContactTaken
    );
    assert!(s.carrier(&c).await.expect("carrier").is_none());
    assert_eq!(entry_count(&s).await, before + 1);

    // A code change: record replaced, entry appended, mail queued with it.
    let r = s
        .change_verification(
            CarrierCredential {
                carrier: a.clone(),
                verification_hash: "$argon2id$v=19$new".into(),
                contact: None,
            },
            "carrier:3J0002:/ABC+123",
            Some(mail("m3", "a@example.com")),
            1_000,
        )
        .await
        .expect("change");
    assert_eq!(r.kind, crate::CARRIER_VERIFICATION);
    assert_eq!(
        s.carrier(&a)
            .await
            .expect("c")
            .expect("c")
            .verification_hash,
        "$argon2id$v=19$new"
    );
    assert_eq!(entry_count(&s).await, before + 2);
}

/// The mail outbox: disjoint leases, failures rescheduled, a delivered
/// mail erased and never claimed again, a queued id queued once.
pub async fn mail_outbox<S: Store>(s: S) {
    s.queue_mail(mail("x1", "a@example.com"), 100)
        .await
        .expect("queue");
    s.queue_mail(mail("x1", "other@example.com"), 100)
        .await
        .expect("queue again");
    s.queue_mail(mail("x2", "b@example.com"), 100)
        .await
        .expect("queue");
    let one = s.mail_claim(100, 1, 30, "w1").await.expect("claim");
    let two = s.mail_claim(100, 10, 30, "w2").await.expect("claim");
    assert_eq!((one.len(), two.len()), (1, 1));
    assert_ne!(one[0].id, two[0].id);
    assert!(
        s.mail_claim(100, 10, 30, "w3")
            .await
            .expect("claim")
            .is_empty()
    );
    let x1 = if one[0].id == "x1" { &one[0] } else { &two[0] };
    assert_eq!(
        MailMessage::from_item(x1).map(|m| m.to),
        Some("a@example.com".into())
    );
    let (w_x1, w_x2) = if one[0].id == "x1" {
        ("w1", "w2")
    } else {
        ("w2", "w1")
    };
    assert!(
        !s.mail_mark("x1", "w3", OutboxOutcome::Delivered { at_unix: 101 })
            .await
            .expect("mark")
    );
    assert!(
        s.mail_mark("x1", w_x1, OutboxOutcome::Delivered { at_unix: 101 })
            .await
            .expect("mark")
    );
    assert!(
        s.mail_mark(
            "x2",
            w_x2,
            OutboxOutcome::Failed {
                next_unix: 200,
                error: "421".into()
            }
        )
        .await
        .expect("mark")
    );
    assert!(
        s.mail_claim(150, 10, 30, "w1")
            .await
            .expect("claim")
            .is_empty()
    );
    let again = s.mail_claim(200, 10, 30, "w1").await.expect("claim");
    assert_eq!(
        again
            .iter()
            .map(|i| (i.id.as_str(), i.attempts))
            .collect::<Vec<_>>(),
        [("x2", 1)]
    );
}
