//! A period's draw from a snapshot: regular prizes, cloud prizes, the draw
//! directory (`winners.csv`, `winners.jsonl`, `report.json`, `manifest.json`),
//! and its verification.
//!
//! Every output is a pure function of (snapshot, winning numbers, prize table,
//! seed): re-running writes byte-identical files, and [`verify`] recomputes
//! them and names the first difference.

use crate::cloud::{self, DrawParams, Population, Seed, Tier, prf_key, seed_commitment};
use crate::error::{Error, Result, io};
use crate::match_prizes;
use crate::snapshot::{NONE, Snapshot, hex, parse_hex32, track_letters};
use einvoice_core::{Period, Prize, PrizeTable, WinningNumbers};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;

/// Manifest format tag.
pub const FORMAT: &str = "einvoice-draw/1";
/// The files of a draw directory besides the manifest, in manifest order.
pub const OUTPUT_FILES: [&str; 3] = ["winners.csv", "winners.jsonl", "report.json"];
/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";

/// What a draw needs besides the snapshot.
#[derive(Debug, Clone)]
pub struct DrawSpec {
    /// The period's regular winning numbers.
    pub numbers: WinningNumbers,
    /// Prize amounts and cloud tiers in force for the period.
    pub table: PrizeTable,
    /// The revealed seed.
    pub seed: Seed,
    /// Whether donated, unprinted invoices take part in the cloud draw.
    pub include_donated: bool,
}

impl DrawSpec {
    /// The cloud-draw parameters.
    pub fn params(&self) -> DrawParams {
        DrawParams {
            period: self.numbers.period.key(),
            numbers: self.numbers.clone(),
            tiers: self
                .table
                .cloud
                .iter()
                .map(|c| Tier {
                    amount: c.amount.0,
                    count: c.count,
                })
                .collect(),
            include_donated: self.include_donated,
        }
    }
}

/// Read a period's numbers from a `winning-numbers.json`-shaped document: an
/// object with a `periods` array, or one period object (`period`, `special`,
/// `grand`, `first`, `additional_sixth` as digit strings).
pub fn parse_numbers(doc: &[u8], period: Period) -> Result<WinningNumbers> {
    let v: serde_json::Value = serde_json::from_slice(doc)
        .map_err(|e| Error::Input(format!("winning numbers are not JSON: {e}")))?;
    let want = period.to_string();
    let rec = match v.get("periods").and_then(|p| p.as_array()) {
        Some(list) => list
            .iter()
            .find(|p| p.get("period").and_then(|x| x.as_str()) == Some(want.as_str())),
        None => Some(&v).filter(|p| p.get("period").and_then(|x| x.as_str()) == Some(&want)),
    }
    .ok_or_else(|| Error::Input(format!("no winning numbers for period {want}")))?;
    let s = |k: &str| {
        rec.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or("")
            .to_string()
    };
    let list = |k: &str| -> Vec<String> {
        rec.get(k)
            .and_then(|x| x.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (first, add) = (list("first"), list("additional_sixth"));
    let fr: Vec<&str> = first.iter().map(String::as_str).collect();
    let ar: Vec<&str> = add.iter().map(String::as_str).collect();
    WinningNumbers::parse(period, &s("special"), &s("grand"), &fr, &ar)
        .map_err(|v| Error::Input(format!("{}: {}", v.code, v.message)))
}

/// One line of `winners.csv` / `winners.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Winner {
    /// Invoice number, e.g. `AB12345678`.
    pub invoice_number: String,
    /// Prize id: a regular prize (`special` … `additional_sixth`) or `cloud_<amount>`.
    pub prize: String,
    /// NT$ of this prize.
    pub amount: i64,
    /// NT$ actually due for this line: an invoice that wins more than one
    /// prize is paid only its highest (MOF: 僅能領取其中1個獎項), so its other
    /// lines say 0.
    pub payable: i64,
    /// Carrier (`type:id`) if any.
    pub carrier: Option<String>,
    /// Love code the invoice was donated to (the NPO is paid) if any.
    pub npo: Option<String>,
    /// Seller UBN (8 digits).
    pub seller: String,
    /// Row in the snapshot.
    pub row: u64,
}

/// One prize's line in `report.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrizeLine {
    /// Prize id.
    pub prize: String,
    /// NT$ per winner.
    pub amount: i64,
    /// Sets announced (cloud tiers only).
    pub sets: Option<u64>,
    /// Winners found / drawn.
    pub count: u64,
    /// amount × count.
    pub total: i64,
}

/// `report.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Period, e.g. `11312`.
    pub period: String,
    /// Snapshot root (hex).
    pub snapshot_root: String,
    /// Eligible invoices in the snapshot.
    pub invoices: u64,
    /// Of which take part in the cloud draw.
    pub cloud_eligible: u64,
    /// Per prize, regular first then cloud tiers, highest first.
    pub prizes: Vec<PrizeLine>,
    /// Winner lines (an invoice winning twice has two).
    pub winners: u64,
    /// Sum of `amount` over winner lines.
    pub total_amount: i64,
    /// Sum of `payable` over winner lines (what is paid).
    pub payable_amount: i64,
    /// Invoices that won more than one prize.
    pub multiple_wins: u64,
}

/// The period's winning numbers as text in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumbersDoc {
    /// 特別獎.
    pub special: String,
    /// 特獎.
    pub grand: String,
    /// 頭獎 numbers.
    pub first: Vec<String>,
    /// 增開六獎 numbers.
    pub additional_sixth: Vec<String>,
}

/// A regular prize's amount in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountDoc {
    /// Prize id.
    pub prize: String,
    /// NT$.
    pub amount: i64,
}

/// `manifest.json`: what was drawn from what, and the reveal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// Period, e.g. `11312`.
    pub period: String,
    /// Snapshot Merkle root (hex).
    pub snapshot_root: String,
    /// Rows in the snapshot.
    pub snapshot_rows: u64,
    /// Rows in the cloud draw's population.
    pub cloud_eligible: u64,
    /// Published seed commitment `SHA-256(tag ‖ root ‖ seed)` (hex).
    pub commitment: String,
    /// The revealed seed (hex).
    pub seed: String,
    /// The derived ChaCha20 key (hex), for auditors' convenience.
    pub prf_key: String,
    /// Regular winning numbers.
    pub numbers: NumbersDoc,
    /// Regular prize amounts.
    pub regular_amounts: Vec<AmountDoc>,
    /// Cloud tiers, highest first.
    pub cloud_tiers: Vec<Tier>,
    /// Whether donated unprinted invoices took part in the cloud draw.
    pub include_donated: bool,
    /// SHA-256 (hex) of each output file.
    pub files: Vec<FileDigest>,
}

/// One output file's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// File name in the draw directory.
    pub name: String,
    /// SHA-256 (hex).
    pub sha256: String,
}

/// Progress events (a CLI draws a bar from them).
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A step starts, with its amount of work (leaves or items).
    Stage(&'a str, u64),
    /// `n` more units of the current step are done.
    Advance(u64),
}

/// A computed draw: the files' bytes and the report.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// (file name, bytes), manifest last.
    pub files: Vec<(&'static str, Vec<u8>)>,
    /// The report.
    pub report: Report,
    /// The manifest.
    pub manifest: Manifest,
}

#[derive(Debug, Clone, Copy)]
struct RowInfo {
    track: u16,
    number: u32,
    seller: u32,
    carrier: u32,
    npo: u32,
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

fn sha256_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

fn json_bytes<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut b = serde_json::to_vec_pretty(v).map_err(|e| Error::Input(e.to_string()))?;
    b.push(b'\n');
    Ok(b)
}

/// Compute a whole draw from a snapshot (its root recomputed from the file).
/// `commitment`, when given, must be opened by the seed.
pub fn compute(
    snapshot: &Snapshot,
    spec: &DrawSpec,
    commitment: Option<[u8; 32]>,
    threads: usize,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Outcome> {
    let leaves = snapshot.header().leaves;
    progress(Event::Stage("snapshot root", leaves));
    let root = snapshot.root_with(threads, &|| progress(Event::Advance(1)))?;
    compute_with_root(snapshot, root, spec, commitment, threads, progress)
}

/// [`compute`] for a snapshot whose root was just recomputed by the caller.
fn compute_with_root(
    snapshot: &Snapshot,
    root: [u8; 32],
    spec: &DrawSpec,
    commitment: Option<[u8; 32]>,
    threads: usize,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Outcome> {
    let params = spec.params();
    params.check()?;
    let w = &spec.numbers;
    if w.period.key() != snapshot.period() {
        return Err(Error::Input(format!(
            "the snapshot is of period {:05}, the numbers of {}",
            snapshot.period(),
            w.period
        )));
    }
    let leaves = snapshot.header().leaves;
    let commit = seed_commitment(&root, &spec.seed);
    if let Some(c) = commitment
        && c != commit
    {
        return Err(Error::Commitment(format!(
            "the seed does not open commitment {} for snapshot root {}",
            hex(&c),
            hex(&root)
        )));
    }

    progress(Event::Stage("regular prizes", 1));
    let hits = {
        let numbers = snapshot.numbers(threads)?;
        match_prizes(&numbers, w, threads)
    };
    progress(Event::Advance(1));

    progress(Event::Stage("cloud population", 1));
    let population = Population::from_snapshot(snapshot, threads, spec.include_donated)?;
    progress(Event::Advance(1));
    progress(Event::Stage("cloud draw", 1));
    let key = prf_key(&spec.seed, &root, &params);
    let wins = cloud::draw(&key, &population, &params.tiers);
    progress(Event::Advance(1));

    // (rank, row, amount): rank orders prizes, regular first.
    let mut lines: Vec<(usize, u64, i64)> = Vec::with_capacity(hits.len() + wins.len());
    let rank_of = |p: Prize| Prize::ALL.iter().position(|&q| q == p).unwrap_or(0);
    for h in &hits {
        lines.push((rank_of(h.prize), h.index, spec.table.amount(h.prize).0));
    }
    for c in &wins {
        lines.push((
            Prize::ALL.len() + c.tier,
            c.row,
            params.tiers[c.tier].amount,
        ));
    }
    lines.sort_unstable();

    progress(Event::Stage("winner rows", leaves));
    let mut rows: Vec<u64> = lines.iter().map(|l| l.1).collect();
    rows.sort_unstable();
    rows.dedup();
    let info = row_infos(snapshot, &rows, threads, progress)?;

    // The payable line of each invoice: highest amount, then lowest rank.
    let mut best: HashMap<u64, (i64, usize)> = HashMap::with_capacity(rows.len());
    for &(rank, row, amount) in &lines {
        let b = best.entry(row).or_insert((amount, rank));
        if amount > b.0 {
            *b = (amount, rank);
        }
    }
    let mut multi_rows: HashMap<u64, u32> = HashMap::new();
    for &(_, row, _) in &lines {
        *multi_rows.entry(row).or_default() += 1;
    }
    let multiple_wins = multi_rows.values().filter(|&&n| n > 1).count() as u64;

    progress(Event::Stage("outputs", 1));
    let prize_id = |rank: usize| -> String {
        match Prize::ALL.get(rank) {
            Some(p) => p.id().to_string(),
            None => format!("cloud_{}", params.tiers[rank - Prize::ALL.len()].amount),
        }
    };
    let mut csv = String::from("invoice_number,prize,amount,payable,carrier,npo,seller,row\n");
    let mut jsonl = Vec::new();
    let mut totals: HashMap<usize, (u64, i64)> = HashMap::new();
    let (mut total_amount, mut payable_amount) = (0i64, 0i64);
    for &(rank, row, amount) in &lines {
        let i = rows
            .binary_search(&row)
            .map_err(|_| Error::Format("winner row not read".into()))?;
        let r = info[i];
        let letters = track_letters(r.track)
            .ok_or_else(|| Error::Format(format!("row {row}: track index out of range")))?;
        let lookup = |idx: u32, f: &dyn Fn(u32) -> Option<String>, what: &str| {
            if idx == NONE {
                Ok(None)
            } else {
                f(idx)
                    .map(Some)
                    .ok_or_else(|| Error::Format(format!("row {row}: {what} index out of range")))
            }
        };
        let carrier = lookup(
            r.carrier,
            &|i| snapshot.carrier(i).map(String::from),
            "carrier",
        )?;
        let npo = lookup(r.npo, &|i| snapshot.npo(i).map(String::from), "love code")?;
        let payable = if best.get(&row) == Some(&(amount, rank)) {
            amount
        } else {
            0
        };
        let winner = Winner {
            invoice_number: format!(
                "{}{}{:08}",
                char::from(letters[0]),
                char::from(letters[1]),
                r.number
            ),
            prize: prize_id(rank),
            amount,
            payable,
            carrier,
            npo,
            seller: format!("{:08}", r.seller),
            row,
        };
        csv_field(&winner.invoice_number, &mut csv);
        csv.push(',');
        csv.push_str(&winner.prize);
        csv.push_str(&format!(",{},{},", amount, payable));
        csv_field(winner.carrier.as_deref().unwrap_or(""), &mut csv);
        csv.push(',');
        csv_field(winner.npo.as_deref().unwrap_or(""), &mut csv);
        csv.push_str(&format!(",{},{}\n", winner.seller, row));
        serde_json::to_writer(&mut jsonl, &winner).map_err(|e| Error::Input(e.to_string()))?;
        jsonl.push(b'\n');
        let t = totals.entry(rank).or_default();
        t.0 += 1;
        t.1 += amount;
        total_amount += amount;
        payable_amount += payable;
    }

    let mut prizes = Vec::new();
    for (rank, p) in Prize::ALL.iter().enumerate() {
        let (count, total) = totals.get(&rank).copied().unwrap_or_default();
        prizes.push(PrizeLine {
            prize: p.id().to_string(),
            amount: spec.table.amount(*p).0,
            sets: None,
            count,
            total,
        });
    }
    for (i, t) in params.tiers.iter().enumerate() {
        let (count, total) = totals
            .get(&(Prize::ALL.len() + i))
            .copied()
            .unwrap_or_default();
        prizes.push(PrizeLine {
            prize: prize_id(Prize::ALL.len() + i),
            amount: t.amount,
            sets: Some(t.count),
            count,
            total,
        });
    }
    let period = w.period.to_string();
    let report = Report {
        period: period.clone(),
        snapshot_root: hex(&root),
        invoices: snapshot.rows(),
        cloud_eligible: population.len(),
        prizes,
        winners: lines.len() as u64,
        total_amount,
        payable_amount,
        multiple_wins,
    };
    let files: Vec<(&'static str, Vec<u8>)> = vec![
        (OUTPUT_FILES[0], csv.into_bytes()),
        (OUTPUT_FILES[1], jsonl),
        (OUTPUT_FILES[2], json_bytes(&report)?),
    ];
    let manifest = Manifest {
        format: FORMAT.to_string(),
        period,
        snapshot_root: hex(&root),
        snapshot_rows: snapshot.rows(),
        cloud_eligible: population.len(),
        commitment: hex(&commit),
        seed: spec.seed.to_hex(),
        prf_key: hex(&key),
        numbers: NumbersDoc {
            special: format!("{:08}", w.special),
            grand: format!("{:08}", w.grand),
            first: w.first.iter().map(|f| format!("{f:08}")).collect(),
            additional_sixth: w
                .additional_sixth
                .iter()
                .map(|a| format!("{a:03}"))
                .collect(),
        },
        regular_amounts: Prize::ALL
            .iter()
            .map(|p| AmountDoc {
                prize: p.id().to_string(),
                amount: spec.table.amount(*p).0,
            })
            .collect(),
        cloud_tiers: params.tiers.clone(),
        include_donated: spec.include_donated,
        files: files
            .iter()
            .map(|(n, b)| FileDigest {
                name: (*n).to_string(),
                sha256: sha256_hex(b),
            })
            .collect(),
    };
    let mut files = files;
    files.push((MANIFEST, json_bytes(&manifest)?));
    progress(Event::Advance(1));
    Ok(Outcome {
        files,
        report,
        manifest,
    })
}

fn row_infos(
    snapshot: &Snapshot,
    rows: &[u64],
    threads: usize,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Vec<RowInfo>> {
    let parts = snapshot.map_leaves(threads, false, |l| {
        let lo = rows.partition_point(|&r| r < l.first_row);
        let hi = rows.partition_point(|&r| r < l.first_row + l.rows() as u64);
        let out: Vec<RowInfo> = rows[lo..hi]
            .iter()
            .map(|&r| {
                let j = (r - l.first_row) as usize;
                RowInfo {
                    track: l.track(j),
                    number: l.number(j),
                    seller: l.seller(j),
                    carrier: l.carrier(j),
                    npo: l.npo(j),
                }
            })
            .collect();
        progress(Event::Advance(1));
        Ok(out)
    })?;
    let info: Vec<RowInfo> = parts.concat();
    if info.len() != rows.len() {
        return Err(Error::Format("a winner row is outside the snapshot".into()));
    }
    Ok(info)
}

/// Write an outcome's files into `dir` (created if missing). Each file is
/// written to a temporary name and renamed, manifest last.
pub fn write_dir(dir: &Path, outcome: &Outcome) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for (name, bytes) in &outcome.files {
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
        let dst = dir.join(name);
        std::fs::rename(&tmp, &dst).map_err(io(&dst))?;
    }
    Ok(())
}

/// Read a draw directory's manifest.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let p = dir.join(MANIFEST);
    let b = std::fs::read(&p).map_err(io(&p))?;
    let m: Manifest =
        serde_json::from_slice(&b).map_err(|e| Error::Input(format!("{}: {e}", p.display())))?;
    if m.format != FORMAT {
        return Err(Error::Input(format!(
            "manifest format {:?}, this build reads {FORMAT:?}",
            m.format
        )));
    }
    Ok(m)
}

/// Rebuild the draw inputs recorded in a manifest.
pub fn spec_from_manifest(m: &Manifest) -> Result<DrawSpec> {
    let bad = |v: einvoice_core::Violation| Error::Input(format!("{}: {}", v.code, v.message));
    let period = Period::parse(&m.period).map_err(bad)?;
    let fr: Vec<&str> = m.numbers.first.iter().map(String::as_str).collect();
    let ar: Vec<&str> = m
        .numbers
        .additional_sixth
        .iter()
        .map(String::as_str)
        .collect();
    let numbers = WinningNumbers::parse(period, &m.numbers.special, &m.numbers.grand, &fr, &ar)
        .map_err(bad)?;
    let mut amounts = std::collections::BTreeMap::new();
    for a in &m.regular_amounts {
        let p = Prize::from_id(&a.prize)
            .ok_or_else(|| Error::Input(format!("unknown prize {:?}", a.prize)))?;
        amounts.insert(p, einvoice_core::Money(a.amount));
    }
    let cloud = m
        .cloud_tiers
        .iter()
        .map(|t| einvoice_core::prize::CloudPrize {
            amount: einvoice_core::Money(t.amount),
            count: t.count,
        })
        .collect();
    Ok(DrawSpec {
        numbers,
        table: PrizeTable { amounts, cloud },
        seed: Seed::from_hex(&m.seed)?,
        include_donated: m.include_donated,
    })
}

/// What [`verify`] checked.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The manifest that was verified.
    pub manifest: Manifest,
}

/// Recompute the draw recorded in `dir` from `snapshot` and compare every
/// file byte for byte. Fails on the first difference: a different snapshot
/// root, a seed that does not open the commitment (the manifest's, and
/// `commitment` if given — the one published before the draw), or a file
/// that differs (named with its first differing line).
pub fn verify(
    snapshot: &Snapshot,
    dir: &Path,
    commitment: Option<[u8; 32]>,
    threads: usize,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Verified> {
    let m = read_manifest(dir)?;
    let published = parse_hex32(&m.commitment)
        .ok_or_else(|| Error::Input("manifest commitment is not 64 hex digits".into()))?;
    if let Some(c) = commitment
        && c != published
    {
        return Err(Error::Commitment(format!(
            "the manifest's commitment {} is not the published one {}",
            m.commitment,
            hex(&c)
        )));
    }
    let spec = spec_from_manifest(&m)?;
    progress(Event::Stage("snapshot root", snapshot.header().leaves));
    let root = snapshot.root_with(threads, &|| progress(Event::Advance(1)))?;
    if hex(&root) != m.snapshot_root {
        return Err(Error::Mismatch(format!(
            "snapshot root is {}, the manifest says {}",
            hex(&root),
            m.snapshot_root
        )));
    }
    if seed_commitment(&root, &spec.seed) != published {
        return Err(Error::Commitment(format!(
            "the revealed seed does not open commitment {}",
            m.commitment
        )));
    }
    let outcome = compute_with_root(snapshot, root, &spec, Some(published), threads, progress)?;
    for (name, want) in &outcome.files {
        let p = dir.join(name);
        let got = std::fs::read(&p).map_err(io(&p))?;
        if &got != want {
            return Err(Error::Mismatch(first_difference(name, want, &got)));
        }
    }
    Ok(Verified { manifest: m })
}

/// Describe the first differing line of two texts.
pub fn first_difference(name: &str, want: &[u8], got: &[u8]) -> String {
    let (w, g): (Vec<&[u8]>, Vec<&[u8]>) = (
        want.split(|&b| b == b'\n').collect(),
        got.split(|&b| b == b'\n').collect(),
    );
    let n = w.len().max(g.len());
    for i in 0..n {
        let (a, b) = (w.get(i), g.get(i));
        if a != b {
            let show = |x: Option<&&[u8]>| {
                x.map_or("<end of file>".to_string(), |l| {
                    let s = String::from_utf8_lossy(l);
                    s.chars().take(200).collect()
                })
            };
            return format!(
                "{name} line {}: expected {:?}, found {:?}",
                i + 1,
                show(a),
                show(b)
            );
        }
    }
    format!("{name}: contents differ")
}

/// The hook for payouts: the site implements it (bank accounts, NPO
/// transfers, payout batches) and [`for_each_payable`] feeds it every winner
/// line with `payable > 0` of a verified draw directory.
pub trait PayoutHook {
    /// One payable winner line.
    fn payable(&mut self, winner: &Winner) -> Result<()>;
}

/// Feed every payable line of `dir/winners.jsonl` to `hook`, in file order.
pub fn for_each_payable(dir: &Path, hook: &mut dyn PayoutHook) -> Result<u64> {
    let p = dir.join(OUTPUT_FILES[1]);
    let text = std::fs::read_to_string(&p).map_err(io(&p))?;
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        let w: Winner = serde_json::from_str(line)
            .map_err(|e| Error::Input(format!("{} line {}: {e}", p.display(), i + 1)))?;
        if w.payable > 0 {
            hook.payable(&w)?;
            n += 1;
        }
    }
    Ok(n)
}
