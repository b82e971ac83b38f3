//! Commands on MIG messages and invoice numbers that need no store:
//! `validate`, `convert`, `prize`, `bench decode`.

use clap::Args;
use einvoice_core::{
    InvoiceNumber, MessageKind, Period, PrizeTable, Rules, Violation, WinningNumbers,
};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// `einvoice validate [--sandbox] [--json] FILE...`
#[derive(Args)]
pub struct ValidateArgs {
    /// Accept MOF's test identifiers (sandbox mode).
    #[arg(long)]
    pub sandbox: bool,
    /// One JSON object per file and line.
    #[arg(long)]
    pub json: bool,
    /// MIG 4.1 XML or JSON files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// `einvoice convert FILE --to xml|json`
#[derive(Args)]
pub struct ConvertArgs {
    /// Input file (XML or JSON).
    pub file: PathBuf,
    /// Output form.
    #[arg(long, value_parser = ["xml", "json"])]
    pub to: String,
}

/// `einvoice prize --period P --numbers FILE [--json] NUMBER...`
#[derive(Args)]
pub struct PrizeArgs {
    /// Period, e.g. 11312.
    #[arg(long)]
    pub period: String,
    /// Winning numbers file (shape of winning-numbers.json).
    #[arg(long)]
    pub numbers: PathBuf,
    /// One JSON object per number and line.
    #[arg(long)]
    pub json: bool,
    /// Invoice numbers (AB12345678).
    #[arg(required = true)]
    pub invoices: Vec<String>,
}

/// `einvoice bench decode`
#[derive(Args)]
pub struct BenchDecodeArgs {
    /// Seconds per measurement round.
    #[arg(long, default_value_t = 1.0)]
    pub seconds: f64,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// One file's verdict, as printed by `validate --json`.
#[derive(serde::Serialize)]
struct Verdict<'a> {
    file: &'a str,
    message: Option<&'static str>,
    valid: bool,
    errors: Vec<ErrorOut>,
}

#[derive(serde::Serialize)]
struct ErrorOut {
    code: String,
    field: String,
    message: String,
}

impl From<Violation> for ErrorOut {
    fn from(v: Violation) -> Self {
        Self {
            code: v.code.to_string(),
            field: v.field,
            message: v.message,
        }
    }
}

/// Run `validate`: exit 0 when all files are valid, 1 when any is invalid, 2
/// when any cannot be read.
pub fn validate(a: ValidateArgs) -> anyhow::Result<ExitCode> {
    let rules = if a.sandbox {
        Rules::sandbox()
    } else {
        Rules::production()
    };
    let (mut any_invalid, mut any_unreadable) = (false, false);
    let mut out = std::io::stdout().lock();
    for path in &a.files {
        let name = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                any_unreadable = true;
                eprintln!("{name}: FILE_UNREADABLE: {e}");
                if a.json {
                    let v = Verdict {
                        file: &name,
                        message: None,
                        valid: false,
                        errors: vec![ErrorOut {
                            code: "FILE_UNREADABLE".into(),
                            field: String::new(),
                            message: e.to_string(),
                        }],
                    };
                    writeln!(out, "{}", serde_json::to_string(&v)?)?;
                }
                continue;
            }
        };
        let (kind, errors): (Option<MessageKind>, Vec<Violation>) =
            match einvoice_mig::decode_any(&bytes) {
                Err(e) => (None, vec![e.into()]),
                Ok(msg) => match einvoice_core::validate(&msg, &rules) {
                    Ok(_) => (Some(msg.kind()), Vec::new()),
                    Err(v) => (Some(msg.kind()), v.0),
                },
            };
        let valid = errors.is_empty();
        any_invalid |= !valid;
        if a.json {
            let v = Verdict {
                file: &name,
                message: kind.map(|k| k.as_str()),
                valid,
                errors: errors.into_iter().map(ErrorOut::from).collect(),
            };
            writeln!(out, "{}", serde_json::to_string(&v)?)?;
        } else {
            let kind = kind.map(|k| k.as_str()).unwrap_or("-");
            if valid {
                writeln!(out, "{name}: {kind} valid")?;
            } else {
                writeln!(out, "{name}: {kind} INVALID ({} error(s))", errors.len())?;
                for e in errors {
                    let at = if e.field.is_empty() {
                        String::new()
                    } else {
                        format!(" at {}", e.field)
                    };
                    writeln!(out, "  {}{at}: {}", e.code, e.message)?;
                }
            }
        }
    }
    Ok(if any_unreadable {
        ExitCode::from(2)
    } else if any_invalid {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Run `convert`: decode (either format), re-encode in the other.
pub fn convert(a: ConvertArgs) -> anyhow::Result<ExitCode> {
    let bytes = match std::fs::read(&a.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{}: FILE_UNREADABLE: {e}", a.file.display());
            return Ok(ExitCode::from(2));
        }
    };
    let msg = match einvoice_mig::decode_any(&bytes) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{}: {e}", a.file.display());
            return Ok(ExitCode::from(1));
        }
    };
    let out = match a.to.as_str() {
        "xml" => einvoice_mig::encode_xml(&msg),
        _ => {
            let mut j = einvoice_mig::encode_json_pretty(&msg);
            j.push(b'\n');
            j
        }
    };
    std::io::stdout().lock().write_all(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// One record of `winning-numbers.json`.
#[derive(serde::Deserialize)]
struct NumbersRecord {
    period: String,
    special: String,
    grand: String,
    first: Vec<String>,
    #[serde(default)]
    additional_sixth: Vec<String>,
}

#[derive(serde::Deserialize)]
struct NumbersFile {
    periods: Vec<NumbersRecord>,
}

/// Run `prize`.
pub fn prize(a: PrizeArgs) -> anyhow::Result<ExitCode> {
    let period =
        Period::parse(&a.period).map_err(|v| anyhow::anyhow!("{}: {}", v.code, v.message))?;
    let text = std::fs::read(&a.numbers)
        .map_err(|e| anyhow::anyhow!("FILE_UNREADABLE: {}: {e}", a.numbers.display()))?;
    let file: NumbersFile = serde_json::from_slice(&text)
        .map_err(|e| anyhow::anyhow!("WINNING_NUMBERS_FORMAT: {}: {e}", a.numbers.display()))?;
    let rec = file
        .periods
        .iter()
        .find(|r| r.period == period.to_string())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "WINNING_NUMBERS_UNKNOWN_PERIOD: {} has no record for period {period}",
                a.numbers.display()
            )
        })?;
    let first: Vec<&str> = rec.first.iter().map(String::as_str).collect();
    let sixth: Vec<&str> = rec.additional_sixth.iter().map(String::as_str).collect();
    let numbers = WinningNumbers::parse(period, &rec.special, &rec.grand, &first, &sixth)
        .map_err(|v| anyhow::anyhow!("{}: {}", v.code, v.message))?;
    let table = PrizeTable::standard_2026();
    let mut out = std::io::stdout().lock();
    let mut bad = false;
    for n in &a.invoices {
        let parsed = InvoiceNumber::parse(n.trim());
        let number = match parsed {
            Ok(x) => x,
            Err(v) => {
                bad = true;
                if a.json {
                    writeln!(
                        out,
                        "{}",
                        serde_json::json!({"number": n, "prize": null, "amount": 0, "error": {"code": v.code, "message": v.message}})
                    )?;
                } else {
                    writeln!(out, "{n}: {}: {}", v.code, v.message)?;
                }
                continue;
            }
        };
        let prize = numbers.highest_prize(number.number());
        let amount = prize.map(|p| table.amount(p).0).unwrap_or(0);
        if a.json {
            writeln!(
                out,
                "{}",
                serde_json::json!({"number": number.to_string(), "prize": prize.map(|p| p.id()), "amount": amount})
            )?;
        } else {
            match prize {
                Some(p) => writeln!(out, "{number}: {} NT${amount}", p.id())?,
                None => writeln!(out, "{number}: no prize")?,
            }
        }
    }
    Ok(if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Run `bench decode`.
pub fn bench_decode(a: BenchDecodeArgs) -> anyhow::Result<ExitCode> {
    let r = einvoice_mig::bench::decode_validate(a.seconds);
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "5-item F0401 ({} bytes), {} rounds of {:.1}s:\n  decode + validate: {:>10.0} msg/s (median)\n  quick-xml tokenise: {:>9.0} msg/s (median)\n  ratio (decode+validate / tokenise): {:.3}",
            r.bytes, r.rounds, a.seconds, r.decode_validate_per_s, r.tokenise_per_s, r.ratio
        );
    }
    Ok(ExitCode::SUCCESS)
}
