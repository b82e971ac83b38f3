//! `soc events|alerts|incidents|respond`.
//!
//! - `events`, `alerts`, `incidents` read a stopped site's event log
//!   (`soc.sqlite` in its data directory, `--data`): the events as stored
//!   (the hash chain is verified first), and the alerts and incidents the
//!   built-in rules raise over them again.
//! - `respond` takes a response action on a running site (`--url`) with
//!   the operator session of `einvoice admin login`; each is recorded in the
//!   ledger with the operator as actor: `block` / `unblock` (role soc),
//!   `disable-app` / `enable-app` (role operator), `revoke-key` and
//!   `rotate-key` (role operator; a rotation gives the sellers a replacement,
//!   a revoked key itself is not reinstated).

use super::admin::Client;
use anyhow::Context;
use clap::{Args, Subcommand};
use einvoice_soc::{EventLog, SqliteLog};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `einvoice soc …`
#[derive(Subcommand)]
pub enum SocCommand {
    /// A site's stored security events, oldest first, after checking the
    /// log's hash chain (a broken chain: `SOC_LOG_BROKEN`, exit 1).
    Events {
        /// The site's data directory (holding `soc.sqlite`); `EINVOICE_DATA`.
        #[arg(long, env = "EINVOICE_DATA")]
        data: PathBuf,
        /// The first event (sequence number, from 1).
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Print at most this many events.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// One JSON object per line (`seq`, `event`, hashes) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The alerts the built-in rules raise over a site's stored security
    /// events, oldest first.
    Alerts {
        /// The site's data directory (holding `soc.sqlite`); `EINVOICE_DATA`.
        #[arg(long, env = "EINVOICE_DATA")]
        data: PathBuf,
        /// One JSON object per line (`rule`, `severity`, `key`, `opened_at`,
        /// `incident`, `events`) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The incidents those alerts open, oldest first.
    Incidents {
        /// The site's data directory (holding `soc.sqlite`); `EINVOICE_DATA`.
        #[arg(long, env = "EINVOICE_DATA")]
        data: PathBuf,
        /// One JSON object per line (`id`, `state`, `owner`, `alerts`,
        /// `timeline`) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Take a response action on a running site (operator session).
    Respond(RespondArgs),
}

/// `einvoice soc respond …`
#[derive(Args)]
pub struct RespondArgs {
    /// Operator API base URL of the site.
    #[arg(
        long,
        env = "EINVOICE_OPS_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
    /// The session token file of `einvoice admin login`.
    #[arg(long, env = "EINVOICE_OPS_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Allow plain HTTP to a host other than loopback.
    #[arg(long)]
    pub insecure_http: bool,
    /// PEM CA certificates to trust for an https:// site, besides the system's.
    #[arg(long, env = "EINVOICE_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// The action.
    #[command(subcommand)]
    pub action: RespondAction,
}

/// A response action and its inverse.
#[derive(Subcommand)]
pub enum RespondAction {
    /// Refuse a client address or range at the site's edge for a time (role soc).
    Block {
        /// `192.0.2.7`, `192.0.2.0/24`, `2001:db8::/32`.
        #[arg(long)]
        range: String,
        /// How long, 1 minute to 30 days.
        #[arg(long)]
        minutes: u64,
    },
    /// Lift a block early (role soc).
    Unblock {
        /// The range as it was blocked.
        #[arg(long)]
        range: String,
    },
    /// Revoke a seller API key at once (role operator; `rotate-key` gives its
    /// sellers a replacement).
    RevokeKey {
        /// The key id.
        #[arg(long)]
        key_id: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
    /// A new key for the same sellers, the old one revoked (role operator).
    RotateKey {
        /// The key id.
        #[arg(long)]
        key_id: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Disable an App API application (role operator; undone by `enable-app`).
    DisableApp {
        /// The app id.
        #[arg(long)]
        app_id: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Enable it again (role operator).
    EnableApp {
        /// The app id.
        #[arg(long)]
        app_id: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
}

/// Open a stopped site's event log.
fn open_log(data: &Path) -> anyhow::Result<SqliteLog> {
    let file = data.join(einvoice_soc::log::SQLITE_FILE);
    anyhow::ensure!(
        file.is_file(),
        "SOC_LOG_MISSING: {} does not exist (no site has reported security events in {})",
        file.display(),
        data.display()
    );
    SqliteLog::open(data).with_context(|| format!("cannot open {}", file.display()))
}

/// Run a `soc` command.
pub fn soc(c: SocCommand) -> anyhow::Result<ExitCode> {
    match c {
        SocCommand::Events {
            data,
            from,
            limit,
            json,
        } => events(&data, from, limit, json),
        SocCommand::Alerts { data, json } => {
            let log = open_log(&data)?;
            let alerts = einvoice_server::soc::replay_alerts(&log)?;
            for a in &alerts {
                if json {
                    println!("{}", serde_json::to_string(a)?);
                } else {
                    println!(
                        "{}\t{:?}\t{}\t{}\tincident {}\t{} events",
                        a.opened_at, a.severity, a.rule, a.key, a.incident, a.events
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SocCommand::Incidents { data, json } => {
            let log = open_log(&data)?;
            let (_, incidents) = einvoice_server::soc_sources::replay_incidents(&log)?;
            for i in &incidents {
                if json {
                    println!("{}", serde_json::to_string(i)?);
                } else {
                    let rules: Vec<&str> = i.alerts.iter().map(|a| a.rule.as_str()).collect();
                    println!(
                        "incident {}\t{:?}\towner {}\t{} alerts: {}",
                        i.id,
                        i.state,
                        i.owner.as_ref().map_or("-", |o| o.as_str()),
                        i.alerts.len(),
                        rules.join(", ")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SocCommand::Respond(r) => respond(r),
    }
}

fn events(data: &Path, from: u64, limit: usize, json: bool) -> anyhow::Result<ExitCode> {
    let log = open_log(data)?;
    if let Err(e) = log.verify() {
        eprintln!("error: SOC_LOG_BROKEN: {e}");
        return Ok(ExitCode::from(1));
    }
    let mut next = from.max(1);
    let mut left = limit;
    while left > 0 {
        let recs = log.read(next, left.min(4096))?;
        let Some(last) = recs.last() else { break };
        next = last.seq + 1;
        left -= recs.len().min(left);
        for r in &recs {
            if json {
                println!("{}", serde_json::to_string(r)?);
            } else {
                let e = &r.event;
                let attrs: Vec<String> = e
                    .attrs
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{}={}",
                            serde_json::to_string(k)
                                .unwrap_or_default()
                                .trim_matches('"'),
                            v.render()
                        )
                    })
                    .collect();
                println!(
                    "{}\t{}\t{:?}\t{:?}\t{:?}\t{}\t{}\t{}\t{}",
                    r.seq,
                    e.time_ms,
                    e.class,
                    e.severity,
                    e.outcome,
                    serde_json::to_string(&e.actor).unwrap_or_default(),
                    e.src.map_or_else(|| "-".to_string(), |s| s.to_string()),
                    e.target,
                    attrs.join(" ")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn respond(r: RespondArgs) -> anyhow::Result<ExitCode> {
    let client = Client::new(&r.url, r.token_file, r.insecure_http, r.ca_file.as_deref())?;
    let reason =
        |reason: Option<String>| Some(reason.map_or_else(|| json!({}), |r| json!({"reason": r})));
    match r.action {
        RespondAction::Block { range, minutes } => client.send(
            "POST",
            "/v1/soc/blocks",
            Some(json!({"range": range, "minutes": minutes})),
        ),
        RespondAction::Unblock { range } => {
            client.send("POST", "/v1/soc/unblock", Some(json!({"range": range})))
        }
        RespondAction::RevokeKey {
            key_id,
            reason: why,
        } => client.send(
            "POST",
            &format!("/v1/ops/keys/{}/revoke", segment(&key_id)?),
            reason(why),
        ),
        RespondAction::RotateKey {
            key_id,
            reason: why,
        } => client.send(
            "POST",
            &format!("/v1/ops/keys/{}/rotate", segment(&key_id)?),
            reason(why),
        ),
        RespondAction::DisableApp {
            app_id,
            reason: why,
        } => client.send(
            "POST",
            &format!("/v1/ops/apps/{}/disable", segment(&app_id)?),
            reason(why),
        ),
        RespondAction::EnableApp {
            app_id,
            reason: why,
        } => client.send(
            "POST",
            &format!("/v1/ops/apps/{}/enable", segment(&app_id)?),
            reason(why),
        ),
    }
}

/// An id as one URL path segment: letters, digits, `-`, `_`, `.` only.
fn segment(id: &str) -> anyhow::Result<&str> {
    anyhow::ensure!(
        !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')),
        "ID_INVALID: {id:?}: an id is 1 to 64 letters, digits, '-', '_' or '.'"
    );
    Ok(id)
}
