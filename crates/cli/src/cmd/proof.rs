//! `proof`: the barcode and QR code texts (and images) of an F0401's printed proof.

use super::not_yet;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// `einvoice proof FILE (--qr-key HEX | --qr-passphrase TEXT) [--json] [--svg DIR]`
#[derive(Args)]
pub struct ProofArgs {
    /// An F0401 (XML or JSON).
    pub file: PathBuf,
    /// The seller's 32-hex-digit QR key.
    #[arg(
        long,
        conflicts_with = "qr_passphrase",
        required_unless_present = "qr_passphrase"
    )]
    pub qr_key: Option<String>,
    /// The seller's QR passphrase (the key is derived as MOF does).
    #[arg(long)]
    pub qr_passphrase: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write barcode.svg, qr-left.svg and qr-right.svg into this folder.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

/// Run `proof`.
pub fn proof(_a: ProofArgs) -> anyhow::Result<ExitCode> {
    Err(not_yet("proof"))
}
