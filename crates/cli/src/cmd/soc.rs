//! `soc alerts`: the SOC's alerts of a stopped site, from its event log
//! (`soc.sqlite` in the data directory), by running the built-in rules over
//! the stored events again.

use anyhow::Context;
use clap::Subcommand;
use einvoice_soc::SqliteLog;
use std::path::PathBuf;
use std::process::ExitCode;

/// `einvoice soc …`
#[derive(Subcommand)]
pub enum SocCommand {
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
}

/// Run a `soc` command.
pub fn soc(c: SocCommand) -> anyhow::Result<ExitCode> {
    match c {
        SocCommand::Alerts { data, json } => {
            let file = data.join(einvoice_soc::log::SQLITE_FILE);
            anyhow::ensure!(
                file.is_file(),
                "SOC_LOG_MISSING: {} does not exist (no site has reported security events in {})",
                file.display(),
                data.display()
            );
            let log = SqliteLog::open(&data)
                .with_context(|| format!("cannot open {}", file.display()))?;
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
    }
}
