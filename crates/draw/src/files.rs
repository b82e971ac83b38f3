//! The draw's files on disk, the same in file mode and on a site: the secret
//! seed file of `draw commit`, a prize table override, the published seed
//! commitment, and owner-only output files.

use crate::DrawError;
use einvoice_analytics::cloud::{Seed, seed_commitment};
use einvoice_analytics::snapshot::{Snapshot, hex, parse_hex32};
use einvoice_core::PrizeTable;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A published seed commitment (承諾值): 32 bytes given as 64 hex digits.
pub fn parse_commitment(hex: &str) -> Result<[u8; 32], DrawError> {
    parse_hex32(hex).ok_or(DrawError::CommitmentFormat)
}

/// A prize table (獎金表: amounts and cloud tiers) read from a JSON file.
pub fn read_prize_table(path: &Path) -> Result<PrizeTable, DrawError> {
    let bytes = std::fs::read(path).map_err(DrawError::read(path))?;
    serde_json::from_slice(&bytes).map_err(|source| DrawError::PrizeTable {
        path: path.to_path_buf(),
        source,
    })
}

/// The secret seed written by [`commit`] (hex, one line).
pub fn read_seed(path: &Path) -> Result<Seed, DrawError> {
    let text = std::fs::read_to_string(path).map_err(DrawError::read(path))?;
    Ok(Seed::from_hex(&text)?)
}

/// What `draw commit` publishes: the snapshot it read and the commitment to
/// the seed it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The snapshot's period key (`11312`).
    pub period: u32,
    /// Rows in the snapshot.
    pub rows: u64,
    /// The snapshot's Merkle root (hex), recomputed from the file.
    pub snapshot_root: String,
    /// The seed commitment (hex) to publish with the root before the draw.
    pub commitment: String,
    /// Where the secret seed was written.
    pub seed_file: PathBuf,
}

/// `draw commit`: recompute the snapshot's root, draw a fresh seed from the
/// OS, write it to `seed_file` (owner-only, never overwriting an existing
/// file) and return the commitment to publish.
pub fn commit(snapshot: &Path, seed_file: &Path, threads: usize) -> Result<Committed, DrawError> {
    let s = Snapshot::open(snapshot)?;
    let root = s.root(threads)?;
    let seed = Seed::generate()?;
    write_seed_file(seed_file, &seed)?;
    Ok(Committed {
        period: s.period(),
        rows: s.rows(),
        snapshot_root: hex(&root),
        commitment: hex(&seed_commitment(&root, &seed)),
        seed_file: seed_file.to_path_buf(),
    })
}

/// Open options that create a new file readable by its owner only (0600).
fn owner_only_new_file() -> std::fs::OpenOptions {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts
}

fn write_seed_file(path: &Path, seed: &Seed) -> Result<(), DrawError> {
    let mut f = owner_only_new_file()
        .open(path)
        .map_err(|source| DrawError::SeedFile {
            path: path.to_path_buf(),
            source,
        })?;
    writeln!(f, "{}", seed.to_hex())?;
    f.sync_all()?;
    Ok(())
}

/// Write `bytes` to `dir/name` readable by the owner only (0600), through a
/// temporary file and a rename.
pub(crate) fn write_private(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), DrawError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut f = owner_only_new_file()
        .open(&tmp)
        .map_err(DrawError::create(&tmp))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    let dst = dir.join(name);
    std::fs::rename(&tmp, &dst).map_err(DrawError::write(&dst))?;
    Ok(())
}
