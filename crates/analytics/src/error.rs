//! The library's one error type.

use std::path::PathBuf;

/// Everything the snapshot and draw code can refuse or fail on. Each variant's
/// message starts with a stable code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("IO: {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A snapshot file is not a valid snapshot (bad magic, version, sizes).
    #[error("SNAPSHOT_FORMAT: {0}")]
    Format(String),
    /// A record given to the snapshot writer is out of range or out of order.
    #[error("SNAPSHOT_RECORD: row {row}: {message}")]
    Record {
        /// Row index the record would have had.
        row: u64,
        /// What is wrong.
        message: String,
    },
    /// Bad draw input (winning numbers, seed, prize table, manifest).
    #[error("DRAW_INPUT: {0}")]
    Input(String),
    /// The revealed seed does not open the published commitment.
    #[error("COMMITMENT_MISMATCH: {0}")]
    Commitment(String),
    /// `verify` found a difference between the draw directory and a recomputation.
    #[error("VERIFY_MISMATCH: {0}")]
    Mismatch(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attach a path to an I/O error.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
