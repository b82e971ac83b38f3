//! `getBarcode` must not tell whether a phone number is registered: the
//! attempt budget is the phone's own, charged the same way for a known and
//! an unknown phone, so the answers (919 wrong, 920 locked) follow the same
//! sequence for both, and guesses at unknown phones do not lock anyone else.

mod common;

use einvoice_core::{Carrier, CarrierType};
use einvoice_server::app_api::hash_verification_code;
use einvoice_store::{
    CarrierContact, CarrierCredential, CarrierRegStore, Challenge, ChallengePurpose,
    CompleteOutcome, MailMessage,
};
use serde_json::Value;

const APP_KEY: &str = "test-app-key-0123456789";
const PHONE: &str = "0933333333";
const BARCODE: &str = "/MOF+123";
const CODE: &str = "Mof12345";

async fn start() -> common::TestSite {
    let (store, dir) = common::sqlite_store();
    let sealer = common::sealer(7);
    common::put_test_app(&store, &sealer, APP_KEY).await;
    // A barcode registered with PHONE, as a confirmed registration leaves it.
    store
        .put_challenge(
            Challenge {
                id: "0".repeat(32),
                purpose: ChallengePurpose::Register,
                email: "m@example.com".into(),
                phone: PHONE.into(),
                carrier: None,
                verification_hash: None,
                code_sha256: "0".repeat(64),
                created_unix: 0,
                expires_unix: i64::MAX,
                attempts: 0,
                used: false,
            },
            MailMessage {
                id: "m".into(),
                to: "m@example.com".into(),
                subject: "s".into(),
                text: "t".into(),
            },
            0,
        )
        .await
        .expect("challenge");
    let carrier = Carrier::parse(CarrierType::MobileBarcode, BARCODE).expect("barcode");
    let out = store
        .complete_challenge(
            &"0".repeat(32),
            CarrierCredential {
                carrier: carrier.clone(),
                verification_hash: hash_verification_code(CODE).expect("hash"),
                contact: Some(CarrierContact {
                    carrier,
                    email: "m@example.com".into(),
                    phone: PHONE.into(),
                }),
            },
            "test",
        )
        .await
        .expect("complete");
    assert!(matches!(out, CompleteOutcome::Done(_)), "{out:?}");
    common::serve_site(store, dir, sealer, common::fast_site_options()).await
}

async fn get(s: &common::TestSite, phone: &str, code: &str) -> Value {
    let (status, v) = common::post_form(
        &format!("{}/PB2CAPIVAN/Carrier/AppGetBarcode", s.url),
        &[
            ("version", "1.0"),
            ("action", "getBarcode"),
            ("phoneNo", phone),
            ("verificationCode", code),
            ("timeStamp", "1"),
            ("uuid", "d"),
            ("appID", common::TEST_APP),
        ],
    )
    .await;
    assert_eq!(status, 200);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_at_unknown_phones_do_not_lock_other_unknown_phones() {
    let s = start().await;
    // More wrong guesses at distinct unknown phones than any budget allows:
    // each phone has its own budget, so every one is a plain 919 — as the
    // first guess at a registered phone is.
    for i in 0..6 {
        let phone = format!("09444444{i:02}");
        let v = get(&s, &phone, "Wrong1234").await;
        assert_eq!(v["code"], 919, "unknown phone {phone}: {v}");
    }
    let v = get(&s, PHONE, "Wrong1234").await;
    assert_eq!(v["code"], 919, "{v}");
    let v = get(&s, "0955555555", "Wrong1234").await;
    assert_eq!(
        v["code"], 919,
        "a fresh unknown phone after the others: {v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_and_an_unknown_phone_answer_the_same_sequence() {
    let s = start().await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..5 {
        known.push(get(&s, PHONE, "Wrong1234").await["code"].clone());
        unknown.push(get(&s, "0966666666", "Wrong1234").await["code"].clone());
    }
    assert_eq!(known, unknown);
    assert!(
        known.iter().any(|c| c == 920),
        "the phone's budget runs out: {known:?}"
    );
    assert_eq!(known.first().and_then(Value::as_u64), Some(919));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_right_code_answers_the_barcode_and_the_barcode_budget_is_not_charged() {
    let s = start().await;
    let v = get(&s, PHONE, CODE).await;
    assert_eq!(v["code"], 200, "{v}");
    assert_eq!(v["cardNo"], BARCODE);
    // Wrong guesses by phone spend the phone's budget, not the barcode's
    // (otherwise locking a barcode elsewhere would show which phone holds it).
    for _ in 0..5 {
        get(&s, PHONE, "Wrong1234").await;
    }
    let login = s
        .http
        .post(format!("{}/v1/carrier/login", s.url))
        .json(&serde_json::json!({"carrier_type": "3J0002", "carrier_id": BARCODE, "verification_code": CODE}))
        .send()
        .await
        .expect("send");
    assert_eq!(login.status().as_u16(), 200);
}
