//! einvoice-store (being built).
