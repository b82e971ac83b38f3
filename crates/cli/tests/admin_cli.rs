//! `einvoice admin bootstrap` and `admin operator add-local` on a data
//! directory: secrets printed to the local person, each account its own
//! creation line, named in the ledger.

mod common;

use common::{run_as, stdout_ok};
use einvoice_store::Store;
use einvoice_store_sqlite::SqliteStore;

#[test]
fn add_local_prints_secrets_once_and_starts_its_own_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let data_arg = data.to_str().expect("utf-8 path");
    let out = run_as(
        "root",
        dir.path(),
        &["admin", "bootstrap", "--data", data_arg, "--name", "alice"],
    );
    stdout_ok(&out);
    let add = |name: &str, role: &str| {
        run_as(
            "tester",
            dir.path(),
            &[
                "admin",
                "operator",
                "add-local",
                "--data",
                data_arg,
                "--name",
                name,
                "--role",
                role,
            ],
        )
    };
    let text = stdout_ok(&add("zoe", "operator"));
    assert!(
        text.contains("password: ") && text.contains("otpauth://totp/"),
        "{text}"
    );
    // Refused: the name exists; a role that does not exist.
    for (out, code) in [
        (add("zoe", "operator"), "OPERATOR_EXISTS"),
        (add("yan", "boss"), "OPERATOR_ROLES"),
    ] {
        assert_ne!(out.status.code(), Some(0));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(code), "{err}");
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let s = SqliteStore::open(&data.join("einvoice.db"), "main").expect("open");
        let zoe = s.operator("zoe").await.expect("read").expect("zoe");
        assert_eq!(zoe.created_by.as_deref(), Some("local:tester"));
        assert!(s.operator("yan").await.expect("read").is_none());
        let entries = s.entries("main", 0, 100).await.expect("entries");
        assert!(
            entries
                .iter()
                .any(|e| e.kind == "ADMIN" && e.actor == "local:tester" && e.key == "operator/zoe")
        );
    });
}
