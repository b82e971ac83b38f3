//! `POST /v1/uploads` against a real ClamAV daemon: the test starts its own
//! `clamd` (Debian's `clamav-daemon`) with a temporary configuration and a
//! signature database of its own holding only the EICAR test signature —
//! nothing downloaded. Without the clamd binary the clamd tests print
//! `SKIPPED` and return (`.ci/run` installs it).

mod common;

use common::now;
use einvoice_server::uploads::clamd::{Clamd, ClamdAddr};
use einvoice_server::uploads::{UploadLimits, UploadOptions};
use einvoice_server::{SiteOptions, sign};
use einvoice_store::conformance::{SELLER_A, SELLER_B, allocation, invoice};
use einvoice_store::{Scope, Store};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The EICAR anti-virus test file (harmless by definition, detected by every scanner).
const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Our signature's name (clamd appends `.UNOFFICIAL` to signatures outside its own databases).
const SIGNATURE: &str = "Einvoice.Test.EICAR";

/// A clamd of our own, stopped on drop.
struct ClamdProcess {
    child: Child,
    addr: ClamdAddr,
    /// How long it took from spawn to the first `PONG`.
    started_in: Duration,
    _dir: tempfile::TempDir,
}

impl Drop for ClamdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clamd_binary() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = vec!["/usr/sbin".into(), "/usr/local/sbin".into()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter()
        .map(|d| d.join("clamd"))
        .find(|p| p.is_file())
}

/// Start clamd on a Unix socket in a tempdir (or TCP on a free port with
/// `tcp`), wait for `PONG`; `None` (after a SKIPPED line) without the binary.
async fn start_clamd(test: &str, tcp: bool) -> Option<ClamdProcess> {
    let Some(bin) = clamd_binary() else {
        println!(
            "SKIPPED {test}: clamd not found (apt-get install -y clamav-daemon clamav; .ci/run does)"
        );
        return None;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("db");
    std::fs::create_dir(&db).expect("db dir");
    // A body-based signature (.ndb): any file type, offset anywhere, EICAR's bytes in hex.
    let hex: String = EICAR.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(db.join("test.ndb"), format!("{SIGNATURE}:0:*:{hex}\n")).expect("ndb");
    let (listen, addr) = if tcp {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        (
            format!("TCPSocket {port}\nTCPAddr 127.0.0.1\n"),
            ClamdAddr::Tcp(format!("127.0.0.1:{port}")),
        )
    } else {
        let sock = dir.path().join("clamd.sock");
        (
            format!("LocalSocket {}\n", sock.display()),
            ClamdAddr::Unix(sock),
        )
    };
    let conf = dir.path().join("clamd.conf");
    std::fs::write(
        &conf,
        format!(
            "Foreground yes\n{listen}DatabaseDirectory {}\nLogFile {}\nPidFile {}\nStreamMaxLength 20M\n",
            db.display(),
            dir.path().join("clamd.log").display(),
            dir.path().join("clamd.pid").display(),
        ),
    )
    .expect("conf");
    let started = Instant::now();
    let child = Command::new(&bin)
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn clamd");
    let mut p = ClamdProcess {
        child,
        addr: addr.clone(),
        started_in: Duration::ZERO,
        _dir: dir,
    };
    let client = Clamd::new(addr);
    let deadline = started + Duration::from_secs(60);
    loop {
        if client.ping().await.is_ok() {
            break;
        }
        if let Ok(Some(status)) = p.child.try_wait() {
            let log = std::fs::read_to_string(p._dir.path().join("clamd.log")).unwrap_or_default();
            panic!("clamd exited with {status} before answering PING:\n{log}");
        }
        assert!(
            Instant::now() < deadline,
            "clamd did not answer PING within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    p.started_in = started.elapsed();
    println!(
        "{test}: clamd answered PING {} ms after spawn ({})",
        p.started_in.as_millis(),
        p.addr
    );
    Some(p)
}

/// Every tracing event of this test process, as text lines (installed once).
fn security_log() -> &'static std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    static LOG: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
        std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || LogWriter(sink.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buf
    })
}

struct LogWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(b);
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn secret(key: &str) -> String {
    format!("secret-of-{key}")
}

/// A site whose uploads are scanned by `clamd` (none: no scanner configured).
async fn site(clamd: Option<&ClamdAddr>, limits: UploadLimits) -> common::TestSite {
    let (store, dir) = common::sqlite_store();
    let sealer = common::sealer(7);
    for (ubn, name) in [(SELLER_A, "A shop"), (SELLER_B, "B shop")] {
        common::put_seller(&store, ubn, name).await;
    }
    let out = store
        .append(&Scope::All, "test", vec![allocation(SELLER_A)])
        .await
        .expect("tracks");
    assert!(out.iter().all(Result::is_ok));
    common::put_api_key(&store, &sealer, "KA", &secret("KA"), &[SELLER_A]).await;
    let opts = SiteOptions {
        uploads: UploadOptions {
            scanner: clamd.cloned().map(Clamd::new),
            limits,
        },
        ..common::fast_site_options()
    };
    common::serve_site(store, dir, sealer, opts).await
}

struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// A request signed by key KA.
async fn signed(
    s: &common::TestSite,
    method: &str,
    path: &str,
    ct: Option<&str>,
    body: Vec<u8>,
) -> Answer {
    let mut req = common::signed_request(
        &s.http,
        &s.url,
        "KA",
        &secret("KA"),
        method,
        path,
        body,
        now(),
        &sign::fresh_nonce(),
    );
    if let Some(ct) = ct {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    if status >= 400 {
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert_eq!(ct, "application/problem+json", "{path}: {status}");
    }
    Answer {
        status,
        body: resp.json().await.unwrap_or(Value::Null),
    }
}

async fn upload(s: &common::TestSite, zip: Vec<u8>) -> Answer {
    signed(s, "POST", "/v1/uploads", Some("application/zip"), zip).await
}

async fn ledger_len(s: &common::TestSite) -> usize {
    s.store
        .entries("main", 0, 100_000)
        .await
        .expect("entries")
        .len()
}

/// A deflated ZIP of `(name, content)` files.
fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, content) in files {
        w.start_file(*name, opts).expect("start");
        w.write_all(content).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

/// Seller A's invoice `n` (track AB of 11402) as MIG 4.1 XML.
fn invoice_xml(n: u32, total: u32) -> Vec<u8> {
    einvoice_mig::encode_xml(&invoice(SELLER_A, &format!("AB{n:08}"), "1234", total).message)
}

fn file_results(a: &Answer) -> Vec<(String, String, String)> {
    a.body["files"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .map(|f| {
                    (
                        f["file"].as_str().unwrap_or("").to_string(),
                        f["status"].as_str().unwrap_or("").to_string(),
                        f["problem"]["code"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_upload_answers_per_file_receipts_and_is_idempotent() {
    let Some(clamd) = start_clamd("clean upload", false).await else {
        return;
    };
    let s = site(Some(&clamd.addr), UploadLimits::default()).await;
    let foreign = einvoice_mig::encode_xml(&invoice(SELLER_B, "AC00000001", "1234", 100).message);
    let zip = zip_of(&[
        ("one.xml", &invoice_xml(1, 100)),
        ("two.xml", &invoice_xml(2, 250)),
        ("broken.xml", b"<Invoice>"),
        ("foreign.xml", &foreign),
    ]);
    let a = upload(&s, zip.clone()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["scan"], "clean");
    assert_eq!(
        (a.body["accepted"].as_u64(), a.body["rejected"].as_u64()),
        (Some(2), Some(2)),
        "{}",
        a.body
    );
    let files = file_results(&a);
    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(names, ["one.xml", "two.xml", "broken.xml", "foreign.xml"]);
    assert_eq!(files[0].1, "accepted");
    assert_eq!(files[1].1, "accepted");
    assert_eq!(files[2].1, "rejected");
    assert_eq!(files[2].2, "XML_MALFORMED", "{files:?}");
    assert_eq!(
        (files[3].1.as_str(), files[3].2.as_str()),
        ("rejected", "TENANT_SCOPE")
    );
    let receipt = &a.body["files"][0]["receipt"];
    assert_eq!(receipt["kind"], "F0401", "{receipt}");
    assert!(
        receipt["key"]
            .as_str()
            .is_some_and(|k| k.contains("AB00000001")),
        "{receipt}"
    );
    // The invoices are readable afterwards.
    for (n, total) in [(1, "100"), (2, "250")] {
        let inv = signed(
            &s,
            "GET",
            &format!("/v1/sellers/{SELLER_A}/invoices/AB{n:08}"),
            None,
            Vec::new(),
        )
        .await;
        assert_eq!(inv.status, 200, "{}", inv.body);
        assert!(inv.body.to_string().contains(total), "{}", inv.body);
    }
    // The same archive again: duplicates, nothing new in the ledger.
    let len = ledger_len(&s).await;
    let again = upload(&s, zip).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["duplicates"], 2, "{}", again.body);
    assert_eq!(again.body["files"][0]["receipt"]["hash"], receipt["hash"]);
    assert_eq!(ledger_len(&s).await, len);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infected_upload_is_refused_whole_and_names_the_signature() {
    let Some(clamd) = start_clamd("infected upload", true).await else {
        return;
    };
    let log = security_log();
    let s = site(Some(&clamd.addr), UploadLimits::default()).await;
    let before = ledger_len(&s).await;
    let zip = zip_of(&[("one.xml", &invoice_xml(1, 100)), ("readme.xml", EICAR)]);
    let a = upload(&s, zip).await;
    assert_eq!((a.status, a.code()), (422, "UPLOAD_INFECTED"), "{}", a.body);
    assert!(
        a.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains(SIGNATURE)),
        "{}",
        a.body
    );
    assert!(
        a.body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(SIGNATURE)),
        "{}",
        a.body
    );
    assert_eq!(
        ledger_len(&s).await,
        before,
        "nothing of an infected upload is stored"
    );
    // The security log: a warning with the actor and the verdict, never the content.
    let text =
        String::from_utf8_lossy(&log.lock().map(|v| v.clone()).unwrap_or_default()).to_string();
    let line = text
        .lines()
        .find(|l| l.contains("verdict=\"infected\""))
        .unwrap_or_else(|| panic!("no security line in {text:?}"));
    assert!(
        line.contains("WARN") && line.contains("einvoice::security"),
        "{line}"
    );
    assert!(
        line.contains("actor=key:KA") && line.contains(SIGNATURE),
        "{line}"
    );
    assert!(
        !text.contains("EICAR-STANDARD"),
        "the content never reaches the log"
    );
    let inv = signed(
        &s,
        "GET",
        &format!("/v1/sellers/{SELLER_A}/invoices/AB00000001"),
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(inv.status, 404);
    // Infected whatever the file is called: the scan comes before the archive rules.
    let a = upload(&s, zip_of(&[("eicar.com", EICAR)])).await;
    assert_eq!(a.code(), "UPLOAD_INFECTED", "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_limits_refuse_bombs_counts_and_unsafe_names() {
    let Some(clamd) = start_clamd("archive limits", false).await else {
        return;
    };
    let limits = UploadLimits {
        max_entries: 3,
        ..UploadLimits::default()
    };
    let s = site(Some(&clamd.addr), limits).await;
    let before = ledger_len(&s).await;
    let inv = invoice_xml(1, 100);
    let bomb = vec![b' '; 6 * 1024 * 1024];
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "zip bomb",
            zip_of(&[("one.xml", &inv), ("bomb.xml", &bomb)]),
            413,
            "UPLOAD_ZIP_BOMB",
        ),
        (
            "too many entries",
            zip_of(&[
                ("a.xml", &inv),
                ("b.xml", &inv),
                ("c.xml", &inv),
                ("d.xml", &inv),
            ]),
            413,
            "UPLOAD_TOO_MANY_ENTRIES",
        ),
        (
            "traversal",
            zip_of(&[("one.xml", &inv), ("../../etc/cron.d/x.xml", &inv)]),
            422,
            "UPLOAD_UNSAFE_NAME",
        ),
        (
            "folder",
            zip_of(&[("sub/one.xml", &inv)]),
            422,
            "UPLOAD_DIRECTORY",
        ),
        (
            "not xml",
            zip_of(&[("one.xml", &inv), ("run.sh", b"echo")]),
            422,
            "UPLOAD_NOT_XML",
        ),
        ("not a zip", inv.clone(), 400, "UPLOAD_NOT_ZIP"),
    ];
    for (what, zip, status, code) in cases {
        let a = upload(&s, zip).await;
        assert_eq!((a.status, a.code()), (status, code), "{what}: {}", a.body);
        assert_eq!(ledger_len(&s).await, before, "{what}: nothing stored");
    }
    let a = signed(
        &s,
        "POST",
        "/v1/uploads",
        Some("application/json"),
        zip_of(&[("one.xml", &inv)]),
    )
    .await;
    assert_eq!((a.status, a.code()), (415, "CONTENT_TYPE"));
}

/// `n` bytes that do not compress (an LCG's high bytes).
fn incompressible(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 56) as u8
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_have_their_own_body_limit_above_the_sites() {
    let Some(clamd) = start_clamd("upload size", false).await else {
        return;
    };
    let limits = UploadLimits {
        max_upload_bytes: 6 * 1024 * 1024,
        ..UploadLimits::default()
    };
    let s = site(Some(&clamd.addr), limits).await;
    // 5 MiB: above the site's max_body_bytes (4 MiB), within the upload limit.
    let five = zip_of(&[
        ("one.xml", &invoice_xml(1, 100)),
        ("noise.xml", &incompressible(5 * 1024 * 1024)),
    ]);
    assert!(five.len() > 5 * 1024 * 1024);
    let a = upload(&s, five).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        (a.body["accepted"].as_u64(), a.body["rejected"].as_u64()),
        (Some(1), Some(1)),
        "{}",
        a.body
    );
    let seven = zip_of(&[("noise.xml", &incompressible(7 * 1024 * 1024))]);
    let a = upload(&s, seven).await;
    assert_eq!((a.status, a.code()), (413, "BODY_TOO_LARGE"), "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_running_scanner_nothing_is_accepted() {
    let zip = zip_of(&[("one.xml", &invoice_xml(1, 100))]);
    // No scanner configured: refused, never unscanned (runs without clamd too).
    let s = site(None, UploadLimits::default()).await;
    let a = upload(&s, zip.clone()).await;
    assert_eq!(
        (a.status, a.code()),
        (503, "SCANNER_NOT_CONFIGURED"),
        "{}",
        a.body
    );
    // Unsigned: refused before anything else.
    let resp = s
        .http
        .post(format!("{}/v1/uploads", s.url))
        .header("content-type", "application/zip")
        .body(zip.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 401);

    let Some(mut clamd) = start_clamd("scanner down", false).await else {
        return;
    };
    let s = site(Some(&clamd.addr), UploadLimits::default()).await;
    let before = ledger_len(&s).await;
    let _ = clamd.child.kill();
    let _ = clamd.child.wait();
    let a = upload(&s, zip).await;
    assert_eq!(
        (a.status, a.code()),
        (503, "SCANNER_UNAVAILABLE"),
        "{}",
        a.body
    );
    assert!(a.body["retry_after"].as_u64().is_some(), "{}", a.body);
    assert_eq!(ledger_len(&s).await, before, "nothing accepted unscanned");
    let inv = signed(
        &s,
        "GET",
        &format!("/v1/sellers/{SELLER_A}/invoices/AB00000001"),
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(inv.status, 404);
}

/// Not a test of the site: the scanner client alone against a missing socket.
#[tokio::test]
async fn the_client_reports_a_missing_daemon_as_unavailable() {
    let c = Clamd::new(ClamdAddr::Unix(Path::new("/nonexistent/clamd.sock").into()));
    let e = c.scan(b"x").await.expect_err("no daemon");
    assert!(e.to_string().contains("unavailable"), "{e}");
}

/// At most `max_in_flight` uploads at once: with two held by a scanner that
/// never answers, a third is refused at once with `503 UPLOADS_BUSY` and
/// Retry-After (nothing read, nothing accepted); once the two end (the
/// scanner's time limit: `SCANNER_UNAVAILABLE`) an upload is taken again.
/// Runs without clamd: the "scanner" is a socket that takes the bytes and
/// says nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_beyond_the_cap_are_refused_busy_until_slots_free() {
    let (listener, addr) = common::bind().await;
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            // Read what is sent (so the client is never blocked writing) and never answer.
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = tokio::io::AsyncReadExt::read(&mut sock, &mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    let (store, dir) = common::sqlite_store();
    let sealer = common::sealer(7);
    common::put_seller(&store, SELLER_A, "A shop").await;
    common::put_api_key(&store, &sealer, "KA", &secret("KA"), &[SELLER_A]).await;
    let mut scanner = Clamd::new(ClamdAddr::Tcp(addr.to_string()));
    scanner.scan_timeout = Duration::from_secs(3);
    let opts = SiteOptions {
        uploads: UploadOptions {
            scanner: Some(scanner),
            limits: UploadLimits {
                max_in_flight: 2,
                ..UploadLimits::default()
            },
        },
        ..common::fast_site_options()
    };
    let s = std::sync::Arc::new(common::serve_site(store, dir, sealer, opts).await);
    let zip = zip_of(&[("one.xml", &invoice_xml(1, 100))]);
    let before = ledger_len(&s).await;
    let started = Instant::now();
    let held: Vec<_> = (0..2)
        .map(|_| {
            let (s, zip) = (s.clone(), zip.clone());
            tokio::spawn(async move { upload(&s, zip).await })
        })
        .collect();
    // Let both reach the scanner.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let resp = common::signed_request(
        &s.http,
        &s.url,
        "KA",
        &secret("KA"),
        "POST",
        "/v1/uploads",
        zip.clone(),
        now(),
        &sign::fresh_nonce(),
    )
    .header("content-type", "application/zip")
    .send()
    .await
    .expect("send");
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let v: Value = resp.json().await.expect("problem");
    assert_eq!(v["code"], "UPLOADS_BUSY", "{v}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "refused at once, not after the held ones"
    );
    for h in held {
        let a = h.await.expect("held upload");
        assert_eq!(
            (a.status, a.code()),
            (503, "SCANNER_UNAVAILABLE"),
            "{}",
            a.body
        );
    }
    // The slots are free again: the next upload reaches the scanner.
    let a = upload(&s, zip).await;
    assert_eq!(
        (a.status, a.code()),
        (503, "SCANNER_UNAVAILABLE"),
        "{}",
        a.body
    );
    assert_eq!(ledger_len(&s).await, before, "nothing accepted");
}
