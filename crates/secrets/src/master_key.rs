//! The site's master key: 32 random bytes in `DATA/master.key`, readable by
//! its owner only. Every node of a site needs the same file.

use crate::Sealer;
use std::path::Path;

/// The file holding the site's master key in a data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

/// The master key file is missing and cannot be created, unreadable, readable
/// by others, or not exactly 32 bytes. Code `MASTER_KEY`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MASTER_KEY: {0}")]
pub struct MasterKeyError(pub String);

/// Read the site's master key from `dir/master.key` (32 raw bytes, mode 0600),
/// creating it with a fresh random key if it does not exist. A key file that
/// group or others may read is refused.
pub fn load_or_create_master_key(dir: &Path) -> Result<[u8; 32], MasterKeyError> {
    use std::io::{Read, Write};
    let path = dir.join(MASTER_KEY_FILE);
    let bad = |e: std::io::Error| MasterKeyError(format!("{}: {e}", path.display()));
    match std::fs::File::open(&path) {
        Ok(mut f) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = f.metadata().map_err(bad)?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(MasterKeyError(format!(
                        "{} is readable by group or others (mode {:o}); chmod 600 it",
                        path.display(),
                        mode & 0o777
                    )));
                }
            }
            let mut buf = Vec::with_capacity(33);
            Read::by_ref(&mut f)
                .take(33)
                .read_to_end(&mut buf)
                .map_err(bad)?;
            <[u8; 32]>::try_from(buf.as_slice()).map_err(|_| {
                MasterKeyError(format!("{} must hold exactly 32 bytes", path.display()))
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(bad)?;
            let key = Sealer::generate_key()
                .map_err(|e| MasterKeyError(format!("{}: {e}", path.display())))?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&path).map_err(bad)?;
            f.write_all(&key).map_err(bad)?;
            f.sync_all().map_err(bad)?;
            Ok(key)
        }
        Err(e) => Err(bad(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_read_back_and_refused_when_others_may_read_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let k1 = load_or_create_master_key(dir.path()).expect("create");
        let k2 = load_or_create_master_key(dir.path()).expect("read");
        assert_eq!(k1, k2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.path().join(MASTER_KEY_FILE);
            assert_eq!(
                std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777,
                0o600
            );
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let e = load_or_create_master_key(dir.path()).expect_err("group-readable");
            assert!(e.to_string().starts_with("MASTER_KEY: "), "{e}");
        }
    }
}
