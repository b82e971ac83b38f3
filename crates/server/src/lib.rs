//! einvoice-server: the HTTP API of one site (being built).
//!
//! Shared building blocks live here first: [`seal`] (secrets at rest) and
//! [`problem`] (RFC 9457 error bodies carrying the core's stable codes).

pub mod app_api;
pub mod ops;
pub mod problem;
pub mod seal;
