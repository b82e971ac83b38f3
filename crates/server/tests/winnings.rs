//! Citizens' winnings and bank accounts over real HTTP, and `carrierInvChk`
//! with `onlyWinningInv=Y` before and after the draw's winners are loaded.

mod common;

use einvoice_core::Period;
use einvoice_secrets::BankAccount;
use einvoice_secrets::Sealer;
use einvoice_server::app_api::INV_SERV_PATH;
use einvoice_store::conformance::{SELLER_A, allocation, invoice, winners_entry};
use einvoice_store::{Scope, Store, WinnerRecord, WinnersLoad};
use serde_json::{Value, json};

const CODE: &str = "Code1234";
const CARRIER: &str = "/ABC+123";
const APP: &str = common::TEST_APP;
const KEY: [u8; 32] = [5u8; 32];

type Site = common::TestSite;

fn period() -> Period {
    Period::parse("11402").expect("period")
}

async fn start() -> Site {
    let (store, dir) = common::sqlite_store();
    let sealer = Sealer::new(&KEY);
    common::put_test_app(&store, &sealer, "test-app-key-0123456789").await;
    for (id, code) in [(CARRIER, CODE), ("/XYZ+999", "Other999")] {
        common::put_carrier(&store, id, code).await;
    }
    let mut msgs = vec![allocation(SELLER_A)];
    for (n, r) in [("AB00000731", "7311"), ("AB00000100", "1001")] {
        msgs.push(invoice(SELLER_A, n, r, 100));
    }
    let out = store
        .append(&Scope::All, "test", msgs)
        .await
        .expect("append");
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    let opts = common::fast_site_options();
    common::serve_site(store, dir, sealer, opts).await
}

impl Site {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rq = self.http.request(m, format!("{}{path}", self.url));
        if let Some(t) = token {
            rq = rq.header("authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            rq = rq
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = rq.send().await.expect("send");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("text");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// `GET /v1/carrier/winnings?period=PERIOD`, as the carrier holding
    /// `token` when there is one.
    async fn winnings(&self, period: &str, token: Option<&str>) -> (u16, Value) {
        let path = format!("/v1/carrier/winnings?period={period}");
        self.call("GET", &path, token, None).await
    }

    async fn login(&self, id: &str, code: &str) -> String {
        let (st, body) = self
            .call(
                "POST",
                "/v1/carrier/login",
                None,
                Some(
                    json!({"carrier_type": "3J0002", "carrier_id": id, "verification_code": code}),
                ),
            )
            .await;
        assert_eq!(st, 200, "{body}");
        body["token"].as_str().expect("token").to_string()
    }

    async fn only_winning(&self) -> Vec<String> {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .to_string();
        let params = [
            ("version", "0.5"),
            ("action", "carrierInvChk"),
            ("cardType", "3J0002"),
            ("cardNo", CARRIER),
            ("cardEncrypt", CODE),
            ("startDate", "2025/01/01"),
            ("endDate", "2025/01/31"),
            ("onlyWinningInv", "Y"),
            ("timeStamp", ts.as_str()),
            ("expTimeStamp", "2147483647"),
            ("uuid", "d"),
            ("appID", APP),
        ];
        let (_, v) = common::post_form(&format!("{}{INV_SERV_PATH}", self.url), &params).await;
        assert_eq!(v["code"], 200, "{v}");
        v["details"]
            .as_array()
            .expect("details")
            .iter()
            .filter_map(|r| r["invNum"].as_str().map(String::from))
            .collect()
    }
}

fn line(line: u64, number: &str, prize: &str, amount: i64, carrier: &str) -> WinnerRecord {
    WinnerRecord {
        line,
        invoice_number: number.into(),
        seller: SELLER_A.into(),
        prize: prize.into(),
        amount,
        payable: amount,
        carrier: Some(format!("3J0002:{carrier}")),
        npo: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn winnings_before_and_after_the_winners_are_loaded() {
    let s = start().await;
    // Numbers where AB00000731 wins the sixth prize (last 3 digits 731).
    common::put_approved_numbers(&s.store, period(), common::numbers_where_731_wins()).await;
    let token = s.login(CARRIER, CODE).await;
    let (st, none) = s.winnings("11402", None).await;
    assert_eq!((st, none["code"].as_str()), (401, Some("AUTH_MISSING")));
    let (st, before) = s.winnings("11402", Some(&token)).await;
    assert_eq!(st, 200, "{before}");
    assert_eq!(before["loaded"], false);
    assert_eq!(before["winnings"], json!([]));
    // Not loaded: the App API computes regular prizes from the numbers.
    assert_eq!(s.only_winning().await, ["AB00000731"]);

    let load = WinnersLoad {
        period: period(),
        actor: "operator:alice".into(),
        winners: vec![
            line(0, "AB00000731", "sixth", 200, CARRIER),
            line(1, "AB00000100", "cloud_500", 500, CARRIER),
            line(2, "AB00000555", "cloud_2000", 2000, "/XYZ+999"),
        ],
    };
    s.store
        .put_winners(load.clone(), winners_entry(&load))
        .await
        .expect("load");
    let (st, after) = s.winnings("11402", Some(&token)).await;
    assert_eq!(st, 200, "{after}");
    assert_eq!(after["loaded"], true);
    assert_eq!(after["payable_total"], 700);
    let rows = after["winnings"].as_array().expect("rows");
    assert_eq!(
        rows.len(),
        2,
        "another carrier's winnings never show: {after}"
    );
    assert_eq!(rows[1]["invoice_number"], "AB00000100");
    assert_eq!(rows[1]["prize"], "cloud_500");
    assert_eq!(rows[1]["amount"], 500);
    // Loaded: the App API answers from the stored winners, cloud prizes included.
    let mut got = s.only_winning().await;
    got.sort();
    assert_eq!(got, ["AB00000100", "AB00000731"]);
    let (st, bad) = s.winnings("11403", Some(&token)).await;
    assert_eq!(st, 400, "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_accounts_are_sealed_and_only_masked() {
    let s = start().await;
    let token = s.login(CARRIER, CODE).await;
    let path = "/v1/carrier/bank-account";
    let (st, none) = s.call("GET", path, Some(&token), None).await;
    assert_eq!(
        (st, none["code"].as_str()),
        (404, Some("BANK_ACCOUNT_NONE"))
    );
    for (body, code) in [
        (
            json!({"bank_code": "81", "account_number": "1", "holder_name": "A"}),
            "BANK_CODE",
        ),
        (
            json!({"bank_code": "812", "account_number": "12345678901234567", "holder_name": "A"}),
            "BANK_ACCOUNT",
        ),
        (
            json!({"bank_code": "812", "account_number": "123", "holder_name": ""}),
            "BANK_HOLDER",
        ),
        (
            json!({"bank_code": "812", "account_number": 9876543210u64, "holder_name": "A"}),
            "BODY_INVALID",
        ),
    ] {
        let (st, p) = s.call("PUT", path, Some(&token), Some(body)).await;
        assert_eq!((st, p["code"].as_str()), (400, Some(code)), "{p}");
        assert!(!p.to_string().contains("9876543210"), "{p}");
    }
    let (st, _) = s
        .call(
            "PUT",
            path,
            None,
            Some(json!({"bank_code": "812", "account_number": "0012345678", "holder_name": "王小明"})),
        )
        .await;
    assert_eq!(st, 401);
    // Issue 16: the token alone does not change the account — the
    // verification code again, and a wrong one changes nothing.
    let account = |code: Option<&str>| {
        let mut b =
            json!({"bank_code": "812", "account_number": "0012345678", "holder_name": "王小明"});
        if let Some(c) = code {
            b["verification_code"] = json!(c);
        }
        b
    };
    let (st, p) = s.call("PUT", path, Some(&token), Some(account(None))).await;
    assert_eq!(
        (st, p["code"].as_str()),
        (400, Some("VERIFICATION_CODE_REQUIRED")),
        "{p}"
    );
    let (st, p) = s
        .call("PUT", path, Some(&token), Some(account(Some("Wrong999"))))
        .await;
    assert_eq!((st, p["code"].as_str()), (401, Some("CARRIER_AUTH")), "{p}");
    let (st, _) = s.call("GET", path, Some(&token), None).await;
    assert_eq!(st, 404, "nothing stored on a refused change");
    let (st, put) = s
        .call("PUT", path, Some(&token), Some(account(Some(CODE))))
        .await;
    assert_eq!(st, 200, "{put}");
    // The change is a ledger event: masked account, hash of the sealed
    // record, never the account number or the holder.
    let events: Vec<_> = s
        .store
        .entries("main", 0, 10_000)
        .await
        .expect("entries")
        .into_iter()
        .filter(|e| e.kind == "CARRIER_BANK_ACCOUNT")
        .collect();
    assert_eq!(events.len(), 1, "one event for one change");
    assert_eq!(events[0].key, "carrier/3J0002:/ABC+123");
    assert_eq!(events[0].actor, "carrier:3J0002:/ABC+123");
    let body: Value = serde_json::from_slice(&events[0].body).expect("json body");
    assert_eq!(body["account_number"], "***5678");
    assert_eq!(body["bank_code"], "812");
    let text = String::from_utf8_lossy(&events[0].body).to_string();
    assert!(
        !text.contains("0012345678") && !text.contains("王小明"),
        "{text}"
    );
    assert_eq!(put["account_number"], "***5678");
    assert!(!put.to_string().contains("0012345678") && !put.to_string().contains("王小明"));
    let (st, got) = s.call("GET", path, Some(&token), None).await;
    assert_eq!(st, 200);
    assert_eq!(got["account_number"], "***5678");
    assert_eq!(got["bank_code"], "812");
    // At rest: sealed; the master key opens it.
    let rec = s
        .store
        .bank_account("3J0002:/ABC+123")
        .await
        .expect("read")
        .expect("stored");
    assert!(!String::from_utf8_lossy(&rec.sealed).contains("0012345678"));
    let open = BankAccount::open(&Sealer::new(&KEY), &rec).expect("open");
    assert_eq!(open.account_number, "0012345678");
    assert_eq!(open.holder_name, "王小明");
    // Another carrier sees none.
    let other = s.login("/XYZ+999", "Other999").await;
    let (st, _) = s.call("GET", path, Some(&other), None).await;
    assert_eq!(st, 404);
}
