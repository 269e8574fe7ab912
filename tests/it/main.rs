//! The one integration test binary: one module per area, real servers, no mocks.
#![allow(clippy::unwrap_used)]

mod atomic;
mod cleaning;
mod cli;
mod common;
mod errors;
mod expected;
mod migrations;
mod sql;
mod types;
