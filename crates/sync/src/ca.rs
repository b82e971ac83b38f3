//! The deployment CA and mutual TLS between sites.
//!
//! `einvoice ca init --dir D` writes `D/ca.pem` and `D/ca.key` (mode 0600);
//! `einvoice ca issue --site NAME --dir D` writes `D/sites/NAME.pem` and
//! `D/sites/NAME.key` (0600): a certificate whose subject CN and first DNS
//! name are the site name, plus the host names and addresses it is reached
//! at, signed by the CA, for both TLS server and client use. A peer listener
//! ([`peer_server_config`]) accepts only clients with a certificate of this
//! CA and reads the peer's site name from it ([`site_name_of`]); a pulling
//! site ([`peer_client`]) trusts only the CA and presents its certificate.

use crate::error::SyncError;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A site's TLS files: the deployment CA, its certificate and its key (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteTls {
    /// The CA certificate.
    pub ca: PathBuf,
    /// The site's certificate.
    pub cert: PathBuf,
    /// The site's private key.
    pub key: PathBuf,
}

/// The CA files in `dir`: (certificate, key).
pub fn ca_files(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("ca.pem"), dir.join("ca.key"))
}

/// The files of site `site` under the CA directory `dir`.
pub fn site_files(dir: &Path, site: &str) -> SiteTls {
    let sites = dir.join("sites");
    SiteTls {
        ca: dir.join("ca.pem"),
        cert: sites.join(format!("{site}.pem")),
        key: sites.join(format!("{site}.key")),
    }
}

/// Check a site name: a DNS label (1–63 of `a-z`, `0-9`, `-`, no leading
/// or trailing `-`), so it can be a certificate's DNS name.
pub fn check_site_name(site: &str) -> Result<(), SyncError> {
    let ok = !site.is_empty()
        && site.len() <= 63
        && !site.starts_with('-')
        && !site.ends_with('-')
        && site
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(SyncError::SiteName(site.to_string()))
    }
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), SyncError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| SyncError::tls(path, e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| SyncError::tls(path, e))
}

fn rcgen_err(path: &Path) -> impl Fn(rcgen::Error) -> SyncError + '_ {
    move |e| SyncError::tls(path, e)
}

/// Create a deployment CA in `dir` (created if missing): a P-256 key
/// (`ca.key`, mode 0600) and a self-signed CA certificate (`ca.pem`).
/// Refuses ([`SyncError::CaExists`]) a directory that already holds a CA key.
pub fn init_ca(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), SyncError> {
    let (cert_path, key_path) = ca_files(dir);
    if key_path.exists() {
        return Err(SyncError::CaExists(dir.display().to_string()));
    }
    std::fs::create_dir_all(dir).map_err(|e| SyncError::tls(dir, e))?;
    let key = KeyPair::generate().map_err(rcgen_err(&key_path))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("einvoice deployment CA {name}"));
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).map_err(rcgen_err(&cert_path))?;
    write_new(&key_path, &key.serialize_pem(), 0o600)?;
    write_new(&cert_path, &cert.pem(), 0o644)?;
    Ok((cert_path, key_path))
}

/// Issue a certificate for site `site` from the CA in `dir`: subject CN and
/// first DNS name `site`, then each of `hosts` (a DNS name or an IP
/// address), usable as TLS server and client; key mode 0600. Refuses a site
/// that already has a key there.
pub fn issue_site(dir: &Path, site: &str, hosts: &[String]) -> Result<SiteTls, SyncError> {
    check_site_name(site)?;
    let (ca_cert, ca_key) = ca_files(dir);
    let ca_pem = std::fs::read_to_string(&ca_cert).map_err(|e| SyncError::tls(&ca_cert, e))?;
    let ca_key_pem = std::fs::read_to_string(&ca_key).map_err(|e| SyncError::tls(&ca_key, e))?;
    let ca_key = KeyPair::from_pem(&ca_key_pem).map_err(rcgen_err(&ca_key))?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).map_err(rcgen_err(&ca_cert))?;
    let files = site_files(dir, site);
    if files.key.exists() {
        return Err(SyncError::tls(
            &files.key,
            format!("site {site:?} already has a key; remove its two files to issue again"),
        ));
    }
    let mut params =
        CertificateParams::new(vec![site.to_string()]).map_err(rcgen_err(&files.cert))?;
    for h in hosts {
        let san = match h.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                h.clone()
                    .try_into()
                    .map_err(|e: rcgen::Error| SyncError::tls(&files.cert, format!("{h}: {e}")))?,
            ),
        };
        if !params.subject_alt_names.contains(&san) {
            params.subject_alt_names.push(san);
        }
    }
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, site);
    params.distinguished_name = dn;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = KeyPair::generate().map_err(rcgen_err(&files.key))?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(rcgen_err(&files.cert))?;
    let sites = dir.join("sites");
    std::fs::create_dir_all(&sites).map_err(|e| SyncError::tls(&sites, e))?;
    write_new(&files.key, &key.serialize_pem(), 0o600)?;
    write_new(&files.cert, &cert.pem(), 0o644)?;
    Ok(files)
}

/// The site name a (verified) peer certificate carries: its subject CN,
/// which must be a valid site name.
pub fn site_name_of(cert: &CertificateDer<'_>) -> Result<String, SyncError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|e| SyncError::PeerName(format!("unreadable peer certificate: {e}")))?;
    let cn = parsed
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .ok_or_else(|| SyncError::PeerName("the peer certificate has no subject CN".into()))?;
    check_site_name(cn).map_err(|_| {
        SyncError::PeerName(format!(
            "the peer certificate's CN {cn:?} is not a site name"
        ))
    })?;
    Ok(cn.to_string())
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, SyncError> {
    let out: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| SyncError::tls(path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| SyncError::tls(path, e))?;
    if out.is_empty() {
        return Err(SyncError::tls(path, "no CERTIFICATE block found"));
    }
    Ok(out)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, SyncError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| SyncError::tls(path, e))
}

fn roots(ca: &Path) -> Result<Arc<RootCertStore>, SyncError> {
    let mut roots = RootCertStore::empty();
    for c in certs(ca)? {
        roots.add(c).map_err(|e| SyncError::tls(ca, e))?;
    }
    Ok(Arc::new(roots))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The peer listener's TLS configuration: this site's certificate, and a
/// client certificate **required** and verified against the deployment CA
/// (rustls' `WebPkiClientVerifier`): a peer without one, or with one of
/// another CA, fails the handshake.
pub fn peer_server_config(tls: &SiteTls) -> Result<Arc<rustls::ServerConfig>, SyncError> {
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots(&tls.ca)?, provider())
            .build()
            .map_err(|e| SyncError::tls(&tls.ca, e))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| SyncError::tls(&tls.cert, e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(&tls.cert)?, key(&tls.key)?)
        .map_err(|e| SyncError::tls(&tls.cert, e))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The rustls client configuration of a pulling site: the deployment CA as
/// the only root, this site's certificate as its identity.
pub fn peer_client_config(tls: &SiteTls) -> Result<rustls::ClientConfig, SyncError> {
    let roots = roots(&tls.ca)?;
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| SyncError::tls(&tls.cert, e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(certs(&tls.cert)?, key(&tls.key)?)
        .map_err(|e| SyncError::tls(&tls.cert, e))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// How long a pulling site waits for the next bytes of an answer before it
/// gives the request up ([`peer_client_idle`]; `[sync] read_timeout_ms`).
pub const PEER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The HTTP client of a pulling site ([`peer_client_config`]), with the
/// default [`PEER_READ_TIMEOUT`].
pub fn peer_client(tls: &SiteTls) -> Result<reqwest::Client, SyncError> {
    peer_client_idle(tls, PEER_READ_TIMEOUT)
}

/// [`peer_client`] giving up on an answer that sends nothing for `idle`: a
/// half-open connection to an upstream (a request sent, no answer ever
/// coming) fails the pull after `idle`, not after the whole-request limit,
/// and the next pull opens a new connection. A connection (TCP and TLS
/// handshake) gets 5 s, a whole request at most 60 s.
pub fn peer_client_idle(
    tls: &SiteTls,
    idle: std::time::Duration,
) -> Result<reqwest::Client, SyncError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(peer_client_config(tls)?)
        .connect_timeout(std::time::Duration::from_secs(5))
        .read_timeout(idle.max(std::time::Duration::from_millis(100)))
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .map_err(|e| SyncError::tls(&tls.cert, e))
}
