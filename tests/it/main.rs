//! The one integration test binary: one module per area, real servers, no mocks.
#![allow(clippy::unwrap_used)]

mod api;
mod api_load;
mod atomic;
mod backends;
mod checks;
mod cleaning;
mod cli;
mod cluster;
mod common;
mod console;
mod copy;
mod copy_engines;
mod copy_job;
mod copy_pairs;
mod copy_routines;
mod copy_samples;
mod copy_transaction;
mod crash;
mod deploy;
mod disk;
#[cfg(feature = "distributed")]
mod distributed;
mod errors;
mod expected;
mod faults;
mod incremental;
mod indexes;
mod jobs;
mod mariadb_tls;
mod memory;
mod merge;
mod migrations;
mod openapi;
mod proxy;
mod pushdown;
mod reconcile;
mod snapshot;
mod sql;
mod swap;
mod types;
