//! `draw payouts`: payout files from a period's stored winners — bank
//! transfers for carriers with a registered bank account, transfers to the
//! NPO for donated prizes (捐贈), and a manual-claim list for the rest —
//! with a manifest of totals and SHA-256s. Bank accounts are opened with the
//! site's master key here and nowhere else in the draw.

use crate::DrawError;
use crate::files::write_private;
use einvoice_analytics::snapshot::hex;
use einvoice_core::Period;
use einvoice_secrets::{BankAccount, Sealer};
use einvoice_store::Store;
use serde_json::json;
use sha2::Digest;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Stored winner lines read per store call.
const WINNER_PAGE: u32 = 10_000;

/// Payout categories, in file order: `bank` (deposit to the carrier's
/// account), `npo` (a donated prize), `manual` (claimed in person).
pub const CATEGORIES: [&str; 3] = ["bank", "npo", "manual"];

/// One line of `payouts.csv` / `payouts.json`.
#[derive(Debug, Clone, serde::Serialize)]
struct PayoutLine {
    /// One of [`CATEGORIES`].
    category: &'static str,
    /// Line of the draw's winners.
    line: u64,
    invoice_number: String,
    seller: String,
    prize: String,
    amount: i64,
    carrier: Option<String>,
    npo: Option<String>,
    bank_code: Option<String>,
    account_number: Option<String>,
    holder_name: Option<String>,
}

/// What `draw payouts` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payouts {
    /// Period.
    pub period: Period,
    /// Lines and NT$ per category, in [`CATEGORIES`] order.
    pub totals: Vec<CategoryTotal>,
    /// NT$ of every payout line; equals the stored load's payable total.
    pub total_amount: i64,
    /// The directory holding `payouts.csv`, `payouts.json` and `manifest.json`.
    pub out: PathBuf,
}

/// The lines and NT$ of one payout category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryTotal {
    /// One of [`CATEGORIES`].
    pub category: &'static str,
    /// Payout lines.
    pub count: usize,
    /// NT$ of those lines.
    pub amount: i64,
}

impl Payouts {
    /// The totals as the manifest's `totals` object:
    /// `{"bank": {"count", "amount"}, "npo": …, "manual": …}`.
    pub fn totals_json(&self) -> serde_json::Value {
        totals_json(&self.totals)
    }
}

fn totals_json(totals: &[CategoryTotal]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    for t in totals {
        m.insert(
            t.category.to_string(),
            json!({"count": t.count, "amount": t.amount}),
        );
    }
    serde_json::Value::Object(m)
}

/// The site's master key as a [`Sealer`], from `data_dir`. Payouts refuse
/// ([`DrawError::MasterKeyMissing`]) rather than create a key: a new key
/// could open no stored bank account.
pub fn site_sealer(data_dir: &Path) -> Result<Sealer, DrawError> {
    let key_file = data_dir.join(einvoice_secrets::MASTER_KEY_FILE);
    if !key_file.exists() {
        return Err(DrawError::MasterKeyMissing(key_file));
    }
    let key = einvoice_secrets::load_or_create_master_key(data_dir)?;
    Ok(Sealer::new(&key))
}

fn csv_field(s: &str, out: &mut String) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn pretty(v: &serde_json::Value) -> Result<Vec<u8>, DrawError> {
    let mut b = serde_json::to_vec_pretty(v)?;
    b.push(b'\n');
    Ok(b)
}

/// The bank account a prize of carrier `key` (`type:id`) is paid into: the
/// account of the mobile barcode the carrier is linked to (歸戶) if that
/// barcode has one, else the carrier's own.
async fn account_of<S: Store>(
    store: &S,
    key: &str,
) -> Result<Option<einvoice_store::BankAccountRecord>, DrawError> {
    let linked = match key.split_once(':') {
        Some((kind, id)) => match einvoice_store::stored_carrier(kind, id) {
            Ok(c) => store.linked_barcode(&c).await?,
            Err(_) => None,
        },
        None => None,
    };
    if let Some(barcode) = linked
        && let Some(rec) = store
            .bank_account(&einvoice_store::carrier_key(&barcode))
            .await?
    {
        return Ok(Some(rec));
    }
    Ok(store.bank_account(key).await?)
}

/// Write the payout files of `period` into `out` (created if needed; each
/// file 0600): every stored winner line with something payable, sorted by
/// category then line, bank accounts opened with `sealer` (a carrier linked
/// to a mobile barcode is paid into the barcode's account, see `account_of`). Refused when no
/// winners are loaded ([`DrawError::WinnersNotLoaded`]) or the lines do not
/// add up to the load's payable total. The same store gives the same bytes.
pub async fn payouts<S: Store>(
    store: &S,
    period: Period,
    out: &Path,
    sealer: &Sealer,
) -> Result<Payouts, DrawError> {
    let p = period;
    let summary = store
        .winners_summary(p)
        .await?
        .ok_or(DrawError::WinnersNotLoaded(p))?;
    let mut accounts: HashMap<String, Option<BankAccount>> = HashMap::new();
    let mut lines: Vec<PayoutLine> = Vec::new();
    let mut after = None;
    loop {
        let page = store.winners(p, after, WINNER_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.line);
        for w in page.into_iter().filter(|w| w.payable > 0) {
            let account = match (&w.npo, &w.carrier) {
                (None, Some(c)) => {
                    if !accounts.contains_key(c) {
                        let rec = account_of(store, c).await?;
                        let opened = rec
                            .map(|r| BankAccount::open(sealer, &r))
                            .transpose()
                            .map_err(|error| DrawError::BankAccount {
                                carrier: c.clone(),
                                error,
                            })?;
                        accounts.insert(c.clone(), opened);
                    }
                    accounts.get(c).cloned().flatten()
                }
                _ => None,
            };
            let category = match (&w.npo, &account) {
                (Some(_), _) => "npo",
                (None, Some(_)) => "bank",
                (None, None) => "manual",
            };
            lines.push(PayoutLine {
                category,
                line: w.line,
                invoice_number: w.invoice_number,
                seller: w.seller,
                prize: w.prize,
                amount: w.payable,
                carrier: w.carrier,
                npo: w.npo,
                bank_code: account.as_ref().map(|a| a.bank_code.clone()),
                account_number: account.as_ref().map(|a| a.account_number.clone()),
                holder_name: account.map(|a| a.holder_name),
            });
        }
    }
    let rank = |c: &str| {
        CATEGORIES
            .iter()
            .position(|x| *x == c)
            .unwrap_or(CATEGORIES.len())
    };
    lines.sort_by_key(|l| (rank(l.category), l.line));
    let mut csv = String::from(
        "category,line,invoice_number,seller,prize,amount,carrier,npo,bank_code,account_number,holder_name\n",
    );
    for l in &lines {
        let fields = [
            l.category.to_string(),
            l.line.to_string(),
            l.invoice_number.clone(),
            l.seller.clone(),
            l.prize.clone(),
            l.amount.to_string(),
            l.carrier.clone().unwrap_or_default(),
            l.npo.clone().unwrap_or_default(),
            l.bank_code.clone().unwrap_or_default(),
            l.account_number.clone().unwrap_or_default(),
            l.holder_name.clone().unwrap_or_default(),
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                csv.push(',');
            }
            csv_field(f, &mut csv);
        }
        csv.push('\n');
    }
    let totals: Vec<CategoryTotal> = CATEGORIES
        .into_iter()
        .map(|category| {
            let of: Vec<&PayoutLine> = lines.iter().filter(|l| l.category == category).collect();
            CategoryTotal {
                category,
                count: of.len(),
                amount: of.iter().map(|l| l.amount).sum(),
            }
        })
        .collect();
    let total: i64 = lines.iter().map(|l| l.amount).sum();
    if total != summary.payable {
        return Err(DrawError::PayoutTotalMismatch {
            period: p,
            total,
            loaded: summary.payable,
        });
    }
    let json_doc = pretty(&json!({"period": p.to_string(), "lines": lines}))?;
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("payouts.csv", csv.into_bytes()),
        ("payouts.json", json_doc),
    ];
    let manifest = json!({
        "format": "einvoice-payouts/1",
        "period": p.to_string(),
        "winners_digest": summary.digest,
        "winner_lines": summary.lines,
        "totals": totals_json(&totals),
        "total_amount": total,
        "files": files.iter().map(|(n, b)| json!({"name": n, "sha256": hex(&sha2::Sha256::digest(b))})).collect::<Vec<_>>(),
    });
    std::fs::create_dir_all(out).map_err(DrawError::create(out))?;
    for (name, bytes) in &files {
        write_private(out, name, bytes)?;
    }
    write_private(out, "manifest.json", &pretty(&manifest)?)?;
    Ok(Payouts {
        period: p,
        totals,
        total_amount: total,
        out: out.to_path_buf(),
    })
}
