//! The draw's one error type: each variant names the rule that failed, and
//! its message starts with the stable code operators and scripts match on.

use einvoice_core::{Period, Violation};
use std::path::PathBuf;

/// Why a draw step refused or failed. Nothing the step would have stored is
/// stored when it returns one of these.
#[derive(Debug, thiserror::Error)]
pub enum DrawError {
    /// The store failed (`STORE_UNAVAILABLE`, `STORE_CORRUPT`, `STORE_BACKEND`).
    #[error(transparent)]
    Store(#[from] einvoice_store::StoreError),
    /// The snapshot or the draw computation refused (`SNAPSHOT_*`,
    /// `DRAW_INPUT`, `COMMITMENT_MISMATCH`, `IO`).
    #[error(transparent)]
    Analytics(#[from] einvoice_analytics::Error),
    /// `DRAW_FROZEN`: the period was frozen with another snapshot root (its
    /// eligible invoices changed after the freeze); a period is frozen once.
    #[error(
        "DRAW_FROZEN: {why}; this freeze has root {root} ({rows} rows) — the period's invoices changed after the freeze, nothing was written"
    )]
    FrozenDifferently {
        /// What is frozen already.
        why: String,
        /// Root (hex) of the snapshot this freeze produced.
        root: String,
        /// Rows of the snapshot this freeze produced.
        rows: u64,
    },
    /// `STORE_CORRUPT`: an eligible invoice's stored number is not `AB12345678`.
    #[error("STORE_CORRUPT: stored invoice number {0:?}")]
    StoredInvoiceNumber(String),
    /// `STORE_CORRUPT`: an eligible invoice's stored seller is not a UBN.
    #[error("STORE_CORRUPT: stored seller {0:?}")]
    StoredSeller(String),
    /// `WINNING_NUMBERS_UNPUBLISHED`: no winning numbers (中獎號碼) entered for the period.
    #[error("WINNING_NUMBERS_UNPUBLISHED: no winning numbers entered for {0}")]
    NumbersNotEntered(Period),
    /// `WINNING_NUMBERS_UNPUBLISHED`: the latest version of the winning
    /// numbers awaits a second operator's approval (four-eyes rule).
    #[error(
        "WINNING_NUMBERS_UNPUBLISHED: version {version} of {period}'s winning numbers awaits a second operator's approval"
    )]
    NumbersAwaitApproval {
        /// Period.
        period: Period,
        /// The unapproved version.
        version: u32,
    },
    /// `STORE_CORRUPT`: the stored winning-numbers record does not parse.
    #[error("STORE_CORRUPT: stored winning numbers of {period}: {error}")]
    StoredNumbers {
        /// Period.
        period: Period,
        /// Why it does not parse.
        error: serde_json::Error,
    },
    /// A rule of the MOF data (period, winning numbers) refused the input;
    /// the violation's own code.
    #[error("{}: {}", .0.code, .0.message)]
    Rule(Violation),
    /// `DRAW_NOT_FROZEN`: `draw run` on a site needs the period frozen first.
    #[error("DRAW_NOT_FROZEN: period {0} has no frozen snapshot: run `einvoice draw freeze` first")]
    NotFrozen(Period),
    /// `DRAW_INPUT`: the snapshot file is of another period.
    #[error("DRAW_INPUT: {} is a snapshot of {snapshot_period:05}, not {period}", path.display())]
    SnapshotOfOtherPeriod {
        /// The snapshot file.
        path: PathBuf,
        /// The period key the file names.
        snapshot_period: u32,
        /// The period asked for.
        period: Period,
    },
    /// `DRAW_INPUT`: a seed commitment is 32 bytes in hex.
    #[error("DRAW_INPUT: a commitment is 64 hex digits")]
    CommitmentFormat,
    /// `DRAW_SNAPSHOT_MISMATCH`: the snapshot file is not the one the period
    /// was frozen with.
    #[error(
        "DRAW_SNAPSHOT_MISMATCH: {} has root {root}, but {period} was frozen with root {frozen_root}",
        path.display()
    )]
    SnapshotMismatch {
        /// The snapshot file.
        path: PathBuf,
        /// Its root (hex).
        root: String,
        /// Period.
        period: Period,
        /// The frozen root (hex).
        frozen_root: String,
    },
    /// `DRAW_WINNERS_LOADED`: different winners are loaded for the period
    /// already; loaded winners never change.
    #[error(
        "DRAW_WINNERS_LOADED: {why}; this run found {lines} lines (digest {digest}) — nothing changed (a different seed, snapshot or numbers?)"
    )]
    WinnersLoadedDifferently {
        /// What is loaded already.
        why: String,
        /// Winner lines of this run.
        lines: usize,
        /// Digest of this run's winners.
        digest: String,
    },
    /// `DRAW_INPUT`: the computed draw has no `winners.jsonl`.
    #[error("DRAW_INPUT: the draw produced no winners.jsonl")]
    NoWinnersFile,
    /// The computed `winners.jsonl` is not UTF-8.
    #[error("winners.jsonl is not UTF-8")]
    WinnersNotUtf8(#[source] std::str::Utf8Error),
    /// A line of the computed `winners.jsonl` does not parse.
    #[error("winners.jsonl")]
    WinnersLine(#[source] serde_json::Error),
    /// `MASTER_KEY`: payouts open bank accounts and never create a master key.
    #[error(
        "MASTER_KEY: {} is missing: payouts need the site's master key to open bank accounts",
        .0.display()
    )]
    MasterKeyMissing(PathBuf),
    /// `MASTER_KEY`: the master key file cannot be read.
    #[error(transparent)]
    MasterKey(#[from] einvoice_secrets::MasterKeyError),
    /// A carrier's sealed bank account cannot be opened (`BANK_*`).
    #[error("{error} (carrier {carrier})")]
    BankAccount {
        /// The carrier (`type:id`).
        carrier: String,
        /// Why.
        error: einvoice_secrets::BankError,
    },
    /// `DRAW_WINNERS_NOT_LOADED`: payouts need the period's winners in the store.
    #[error(
        "DRAW_WINNERS_NOT_LOADED: no winners loaded for {0}: run `einvoice draw run --data …` first"
    )]
    WinnersNotLoaded(Period),
    /// `STORE_CORRUPT`: the stored winner lines do not add up to their load's total.
    #[error(
        "STORE_CORRUPT: the stored winners of {period} sum to NT${total} payable, their load says NT${loaded}"
    )]
    PayoutTotalMismatch {
        /// Period.
        period: Period,
        /// Sum of the payable lines read.
        total: i64,
        /// The load's payable total.
        loaded: i64,
    },
    /// `DRAW_INPUT`: a prize table file (獎金表) is not valid JSON of a table.
    #[error("DRAW_INPUT: {}", path.display())]
    PrizeTable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// An input file cannot be read.
    #[error("{}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file or directory cannot be created.
    #[error("cannot create {}", path.display())]
    Create {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A finished file cannot be put in place.
    #[error("cannot write {}", path.display())]
    Write {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The seed file cannot be created: it exists already (a seed is never
    /// overwritten) or its folder is not writable.
    #[error("{} (a seed file is never overwritten)", path.display())]
    SeedFile {
        /// The seed file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Writing a file failed midway.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A JSON document could not be encoded.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl DrawError {
    /// `Read` with the path, for `map_err`.
    pub(crate) fn read(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Read {
            path: path.to_path_buf(),
            source,
        }
    }

    /// `Create` with the path, for `map_err`.
    pub(crate) fn create(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Create {
            path: path.to_path_buf(),
            source,
        }
    }

    /// `Write` with the path, for `map_err`.
    pub(crate) fn write(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |source| Self::Write {
            path: path.to_path_buf(),
            source,
        }
    }
}
