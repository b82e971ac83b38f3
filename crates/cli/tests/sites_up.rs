//! `einvoice up --sites 3`: main, cloud-a and cloud-b on one machine, each
//! its own process, data directory and port, synced over mutual TLS under
//! the deployment CA `up` creates. The real binary, real sockets.

use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::{bin, client, start_until};

/// Poll `f` every 100 ms until it returns `Some`, for at most `secs` seconds.
async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "not within {secs} s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get_json(http: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, Value) {
    let mut r = http.get(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.expect("GET");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// (seq, head) of `origin` at the site at `url` (`GET /v1/sync/status`).
async fn head_of(http: &reqwest::Client, url: &str, origin: &str) -> Option<(u64, String)> {
    let (_, st) = get_json(http, &format!("{url}/v1/sync/status"), None).await;
    st["origins"].as_array()?.iter().find_map(|o| {
        (o["origin"] == origin).then(|| {
            (
                o["seq"].as_u64().unwrap_or(0),
                o["head"].as_str().unwrap_or("").to_string(),
            )
        })
    })
}

async fn carrier_login(http: &reqwest::Client, url: &str, c: &Value) -> String {
    let r = http
        .post(format!("{url}/v1/carrier/login"))
        .json(&json!({
            "carrier_type": c["type"], "carrier_id": c["id"],
            "verification_code": c["verification_code"],
        }))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200, "carrier login at {url}");
    let v: Value = r.json().await.expect("json");
    v["token"].as_str().expect("token").to_string()
}

/// A seller invoice for the demo carrier, dated the period's first day.
fn invoice(ubn: &str, period: &str, carrier: &str) -> Value {
    let roc: i32 = period[..3].parse().expect("year");
    let end_month: u32 = period[3..].parse().expect("month");
    let date = format!("{}{:02}01", roc + 1911, end_month - 1);
    json!({
        "message": "F0401",
        "Main": {
            "InvoiceNumber": "AA00000049", "InvoiceDate": date, "InvoiceTime": "12:00:00",
            "Seller": {"Identifier": ubn, "Name": "demo", "Address": "Taipei"},
            "Buyer": {"Identifier": "0000000000", "Name": "0000"},
            "InvoiceType": "07", "DonateMark": "0", "PrintMark": "N", "RandomNumber": "0042",
            "CarrierType": "3J0002", "CarrierId1": carrier, "CarrierId2": carrier
        },
        "Details": [{"Description": "tea", "Quantity": "2", "UnitPrice": "30", "TaxType": "1", "Amount": "60", "SequenceNumber": "1"}],
        "Amount": {"SalesAmount": "60", "FreeTaxSalesAmount": "0", "ZeroTaxSalesAmount": "0",
                   "TaxType": "1", "TaxRate": "0.05", "TaxAmount": "0", "TotalAmount": "60"}
    })
}

fn sync_verify(urls: &[&str]) -> std::process::Output {
    let mut cmd = bin();
    cmd.args(["sync", "verify"]);
    for u in urls {
        cmd.args(["--url", u]);
    }
    cmd.output().expect("run sync verify")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_sites_on_one_machine() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut cmd = bin();
    cmd.args([
        "up",
        "--sites",
        "3",
        "--listen",
        "127.0.0.1:0",
        "--invoices",
        "60",
    ])
    .arg("--data")
    .arg(&data);
    let (_up, _) = start_until(cmd, true, "sites running");
    let creds_path = data.join("demo-credentials.json");
    let creds: Value = serde_json::from_slice(&std::fs::read(&creds_path).expect("credentials"))
        .expect("credentials JSON");
    let url = |site: &str| {
        creds["sites"][site]
            .as_str()
            .unwrap_or_else(|| panic!("demo-credentials.json names {site}: {creds}"))
            .to_string()
    };
    let (main, cloud_a, cloud_b) = (url("main"), url("cloud-a"), url("cloud-b"));
    assert_eq!(creds["base_url"], main.as_str());
    for d in [
        "ca/ca.pem",
        "main/einvoice.toml",
        "cloud-a/einvoice.db",
        "gateway/gateway.toml",
    ] {
        assert!(data.join(d).exists(), "{d}");
    }
    let http = reqwest::Client::new();
    let ubn = creds["seller"]["ubn"].as_str().expect("ubn").to_string();
    let period = creds["period"].as_str().expect("period").to_string();
    let carrier = creds["carrier"].clone();
    let carrier_id = carrier["id"].as_str().expect("carrier id");

    // A seller invoice issued at main is read at cloud-a after sync: the
    // public lookup and the carrier's list (its login checked at cloud-a).
    let msg = invoice(&ubn, &period, carrier_id);
    let file = dir.path().join("invoice.json");
    std::fs::write(&file, serde_json::to_vec(&msg).expect("json")).expect("write");
    let (code, receipt) = client(&creds_path, &["submit", file.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "{receipt}");
    // (Waited for through the sync status: public lookups are rate-limited.)
    let at_main = head_of(&http, &main, "main").await.expect("main's origin");
    eventually(10, "main's invoice at cloud-a", || async {
        (head_of(&http, &cloud_a, "main").await.as_ref() == Some(&at_main)).then_some(())
    })
    .await;
    let date = msg["Main"]["InvoiceDate"].as_str().expect("date");
    let lookup = format!("{cloud_a}/v1/public/invoices/AA00000049?random=0042&date={date}");
    let (s, found) = get_json(&http, &lookup, None).await;
    assert_eq!(s, 200, "{found}");
    assert_eq!(found["total"], 60, "{found}");
    let token = carrier_login(&http, &cloud_a, &carrier).await;
    let (s, list) = get_json(
        &http,
        &format!("{cloud_a}/v1/carrier/invoices?period={period}"),
        Some(&token),
    )
    .await;
    assert_eq!(s, 200, "{list}");
    assert!(
        list["invoices"]
            .as_array()
            .expect("invoices")
            .iter()
            .any(|i| i["number"] == "AA00000049"),
        "{list}"
    );

    // Through the gateway `up` started: a carrier session (login and list)
    // at a cloud site, issuance routed to main (unsigned: main's 401, not a
    // cloud's 421).
    let gateway = creds["gateway"]
        .as_str()
        .unwrap_or_else(|| panic!("demo-credentials.json names the gateway: {creds}"))
        .to_string();
    let token = carrier_login(&http, &gateway, &carrier).await;
    let r = http
        .get(format!("{gateway}/v1/carrier/invoices?period={period}"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list through the gateway");
    assert_eq!(r.status(), 200);
    let site = r
        .headers()
        .get("x-einvoice-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(site.starts_with("cloud-"), "{site}");
    let r = http
        .post(format!("{gateway}/v1/messages"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&msg).expect("json"))
        .send()
        .await
        .expect("post through the gateway");
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()
            .get("x-einvoice-site")
            .and_then(|v| v.to_str().ok()),
        Some("main")
    );

    // A citizen write at cloud-b (the prize bank account) is appended to
    // cloud-b's origin and reaches main, the same entry (sequence and hash).
    let token = carrier_login(&http, &cloud_b, &carrier).await;
    let r = http
        .put(format!("{cloud_b}/v1/carrier/bank-account"))
        .bearer_auth(&token)
        .json(&json!({
            "bank_code": "812", "account_number": "0012345678", "holder_name": "王小明",
            "verification_code": carrier["verification_code"],
        }))
        .send()
        .await
        .expect("put bank account");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let at_b = head_of(&http, &cloud_b, "cloud-b")
        .await
        .expect("cloud-b's own origin");
    assert!(at_b.0 >= 1);
    eventually(10, "cloud-b's write at main", || async {
        (head_of(&http, &main, "cloud-b").await.as_ref() == Some(&at_b)).then_some(())
    })
    .await;
    // Its record follows on the records feed: main, and cloud-a through
    // main, answer the account (each sealed it under its own master key).
    for site in [&main, &cloud_a] {
        let token = carrier_login(&http, site, &carrier).await;
        let url = format!("{site}/v1/carrier/bank-account");
        eventually(10, "cloud-b's bank account", || async {
            let (s, a) = get_json(&http, &url, Some(&token)).await;
            (s == 200 && a["account_number"] == "***5678").then_some(())
        })
        .await;
    }
    // The NPO directory is not provisioned at a cloud: it travels from main.
    let (s, npos) = get_json(&http, &format!("{cloud_a}/v1/carrier/love-codes?q=1"), None).await;
    assert_eq!(s, 200, "{npos}");
    assert!(!npos["npos"].as_array().expect("npos").is_empty(), "{npos}");

    // A main-only operation at a cloud site: 421 MAIN_ONLY naming main.
    let r = http
        .post(format!("{cloud_a}/v1/messages"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&msg).expect("json"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 421);
    let p: Value = r.json().await.expect("problem");
    assert_eq!(p["code"], "MAIN_ONLY", "{p}");
    assert_eq!(p["main_url"], main.as_str(), "{p}");

    // Every site agrees on every origin it holds.
    let urls = [main.as_str(), cloud_a.as_str(), cloud_b.as_str()];
    let mut last = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let out = sync_verify(&urls);
        if out.status.code() == Some(0) {
            last = None;
            break;
        }
        last = Some(String::from_utf8_lossy(&out.stderr).into_owned());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(last, None, "sync verify never passed");
    let out = sync_verify(&urls);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("3 sites agree") && said.contains("resolved invoice states of 1 period"),
        "{said}"
    );
    // The roots it compared: one period, the demo's invoices and ours.
    let (s, roots) = get_json(&http, &format!("{cloud_b}/v1/sync/roots"), None).await;
    assert_eq!(s, 200, "{roots}");
    assert_eq!(roots["periods"][0]["period"], period.as_str(), "{roots}");
    assert_eq!(roots["periods"][0]["invoices"], 61, "{roots}");

    eprintln!("three sites: {:.1} s", started.elapsed().as_secs_f64());
    check_layout(&data);
}

/// Each site's configuration is one `serve --config` can run.
fn check_layout(data: &Path) {
    for site in ["main", "cloud-a", "cloud-b"] {
        let text =
            std::fs::read_to_string(data.join(site).join("einvoice.toml")).expect("configuration");
        assert!(text.contains(&format!("site = \"{site}\"")), "{text}");
    }
}
