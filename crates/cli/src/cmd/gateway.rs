//! `einvoice gateway --config FILE`: the cross-site gateway in front of the
//! sites (`einvoice_gateway`): routes by route class, fails over, caches the
//! public winning list, sheds by priority under overload.

use super::store_args::runtime;
use anyhow::Context;
use clap::Args;
use einvoice_gateway::Gateway;
use einvoice_gateway::config::GatewayConfig;
use std::path::PathBuf;
use std::process::ExitCode;

/// `einvoice gateway --config FILE`
#[derive(Args)]
pub struct GatewayArgs {
    /// The gateway's TOML file: `listen`, `[[sites]]` (name, role, url,
    /// weight), `[upstream_tls]`, `[admission]`, `[cache]`, `[edge]`
    /// (see the einvoice-gateway crate's `config` module).
    #[arg(long, env = "EINVOICE_GATEWAY_CONFIG")]
    pub config: PathBuf,
    /// Stop when standard input reaches its end (`einvoice up --sites N`
    /// holds it, so the gateway never outlives the `up` that started it).
    #[arg(long, hide = true)]
    pub exit_on_stdin_eof: bool,
}

/// Run the gateway until Ctrl-C / SIGTERM (or standard input's end).
pub fn gateway(a: GatewayArgs) -> anyhow::Result<ExitCode> {
    let cfg = GatewayConfig::load(&a.config)?;
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&cfg.listen)
            .await
            .with_context(|| format!("GATEWAY_LISTEN: cannot listen on {}", cfg.listen))?;
        let addr = listener.local_addr()?;
        let scheme = if cfg.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        eprintln!("einvoice gateway on {scheme}://{addr}");
        for s in &cfg.sites {
            eprintln!(
                "  site {:<10} {:<8} {} (weight {})",
                s.name, s.role, s.url, s.weight
            );
        }
        let gw = Gateway::new(cfg)?;
        einvoice_gateway::serve(gw, listener, super::site::shutdown_on(a.exit_on_stdin_eof))
            .await?;
        Ok(ExitCode::SUCCESS)
    })
}
