//! Aggregation (歸戶) end to end over HTTP: `carrierAction` and
//! `qryCarrierAgg` on their MOF paths, the REST forms under
//! `/v1/carrier/links`, and the linked carrier's invoices in the barcode's
//! `carrierInvChk` / `carrierInvDetail`. The store is changed only by the
//! requests; every refusal writes nothing.

mod common;

use einvoice_core::period::format_mig_date;
use einvoice_core::time::{Date, OffsetDateTime, UtcOffset};
use einvoice_core::{Carrier, CarrierType, Period, Rules};
use einvoice_server::app_api::{SignatureAlg, hash_verification_code, sign, signing_string};
use einvoice_server::clock::Clock;
use einvoice_server::demo::validated;
use einvoice_store::conformance::SELLER_A;
use einvoice_store::{CarrierRecord, Scope, Store};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU32, Ordering};

const APP: &str = common::TEST_APP;
const APP_KEY: &str = "test-app-key-0123456789";
const BARCODE: &str = "/ABC+123";
const CODE: &str = "Code1234";
const OTHER: &str = "/XYZ+999";
const OTHER_CODE: &str = "Other999";
const EASY: &str = "0123456789";
const EASY_CODE: &str = "Easy1234";
const ACTION_PATH: &str = "/PB2CAPIVAN/MobBarCar/CarrierAction";
const AGG_PATH: &str = "/PB2CAPIVAN/Carrier/Aggregate";
const SERV_PATH: &str = "/PB2CAPIVAN/invServ/InvServ";

struct Site {
    site: common::TestSite,
    clock: Clock,
    today: Date,
    serial: AtomicU32,
}

fn taipei_today() -> Date {
    let offset = UtcOffset::from_hms(8, 0, 0).expect("offset");
    OffsetDateTime::now_utc().to_offset(offset).date()
}

/// A B2C F0401 of SELLER_A dated `date` on carrier `kind` + `id`.
fn invoice(number: &str, date: Date, kind: &str, id: &str) -> Value {
    json!({
        "message": "F0401",
        "Main": {
            "InvoiceNumber": number, "InvoiceDate": format_mig_date(date), "InvoiceTime": "00:00:01",
            "Seller": {"Identifier": SELLER_A, "Name": "Shop", "Address": "Taipei"},
            "Buyer": {"Identifier": "0000000000", "Name": "0000"},
            "InvoiceType": "07", "RandomNumber": "1234", "DonateMark": "0",
            "CarrierType": kind, "CarrierId1": id, "CarrierId2": id, "PrintMark": "N"
        },
        "Details": [{"Description": "Tea", "Quantity": "1", "UnitPrice": "100", "TaxType": "1", "Amount": "100", "SequenceNumber": "1"}],
        "Amount": {"SalesAmount": "100", "FreeTaxSalesAmount": "0", "ZeroTaxSalesAmount": "0", "TaxType": "1", "TaxRate": "0.05", "TaxAmount": "0", "TotalAmount": "100"}
    })
}

async fn start() -> Site {
    let (store, dir) = common::sqlite_store();
    let sealer = common::sealer(7);
    common::put_test_app(&store, &sealer, APP_KEY).await;
    common::put_carrier(&store, BARCODE, CODE).await;
    common::put_carrier(&store, OTHER, OTHER_CODE).await;
    store
        .put_carrier(CarrierRecord {
            carrier: Carrier::parse(CarrierType::Other("1K0001".into()), EASY).expect("card"),
            verification_hash: hash_verification_code(EASY_CODE).expect("hash"),
            failures: 0,
            locked_until: 0,
        })
        .await
        .expect("easycard");
    let today = taipei_today();
    let period = Period::of_date(today).expect("period");
    let allocation = json!({
        "message": "E0401",
        "Main": {"HeadBan": SELLER_A, "BranchBan": SELLER_A, "InvoiceType": "07", "YearMonth": period.to_string(),
                 "InvoiceTrack": "AB", "InvoiceBeginNo": "00000000", "InvoiceEndNo": "00000999"},
        "Details": [{"InvoiceBeginNo": "00000000", "InvoiceEndNo": "00000999", "InvoiceBooklet": "20"}]
    });
    let rules = Rules::production();
    let msgs = [
        allocation,
        invoice("AB00000001", today, "3J0002", BARCODE),
        invoice("AB00000002", today, "1K0001", EASY),
    ]
    .iter()
    .map(|m| validated(m, &rules).unwrap_or_else(|e| panic!("{e:?}: {m}")))
    .collect();
    let out = store
        .append(&Scope::All, "test", msgs)
        .await
        .expect("append");
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    let mut opts = common::fast_site_options();
    let clock = opts.clock.clone();
    opts.app_api.clock = clock.clone();
    let site = common::serve_site(store, dir, sealer, opts).await;
    Site {
        site,
        clock,
        today,
        serial: AtomicU32::new(1),
    }
}

impl Site {
    async fn entries(&self) -> usize {
        self.site
            .store
            .entries("main", 0, 10_000)
            .await
            .expect("entries")
            .len()
    }

    /// A signed App API call on `path` with `base` overridden by `over`
    /// (`<drop>` removes a parameter); a fresh `serial` each call.
    async fn app(&self, path: &str, base: &[(&str, &str)], over: &[(&str, &str)]) -> Value {
        let ts = self.clock.now_unix().to_string();
        let serial = format!("{:010}", self.serial.fetch_add(1, Ordering::Relaxed));
        let mut params: Vec<(&str, &str)> = base.to_vec();
        params.extend([
            ("serial", serial.as_str()),
            ("timeStamp", ts.as_str()),
            ("uuid", "device-1"),
            ("appID", APP),
        ]);
        for &(k, v) in over {
            match params.iter_mut().find(|p| p.0 == k) {
                Some(p) => p.1 = v,
                None => params.push((k, v)),
            }
        }
        params.retain(|(_, v)| *v != "<drop>");
        let signed = !over.contains(&("signature", "<none>"));
        params.retain(|(k, _)| *k != "signature");
        let mut form: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if signed {
            let sig = sign(
                SignatureAlg::HmacSha256,
                APP_KEY,
                &signing_string(params.iter().copied()),
            );
            form.push(("signature".into(), sig));
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (status, v) = common::post_form(&format!("{}{path}", self.site.url), &form).await;
        assert_eq!(status, 200, "MOF answers with HTTP 200");
        v
    }

    async fn carrier_action(&self, over: &[(&str, &str)]) -> Value {
        let base = [
            ("version", "1.0"),
            ("action", "carrierAction"),
            ("publicCardType", "3J0002"),
            ("publicCardNo", BARCODE),
            ("publicVerifyCode", CODE),
            ("cardType", "1K0001"),
            ("cardNo", EASY),
            ("verifyCode", EASY_CODE),
            ("carrierName", "悠遊卡"),
            ("email", "citizen@example.com"),
        ];
        self.app(ACTION_PATH, &base, over).await
    }

    async fn agg(&self, over: &[(&str, &str)]) -> Value {
        let base = [
            ("version", "1.0"),
            ("action", "qryCarrierAgg"),
            ("cardType", "3J0002"),
            ("cardNo", BARCODE),
            ("cardEncrypt", CODE),
        ];
        self.app(AGG_PATH, &base, over).await
    }

    /// The invoice numbers and card types `carrierInvChk` of the barcode lists.
    async fn chk(&self) -> Vec<(String, String)> {
        let d = format_mig_date(self.today);
        let base = [
            ("version", "0.5"),
            ("action", "carrierInvChk"),
            ("cardType", "3J0002"),
            ("cardNo", BARCODE),
            ("cardEncrypt", CODE),
            ("startDate", d.as_str()),
            ("endDate", d.as_str()),
            ("onlyWinningInv", "N"),
            ("expTimeStamp", "2147483647"),
        ];
        let v = self.app(SERV_PATH, &base, &[("signature", "<none>")]).await;
        assert_eq!(v["code"], 200, "{v}");
        let mut out: Vec<(String, String)> = v["details"]
            .as_array()
            .expect("details")
            .iter()
            .map(|r| {
                (
                    r["invNum"].as_str().unwrap_or("").to_string(),
                    r["cardType"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        out.sort();
        out
    }

    async fn detail(&self, number: &str) -> Value {
        let d = format_mig_date(self.today);
        let base = [
            ("version", "0.5"),
            ("action", "carrierInvDetail"),
            ("cardType", "3J0002"),
            ("cardNo", BARCODE),
            ("cardEncrypt", CODE),
            ("invNum", number),
            ("invDate", d.as_str()),
            ("expTimeStamp", "2147483647"),
        ];
        self.app(SERV_PATH, &base, &[("signature", "<none>")]).await
    }

    async fn rest(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
        lang: Option<&str>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rq = self
            .site
            .http
            .request(m, format!("{}{path}", self.site.url))
            .header("authorization", format!("Bearer {token}"));
        if let Some(l) = lang {
            rq = rq.header("accept-language", l);
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

    async fn login(&self, kind: &str, id: &str, code: &str) -> String {
        let body = json!({"carrier_type": kind, "carrier_id": id, "verification_code": code});
        let resp = self
            .site
            .http
            .post(format!("{}/v1/carrier/login", self.site.url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("send");
        assert_eq!(resp.status().as_u16(), 200);
        let v: Value = resp.json().await.expect("json");
        v["token"].as_str().expect("token").to_string()
    }
}

impl Site {
    /// The invoice numbers and carrier types `GET /v1/carrier/invoices` of
    /// the barcode lists for today's period (the REST form of `chk`).
    async fn rest_invoices(&self) -> Vec<(String, String)> {
        let token = self.login("3J0002", BARCODE, CODE).await;
        let period = Period::of_date(self.today).expect("period");
        let (status, v) = self
            .rest(
                "GET",
                &format!("/v1/carrier/invoices?period={period}"),
                &token,
                None,
                None,
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v["invoices"]
            .as_array()
            .expect("invoices")
            .iter()
            .map(|r| {
                let s = |x: &Value| x.as_str().expect("string").to_string();
                (s(&r["number"]), s(&r["carrier"]["type"]))
            })
            .collect()
    }
}

fn ours(n: &str, t: &str) -> (String, String) {
    (n.to_string(), t.to_string())
}

#[tokio::test]
async fn carrier_action_links_and_the_barcode_sees_the_linked_invoices() {
    let s = start().await;
    let v = s.agg(&[]).await;
    assert_eq!(v["code"], 200, "{v}");
    assert_eq!(v["details"], json!([]));
    assert_eq!(s.chk().await, vec![ours("AB00000001", "3J0002")]);
    assert_eq!(
        s.rest_invoices().await,
        s.chk().await,
        "REST lists what the App API does"
    );
    assert_eq!(s.detail("AB00000002").await["code"], 951);
    let before = s.entries().await;
    let long_name = "x".repeat(41);
    for (over, code) in [
        (vec![("signature", "<none>")], 904),
        (vec![("verifyCode", "Wrong999")], 919),
        (vec![("publicVerifyCode", "Wrong999")], 919),
        (vec![("publicCardNo", "/NOP+000")], 919),
        (vec![("cardNo", "9999999999")], 919),
        (vec![("cardType", "3J0002"), ("cardNo", OTHER)], 901),
        (vec![("cardType", "9Z9999")], 901),
        (vec![("cardType", "<drop>")], 901),
        (vec![("verifyCode", "<drop>")], 901),
        (vec![("publicCardType", "1K0001")], 901),
        (vec![("publicCardNo", "ABC+123")], 901),
        (vec![("actionType", "X")], 901),
        (vec![("carrierName", long_name.as_str())], 901),
        (vec![("email", "not-an-address")], 901),
        (vec![("serial", "<drop>")], 901),
        (vec![("timeStamp", "1")], 905),
        (vec![("version", "9.9")], 902),
        (vec![("action", "qryCarrierAgg")], 902),
        (vec![("actionType", "D")], 959),
    ] {
        let v = s.carrier_action(&over).await;
        assert_eq!(v["code"], code, "{over:?} → {v}");
    }
    assert_eq!(
        s.entries().await,
        before,
        "a refused request writes nothing"
    );

    let v = s.carrier_action(&[]).await;
    assert_eq!(v["code"], 200, "{v}");
    assert_eq!(v["publicCardNo"], BARCODE);
    assert_eq!(v["cardType"], "1K0001");
    assert_eq!(v["cardNo"], EASY);
    assert_eq!(v["actionType"], "A");
    assert_eq!(s.entries().await, before + 1);
    let v = s.agg(&[]).await;
    assert_eq!(
        v["details"],
        json!([{"rowNum": 1, "cardType": "1K0001", "cardNo": EASY, "carrierName": "悠遊卡"}])
    );
    assert_eq!(
        s.chk().await,
        vec![ours("AB00000001", "3J0002"), ours("AB00000002", "1K0001")]
    );
    assert_eq!(
        s.rest_invoices().await,
        s.chk().await,
        "REST lists what the App API does"
    );
    let v = s.detail("AB00000002").await;
    assert_eq!(v["code"], 200, "{v}");
    assert_eq!(v["cardType"], "1K0001");
    assert_eq!(v["cardNo"], EASY);

    // Linked already, here and to another barcode.
    assert_eq!(s.carrier_action(&[]).await["code"], 957);
    let v = s
        .carrier_action(&[("publicCardNo", OTHER), ("publicVerifyCode", OTHER_CODE)])
        .await;
    assert_eq!(v["code"], 958, "{v}");
    // The other barcode lists nothing and sees nothing of the card.
    let v = s
        .agg(&[("cardNo", OTHER), ("cardEncrypt", OTHER_CODE)])
        .await;
    assert_eq!(v["details"], json!([]));
    assert_eq!(s.entries().await, before + 1);

    let v = s.carrier_action(&[("actionType", "D")]).await;
    assert_eq!(v["code"], 200, "{v}");
    assert_eq!(v["actionType"], "D");
    assert_eq!(s.entries().await, before + 2);
    assert_eq!(s.agg(&[]).await["details"], json!([]));
    assert_eq!(s.chk().await, vec![ours("AB00000001", "3J0002")]);
    assert_eq!(s.rest_invoices().await, s.chk().await);
    // Now the other barcode may link it.
    let v = s
        .carrier_action(&[("publicCardNo", OTHER), ("publicVerifyCode", OTHER_CODE)])
        .await;
    assert_eq!(v["code"], 200, "{v}");
}

#[tokio::test]
async fn qry_carrier_agg_refusals() {
    let s = start().await;
    for (over, code) in [
        (vec![("signature", "<none>")], 904),
        (vec![("cardEncrypt", "Wrong999")], 919),
        (
            vec![
                ("cardType", "1K0001"),
                ("cardNo", EASY),
                ("cardEncrypt", EASY_CODE),
            ],
            901,
        ),
        (vec![("cardNo", "<drop>")], 901),
        (vec![("timeStamp", "1")], 905),
        (vec![("action", "carrierAction")], 902),
    ] {
        let v = s.agg(&over).await;
        assert_eq!(v["code"], code, "{over:?} → {v}");
    }
}

#[tokio::test]
async fn rest_links_in_both_languages() {
    let s = start().await;
    let token = s.login("3J0002", BARCODE, CODE).await;
    let before = s.entries().await;
    let link = |code: &str| json!({"carrier_type": "1K0001", "carrier_id": EASY, "verification_code": code, "name": "EasyCard"});
    for (body, status, code) in [
        (json!({"carrier_type": "1K0001"}), 400, "BODY_INVALID"),
        (
            json!({"carrier_type": "1K0001", "carrier_id": EASY, "verification_code": EASY_CODE, "extra": "x"}),
            400,
            "BODY_INVALID",
        ),
        (
            json!({"carrier_type": "ZZ9999", "carrier_id": EASY, "verification_code": EASY_CODE}),
            400,
            "CARRIER_TYPE",
        ),
        (
            json!({"carrier_type": "CQ0001", "carrier_id": "AB1", "verification_code": EASY_CODE}),
            422,
            "CARRIER_ID",
        ),
        (
            json!({"carrier_type": "3J0002", "carrier_id": OTHER, "verification_code": OTHER_CODE}),
            422,
            "LINK_NOT_LINKABLE",
        ),
        (link("Wrong999"), 401, "CARRIER_AUTH"),
    ] {
        let (st, v) = s
            .rest(
                "POST",
                "/v1/carrier/links",
                &token,
                Some(body.clone()),
                None,
            )
            .await;
        assert_eq!(
            (st, v["code"].as_str()),
            (status, Some(code)),
            "{body} → {v}"
        );
    }
    let (st, v) = s
        .rest(
            "POST",
            "/v1/carrier/links",
            &token,
            Some(link("Wrong999")),
            Some("zh-TW"),
        )
        .await;
    assert_eq!(st, 401);
    assert_eq!(v["detail"], "載具號碼或驗證碼錯誤");
    assert_eq!(
        s.entries().await,
        before,
        "a refused request writes nothing"
    );

    let (st, v) = s
        .rest(
            "POST",
            "/v1/carrier/links",
            &token,
            Some(link(EASY_CODE)),
            None,
        )
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["linked"], true);
    assert_eq!(v["receipt"]["kind"], "CARRIER_LINK");
    let (st, v) = s
        .rest(
            "POST",
            "/v1/carrier/links",
            &token,
            Some(link(EASY_CODE)),
            Some("zh-TW"),
        )
        .await;
    assert_eq!((st, v["code"].as_str()), (409, Some("LINK_ALREADY_LINKED")));
    assert_eq!(v["detail"], "此載具已歸戶至您的手機條碼");
    let (st, v) = s.rest("GET", "/v1/carrier/links", &token, None, None).await;
    assert_eq!(st, 200);
    assert_eq!(
        v["links"],
        json!([{"carrier_type": "1K0001", "carrier_id": EASY, "name": "EasyCard"}])
    );
    let unlink =
        json!({"carrier_type": "1K0001", "carrier_id": EASY, "verification_code": EASY_CODE});
    let (st, v) = s
        .rest(
            "POST",
            "/v1/carrier/links/remove",
            &token,
            Some(unlink.clone()),
            None,
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["linked"], false);
    let (st, v) = s
        .rest(
            "POST",
            "/v1/carrier/links/remove",
            &token,
            Some(unlink),
            None,
        )
        .await;
    assert_eq!((st, v["code"].as_str()), (409, Some("LINK_NOT_LINKED")));
    assert_eq!(s.entries().await, before + 2);
    // A card's own token has no links.
    let card = s.login("1K0001", EASY, EASY_CODE).await;
    let (st, v) = s.rest("GET", "/v1/carrier/links", &card, None, None).await;
    assert_eq!((st, v["code"].as_str()), (422, Some("LINK_NOT_LINKABLE")));
}
