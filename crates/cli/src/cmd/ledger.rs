//! `ledger verify|tail`: walk a site's hash chain, follow its new entries.

use super::store_args::{Open, StoreArgs, runtime, with_store};
use anyhow::anyhow;
use clap::Subcommand;
use einvoice_store::Store;
use std::io::Write;
use std::process::ExitCode;

/// `einvoice ledger …`
#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Walk the hash chain and report the first broken link. Prints the
    /// verdict as JSON: `entries`, `head`, `broken`, and the entries whose
    /// body is withheld at this copy (ledger format v2: `withheld`, a count,
    /// and `withheld_runs`, inclusive `[first, last]` sequence runs); a
    /// withheld body is not a broken link, a body that does not match its
    /// digest is (`BODY_DIGEST_MISMATCH`).
    Verify {
        /// Where the store is.
        #[command(flatten)]
        store: StoreArgs,
        /// The origin (site id) whose chain to walk.
        #[arg(long, default_value = "main")]
        origin: String,
    },
    /// Follow new ledger entries in order.
    Tail {
        /// Where the store is.
        #[command(flatten)]
        store: StoreArgs,
        /// The origin (site id) to follow.
        #[arg(long, default_value = "main")]
        origin: String,
        /// Start after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Keep waiting for new entries.
        #[arg(long)]
        follow: bool,
    },
}

/// Run a `ledger` command.
pub fn ledger(c: LedgerCommand) -> anyhow::Result<ExitCode> {
    match c {
        LedgerCommand::Verify { store, origin } => runtime()?.block_on(async move {
            let store = store.open(&origin, Open::Existing).await?;
            let verdict = with_store!(&store, s => s.verify_ledger(&origin).await)
                .map_err(|e| anyhow!("{e}"))?;
            println!("{}", serde_json::to_string(&verdict)?);
            if verdict.withheld > 0 {
                eprintln!(
                    "ledger {origin}: {} of {} good entries have their body withheld here (digest only, the chain verifies through it)",
                    verdict.withheld, verdict.entries
                );
            }
            Ok(match verdict.broken {
                None => ExitCode::SUCCESS,
                Some(b) => {
                    eprintln!(
                        "ledger {origin}: first broken link at entry {}: {} ({})",
                        b.seq, b.code, b.message
                    );
                    ExitCode::from(1)
                }
            })
        }),
        LedgerCommand::Tail {
            store,
            origin,
            after,
            follow,
        } => runtime()?.block_on(async move {
            let store = store.open(&origin, Open::Existing).await?;
            with_store!(&store, s => tail(s, &origin, after, follow).await)
        }),
    }
}

/// Print `origin`'s entries after `after` as JSON lines; with `follow`, keep polling.
async fn tail<S: Store>(
    store: &S,
    origin: &str,
    after: u64,
    follow: bool,
) -> anyhow::Result<ExitCode> {
    let mut cursor = after;
    loop {
        let batch = store
            .entries(origin, cursor, 1000)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        {
            let mut out = std::io::stdout().lock();
            for e in &batch {
                writeln!(out, "{}", serde_json::to_string(e)?)?;
                cursor = e.seq;
            }
            out.flush()?;
        }
        if batch.is_empty() {
            if !follow {
                return Ok(ExitCode::SUCCESS);
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}
