//! `draw synth|snapshot-digest|freeze|commit|run|verify|report|payouts`, `bench draw`.
//!
//! `freeze`, `payouts` and `run --data|--database` work on a site's store
//! (`draw_site.rs`); the others work on files. The draw's steps are
//! `einvoice_draw`'s and `einvoice_analytics`'; this file parses and prints.

use super::draw_site;
use super::progress::{on_event, progress_bar};
use super::store_args::{DatabaseUrl, StoreArgs};
use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use einvoice_analytics::draw;
use einvoice_analytics::snapshot::{self, Snapshot, hex};
use einvoice_analytics::{Error, synth};
use einvoice_core::Period;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `einvoice draw …`
#[derive(Subcommand)]
pub enum DrawCommand {
    /// Write a synthetic snapshot of N eligible invoices (for trials and benchmarks).
    Synth {
        /// Number of invoices.
        #[arg(long)]
        invoices: u64,
        /// Snapshot file to write.
        #[arg(long)]
        out: PathBuf,
        /// Period, e.g. 11312.
        #[arg(long, default_value = "11312")]
        period: String,
        /// Generator seed.
        #[arg(long, default_value_t = 0x5EED)]
        seed: u64,
    },
    /// Print a snapshot's Merkle root (recomputed from the file).
    SnapshotDigest {
        /// Snapshot file.
        file: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Freeze a period from the site's store: page its eligible invoices
    /// into a snapshot, record the root (a period is frozen once) and append
    /// a `DRAW_FREEZE` ledger entry.
    Freeze {
        /// Period, e.g. 11312.
        #[arg(long)]
        period: String,
        /// Snapshot file to write.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        site: SiteArgs,
    },
    /// Payout files from a period's stored winners: bank transfers for
    /// carriers with a bank account, NPO transfers for donated prizes, and a
    /// manual-claim list for the rest.
    Payouts {
        /// Period, e.g. 11312.
        #[arg(long)]
        period: String,
        /// Directory to write payouts.csv, payouts.json and manifest.json into.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        site: SiteArgs,
    },
    /// Draw a fresh seed, write it to a 0600 file and print the commitment to
    /// publish with the snapshot root.
    Commit {
        /// Snapshot file.
        #[arg(long)]
        snapshot: PathBuf,
        /// Where to write the secret seed (must not exist yet).
        #[arg(long, default_value = "draw-seed.hex")]
        seed_file: PathBuf,
        /// Threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Find every regular and cloud winner and write the draw directory.
    Run {
        /// Snapshot file.
        #[arg(long)]
        snapshot: PathBuf,
        /// Winning numbers (winning-numbers.json shape). Not with
        /// `--data`/`--database`: the site's published numbers are used.
        #[arg(long)]
        numbers: Option<PathBuf>,
        /// Period, e.g. 11312.
        #[arg(long)]
        period: String,
        /// The seed file written by `draw commit`.
        #[arg(long)]
        seed_file: PathBuf,
        /// Draw directory to write.
        #[arg(long)]
        out: PathBuf,
        /// The published commitment (hex); the seed must open it.
        #[arg(long)]
        commitment: Option<String>,
        /// Prize table (JSON: amounts and cloud tiers); default: the table in
        /// force for the period.
        #[arg(long)]
        prize_table: Option<PathBuf>,
        /// Leave donated (unprinted, carrier-less) invoices out of the cloud draw.
        #[arg(long)]
        no_donated: bool,
        /// Threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Site mode: the site's data directory (SQLite). The period's
        /// published numbers come from the store and the winners are loaded
        /// into it.
        #[arg(long)]
        data: Option<PathBuf>,
        /// Site mode on PostgreSQL (`postgres://…` or `host=… dbname=…`).
        #[arg(long, value_name = "URL")]
        database: Option<DatabaseUrl>,
        /// Site id.
        #[arg(long, default_value = "main")]
        site: String,
        /// Operator running the draw (recorded in the ledger).
        #[arg(long, env = "USER", default_value = "cli")]
        operator: String,
    },
    /// Recompute a draw directory from the snapshot; exit 1 at the first difference.
    Verify {
        /// Snapshot file.
        #[arg(long)]
        snapshot: PathBuf,
        /// Draw directory (written by `draw run`).
        #[arg(long, visible_alias = "dir")]
        out: PathBuf,
        /// The commitment published before the draw (hex).
        #[arg(long)]
        commitment: Option<String>,
        /// Threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Counts and amounts per prize of a draw directory.
    Report {
        /// Draw directory (written by `draw run`).
        #[arg(long, visible_alias = "dir")]
        out: PathBuf,
        /// Print report.json as is.
        #[arg(long)]
        json: bool,
    },
}

/// Where a site-mode draw command finds the store, and who runs it.
#[derive(Args)]
pub struct SiteArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Site id.
    #[arg(long, default_value = "main")]
    pub site: String,
    /// Operator running the command (recorded in the ledger).
    #[arg(long, env = "USER", default_value = "cli")]
    pub operator: String,
}

/// `einvoice bench draw --invoices N [--json]`
#[derive(Args)]
pub struct BenchDrawArgs {
    /// Number of synthetic eligible invoices.
    #[arg(long, default_value_t = 100_000_000)]
    pub invoices: u64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Threads for the match and the baseline read.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Measurement rounds (medians are printed).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Also time DuckDB over the same numbers written as Parquet (needs
    /// `python3` with `duckdb` and `pyarrow`; `duckdb_s` is null with a reason
    /// otherwise).
    #[arg(long)]
    pub duckdb: bool,
    /// Carrier share of the synthetic invoices (per mille) for the cloud draw.
    #[arg(long, default_value_t = 620)]
    pub cloud_permille: u64,
}

pub(crate) fn period_of(s: &str) -> anyhow::Result<Period> {
    Period::parse(s).map_err(|v| anyhow!("{}: {}", v.code, v.message))
}

/// Run a `draw` command.
pub fn draw(c: DrawCommand) -> anyhow::Result<ExitCode> {
    match c {
        DrawCommand::Synth {
            invoices,
            out,
            period,
            seed,
        } => {
            let p = period_of(&period)?;
            let pb = progress_bar();
            pb.set_message("writing");
            pb.set_length(invoices);
            let mut w = snapshot::SnapshotWriter::create(&out, p.key())?;
            for (i, inv) in synth::invoices(invoices, seed, synth::SynthMix::default()).enumerate()
            {
                w.push(&inv)?;
                if i % 65_536 == 0 {
                    pb.set_position(i as u64);
                }
            }
            let s = w.finish()?;
            pb.finish_and_clear();
            println!(
                "{}",
                serde_json::json!({"file": out, "period": p.to_string(), "rows": s.rows, "leaves": s.leaves, "root": hex(&s.root)})
            );
            Ok(ExitCode::SUCCESS)
        }
        DrawCommand::SnapshotDigest {
            file,
            json,
            threads,
        } => {
            let s = Snapshot::open(&file)?;
            let root = hex(&s.root(threads)?);
            if json {
                println!(
                    "{}",
                    serde_json::json!({"root": root, "period": format!("{:05}", s.period()), "rows": s.rows()})
                );
            } else {
                println!("{root}");
            }
            Ok(ExitCode::SUCCESS)
        }
        DrawCommand::Freeze { period, out, site } => {
            draw_site::freeze(
                &site.store,
                &site.site,
                period_of(&period)?,
                &out,
                &site.operator,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        DrawCommand::Payouts { period, out, site } => {
            draw_site::payouts(&site.store, &site.site, period_of(&period)?, &out)?;
            Ok(ExitCode::SUCCESS)
        }
        DrawCommand::Commit {
            snapshot,
            seed_file,
            threads,
        } => {
            let c = einvoice_draw::commit(&snapshot, &seed_file, threads)?;
            println!(
                "{}",
                serde_json::json!({
                    "period": format!("{:05}", c.period),
                    "rows": c.rows,
                    "snapshot_root": c.snapshot_root,
                    "commitment": c.commitment,
                    "seed_file": c.seed_file,
                })
            );
            Ok(ExitCode::SUCCESS)
        }
        DrawCommand::Run {
            snapshot,
            numbers,
            period,
            seed_file,
            out,
            commitment,
            prize_table,
            no_donated,
            threads,
            data,
            database,
            site,
            operator,
        } => {
            let inputs = einvoice_draw::RunInputs {
                snapshot: &snapshot,
                seed_file: &seed_file,
                out: &out,
                commitment: commitment.as_deref(),
                prize_table: prize_table.as_deref(),
                no_donated,
                threads,
            };
            if data.is_some() || database.is_some() {
                if numbers.is_some() {
                    bail!(
                        "DRAW_INPUT: --numbers is for file mode; with --data/--database the period's published numbers are used"
                    );
                }
                let at = StoreArgs {
                    data: data.unwrap_or_else(|| PathBuf::from("data")),
                    database,
                };
                draw_site::run(
                    &at,
                    &site,
                    &einvoice_draw::SiteRun {
                        period: period_of(&period)?,
                        inputs,
                        operator: &operator,
                    },
                )?;
                return Ok(ExitCode::SUCCESS);
            }
            let Some(numbers) = numbers else {
                bail!(
                    "DRAW_INPUT: give --numbers FILE, or --data/--database to use the site's published numbers"
                );
            };
            let pb = progress_bar();
            let r = einvoice_draw::run_from_files(
                period_of(&period)?,
                &numbers,
                &inputs,
                &on_event(&pb),
            );
            pb.finish_and_clear();
            let r = r?;
            println!(
                "period {}: {} invoices, {} cloud-eligible, {} winner lines, NT${} payable; written to {}",
                r.period,
                r.invoices,
                r.cloud_eligible,
                r.winners,
                r.payable_amount,
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        DrawCommand::Verify {
            snapshot,
            out,
            commitment,
            threads,
        } => {
            let s = Snapshot::open(&snapshot)?;
            let pb = progress_bar();
            let commitment = commitment
                .as_deref()
                .map(einvoice_draw::parse_commitment)
                .transpose()?;
            let r = draw::verify(&s, &out, commitment, threads, &on_event(&pb));
            pb.finish_and_clear();
            match r {
                Ok(v) => {
                    println!(
                        "OK: {} verified (snapshot root {}, commitment {})",
                        out.display(),
                        v.manifest.snapshot_root,
                        v.manifest.commitment
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e @ (Error::Mismatch(_) | Error::Commitment(_))) => {
                    eprintln!("{e}");
                    Ok(ExitCode::from(1))
                }
                Err(e) => Err(e.into()),
            }
        }
        DrawCommand::Report { out, json } => {
            let p = out.join("report.json");
            let bytes = std::fs::read(&p).with_context(|| p.display().to_string())?;
            if json {
                std::io::stdout().write_all(&bytes)?;
                return Ok(ExitCode::SUCCESS);
            }
            let r: draw::Report = serde_json::from_slice(&bytes)
                .with_context(|| format!("DRAW_INPUT: {}", p.display()))?;
            println!(
                "period {}  snapshot {}\ninvoices {}  cloud-eligible {}",
                r.period, r.snapshot_root, r.invoices, r.cloud_eligible
            );
            println!(
                "{:<18} {:>12} {:>10} {:>16}",
                "prize", "amount", "winners", "total"
            );
            for l in &r.prizes {
                println!(
                    "{:<18} {:>12} {:>10} {:>16}",
                    l.prize, l.amount, l.count, l.total
                );
            }
            println!(
                "{:<18} {:>12} {:>10} {:>16}\npayable (one prize per invoice) {}; invoices with more than one prize {}",
                "total", "", r.winners, r.total_amount, r.payable_amount, r.multiple_wins
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Run `bench draw`: the regular-prize match over N synthetic numbers (the
/// real 10802 winning numbers), the cloud draw over the carrier share of N,
/// a sequential read of the same column, and optionally DuckDB.
pub fn bench_draw(a: BenchDrawArgs) -> anyhow::Result<ExitCode> {
    let n = usize::try_from(a.invoices)?;
    let gib = a.invoices as f64 * 4.0 / (1u64 << 30) as f64;
    if !a.json {
        eprintln!("generating {n} synthetic invoice numbers ({gib:.1} GiB in memory)…");
    }
    let column = einvoice_analytics::bench::synthetic_column(n, 0x5EED);
    let period = period_of("10802")?;
    // Period 10802's published numbers.
    let w = einvoice_core::WinningNumbers::parse(
        period,
        "00106725",
        "90819218",
        &["13440631", "26650552", "09775722"],
        &["809", "264"],
    )
    .map_err(|v| anyhow!("{}", v.message))?;
    let opts = einvoice_analytics::bench::Options {
        threads: a.threads,
        rounds: a.rounds,
        cloud_permille: a.cloud_permille,
        duckdb: a.duckdb.then(duckdb_script),
    };
    let r = einvoice_analytics::bench::run(&column, &w, &opts);
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        let duck = match (r.duckdb_s, &r.duckdb_reason) {
            (Some(s), _) => format!(
                "{s:.3} s (same winners: {})",
                r.duckdb_same_winners.map_or("?".into(), |b| b.to_string())
            ),
            (None, Some(why)) => format!("not measured: {why}"),
            (None, None) => "not measured (pass --duckdb)".into(),
        };
        println!(
            "invoices: {}\nregular-prize match: {:.3} s (median of {}, {} kernel, {} threads), {} winners\nsequential read of the same {:.2} GiB: {:.3} s\nmatch / read: {:.2}\ncloud draw: {:.3} s ({} winners among {} eligible)\nDuckDB (Parquet, same winners): {}",
            r.invoices,
            r.match_s,
            a.rounds,
            r.kernel,
            r.threads,
            r.winners,
            gib,
            r.seq_read_s,
            r.match_vs_read,
            r.cloud_draw_s,
            r.cloud_winners,
            r.cloud_eligible,
            duck
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The committed DuckDB script, found next to the binary's source tree or in
/// the working directory.
fn duckdb_script() -> PathBuf {
    let rel = Path::new("crates/analytics/duckdb/regular_prizes.py");
    let from_src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
    if from_src.exists() {
        from_src
    } else {
        rel.to_path_buf()
    }
}
