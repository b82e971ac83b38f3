//! `einvoice`: the command line. Each command group lives in its own module under
//! [`cmd`]; this file only declares the command tree and dispatches.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// einvoice — an open-source cloud e-invoice platform (Taiwan MOF / MIG 4.1).
#[derive(Parser)]
#[command(name = "einvoice", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate MIG 4.1 XML or JSON messages and print every rule they break.
    Validate(cmd::messages::ValidateArgs),
    /// Convert a message between MIG 4.1 XML and JSON through the model.
    Convert(cmd::messages::ConvertArgs),
    /// Print the barcode and QR code texts of an F0401's proof.
    Proof(cmd::proof::ProofArgs),
    /// The highest regular prize of invoice numbers for a period.
    Prize(cmd::messages::PrizeArgs),
    /// Run the site: HTTP API over the configured store.
    Serve(cmd::site::ServeArgs),
    /// Start a site with demo data and print how to try it.
    ///
    /// The data directory is created and keeps the master key and
    /// `demo-credentials.json`; the demo goes into its SQLite file, or into
    /// PostgreSQL with `--database`. A second start reuses the data.
    Up(cmd::site::UpArgs),
    /// Demo data.
    #[command(subcommand)]
    Demo(cmd::site::DemoCommand),
    /// Operator commands (sellers, keys, tracks, apps, operators).
    Admin(cmd::admin::AdminArgs),
    /// Signed API client, as an integrator would use it.
    Client(cmd::client::ClientArgs),
    /// The ledger: verify the hash chain, follow new entries.
    #[command(subcommand)]
    Ledger(cmd::ledger::LedgerCommand),
    /// Create or upgrade the store's schema.
    Migrate(cmd::migrate::MigrateArgs),
    /// Export a site's ledger to a file.
    Export(cmd::export_import::ExportArgs),
    /// Import a ledger export into a store.
    Import(cmd::export_import::ImportArgs),
    /// The Uniform Invoice prize draw.
    #[command(subcommand)]
    Draw(cmd::draw::DrawCommand),
    /// The site's role: promote a standby to main.
    #[command(subcommand)]
    Site(cmd::site_role::SiteCommand),
    /// The deployment CA for mutual TLS between sites.
    #[command(subcommand)]
    Ca(cmd::ca::CaCommand),
    /// Site-to-site sync: status and agreement between sites.
    #[command(subcommand)]
    Sync(cmd::sync::SyncCommand),
    /// The cross-site gateway in front of the sites (routing, failover, cache, peak mode).
    Gateway(cmd::gateway::GatewayArgs),
    /// The security operations center: alerts from a site's security events.
    #[command(subcommand)]
    Soc(cmd::soc::SocCommand),
    /// Benchmarks (print medians and ratios to baselines measured in the same run).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// MIG XML decode + validate versus raw quick-xml tokenising.
    Decode(cmd::messages::BenchDecodeArgs),
    /// Ingest over the real HTTP API.
    Ingest(cmd::bench_site::BenchIngestArgs),
    /// Carrier queries.
    Query(cmd::bench_site::BenchQueryArgs),
    /// Regular-prize match and cloud-prize draw over a synthetic snapshot.
    Draw(cmd::draw::BenchDrawArgs),
    /// A national-size winners load (`put_winners`) into a fresh store.
    Winners(cmd::bench_winners::BenchWinnersArgs),
    /// A cloud site applying main's ledger over the sync feed (entries/s next
    /// to append/s), and its lag while main ingests at a steady rate.
    Sync(cmd::bench_sync::BenchSyncArgs),
    /// Draw day through the gateway: main and two cloud sites and the
    /// gateway as processes, an open-loop mix (winning lists and checks,
    /// carrier queries, issuance) with a cloud site killed -9 mid-run;
    /// per class rate, p50/p99, success, shed; cached winning lists a
    /// second; the gateway's overhead.
    Peak(cmd::bench_peak::BenchPeakArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(a) => cmd::messages::validate(a),
        Command::Convert(a) => cmd::messages::convert(a),
        Command::Proof(a) => cmd::proof::proof(a),
        Command::Prize(a) => cmd::messages::prize(a),
        Command::Serve(a) => cmd::site::serve(a),
        Command::Up(a) => cmd::site::up(a),
        Command::Demo(c) => cmd::site::demo(c),
        Command::Admin(a) => cmd::admin::admin(a),
        Command::Client(a) => cmd::client::client(a),
        Command::Ledger(c) => cmd::ledger::ledger(c),
        Command::Ca(c) => cmd::ca::ca(c),
        Command::Sync(c) => cmd::sync::sync(c),
        Command::Soc(c) => cmd::soc::soc(c),
        Command::Gateway(a) => cmd::gateway::gateway(a),
        Command::Migrate(a) => cmd::migrate::migrate(a),
        Command::Export(a) => cmd::export_import::export(a),
        Command::Import(a) => cmd::export_import::import(a),
        Command::Draw(c) => cmd::draw::draw(c),
        Command::Site(c) => cmd::site_role::site(c),
        Command::Bench(BenchCommand::Decode(a)) => cmd::messages::bench_decode(a),
        Command::Bench(BenchCommand::Ingest(a)) => cmd::bench_site::bench_ingest(a),
        Command::Bench(BenchCommand::Query(a)) => cmd::bench_site::bench_query(a),
        Command::Bench(BenchCommand::Draw(a)) => cmd::draw::bench_draw(a),
        Command::Bench(BenchCommand::Winners(a)) => cmd::bench_winners::bench_winners(a),
        Command::Bench(BenchCommand::Sync(a)) => cmd::bench_sync::bench_sync(a),
        Command::Bench(BenchCommand::Peak(a)) => cmd::bench_peak::bench_peak(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
