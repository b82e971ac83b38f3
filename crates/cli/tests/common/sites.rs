//! A deployment of real site processes for the fault tests: `einvoice up
//! --sites N` lays it out (CA, certificates, one configuration per site) and
//! is stopped; then each site runs as its own `einvoice serve --config`,
//! started, killed and restarted by the test.

use super::{Running, bin, bin_under, start_until};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A splitmix64 stream: the random fault points (printed as a seed so a
/// failure can be replayed with `EINVOICE_FAULT_SEED`).
pub struct Rng(pub u64);

impl Rng {
    /// The seed of `EINVOICE_FAULT_SEED`, or one from the clock (printed).
    pub fn from_env() -> Self {
        let seed = std::env::var("EINVOICE_FAULT_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
        eprintln!("fault seed {seed} (EINVOICE_FAULT_SEED to replay)");
        Self(seed)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// `name` of the environment as a count, or `default`.
pub fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// One site: its configuration and plain URL.
pub struct Site {
    /// Its `einvoice.toml`.
    pub config: PathBuf,
    /// Its public base URL.
    pub url: String,
    /// Where its output is appended.
    pub log: PathBuf,
}

impl Site {
    /// Site `name` of the deployment `up` wrote under `data`.
    pub fn of(data: &Path, creds: &Value, name: &str) -> Self {
        Self {
            config: data.join(name).join("einvoice.toml"),
            url: creds["sites"][name]
                .as_str()
                .unwrap_or_else(|| panic!("demo-credentials.json names no {name}"))
                .to_string(),
            log: data.join(name).join("faults.log"),
        }
    }

    /// Start `einvoice serve --config` (output appended to the site's log)
    /// and wait until it answers `/readyz`.
    pub async fn start(&self, http: &reqwest::Client) -> Running {
        self.start_under(http, &[]).await
    }

    /// [`Site::start`] under a wrapper command (`faketime -f +2h`, a shell
    /// setting a resource limit, …): `wrapper… einvoice serve --config …`.
    pub async fn start_under(&self, http: &reqwest::Client, wrapper: &[&str]) -> Running {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        let child = bin_under(wrapper)
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

    /// Edit the site's `einvoice.toml` (a TOML document).
    pub fn edit_config(&self, f: impl FnOnce(&mut toml_edit::DocumentMut)) {
        let text = std::fs::read_to_string(&self.config).expect("site config");
        let mut doc: toml_edit::DocumentMut = text.parse().expect("site config TOML");
        f(&mut doc);
        std::fs::write(&self.config, doc.to_string()).expect("write site config");
    }

    /// The address of the site's peer listener (`[sync] listen`).
    pub fn peer_addr(&self) -> std::net::SocketAddr {
        let text = std::fs::read_to_string(&self.config).expect("site config");
        let doc: toml_edit::DocumentMut = text.parse().expect("site config TOML");
        doc["sync"]["listen"]
            .as_str()
            .expect("[sync] listen")
            .parse()
            .expect("a socket address")
    }

    /// Remove the site's SQLite ledger (it starts over empty).
    pub fn forget_ledger(&self) {
        let dir = self.config.parent().expect("site directory");
        for f in ["einvoice.db", "einvoice.db-wal", "einvoice.db-shm"] {
            let p = dir.join(f);
            if p.exists() {
                std::fs::remove_file(&p).expect("remove the site's ledger");
            }
        }
    }
}

/// `einvoice up --sites N --invoices INVOICES --data DATA`, seeded, then
/// stopped (its sites stop with it): the credentials file and its JSON.
pub async fn lay_out(
    http: &reqwest::Client,
    data: &Path,
    sites: u32,
    invoices: u64,
) -> (PathBuf, Value) {
    let mut up = bin();
    up.args([
        "up",
        "--sites",
        &sites.to_string(),
        "--listen",
        "127.0.0.1:0",
    ])
    .args(["--invoices", &invoices.to_string()])
    .arg("--data")
    .arg(data);
    let (up, _) = start_until(up, true, "sites running");
    let creds_path = data.join("demo-credentials.json");
    let creds: Value =
        serde_json::from_slice(&std::fs::read(&creds_path).expect("credentials")).expect("JSON");
    drop(up);
    let urls: Vec<String> = creds["sites"]
        .as_object()
        .expect("sites")
        .values()
        .filter_map(|u| u.as_str().map(str::to_string))
        .collect();
    for url in urls {
        let deadline = Instant::now() + Duration::from_secs(30);
        while http.get(format!("{url}/healthz")).send().await.is_ok() {
            assert!(Instant::now() < deadline, "{url} did not stop with up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    (creds_path, creds)
}

/// SIGKILL, then reap.
pub fn kill9(mut r: Running) {
    r.0.kill().expect("kill -9");
    r.0.wait().expect("wait");
}

/// `origin`'s entry in the sync status of the site at `url`, if it answers.
pub async fn origin_status(http: &reqwest::Client, url: &str, origin: &str) -> Option<Value> {
    let st: Value = http
        .get(format!("{url}/v1/sync/status"))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    st["origins"]
        .as_array()?
        .iter()
        .find(|o| o["origin"] == origin)
        .cloned()
}

/// (seq, head) of `origin` at the site at `url`, if it answers.
pub async fn head_of(http: &reqwest::Client, url: &str, origin: &str) -> Option<(u64, String)> {
    let o = origin_status(http, url, origin).await?;
    Some((
        o["seq"].as_u64().unwrap_or(0),
        o["head"].as_str().unwrap_or("").to_string(),
    ))
}

/// Wait (up to `secs`) until the site at `url` holds `origin` up to `want`.
pub async fn until_holds(
    http: &reqwest::Client,
    url: &str,
    origin: &str,
    want: &(u64, String),
    secs: u64,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if head_of(http, url, origin).await.as_ref() == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never held {origin} up to {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A one-line invoice of the demo seller's track.
pub fn invoice(ubn: &str, period: &str, number: &str) -> Value {
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

/// `einvoice sync verify --url …` over `urls`.
pub fn sync_verify(urls: &[&str]) -> std::process::Output {
    let mut cmd = bin();
    cmd.args(["sync", "verify"]);
    for u in urls {
        cmd.args(["--url", u]);
    }
    cmd.output().expect("run sync verify")
}

/// A carrier session token of the demo carrier at the site at `url`.
pub async fn carrier_login(http: &reqwest::Client, url: &str, c: &Value) -> String {
    let r = http
        .post(format!("{url}/v1/carrier/login"))
        .json(&json!({
            "carrier_type": c["type"], "carrier_id": c["id"],
            "verification_code": c["verification_code"],
        }))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200, "carrier login at {url}");
    let v: Value = r.json().await.expect("json");
    v["token"].as_str().expect("token").to_string()
}

/// A citizen write at the site at `url`: the demo carrier's prize bank
/// account set to `account` (10 digits); the HTTP status.
pub async fn set_bank_account(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    carrier: &Value,
    account: &str,
) -> u16 {
    http.put(format!("{url}/v1/carrier/bank-account"))
        .bearer_auth(token)
        .json(&json!({
            "bank_code": "812", "account_number": account, "holder_name": "王小明",
            "verification_code": carrier["verification_code"],
        }))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}
