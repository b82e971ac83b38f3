//! einvoice-server: the HTTP API of one site.
//!
//! [`site::router`] merges every route group — sellers ([`seller`]), citizens
//! and the public ([`citizen`], winnings and bank accounts in [`winnings`]), the MOF App API ([`app_api`]), operators
//! ([`ops`]) and the probes — behind the edge layers (limits, problem
//! documents, metrics). [`sign`] is the request-signing scheme clients use,
//! [`problem`] shapes every error.

pub mod app_api;
pub mod carrier_auth;
pub mod carrier_life;
mod carrier_token;
pub mod citizen;
pub mod clock;
pub mod config;
pub mod demo;
pub mod docs;
pub mod edge;
pub mod forwarded;
mod json_body;
pub mod lockout;
pub mod mail;
pub mod openapi;
pub mod ops;
pub mod password;
pub mod problem;
pub mod rate_limit;
pub mod role;
pub mod seller;
mod seller_auth;
pub mod sign;
pub mod site;
pub mod soc;
pub mod soc_holds;
pub mod soc_sources;
mod state;
pub mod sync_routes;
pub mod tls;
pub mod uploads;
pub mod webhook;
pub mod winnings;

pub use config::{FileConfig, Limits};
pub use site::serve_with;
pub use site::{SiteOptions, router, serve};
