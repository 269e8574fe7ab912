//! # ferry: columnar batch data migration
//!
//! ```text
//!  ferry.toml ──> job::Plan ──────────────> run::run ──────────────────────────> report::RunReport
//!  (parse)        (validate: URLs, query     │
//!                  files parse, depends_on)  │ per migration, in dependency order:
//!                                            │
//!   source/ (TableProvider per table)        │   transform/ (DataFusion SQL)       sink/ (write_all)
//!   PostgreSQL: binary COPY -> Arrow  ──batches──> queries/*.sql ──> reject split ──> cast ──> COPY / INSERT /
//!   MySQL: connectorx -> Arrow                     (+ other connections            │          Parquet files,
//!   SQLite: rusqlite -> Arrow                        as `name.table`)              │          one transaction
//!   Parquet: ListingTable                                                          └─> _ferry_rejects (same txn)
//! ```
//!
//! Batches, and the quarantine records of rejected rows, stream from source to sink through
//! bounded channels; no table is held in memory. A load is all or nothing: the sink publishes rows,
//! rejects and replace mode's removal of the old rows in one transaction.
//!
//! Dependencies point one way: `cli`/`command` -> `job` -> `run` -> `transform`, `source`, `sink`
//! -> `error`. Nothing under `source/` or `sink/` knows the CLI exists.
//!
//! ## Adding a connector
//! 1. A variant in [`connection::Endpoint`] and its URL scheme in `Endpoint::parse`.
//! 2. A source: one file in `src/source/` implementing [`source::SourceDatabase`], and an arm in
//!    [`source::open`].
//! 3. A sink: one file in `src/sink/` implementing [`sink::Sink`], and an arm in [`sink::open`].
//! 4. Its integration test in `tests/it/`.

pub mod cli;
pub mod command;
pub mod connection;
pub mod decimal;
pub mod demo;
pub mod error;
pub mod generate;
pub mod job;
pub mod report;
pub mod run;
pub mod sink;
pub mod source;
pub mod sql;
pub mod stage;
pub mod store;
pub mod transform;

pub use error::{FerryError, Result};
