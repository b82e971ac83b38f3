//! HTTPS with a self-signed certificate: a TLS client that trusts it gets the
//! same API; bad certificate files are refused with their codes.

use einvoice_secrets::Sealer;
use einvoice_server::edge::EdgeLimits;
use einvoice_server::tls::{TlsError, serve_tls, serve_tls_with, server_config};
use einvoice_server::{SiteOptions, router};
use einvoice_store_sqlite::SqliteStore;
use rustls::pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, Vec<u8>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).expect("write cert");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("write key");
    (cert, key, ck.cert.der().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_serves_the_api_and_plain_clients_get_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key, der) = self_signed(dir.path());
    let cfg = server_config(&cert, &key).expect("config");
    let store = SqliteStore::open(&dir.path().join("s.db"), "main").expect("store");
    let app = router(store, Sealer::new(&[1u8; 32]), SiteOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve_tls(listener, app, cfg, std::future::pending()));

    let connector = client_connector(der);
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut tls = connector
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("handshake");
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"ok\""), "{answer}");

    // A plain-HTTP client gets no HTTP answer from the TLS port.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ =
        tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
}

fn client_connector(der: Vec<u8>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(der)).expect("root");
    let client_cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(client_cfg))
}

/// Whether the peer closed `s` within `within`.
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(s: &mut S, within: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

/// The TLS listener has the plain listener's limits: a silent client is cut
/// at the handshake timeout, a trickling head at the header timeout, and
/// every HTTPS answer carries HSTS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_listener_cuts_slow_handshakes_and_heads_and_sends_hsts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key, der) = self_signed(dir.path());
    let cfg = server_config(&cert, &key).expect("config");
    let store = SqliteStore::open(&dir.path().join("s.db"), "main").expect("store");
    let app = router(store, Sealer::new(&[1u8; 32]), SiteOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let limits = EdgeLimits {
        header_read_timeout_ms: 1_000,
        tls_handshake_timeout_ms: 1_000,
        ..EdgeLimits::default()
    };
    tokio::spawn(serve_tls_with(
        listener,
        app,
        cfg,
        limits,
        std::future::pending(),
    ));

    // No ClientHello at all: closed at the handshake timeout.
    let mut silent = tokio::net::TcpStream::connect(addr).await.expect("connect");
    assert!(closed_within(&mut silent, Duration::from_secs(3)).await);

    // Handshake done, then a request head one line at a time.
    let connector = client_connector(der);
    let name = ServerName::try_from("localhost").expect("name");
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut tls = connector
        .connect(name.clone(), tcp)
        .await
        .expect("handshake");
    tls.write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .expect("write");
    let started = std::time::Instant::now();
    let mut cut = false;
    for i in 0..20 {
        if closed_within(&mut tls, Duration::from_millis(300)).await {
            cut = true;
            break;
        }
        if tls
            .write_all(format!("X-{i}: y\r\n").as_bytes())
            .await
            .is_err()
        {
            cut = true;
            break;
        }
    }
    assert!(
        cut && started.elapsed() < Duration::from_secs(4),
        "trickling head over TLS kept"
    );

    // A whole request is answered, with Strict-Transport-Security.
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut tls = connector.connect(name, tcp).await.expect("handshake");
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    tls.read_to_string(&mut answer).await.expect("read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "{answer}"
    );
}

#[test]
fn bad_certificate_files_are_refused_with_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key, _) = self_signed(dir.path());
    let missing = dir.path().join("missing.pem");
    assert!(matches!(
        server_config(&missing, &key),
        Err(TlsError::Cert { .. })
    ));
    assert!(matches!(
        server_config(&cert, &missing),
        Err(TlsError::Key { .. })
    ));
    // A key that does not belong to the certificate.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).expect("dir");
    let (_, other_key, _) = self_signed(&other);
    let e = server_config(&cert, &other_key)
        .err()
        .map(|e| e.to_string());
    assert!(
        e.is_some_and(|m| m.starts_with("TLS_CONFIG")),
        "mismatched key refused"
    );
}
