//! TLS to PostgreSQL against a throw-away cluster started with `ssl = on`, a
//! certificate made at test time by a test CA, and a `pg_hba.conf` that
//! admits TCP clients over TLS only: `verify-full` connects (and the session
//! is encrypted), a wrong root CA and a wrong host name are refused with a
//! clear error, `sslmode=disable` is refused by the server.

use einvoice_store::Store;
use einvoice_store_postgres::PgStore;
use einvoice_store_postgres::pg_harness::PgCluster;
use einvoice_store_postgres::tls::{TlsMode, pg_connect_config};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use std::path::Path;

/// A CA, written to `dir/name`; its parameters and key to sign with.
fn ca(dir: &Path, name: &str) -> (CertificateParams, KeyPair) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("einvoice test CA {name}"),
    );
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    std::fs::write(dir.join(name), cert.pem()).expect("write CA");
    (params, key)
}

struct TlsCluster {
    cluster: PgCluster,
    dir: tempfile::TempDir,
    port: u16,
}

impl TlsCluster {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ca_params, ca_key) = ca(dir.path(), "ca.pem");
        let _ = ca(dir.path(), "other-ca.pem");
        let server_key = KeyPair::generate().expect("key");
        let server = CertificateParams::new(vec!["localhost".to_string()])
            .expect("params")
            .signed_by(&server_key, &Issuer::from_params(&ca_params, &ca_key))
            .expect("server certificate");
        let cluster =
            PgCluster::start_tls(&server.pem(), &server_key.serialize_pem()).expect("TLS cluster");
        let port = cluster.tcp_port().expect("tcp port");
        Self { cluster, dir, port }
    }

    fn url(&self, host: &str, extra: &str) -> String {
        format!(
            "host={host} port={} user=postgres dbname=postgres {extra}",
            self.port
        )
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// Connect with the driver and say whether the session is encrypted.
async fn session_is_tls(url: &str) -> Result<bool, String> {
    let c = pg_connect_config(url).map_err(|e| e.to_string())?;
    let (client, conn) = c.config.connect(c.tls).await.map_err(|e| {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        text
    })?;
    tokio::spawn(conn);
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    row.try_get::<_, bool>(0).map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_connects_encrypted_and_bad_trust_or_plain_is_refused() {
    let t = TlsCluster::start();
    let ca = t.file("ca.pem");

    // verify-full with the right CA: the store connects, the link is TLS.
    let good = t.url(
        "localhost",
        &format!("sslmode=verify-full sslrootcert={ca}"),
    );
    assert_eq!(session_is_tls(&good).await, Ok(true));
    let store = PgStore::connect(&good, "main")
        .await
        .expect("store over TLS");
    store.ping().await.expect("ping over TLS");

    // A root CA that did not sign the server's certificate.
    let wrong = t.url(
        "localhost",
        &format!("sslmode=verify-full sslrootcert={}", t.file("other-ca.pem")),
    );
    let e = session_is_tls(&wrong).await.expect_err("wrong CA refused");
    assert!(e.contains("TLS") && e.contains("certificate"), "{e}");
    // The store's own error names the cause too.
    let e = PgStore::connect(&wrong, "main")
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("TLS") && e.contains("certificate"), "{e}");

    // The right CA but a host the certificate does not name: verify-full
    // refuses, verify-ca (chain only) accepts.
    let by_ip = t.url(
        "127.0.0.1",
        &format!("sslmode=verify-full sslrootcert={ca}"),
    );
    let e = session_is_tls(&by_ip)
        .await
        .expect_err("name mismatch refused");
    assert!(e.contains("certificate"), "{e}");
    let ca_only = t.url("127.0.0.1", &format!("sslmode=verify-ca sslrootcert={ca}"));
    assert_eq!(session_is_tls(&ca_only).await, Ok(true));

    // No TLS: pg_hba.conf has only hostssl lines, the server refuses.
    let plain = t.url("localhost", "sslmode=disable");
    let e = session_is_tls(&plain).await.expect_err("plain refused");
    assert!(
        e.contains("pg_hba.conf") && e.contains("no encryption"),
        "{e}"
    );

    // The default for a loopback host is prefer: TLS when offered.
    let default = t.url("localhost", "");
    assert_eq!(
        pg_connect_config(&default).map(|c| c.mode).ok(),
        Some(TlsMode::Prefer)
    );
    assert_eq!(session_is_tls(&default).await, Ok(true));

    // URL form, as in --database / EINVOICE_DATABASE.
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={ca}",
        t.port
    );
    assert_eq!(session_is_tls(&url).await, Ok(true));
    drop(t.cluster);
}
