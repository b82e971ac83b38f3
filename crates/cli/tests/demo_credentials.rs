//! `demo-credentials.json` holds the demo's API secret and operator password:
//! it is written 0600 whatever mode an older file had.

mod common;

#[cfg(unix)]
#[test]
fn credentials_are_rewritten_owner_only_even_over_a_world_readable_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let creds = data.join("demo-credentials.json");
    // A leftover from another store: `up` writes new credentials over it.
    std::fs::write(&creds, b"{}").expect("old file");
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (_site, path, _) = common::up(&data, "10", &[]);
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "demo-credentials.json mode {mode:o}");
}
