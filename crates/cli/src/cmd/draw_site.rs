//! The draw against a site's store: `draw freeze`, `draw run --data|--database`
//! (winners loaded into the store) and `draw payouts`.

use super::draw::{on_event, period_of, progress_bar};
use anyhow::{Context, anyhow, bail};
use einvoice_analytics::draw::{self, DrawSpec, Outcome, Winner};
use einvoice_analytics::snapshot::{EligibleInvoice, Snapshot, SnapshotWriter, hex, parse_hex32};
use einvoice_core::{Money, Period, Prize, PrizeTable};
use einvoice_store::WinningBody;
use einvoice_store::{
    DrawFreeze, DrawPut, DrawRunFacts, EligibleCursor, Store, WinnerRecord, WinnersLoad,
};
use einvoice_store_postgres::PgStore;
use einvoice_store_sqlite::SqliteStore;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Eligible invoices read per store call.
const PAGE: u32 = 10_000;

/// Where the site's store is.
#[derive(Debug, Clone)]
pub struct SiteStore {
    /// Data directory (SQLite `DIR/einvoice.db`, master key).
    pub data: PathBuf,
    /// PostgreSQL URL instead of the data directory's SQLite file.
    pub database: Option<String>,
    /// Site id.
    pub site: String,
}

/// Run `$body` with `$s` bound to the site's store (SQLite or PostgreSQL).
macro_rules! with_store {
    ($at:expr, |$s:ident| $body:expr) => {{
        let at: &SiteStore = $at;
        match &at.database {
            Some(url) => {
                let $s = PgStore::connect(url, &at.site)
                    .await
                    .map_err(|e| anyhow!("{e}"))?;
                $body
            }
            None => {
                std::fs::create_dir_all(&at.data)
                    .with_context(|| format!("cannot create {}", at.data.display()))?;
                let $s = SqliteStore::open(&at.data.join("einvoice.db"), &at.site)
                    .map_err(|e| anyhow!("{e}"))?;
                $body
            }
        }
    }};
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    super::store::runtime()
}

fn actor_of(operator: &str) -> String {
    format!("operator:{operator}")
}

fn row_to_invoice(r: &einvoice_store::EligibleRow) -> anyhow::Result<EligibleInvoice> {
    let b = r.number.as_bytes();
    let bad = || anyhow!("STORE_CORRUPT: stored invoice number {:?}", r.number);
    if b.len() != 10 {
        return Err(bad());
    }
    let number: u32 = r.number[2..].parse().map_err(|_| bad())?;
    let seller_ubn: u32 = r
        .seller
        .parse()
        .map_err(|_| anyhow!("STORE_CORRUPT: stored seller {:?}", r.seller))?;
    Ok(EligibleInvoice {
        track: [b[0], b[1]],
        number,
        seller_ubn,
        carrier: r.carrier.clone(),
        npo: r.donated_to.clone(),
        printed: r.printed,
    })
}

/// Run `draw freeze`: page the period's eligible invoices out of the store
/// into a snapshot, record its root (refusing a different root for a period
/// already frozen) and append a `DRAW_FREEZE` ledger entry.
pub fn freeze(at: &SiteStore, period: &str, out: &Path, operator: &str) -> anyhow::Result<()> {
    let p = period_of(period)?;
    runtime()?.block_on(async { with_store!(at, |s| freeze_on(&s, p, out, operator).await) })
}

async fn freeze_on<S: Store>(s: &S, p: Period, out: &Path, operator: &str) -> anyhow::Result<()> {
    let existing = s.draw_freeze(p).await.map_err(|e| anyhow!("{e}"))?;
    let tmp = out.with_extension("freezing");
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} freezing {msg}: {pos} invoices {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(p.to_string());
    let mut w = SnapshotWriter::create(&tmp, p.key())?;
    let mut after: Option<EligibleCursor> = None;
    loop {
        let page = s
            .eligible_invoices(p, after.clone(), PAGE)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let Some(last) = page.last() else { break };
        after = Some(last.cursor());
        for r in &page {
            w.push(&row_to_invoice(r)?)?;
        }
        pb.inc(page.len() as u64);
    }
    let summary = w.finish()?;
    pb.finish_and_clear();
    let root = hex(&summary.root);
    let freeze = DrawFreeze {
        period: p,
        root: root.clone(),
        rows: summary.rows,
        actor: actor_of(operator),
    };
    let refuse = |why: String| {
        let _ = std::fs::remove_file(&tmp);
        anyhow!(
            "DRAW_FROZEN: {why}; this freeze has root {root} ({} rows) — the period's invoices changed after the freeze, nothing was written",
            summary.rows
        )
    };
    if let Some(old) = existing
        && (old.root != root || old.rows != summary.rows)
    {
        return Err(refuse(format!(
            "period {p} was frozen by {} with root {} ({} rows)",
            old.actor, old.root, old.rows
        )));
    }
    // The freeze and its ledger entry are stored in one transaction.
    let entry = freeze.ledger_entry();
    let outcome = s
        .put_draw_freeze(freeze, entry)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    if let DrawPut::Conflict(why) = outcome {
        return Err(refuse(why));
    }
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "{}",
        json!({
            "period": p.to_string(),
            "rows": summary.rows,
            "snapshot_root": root,
            "file": out,
            "already_frozen": outcome == DrawPut::Unchanged,
        })
    );
    Ok(())
}

/// What `draw run` needs in site mode.
pub struct SiteRun<'a> {
    /// The store.
    pub at: &'a SiteStore,
    /// Period.
    pub period: &'a str,
    /// The frozen snapshot file.
    pub snapshot: &'a Path,
    /// The seed file of `draw commit`.
    pub seed_file: &'a Path,
    /// Draw directory to write.
    pub out: &'a Path,
    /// The published commitment (hex).
    pub commitment: Option<&'a str>,
    /// A prize table overriding the period's (JSON).
    pub prize_table: Option<&'a Path>,
    /// Leave donated invoices out of the cloud draw.
    pub no_donated: bool,
    /// Threads.
    pub threads: usize,
    /// Who runs it.
    pub operator: &'a str,
}

/// The prize table of a published body: the table in force for the period
/// (cloud tiers included) with the body's regular amounts.
fn table_of(body: &WinningBody, p: Period) -> PrizeTable {
    let mut t = draw::default_table(p);
    if let Some(a) = &body.amounts {
        for (id, amount) in a {
            if let Some(prize) = Prize::from_id(id) {
                t.amounts.insert(prize, Money(*amount));
            }
        }
    }
    t
}

/// Run `draw run` in site mode: the period's published numbers from the
/// store, the draw, the winners loaded into the store, a `DRAW_WINNERS` entry.
pub fn run(r: &SiteRun<'_>) -> anyhow::Result<()> {
    let p = period_of(r.period)?;
    runtime()?.block_on(async { with_store!(r.at, |s| run_on(&s, p, r).await) })
}

async fn run_on<S: Store>(s: &S, p: Period, r: &SiteRun<'_>) -> anyhow::Result<()> {
    let rec = s
        .winning_numbers(p)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| {
            anyhow!("WINNING_NUMBERS_UNPUBLISHED: no winning numbers entered for {p}")
        })?;
    let Some(approver) = rec.approved_by.as_deref() else {
        bail!(
            "WINNING_NUMBERS_UNPUBLISHED: version {} of {p}'s winning numbers awaits a second operator's approval",
            rec.version
        );
    };
    let body = WinningBody::from_value(&rec.body)
        .map_err(|e| anyhow!("STORE_CORRUPT: stored winning numbers of {p}: {e}"))?;
    let numbers = body
        .numbers(p)
        .map_err(|v| anyhow!("{}: {}", v.code, v.message))?;
    let table = match r.prize_table {
        Some(f) => {
            serde_json::from_slice(&std::fs::read(f).with_context(|| f.display().to_string())?)
                .with_context(|| format!("DRAW_INPUT: {}", f.display()))?
        }
        None => table_of(&body, p),
    };
    let freeze = s
        .draw_freeze(p)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| anyhow!("DRAW_NOT_FROZEN: period {p} has no frozen snapshot: run `einvoice draw freeze` first"))?;
    let snap = Snapshot::open(r.snapshot)?;
    if snap.period() != p.key() {
        bail!(
            "DRAW_INPUT: {} is a snapshot of {:05}, not {p}",
            r.snapshot.display(),
            snap.period()
        );
    }
    let seed_text =
        std::fs::read_to_string(r.seed_file).with_context(|| r.seed_file.display().to_string())?;
    let spec = DrawSpec {
        numbers,
        table,
        seed: einvoice_analytics::cloud::Seed::from_hex(&seed_text)?,
        include_donated: !r.no_donated,
    };
    let commitment = r
        .commitment
        .map(|c| parse_hex32(c).ok_or_else(|| anyhow!("DRAW_INPUT: a commitment is 64 hex digits")))
        .transpose()?;
    let pb = progress_bar();
    let outcome = draw::compute(&snap, &spec, commitment, r.threads, &on_event(&pb))?;
    pb.finish_and_clear();
    if outcome.manifest.snapshot_root != freeze.root {
        bail!(
            "DRAW_SNAPSHOT_MISMATCH: {} has root {}, but {p} was frozen with root {}",
            r.snapshot.display(),
            outcome.manifest.snapshot_root,
            freeze.root
        );
    }
    let load = WinnersLoad {
        period: p,
        actor: actor_of(r.operator),
        winners: winner_records(&outcome)?,
    };
    let digest = load.digest();
    let lines = load.winners.len();
    // The winners, their notifications and their ledger entry are stored in
    // one transaction.
    let run = DrawRunFacts {
        snapshot_root: outcome.manifest.snapshot_root.clone(),
        commitment: outcome.manifest.commitment.clone(),
        numbers_version: rec.version,
        numbers_approved_by: approver.to_string(),
    };
    let entry = load.ledger_entry(&run, &digest);
    match s
        .put_winners(load, entry)
        .await
        .map_err(|e| anyhow!("{e}"))?
    {
        DrawPut::Conflict(why) => bail!(
            "DRAW_WINNERS_LOADED: {why}; this run found {lines} lines (digest {digest}) — nothing changed (a different seed, snapshot or numbers?)"
        ),
        DrawPut::Unchanged => {
            eprintln!("winners of {p} were already loaded (identical); the store is unchanged")
        }
        DrawPut::Stored => {}
    }
    draw::write_dir(r.out, &outcome)?;
    let rep = &outcome.report;
    println!(
        "period {}: {} invoices, {} cloud-eligible, {} winner lines, NT${} payable; loaded into the store; written to {}",
        rep.period,
        rep.invoices,
        rep.cloud_eligible,
        rep.winners,
        rep.payable_amount,
        r.out.display()
    );
    Ok(())
}

/// The winner lines of a computed draw, numbered in `winners.jsonl` order.
fn winner_records(outcome: &Outcome) -> anyhow::Result<Vec<WinnerRecord>> {
    let bytes = outcome
        .files
        .iter()
        .find(|(n, _)| *n == draw::OUTPUT_FILES[1])
        .map(|(_, b)| b.as_slice())
        .ok_or_else(|| anyhow!("DRAW_INPUT: the draw produced no winners.jsonl"))?;
    let text = std::str::from_utf8(bytes).context("winners.jsonl is not UTF-8")?;
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            let w: Winner = serde_json::from_str(l).context("winners.jsonl")?;
            Ok(WinnerRecord {
                line: i as u64,
                invoice_number: w.invoice_number,
                seller: w.seller,
                prize: w.prize,
                amount: w.amount,
                payable: w.payable,
                carrier: w.carrier,
                npo: w.npo,
            })
        })
        .collect()
}

/// Stored winner lines read per store call.
const WINNER_PAGE: u32 = 10_000;

/// One line of `payouts.csv` / `payouts.json`.
#[derive(Debug, Clone, serde::Serialize)]
struct PayoutLine {
    /// `bank` (deposit to the carrier's account), `npo` (a donated prize), `manual` (claim in person).
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

const CATEGORIES: [&str; 3] = ["bank", "npo", "manual"];

fn csv_field(s: &str, out: &mut String) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Write `bytes` to `dir/name` readable by the owner only (0600), through a
/// temporary file and a rename.
fn write_private(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    let dst = dir.join(name);
    std::fs::rename(&tmp, &dst).with_context(|| format!("cannot write {}", dst.display()))?;
    Ok(())
}

/// Run `draw payouts`: payout files from the period's stored winners. Bank
/// accounts are opened with the master key here and nowhere else; the
/// output directory's files are 0600.
pub fn payouts(at: &SiteStore, period: &str, out: &Path) -> anyhow::Result<()> {
    let p = period_of(period)?;
    let key_file = at.data.join(einvoice_secrets::MASTER_KEY_FILE);
    if !key_file.exists() {
        bail!(
            "MASTER_KEY: {} is missing: payouts need the site's master key to open bank accounts",
            key_file.display()
        );
    }
    let key = einvoice_secrets::load_or_create_master_key(&at.data).map_err(|e| anyhow!("{e}"))?;
    let sealer = einvoice_secrets::Sealer::new(&key);
    runtime()?.block_on(async { with_store!(at, |s| payouts_on(&s, p, out, &sealer).await) })
}

async fn payouts_on<S: Store>(
    s: &S,
    p: Period,
    out: &Path,
    sealer: &einvoice_secrets::Sealer,
) -> anyhow::Result<()> {
    use einvoice_secrets::BankAccount;
    use std::collections::HashMap;
    let summary = s
        .winners_summary(p)
        .await
        .map_err(|e| anyhow!("{e}"))?
        .ok_or_else(|| {
            anyhow!("DRAW_WINNERS_NOT_LOADED: no winners loaded for {p}: run `einvoice draw run --data …` first")
        })?;
    let mut accounts: HashMap<String, Option<BankAccount>> = HashMap::new();
    let mut lines: Vec<PayoutLine> = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .winners(p, after, WINNER_PAGE)
            .await
            .map_err(|e| anyhow!("{e}"))?;
        let Some(last) = page.last() else { break };
        after = Some(last.line);
        for w in page.into_iter().filter(|w| w.payable > 0) {
            let account = match (&w.npo, &w.carrier) {
                (None, Some(c)) => {
                    if !accounts.contains_key(c) {
                        let rec = s.bank_account(c).await.map_err(|e| anyhow!("{e}"))?;
                        let opened = rec
                            .map(|r| BankAccount::open(sealer, &r))
                            .transpose()
                            .map_err(|e| anyhow!("{e} (carrier {c})"))?;
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
    let mut totals = serde_json::Map::new();
    for c in CATEGORIES {
        let of: Vec<&PayoutLine> = lines.iter().filter(|l| l.category == c).collect();
        totals.insert(
            c.to_string(),
            json!({"count": of.len(), "amount": of.iter().map(|l| l.amount).sum::<i64>()}),
        );
    }
    let total: i64 = lines.iter().map(|l| l.amount).sum();
    if total != summary.payable {
        bail!(
            "STORE_CORRUPT: the stored winners of {p} sum to NT${total} payable, their load says NT${}",
            summary.payable
        );
    }
    let pretty = |v: &serde_json::Value| -> anyhow::Result<Vec<u8>> {
        let mut b = serde_json::to_vec_pretty(v)?;
        b.push(b'\n');
        Ok(b)
    };
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
        "totals": totals,
        "total_amount": total,
        "files": files.iter().map(|(n, b)| json!({"name": n, "sha256": sha256_hex(b)})).collect::<Vec<_>>(),
    });
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    for (name, bytes) in &files {
        write_private(out, name, bytes)?;
    }
    write_private(out, "manifest.json", &pretty(&manifest)?)?;
    println!(
        "{}",
        json!({"period": p.to_string(), "totals": totals, "total_amount": total, "out": out})
    );
    Ok(())
}
