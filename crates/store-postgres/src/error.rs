//! Failures of the database and how they map to [`StoreError`].

use einvoice_store::StoreError;
use tokio_postgres::error::SqlState;

/// A failure inside one attempt of a store operation. Some are retried
/// (serialization failures, deadlocks); the rest become a [`StoreError`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    /// The driver or the server reported an error.
    #[error("{}", describe(.0))]
    Pg(#[from] tokio_postgres::Error),
    /// No pooled connection could be had.
    #[error("connection pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// Already a store error (corrupt data, a rule of the store).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The driver's `Display` says only "db error" for server errors: add the
/// SQLSTATE and the server's message.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

impl DbError {
    fn pg(&self) -> Option<&tokio_postgres::Error> {
        match self {
            Self::Pg(e) => Some(e),
            Self::Pool(deadpool_postgres::PoolError::Backend(e))
            | Self::Pool(deadpool_postgres::PoolError::PostCreateHook(
                deadpool_postgres::HookError::Backend(e),
            )) => Some(e),
            _ => None,
        }
    }

    /// The SQLSTATE, when the server sent one.
    pub(crate) fn code(&self) -> Option<&SqlState> {
        self.pg().and_then(|e| e.code())
    }

    /// Serialization failures and deadlocks: the transaction did nothing and
    /// may be run again as it is.
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(
            self.code(),
            Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
        )
    }

    /// A race between writers that a fresh attempt resolves: another
    /// transaction inserted the same key or created the same partition first,
    /// or another node detached a partition this node remembered ("no
    /// partition of relation found for row", a check violation; the writer
    /// forgets its partitions before the retry).
    pub(crate) fn is_write_race(&self) -> bool {
        matches!(
            self.code(),
            Some(c) if *c == SqlState::UNIQUE_VIOLATION
                || *c == SqlState::DUPLICATE_TABLE
                || *c == SqlState::CHECK_VIOLATION
        )
    }

    /// Does this failure mean "the database is not there right now"?
    pub(crate) fn is_unavailable(&self) -> bool {
        matches!(self.to_store_ref(), Kind::Unavailable)
    }

    fn to_store_ref(&self) -> Kind {
        match self {
            Self::Store(StoreError::Unavailable(_)) => Kind::Unavailable,
            Self::Store(_) => Kind::Other,
            Self::Pool(p) => match p {
                deadpool_postgres::PoolError::Backend(e)
                | deadpool_postgres::PoolError::PostCreateHook(
                    deadpool_postgres::HookError::Backend(e),
                ) => classify(e),
                deadpool_postgres::PoolError::Timeout(_) | deadpool_postgres::PoolError::Closed => {
                    Kind::Unavailable
                }
                _ => Kind::Other,
            },
            Self::Pg(e) => classify(e),
        }
    }

    /// The store error callers see.
    pub(crate) fn into_store(self) -> StoreError {
        match self {
            Self::Store(s) => s,
            other => {
                let text = with_causes(&other);
                match other.to_store_ref() {
                    Kind::Unavailable => StoreError::Unavailable(format!("database: {text}")),
                    Kind::Other => StoreError::Backend(format!("database: {text}")),
                }
            }
        }
    }
}

/// `e` and each of its causes not already in the text (the driver says
/// only "error performing TLS handshake"; the cause says which certificate
/// check failed).
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        e.into_store()
    }
}

enum Kind {
    Unavailable,
    Other,
}

/// Connection-level trouble, shutdowns, timeouts and exhausted resources are
/// "unavailable" (retry later); everything else is a backend failure.
fn classify(e: &tokio_postgres::Error) -> Kind {
    if let Some(code) = e.code() {
        let c = code.code();
        // 08 connection exception, 53 insufficient resources, 57 operator
        // intervention (incl. 57014 statement timeout, 57P01 shutdown),
        // 58 system error, 40 transaction rollback (retries exhausted),
        // 25P03 idle-in-transaction timeout.
        return if ["08", "53", "57", "58", "40"]
            .iter()
            .any(|class| c.starts_with(class))
            || c == "25P03"
        {
            Kind::Unavailable
        } else {
            Kind::Other
        };
    }
    if e.is_closed() {
        return Kind::Unavailable;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return Kind::Unavailable;
        }
        source = s.source();
    }
    let text = e.to_string();
    if ["timeout", "connect", "communicating", "unexpected message"]
        .iter()
        .any(|w| text.contains(w))
    {
        Kind::Unavailable
    } else {
        Kind::Other
    }
}
