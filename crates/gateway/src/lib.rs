//! einvoice-gateway: one entry point in front of the sites (`einvoice gateway`).
//!
//! A request goes through, in order:
//!
//! 1. the edge ([`einvoice_server::edge`], the sites' own accept loop):
//!    TLS handshake, header-read and idle timeouts, connection caps;
//! 2. the gateway's checks ([`proxy`]): origin-form target, standard
//!    method, URI length, per-client rate ([`config::Limits`]), body size
//!    and time — refusals are the sites' problem documents;
//! 3. its classes ([`classes`]): the target sites (main, cloud, standby by
//!    the sites' route-class table) and the priority (1–3);
//! 4. the cache ([`cache`]) for the public winning list;
//! 5. admission by priority ([`admission`]): class 3 is shed first, with
//!    503 `OVERLOADED` and `Retry-After`;
//! 6. a site picked by health and load ([`sites`]; a carrier session's
//!    own site first, [`affinity`]), and another one if the first cannot
//!    answer and the request is safe to repeat.
//!
//! The gateway answers `/healthz`, `/readyz` and `/metrics` itself
//! ([`stats`]); every other path goes to a site.

pub mod admission;
pub mod affinity;
pub mod cache;
pub mod classes;
pub mod config;
pub mod proxy;
pub mod sites;
pub mod stats;

use crate::admission::Admission;
use crate::cache::Cache;
use crate::config::GatewayConfig;
use crate::sites::Sites;
use crate::stats::Stats;
use einvoice_server::edge::Handshake;
use einvoice_server::rate_limit::KeyedLimit;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Response header naming the site that answered (or whose answer the
/// cache holds).
pub const SITE_HEADER: &str = "x-einvoice-site";

/// Why the gateway cannot start.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The mutual-TLS files to the sites are unusable.
    #[error("GATEWAY_UPSTREAM_TLS: {0}")]
    UpstreamTls(String),
    /// The outside certificate or key is unusable.
    #[error("GATEWAY_TLS: {0}")]
    Tls(String),
    /// The HTTP client could not be built.
    #[error("GATEWAY_CLIENT: {0}")]
    Client(String),
    /// The listener failed.
    #[error("GATEWAY_LISTEN: {0}")]
    Listen(String),
}

/// The gateway's shared state.
#[derive(Debug)]
pub struct Gateway {
    /// The configuration.
    pub config: GatewayConfig,
    /// The sites and their health.
    pub sites: Arc<Sites>,
    /// Admission control.
    pub admission: Arc<Admission>,
    /// The public-answer cache.
    pub cache: Cache,
    /// Counters.
    pub stats: Stats,
    /// Per-client rate.
    pub per_client: KeyedLimit,
    /// Carrier sessions and the sites that issued them.
    pub affinity: affinity::Affinity,
    /// The client to the sites.
    pub client: reqwest::Client,
    /// The process's Prometheus handle (the edge's connection counters),
    /// when this gateway installed it.
    pub prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

/// The HTTP client to the sites: mutual TLS with the deployment CA when
/// configured, no proxy, no redirects, HTTP/1.1 with a connection pool.
pub fn site_client(cfg: &GatewayConfig) -> Result<reqwest::Client, GatewayError> {
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_millis(cfg.limits.connect_timeout_ms.max(1)))
        // Below the sites' own header-read timeout (10 s by default), which
        // also ends their idle keep-alive connections: a pooled connection
        // is let go before a site would close it under a request.
        .pool_idle_timeout(Duration::from_millis(cfg.limits.upstream_idle_ms.max(1)))
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true);
    if let Some(t) = &cfg.upstream_tls {
        let files = einvoice_sync::ca::SiteTls {
            ca: t.ca.clone(),
            cert: t.cert.clone(),
            key: t.key.clone(),
        };
        let tls = einvoice_sync::ca::peer_client_config(&files)
            .map_err(|e| GatewayError::UpstreamTls(e.to_string()))?;
        b = b.tls_backend_preconfigured(tls);
    }
    b.build().map_err(|e| GatewayError::Client(e.to_string()))
}

impl Gateway {
    /// The gateway of a checked configuration (no task started yet: see [`Gateway::watch`]).
    pub fn new(config: GatewayConfig) -> Result<Arc<Self>, GatewayError> {
        config.check()?;
        let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .ok();
        let sites = Arc::new(Sites::new(&config));
        let l = &config.limits;
        Ok(Arc::new(Self {
            admission: Admission::new(&config.admission),
            cache: Cache::new(
                Duration::from_millis(config.cache.ttl_ms),
                config.cache.max_entries,
            ),
            stats: Stats::new(sites.all.len()),
            per_client: KeyedLimit::per_minute(l.per_client_per_minute, l.per_client_burst),
            affinity: affinity::Affinity::new(l.max_sessions),
            client: site_client(&config)?,
            sites,
            prometheus,
            config,
        }))
    }

    /// Start polling the sites' `/readyz` (on the current runtime).
    pub fn watch(&self) -> tokio::task::JoinHandle<()> {
        let h = &self.config.health;
        tokio::spawn(self.sites.clone().watch(
            self.client.clone(),
            Duration::from_millis(h.interval_ms),
            Duration::from_millis(h.timeout_ms),
        ))
    }
}

/// Plain HTTP on the outside: no handshake.
#[derive(Clone)]
struct Plain;

impl Handshake for Plain {
    type Io = tokio::net::TcpStream;
    type Tag = ();
    const TLS: bool = false;
    async fn handshake(
        &self,
        tcp: tokio::net::TcpStream,
    ) -> std::io::Result<(tokio::net::TcpStream, ())> {
        Ok((tcp, ()))
    }
}

/// Serve the gateway on `listener` until `shutdown` resolves: health
/// polling started, HTTPS when `tls_cert`/`tls_key` are configured.
pub async fn serve(
    gw: Arc<Gateway>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), GatewayError> {
    let watcher = gw.watch();
    let app = proxy::router(gw.clone());
    let edge = gw.config.edge.clone();
    let result = match (&gw.config.tls_cert, &gw.config.tls_key) {
        (Some(cert), Some(key)) => {
            let tls = einvoice_server::tls::server_config(cert, key)
                .map_err(|e| GatewayError::Tls(e.to_string()))?;
            einvoice_server::tls::serve_tls_with(listener, app, tls, edge, shutdown).await
        }
        _ => einvoice_server::edge::serve_connections(listener, app, edge, Plain, shutdown).await,
    };
    watcher.abort();
    result.map_err(|e| GatewayError::Listen(e.to_string()))
}
