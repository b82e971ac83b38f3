//! HTTPS: the same router behind rustls (aws-lc-rs provider, TLS 1.2 and
//! 1.3, HTTP/1.1 and HTTP/2 by ALPN).
//!
//! Each accepted connection gets `tls_handshake_timeout_ms` of its
//! [`EdgeLimits`] to finish its TLS handshake (a slow or silent client cannot
//! hold a task for long), then is served by hyper with the client address
//! available to handlers, under the same limits as plain HTTP
//! ([`crate::edge`]).

use crate::edge::{EdgeLimits, Handshake};
use axum::Router;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Why the certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file is unreadable or holds no PEM certificate.
    #[error("TLS_CERT: {path}: {message}")]
    Cert {
        /// File.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The key file is unreadable or holds no PEM private key.
    #[error("TLS_KEY: {path}: {message}")]
    Key {
        /// File.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the pair (e.g. the key does not match the certificate).
    #[error("TLS_CONFIG: {0}")]
    Config(String),
}

/// A rustls server configuration from PEM files (chain first, leaf first in it).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let cert_err = |m: String| TlsError::Cert {
        path: cert.display().to_string(),
        message: m,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| cert_err(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert_err(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_err("no CERTIFICATE block found".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.display().to_string(),
        message: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Serve `app` over TLS on `listener` with the default [`EdgeLimits`] until
/// `shutdown` resolves (no new connections after that; connections in
/// flight finish their requests).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    app: Router,
    config: Arc<ServerConfig>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_tls_with(listener, app, config, EdgeLimits::default(), shutdown).await
}

/// Serve `app` over TLS on `listener` under `limits` (handshake, header-read
/// and idle timeouts, connection caps); every response carries
/// `Strict-Transport-Security` ([`crate::edge::HSTS`]).
pub async fn serve_tls_with(
    listener: tokio::net::TcpListener,
    app: Router,
    config: Arc<ServerConfig>,
    limits: EdgeLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = Tls(tokio_rustls::TlsAcceptor::from(config));
    crate::edge::serve_connections(listener, app, limits, tls, shutdown).await
}

/// The TLS handshake of an accepted connection.
#[derive(Clone)]
struct Tls(tokio_rustls::TlsAcceptor);

impl Handshake for Tls {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Tag = ();
    const TLS: bool = true;
    async fn handshake(&self, tcp: tokio::net::TcpStream) -> std::io::Result<(Self::Io, ())> {
        Ok((self.0.accept(tcp).await?, ()))
    }
}
