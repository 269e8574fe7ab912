//! # ferry: columnar batch data migration
//!
//! ```text
//!  ferry.toml ──> job::Plan ───────────> run::run ─────────────────────────────────> report::RunReport
//!  (parse, then   (URLs, query files,     │ per migration, in dependency order, its lock held:
//!   validate)      checks, depends_on)    │ (`--jobs` of them at once, each once its dependencies succeeded)
//!                                         │  source/            transform/         run::pipeline        db::PreparedLoad
//!   db::open(endpoint) -> dyn Backend ────┼─ DatabaseTable ──> queries/*.sql ──> QueryRows ──────> write_all:
//!     postgres/ binary COPY -> Arrow      │  (TableProvider:   (DataFusion;       Splitter (rejects,   COPY / INSERT /
//!     mysql/    connectorx -> Arrow       │   projection,       other connections  cast to the target)  Parquet files,
//!     sqlite/   rusqlite -> Arrow         │   filters, limit,   as `name.table`)   Checks (verdict      one transaction,
//!     parquet/  ListingTable              │   parts pushed                         before the commit)   _ferry_rejects and
//!                                         │   down)                                Digest (checksums)   _ferry_state in it
//!                                         │                                        Conservation (counts)
//!                                         └─> check/ reconciles the published table: the target's own
//!                                             count and checksum (`PreparedLoad::digest`), else a read-back
//! ```
//!
//! A query's largest parts over the tables of one database, where that database computes them
//! exactly as DataFusion does, become one SQL statement run there (`source::pushdown`, an
//! analyzer rule, using each engine's `SourceDatabase::pushdown` allow list).
//!
//! Batches, and the quarantine records of rejected rows, stream from source to sink; no table is
//! held in memory (a join holds its smaller side, and a lookup on an integer key only a bitmap of
//! it: `transform::lookup`). Each pipeline stage is a stream adapter that owns its state and
//! counts its own rows (`run::pipeline`); the last one checks, before the sink commits, that no
//! row was lost between the query and the sink. The query's partitions (`partitions`, one per
//! core by default) stay apart through the stages, each stage forked per partition and merged
//! as they end (`run::stage::adapt_parts`), each partition drained on a task of its own into the
//! sink's one stream (`run::funnel`), so every stage but the final write runs on every core. A load is all or nothing: the sink publishes
//! rows, rejects, replace mode's removal of the old rows and an incremental run's watermark in
//! one transaction; a replace fills a shadow table that takes the table's place at the end
//! (PostgreSQL, MySQL) or a Parquet folder's manifest switches to the new files, so readers see
//! the old rows, without waiting, until the new ones are all there. `incremental` decides per run whether a migration replaces, appends or
//! merges, and narrows an incremental query to the rows at or after its watermark.
//!
//! `copy` moves a whole database: the source backend's catalog becomes the target's DDL (tables
//! with their keys first; each table's indexes, checks and foreign keys as soon as its rows are
//! in, through the run's `after_publish` hook; views last; what the target cannot make is
//! reported), and each table's rows go through the same pipeline as a migration (a replace of
//! `SELECT *`), several at once, or one after another on the one connection of
//! `Backend::single_transaction`. A job's `[[copies]]` (`job::copies`) run through
//! `copy::run_job` before its migrations, for `ferry run` and the API alike.
//!
//! With `--features distributed`, `distributed` starts Ballista's scheduler and executors and
//! runs a migration's query (`run`, given a stager by `copy::run_job`: `ferry stage`) or a `ferry
//! sql` statement on the cluster, over Parquet (a migration's result written back by every task
//! of the last stage at once, through ferry's own plan node); it sits beside `transform`.
//!
//! Dependencies point one way: `cli`/`command` (with `demo` and `init`, the starter job) and `api`
//! (the HTTP server) -> `copy` -> `stage` -> `run` -> `distributed` ->
//! `transform`, `check`, `sink`, `source` -> `db` -> `connection` -> `error`; `job` (the plan)
//! is read by all of them above `db` and reads nothing of theirs; `error` imports nothing of
//! ferry's. Nothing under `db/` knows the CLI, the API or the job file, and outside `db/` and
//! `connection.rs` no code names a kind of endpoint: it asks the backend `db::open` returns.
//!
//! ## Adding an engine
//! 1. `connection.rs`: a variant of [`connection::Endpoint`], its URL scheme in
//!    `Endpoint::parse`, and the variant in `masked` and `secret_url`.
//! 2. `src/db/<engine>/`: a [`db::Backend`] (connect, ping, lock, catalog, DDL, statements) with
//!    a [`db::SourceDatabase`] to read with SQL (or `Backend::files`), a [`db::Sink`] whose
//!    [`db::PreparedLoad`] writes in one transaction, and its types; [`db::Capabilities`] says
//!    what else it can do, `Backend::one_snapshot` whether its reads can share one snapshot,
//!    `SourceDatabase::pushdown` (optional) what its SQL computes as DataFusion does, and
//!    `PreparedLoad::digest` (optional) how the database verifies a load without a read-back
//!    (a `TableDigest` whose figures add up across the partitions' forks);
//!    then `pub mod <engine>` and one arm in [`db::open`]. A source-only or target-only engine says no in `sink` or
//!    `database`.
//! 3. One line in `tests/it/backends.rs` runs the conformance suite on it; its own tests beside it.

pub mod api;
pub mod check;
pub mod cli;
pub mod command;
pub mod connection;
pub mod copy;
pub mod db;
pub mod decimal;
pub mod demo;
#[cfg(feature = "distributed")]
pub mod distributed;
pub mod error;
pub mod generate;
pub mod incremental;
pub mod init;
pub mod job;
pub mod report;
pub mod run;
pub mod sink;
pub mod source;
pub mod sql;
pub mod stage;
pub mod transform;

pub use error::{FerryError, Result};
