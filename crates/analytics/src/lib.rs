//! einvoice-analytics (being built).
