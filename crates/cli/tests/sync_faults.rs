//! Crash faults with real processes: `kill -9` of a cloud site while it
//! applies main's ledger, and of main while it ingests, many short cycles
//! each; then a checker compares what main acknowledged with what each site
//! holds: lost 0, duplicated 0, unexpected 0, every chain verifies.
//!
//! The deployment is `einvoice up --sites 2` (main and `cloud-a`, the CA and
//! each site's configuration), stopped once seeded; from then on each site is
//! its own `einvoice serve --config` process, killed with SIGKILL at random
//! points (the seed is printed, so a failure can be replayed with
//! `EINVOICE_FAULT_SEED`).

mod common;

use common::{Running, bin, start_until};
use einvoice_store::{EntryHash, LedgerEntry, Store};
use einvoice_store_sqlite::SqliteStore;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Cycles of each kind (the issue asks for at least 50).
const CYCLES: usize = 50;
/// Invoices in the demo plan main is seeded with (what the cloud applies
/// while it is being killed).
const SEEDED: u64 = 2_000;
/// Invoices submitted per main-crash cycle.
const PER_CYCLE: usize = 2;

/// A splitmix64 stream: the random kill points.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// One site: its configuration and plain URL.
struct Site {
    config: PathBuf,
    url: String,
    log: PathBuf,
}

impl Site {
    /// Start `einvoice serve --config` (output appended to the site's log)
    /// and wait until it answers `/readyz`.
    async fn start(&self, http: &reqwest::Client) -> Running {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        let child = bin()
            .arg("serve")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start serve");
        let running = Running(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.get(format!("{}/readyz", self.url)).send().await
                && r.status() == 200
            {
                return running;
            }
            assert!(Instant::now() < deadline, "{} never became ready", self.url);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// SIGKILL, then reap.
fn kill9(mut r: Running) {
    r.0.kill().expect("kill -9");
    r.0.wait().expect("wait");
}

/// (seq, head) of `origin` at the site at `url`, if it answers.
async fn head_of(http: &reqwest::Client, url: &str, origin: &str) -> Option<(u64, String)> {
    let st: Value = http
        .get(format!("{url}/v1/sync/status"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    st["origins"].as_array()?.iter().find_map(|o| {
        (o["origin"] == origin).then(|| {
            (
                o["seq"].as_u64().unwrap_or(0),
                o["head"].as_str().unwrap_or("").to_string(),
            )
        })
    })
}

/// A one-line invoice of the demo seller's track.
fn invoice(ubn: &str, period: &str, number: &str) -> Value {
    let roc: i32 = period[..3].parse().expect("year");
    let end_month: u32 = period[3..].parse().expect("month");
    let date = format!("{}{:02}01", roc + 1911, end_month - 1);
    json!({
        "message": "F0401",
        "Main": {
            "InvoiceNumber": number, "InvoiceDate": date, "InvoiceTime": "12:00:00",
            "Seller": {"Identifier": ubn, "Name": "demo", "Address": "Taipei"},
            "Buyer": {"Identifier": "0000000000", "Name": "0000"},
            "InvoiceType": "07", "DonateMark": "0", "PrintMark": "Y", "RandomNumber": "0042"
        },
        "Details": [{"Description": "tea", "Quantity": "2", "UnitPrice": "30", "TaxType": "1", "Amount": "60", "SequenceNumber": "1"}],
        "Amount": {"SalesAmount": "60", "FreeTaxSalesAmount": "0", "ZeroTaxSalesAmount": "0",
                   "TaxType": "1", "TaxRate": "0.05", "TaxAmount": "0", "TotalAmount": "60"}
    })
}

/// `einvoice client submit --batch FILES…` as a child process.
fn submit(creds: &Path, files: &[PathBuf]) -> std::process::Child {
    let mut cmd = bin();
    cmd.arg("client")
        .arg("--credentials")
        .arg(creds)
        .args(["submit", "--batch"])
        .args(files)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    cmd.spawn().expect("run client")
}

/// Every entry of `origin` in the SQLite store at `db`.
async fn chain_of(db: &Path, site: &str, origin: &str) -> (Vec<LedgerEntry>, bool) {
    let s = SqliteStore::open(db, site).expect("open store");
    let mut all = Vec::new();
    loop {
        let page = s
            .entries(origin, all.len() as u64, 10_000)
            .await
            .expect("entries");
        if page.is_empty() {
            break;
        }
        all.extend(page);
    }
    let v = s.verify_ledger(origin).await.expect("verify");
    let ok = v.broken.is_none() && v.entries == all.len() as u64;
    (all, ok)
}

/// Wait until the site at `url` holds `origin` up to `want`.
async fn until_holds(http: &reqwest::Client, url: &str, origin: &str, want: &(u64, String)) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if head_of(http, url, origin).await.as_ref() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never held {origin} up to {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_cloud_while_it_applies_and_of_main_while_it_ingests_loses_nothing() {
    let started = Instant::now();
    let seed = std::env::var("EINVOICE_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("fault seed {seed} (EINVOICE_FAULT_SEED to replay)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let mut up = bin();
    up.args(["up", "--sites", "2", "--listen", "127.0.0.1:0"])
        .args(["--invoices", &SEEDED.to_string()])
        .arg("--data")
        .arg(&data);
    let (up, _) = start_until(up, true, "sites running");
    let creds_path = data.join("demo-credentials.json");
    let creds: Value =
        serde_json::from_slice(&std::fs::read(&creds_path).expect("credentials")).expect("JSON");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let main = Site {
        config: data.join("main/einvoice.toml"),
        url: creds["sites"]["main"].as_str().expect("main").to_string(),
        log: data.join("main/faults.log"),
    };
    let cloud = Site {
        config: data.join("cloud-a/einvoice.toml"),
        url: creds["sites"]["cloud-a"]
            .as_str()
            .expect("cloud")
            .to_string(),
        log: data.join("cloud-a/faults.log"),
    };
    // Stop `up` (its sites stop when their standard input closes).
    drop(up);
    for url in [&main.url, &cloud.url] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.get(format!("{url}/healthz")).send().await.is_ok() {
            assert!(Instant::now() < deadline, "{url} did not stop with up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // The cloud starts over with an empty ledger and small pages, so that it
    // is applying (many short transactions) when it is killed.
    for f in ["einvoice.db", "einvoice.db-wal", "einvoice.db-shm"] {
        let p = data.join("cloud-a").join(f);
        if p.exists() {
            std::fs::remove_file(&p).expect("remove the cloud's ledger");
        }
    }
    let cfg = std::fs::read_to_string(&cloud.config).expect("cloud config");
    let cfg = cfg.replace("[sync]\n", "[sync]\npage = 1\n");
    let cfg = cfg.replace("interval_ms = 200", "interval_ms = 20");
    std::fs::write(&cloud.config, cfg).expect("write cloud config");

    // 1. kill -9 of the cloud while it applies.
    let main_proc = main.start(&http).await;
    let main_head = head_of(&http, &main.url, "main")
        .await
        .expect("main's head");
    let mut mid_apply = 0;
    for _ in 0..CYCLES {
        let c = cloud.start(&http).await;
        tokio::time::sleep(Duration::from_millis(rng.below(60))).await;
        let before = head_of(&http, &cloud.url, "main").await;
        kill9(c);
        if before.is_some_and(|h| h.0 < main_head.0) {
            mid_apply += 1;
        }
    }
    eprintln!(
        "cloud: {CYCLES} kill -9 cycles, {mid_apply} of them before it had caught up ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    // (How far each life gets depends on the machine's load; at least half
    // of the kills must land while the cloud is still applying.)
    assert!(
        mid_apply >= CYCLES / 2,
        "the cloud caught up too early: only {mid_apply} of {CYCLES} kills hit it while applying"
    );

    // 2. kill -9 of main while it ingests (the cloud keeps pulling, now in
    // pages of the default size).
    let cfg = std::fs::read_to_string(&cloud.config).expect("cloud config");
    std::fs::write(&cloud.config, cfg.replace("page = 1\n", "")).expect("write cloud config");
    let cloud_proc = cloud.start(&http).await;
    let (ubn, period) = (
        creds["seller"]["ubn"].as_str().expect("ubn").to_string(),
        creds["period"].as_str().expect("period").to_string(),
    );
    // The demo seller's track holds a quarter more numbers than the plan uses.
    let first_free = SEEDED / 5;
    let mut submitted: BTreeSet<String> = BTreeSet::new();
    let mut acknowledged: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut main_proc = Some(main_proc);
    for cycle in 0..CYCLES {
        let mut files = Vec::new();
        for k in 0..PER_CYCLE {
            let n = format!("AA{:08}", first_free + (cycle * PER_CYCLE + k) as u64);
            let f = dir.path().join(format!("{n}.json"));
            std::fs::write(
                &f,
                serde_json::to_vec(&invoice(&ubn, &period, &n)).expect("json"),
            )
            .expect("write");
            submitted.insert(n);
            files.push(f);
        }
        let client = submit(&creds_path, &files);
        tokio::time::sleep(Duration::from_millis(rng.below(400))).await;
        kill9(main_proc.take().expect("main running"));
        let out = client.wait_with_output().expect("client");
        if out.status.success() {
            let v: Value = serde_json::from_slice(&out.stdout).expect("batch answer");
            for r in v["results"].as_array().expect("results") {
                let receipt = &r["receipt"];
                acknowledged.insert(
                    receipt["key"].as_str().expect("key").to_string(),
                    (
                        receipt["seq"].as_u64().expect("seq"),
                        receipt["hash"].as_str().expect("hash").to_string(),
                    ),
                );
            }
        }
        main_proc = Some(main.start(&http).await);
    }
    eprintln!(
        "main: {CYCLES} kill -9 cycles, {} invoices acknowledged of {} submitted ({:.1} s)",
        acknowledged.len(),
        submitted.len(),
        started.elapsed().as_secs_f64()
    );

    // Recovery: the cloud catches up with main's head.
    let head = head_of(&http, &main.url, "main")
        .await
        .expect("main's head");
    assert!(head.0 >= main_head.0 + acknowledged.len() as u64);
    until_holds(&http, &cloud.url, "main", &head).await;
    drop(cloud_proc);
    drop(main_proc);

    // The checker, on the stopped sites' stores.
    let (at_main, main_ok) = chain_of(&data.join("main/einvoice.db"), "main", "main").await;
    let (at_cloud, cloud_ok) = chain_of(&data.join("cloud-a/einvoice.db"), "cloud-a", "main").await;
    assert!(main_ok && cloud_ok, "a chain does not verify");
    let by_key: BTreeMap<(String, String), Vec<(u64, EntryHash)>> =
        at_main.iter().fold(BTreeMap::new(), |mut m, e| {
            m.entry((e.kind.clone(), e.key.clone()))
                .or_default()
                .push((e.seq, e.hash));
            m
        });
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|(key, (seq, hash))| {
            !at_main
                .iter()
                .any(|e| &e.key == *key && e.seq == *seq && e.hash.to_string() == *hash)
        })
        .map(|(k, _)| k)
        .collect();
    let duplicated: Vec<_> = by_key.iter().filter(|(_, v)| v.len() > 1).collect();
    let ours = |e: &&LedgerEntry| {
        e.kind == "F0401"
            && e.key.rsplit('/').next().is_some_and(|n| {
                n.starts_with("AA") && n[2..].parse::<u64>().is_ok_and(|x| x >= first_free)
            })
    };
    let unexpected: Vec<&String> = at_main
        .iter()
        .filter(ours)
        .map(|e| &e.key)
        .filter(|k| !submitted.iter().any(|n| k.ends_with(n.as_str())))
        .collect();
    eprintln!(
        "checker: main holds {} entries, the cloud {}; lost {}, duplicated {}, unexpected {}",
        at_main.len(),
        at_cloud.len(),
        lost.len(),
        duplicated.len(),
        unexpected.len()
    );
    assert_eq!(lost, Vec::<&String>::new(), "acknowledged but lost");
    assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
    assert_eq!(unexpected, Vec::<&String>::new(), "never submitted");
    // The cloud's copy is main's chain, operator (ADMIN) bodies withheld
    // (main's [sync.roles] names cloud-a a cloud peer).
    assert_eq!(at_cloud.len(), at_main.len());
    let mut withheld = 0;
    for (c, m) in at_cloud.iter().zip(&at_main) {
        if c.withheld {
            assert_eq!(m.kind, "ADMIN", "a withheld body of kind {}", m.kind);
            assert_eq!(Some(c), m.withheld_copy().as_ref());
            withheld += 1;
        } else {
            assert!(c == m, "the cloud's entry {} differs from main's", c.seq);
        }
    }
    eprintln!("the cloud holds {withheld} operator entries as digests only");
    eprintln!("crash faults: {:.1} s", started.elapsed().as_secs_f64());
}
