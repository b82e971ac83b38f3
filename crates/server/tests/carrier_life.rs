//! The carrier lifecycle over real HTTP (issue 17): the love-code directory
//! (`qryLoveCode`, `GET /v1/carrier/love-codes`) and donating a carrier
//! invoice (`carrierInvDnt`, `POST /v1/carrier/donations`) — its refusals
//! with their codes, nothing written on a refusal, the love code carried
//! into the draw's eligible rows, and problem texts in zh-TW and English.

mod common;

use einvoice_core::period::format_mig_date;
use einvoice_core::time::{Date, OffsetDateTime, UtcOffset};
use einvoice_core::{Period, Rules};
use einvoice_server::app_api::{LOVE_CODE_PATH, SignatureAlg, sign, signing_string};
use einvoice_server::clock::Clock;
use einvoice_server::demo::{
    DEMO_CARD_ISSUERS, DEMO_NPOS, seed_card_issuers, seed_npos, validated,
};
use einvoice_store::conformance::SELLER_A;
use einvoice_store::{CarrierRegStore, Scope, Store};
use serde_json::{Value, json};

const APP: &str = common::TEST_APP;
const APP_KEY: &str = "test-app-key-0123456789";
const CODE: &str = "Code1234";
const CARRIER: &str = "/ABC+123";
const OTHER: &str = "/XYZ+999";
const OTHER_CODE: &str = "Other999";
const DONATE_PATH: &str = "/PB2CAPIVAN/CarInv/Donate";

struct Site {
    site: common::TestSite,
    clock: Clock,
    today: Date,
}

fn taipei_today() -> Date {
    let offset = UtcOffset::from_hms(8, 0, 0).expect("offset");
    OffsetDateTime::now_utc().to_offset(offset).date()
}

/// A B2C F0401 of SELLER_A dated `date`: on `carrier` (mobile barcode), or
/// donated at issue to `npo`, or printed.
fn invoice(number: &str, date: Date, carrier: Option<&str>, npo: Option<&str>) -> Value {
    let mut main = json!({
        "InvoiceNumber": number, "InvoiceDate": format_mig_date(date), "InvoiceTime": "00:00:01",
        "Seller": {"Identifier": SELLER_A, "Name": "Shop", "Address": "Taipei"},
        "Buyer": {"Identifier": "0000000000", "Name": "0000"},
        "InvoiceType": "07", "RandomNumber": "1234",
    });
    let m = main.as_object_mut().expect("object");
    match (carrier, npo) {
        (Some(c), _) => {
            for (k, v) in [
                ("DonateMark", "0"),
                ("CarrierType", "3J0002"),
                ("CarrierId1", c),
                ("CarrierId2", c),
                ("PrintMark", "N"),
            ] {
                m.insert(k.into(), json!(v));
            }
        }
        (None, Some(n)) => {
            for (k, v) in [("DonateMark", "1"), ("NPOBAN", n), ("PrintMark", "N")] {
                m.insert(k.into(), json!(v));
            }
        }
        (None, None) => {
            for (k, v) in [("DonateMark", "0"), ("PrintMark", "Y")] {
                m.insert(k.into(), json!(v));
            }
        }
    }
    json!({
        "message": "F0401",
        "Main": main,
        "Details": [{"Description": "Tea", "Quantity": "1", "UnitPrice": "100", "TaxType": "1", "Amount": "100", "SequenceNumber": "1"}],
        "Amount": {"SalesAmount": "100", "FreeTaxSalesAmount": "0", "ZeroTaxSalesAmount": "0", "TaxType": "1", "TaxRate": "0.05", "TaxAmount": "0", "TotalAmount": "100"}
    })
}

async fn start() -> Site {
    let (store, dir) = common::sqlite_store();
    let sealer = common::sealer(7);
    common::put_test_app(&store, &sealer, APP_KEY).await;
    common::put_carrier(&store, CARRIER, CODE).await;
    common::put_carrier(&store, OTHER, OTHER_CODE).await;
    seed_npos(&store).await.expect("npos");
    seed_card_issuers(&store).await.expect("card issuers");
    common::put_seller(&store, SELLER_A, "Seller A").await;
    let today = taipei_today();
    let period = Period::of_date(today).expect("period");
    let rules = Rules::production();
    let allocation = json!({
        "message": "E0401",
        "Main": {"HeadBan": SELLER_A, "BranchBan": SELLER_A, "InvoiceType": "07", "YearMonth": period.to_string(),
                 "InvoiceTrack": "AB", "InvoiceBeginNo": "00000000", "InvoiceEndNo": "00000999"},
        "Details": [{"InvoiceBeginNo": "00000000", "InvoiceEndNo": "00000999", "InvoiceBooklet": "20"}]
    });
    let cancel = json!({
        "message": "F0501", "CancelInvoiceNumber": "AB00000004", "InvoiceDate": format_mig_date(today),
        "BuyerId": "0000000000", "SellerId": SELLER_A, "CancelDate": format_mig_date(today),
        "CancelTime": "00:00:02", "CancelReason": "wrong amount"
    });
    let msgs = [
        allocation,
        invoice("AB00000001", today, Some(CARRIER), None),
        invoice("AB00000002", today, Some(CARRIER), None),
        invoice("AB00000003", today, Some(OTHER), None),
        invoice("AB00000004", today, Some(CARRIER), None),
        cancel,
        invoice("AB00000005", today, None, Some("168")),
        invoice("AB00000006", today, None, None),
    ];
    let msgs = msgs
        .iter()
        .map(|m| validated(m, &rules).unwrap_or_else(|e| panic!("{e:?}: {m}")))
        .collect();
    let out = store
        .append(&Scope::All, "test", msgs)
        .await
        .expect("append");
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    let opts = common::fast_site_options();
    let clock = opts.clock.clone();
    let mut opts = opts;
    opts.app_api.clock = clock.clone();
    let site = common::serve_site(store, dir, sealer, opts).await;
    Site { site, clock, today }
}

impl Site {
    fn date(&self) -> String {
        format_mig_date(self.today)
    }

    async fn entries(&self) -> usize {
        self.site
            .store
            .entries("main", 0, 10_000)
            .await
            .expect("entries")
            .len()
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
        lang: Option<&str>,
    ) -> (u16, Value, Option<String>) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rq = self
            .site
            .http
            .request(m, format!("{}{path}", self.site.url));
        if let Some(t) = token {
            rq = rq.header("authorization", format!("Bearer {t}"));
        }
        if let Some(l) = lang {
            rq = rq.header("accept-language", l);
        }
        if let Some(b) = body {
            rq = rq.header("content-type", "application/json").body(b);
        }
        let resp = rq.send().await.expect("send");
        let status = resp.status().as_u16();
        let content_language = resp
            .headers()
            .get("content-language")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let text = resp.text().await.expect("text");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
            content_language,
        )
    }

    async fn login(&self, id: &str, code: &str) -> String {
        let body = json!({"carrier_type": "3J0002", "carrier_id": id, "verification_code": code});
        let (st, v, _) = self
            .call(
                "POST",
                "/v1/carrier/login",
                None,
                Some(body.to_string()),
                None,
            )
            .await;
        assert_eq!(st, 200, "{v}");
        v["token"].as_str().expect("token").to_string()
    }

    async fn donate_rest(
        &self,
        token: &str,
        body: Value,
        lang: Option<&str>,
    ) -> (u16, Value, Option<String>) {
        self.call(
            "POST",
            "/v1/carrier/donations",
            Some(token),
            Some(body.to_string()),
            lang,
        )
        .await
    }

    /// `carrierInvDnt` signed by the test app, with `over` replacing or adding parameters.
    async fn donate_app(&self, over: &[(&str, &str)], signed: bool) -> Value {
        let ts = self.clock.now_unix().to_string();
        let date = self.date();
        let mut params: Vec<(&str, &str)> = vec![
            ("version", "0.1"),
            ("action", "carrierInvDnt"),
            ("cardType", "3J0002"),
            ("cardNo", CARRIER),
            ("cardEncrypt", CODE),
            ("invNum", "AB00000001"),
            ("invDate", date.as_str()),
            ("npoBan", "919"),
            ("serial", "0000000001"),
            ("timeStamp", ts.as_str()),
            ("expTimeStamp", "2147483647"),
            ("uuid", "device-1"),
            ("appID", APP),
        ];
        for &(k, v) in over {
            match params.iter_mut().find(|p| p.0 == k) {
                Some(p) => p.1 = v,
                None => params.push((k, v)),
            }
        }
        params.retain(|(_, v)| *v != "<drop>");
        let mut owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if signed {
            let sig = sign(
                SignatureAlg::HmacSha256,
                APP_KEY,
                &signing_string(params.iter().copied()),
            );
            owned.push(("signature".into(), sig));
        }
        let form: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (status, v) =
            common::post_form(&format!("{}{DONATE_PATH}", self.site.url), &form).await;
        assert_eq!(status, 200, "MOF answers with HTTP 200");
        v
    }

    /// The love code the draw would carry for invoice `number` of the period.
    async fn eligible_npo(&self, number: &str) -> Option<String> {
        let period = Period::of_date(self.today).expect("period");
        self.site
            .store
            .eligible_invoices(period, None, 1000)
            .await
            .expect("eligible")
            .into_iter()
            .find(|r| r.number == number)
            .and_then(|r| r.donated_to)
    }
}

#[tokio::test]
async fn love_codes_are_found_by_code_prefix_and_name_in_both_forms() {
    let s = start().await;
    // REST: a code prefix, a name part, nothing, and a bad query.
    let (st, v, _) = s
        .call("GET", "/v1/carrier/love-codes?q=91", None, None, None)
        .await;
    assert_eq!(st, 200, "{v}");
    let codes: Vec<&str> = v["npos"]
        .as_array()
        .expect("npos")
        .iter()
        .filter_map(|n| n["love_code"].as_str())
        .collect();
    assert_eq!(codes, ["919"]);
    let (_, v, _) = s
        .call(
            "GET",
            "/v1/carrier/love-codes?q=%E5%AE%B6%E5%BA%AD",
            None,
            None,
            None,
        )
        .await;
    assert_eq!(v["npos"][0]["love_code"], "8585", "{v}");
    assert_eq!(v["npos"][0]["name"], DEMO_NPOS[3].1);
    let (_, v, _) = s
        .call("GET", "/v1/carrier/love-codes?q=0000", None, None, None)
        .await;
    assert_eq!(v["npos"], json!([]));
    let (st, v, lang) = s
        .call("GET", "/v1/carrier/love-codes", None, None, Some("zh-TW"))
        .await;
    assert_eq!(
        (st, v["code"].as_str()),
        (400, Some("LOVE_CODE_QUERY")),
        "{v}"
    );
    assert_eq!(lang.as_deref(), Some("zh-TW"));
    assert!(
        v["detail"].as_str().expect("detail").contains("愛心碼"),
        "{v}"
    );
    let (_, v, lang) = s
        .call(
            "GET",
            "/v1/carrier/love-codes?q=1&q=2",
            None,
            None,
            Some("en-US,zh;q=0.5"),
        )
        .await;
    assert_eq!(
        v["code"], "LOVE_CODE_QUERY",
        "a parameter given twice is refused: {v}"
    );
    assert_eq!(lang.as_deref(), Some("en"));

    // MOF qryLoveCode.
    let url = format!("{}{LOVE_CODE_PATH}", s.site.url);
    let base = [
        ("version", "0.2"),
        ("action", "qryLoveCode"),
        ("UUID", "u"),
        ("appID", APP),
    ];
    let with = |q: &'static str| {
        let mut p = base.to_vec();
        p.push(("qKey", q));
        p
    };
    let (status, v) = common::post_form(&url, &with("168")).await;
    assert_eq!((status, v["code"].as_u64()), (200, Some(200)), "{v}");
    assert_eq!(v["v"], "0.2");
    assert_eq!(v["details"][0]["LoveCode"], "168");
    assert_eq!(v["details"][0]["SocialWelfareName"], DEMO_NPOS[0].1);
    assert!(
        v["details"][0]["SocialWelfareBAN"]
            .as_str()
            .is_some_and(|b| b.len() == 8),
        "{v}"
    );
    assert_eq!(v["details"].as_array().map(Vec::len), Some(1));
    let (_, v) = common::post_form(&url, &with("demo")).await;
    assert_eq!(
        v["details"].as_array().map(Vec::len),
        Some(4),
        "name match: {v}"
    );
    let (_, v) = common::post_form(&url, &with("0000")).await;
    assert_eq!(v["code"], 951, "{v}");
    let (_, v) = common::post_form(&url, &base).await;
    assert_eq!(v["code"], 901, "qKey missing: {v}");
    assert!(v["msg"].as_str().expect("msg").contains("qKey"));
    let mut twice = with("168");
    twice.push(("qKey", "919"));
    let (_, v) = common::post_form(&url, &twice).await;
    assert_eq!(v["code"], 901, "qKey twice: {v}");
    let mut bad_app = with("168");
    bad_app.retain(|(k, _)| *k != "appID");
    bad_app.push(("appID", "NOSUCHAPP"));
    let (_, v) = common::post_form(&url, &bad_app).await;
    assert_eq!(v["code"], 903, "{v}");
    let mut wrong_action = with("168");
    wrong_action[1] = ("action", "carrierInvDnt");
    let (_, v) = common::post_form(&url, &wrong_action).await;
    assert_eq!(v["code"], 902, "{v}");
    let mut old = with("168");
    old[0] = ("version", "9.9");
    let (_, v) = common::post_form(&url, &old).await;
    assert_eq!(v["code"], 902, "{v}");
}

#[tokio::test]
async fn rest_donation_writes_one_entry_and_carries_the_love_code_into_the_draw() {
    let s = start().await;
    let token = s.login(CARRIER, CODE).await;
    let date = s.date();
    assert_eq!(s.eligible_npo("AB00000001").await, None);
    let before = s.entries().await;
    let body = json!({"invoice_number": "AB00000001", "invoice_date": date, "love_code": "919"});
    let (st, v, _) = s.donate_rest(&token, body.clone(), None).await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["love_code"], "919");
    assert_eq!(v["seller"], SELLER_A);
    assert_eq!(s.entries().await, before + 1);
    let last = s
        .site
        .store
        .entries("main", before as u64, 10)
        .await
        .expect("entries");
    assert_eq!(last[0].kind, "DONATION");
    assert_eq!(last[0].key, "donation/04595257/AB00000001");
    assert_eq!(s.eligible_npo("AB00000001").await.as_deref(), Some("919"));
    // The carrier's own list shows it donated.
    let period = Period::of_date(s.today).expect("period");
    let (_, list, _) = s
        .call(
            "GET",
            &format!("/v1/carrier/invoices?period={period}"),
            Some(&token),
            None,
            None,
        )
        .await;
    let row = list["invoices"]
        .as_array()
        .expect("invoices")
        .iter()
        .find(|r| r["number"] == "AB00000001")
        .cloned();
    assert_eq!(
        row.map(|r| r["donated_to"].clone()),
        Some(json!("919")),
        "{list}"
    );

    // Again: already donated, in both languages; nothing more written.
    let (st, v, lang) = s.donate_rest(&token, body, Some("zh-TW")).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (409, Some("DONATION_ALREADY_DONATED")),
        "{v}"
    );
    assert_eq!(lang.as_deref(), Some("zh-TW"));
    assert!(
        v["detail"].as_str().expect("detail").contains("已捐贈"),
        "{v}"
    );
    assert_eq!(s.entries().await, before + 1);
}

#[tokio::test]
async fn rest_donation_refusals_write_nothing() {
    let s = start().await;
    let token = s.login(CARRIER, CODE).await;
    let date = s.date();
    let next_period = Period::of_date(s.today)
        .and_then(|p| p.next())
        .expect("next period");
    let other_day = format_mig_date(next_period.first_day());
    let before = s.entries().await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"invoice_number": "AB00000003", "invoice_date": date, "love_code": "919"}),
            404,
            "DONATION_INVOICE_NOT_FOUND",
        ),
        (
            json!({"invoice_number": "AB00000002", "invoice_date": other_day, "love_code": "919"}),
            404,
            "DONATION_INVOICE_NOT_FOUND",
        ),
        (
            json!({"invoice_number": "AB00000005", "invoice_date": date, "love_code": "919"}),
            404,
            "DONATION_INVOICE_NOT_FOUND",
        ),
        (
            json!({"invoice_number": "AB00000004", "invoice_date": date, "love_code": "919"}),
            409,
            "DONATION_NOT_DONATABLE",
        ),
        (
            json!({"invoice_number": "AB00000006", "invoice_date": date, "love_code": "919"}),
            404,
            "DONATION_INVOICE_NOT_FOUND",
        ),
        (
            json!({"invoice_number": "AB00000002", "invoice_date": date, "love_code": "4321"}),
            422,
            "LOVE_CODE_UNKNOWN",
        ),
        (
            json!({"invoice_number": "AB0000002", "invoice_date": date, "love_code": "919"}),
            400,
            "INVOICE_NUMBER_FORMAT",
        ),
        (
            json!({"invoice_number": "AB00000002", "invoice_date": "2025-13-01", "love_code": "919"}),
            400,
            "DATE_FORMAT",
        ),
        (
            json!({"invoice_number": "AB00000002", "invoice_date": date, "love_code": "91"}),
            400,
            "NPOBAN_FORMAT",
        ),
        (
            json!({"invoice_number": "AB00000002", "invoice_date": date}),
            400,
            "BODY_INVALID",
        ),
        (
            json!({"invoice_number": "AB00000002", "invoice_date": date, "love_code": "919", "x": 1}),
            400,
            "BODY_INVALID",
        ),
    ];
    for (body, status, code) in cases {
        let (st, v, lang) = s.donate_rest(&token, body.clone(), Some("en")).await;
        assert_eq!(
            (st, v["code"].as_str()),
            (status, Some(code)),
            "{body} → {v}"
        );
        assert_eq!(lang.as_deref(), Some("en"));
    }
    let dup = format!(
        r#"{{"invoice_number":"AB00000002","invoice_number":"AB00000001","invoice_date":"{date}","love_code":"919"}}"#
    );
    let (st, v, _) = s
        .call(
            "POST",
            "/v1/carrier/donations",
            Some(&token),
            Some(dup),
            None,
        )
        .await;
    assert_eq!(
        (st, v["code"].as_str()),
        (400, Some("BODY_INVALID")),
        "a field given twice: {v}"
    );
    let (st, v, _) = s
        .call(
            "POST",
            "/v1/carrier/donations",
            None,
            Some("{}".into()),
            None,
        )
        .await;
    assert_eq!(st, 401, "{v}");
    assert_eq!(
        s.entries().await,
        before,
        "a refused donation writes nothing"
    );
    assert_eq!(s.eligible_npo("AB00000002").await, None);

    // From the draw date on the period is closed.
    let period = Period::of_date(s.today).expect("period");
    let days = (period.draw_date() - s.today).whole_days() + 1;
    s.clock.advance(u32::try_from(days * 86_400).expect("secs"));
    let token = s.login(CARRIER, CODE).await;
    let body = json!({"invoice_number": "AB00000002", "invoice_date": date, "love_code": "919"});
    let (st, v, _) = s.donate_rest(&token, body, Some("zh-TW,en;q=0.8")).await;
    assert_eq!(
        (st, v["code"].as_str()),
        (409, Some("DONATION_PERIOD_CLOSED")),
        "{v}"
    );
    assert!(
        v["detail"].as_str().expect("detail").contains("開獎"),
        "{v}"
    );
    assert_eq!(s.entries().await, before);
}

#[tokio::test]
async fn carrier_inv_dnt_donates_and_refuses_with_its_codes() {
    let s = start().await;
    let before = s.entries().await;
    // Refusals first: nothing is written by any of them.
    let v = s.donate_app(&[], false).await;
    assert_eq!(v["code"], 904, "unsigned: {v}");
    for (over, code) in [
        (vec![("npoBan", "<drop>")], 901),
        (vec![("npoBan", "12")], 901),
        (vec![("invNum", "AB0000001")], 901),
        (vec![("invDate", "2025/02/30")], 901),
        (vec![("cardType", "9Z9999")], 901),
        (vec![("cardNo", "ABC+123")], 901),
        (vec![("serial", "<drop>")], 901),
        (vec![("timeStamp", "1")], 905),
        (vec![("cardEncrypt", "Wrong999")], 919),
        (vec![("cardNo", "/NOP+000")], 919),
        (vec![("npoBan", "4321")], 953),
        (vec![("invNum", "AB00000003")], 951),
        (vec![("invNum", "AB00000004")], 954),
        (vec![("version", "0.5")], 902),
    ] {
        let v = s.donate_app(&over, true).await;
        assert_eq!(v["code"], code, "{over:?} → {v}");
        assert_eq!(v["v"], if over[0].0 == "version" { "0.5" } else { "0.1" });
    }
    assert_eq!(
        s.entries().await,
        before,
        "a refused request writes nothing"
    );

    let v = s.donate_app(&[], true).await;
    assert_eq!(v["code"], 200, "{v}");
    assert_eq!(v["invNum"], "AB00000001");
    assert_eq!(v["npoBan"], "919");
    assert_eq!(v["cardNo"], CARRIER);
    assert_eq!(s.entries().await, before + 1);
    assert_eq!(s.eligible_npo("AB00000001").await.as_deref(), Some("919"));
    let v = s.donate_app(&[("npoBan", "168")], true).await;
    assert_eq!(v["code"], 954, "donated already: {v}");
    assert_eq!(s.eligible_npo("AB00000001").await.as_deref(), Some("919"));
    assert_eq!(s.entries().await, before + 1);
}

#[tokio::test]
async fn business_checks_reveal_existence_only() {
    let s = start().await;
    let url = format!("{}/BIZAPIVAN/biz", s.site.url);
    let ask = |action: &'static str, extra: Vec<(&'static str, &'static str)>| {
        let mut p = vec![
            ("version", "1.0"),
            ("action", action),
            ("TxID", "tx-1"),
            ("appID", APP),
        ];
        p.extend(extra);
        p
    };
    for (params, code, exists) in [
        (ask("bcv", vec![("barCode", CARRIER)]), "200", Some("Y")),
        (ask("bcv", vec![("barCode", "/NOP+000")]), "200", Some("N")),
        (ask("bcv", vec![("barCode", "ABC+1234")]), "901", None),
        (ask("bcv", vec![]), "901", None),
        (
            ask("preserveCodeCheck", vec![("pCode", "919")]),
            "200",
            Some("Y"),
        ),
        (
            ask("preserveCodeCheck", vec![("pCode", "4321")]),
            "200",
            Some("N"),
        ),
        (ask("preserveCodeCheck", vec![("pCode", "12")]), "901", None),
        (ask("noSuchAction", vec![]), "902", None),
    ] {
        let (status, v) = common::post_form(&url, &params).await;
        assert_eq!(status, 200);
        assert_eq!(v["code"], code, "{params:?} → {v}");
        assert_eq!(v["isExist"].as_str(), exists, "{params:?} → {v}");
        if exists.is_some() {
            assert_eq!(v["TxID"], "tx-1");
            let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
            assert_eq!(
                keys.len(),
                5,
                "nothing but v, code, msg, isExist, TxID: {v}"
            );
        }
    }
    let mut no_tx = ask("bcv", vec![("barCode", CARRIER)]);
    no_tx.retain(|(k, _)| *k != "TxID");
    assert_eq!(common::post_form(&url, &no_tx).await.1["code"], "901");
    let mut twice = ask("bcv", vec![("barCode", CARRIER)]);
    twice.push(("barCode", "/NOP+000"));
    assert_eq!(common::post_form(&url, &twice).await.1["code"], "901");
    let mut stranger = ask("bcv", vec![("barCode", CARRIER)]);
    stranger.retain(|(k, _)| *k != "appID");
    stranger.push(("appID", "NOSUCHAPP"));
    assert_eq!(common::post_form(&url, &stranger).await.1["code"], "903");
}

/// The TOTP code of an operator's authenticator app now.
fn totp_now(secrets: &einvoice_server::ops::NewOperatorSecrets) -> String {
    let secret = totp_rs::Secret::try_from_base32(&secrets.totp_secret_base32).expect("base32");
    let totp = totp_rs::Builder::new()
        .with_secret(secret)
        .build()
        .expect("totp");
    totp.generate(u64::try_from(common::now()).unwrap_or(0))
        .to_string()
}

impl Site {
    /// A session token of a new operator alice.
    async fn operator_token(&self) -> String {
        let secrets =
            einvoice_server::ops::bootstrap_operator(&self.site.store, &common::sealer(7), "alice")
                .await
                .expect("bootstrap");
        let login =
            json!({"name": "alice", "password": secrets.password, "totp": totp_now(&secrets)});
        let (st, v, _) = self
            .call("POST", "/v1/ops/login", None, Some(login.to_string()), None)
            .await;
        assert_eq!(st, 200, "{v}");
        v["token"].as_str().expect("token").to_string()
    }
}

#[tokio::test]
async fn operators_maintain_the_npo_directory() {
    let s = start().await;
    let token = s.operator_token().await;
    let before = s.entries().await;
    let body = json!({"name": "Seaside Shelter", "ubn": "12345676"}).to_string();

    let (st, _, _) = s
        .call("PUT", "/v1/ops/npos/777", None, Some(body.clone()), None)
        .await;
    assert_eq!(st, 401);
    for (path, b, status, code) in [
        ("/v1/ops/npos/12", body.clone(), 422, "NPOBAN_FORMAT"),
        (
            "/v1/ops/npos/777",
            json!({"name": "X", "ubn": "12345678"}).to_string(),
            422,
            "UBN_CHECKSUM",
        ),
        (
            "/v1/ops/npos/777",
            json!({"name": " ", "ubn": "12345676"}).to_string(),
            422,
            "NPO_NAME",
        ),
        (
            "/v1/ops/npos/777",
            json!({"name": "X", "ubn": "12345676", "x": 1}).to_string(),
            400,
            "BODY_INVALID",
        ),
    ] {
        let (st, v, _) = s.call("PUT", path, Some(&token), Some(b), None).await;
        assert_eq!(
            (st, v["code"].as_str()),
            (status, Some(code)),
            "{path} → {v}"
        );
    }
    assert_eq!(s.entries().await, before, "refused changes write nothing");

    let (st, v, _) = s
        .call("PUT", "/v1/ops/npos/777", Some(&token), Some(body), None)
        .await;
    assert_eq!((st, v["created"].as_bool()), (200, Some(true)), "{v}");
    let renamed = json!({"name": "Seaside Animal Shelter", "ubn": "12345676"}).to_string();
    let (st, v, _) = s
        .call("PUT", "/v1/ops/npos/777", Some(&token), Some(renamed), None)
        .await;
    assert_eq!((st, v["created"].as_bool()), (200, Some(false)), "{v}");
    assert_eq!(s.entries().await, before + 2);
    let last = s
        .site
        .store
        .entries("main", before as u64, 10)
        .await
        .expect("entries");
    assert!(
        last.iter()
            .all(|e| e.kind == "NPO" && e.key == "npo/777" && e.actor == "operator:alice"),
        "{last:?}"
    );
    let (_, v, _) = s
        .call("GET", "/v1/carrier/love-codes?q=animal", None, None, None)
        .await;
    assert_eq!(
        v["npos"],
        json!([{"love_code": "777", "name": "Seaside Animal Shelter", "ubn": "12345676"}])
    );
}

/// A `/BIZAPIVAN/biz` request of the test app: `action` with `extra`,
/// signed (with `serial` and `timeStamp` now) when `signed`.
fn biz_params(
    s: &Site,
    action: &str,
    extra: &[(&str, &str)],
    signed: bool,
) -> Vec<(String, String)> {
    let mut p: Vec<(String, String)> = [
        ("version", "1.0"),
        ("action", action),
        ("TxID", "tx-9"),
        ("appID", APP),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if signed {
        p.push(("serial".into(), "0000000001".into()));
        p.push(("timeStamp".into(), s.clock.now_unix().to_string()));
    }
    for (k, v) in extra {
        p.retain(|(pk, _)| pk != k);
        if *v != "<drop>" {
            p.push((k.to_string(), v.to_string()));
        }
    }
    if signed {
        let sig = sign(
            SignatureAlg::HmacSha256,
            APP_KEY,
            &signing_string(p.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        );
        p.push(("signature".into(), sig));
    }
    p
}

async fn biz(s: &Site, params: &[(String, String)]) -> Value {
    let form: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (status, v) = common::post_form(&format!("{}/BIZAPIVAN/biz", s.site.url), &form).await;
    assert_eq!(status, 200, "MOF answers with HTTP 200");
    v
}

#[tokio::test]
async fn card_directory_actions_answer_from_the_issuer_directory() {
    let s = start().await;
    let before = s.entries().await;
    let v = biz(&s, &biz_params(&s, "creditCardBan", &[], false)).await;
    assert_eq!(v["code"], "200", "{v}");
    assert_eq!(v["TxID"], "tx-9");
    let banks: Vec<&str> = v["details"]
        .as_array()
        .expect("details")
        .iter()
        .map(|d| d["bankNo"].as_str().expect("bankNo"))
        .collect();
    let demo: Vec<&str> = DEMO_CARD_ISSUERS.iter().map(|(c, _, _)| *c).collect();
    assert_eq!(banks, demo);
    assert_eq!(v["details"][0]["rowNum"], 1);

    let v = biz(&s, &biz_params(&s, "cardBin", &[("bankNo", "812")], false)).await;
    assert_eq!(v["code"], "200", "{v}");
    assert_eq!(v["bankNo"], "812");
    assert_eq!(v["bankName"], DEMO_CARD_ISSUERS[1].1);
    assert_eq!(
        v["details"],
        json!([{"rowNum": 1, "cardBin": "35600012"}, {"rowNum": 2, "cardBin": "404338"}, {"rowNum": 3, "cardBin": "552328"}])
    );
    for (extra, code) in [
        (vec![("bankNo", "999")], "951"),
        (vec![("bankNo", "81")], "901"),
        (vec![("bankNo", "8a2")], "901"),
        (vec![("bankNo", "<drop>")], "901"),
        (vec![("TxID", "<drop>")], "901"),
        (vec![("TxID", "has space")], "901"),
        (vec![("version", "0.5")], "902"),
        (vec![("appID", "NOSUCHAPP")], "903"),
        (vec![("signature", "AAAA")], "904"),
    ] {
        let mut extra = extra;
        if extra[0].0 != "bankNo" {
            extra.push(("bankNo", "812"));
        }
        let v = biz(&s, &biz_params(&s, "cardBin", &extra, false)).await;
        assert_eq!(v["code"], code, "{extra:?} → {v}");
        assert!(v.get("details").is_none(), "{v}");
    }
    let mut twice = biz_params(&s, "cardBin", &[("bankNo", "812")], false);
    twice.push(("bankNo".into(), "822".into()));
    assert_eq!(
        biz(&s, &twice).await["code"],
        "901",
        "a parameter given twice"
    );
    assert_eq!(s.entries().await, before, "queries write nothing");
}

#[tokio::test]
async fn seller_actions_answer_from_the_seller_records_and_must_be_signed() {
    let s = start().await;
    let v = biz(
        &s,
        &biz_params(&s, "qryRecvRout", &[("ban", SELLER_A)], true),
    )
    .await;
    assert_eq!(v["code"], "200", "{v}");
    assert_eq!(
        (v["ban"].as_str(), v["recvRout"].as_str()),
        (Some(SELLER_A), Some("PLATFORM"))
    );
    assert_eq!(v["TxID"], "tx-9");
    let v = biz(
        &s,
        &biz_params(
            &s,
            "qryBanUnitTp",
            &[
                ("ban", SELLER_A),
                ("TxID", "<drop>"),
                ("serial", "0000000002"),
            ],
            true,
        ),
    )
    .await;
    assert_eq!(v["code"], "200", "{v}");
    assert_eq!(v["banUnitTp"], "B");
    assert!(v.get("TxID").is_none(), "no TxID sent, none echoed: {v}");

    // A registered NPO's UBN is not a seller: not found.
    let npo_ubn = einvoice_server::demo::demo_ubn(900);
    for (action, extra, code) in [
        (
            "qryRecvRout",
            vec![("ban", npo_ubn.as_str()), ("serial", "0000000003")],
            "951",
        ),
        (
            "qryBanUnitTp",
            vec![("ban", "12345678"), ("serial", "0000000004")],
            "901",
        ),
        (
            "qryBanUnitTp",
            vec![("ban", "1234567"), ("serial", "0000000005")],
            "901",
        ),
        (
            "qryRecvRout",
            vec![("ban", "<drop>"), ("serial", "0000000006")],
            "901",
        ),
        (
            "qryRecvRout",
            vec![("ban", SELLER_A), ("serial", "<drop>")],
            "901",
        ),
        (
            "qryRecvRout",
            vec![("ban", SELLER_A), ("timeStamp", "1")],
            "905",
        ),
        (
            "qryRecvRout",
            vec![
                ("ban", SELLER_A),
                ("TxID", "<drop>"),
                ("serial", "0000000007"),
            ],
            "901",
        ),
    ] {
        let v = biz(&s, &biz_params(&s, action, &extra, true)).await;
        assert_eq!(v["code"], code, "{action} {extra:?} → {v}");
    }
    // Unsigned, badly signed and replayed requests are refused.
    let unsigned = biz(
        &s,
        &biz_params(&s, "qryRecvRout", &[("ban", SELLER_A)], false),
    )
    .await;
    assert_eq!(unsigned["code"], "904", "{unsigned}");
    let mut forged = biz_params(
        &s,
        "qryRecvRout",
        &[("ban", SELLER_A), ("serial", "0000000008")],
        true,
    );
    if let Some(sig) = forged.iter_mut().find(|(k, _)| k == "signature") {
        sig.1 = "AAAA".into();
    }
    assert_eq!(biz(&s, &forged).await["code"], "904");
    let once = biz_params(
        &s,
        "qryRecvRout",
        &[("ban", SELLER_A), ("serial", "0000000009")],
        true,
    );
    assert_eq!(biz(&s, &once).await["code"], "200");
    assert_eq!(biz(&s, &once).await["code"], "906", "a replay is refused");
}

#[tokio::test]
async fn business_actions_count_against_the_client_budget() {
    let (store, dir) = common::sqlite_store();
    let sealer = common::sealer(7);
    common::put_test_app(&store, &sealer, APP_KEY).await;
    seed_card_issuers(&store).await.expect("card issuers");
    let mut opts = common::fast_site_options();
    opts.app_api.client_per_minute = 2;
    opts.app_api.client_burst = 2;
    let site = common::serve_site(store, dir, sealer, opts).await;
    let url = format!("{}/BIZAPIVAN/biz", site.url);
    let form = [
        ("version", "1.0"),
        ("action", "creditCardBan"),
        ("TxID", "tx-1"),
        ("appID", APP),
    ];
    let mut codes = Vec::new();
    for _ in 0..3 {
        codes.push(common::post_form(&url, &form).await.1["code"].clone());
    }
    assert_eq!(codes, [json!("200"), json!("200"), json!("907")]);
}

#[tokio::test]
async fn operators_maintain_the_card_issuer_directory() {
    let s = start().await;
    let token = s.operator_token().await;
    let before = s.entries().await;
    let body = json!({"name": "Harbour Bank", "bins": ["45678901", "456789"]}).to_string();
    let (st, _, _) = s
        .call(
            "PUT",
            "/v1/ops/card-issuers/700",
            None,
            Some(body.clone()),
            None,
        )
        .await;
    assert_eq!(st, 401);
    for (path, b, status, code) in [
        ("/v1/ops/card-issuers/70", body.clone(), 422, "BANK_CODE"),
        (
            "/v1/ops/card-issuers/700",
            json!({"name": " ", "bins": ["456789"]}).to_string(),
            422,
            "CARD_ISSUER_NAME",
        ),
        (
            "/v1/ops/card-issuers/700",
            json!({"name": "X", "bins": []}).to_string(),
            422,
            "CARD_BIN",
        ),
        (
            "/v1/ops/card-issuers/700",
            json!({"name": "X", "bins": ["4567"]}).to_string(),
            422,
            "CARD_BIN",
        ),
        (
            "/v1/ops/card-issuers/700",
            json!({"name": "X", "bins": ["456789", "456789"]}).to_string(),
            422,
            "CARD_BIN",
        ),
        (
            "/v1/ops/card-issuers/700",
            json!({"name": "X", "bins": ["456789"], "x": 1}).to_string(),
            400,
            "BODY_INVALID",
        ),
    ] {
        let (st, v, _) = s.call("PUT", path, Some(&token), Some(b), None).await;
        assert_eq!(
            (st, v["code"].as_str()),
            (status, Some(code)),
            "{path} → {v}"
        );
    }
    assert_eq!(s.entries().await, before, "refused changes write nothing");
    let (st, v, _) = s
        .call(
            "PUT",
            "/v1/ops/card-issuers/700",
            Some(&token),
            Some(body),
            None,
        )
        .await;
    assert_eq!((st, v["created"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(v["bins"], json!(["456789", "45678901"]), "kept sorted");
    let renamed = json!({"name": "Harbour Savings Bank", "bins": ["456789"]}).to_string();
    let (st, v, _) = s
        .call(
            "PUT",
            "/v1/ops/card-issuers/700",
            Some(&token),
            Some(renamed),
            None,
        )
        .await;
    assert_eq!((st, v["created"].as_bool()), (200, Some(false)), "{v}");
    let last = s
        .site
        .store
        .entries("main", before as u64, 10)
        .await
        .expect("entries");
    assert_eq!(last.len(), 2);
    assert!(
        last.iter().all(|e| e.kind == "CARD_ISSUER"
            && e.key == "card-issuer/700"
            && e.actor == "operator:alice"),
        "{last:?}"
    );
    let v = biz(&s, &biz_params(&s, "cardBin", &[("bankNo", "700")], false)).await;
    assert_eq!(v["bankName"], "Harbour Savings Bank", "{v}");
    assert_eq!(v["details"], json!([{"rowNum": 1, "cardBin": "456789"}]));
}

#[tokio::test]
async fn the_demo_has_a_registered_citizen_with_a_linked_easycard_and_card_issuers() {
    use einvoice_server::demo::{DEMO_EMAIL, Plan, demo_carrier, demo_easycard, provision};
    let (store, dir) = common::sqlite_store();
    let sealer = common::sealer(7);
    let plan = Plan {
        period: Period::of_date(taipei_today()).expect("period"),
        sellers: 2,
        invoices: 0,
        seed: 1,
    };
    let (_, creds) = provision(&store, &sealer, &plan, 2)
        .await
        .expect("provision");
    let barcode = demo_carrier(0);
    assert_eq!(creds.carrier.id, barcode.id);
    let contact = store
        .carrier_contact(&barcode)
        .await
        .expect("contact")
        .expect("the demo citizen is registered");
    assert_eq!(contact.email, DEMO_EMAIL);
    let kinds: Vec<String> = store
        .entries("main", 0, 10_000)
        .await
        .expect("entries")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in ["CARRIER_REGISTERED", "CARRIER_LINK", "CARD_ISSUER", "NPO"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    // Seeding again (a second `up` on the same data) adds nothing to the
    // ledger; it only gives the citizen the code it hands out (here the same).
    let before = kinds.len();
    let hash = einvoice_server::app_api::hash_verification_code(&creds.carrier.verification_code)
        .expect("hash");
    einvoice_server::demo::seed_citizen(&store, &barcode, &hash)
        .await
        .expect("again");
    seed_card_issuers(&store).await.expect("again");
    assert_eq!(
        store
            .entries("main", 0, 10_000)
            .await
            .expect("entries")
            .len(),
        before
    );

    // Over HTTP: the citizen logs in with the credentials and sees the link.
    let site = common::serve_site(store, dir, sealer, common::fast_site_options()).await;
    let login = json!({"carrier_type": "3J0002", "carrier_id": barcode.id, "verification_code": creds.carrier.verification_code});
    let v: Value = site
        .http
        .post(format!("{}/v1/carrier/login", site.url))
        .header("content-type", "application/json")
        .body(login.to_string())
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let token = v["token"].as_str().expect("token");
    let v: Value = site
        .http
        .get(format!("{}/v1/carrier/links", site.url))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let card = demo_easycard();
    assert_eq!(v["links"][0]["carrier_type"], card.kind.code(), "{v}");
    assert_eq!(v["links"][0]["carrier_id"], card.id, "{v}");
}
