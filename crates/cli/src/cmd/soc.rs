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
//!   a revoked key itself is not reinstated), and the holds of
//!   `einvoice_server::soc_holds` (role soc): `freeze-seller` /
//!   `unfreeze-seller`, `reverify-carrier` / `clear-carrier`, `read-only` /
//!   `read-write`.
//! - `respond --data DIR` (or `--database URL`) `--actor NAME` applies a
//!   hold to a stopped site's store directly, recorded in its ledger as
//!   `local:NAME` (an enabled operator account with role soc); the other
//!   actions are refused there (`RESPOND_ONLINE_ONLY`).

use super::admin::Client;
use super::store_args::{DatabaseUrl, Open, open, runtime, with_store};
use anyhow::Context;
use clap::{Args, Subcommand};
use einvoice_soc::ResponseAction;
use einvoice_soc::{EventLog, SqliteLog};
use einvoice_store::Store;
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
    Respond(Box<RespondArgs>),
}

/// `einvoice soc respond …`
#[derive(Args)]
pub struct RespondArgs {
    /// A stopped site's data directory: apply the action to its store
    /// directly (SQLite `DIR/einvoice.db`, or `--database`) instead of
    /// through a running site's `--url`; needs `--actor`.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// A stopped site's PostgreSQL database (`postgres://…`): as `--data`.
    #[arg(long, value_name = "URL")]
    pub database: Option<DatabaseUrl>,
    /// With `--data`/`--database`: the operator (role soc) taking the
    /// action, recorded in the ledger as `local:<name>`.
    #[arg(long)]
    pub actor: Option<String>,
    /// With `--data`/`--database`: this site's id.
    #[arg(long, default_value = "main")]
    pub site: String,
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
    /// Freeze a seller: its messages are refused, its keys and reads kept
    /// (role soc; undone by `unfreeze-seller`).
    FreezeSeller {
        /// The seller's UBN.
        #[arg(long)]
        ubn: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a seller's freeze (role soc).
    UnfreezeSeller {
        /// The seller's UBN.
        #[arg(long)]
        ubn: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Force a carrier to verify again: its tokens die, its code answers as
    /// wrong until reset through its contact (role soc; undone by
    /// `clear-carrier`).
    ReverifyCarrier {
        /// The carrier type code (`3J0002`).
        #[arg(long)]
        carrier_type: String,
        /// The carrier id (`/ABC+123`).
        #[arg(long)]
        carrier_id: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Drop a carrier's forced re-verification (role soc).
    ClearCarrier {
        /// The carrier type code.
        #[arg(long)]
        carrier_type: String,
        /// The carrier id.
        #[arg(long)]
        carrier_id: String,
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Put the site read-only: every write answers 503 SITE_READ_ONLY
    /// (role soc; undone by `read-write`).
    ReadOnly {
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift the read-only hold (role soc).
    ReadWrite {
        /// Why (kept in the ledger).
        #[arg(long)]
        reason: Option<String>,
    },
}

impl RespondAction {
    /// The hold action this is, with its reason, parsed; `None` for the
    /// actions that are not holds (blocks live in a running node's memory,
    /// keys and apps are the operator API's).
    fn hold(&self) -> anyhow::Result<Option<(ResponseAction, Option<String>)>> {
        let ubn = |u: &str| -> anyhow::Result<einvoice_soc::Ubn> {
            let ubn = einvoice_core::Ubn::parse(u)
                .map_err(|v| anyhow::anyhow!("{}: ubn: {}", v.code, v.message))?;
            Ok(einvoice_server::soc_holds::soc_ubn(&ubn)?)
        };
        let carrier = |t: &str, i: &str| -> anyhow::Result<einvoice_soc::Label> {
            let kind = einvoice_core::CarrierType::parse(t, &Default::default())
                .map_err(|v| anyhow::anyhow!("{}: carrier_type: {}", v.code, v.message))?;
            let c = einvoice_core::Carrier::parse(kind, i)
                .map_err(|v| anyhow::anyhow!("{}: carrier_id: {}", v.code, v.message))?;
            Ok(einvoice_server::soc::label(&einvoice_store::carrier_key(
                &c,
            )))
        };
        Ok(Some(match self {
            Self::FreezeSeller { ubn: u, reason } => (
                ResponseAction::FreezeSeller { ubn: ubn(u)? },
                reason.clone(),
            ),
            Self::UnfreezeSeller { ubn: u, reason } => (
                ResponseAction::UnfreezeSeller { ubn: ubn(u)? },
                reason.clone(),
            ),
            Self::ReverifyCarrier {
                carrier_type,
                carrier_id,
                reason,
            } => (
                ResponseAction::ForceCarrierReverify {
                    carrier: carrier(carrier_type, carrier_id)?,
                },
                reason.clone(),
            ),
            Self::ClearCarrier {
                carrier_type,
                carrier_id,
                reason,
            } => (
                ResponseAction::ClearCarrierReverify {
                    carrier: carrier(carrier_type, carrier_id)?,
                },
                reason.clone(),
            ),
            Self::ReadOnly { reason } => (ResponseAction::SiteReadOnly, reason.clone()),
            Self::ReadWrite { reason } => (ResponseAction::SiteReadWrite, reason.clone()),
            _ => return Ok(None),
        }))
    }
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
        SocCommand::Respond(r) => respond(*r),
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

/// `soc respond --data|--database --actor NAME`: a hold applied to a
/// stopped site's store, recorded in its ledger as `local:<NAME>`; NAME must
/// be an enabled operator account with role soc.
fn respond_offline(r: RespondArgs) -> anyhow::Result<ExitCode> {
    let Some((action, reason)) = r.action.hold()? else {
        anyhow::bail!(
            "RESPOND_ONLINE_ONLY: this action is taken on a running site (--url): a block \
             lives in each node's memory; keys and apps through the operator API"
        );
    };
    let actor = r.actor.as_deref().ok_or_else(|| {
        anyhow::anyhow!(
            "ACTOR_REQUIRED: --actor NAME (an operator of role soc) with --data/--database"
        )
    })?;
    let data = r.data.clone().unwrap_or_else(|| PathBuf::from("data"));
    let rt = runtime()?;
    let store = rt.block_on(open(&data, r.database.as_ref(), &r.site, Open::Existing))?;
    let hold = rt.block_on(async {
        with_store!(&store, s => {
            let op = s.operator(actor).await?;
            anyhow::ensure!(
                op.as_ref().is_some_and(|o| !o.disabled && o.roles.contains(&einvoice_store::Role::Soc)),
                "ACTOR_UNKNOWN: {actor:?} is not an enabled operator account with role soc"
            );
            let now = i64::try_from(einvoice_server::soc::now_ms() / 1000).unwrap_or(i64::MAX);
            einvoice_server::soc_holds::apply(s, &action, &format!("local:{actor}"), reason.as_deref(), now)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
        })
    })?;
    println!(
        "{}",
        json!({"target": hold.target, "in_force": hold.in_force, "since_unix": hold.since_unix,
               "by": hold.by, "changed_unix": hold.changed_unix})
    );
    Ok(ExitCode::SUCCESS)
}

fn respond(r: RespondArgs) -> anyhow::Result<ExitCode> {
    if r.data.is_some() || r.database.is_some() {
        return respond_offline(r);
    }
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
        RespondAction::FreezeSeller { ubn, reason: why } => client.send(
            "POST",
            &format!("/v1/soc/sellers/{}/freeze", segment(&ubn)?),
            reason(why),
        ),
        RespondAction::UnfreezeSeller { ubn, reason: why } => client.send(
            "POST",
            &format!("/v1/soc/sellers/{}/unfreeze", segment(&ubn)?),
            reason(why),
        ),
        RespondAction::ReverifyCarrier {
            carrier_type,
            carrier_id,
            reason: why,
        } => client.send(
            "POST",
            "/v1/soc/carriers/reverify",
            Some(json!({"carrier_type": carrier_type, "carrier_id": carrier_id, "reason": why})),
        ),
        RespondAction::ClearCarrier {
            carrier_type,
            carrier_id,
            reason: why,
        } => client.send(
            "POST",
            "/v1/soc/carriers/reverify/clear",
            Some(json!({"carrier_type": carrier_type, "carrier_id": carrier_id, "reason": why})),
        ),
        RespondAction::ReadOnly { reason: why } => {
            client.send("POST", "/v1/soc/site/read-only", reason(why))
        }
        RespondAction::ReadWrite { reason: why } => {
            client.send("POST", "/v1/soc/site/read-only/lift", reason(why))
        }
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
