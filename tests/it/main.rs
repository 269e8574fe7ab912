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
mod copy;
mod copy_engines;
mod copy_job;
mod copy_pairs;
mod copy_transaction;
mod crash;
mod deploy;
mod disk;
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
mod proxy;
mod pushdown;
mod reconcile;
mod snapshot;
mod sql;
mod swap;
mod types;
