//! `ca init|issue`: the deployment CA that authenticates sites to each other
//! (mutual TLS on the peer listener, see `einvoice_sync::ca`).

use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

/// `einvoice ca …`
#[derive(Subcommand)]
pub enum CaCommand {
    /// Create a deployment CA: DIR/ca.pem and DIR/ca.key (mode 0600).
    Init {
        /// The CA directory (created if missing; refused if it holds a CA).
        #[arg(long)]
        dir: PathBuf,
        /// A name for the deployment, in the CA certificate's subject.
        #[arg(long, default_value = "einvoice")]
        name: String,
    },
    /// Issue a site certificate signed by the CA: DIR/sites/SITE.pem and .key.
    Issue {
        /// The site name (its ledger origin; the certificate's CN and DNS name).
        #[arg(long)]
        site: String,
        /// The CA directory.
        #[arg(long)]
        dir: PathBuf,
        /// Host names or IP addresses the site is reached at (repeatable).
        #[arg(long = "host", default_values_t = ["localhost".to_string(), "127.0.0.1".to_string()])]
        hosts: Vec<String>,
    },
}

/// Run a `ca` command.
pub fn ca(c: CaCommand) -> anyhow::Result<ExitCode> {
    match c {
        CaCommand::Init { dir, name } => {
            let (cert, key) = einvoice_sync::ca::init_ca(&dir, &name)?;
            println!("CA certificate {}", cert.display());
            println!(
                "CA key         {} (keep it offline; mode 0600)",
                key.display()
            );
        }
        CaCommand::Issue { site, dir, hosts } => {
            let files = einvoice_sync::ca::issue_site(&dir, &site, &hosts)?;
            println!("site {site}: certificate {}", files.cert.display());
            println!(
                "site {site}: key         {} (mode 0600)",
                files.key.display()
            );
            println!(
                "[sync] ca = {:?}, cert = {:?}, key = {:?}",
                files.ca.display().to_string(),
                files.cert.display().to_string(),
                files.key.display().to_string()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
