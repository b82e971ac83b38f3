//! einvoice-server (being built).
