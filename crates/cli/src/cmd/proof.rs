//! `proof`: the barcode and QR code texts (and images) of an F0401's printed proof.

use anyhow::{Context, bail};
use clap::Args;
use einvoice_core::proof::{QrKey, QrOptions, barcode, qr_codes};
use einvoice_core::{Facts, Rules};
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

/// Run `proof`: decode and validate an F0401 (sandbox rules, so MOF's sample
/// files work), then print the barcode and both QR texts.
pub fn proof(a: ProofArgs) -> anyhow::Result<ExitCode> {
    let key = match (&a.qr_key, &a.qr_passphrase) {
        (Some(hex), _) => {
            QrKey::parse_hex(hex).map_err(|v| anyhow::anyhow!("{}: {}", v.code, v.message))?
        }
        (None, Some(p)) => QrKey::from_passphrase(p),
        (None, None) => bail!("QR_KEY_REQUIRED: give --qr-key HEX or --qr-passphrase TEXT"),
    };
    let bytes =
        std::fs::read(&a.file).with_context(|| format!("FILE_UNREADABLE: {}", a.file.display()))?;
    let msg = einvoice_mig::decode_any(&bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    let valid = einvoice_core::validate(&msg, &Rules::sandbox()).map_err(|v| {
        let list: Vec<String> = v
            .iter()
            .map(|x| format!("{} at {}: {}", x.code, x.field, x.message))
            .collect();
        anyhow::anyhow!("the invoice is not valid:\n  {}", list.join("\n  "))
    })?;
    let Facts::Invoice(f) = &valid.facts else {
        bail!(
            "PROOF_NOT_AN_INVOICE: a proof is printed for an F0401, not {}",
            msg.kind()
        );
    };
    let random = f.random.as_ref().ok_or_else(|| {
        anyhow::anyhow!("RANDOM_NUMBER_REQUIRED: the invoice has no random number")
    })?;
    let bar = barcode(f.period, &f.number, random);
    let codes = qr_codes(f, &key, &QrOptions::default())
        .map_err(|v| anyhow::anyhow!("{}: {}", v.code, v.message))?;
    let left = String::from_utf8_lossy(&codes.left).into_owned();
    let right = String::from_utf8_lossy(&codes.right).into_owned();
    if a.json {
        println!(
            "{}",
            serde_json::json!({"barcode": bar, "qr_left": left, "qr_right": right})
        );
    } else {
        println!("barcode:  {bar}\nqr_left:  {left}\nqr_right: {right}");
    }
    if let Some(dir) = &a.svg {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let code39 = barcoders::sym::code39::Code39::new(&bar)
            .map_err(|e| anyhow::anyhow!("BARCODE_FORMAT: {e}"))?;
        let svg = barcoders::generators::svg::SVG::new(80)
            .generate(code39.encode())
            .map_err(|e| anyhow::anyhow!("barcode image: {e}"))?;
        std::fs::write(dir.join("barcode.svg"), svg)?;
        for (name, data) in [("qr-left.svg", &codes.left), ("qr-right.svg", &codes.right)] {
            let qr = qrcode::QrCode::new(data).map_err(|e| anyhow::anyhow!("QR_TOO_LONG: {e}"))?;
            let image = qr
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build();
            std::fs::write(dir.join(name), image)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
