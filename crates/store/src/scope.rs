//! Tenant scope: which sellers' data a caller may read and write.

use crate::error::Rejection;
use einvoice_core::{Ubn, Validated};
use std::sync::Arc;

/// Code: the message's seller is outside the caller's scope.
pub const TENANT_SCOPE: &str = "TENANT_SCOPE";

/// Who the caller may act for. Built by the authentication layer only; every
/// seller-data method of [`crate::Store`] filters by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// An operator (or the site itself): every seller.
    All,
    /// A seller's key, or an integrator's key granted several sellers.
    Sellers(Arc<[Ubn]>),
}

/// A seller the caller's [`Scope`] admits: the proof a backend's scoped
/// primitive (e.g. [`crate::Store::seller_invoice`]) needs. Only
/// [`Scope::admit`] and [`Scope::admit_message`] build one, so a read of
/// seller data cannot skip the tenant check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScopedSeller(Ubn);

impl ScopedSeller {
    /// The seller's UBN.
    pub fn ubn(&self) -> Ubn {
        self.0
    }
}

/// A message whose seller the caller's [`Scope`] admits: what a backend's
/// [`crate::Store::append_admitted`] appends. Only [`Scope::admit_messages`]
/// builds one, so an append cannot skip the tenant check.
#[derive(Debug, Clone)]
pub struct AdmittedMessage {
    seller: ScopedSeller,
    message: Validated,
}

impl AdmittedMessage {
    /// The admitted seller.
    pub fn seller(&self) -> ScopedSeller {
        self.seller
    }

    /// The validated message.
    pub fn message(&self) -> &Validated {
        &self.message
    }

    /// The validated message, owned.
    pub fn into_message(self) -> Validated {
        self.message
    }
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

    /// `seller` as a [`ScopedSeller`], if the caller may act for it.
    pub fn admit(&self, seller: Ubn) -> Option<ScopedSeller> {
        self.allows(&seller).then_some(ScopedSeller(seller))
    }

    /// `seller` of a message as a [`ScopedSeller`], or the `TENANT_SCOPE`
    /// rejection of the message.
    // `Rejection` is the trait's own type; its size is not ours to change.
    #[allow(clippy::result_large_err)]
    pub fn admit_message(&self, seller: Ubn) -> Result<ScopedSeller, Rejection> {
        self.admit(seller).ok_or_else(|| {
            Rejection::new(
                TENANT_SCOPE,
                "Seller",
                format!("this key may not act for seller {seller}"),
            )
        })
    }
}

impl Scope {
    /// Each message admitted, or refused with `TENANT_SCOPE` (in order).
    // `Rejection` is the trait's own type; its size is not ours to change.
    #[allow(clippy::result_large_err)]
    pub fn admit_messages(
        &self,
        messages: Vec<Validated>,
    ) -> Vec<Result<AdmittedMessage, Rejection>> {
        messages
            .into_iter()
            .map(|message| {
                let seller = self.admit_message(message.seller())?;
                Ok(AdmittedMessage { seller, message })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_admits_only_its_sellers() {
        let a = Ubn::parse("04595257").expect("ubn");
        let b = Ubn::parse("12345676").expect("ubn");
        let scope = Scope::sellers([a]);
        assert_eq!(scope.admit(a).map(|s| s.ubn()), Some(a));
        assert_eq!(scope.admit(b), None);
        let r = scope.admit_message(b).expect_err("outside");
        assert_eq!((r.code, r.field.as_str()), (TENANT_SCOPE, "Seller"));
        assert!(Scope::All.admit(b).is_some());
    }
}
