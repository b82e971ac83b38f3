//! TLS to PostgreSQL: rustls on the aws-lc-rs provider (the one crypto
//! provider of the tree) through `tokio-postgres-rustls`, with libpq's
//! `sslmode` and `sslrootcert` connection options.
//!
//! | `sslmode` | TLS | certificate checked |
//! | --- | --- | --- |
//! | `disable` | never | — |
//! | `prefer` | when the server offers it | only with `sslrootcert` (chain, as `verify-ca`) |
//! | `require` | always | only with `sslrootcert` (chain, as `verify-ca`) |
//! | `verify-ca` | always | chain to `sslrootcert` |
//! | `verify-full` | always | chain to `sslrootcert` and the host name |
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the
//! system's trust store (also used by `verify-ca` / `verify-full` when no
//! `sslrootcert` is given).
//!
//! **Default when `sslmode` is absent** (safer than libpq's `prefer`):
//! `verify-full` for a network host; `prefer` for a loopback host
//! (`localhost`, `127.0.0.0/8`, `::1`), whose traffic does not leave the
//! machine; `disable` for a unix socket (PostgreSQL offers no TLS there).

use einvoice_store::StoreError;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::str::FromStr;
use std::sync::Arc;
use tokio_postgres::config::{Host, SslMode};

pub use tokio_postgres_rustls::MakeRustlsConnect;

/// libpq's `sslmode`, all five of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it.
    Prefer,
    /// TLS always.
    Require,
    /// TLS, certificate chained to a trusted root.
    VerifyCa,
    /// TLS, trusted chain and the certificate names the host.
    VerifyFull,
}

impl FromStr for TlsMode {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "disable" => Self::Disable,
            "prefer" | "allow" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(invalid(format!(
                    "sslmode={other:?}: use disable, prefer, require, verify-ca or verify-full"
                )));
            }
        })
    }
}

fn invalid(m: String) -> StoreError {
    StoreError::Backend(format!("invalid database url: {m}"))
}

/// A database URL made ready to connect: the driver's configuration (with
/// `sslmode` mapped onto it) and the TLS connector that carries out `mode`.
pub struct PgConnectConfig {
    /// The driver's configuration.
    pub config: tokio_postgres::Config,
    /// The TLS connector (unused with [`TlsMode::Disable`]).
    pub tls: MakeRustlsConnect,
    /// The mode in force (given, or the default for the host).
    pub mode: TlsMode,
}

impl std::fmt::Debug for PgConnectConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The driver's config redacts the password itself.
        f.debug_struct("PgConnectConfig")
            .field("config", &self.config)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// Parse a libpq connection string (`postgres://…?sslmode=…` or
/// `host=… sslmode=…`) into a driver configuration and TLS connector.
pub fn pg_connect_config(url: &str) -> Result<PgConnectConfig, StoreError> {
    let (rest, mode, root) = take_tls_options(url)?;
    let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| invalid(e.to_string()))?;
    let mode = match mode {
        Some(m) => m,
        None => default_mode(config.get_hosts()),
    };
    config.ssl_mode(match mode {
        TlsMode::Disable => SslMode::Disable,
        TlsMode::Prefer => SslMode::Prefer,
        _ => SslMode::Require,
    });
    let tls = MakeRustlsConnect::new(client_config(mode, root.as_deref())?);
    Ok(PgConnectConfig { config, tls, mode })
}

/// The mode used when the URL names none (see the module documentation).
fn default_mode(hosts: &[Host]) -> TlsMode {
    let local = |h: &Host| match h {
        Host::Unix(_) => Some(TlsMode::Disable),
        Host::Tcp(name) => {
            let loopback = name == "localhost"
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            loopback.then_some(TlsMode::Prefer)
        }
    };
    // The weakest default only when every host qualifies for it.
    let modes: Vec<Option<TlsMode>> = hosts.iter().map(local).collect();
    if modes.is_empty() || modes.iter().all(|m| *m == Some(TlsMode::Disable)) {
        // No host: the driver's default is a unix socket.
        TlsMode::Disable
    } else if modes.iter().all(Option::is_some) {
        TlsMode::Prefer
    } else {
        TlsMode::VerifyFull
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Trusted roots: the PEM file `root`, or the system's store (`system` or none).
fn roots(root: Option<&str>) -> Result<RootCertStore, StoreError> {
    let mut store = RootCertStore::empty();
    match root {
        Some(path) if path != "system" => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| invalid(format!("sslrootcert={path}: {e}")))?;
            if certs.is_empty() {
                return Err(invalid(format!("sslrootcert={path}: no CERTIFICATE block")));
            }
            for c in certs {
                store
                    .add(c)
                    .map_err(|e| invalid(format!("sslrootcert={path}: {e}")))?;
            }
        }
        _ => {
            let found = rustls_native_certs::load_native_certs();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                return Err(invalid(
                    "no trusted root certificates in the system store: give sslrootcert=FILE"
                        .into(),
                ));
            }
        }
    }
    Ok(store)
}

fn client_config(mode: TlsMode, root: Option<&str>) -> Result<ClientConfig, StoreError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("TLS setup: {e}")))?;
    let webpki = |root: Option<&str>| -> Result<Arc<WebPkiServerVerifier>, StoreError> {
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots(root)?), provider())
            .build()
            .map_err(|e| StoreError::Backend(format!("TLS setup: {e}")))
    };
    let verifier: Arc<dyn ServerCertVerifier> = match (mode, root) {
        (TlsMode::VerifyFull, _) => webpki(root)?,
        (TlsMode::VerifyCa, _) | (TlsMode::Prefer | TlsMode::Require, Some(_)) => {
            Arc::new(ChainOnly(webpki(root)?))
        }
        (TlsMode::Disable, _) | (TlsMode::Prefer | TlsMode::Require, None) => {
            Arc::new(EncryptOnly(provider()))
        }
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
}

/// `verify-ca`: the chain must lead to a trusted root; the name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` / `require` without `sslrootcert` (libpq's meaning): the link is
/// encrypted, the server's certificate is not checked; the handshake
/// signatures still are.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Remove `sslmode` and `sslrootcert` (which the driver does not know in
/// full) from a URL or key/value connection string: the rest, the mode and
/// the root file.
#[allow(clippy::type_complexity)]
fn take_tls_options(url: &str) -> Result<(String, Option<TlsMode>, Option<String>), StoreError> {
    let (mut mode, mut root) = (None, None);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_string(), None, None));
        };
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "sslmode" => mode = Some(percent_decode(v)?.parse()?),
                "sslrootcert" => root = Some(percent_decode(v)?),
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok((rest, mode, root));
    }
    let mut kept = Vec::new();
    for (k, v, raw) in key_values(url)? {
        match k.as_str() {
            "sslmode" => mode = Some(v.parse()?),
            "sslrootcert" => root = Some(v),
            _ => kept.push(raw),
        }
    }
    Ok((kept.join(" "), mode, root))
}

/// `%XX` escapes of a URL query value.
fn percent_decode(v: &str) -> Result<String, StoreError> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = v
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| invalid(format!("bad %-escape in {v:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| invalid(format!("{v:?} is not UTF-8")))
}

/// The `key=value` pairs of a libpq keyword/value string (values may be
/// single-quoted with `\` escapes): key, unquoted value, raw text.
fn key_values(s: &str) -> Result<Vec<(String, String, String)>, StoreError> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    loop {
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut key = String::new();
        while let Some(&(_, c)) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        if chars.next().map(|(_, c)| c) != Some('=') {
            return Err(invalid(format!("{key:?} has no value")));
        }
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        let mut end = s.len();
        if chars.peek().is_some_and(|(_, c)| *c == '\'') {
            chars.next();
            let mut closed = false;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(n);
                        }
                    }
                    '\'' => {
                        closed = true;
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(invalid(format!("unterminated quote in {key:?}")));
            }
        } else {
            while let Some(&(i, c)) = chars.peek() {
                if c.is_whitespace() {
                    end = i;
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key, value, s[start..end].to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_options_are_taken_out_and_the_rest_kept() {
        let (rest, mode, root) = take_tls_options(
            "postgres://u:p@db.example:5432/x?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=a",
        )
        .expect("parses");
        assert_eq!(rest, "postgres://u:p@db.example:5432/x?application_name=a");
        assert_eq!(mode, Some(TlsMode::VerifyFull));
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
    }

    #[test]
    fn key_value_options_are_taken_out_with_quotes() {
        let (rest, mode, root) = take_tls_options(
            "host=/tmp/s port=5432 sslrootcert='/a b/c\\'d.pem' sslmode = verify-ca dbname=x",
        )
        .expect("parses");
        assert_eq!(rest, "host=/tmp/s port=5432 dbname=x");
        assert_eq!(mode, Some(TlsMode::VerifyCa));
        assert_eq!(root.as_deref(), Some("/a b/c'd.pem"));
    }

    #[test]
    fn unknown_sslmode_is_refused_naming_the_choices() {
        let e = pg_connect_config("postgres://h/x?sslmode=verify")
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("sslmode") && m.contains("verify-full")));
    }

    #[test]
    fn defaults_are_safe_for_the_network_and_plain_for_sockets() {
        let mode = |u: &str| {
            tokio_postgres::Config::from_str(u)
                .map(|c| default_mode(c.get_hosts()))
                .ok()
        };
        assert_eq!(
            mode("host=/run/postgresql dbname=x"),
            Some(TlsMode::Disable)
        );
        assert_eq!(mode("dbname=x"), Some(TlsMode::Disable));
        assert_eq!(mode("postgres://localhost/x"), Some(TlsMode::Prefer));
        assert_eq!(mode("postgres://127.0.0.1,[::1]/x"), Some(TlsMode::Prefer));
        assert_eq!(mode("postgres://u@db.example/x"), Some(TlsMode::VerifyFull));
        assert_eq!(
            mode("postgres://localhost,db.example/x"),
            Some(TlsMode::VerifyFull)
        );
        let given = pg_connect_config("postgres://u@db.example/x?sslmode=disable").map(|c| c.mode);
        assert_eq!(given.ok(), Some(TlsMode::Disable));
    }
}
