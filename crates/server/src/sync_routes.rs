//! Site-to-site sync over HTTP (`einvoice-sync`): the feed a site serves to
//! its peers, and the peer listener that authenticates them by mutual TLS.
//!
//! | route | who | answer |
//! | --- | --- | --- |
//! | `GET /v1/sync/heads` | peers (peer listener only) | every origin the peer may read, with its head |
//! | `GET /v1/sync/{origin}?after=SEQ&limit=N` | peers (peer listener only) | a feed page ([`einvoice_sync::feed`]): gzip over JSON lines |
//! | `GET /v1/sync/records/{origin}?after=SEQ&limit=N` | peers (peer listener only) | the side records travelling with the origin's entries ([`einvoice_sync::records`]): bank accounts, opened for the peer to seal again under its own key, and API key entries' bodies |
//! | `GET /v1/sync/status` | operators, peers, monitoring | [`einvoice_sync::status::SyncStatus`] (the figures `/metrics` shows too) |
//! | `GET /v1/sync/roots` | operators, `einvoice sync verify` | [`einvoice_sync::roots::SiteRoots`]: per period, a Merkle root of the resolved invoice states (a walk of the whole ledger: for verification, not for polling) |
//!
//! The routes are part of the site's one router; [`serve_peer`] serves that
//! router on the peer listener, where a client must present a certificate
//! of the deployment CA (refused in the TLS handshake otherwise) and every
//! request carries the peer's site name ([`PeerSite`]) read from it. On the
//! plain listener the feed answers `403 SYNC_PEER_ONLY`; an origin the peer
//! may not read (`[sync.peers]`) is `403 SYNC_ORIGIN_FORBIDDEN`, logged.
//! What bodies a page carries follows the peer's role (`[sync.roles]`,
//! [`einvoice_sync::bodies`]); `bodies=all` from a peer whose role gets
//! digests for some is `403 SYNC_BODIES_FORBIDDEN`, logged.

// A `Problem` is built at most once per request and goes straight to the client.
#![allow(clippy::result_large_err)]

use crate::problem::{Problem, store_problem};
use axum::Router;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use einvoice_secrets::Sealer;
use einvoice_store::{OriginHead, Store};
use einvoice_sync::SyncConfig;
use einvoice_sync::feed::{
    FEED_CONTENT_TYPE, FEED_FORMAT, FeedHeader, Heads, MAX_PAGE, encode_page,
};
use einvoice_sync::pull::ApplyFailures;
use einvoice_sync::status::SyncStatus;
use serde::Deserialize;
use std::sync::Arc;

/// Code: a sync route asked on the plain listener.
pub const SYNC_PEER_ONLY: &str = "SYNC_PEER_ONLY";
/// Code: a peer asked for an origin `[sync.peers]` does not let it read.
pub const SYNC_ORIGIN_FORBIDDEN: &str = "SYNC_ORIGIN_FORBIDDEN";
pub use einvoice_sync::bodies::SYNC_BODIES_FORBIDDEN;
/// Code: a feed page larger than [`MAX_PAGE`].
pub const SYNC_PAGE_TOO_LARGE: &str = "SYNC_PAGE_TOO_LARGE";

/// The peer a request came from on the peer listener: its site name (the
/// CN of its verified certificate) and the policy of what it may read.
#[derive(Clone)]
pub struct PeerSite {
    /// The peer's site name.
    pub site: String,
    policy: Arc<SyncConfig>,
}

impl PeerSite {
    /// Whether this peer may read `origin`.
    pub fn may_read(&self, origin: &str) -> bool {
        self.policy.may_read(&self.site, origin)
    }
}

/// How stale this site's copy of the other sites' ledgers may be, in
/// seconds — what `/readyz` reports as `sync_lag_s` and the gateway drains
/// a lagging cloud site by. Per origin this site pulls (not its own), each
/// upstream link counts the seconds it was behind at its last check
/// ([`einvoice_sync::status::Lag`]: the HLC time between the upstream's
/// newest entry and ours) and, while the link is failing (unreachable,
/// halted), the seconds since that check too; the origin counts its
/// freshest link, the site its stalest origin. 0 for a site that pulls
/// nothing (a main site without upstreams, a single site).
pub fn read_lag_s(status: &SyncStatus, now_unix: i64) -> f64 {
    status
        .origins
        .iter()
        .filter(|o| o.origin != status.site)
        .filter_map(|o| {
            o.upstreams
                .iter()
                .map(|u| {
                    let since = if u.error.is_some() {
                        now_unix.saturating_sub(u.checked_unix).max(0) as f64
                    } else {
                        0.0
                    };
                    u.behind.seconds + since
                })
                .min_by(f64::total_cmp)
        })
        .max_by(f64::total_cmp)
        .unwrap_or(0.0)
}

/// [`read_lag_s`] of `store` now.
pub async fn store_read_lag_s<S: Store>(store: &S) -> Result<f64, einvoice_store::StoreError> {
    let state = store.sync_state().await?;
    let status = SyncStatus::of(store.site(), state);
    Ok(read_lag_s(&status, crate::clock::now_unix()))
}

/// The sync routes over `store`; `sealer` (this site's master key) opens
/// the side records the records feed carries.
pub fn routes<S: Store>(store: S, sealer: Sealer) -> Router {
    Router::new()
        .route("/v1/sync/heads", get(heads::<S>))
        .route("/v1/sync/status", get(status::<S>))
        .route("/v1/sync/roots", get(roots::<S>))
        .route("/v1/sync/{origin}", get(feed::<S>))
        .with_state(store.clone())
        .merge(
            Router::new()
                .route("/v1/sync/records/{origin}", get(records::<S>))
                .with_state((store, sealer)),
        )
}

/// The peer asking on the peer listener, if it may read `origin`; else
/// `403 SYNC_PEER_ONLY` (plain listener) or `403 SYNC_ORIGIN_FORBIDDEN`
/// (`[sync.peers]`, logged and counted).
fn reader(peer: Option<Extension<PeerSite>>, origin: &str) -> Result<PeerSite, Problem> {
    let Some(Extension(peer)) = peer else {
        return Err(peer_only());
    };
    if !peer.may_read(origin) {
        eprintln!(
            "einvoice: sync: refused peer {:?}: it may not read origin {origin:?} ([sync.peers])",
            peer.site
        );
        metrics::counter!("einvoice_sync_refused_total", "peer" => peer.site.clone()).increment(1);
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            SYNC_ORIGIN_FORBIDDEN,
            format!(
                "site {:?} may not read origin {origin:?}; this site's [sync.peers] lists what each peer reads",
                peer.site
            ),
        ));
    }
    Ok(peer)
}

/// A page's `limit`: 1 to [`MAX_PAGE`] (default 1000), else `400 SYNC_PAGE_TOO_LARGE`.
fn page_limit(limit: Option<u32>) -> Result<u32, Problem> {
    let limit = limit.unwrap_or(1000);
    if limit == 0 || limit > MAX_PAGE {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            SYNC_PAGE_TOO_LARGE,
            format!("limit must be 1 to {MAX_PAGE}, not {limit}"),
        ));
    }
    Ok(limit)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordsQuery {
    #[serde(default)]
    after: u64,
    limit: Option<u32>,
}

async fn records<S: Store>(
    State((store, sealer)): State<(S, Sealer)>,
    Path(origin): Path<String>,
    Query(q): Query<RecordsQuery>,
    peer: Option<Extension<PeerSite>>,
) -> Result<Response, Problem> {
    reader(peer, &origin)?;
    let limit = page_limit(q.limit)?;
    let page = einvoice_sync::records::serve_records(&store, &sealer, &origin, q.after, limit)
        .await
        .map_err(|e| match e {
            einvoice_sync::SyncError::Store(e) => store_problem(e),
            e => Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.code(), e.to_string()),
        })?;
    Ok(axum::Json(page).into_response())
}

fn peer_only() -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        SYNC_PEER_ONLY,
        "the sync feed is served to peer sites on the peer listener only ([sync] listen, mutual TLS with a certificate of the deployment CA)",
    )
}

async fn heads<S: Store>(
    State(store): State<S>,
    peer: Option<Extension<PeerSite>>,
) -> Result<Response, Problem> {
    let Some(Extension(peer)) = peer else {
        return Err(peer_only());
    };
    let state = store.sync_state().await.map_err(store_problem)?;
    let heads = state
        .into_iter()
        .map(|o| o.head)
        .filter(|h| h.seq > 0 && peer.may_read(&h.origin))
        .collect();
    Ok(axum::Json(Heads {
        site: store.site().to_string(),
        heads,
    })
    .into_response())
}

/// The status from the store, with the pages the pull loop could not write
/// (an [`ApplyFailures`] extension, when the site pulls).
async fn status<S: Store>(
    State(store): State<S>,
    failures: Option<Extension<ApplyFailures>>,
) -> Result<Response, Problem> {
    let state = store.sync_state().await.map_err(store_problem)?;
    let mut status = SyncStatus::of(store.site(), state);
    if let Some(Extension(f)) = failures {
        f.overlay(&mut status);
    }
    Ok(axum::Json(status).into_response())
}

/// Entries read per page while computing the roots.
const ROOTS_PAGE: u32 = 10_000;

async fn roots<S: Store>(State(store): State<S>) -> Result<Response, Problem> {
    let mut b = einvoice_sync::roots::RootBuilder::default();
    for origin in store.origins().await.map_err(store_problem)? {
        let mut after = 0;
        loop {
            let page = store
                .entries(&origin, after, ROOTS_PAGE)
                .await
                .map_err(store_problem)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in &page {
                b.push(e).map_err(store_problem)?;
            }
        }
    }
    Ok(axum::Json(b.finish(store.site())).into_response())
}

/// Query of a feed page.
#[derive(Debug, Deserialize)]
struct FeedQuery {
    #[serde(default)]
    after: u64,
    limit: Option<u32>,
    #[serde(default)]
    bodies: BodiesAsked,
}

/// What bodies a peer asks for: what its role receives (the default), or
/// every body (refused to a role that does not receive them).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum BodiesAsked {
    #[default]
    Role,
    All,
}

async fn feed<S: Store>(
    State(store): State<S>,
    Path(origin): Path<String>,
    Query(q): Query<FeedQuery>,
    peer: Option<Extension<PeerSite>>,
) -> Result<Response, Problem> {
    let peer = reader(peer, &origin)?;
    let role = peer.policy.role_of(&peer.site);
    if q.bodies == BodiesAsked::All && !role.sees_every_body() {
        eprintln!(
            "einvoice: sync: refused peer {:?}: it asked for every body of origin {origin:?}, its role ({role:?}, [sync.roles]) receives digests for some",
            peer.site
        );
        metrics::counter!("einvoice_sync_refused_total", "peer" => peer.site.clone()).increment(1);
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            SYNC_BODIES_FORBIDDEN,
            format!(
                "site {:?} is a {role:?} peer: it receives the bodies its services need and digests for the rest (ask without bodies=all)",
                peer.site
            ),
        ));
    }
    let limit = page_limit(q.limit)?;
    let head = store
        .sync_state()
        .await
        .map_err(store_problem)?
        .into_iter()
        .map(|o| o.head)
        .find(|h| h.origin == origin)
        .unwrap_or_else(|| OriginHead::empty(origin.clone()));
    let entries: Vec<_> = store
        .entries(&origin, q.after, limit)
        .await
        .map_err(store_problem)?
        .into_iter()
        .map(|e| role.copy_for(e))
        .collect();
    let header = FeedHeader {
        format: FEED_FORMAT.into(),
        origin,
        after: q.after,
        head,
        count: u64::try_from(entries.len()).unwrap_or(u64::MAX),
    };
    let body = encode_page(&header, &entries)
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.code(), e.to_string()))?;
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(FEED_CONTENT_TYPE),
    );
    h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    Ok(resp)
}

/// Serve `app` (the site's router) on the peer listener until `shutdown`
/// resolves: TLS with a client certificate required and verified against
/// the deployment CA (`tls`, from [`einvoice_sync::ca::peer_server_config`]);
/// each request carries the peer's [`PeerSite`] (its certificate's CN, and
/// `policy`'s `[sync.peers]`). A handshake that fails (no certificate, one of
/// another CA) or a certificate without a site name is dropped and logged.
pub async fn serve_peer(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Arc<rustls::ServerConfig>,
    policy: SyncConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handshake = PeerTls {
        acceptor: tokio_rustls::TlsAcceptor::from(tls),
        policy: Arc::new(policy),
    };
    crate::edge::serve_connections(
        listener,
        app,
        crate::edge::EdgeLimits::default(),
        handshake,
        shutdown,
    )
    .await
}

/// The peer listener's handshake: TLS with a client certificate of the
/// deployment CA, whose CN names the peer site.
#[derive(Clone)]
struct PeerTls {
    acceptor: tokio_rustls::TlsAcceptor,
    policy: Arc<SyncConfig>,
}

impl crate::edge::Handshake for PeerTls {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Tag = PeerSite;
    const TLS: bool = true;
    async fn handshake(&self, tcp: tokio::net::TcpStream) -> std::io::Result<(Self::Io, PeerSite)> {
        let addr = tcp.peer_addr()?;
        let stream = self.acceptor.accept(tcp).await.inspect_err(|e| {
            eprintln!("einvoice: sync: refused peer at {addr}: TLS: {e}");
        })?;
        let site = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(|| einvoice_sync::SyncError::PeerName("no client certificate".into()))
            .and_then(einvoice_sync::ca::site_name_of)
            .map_err(|e| {
                eprintln!("einvoice: sync: refused peer at {addr}: {e}");
                std::io::Error::new(std::io::ErrorKind::PermissionDenied, e.to_string())
            })?;
        let peer = PeerSite {
            site,
            policy: self.policy.clone(),
        };
        Ok((stream, peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use einvoice_store::{EntryHash, SyncHalt};
    use einvoice_sync::status::{Lag, OriginStatus, UpstreamStatus};

    fn link(upstream: &str, seconds: f64, checked_unix: i64, failing: bool) -> UpstreamStatus {
        UpstreamStatus {
            upstream: upstream.into(),
            seq: 1,
            head: EntryHash([0; 32]),
            behind: Lag {
                entries: u64::from(seconds > 0.0),
                seconds,
            },
            checked_unix,
            error: failing.then(|| SyncHalt {
                code: "SYNC_UNREACHABLE".into(),
                message: "down".into(),
                seq: None,
            }),
        }
    }

    fn origin(name: &str, upstreams: Vec<UpstreamStatus>) -> OriginStatus {
        OriginStatus {
            origin: name.into(),
            seq: 1,
            head: EntryHash([0; 32]),
            upstreams,
            last_error: None,
        }
    }

    #[test]
    fn the_lag_is_the_stalest_origin_by_its_freshest_link() {
        let status = SyncStatus {
            site: "cloud-a".into(),
            origins: vec![
                // Its own origin never counts.
                origin("cloud-a", vec![link("x", 99.0, 0, true)]),
                // Two links: the fresher one counts (2.5 s).
                origin(
                    "main",
                    vec![link("m", 2.5, 1_000, false), link("b", 7.0, 1_000, false)],
                ),
                // A failing link: its lag plus the 10 s since its last check.
                origin("cloud-b", vec![link("m", 1.0, 990, true)]),
            ],
        };
        assert_eq!(read_lag_s(&status, 1_000), 11.0);
        let caught_up = SyncStatus {
            site: "cloud-a".into(),
            origins: vec![origin("main", vec![link("m", 0.0, 1_000, false)])],
        };
        assert_eq!(read_lag_s(&caught_up, 1_000), 0.0);
        let alone = SyncStatus {
            site: "main".into(),
            origins: vec![origin("main", vec![])],
        };
        assert_eq!(read_lag_s(&alone, 1_000), 0.0);
    }
}
