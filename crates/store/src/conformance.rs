//! The conformance suite every [`crate::Store`] implementation runs.
//!
//! Written against the trait only. A backend crate instantiates it with
//! [`store_conformance!`](crate::store_conformance), passing an async
//! expression that yields a fresh, empty store.

/// Generate one `#[tokio::test]` per conformance case for a backend.
///
/// ```ignore
/// einvoice_store::store_conformance!(async { fresh_sqlite_store().await });
/// ```
#[macro_export]
macro_rules! store_conformance {
    ($make:expr) => {};
}
