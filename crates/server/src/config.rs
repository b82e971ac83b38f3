//! Site configuration: a TOML file, then environment variables, then defaults
//! that work. Every field has a default, so an empty file is a valid config.
//!
//! ```toml
//! listen = "127.0.0.1:8080"      # EINVOICE_LISTEN
//! data = "data"                  # EINVOICE_DATA: SQLite file, master key
//! site = "main"                  # EINVOICE_SITE: this site's name, its ledger origin
//! role = "main"                  # EINVOICE_ROLE: main | cloud | standby (crate::role)
//! main_url = "https://main.example" # EINVOICE_MAIN_URL: where a cloud or standby site
//!                                # sends main-only requests (required there)
//! sandbox = false                # accept MOF test identifiers (never in production)
//! allow_plain_http = false       # plain HTTP on a non-loopback address (behind a TLS proxy)
//! tls_cert = "cert.pem"          # EINVOICE_TLS_CERT: PEM chain; with tls_key, serve HTTPS
//! tls_key = "key.pem"            # EINVOICE_TLS_KEY
//! webhook_url = "https://hooks.example/winners" # EINVOICE_WEBHOOK_URL: winner notifications
//!                                # (signed with EINVOICE_WEBHOOK_SECRET, environment only)
//! webhook_ca_file = "ca.pem"     # EINVOICE_WEBHOOK_CA_FILE: also trust this CA (PEM) for https
//! webhook_allow_plain_http = false # http:// webhooks to a non-loopback host (a trusted relay)
//!
//! [smtp]                        # registration and notice mail (crate::mail)
//! url = "smtp://127.0.0.1:2525"  # EINVOICE_SMTP_URL; none: registration answers 503
//! from = "einvoice <noreply@example.com>" # EINVOICE_SMTP_FROM
//!
//! [limits]
//! max_body_bytes = 4194304       # 413 above this
//! request_timeout_ms = 30000     # 408 after this
//! max_batch = 1000               # messages per batch (400 above)
//! max_items = 9999               # items per message (400 above; MIG allows 9999)
//! max_page = 1000                # page size (400 above)
//! seller_per_second = 2000       # requests per API key (429 + Retry-After above)
//! seller_burst = 4000
//! public_per_second = 5          # public lookups per client address
//! public_burst = 20
//! carrier_per_second = 20        # citizen requests per client address
//! carrier_burst = 60
//! trusted_proxies = []           # e.g. ["10.0.0.5"]: believe their X-Forwarded-For (crate::forwarded)
//!
//! [edge]                         # the listener, plain and TLS (crate::edge)
//! header_read_timeout_ms = 10000 # whole request head within this, else closed
//! idle_timeout_ms = 60000        # keep-alive connection without a request: closed
//! tls_handshake_timeout_ms = 10000
//! max_connections = 10000        # open connections; beyond: closed at accept
//! max_connections_per_client = 64 # per client address (IPv6: per /64)
//!
//! [scanner]                      # the virus scanner of POST /v1/uploads
//! clamd = "tcp://127.0.0.1:3310" # EINVOICE_CLAMD; or "unix:/run/clamav/clamd.ctl";
//!                                # absent: uploads answer 503 (never unscanned)
//! connect_timeout_ms = 5000
//! scan_timeout_ms = 20000        # no verdict in time: 503 SCANNER_UNAVAILABLE
//!
//! [uploads]                      # crate::uploads::UploadLimits
//! max_upload_bytes = 16777216    # below clamd's StreamMaxLength (25 MB by default)
//! max_entries = 1000
//! max_entry_bytes = 8388608
//! max_total_bytes = 67108864
//! max_ratio = 200
//! max_in_flight = 4              # uploads at once; more: 503 UPLOADS_BUSY
//! ```

use serde::Deserialize;
use std::path::PathBuf;

/// Request limits, each answered with a clear 413 / 400 / 429.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body, bytes (413 `BODY_TOO_LARGE`).
    pub max_body_bytes: usize,
    /// Longest request, milliseconds (408 `REQUEST_TIMEOUT`).
    pub request_timeout_ms: u64,
    /// Most messages in one batch (400 `BATCH_TOO_LARGE`).
    pub max_batch: usize,
    /// Most items in one message (400 `TOO_MANY_ITEMS`).
    pub max_items: usize,
    /// Largest page (400 `PAGE_TOO_LARGE`).
    pub max_page: u32,
    /// Sustained requests per second per API key (429 `RATE_LIMITED`).
    pub seller_per_second: u32,
    /// Burst per API key.
    pub seller_burst: u32,
    /// Public lookups per second per client address.
    pub public_per_second: u32,
    /// Public burst per client address.
    pub public_burst: u32,
    /// Citizen requests per second per client address.
    pub carrier_per_second: u32,
    /// Citizen burst per client address.
    pub carrier_burst: u32,
    /// Proxies whose `X-Forwarded-For` is believed (addresses or CIDR
    /// ranges, e.g. the `einvoice gateway` in front of the site): a request
    /// from one of them counts against the client it names, for every
    /// per-address limit, budget, block and SOC event. Empty (the default):
    /// the header is ignored and the peer address is the client.
    pub trusted_proxies: Vec<einvoice_soc::Cidr>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            request_timeout_ms: 30_000,
            max_batch: 1000,
            max_items: 9999,
            max_page: 1000,
            seller_per_second: 2000,
            seller_burst: 4000,
            public_per_second: 5,
            public_burst: 20,
            carrier_per_second: 20,
            carrier_burst: 60,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// Listen address.
    pub listen: String,
    /// Data directory (SQLite database, master key).
    pub data: PathBuf,
    /// Store URL: absent for SQLite in `data`, or `postgres://…`.
    pub database: Option<String>,
    /// This site's ledger origin.
    pub site: String,
    /// This site's role in the deployment (`main`, `cloud`, `standby`).
    pub role: crate::role::Role,
    /// Base URL of the main site; required when `role` is not `main`.
    pub main_url: Option<String>,
    /// Accept MOF test identifiers.
    pub sandbox: bool,
    /// Serve plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).
    pub allow_plain_http: bool,
    /// PEM certificate chain for HTTPS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    pub tls_key: Option<PathBuf>,
    /// Request limits.
    pub limits: Limits,
    /// Connection limits of the listener (slow and greedy clients).
    pub edge: crate::edge::EdgeLimits,
    /// Where the outbox's winner notifications are POSTed (`https://…`, or
    /// `http://…` to a loopback relay); the signing secret comes from
    /// `EINVOICE_WEBHOOK_SECRET` only.
    pub webhook_url: Option<String>,
    /// PEM CA certificates trusted for the webhook besides the system's
    /// trust store (a site's private CA).
    pub webhook_ca_file: Option<PathBuf>,
    /// Allow an `http://` webhook on a non-loopback host (the notifications
    /// and their signatures then travel in clear).
    pub webhook_allow_plain_http: bool,
    /// Site-to-site sync (`[sync]`: peer listener, CA files, upstreams).
    pub sync: einvoice_sync::SyncConfig,
    /// `[app_api]`: the MOF App API's settings.
    pub app_api: AppApiFile,
    /// `[smtp]`: where registration and notice mail leaves ([`crate::mail`]).
    pub smtp: crate::mail::SmtpFile,
    /// `[scanner]`: the clamd that scans uploads.
    pub scanner: ScannerFile,
    /// `[uploads]`: upload and archive limits.
    pub uploads: crate::uploads::UploadLimits,
}

/// `[scanner]` of the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScannerFile {
    /// Where clamd listens (`tcp://host:port`, `unix:/path`); none: uploads are refused.
    pub clamd: Option<crate::uploads::clamd::ClamdAddr>,
    /// Time allowed to connect to clamd, milliseconds.
    pub connect_timeout_ms: u64,
    /// Time allowed for a whole scan, milliseconds.
    pub scan_timeout_ms: u64,
}

impl Default for ScannerFile {
    fn default() -> Self {
        Self {
            clamd: None,
            connect_timeout_ms: 5_000,
            scan_timeout_ms: 20_000,
        }
    }
}

/// `[app_api]` of the configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppApiFile {
    /// Every App API action must carry a valid `signature` and a `timeStamp`
    /// (replays refused); off when absent, for sites configured before it
    /// existed — `einvoice up` turns it on.
    pub require_signature: bool,
}

impl Default for FileConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data: PathBuf::from("data"),
            database: None,
            site: "main".into(),
            role: crate::role::Role::Main,
            main_url: None,
            sandbox: false,
            allow_plain_http: false,
            tls_cert: None,
            tls_key: None,
            limits: Limits::default(),
            edge: crate::edge::EdgeLimits::default(),
            webhook_url: None,
            webhook_ca_file: None,
            webhook_allow_plain_http: false,
            sync: einvoice_sync::SyncConfig::default(),
            app_api: AppApiFile::default(),
            smtp: crate::mail::SmtpFile::default(),
            scanner: ScannerFile::default(),
            uploads: crate::uploads::UploadLimits::default(),
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML is malformed or has unknown keys.
    #[error("CONFIG_INVALID: {0}")]
    Invalid(String),
    /// An environment variable has a bad value.
    #[error("CONFIG_ENV: {name}: {message}")]
    Env {
        /// Variable name.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Plain HTTP requested on a public address without `allow_plain_http`.
    #[error(
        "PLAIN_HTTP_REFUSED: {0} is not a loopback address; configure tls_cert and tls_key, \
         or set allow_plain_http = true when a TLS proxy sits in front"
    )]
    PlainHttp(String),
    /// A cloud or standby site without `main_url`: it could not say where
    /// main-only requests go.
    #[error(
        "MAIN_URL_REQUIRED: role {0} needs main_url (EINVOICE_MAIN_URL), the main site's base URL, \
         so that main-only requests can be sent there"
    )]
    MainUrlRequired(crate::role::Role),
    /// Only one of certificate and key is configured.
    #[error("TLS_INCOMPLETE: tls_cert and tls_key must be given together")]
    TlsIncomplete,
}

impl FileConfig {
    /// Parse a TOML document (unknown keys are refused, so typos surface).
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Invalid(e.to_string()))
    }

    /// Apply `EINVOICE_*` environment variables through `get` (normally `std::env::var`).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = get("EINVOICE_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = get("EINVOICE_DATA") {
            self.data = v.into();
        }
        if let Some(v) = get("EINVOICE_DATABASE") {
            self.database = Some(v);
        }
        if let Some(v) = get("EINVOICE_SITE") {
            self.site = v;
        }
        if let Some(v) = get("EINVOICE_ROLE") {
            self.role = crate::role::Role::parse(&v).ok_or(ConfigError::Env {
                name: "EINVOICE_ROLE",
                message: format!("{v:?}: must be main, cloud or standby"),
            })?;
        }
        if let Some(v) = get("EINVOICE_MAIN_URL") {
            self.main_url = Some(v);
        }
        if let Some(v) = get("EINVOICE_TLS_CERT") {
            self.tls_cert = Some(v.into());
        }
        if let Some(v) = get("EINVOICE_TLS_KEY") {
            self.tls_key = Some(v.into());
        }
        if let Some(v) = get("EINVOICE_WEBHOOK_URL") {
            self.webhook_url = Some(v);
        }
        if let Some(v) = get("EINVOICE_SMTP_URL") {
            self.smtp.url = Some(v);
        }
        if let Some(v) = get("EINVOICE_SMTP_FROM") {
            self.smtp.from = Some(v);
        }
        if let Some(v) = get("EINVOICE_WEBHOOK_CA_FILE") {
            self.webhook_ca_file = Some(v.into());
        }
        if let Some(v) = get("EINVOICE_CLAMD") {
            self.scanner.clamd = Some(crate::uploads::clamd::ClamdAddr::parse(&v).map_err(
                |message| ConfigError::Env {
                    name: "EINVOICE_CLAMD",
                    message,
                },
            )?);
        }
        if let Some(v) = get("EINVOICE_SANDBOX") {
            self.sandbox = match v.as_str() {
                "1" | "true" => true,
                "0" | "false" => false,
                _ => {
                    return Err(ConfigError::Env {
                        name: "EINVOICE_SANDBOX",
                        message: "must be true or false".into(),
                    });
                }
            };
        }
        Ok(())
    }

    /// Refuse combinations that would be unsafe: plain HTTP on a public
    /// address unless forced, a certificate without its key.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.role != crate::role::Role::Main && self.main_url.is_none() {
            return Err(ConfigError::MainUrlRequired(self.role));
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), Some(_)) => return Ok(()),
            (None, None) => {}
            _ => return Err(ConfigError::TlsIncomplete),
        }
        if !self.allow_plain_http && !is_loopback(&self.listen) {
            return Err(ConfigError::PlainHttp(self.listen.clone()));
        }
        Ok(())
    }

    /// The role layer's view of this configuration ([`crate::role::SiteRole`]).
    pub fn site_role(&self) -> crate::role::SiteRole {
        crate::role::SiteRole {
            role: self.role,
            site: self.site.clone(),
            main_url: self.main_url.clone(),
        }
    }

    /// The upload route's settings: the scanner (when `[scanner] clamd` is
    /// set) and the limits.
    pub fn upload_options(&self) -> crate::uploads::UploadOptions {
        crate::uploads::UploadOptions {
            scanner: self.scanner.clamd.clone().map(|addr| {
                let mut c = crate::uploads::clamd::Clamd::new(addr);
                c.connect_timeout =
                    std::time::Duration::from_millis(self.scanner.connect_timeout_ms);
                c.scan_timeout = std::time::Duration::from_millis(self.scanner.scan_timeout_ms);
                c
            }),
            limits: self.uploads,
        }
    }

    /// Whether HTTPS is configured.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }

    /// The webhook worker's configuration, when `webhook_url` is set, signed
    /// with `secret` (from `EINVOICE_WEBHOOK_SECRET`): the URL checked
    /// (`webhook_allow_plain_http`), the CA file read.
    pub fn webhook(
        &self,
        secret: &[u8],
    ) -> Result<Option<crate::webhook::WebhookConfig>, crate::webhook::WebhookError> {
        use crate::webhook::WebhookConfig;
        let Some(url) = &self.webhook_url else {
            return Ok(None);
        };
        let cfg = if self.webhook_allow_plain_http {
            WebhookConfig::allowing_plain_http(url, secret)?
        } else {
            WebhookConfig::new(url, secret)?
        };
        Ok(Some(match &self.webhook_ca_file {
            Some(path) => cfg.with_ca_file(path)?,
            None => cfg,
        }))
    }
}

/// Whether `addr` (`host:port`) names a loopback interface.
pub fn is_loopback(addr: &str) -> bool {
    if let Ok(sa) = addr.parse::<std::net::SocketAddr>() {
        return sa.ip().is_loopback();
    }
    addr.rsplit_once(':')
        .is_some_and(|(host, _)| host == "localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(FileConfig::from_toml("").ok(), Some(FileConfig::default()));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = FileConfig::from_toml("lisen = \"x\"")
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("CONFIG_INVALID") && m.contains("lisen")));
    }

    #[test]
    fn limits_and_env() {
        let mut c = FileConfig::from_toml("[limits]\nmax_batch = 10\n").expect("parses");
        assert_eq!(c.limits.max_batch, 10);
        assert_eq!(c.limits.max_page, Limits::default().max_page);
        c.apply_env(|k| (k == "EINVOICE_LISTEN").then(|| "0.0.0.0:9000".to_string()))
            .expect("env");
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert!(matches!(c.check(), Err(ConfigError::PlainHttp(_))));
        c.allow_plain_http = true;
        assert!(c.check().is_ok());
        let bad = c
            .clone()
            .apply_env(|k| (k == "EINVOICE_SANDBOX").then(|| "maybe".into()));
        assert!(matches!(bad, Err(ConfigError::Env { .. })));
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges() {
        let c =
            FileConfig::from_toml("[limits]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n")
                .expect("parses");
        assert_eq!(c.limits.trusted_proxies.len(), 2);
        assert!(c.limits.trusted_proxies[1].contains("10.9.8.7".parse().expect("ip")));
        for bad in ["[\"10.0.0.1/8\"]", "[\"0.0.0.0/0\"]", "[\"gateway\"]"] {
            let e = FileConfig::from_toml(&format!("[limits]\ntrusted_proxies = {bad}\n"));
            assert!(e.is_err(), "{bad}");
        }
    }

    #[test]
    fn webhook_settings() {
        use crate::webhook::WebhookError;
        let secret = b"0123456789abcdef";
        assert!(matches!(FileConfig::default().webhook(secret), Ok(None)));
        let mut c = FileConfig::from_toml(
            "webhook_url = \"http://10.0.0.5:9000/w\"\nwebhook_allow_plain_http = false\n",
        )
        .expect("parses");
        assert!(matches!(c.webhook(secret), Err(WebhookError::PlainHttp(_))));
        c.webhook_allow_plain_http = true;
        assert!(matches!(c.webhook(secret), Ok(Some(_))));
        c.apply_env(|k| (k == "EINVOICE_WEBHOOK_CA_FILE").then(|| "/nonexistent/ca.pem".into()))
            .expect("env");
        assert_eq!(
            c.webhook_ca_file.as_deref(),
            Some(std::path::Path::new("/nonexistent/ca.pem"))
        );
        assert!(matches!(c.webhook(secret), Err(WebhookError::CaFile(_))));
    }

    #[test]
    fn scanner_section_and_env() {
        use crate::uploads::clamd::ClamdAddr;
        assert_eq!(FileConfig::default().upload_options().scanner, None);
        let c = FileConfig::from_toml(
            "[scanner]\nclamd = \"unix:/run/clamav/clamd.ctl\"\n[uploads]\nmax_entries = 5\n",
        )
        .expect("parses");
        assert_eq!(
            c.upload_options().scanner.map(|s| s.addr),
            Some(ClamdAddr::Unix("/run/clamav/clamd.ctl".into()))
        );
        assert_eq!(c.upload_options().limits.archive().max_entries, 5);
        let e = FileConfig::from_toml("[scanner]\nclamd = \"127.0.0.1:3310\"\n")
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("tcp://host:port")));
        let mut c = FileConfig::default();
        c.apply_env(|k| (k == "EINVOICE_CLAMD").then(|| "tcp://127.0.0.1:3310".into()))
            .expect("env");
        assert_eq!(
            c.scanner.clamd,
            Some(ClamdAddr::Tcp("127.0.0.1:3310".into()))
        );
        let bad = c.apply_env(|k| (k == "EINVOICE_CLAMD").then(|| "clamd".into()));
        assert!(matches!(
            bad,
            Err(ConfigError::Env {
                name: "EINVOICE_CLAMD",
                ..
            })
        ));
    }

    #[test]
    fn edge_section() {
        let c = FileConfig::from_toml("[edge]\nheader_read_timeout_ms = 2000\n").expect("parses");
        assert_eq!(c.edge.header_read_timeout_ms, 2000);
        assert_eq!(c.edge.max_connections_per_client, 64);
        let e = FileConfig::from_toml("[edge]\nheader_timeout = 1\n")
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("header_timeout")));
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("127.0.0.1:80"));
        assert!(is_loopback("[::1]:80"));
        assert!(is_loopback("localhost:8080"));
        assert!(!is_loopback("0.0.0.0:80"));
        assert!(!is_loopback("10.1.2.3:80"));
    }
}
