//! The listener's defences against slow and greedy clients (`[edge]` in the
//! site configuration), shared by plain HTTP ([`crate::site::serve_with`]) and
//! HTTPS ([`crate::tls::serve_tls_with`]):
//!
//! - a new connection must finish its TLS handshake within
//!   `tls_handshake_timeout_ms` and deliver its first whole request head
//!   within `header_read_timeout_ms` of being accepted, or it is dropped;
//! - every later HTTP/1.1 request head must arrive whole within
//!   `header_read_timeout_ms` (hyper's header-read timer);
//! - a keep-alive connection with no request for `idle_timeout_ms` is shut
//!   down gracefully (HTTP/2: GOAWAY);
//! - at most `max_connections` connections are open at once, and at most
//!   `max_connections_per_client` from one client address (IPv6: one /64);
//!   beyond that a connection is closed as soon as it is accepted.
//!
//! Every refusal and every timeout is counted in
//! `einvoice_connections_refused_total{reason}` and
//! `einvoice_connections_closed_total{reason}`; `einvoice_connections_open`
//! is the gauge of open connections.

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, header};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tower::ServiceExt;

/// Connection limits of a listener (`[edge]`); every field has a default
/// that suits a public site.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeLimits {
    /// Time for a whole request head (request line and headers), ms; a new
    /// connection must also have sent its first whole head this soon after
    /// it was accepted (after its TLS handshake).
    pub header_read_timeout_ms: u64,
    /// A keep-alive connection with no request this long is closed, ms
    /// (HTTP/1.1 connections waiting for their next head are also bound by
    /// `header_read_timeout_ms`).
    pub idle_timeout_ms: u64,
    /// Time for the TLS handshake, ms.
    pub tls_handshake_timeout_ms: u64,
    /// Most connections open at once on this listener.
    pub max_connections: usize,
    /// Most connections open at once from one client address (an IPv6
    /// client counts by its /64 network).
    pub max_connections_per_client: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            tls_handshake_timeout_ms: 10_000,
            max_connections: 10_000,
            max_connections_per_client: 64,
        }
    }
}

impl EdgeLimits {
    fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms.max(1))
    }

    fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms.max(1))
    }

    /// The TLS handshake's time limit.
    pub(crate) fn tls_handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.tls_handshake_timeout_ms.max(1))
    }
}

/// What a client address counts as for `max_connections_per_client`: the
/// IPv4 address, or the /64 network of an IPv6 address (one subscriber's
/// prefix; an IPv4-mapped address counts as its IPv4 address).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
    }
}

/// Why a connection was refused at accept time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Overall,
    PerClient,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Self::Overall => "overall",
            Self::PerClient => "per_client",
        }
    }
}

/// Open connections, overall and per client.
#[derive(Debug)]
struct Gate {
    max_total: usize,
    max_per_client: usize,
    state: Mutex<GateState>,
}

#[derive(Debug, Default)]
struct GateState {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
}

/// One admitted connection; leaving the gate when dropped.
#[derive(Debug)]
struct Admitted {
    gate: Arc<Gate>,
    key: IpAddr,
}

impl Gate {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Admitted, Refusal> {
        let key = client_key(ip);
        let mut st = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if st.total >= self.max_total {
            return Err(Refusal::Overall);
        }
        let n = st.per_client.entry(key).or_insert(0);
        if *n >= self.max_per_client {
            return Err(Refusal::PerClient);
        }
        *n += 1;
        st.total += 1;
        metrics::gauge!("einvoice_connections_open").increment(1.0);
        Ok(Admitted {
            gate: self.clone(),
            key,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut st = self
            .gate
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        st.total = st.total.saturating_sub(1);
        if let Some(n) = st.per_client.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                st.per_client.remove(&self.key);
            }
        }
        metrics::gauge!("einvoice_connections_open").decrement(1.0);
    }
}

fn closed(reason: &'static str) {
    metrics::counter!("einvoice_connections_closed_total", "reason" => reason).increment(1);
}

/// Turns an accepted TCP stream into the stream HTTP is served on (plain:
/// itself; HTTPS: after the TLS handshake).
pub trait Handshake: Clone + Send + Sync + 'static {
    /// The stream served.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// What the handshake learnt of the peer (a mutual-TLS peer's site
    /// name), put in every request's extensions; `()` when nothing.
    type Tag: Clone + Send + Sync + 'static;
    /// Whether responses go over TLS (they then carry HSTS).
    const TLS: bool;
    /// Finish the handshake (the caller bounds its time); an error drops
    /// the connection.
    fn handshake(
        &self,
        tcp: TcpStream,
    ) -> impl Future<Output = std::io::Result<(Self::Io, Self::Tag)>> + Send;
}

/// Plain HTTP: no handshake.
#[derive(Clone)]
pub(crate) struct Plain;

impl Handshake for Plain {
    type Io = TcpStream;
    type Tag = ();
    const TLS: bool = false;
    async fn handshake(&self, tcp: TcpStream) -> std::io::Result<(TcpStream, ())> {
        Ok((tcp, ()))
    }
}

/// `Strict-Transport-Security` sent on every HTTPS response (one year; not
/// `includeSubDomains`, which would bind the operator's other hosts).
pub const HSTS: &str = "max-age=31536000";

/// Accept connections on `listener` and serve `app` on each until `shutdown`
/// resolves; then stop accepting, shut every connection down gracefully and
/// return once they have finished.
pub async fn serve_connections<H: Handshake>(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: EdgeLimits,
    handshake: H,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    crate::site::install_metrics();
    let gate = Arc::new(Gate {
        max_total: limits.max_connections.max(1),
        max_per_client: limits.max_connections_per_client.max(1),
        state: Mutex::new(GateState::default()),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (tcp, addr) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: back off, keep serving.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let admitted = match gate.admit(addr.ip()) {
            Ok(a) => a,
            Err(r) => {
                metrics::counter!("einvoice_connections_refused_total", "reason" => r.label())
                    .increment(1);
                drop(tcp);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let conn = Conn {
            app: app.clone(),
            addr,
            limits: limits.clone(),
            stop: stop_rx.clone(),
            _admitted: admitted,
        };
        let handshake = handshake.clone();
        tokio::spawn(async move {
            let io = match tokio::time::timeout(
                conn.limits.tls_handshake_timeout(),
                handshake.handshake(tcp),
            )
            .await
            {
                Ok(Ok(io)) => io,
                Ok(Err(_)) => return closed("handshake_failed"),
                Err(_) => return closed("handshake_timeout"),
            };
            conn.serve::<H>(io.0, io.1).await;
        });
    }
    drop(stop_rx);
    let _ = stop_tx.send(true);
    stop_tx.closed().await;
    Ok(())
}

/// How often a connection's watchdog looks at its deadline.
const TICK: Duration = Duration::from_millis(250);

/// What the idle watchdog knows of a connection's requests.
struct Activity {
    started: Instant,
    /// Requests begun on this connection.
    requests: AtomicU64,
    /// Requests whose response is not yet produced.
    in_flight: AtomicUsize,
    /// Milliseconds from `started` to the last request's start or end.
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }
}

/// Ends a request in [`Activity`] when the response is produced (or the
/// request is dropped).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Conn {
    app: Router,
    addr: SocketAddr,
    limits: EdgeLimits,
    stop: watch::Receiver<bool>,
    _admitted: Admitted,
}

impl Conn {
    async fn serve<H: Handshake>(mut self, io: H::Io, tag: H::Tag) {
        let activity = Arc::new(Activity {
            started: Instant::now(),
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(0),
        });
        let (app, addr, act) = (self.app.clone(), self.addr, activity.clone());
        let svc = tower::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            act.requests.fetch_add(1, Ordering::Relaxed);
            act.in_flight.fetch_add(1, Ordering::Relaxed);
            act.touch();
            let guard = InFlight(act.clone());
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(addr));
            req.extensions_mut().insert(tag.clone());
            let call = app.clone().oneshot(req.map(axum::body::Body::new));
            async move {
                let mut resp = call.await?;
                drop(guard);
                if H::TLS {
                    resp.headers_mut()
                        .entry(header::STRICT_TRANSPORT_SECURITY)
                        .or_insert(HeaderValue::from_static(HSTS));
                }
                Ok::<_, std::convert::Infallible>(resp)
            }
        });
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout());
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(self.limits.idle_timeout())
            .keep_alive_timeout(self.limits.header_read_timeout());
        let conn = builder.serve_connection(TokioIo::new(io), TowerToHyperService::new(svc));
        tokio::pin!(conn);
        let (header, idle) = (
            self.limits.header_read_timeout(),
            self.limits.idle_timeout(),
        );
        let mut shutting_down = false;
        loop {
            let deadline = if activity.requests.load(Ordering::Relaxed) == 0 {
                activity.started + header
            } else {
                activity.started
                    + Duration::from_millis(activity.last_ms.load(Ordering::Relaxed))
                    + idle
            };
            tokio::select! {
                _ = conn.as_mut() => return,
                changed = self.stop.changed(), if !shutting_down => {
                    if changed.is_err() || *self.stop.borrow() {
                        conn.as_mut().graceful_shutdown();
                        shutting_down = true;
                    }
                }
                // Looked at every tick: a request may have moved the deadline.
                () = tokio::time::sleep_until(deadline.min(Instant::now() + TICK)), if !shutting_down => {
                    if activity.in_flight.load(Ordering::Relaxed) > 0 || Instant::now() < deadline {
                        continue;
                    }
                    if activity.requests.load(Ordering::Relaxed) == 0 {
                        // No whole request head yet: nothing is owed, drop it.
                        return closed("header_timeout");
                    }
                    closed("idle_timeout");
                    conn.as_mut().graceful_shutdown();
                    // A response still streaming gets one more head timeout, then is cut.
                    let _ = tokio::time::timeout(header, conn.as_mut()).await;
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("ip");
        assert_eq!(
            client_key(mapped),
            "192.0.2.7".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn gate_caps_per_client_and_overall_and_frees_on_drop() {
        crate::site::install_metrics();
        let gate = Arc::new(Gate {
            max_total: 3,
            max_per_client: 2,
            state: Mutex::new(GateState::default()),
        });
        let one: IpAddr = "192.0.2.1".parse().expect("ip");
        let two: IpAddr = "192.0.2.2".parse().expect("ip");
        let a = gate.admit(one).expect("first");
        let _b = gate.admit(one).expect("second");
        assert_eq!(gate.admit(one).err(), Some(Refusal::PerClient));
        let _c = gate.admit(two).expect("other client");
        assert_eq!(gate.admit(two).err(), Some(Refusal::Overall));
        drop(a);
        assert!(
            gate.admit(one).is_ok(),
            "a closed connection frees its place"
        );
    }
}
