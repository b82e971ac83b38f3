//! Errors of the sync crate, each with a stable code.

use einvoice_store::StoreError;

/// Why a sync step failed. The `code` is stable; the text says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A site name that cannot be a certificate name (`SYNC_SITE_NAME`).
    #[error(
        "SYNC_SITE_NAME: {0:?} is not a site name: use 1 to 63 lowercase letters, digits and '-', not starting or ending with '-'"
    )]
    SiteName(String),
    /// The CA directory already holds a CA (`CA_EXISTS`).
    #[error("CA_EXISTS: {0} already holds a CA key; keep it, or choose another directory")]
    CaExists(String),
    /// A CA, certificate or key file could not be read, written or used (`SYNC_TLS`).
    #[error("SYNC_TLS: {path}: {message}")]
    Tls {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A peer's certificate does not name a site (`SYNC_PEER_NAME`).
    #[error("SYNC_PEER_NAME: {0}")]
    PeerName(String),
    /// A feed page that does not decode (`SYNC_FEED`).
    #[error("SYNC_FEED: {0}")]
    Feed(String),
    /// An upstream could not be reached or answered an error (`SYNC_UPSTREAM`).
    #[error("SYNC_UPSTREAM: {upstream}: {message}")]
    Upstream {
        /// The upstream URL.
        upstream: String,
        /// What happened.
        message: String,
    },
    /// This site's own copy of an origin does not verify (`SYNC_LOCAL_CHAIN`).
    #[error(
        "SYNC_LOCAL_CHAIN: origin {origin:?}: this site's stored chain is broken at entry {seq} ({code}); run `einvoice ledger verify` and restore before syncing it"
    )]
    LocalChain {
        /// The origin.
        origin: String,
        /// The first broken entry.
        seq: u64,
        /// The broken link's code.
        code: String,
    },
    /// A page from an upstream could not be written at this site (disk
    /// full, a write failure): nothing of it is applied (`SYNC_STORE_WRITE`).
    #[error("SYNC_STORE_WRITE: {0}")]
    StoreWrite(String),
    /// A side record from the records feed that does not match the ledger
    /// entry it travels with (`SYNC_RECORD_MISMATCH`): nothing of its page
    /// is stored.
    #[error(
        "SYNC_RECORD_MISMATCH: origin {origin:?} entry {seq}: {message}; the record is refused and the origin's records wait at the last good page"
    )]
    RecordMismatch {
        /// The origin.
        origin: String,
        /// The entry the record claims to travel with.
        seq: u64,
        /// What does not match.
        message: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// The stable code.
    pub fn code(&self) -> &str {
        match self {
            Self::SiteName(_) => "SYNC_SITE_NAME",
            Self::CaExists(_) => "CA_EXISTS",
            Self::Tls { .. } => "SYNC_TLS",
            Self::PeerName(_) => "SYNC_PEER_NAME",
            Self::Feed(_) => "SYNC_FEED",
            Self::Upstream { .. } => "SYNC_UPSTREAM",
            Self::LocalChain { .. } => "SYNC_LOCAL_CHAIN",
            Self::StoreWrite(_) => crate::pull::SYNC_STORE_WRITE,
            Self::RecordMismatch { .. } => crate::records::SYNC_RECORD_MISMATCH,
            Self::Store(e) => e.code(),
        }
    }

    pub(crate) fn tls(path: &std::path::Path, message: impl std::fmt::Display) -> Self {
        Self::Tls {
            path: path.display().to_string(),
            message: message.to_string(),
        }
    }
}
