//! The client behind a trusted proxy (`[limits] trusted_proxies`).
//!
//! Behind `einvoice gateway` every request arrives from the gateway's
//! address, so each per-address limit, attempt budget, block and SOC event
//! would count the gateway as one client. When the peer is a trusted proxy,
//! [`from_trusted_proxy`] replaces the request's `ConnectInfo` with the
//! client named in `X-Forwarded-For`: the right-most entry that is not
//! itself a trusted proxy (entries to its left were written by the client
//! and are not believed). Any peer not in the list is the client, whatever
//! it sends.

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use einvoice_soc::Cidr;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The client a request counts against: `peer`, or when `peer` is a trusted
/// proxy, the right-most untrusted address of `forwarded` (each header
/// value a comma-separated list). An entry that does not parse ends the
/// walk: the address to its right (or the peer) is used.
pub fn client_of<'a>(
    peer: IpAddr,
    forwarded: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[Cidr],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    for value in forwarded.rev() {
        for entry in value.rsplit(',') {
            match entry.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !is_trusted(ip) {
                        return ip;
                    }
                }
                Err(_) => return client,
            }
        }
    }
    client
}

/// Middleware: rewrite `ConnectInfo` to the client behind a trusted proxy
/// (a no-op when no proxy is trusted or the request has no `ConnectInfo`).
pub async fn from_trusted_proxy(
    State(trusted): State<Arc<Vec<Cidr>>>,
    mut req: Request,
    next: Next,
) -> Response {
    if !trusted.is_empty()
        && let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied()
    {
        let values = req.headers().get_all("x-forwarded-for");
        let texts: Vec<&str> = values.iter().filter_map(|v| v.to_str().ok()).collect();
        let client = client_of(peer.ip(), texts.into_iter(), &trusted);
        if client != peer.ip() {
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(client, peer.port())));
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|c| Cidr::parse(c).expect("cidr")).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn only_a_trusted_peer_is_believed() {
        let trusted = cidrs(&["10.0.0.0/8", "192.0.2.7"]);
        // An untrusted peer is the client, whatever it claims.
        assert_eq!(
            client_of(ip("203.0.113.5"), ["1.2.3.4"].into_iter(), &trusted),
            ip("203.0.113.5")
        );
        // The gateway names its client.
        assert_eq!(
            client_of(ip("192.0.2.7"), ["198.51.100.9"].into_iter(), &trusted),
            ip("198.51.100.9")
        );
        // A client's own forged entries (left of the one the gateway wrote) are ignored.
        assert_eq!(
            client_of(
                ip("192.0.2.7"),
                ["6.6.6.6, 198.51.100.9"].into_iter(),
                &trusted
            ),
            ip("198.51.100.9")
        );
        // Chains of trusted proxies are walked, across header lines too.
        assert_eq!(
            client_of(
                ip("10.1.1.1"),
                ["198.51.100.9, 10.2.2.2", "192.0.2.7"].into_iter(),
                &trusted
            ),
            ip("198.51.100.9")
        );
        // No header, or garbage: the last trusted hop is what is known.
        assert_eq!(
            client_of(ip("192.0.2.7"), std::iter::empty(), &trusted),
            ip("192.0.2.7")
        );
        assert_eq!(
            client_of(ip("192.0.2.7"), ["not-an-ip"].into_iter(), &trusted),
            ip("192.0.2.7")
        );
        assert_eq!(
            client_of(ip("192.0.2.7"), ["junk, 10.3.3.3"].into_iter(), &trusted),
            ip("10.3.3.3")
        );
        // Nothing trusted: the header means nothing.
        assert_eq!(
            client_of(ip("192.0.2.7"), ["198.51.100.9"].into_iter(), &[]),
            ip("192.0.2.7")
        );
    }
}
