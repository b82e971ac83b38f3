//! einvoice-store-postgres (being built).
