//! A cloud site whose disk fills while it applies main's ledger: its
//! `einvoice serve` runs with a file-size limit (`prlimit --fsize`, SIGXFSZ
//! ignored, so a write past it fails with EFBIG as on a full disk: SQLite's
//! "disk I/O error"). Sync stops with a clear error (`SYNC_STORE_WRITE` in
//! `GET /v1/sync/status` and the site's log), nothing is half-applied (the
//! stored cursor is the stored chain's end, the chain verifies), and when
//! the limit is lifted (`prlimit --pid`) sync resumes and both sites agree.

mod common;

use common::sites::{Site, head_of, lay_out, origin_status, sync_verify, until_holds};
use einvoice_store::Store;
use einvoice_store_sqlite::SqliteStore;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Bytes past its size after start the cloud's files may grow to.
const ROOM: u64 = 256 * 1024;

/// Set the soft file-size limit of process `pid` (its hard limit stays, so
/// the limit can be lifted again without privileges).
fn prlimit(pid: u32, fsize: &str) {
    let out = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={fsize}:")])
        .output()
        .expect("run prlimit");
    assert!(
        out.status.success(),
        "prlimit: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The largest of the site's SQLite files.
fn largest_file(dir: &Path) -> u64 {
    ["einvoice.db", "einvoice.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0)
}

/// The stored chain of `origin` at `db`: its length and whether it verifies,
/// and the stored cursor (the sync state's sequence).
async fn stored(db: &Path, site: &str, origin: &str) -> (u64, bool, u64) {
    let s = SqliteStore::open(db, site).expect("open store");
    let v = s.verify_ledger(origin).await.expect("verify");
    let cursor = s
        .sync_state()
        .await
        .expect("sync state")
        .into_iter()
        .find(|o| o.head.origin == origin)
        .map_or(0, |o| o.head.seq);
    (v.entries, v.broken.is_none(), cursor)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloud_out_of_disk_stops_cleanly_and_resumes_when_space_returns() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let (_, creds) = lay_out(&http, &data, 2, 1_000).await;
    let main = Site::of(&data, &creds, "main");
    let cloud = Site::of(&data, &creds, "cloud-a");
    // The cloud starts over empty and applies in pages of 50.
    cloud.forget_ledger();
    cloud.edit_config(|doc| {
        doc["sync"]["page"] = toml_edit::value(50);
        doc["sync"]["interval_ms"] = toml_edit::value(50);
    });

    // The cloud starts while main is down (nothing to apply yet), then its
    // files may grow by ROOM only.
    let cloud_proc = cloud
        .start_under(&http, &["sh", "-c", "trap '' XFSZ; exec \"$0\" \"$@\""])
        .await;
    let cloud_dir = data.join("cloud-a");
    let limit = largest_file(&cloud_dir) + ROOM;
    prlimit(cloud_proc.0.id(), &limit.to_string());
    let _main_proc = main.start(&http).await;
    let main_head = head_of(&http, &main.url, "main")
        .await
        .expect("main's head");

    // Sync stops with a clear error, not at main's head.
    let deadline = Instant::now() + Duration::from_secs(60);
    let error = loop {
        let o = origin_status(&http, &cloud.url, "main").await;
        if let Some(e) = o
            .as_ref()
            .map(|o| &o["last_error"])
            .filter(|e| !e.is_null())
        {
            break e.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no error at the cloud with its disk full: {o:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(error["code"], "SYNC_STORE_WRITE", "{error}");
    let message = error["message"].as_str().expect("message");
    assert!(message.contains("disk I/O error"), "{message}");
    let held = head_of(&http, &cloud.url, "main").await.map_or(0, |h| h.0);
    assert!(
        held < main_head.0,
        "the cloud applied all of main ({held}) within {limit} bytes"
    );
    let log = std::fs::read_to_string(&cloud.log).expect("cloud log");
    assert!(
        log.contains("einvoice: sync: SYNC_STORE_WRITE: origin main from"),
        "{log}"
    );
    // Nothing half-applied: the stored cursor is the end of the stored
    // chain, which verifies (read while the cloud keeps failing).
    let (entries, verifies, cursor) =
        stored(&cloud_dir.join("einvoice.db"), "cloud-a", "main").await;
    assert!(verifies, "the cloud's copy of main does not verify");
    assert_eq!(entries, cursor, "entries and cursor differ");
    assert!(entries < main_head.0);
    eprintln!(
        "disk full at the cloud after {entries} of {} entries ({limit} bytes a file): {message}",
        main_head.0
    );

    // Space returns: sync resumes, the error clears, both sites agree.
    prlimit(cloud_proc.0.id(), "unlimited");
    until_holds(&http, &cloud.url, "main", &main_head, 60).await;
    let o = origin_status(&http, &cloud.url, "main")
        .await
        .expect("status");
    assert!(o["last_error"].is_null(), "{o}");
    let out = sync_verify(&[&main.url, &cloud.url]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(cloud_proc);
    let (entries, verifies, cursor) =
        stored(&cloud_dir.join("einvoice.db"), "cloud-a", "main").await;
    assert!(verifies);
    assert_eq!((entries, cursor), (main_head.0, main_head.0));
    eprintln!(
        "disk full: resumed and converged ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
}
