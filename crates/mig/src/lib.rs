//! einvoice-mig (being built).
