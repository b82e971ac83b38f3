//! The gateway `einvoice up --sites N` starts in front of its sites: its
//! address, its configuration file `DIR/gateway/gateway.toml` (rewritten on
//! every start) and its entry `"gateway"` in `demo-credentials.json`.

use super::sites_up::SitePlan;
use anyhow::{Context, anyhow};
use std::net::SocketAddr;

/// Where the gateway listens: with a fixed `--listen` port P, P + 99 (the
/// sites take P + i, their peer listeners P + 100 + i); with port 0, a free
/// port of the host.
pub fn gateway_listen(listen: &str) -> anyhow::Result<SocketAddr> {
    let base: SocketAddr = listen
        .parse()
        .map_err(|_| anyhow!("SITES_LISTEN: --listen {listen:?} must be IP:PORT"))?;
    let port = if base.port() == 0 {
        std::net::TcpListener::bind((base.ip(), 0))
            .and_then(|l| l.local_addr())
            .context("cannot find a free port for the gateway")?
            .port()
    } else {
        base.port().checked_add(99).ok_or_else(|| {
            anyhow!(
                "SITES_LISTEN: port {} + 99 leaves the port range",
                base.port()
            )
        })?
    };
    Ok(SocketAddr::new(base.ip(), port))
}

/// The gateway's configuration over the sites of `plans` (plain HTTP on
/// this machine, like the sites' public listeners).
pub fn gateway_toml(listen: SocketAddr, plans: &[SitePlan]) -> String {
    let mut out = format!(
        "# Written by `einvoice up --sites {n}` on every start (edits are lost);\n\
         # `einvoice gateway --config` this file runs the gateway on its own.\n\
         listen = \"{listen}\"\n",
        n = plans.len()
    );
    for p in plans {
        out.push_str(&format!(
            "\n[[sites]]\nname = \"{}\"\nrole = \"{}\"\nurl = \"{}\"\n",
            p.name,
            p.role,
            p.url()
        ));
    }
    out
}

/// `demo-credentials.json`'s JSON with `"gateway": url` added.
pub fn with_gateway(creds: serde_json::Value, url: &str) -> serde_json::Value {
    match creds {
        serde_json::Value::Object(mut m) => {
            m.insert("gateway".into(), url.into());
            serde_json::Value::Object(m)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_file_names_every_site_and_parses() {
        let plans = super::super::sites_up::plan_sites(3, "127.0.0.1:8080").expect("plan");
        let at = gateway_listen("127.0.0.1:8080").expect("listen");
        assert_eq!(at.port(), 8179);
        let text = gateway_toml(at, &plans);
        let cfg = einvoice_gateway::config::GatewayConfig::parse(&text).expect("parse");
        cfg.check().expect("check");
        assert_eq!(cfg.sites.len(), 3);
        assert_eq!(cfg.sites[2].url, "http://127.0.0.1:8082");
        let v = with_gateway(
            serde_json::json!({"base_url": "x"}),
            "http://127.0.0.1:8179",
        );
        assert_eq!(v["gateway"], "http://127.0.0.1:8179");
    }
}
