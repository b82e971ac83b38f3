//! The export file of `export` / `import`: a whole site in one self-describing
//! JSON Lines file, to move it between stores (e.g. SQLite → PostgreSQL),
//! verified by ledger hashes.
//!
//! File format (version 2), one JSON object per line, each tagged by `type`:
//!
//! 1. `header`: `format` (`einvoice-export`), `version`, `site`,
//!    `created_unix`, `records` (count per kind) and `origins` (per origin:
//!    entry count and head hash);
//! 2. the records, as the store keeps them (`seller`, `api_key`, `carrier`,
//!    `app`, `operator`, `winning_numbers`) — secrets only hashed or sealed
//!    under the site's `master.key`, never decrypted;
//! 3. the draw (new in version 2): `draw_freeze`, `winners_load` (a period's
//!    summary) each followed by its `winner` lines, `bank_account` (sealed,
//!    never decrypted) and `outbox` (with its delivery state);
//! 4. `entry` lines: every ledger entry of every origin, in sequence order.
//!
//! Version 1 files (no draw lines, no draw counts in the header) still import.
//!
//! The file is written 0600 to a temporary file beside the target and renamed
//! into place. An import refuses a file whose chains or counts disagree with
//! its header (naming the origin and the first bad sequence) before it
//! writes anything, imports in one transaction into an empty store, then
//! walks every imported chain and compares it with the header.

use anyhow::{Context, anyhow, bail};
use einvoice_core::Period;
use einvoice_store::{
    ApiKeyRecord, AppRecord, BankAccountRecord, CarrierRecord, ChainCheck, DrawFreeze, EntryHash,
    LedgerEntry, OperatorRecord, OutboxRecord, SellerRecord, SiteRecords, Store, TARGET_NOT_EMPTY,
    WinnerRecord, WinnersExport, WinnersSummary, WinningNumbersRecord,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

/// The `format` of the header line.
pub const FORMAT: &str = "einvoice-export";
/// The file format version this binary writes.
pub const VERSION: u32 = 2;
/// The file format versions this binary reads (1: before the draw was exported).
pub const READS: [u32; 2] = [1, VERSION];
/// Entries read from the store per page while exporting.
const PAGE: u32 = 1000;

/// One origin's chain as the header describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginHead {
    /// Origin (site id).
    pub origin: String,
    /// Number of entries (the last sequence number).
    pub entries: u64,
    /// Hash of the last entry ([`EntryHash::GENESIS`] when empty).
    pub head: EntryHash,
}

/// Record counts in the header (an import checks them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordCounts {
    /// Sellers.
    pub sellers: u64,
    /// API keys.
    pub api_keys: u64,
    /// Carriers.
    pub carriers: u64,
    /// App API applications.
    pub apps: u64,
    /// Operator accounts.
    pub operators: u64,
    /// Winning-numbers versions.
    pub winning_numbers: u64,
    /// Frozen periods (version 2).
    #[serde(default)]
    pub draw_freezes: u64,
    /// Periods with loaded winners (version 2).
    #[serde(default)]
    pub winner_loads: u64,
    /// Winner lines over every load (version 2).
    #[serde(default)]
    pub winners: u64,
    /// Bank accounts (version 2).
    #[serde(default)]
    pub bank_accounts: u64,
    /// Outbox notifications (version 2).
    #[serde(default)]
    pub outbox: u64,
}

impl RecordCounts {
    fn of(r: &SiteRecords) -> Self {
        let n = |x: usize| u64::try_from(x).unwrap_or(u64::MAX);
        Self {
            sellers: n(r.sellers.len()),
            api_keys: n(r.api_keys.len()),
            carriers: n(r.carriers.len()),
            apps: n(r.apps.len()),
            operators: n(r.operators.len()),
            winning_numbers: n(r.winning_numbers.len()),
            draw_freezes: n(r.draw_freezes.len()),
            winner_loads: n(r.winner_loads.len()),
            winners: n(r.winner_loads.iter().map(|l| l.winners.len()).sum()),
            bank_accounts: n(r.bank_accounts.len()),
            outbox: n(r.outbox.len()),
        }
    }
}

/// The first line of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT`].
    pub format: String,
    /// File format version ([`VERSION`] when written; any of [`READS`] is read).
    pub version: u32,
    /// The exported site's id.
    pub site: String,
    /// When the export was written (Unix seconds).
    pub created_unix: i64,
    /// Record counts.
    pub records: RecordCounts,
    /// Every origin's entry count and head hash.
    pub origins: Vec<OriginHead>,
}

/// One line of an export file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)]
pub enum Line {
    /// The header (first line).
    Header(Header),
    /// A seller.
    Seller(SellerRecord),
    /// An API key (secret sealed).
    ApiKey(ApiKeyRecord),
    /// A carrier credential (hashed).
    Carrier(CarrierRecord),
    /// An App API application (key sealed).
    App(AppRecord),
    /// An operator account (password hashed, TOTP secret sealed).
    Operator(OperatorRecord),
    /// One version of a period's winning numbers.
    WinningNumbers(WinningNumbersRecord),
    /// A frozen period.
    DrawFreeze(DrawFreeze),
    /// A period's loaded winners (the summary); its `winner` lines follow.
    WinnersLoad(WinnersSummary),
    /// One winner line of a period whose `winners_load` line came before.
    Winner(WinnerLine),
    /// A carrier's bank account (sealed as stored).
    BankAccount(BankAccountRecord),
    /// An outbox notification with its delivery state.
    Outbox(OutboxRecord),
    /// A ledger entry.
    Entry(LedgerEntry),
}

/// One winner line of a period, as a file line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WinnerLine {
    /// The period whose load the line belongs to.
    pub period: Period,
    /// The line.
    pub winner: WinnerRecord,
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(len),
        if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {what} ({{per_sec}}, eta {{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn store_err(e: einvoice_store::StoreError) -> anyhow::Error {
    anyhow!("{e}")
}

/// Export the site in `store` to `out` (0600, atomically). Each origin's
/// chain is verified first and exported up to the head verified then, so a
/// live site gives a consistent prefix; a broken source chain is refused.
/// The header names `site`, by default the ledger's only origin (else the
/// store's site).
pub async fn export<S: Store>(
    store: &S,
    site: Option<&str>,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    let origins = store.origins().await.map_err(store_err)?;
    let site = match (site, origins.as_slice()) {
        (Some(s), _) => s.to_string(),
        (None, [only]) => only.clone(),
        (None, _) => store.site().to_string(),
    };
    let mut heads = Vec::new();
    for origin in &origins {
        let v = store.verify_ledger(origin).await.map_err(store_err)?;
        if let Some(b) = v.broken {
            eprintln!(
                "export: the source ledger of origin {origin} is broken at entry {}: {} ({}); not exporting",
                b.seq, b.code, b.message
            );
            return Ok(ExitCode::from(1));
        }
        heads.push(OriginHead {
            origin: origin.clone(),
            entries: v.entries,
            head: v.head,
        });
    }
    let records = store.export_records().await.map_err(store_err)?;
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        site,
        created_unix: unix_now(),
        records: RecordCounts::of(&records),
        origins: heads.clone(),
    };
    let total: u64 = heads.iter().map(|h| h.entries).sum();
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    // tempfile creates the file 0600 beside the target; persist() renames it.
    let tmp = tempfile::Builder::new()
        .prefix(".einvoice-export-")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let mut w = std::io::BufWriter::new(tmp.as_file());
    let mut line = |l: &Line| -> anyhow::Result<()> {
        serde_json::to_writer(&mut w, l)?;
        w.write_all(b"\n")?;
        Ok(())
    };
    line(&Line::Header(header.clone()))?;
    for x in records.sellers {
        line(&Line::Seller(x))?;
    }
    for x in records.api_keys {
        line(&Line::ApiKey(x))?;
    }
    for x in records.carriers {
        line(&Line::Carrier(x))?;
    }
    for x in records.apps {
        line(&Line::App(x))?;
    }
    for x in records.operators {
        line(&Line::Operator(x))?;
    }
    for x in records.winning_numbers {
        line(&Line::WinningNumbers(x))?;
    }
    for x in records.draw_freezes {
        line(&Line::DrawFreeze(x))?;
    }
    for l in records.winner_loads {
        let period = l.summary.period;
        line(&Line::WinnersLoad(l.summary))?;
        for winner in l.winners {
            line(&Line::Winner(WinnerLine { period, winner }))?;
        }
    }
    for x in records.bank_accounts {
        line(&Line::BankAccount(x))?;
    }
    for x in records.outbox {
        line(&Line::Outbox(x))?;
    }
    let pb = bar(total, "entries");
    for h in &heads {
        let mut after = 0u64;
        let mut last = EntryHash::GENESIS;
        while after < h.entries {
            let page = store
                .entries(&h.origin, after, PAGE)
                .await
                .map_err(store_err)?;
            if page.is_empty() {
                bail!(
                    "the ledger of origin {} ended at entry {after}, before its verified head {}",
                    h.origin,
                    h.entries
                );
            }
            for e in page {
                if e.seq > h.entries {
                    break;
                }
                after = e.seq;
                last = e.hash;
                line(&Line::Entry(e))?;
                pb.inc(1);
            }
        }
        if last != h.head {
            bail!(
                "the ledger of origin {} changed while exporting (entry {} no longer hashes to the verified head)",
                h.origin,
                h.entries
            );
        }
    }
    pb.finish_and_clear();
    w.flush()?;
    drop(w);
    tmp.as_file().sync_all()?;
    tmp.persist(out)
        .with_context(|| format!("cannot move the export into {}", out.display()))?;
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    println!(
        "{}",
        serde_json::json!({"out": out.display().to_string(), "site": header.site, "origins": header.origins, "records": header.records})
    );
    Ok(ExitCode::SUCCESS)
}

/// A parsed export file.
pub struct ExportFile {
    /// The header.
    pub header: Header,
    /// The records.
    pub records: SiteRecords,
    /// The entries, in file order.
    pub entries: Vec<LedgerEntry>,
}

/// Read and parse an export file (progress by bytes).
pub fn read_file(path: &Path) -> anyhow::Result<ExportFile> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let pb = bar(size, "bytes read");
    let mut r = std::io::BufReader::new(f);
    let mut header: Option<Header> = None;
    let mut records = SiteRecords::default();
    let mut entries = Vec::new();
    let mut buf = String::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        let read = r
            .read_line(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if read == 0 {
            break;
        }
        n += 1;
        pb.inc(u64::try_from(read).unwrap_or(0));
        if buf.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(&buf)
            .map_err(|e| anyhow!("EXPORT_LINE_INVALID: line {n} of {}: {e}", path.display()))?;
        match (l, header.is_some()) {
            (Line::Header(h), false) => {
                if h.format != FORMAT || !READS.contains(&h.version) {
                    bail!(
                        "EXPORT_FORMAT: {} is {:?} version {}; this binary reads {FORMAT} versions {READS:?}",
                        path.display(),
                        h.format,
                        h.version
                    );
                }
                header = Some(h);
            }
            (_, false) => bail!(
                "EXPORT_FORMAT: {} does not start with an einvoice-export header line",
                path.display()
            ),
            (Line::Header(_), true) => bail!("EXPORT_FORMAT: line {n}: a second header"),
            (Line::Seller(x), true) => records.sellers.push(x),
            (Line::ApiKey(x), true) => records.api_keys.push(x),
            (Line::Carrier(x), true) => records.carriers.push(x),
            (Line::App(x), true) => records.apps.push(x),
            (Line::Operator(x), true) => records.operators.push(x),
            (Line::WinningNumbers(x), true) => records.winning_numbers.push(x),
            (Line::DrawFreeze(x), true) => records.draw_freezes.push(x),
            (Line::WinnersLoad(summary), true) => records.winner_loads.push(WinnersExport {
                summary,
                winners: Vec::new(),
            }),
            (Line::Winner(w), true) => match records.winner_loads.last_mut() {
                Some(l) if l.summary.period == w.period => l.winners.push(w.winner),
                _ => bail!(
                    "EXPORT_FORMAT: line {n}: a winner of period {} that does not follow its period's winners_load line",
                    w.period
                ),
            },
            (Line::BankAccount(x), true) => records.bank_accounts.push(x),
            (Line::Outbox(x), true) => records.outbox.push(x),
            (Line::Entry(e), true) => entries.push(e),
        }
    }
    pb.finish_and_clear();
    let header = header.ok_or_else(|| anyhow!("EXPORT_FORMAT: {} is empty", path.display()))?;
    Ok(ExportFile {
        header,
        records,
        entries,
    })
}

/// Where a chain in the file (or in a store) differs from the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Origin.
    pub origin: String,
    /// First differing sequence number.
    pub seq: u64,
    /// What differs.
    pub what: String,
}

/// Check every chain in the file: sequence from 1 without gaps, each entry
/// linked to the previous hash and hashing to its stored hash, counts and
/// head hashes as the header says, no origin missing or extra.
pub fn check_file(f: &ExportFile) -> Result<(), Mismatch> {
    let mut chains: BTreeMap<&str, ChainCheck> = BTreeMap::new();
    for e in &f.entries {
        let chain = chains
            .entry(e.origin.as_str())
            .or_insert_with(|| ChainCheck::new(e.origin.as_str()));
        if let Err(b) = chain.push(e) {
            return Err(Mismatch {
                origin: e.origin.clone(),
                seq: b.seq,
                what: format!("{}: {}", b.code, b.message),
            });
        }
    }
    for h in &f.header.origins {
        let (n, head) = chains
            .remove(h.origin.as_str())
            .map_or((0, EntryHash::GENESIS), |c| (c.entries(), c.head()));
        if let Some(m) = compare(&h.origin, "file", n, head, h) {
            return Err(m);
        }
    }
    if let Some((origin, _)) = chains.into_iter().next() {
        return Err(Mismatch {
            origin: origin.to_string(),
            seq: 1,
            what: "ORIGIN_UNEXPECTED: entries of an origin the header does not list".into(),
        });
    }
    Ok(())
}

/// Compare a chain's count and head (as found in `place`) with the header's:
/// a different count differs first just past the shorter chain; the same
/// count with another head differs (at the latest) at the last entry.
fn compare(origin: &str, place: &str, n: u64, head: EntryHash, h: &OriginHead) -> Option<Mismatch> {
    let (seq, code) = if n != h.entries {
        (n.min(h.entries) + 1, "COUNT_MISMATCH")
    } else if head != h.head {
        (n, "HEAD_MISMATCH")
    } else {
        return None;
    };
    Some(Mismatch {
        origin: origin.to_string(),
        seq,
        what: format!(
            "{code}: the {place} holds {n} entries (head {head}), the header says {} (head {})",
            h.entries, h.head
        ),
    })
}

/// After an import: walk every origin's chain in `store` and compare count
/// and head with the header.
pub async fn check_store<S: Store>(store: &S, header: &Header) -> anyhow::Result<Vec<Mismatch>> {
    let mut out = Vec::new();
    let pb = bar(
        u64::try_from(header.origins.len()).unwrap_or(0),
        "chains verified",
    );
    for h in &header.origins {
        let v = store.verify_ledger(&h.origin).await.map_err(store_err)?;
        if let Some(b) = v.broken {
            out.push(Mismatch {
                origin: h.origin.clone(),
                seq: b.seq,
                what: format!("{}: {}", b.code, b.message),
            });
        } else if let Some(m) = compare(&h.origin, "store", v.entries, v.head, h) {
            out.push(m);
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(out)
}

/// Import a parsed, checked file into `store` and verify the result.
pub async fn import<S: Store>(store: &S, f: ExportFile) -> anyhow::Result<ExitCode> {
    let header = f.header;
    if RecordCounts::of(&f.records) != header.records {
        bail!(
            "EXPORT_RECORDS_MISMATCH: the file holds {:?}, the header says {:?}",
            RecordCounts::of(&f.records),
            header.records
        );
    }
    let n = f.entries.len();
    let spinner = bar(1, &format!("importing {n} entries in one transaction"));
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    store
        .import_site(f.records, f.entries)
        .await
        .map_err(|e| match e.to_string() {
            // The refusal's own code first, not the generic STORE_BACKEND.
            m if m.contains(TARGET_NOT_EMPTY) => {
                anyhow!("{}", m.split_at(m.find(TARGET_NOT_EMPTY).unwrap_or(0)).1)
            }
            _ => store_err(e),
        })?;
    spinner.finish_and_clear();
    let bad = check_store(store, &header).await?;
    for m in &bad {
        eprintln!(
            "import: origin {} differs from the export at entry {}: {}",
            m.origin, m.seq, m.what
        );
    }
    println!(
        "{}",
        serde_json::json!({"site": header.site, "entries": n, "origins": header.origins, "records": header.records, "verified": bad.is_empty()})
    );
    if bad.is_empty() {
        eprintln!(
            "import: done; copy the source data directory's master.key next to the new site (sealed secrets need it)"
        );
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use einvoice_store::conformance::chain;

    fn file(entries: Vec<LedgerEntry>, count: u64, head: EntryHash) -> ExportFile {
        ExportFile {
            header: Header {
                format: FORMAT.into(),
                version: VERSION,
                site: "main".into(),
                created_unix: 0,
                records: RecordCounts::default(),
                origins: vec![OriginHead {
                    origin: "main".into(),
                    entries: count,
                    head,
                }],
            },
            records: SiteRecords::default(),
            entries,
        }
    }

    fn first_bad(f: &ExportFile) -> Option<(u64, String)> {
        check_file(f)
            .err()
            .map(|m| (m.seq, m.what.split(':').next().unwrap_or("").to_string()))
    }

    #[test]
    fn a_winner_line_must_follow_its_periods_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.jsonl");
        let header = Line::Header(file(Vec::new(), 0, EntryHash::GENESIS).header);
        let period = Period::parse("11402").expect("period");
        // Line 0: a sixth prize of 200, paid in full.
        let winner = einvoice_store::conformance::sample_winners().remove(0);
        let summary = WinnersSummary {
            period,
            lines: 1,
            payable: 200,
            digest: String::new(),
            actor: "alice".into(),
        };
        let write = |lines: &[Line]| {
            let text: Vec<String> = lines
                .iter()
                .map(|l| serde_json::to_string(l).expect("json"))
                .collect();
            std::fs::write(&path, text.join("\n") + "\n").expect("write");
        };
        let w = Line::Winner(WinnerLine { period, winner });
        write(&[header.clone(), w.clone()]);
        let err = read_file(&path).err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("EXPORT_FORMAT: line 2")),
            "{err:?}"
        );
        write(&[header, Line::WinnersLoad(summary), w]);
        let f = read_file(&path).expect("read");
        assert_eq!(f.records.winner_loads.len(), 1);
        assert_eq!(f.records.winner_loads[0].winners.len(), 1);
        assert_eq!(RecordCounts::of(&f.records).winners, 1);
    }

    #[test]
    fn the_file_check_names_the_first_bad_entry() {
        let c = chain("main", 3);
        let head = c[2].hash;
        assert_eq!(first_bad(&file(c.clone(), 3, head)), None);
        // Truncated: the header promised three.
        let short = c[..2].to_vec();
        assert_eq!(
            first_bad(&file(short, 3, head)),
            Some((3, "COUNT_MISMATCH".into()))
        );
        // A missing line in the middle.
        let gap = vec![c[0].clone(), c[2].clone()];
        assert_eq!(first_bad(&file(gap, 3, head)), Some((2, "SEQ_GAP".into())));
        // A changed body.
        let mut changed = c.clone();
        changed[1].body = b"{\"n\":9}".to_vec();
        assert_eq!(
            first_bad(&file(changed, 3, head)),
            Some((2, "HASH_MISMATCH".into()))
        );
        // A re-hashed forgery still ends at a different head than the header's.
        let mut forged = chain("main", 3);
        forged[2].body = b"{}".to_vec();
        forged[2].hash = forged[2].computed_hash();
        assert_eq!(
            first_bad(&file(forged, 3, head)),
            Some((3, "HEAD_MISMATCH".into()))
        );
    }

    #[test]
    fn v2_files_verify_with_withheld_bodies_and_catch_a_changed_body() {
        let c = einvoice_store::conformance::chain_v2("main", 4);
        let head = c[3].hash;
        let mut held = c.clone();
        held[1] = c[1].withheld_copy().expect("v2");
        held[2] = c[2].withheld_copy().expect("v2");
        assert_eq!(first_bad(&file(held.clone(), 4, head)), None);
        // Through the file's own lines: written and read back, still verifying.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v2.jsonl");
        let f = file(held.clone(), 4, head);
        let mut text = serde_json::to_string(&Line::Header(f.header.clone())).expect("json");
        for e in &held {
            text.push('\n');
            text.push_str(&serde_json::to_string(&Line::Entry(e.clone())).expect("json"));
        }
        text.push('\n');
        std::fs::write(&path, text).expect("write");
        let back = read_file(&path).expect("read");
        assert_eq!(back.entries, held);
        assert_eq!(first_bad(&back), None);
        // A present body changed: named at its entry.
        let mut changed = held.clone();
        changed[3].body = b"{\"n\":9}".to_vec();
        assert_eq!(
            first_bad(&file(changed, 4, head)),
            Some((4, "BODY_DIGEST_MISMATCH".into()))
        );
    }
}
