//! The gateway's configuration: a TOML file, then `EINVOICE_GATEWAY_*`
//! environment variables.
//!
//! ```toml
//! listen = "127.0.0.1:8443"          # EINVOICE_GATEWAY_LISTEN
//! tls_cert = "gw.pem"                # EINVOICE_GATEWAY_TLS_CERT: with tls_key, HTTPS outside
//! tls_key = "gw.key"                 # EINVOICE_GATEWAY_TLS_KEY
//!
//! [upstream_tls]                     # mutual TLS to https:// sites (einvoice ca issue --site gateway)
//! ca = "ca/ca.pem"
//! cert = "ca/sites/gateway.pem"
//! key = "ca/sites/gateway.key"
//!
//! [[sites]]
//! name = "main"
//! role = "main"                      # main | cloud | standby
//! url = "https://127.0.0.1:8081"
//! weight = 1                         # share of reads among cloud sites
//!
//! [health]
//! interval_ms = 500                  # /readyz poll
//! timeout_ms = 400
//!
//! [limits]
//! max_body_bytes = 4194304           # 413 above this
//! upstream_timeout_ms = 30000        # a site's whole answer
//! per_client_per_minute = 6000       # per client address (IPv6: /64)
//! per_client_burst = 300
//! max_sessions = 200000              # carrier tokens → the site that issued them
//!
//! [admission]                        # peak mode (see crate::admission)
//! max_in_flight = 256
//! class2_share = 0.75
//! class3_share = 0.4
//! queue = [256, 128, 16]             # waiters per class 1, 2, 3
//! queue_timeout_ms = 2000
//!
//! [cache]
//! ttl_ms = 5000
//! max_entries = 4096
//!
//! [edge]                             # einvoice_server::edge::EdgeLimits
//! header_read_timeout_ms = 10000
//! ```

use einvoice_server::edge::EdgeLimits;
use einvoice_server::role::Role;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Why a configuration cannot be used; the code first, then the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("GATEWAY_CONFIG_READ: {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// The file is not valid TOML of this shape.
    #[error("GATEWAY_CONFIG_PARSE: {0}")]
    Parse(String),
    /// A field holds a value the gateway cannot use.
    #[error("GATEWAY_CONFIG_INVALID: {field}: {message}")]
    Invalid {
        /// The field (`sites[1].url`, `EINVOICE_GATEWAY_LISTEN`).
        field: String,
        /// What is wrong and what is expected.
        message: String,
    },
}

impl ConfigError {
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// One site behind the gateway.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// The site's name (its ledger origin), in metrics and `x-einvoice-site`.
    pub name: String,
    /// The site's role: which route classes it is sent.
    pub role: Role,
    /// Base URL, `http://host:port` or `https://host:port` (mutual TLS).
    pub url: String,
    /// Share of reads among sites of its role (≥ 1).
    #[serde(default = "one")]
    pub weight: u32,
}

fn one() -> u32 {
    1
}

/// Mutual TLS to the sites: the deployment CA and the gateway's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTls {
    /// PEM certificate of the deployment CA (the only root trusted).
    pub ca: PathBuf,
    /// The gateway's certificate, signed by the CA.
    pub cert: PathBuf,
    /// The gateway's private key.
    pub key: PathBuf,
}

/// Health checking of the sites.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Health {
    /// Pause between two `/readyz` polls of a site, ms.
    pub interval_ms: u64,
    /// Time a `/readyz` answer may take, ms.
    pub timeout_ms: u64,
    /// A cloud site whose `/readyz` reports a sync lag (`sync_lag_s`) above
    /// this is drained from reads that need fresh data
    /// ([`crate::classes::needs_fresh`]) until it is back within it, ms.
    pub max_read_lag_ms: u64,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            interval_ms: 500,
            timeout_ms: 400,
            max_read_lag_ms: 5_000,
        }
    }
}

/// Request limits at the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest request body, bytes (413 `PAYLOAD_TOO_LARGE` above).
    pub max_body_bytes: usize,
    /// Time for a site's whole answer, ms (then 504 `UPSTREAM_TIMEOUT`).
    pub upstream_timeout_ms: u64,
    /// Time to connect to a site, ms.
    pub connect_timeout_ms: u64,
    /// An idle pooled connection to a site is closed after this, ms (keep it
    /// under the sites' `[edge] header_read_timeout_ms`).
    pub upstream_idle_ms: u64,
    /// Time for a client's whole request body, ms (408 `REQUEST_TIMEOUT`).
    pub body_timeout_ms: u64,
    /// Requests a minute from one client address.
    pub per_client_per_minute: u32,
    /// Requests at once from one client address before the rate applies.
    pub per_client_burst: u32,
    /// Carrier sessions remembered (which site issued a token, see
    /// [`crate::affinity`]).
    pub max_sessions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            upstream_timeout_ms: 30_000,
            connect_timeout_ms: 1_000,
            upstream_idle_ms: 4_000,
            body_timeout_ms: 10_000,
            per_client_per_minute: 6_000,
            per_client_burst: 300,
            max_sessions: 200_000,
        }
    }
}

/// Admission control (see [`crate::admission`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Admission {
    /// Requests in flight to the sites at once, all classes.
    pub max_in_flight: usize,
    /// Class 2 is admitted while fewer than this share of `max_in_flight` are in flight.
    pub class2_share: f64,
    /// Class 3 is admitted while fewer than this share are in flight.
    pub class3_share: f64,
    /// Requests that may wait for admission, per class 1, 2, 3; beyond, shed at once.
    pub queue: [usize; 3],
    /// Longest wait for admission, ms; then shed.
    pub queue_timeout_ms: u64,
}

impl Default for Admission {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            class2_share: 0.75,
            class3_share: 0.4,
            queue: [256, 128, 16],
            queue_timeout_ms: 2_000,
        }
    }
}

/// The cache of public answers (see [`crate::cache`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// How long an answer is served without asking a site again, ms (also
    /// its `max-age`).
    pub ttl_ms: u64,
    /// Most answers kept.
    pub max_entries: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ttl_ms: 5_000,
            max_entries: 4_096,
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Address to listen on.
    pub listen: String,
    /// PEM certificate chain for HTTPS on the outside (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS on the outside.
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS to `https://` sites.
    pub upstream_tls: Option<UpstreamTls>,
    /// The sites.
    pub sites: Vec<SiteConfig>,
    /// Health checking.
    pub health: Health,
    /// Request limits.
    pub limits: Limits,
    /// Admission control.
    pub admission: Admission,
    /// The cache.
    pub cache: CacheConfig,
    /// Listener limits (header and idle timeouts, connection caps).
    pub edge: EdgeLimits,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8443".into(),
            tls_cert: None,
            tls_key: None,
            upstream_tls: None,
            sites: Vec::new(),
            health: Health::default(),
            limits: Limits::default(),
            admission: Admission::default(),
            cache: CacheConfig::default(),
            edge: EdgeLimits::default(),
        }
    }
}

impl GatewayConfig {
    /// Read `path`, apply the environment, check.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let mut cfg = Self::parse(&text)?;
        cfg.apply_env(|k| std::env::var(k).ok());
        cfg.check()?;
        Ok(cfg)
    }

    /// Parse TOML text (not checked: see [`GatewayConfig::check`]).
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))
    }

    /// Apply `EINVOICE_GATEWAY_LISTEN`, `_TLS_CERT`, `_TLS_KEY` through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) {
        if let Some(v) = get("EINVOICE_GATEWAY_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = get("EINVOICE_GATEWAY_TLS_CERT") {
            self.tls_cert = Some(v.into());
        }
        if let Some(v) = get("EINVOICE_GATEWAY_TLS_KEY") {
            self.tls_key = Some(v.into());
        }
    }

    /// Check what the types cannot: one main site, distinct names, URLs,
    /// weights, shares, TLS pairs.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::invalid(
                "listen",
                format!("{:?} is not an address:port", self.listen),
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::invalid(
                "tls_cert",
                "tls_cert and tls_key go together (both or neither)",
            ));
        }
        let mains = self.sites.iter().filter(|s| s.role == Role::Main).count();
        if mains != 1 {
            return Err(ConfigError::invalid(
                "sites",
                format!("exactly one site must have role \"main\" (found {mains})"),
            ));
        }
        for (i, s) in self.sites.iter().enumerate() {
            if einvoice_sync::ca::check_site_name(&s.name).is_err() {
                return Err(ConfigError::invalid(
                    format!("sites[{i}].name"),
                    format!("{:?} is not a site name (a-z, 0-9, -; 1-63)", s.name),
                ));
            }
            if self.sites[..i].iter().any(|o| o.name == s.name) {
                return Err(ConfigError::invalid(
                    format!("sites[{i}].name"),
                    format!("{:?} is named twice", s.name),
                ));
            }
            let https = s.url.starts_with("https://");
            if !(https || s.url.starts_with("http://")) || reqwest::Url::parse(&s.url).is_err() {
                return Err(ConfigError::invalid(
                    format!("sites[{i}].url"),
                    format!("{:?} is not an http:// or https:// URL", s.url),
                ));
            }
            if https && self.upstream_tls.is_none() {
                return Err(ConfigError::invalid(
                    format!("sites[{i}].url"),
                    "an https:// site needs [upstream_tls] (ca, cert, key: einvoice ca issue --site gateway)",
                ));
            }
            if s.weight == 0 || s.weight > 1000 {
                return Err(ConfigError::invalid(
                    format!("sites[{i}].weight"),
                    "a weight is 1 to 1000",
                ));
            }
        }
        let a = &self.admission;
        let share_ok = |x: f64| x > 0.0 && x <= 1.0;
        if a.max_in_flight == 0 || !share_ok(a.class2_share) || !share_ok(a.class3_share) {
            return Err(ConfigError::invalid(
                "admission",
                "max_in_flight must be ≥ 1 and class2_share, class3_share in (0, 1]",
            ));
        }
        if a.class3_share > a.class2_share {
            return Err(ConfigError::invalid(
                "admission.class3_share",
                "class 3 (bulk) may not get a larger share than class 2",
            ));
        }
        if self.health.interval_ms == 0 || self.health.timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "health",
                "interval_ms and timeout_ms must be ≥ 1",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITES: &str = r#"
        [[sites]]
        name = "main"
        role = "main"
        url = "http://127.0.0.1:1"
        [[sites]]
        name = "cloud-a"
        role = "cloud"
        url = "http://127.0.0.1:2"
        weight = 3
    "#;

    #[test]
    fn a_file_with_one_main_parses_and_checks() {
        let cfg = GatewayConfig::parse(SITES).expect("parse");
        cfg.check().expect("check");
        assert_eq!(cfg.sites[1].weight, 3);
        assert_eq!(cfg.sites[0].weight, 1);
        assert_eq!(cfg.health.interval_ms, 500);
    }

    #[test]
    fn mistakes_name_their_field() {
        let err = |t: &str| {
            GatewayConfig::parse(t)
                .and_then(|c| c.check().map(|()| c))
                .expect_err("refused")
                .to_string()
        };
        assert!(err("").contains("GATEWAY_CONFIG_INVALID: sites:"));
        let https = SITES.replace("http://127.0.0.1:2", "https://127.0.0.1:2");
        assert!(err(&https).contains("sites[1].url"));
        let twice = SITES.replace("cloud-a", "main");
        assert!(err(&twice).contains("sites[1].name"));
        let role = SITES.replace("\"cloud\"", "\"edge\"");
        assert!(err(&role).starts_with("GATEWAY_CONFIG_PARSE"));
        let unknown = format!("{SITES}\n[cache]\nttl = 5\n");
        assert!(err(&unknown).starts_with("GATEWAY_CONFIG_PARSE"));
        let weight = SITES.replace("weight = 3", "weight = 0");
        assert!(err(&weight).contains("sites[1].weight"));
    }

    #[test]
    fn the_environment_overrides_the_listen_address() {
        let mut cfg = GatewayConfig::parse(SITES).expect("parse");
        cfg.apply_env(|k| (k == "EINVOICE_GATEWAY_LISTEN").then(|| "0.0.0.0:9".to_string()));
        assert_eq!(cfg.listen, "0.0.0.0:9");
    }
}
