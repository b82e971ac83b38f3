//! Tenant scope: which sellers' data a caller may read and write.

use einvoice_core::Ubn;
use std::sync::Arc;

/// Who the caller may act for. Built by the authentication layer only; every
/// seller-data method of [`crate::Store`] filters by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// An operator (or the site itself): every seller.
    All,
    /// A seller's key, or an integrator's key granted several sellers.
    Sellers(Arc<[Ubn]>),
}

impl Scope {
    /// A scope of the given sellers.
    pub fn sellers(ubns: impl IntoIterator<Item = Ubn>) -> Self {
        let mut v: Vec<Ubn> = ubns.into_iter().collect();
        v.sort();
        v.dedup();
        Self::Sellers(v.into())
    }

    /// May the caller act for `seller`?
    pub fn allows(&self, seller: &Ubn) -> bool {
        match self {
            Self::All => true,
            Self::Sellers(list) => list.binary_search(seller).is_ok(),
        }
    }
}
