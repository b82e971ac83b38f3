//! The README's path end to end: `einvoice up` on a fresh data directory,
//! then `einvoice client` with the credentials it wrote — whoami, submit
//! (twice: the retry is a duplicate with the same receipt), read back, list.

mod common;

use common::{bin, client, serve, up};

#[test]
fn up_then_client_submit_read_and_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (_site, creds_path, creds) = up(&data, "60", &[]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&creds_path)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "credentials are readable only by their owner"
        );
    }
    for k in ["seller", "carrier", "app"] {
        assert!(creds[k].is_object(), "credentials carry {k}");
    }
    let ubn = creds["seller"]["ubn"].as_str().expect("ubn").to_string();
    let period = creds["period"].as_str().expect("period").to_string();

    let (code, who) = client(&creds_path, &["whoami"]);
    assert_eq!(code, 0, "{who}");
    assert_eq!(who["sellers"][0], ubn.as_str());

    // The demo seller's track is AA; 60 invoices over 5 sellers used 0–11.
    // Date the new invoice on the period's first day.
    let roc: i32 = period[..3].parse().expect("year");
    let end_month: u32 = period[3..].parse().expect("month");
    let date = format!("{}{:02}01", roc + 1911, end_month - 1);
    let msg = serde_json::json!({
        "message": "F0401",
        "Main": {
            "InvoiceNumber": "AA00000049", "InvoiceDate": date, "InvoiceTime": "12:00:00",
            "Seller": {"Identifier": ubn, "Name": "demo", "Address": "Taipei"},
            "Buyer": {"Identifier": "0000000000", "Name": "0000"},
            "InvoiceType": "07", "DonateMark": "0", "PrintMark": "Y", "RandomNumber": "0042"
        },
        "Details": [{"Description": "tea", "Quantity": "2", "UnitPrice": "30", "TaxType": "1", "Amount": "60", "SequenceNumber": "1"}],
        "Amount": {"SalesAmount": "60", "FreeTaxSalesAmount": "0", "ZeroTaxSalesAmount": "0",
                   "TaxType": "1", "TaxRate": "0.05", "TaxAmount": "0", "TotalAmount": "60"}
    });
    let file = dir.path().join("invoice.json");
    std::fs::write(&file, serde_json::to_vec(&msg).expect("json")).expect("write");
    let f = file.to_str().expect("utf-8 path");
    let (code, receipt) = client(&creds_path, &["submit", f]);
    assert_eq!(code, 0, "{receipt}");
    assert_eq!(receipt["duplicate"], false);
    assert_eq!(receipt["kind"], "F0401");
    let (code, again) = client(&creds_path, &["submit", f]);
    assert_eq!(code, 0, "{again}");
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["hash"], receipt["hash"]);

    let (code, view) = client(&creds_path, &["invoice", &ubn, "AA00000049"]);
    assert_eq!(code, 0, "{view}");
    assert_eq!(view["summary"]["status"], "issued");
    assert_eq!(view["summary"]["total"], 60);

    let (code, page) = client(
        &creds_path,
        &["list", &ubn, "--period", &period, "--limit", "100"],
    );
    assert_eq!(code, 0, "{page}");
    let numbers: Vec<&str> = page["invoices"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["number"].as_str())
        .collect();
    assert!(numbers.contains(&"AA00000049"));
    assert_eq!(numbers.len(), 13, "12 demo invoices + ours: {numbers:?}");

    // A foreign seller is refused with the tenant code and exit 1.
    let (code, refused) = client(&creds_path, &["tracks", "04595257", "--period", &period]);
    assert_eq!(code, 1);
    assert_eq!(refused["code"], "TENANT_SCOPE");
}

/// The same data served over HTTPS (`einvoice serve` with a certificate):
/// `einvoice client` reaches it through `--ca-file`; without the CA the
/// handshake is refused and the command fails; `--ca-file` with a plain
/// http:// URL and plain HTTP to a non-loopback host are refused before
/// anything is sent.
#[test]
fn client_speaks_https_through_a_private_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (site, creds_path, creds) = up(&data, "10", &[]);
    drop(site);
    let ubn = creds["seller"]["ubn"].as_str().expect("ubn").to_string();

    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).expect("write cert");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("write key");
    let (_serve, banner) = serve(
        &[
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().expect("utf-8 path"),
        ],
        "https",
        &[("EINVOICE_TLS_CERT", &cert), ("EINVOICE_TLS_KEY", &key)],
    );
    let addr = banner.split_whitespace().next().unwrap_or("");
    let port = addr.rsplit(':').next().expect("port");
    let url = format!("https://localhost:{port}");
    let cert_arg = cert.to_str().expect("utf-8 path");

    let (code, who) = client(
        &creds_path,
        &["--url", &url, "--ca-file", cert_arg, "whoami"],
    );
    assert_eq!(code, 0, "{who}");
    assert_eq!(who["sellers"][0], ubn.as_str());

    let run = |args: &[&str]| {
        let out = bin()
            .arg("client")
            .arg("--credentials")
            .arg(&creds_path)
            .args(args)
            .output()
            .expect("run client");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_lowercase(),
        )
    };
    let (ok, err) = run(&["--url", &url, "whoami"]);
    assert!(!ok, "a certificate from an unknown CA is refused");
    assert!(err.contains("certificate") || err.contains("tls"), "{err}");

    let (ok, err) = run(&[
        "--url",
        "http://127.0.0.1:1",
        "--ca-file",
        cert_arg,
        "whoami",
    ]);
    assert!(!ok);
    assert!(err.contains("ca_file_unused"), "{err}");
    let (ok, err) = run(&["--url", "http://ops.example:8080", "whoami"]);
    assert!(!ok);
    assert!(err.contains("plain_http_refused"), "{err}");
}
