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
//!   Parquet: ListingTable                                                          ├─> _ferry_rejects (same txn)
//!                                                                                  └─> check/ audit: the checks'
//!                                                                                      verdict before the commit;
//!                                                                                      checksums, read back after
//! ```
//!
//! Batches, and the quarantine records of rejected rows, stream from source to sink through bounded
//! channels; no table is held in memory (a join holds its smaller side, and a lookup on an integer
//! key only a bitmap of it: `transform::lookup`). A load is all or nothing: the sink publishes
//! rows, rejects, replace mode's removal of the old rows and an incremental run's watermark in one
//! transaction. `incremental` decides per run whether a migration replaces, appends or merges, and
//! narrows an incremental query to the rows at or after its watermark (pushed into the source).
//! `check` sees the same batches: a failing `error` check ends the stream with an error before the
//! commit (so the sink rolls back), and the published table is read back and reconciled.
//!
//! Dependencies point one way: `cli`/`command` and `api` (the HTTP server) -> `job` -> `run` ->
//! `transform`, `source`, `sink` -> `error`. Nothing under `source/` or `sink/` knows the CLI or
//! the API exists. `lock` keeps one run per migration at a time, across processes.
//!
//! ## Adding a connector
//! 1. A variant in [`connection::Endpoint`] and its URL scheme in `Endpoint::parse`.
//! 2. A source: one file in `src/source/` implementing [`source::SourceDatabase`], and an arm in
//!    [`source::open`].
//! 3. A sink: one file in `src/sink/` implementing [`sink::Sink`] (`sink::merge` has the upsert
//!    and `_ferry_state` SQL per dialect), and an arm in [`sink::open`].
//! 4. Its integration test in `tests/it/`.

pub mod api;
pub mod check;
pub mod cli;
pub mod command;
pub mod connection;
pub mod db;
pub mod decimal;
pub mod demo;
pub mod error;
pub mod generate;
pub mod incremental;
pub mod job;
pub mod report;
pub mod run;
pub mod sink;
pub mod source;
pub mod sql;
pub mod stage;
pub mod transform;

pub use error::{FerryError, Result};
