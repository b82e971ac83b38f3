//! einvoice-store-sqlite (being built).
