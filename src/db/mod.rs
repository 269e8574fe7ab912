//! Everything about each database engine, one folder per engine, behind one trait: [`Backend`].
//! [`open`] is the only place in ferry that matches on the kind of endpoint; every other layer
//! asks the backend it returns (its source, its sink, its lock, its health, its catalog, its DDL).
//!
//! Also here, shared by the engines: the reading contract ([`SourceDatabase`]), the writing
//! contract ([`Sink`] and [`PreparedLoad`]), the catalog model ([`Catalog`]), incremental state,
//! merge SQL, and the lock file.

pub mod bookkeeping;
pub mod catalog;
mod insert;
mod lock;
pub mod merge;
pub mod mysql;
pub mod parquet;
pub mod postgres;
mod read;
pub mod sqlite;
pub mod state;
mod values;
mod write;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::TableProvider;
use datafusion::prelude::SessionContext;

use crate::connection::Endpoint;
use crate::error::{FerryError, Result};

pub use catalog::{
    Catalog, CheckDef, ColumnDef, ColumnDefault, ColumnType, ForeignKeyDef, Generated, IndexDef, Partition,
    Partitioning, RoutineDef, TableDef, Unsupported, ViewDef,
};
pub use lock::{busy, lock_name, FileLock, HeldLock, MigrationLock, NoLock};
pub use read::{
    comparison, key_ranges, quote_table, select_sql, time_text, Pushdown, ReadCounter, ReadRequest, Reading,
    SizeEstimate, SourceDatabase, COMPARES_OTHERWISE, PG_TYPE, TEXT_FORM,
};
pub use write::{
    compatible, feed_blocking, instants_as_utc, match_columns, new_table_columns, rejects_schema, LoadSpec, Loaded,
    PreparedLoad, Publish, RowStream, Sink, SinkBatch, TableDigest, TargetColumn, WriteMode, REJECTS_TABLE,
};

/// A statement with `?` placeholders and its values, all text (NULL as None).
pub type Statement = (String, Vec<Option<String>>);

/// Rows of text values (NULL as None).
pub type TextRows = Vec<Vec<Option<String>>>;

/// One database (or file location) ferry reads from or writes to.
#[async_trait]
pub trait Backend: Debug + Send + Sync {
    fn endpoint(&self) -> &Endpoint;

    /// The engine's name for messages: `PostgreSQL`, `MySQL`, `SQLite`, `Parquet`.
    fn name(&self) -> &'static str;

    /// What the engine can do beyond reading and writing tables.
    fn capabilities(&self) -> Capabilities;

    /// The database to read tables from with SQL; None for an engine whose tables are files
    /// (see [`Backend::files`]).
    fn database(&self) -> Option<Arc<dyn SourceDatabase>>;

    /// The tables of an engine that has no SQL to read them with, as DataFusion tables.
    async fn files(&self, _ctx: &SessionContext) -> Result<Vec<(String, Arc<dyn TableProvider>)>> {
        Ok(Vec::new())
    }

    /// A sink that loads tables into this engine.
    fn sink(&self) -> Result<Box<dyn Sink>>;

    /// The same database with every operation on one connection, in one transaction that
    /// [`Backend::finish`] ends: nothing it writes is seen, or kept, before that.
    async fn single_transaction(&self) -> Result<Arc<dyn Backend>> {
        Err(FerryError::Job(format!(
            "`{}` is {}: only a PostgreSQL target can take a whole copy in one transaction; \
             leave out --single-transaction (each table is still all or nothing)",
            self.endpoint(),
            self.name()
        )))
    }

    /// The same database with every read through it, of any table, in one snapshot (for a
    /// copy, whose tables must agree with each other); itself where reads cannot share one.
    fn one_snapshot(self: Arc<Self>) -> Arc<dyn Backend>;

    /// Commits (`commit`) or rolls back the transaction of [`Backend::single_transaction`];
    /// nothing for a backend without one.
    async fn finish(&self, _commit: bool) -> Result<()> {
        Ok(())
    }

    /// Answers when the engine can be reached (a query, or the folder or bucket).
    async fn ping(&self) -> Result<()>;

    /// Takes `migration`'s lock in this target, or fails with [`FerryError::Busy`].
    async fn lock(&self, migration: &str) -> Result<MigrationLock>;

    /// The tables of the database (its default schema) with their keys, indexes and foreign
    /// keys, ferry's own `_ferry_*` tables left out.
    async fn catalog(&self) -> Result<Catalog>;

    /// `CREATE TABLE` for `table` in this engine's SQL: columns, primary key and foreign keys.
    /// Secondary indexes are [`Backend::create_index_sql`]'s.
    fn create_table_sql(&self, _table: &TableDef) -> Result<String> {
        Err(self.runs_no_sql())
    }

    /// `ALTER TABLE ... ADD CONSTRAINT ... CHECK`, where the engine keeps CHECK constraints.
    fn add_check_sql(&self, _table: &str, _check: &CheckDef) -> Option<String> {
        None
    }

    /// A column's type in this engine's DDL (the portable name where it has none).
    fn type_sql(&self, column: &ColumnDef) -> String {
        column.column_type.to_string()
    }

    /// `CREATE [UNIQUE] INDEX` for one of `table`'s indexes.
    fn create_index_sql(&self, _table: &str, _index: &IndexDef) -> Result<String> {
        Err(self.runs_no_sql())
    }

    /// `ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY` for a key added after the rows, or None
    /// when the engine cannot add one to an existing table (its keys go in `CREATE TABLE`).
    fn add_foreign_key_sql(&self, _table: &str, _key: &ForeignKeyDef) -> Result<Option<String>> {
        Ok(None)
    }

    /// The same database, its loads not checking the foreign keys made with their tables (where
    /// keys cannot be added after the rows, SQLite's), so that tables whose keys form a cycle
    /// load at all; [`Backend::unchecked_rows`] then checks the keys. None where loads check no
    /// key: keys are added after the rows.
    fn keys_unchecked(&self) -> Option<Arc<dyn Backend>> {
        None
    }

    /// The rows of `table` whose `key`, made with the table and not checked while it loaded
    /// ([`Backend::keys_unchecked`]), references no row; 0 where loads check every key.
    async fn unchecked_rows(&self, _table: &str, _key: &ForeignKeyDef) -> Result<u64> {
        Ok(0)
    }

    /// `CREATE EXTENSION IF NOT EXISTS` for an extension of a source of the same engine, or None
    /// for an engine without extensions.
    fn create_extension_sql(&self, _extension: &str) -> Option<String> {
        None
    }

    /// A trigger that does what MySQL's `ON UPDATE CURRENT_TIMESTAMP` does for `column` (set it
    /// to the current time when its row is updated without setting it), for an engine without
    /// that clause; None where the engine cannot.
    fn updated_now_trigger(&self, _table: &str, _column: &str) -> Option<RoutineDef> {
        None
    }

    /// What goes before each routine's statement when a copy makes it (PostgreSQL: its body is
    /// checked when called, not when made, as the objects it uses may come later).
    fn routine_prelude(&self) -> &'static str {
        ""
    }

    /// `DROP TABLE IF EXISTS` for `table` (and what depends on it, where the engine needs that).
    fn drop_table_sql(&self, _table: &str) -> Result<String> {
        Err(self.runs_no_sql())
    }

    /// Runs a script of statements, one after another (not in one transaction).
    async fn execute(&self, _sql: &str) -> Result<()> {
        Err(self.runs_no_sql())
    }

    /// Runs `setup` (DDL; it may commit by itself), then `statements` in one transaction.
    async fn transaction(&self, _setup: &str, _statements: Vec<Statement>) -> Result<()> {
        Err(self.runs_no_sql())
    }

    /// The rows of `sql` with its `?` parameters, every value as text.
    async fn text_rows(&self, _sql: &str, _values: Vec<Option<String>>) -> Result<TextRows> {
        Err(self.runs_no_sql())
    }

    /// The schemas a database holds (for `--source-schema`); an error for engines without.
    async fn schemas(&self) -> Result<Vec<String>> {
        Err(self.no_schemas())
    }

    /// The same database with `schema` as the one its sessions read and create in.
    fn in_schema(&self, _schema: &str) -> Result<Endpoint> {
        Err(self.no_schemas())
    }

    /// `CREATE SCHEMA` for `schema`.
    fn create_schema_sql(&self, _schema: &str) -> Result<String> {
        Err(self.no_schemas())
    }

    /// How many zero dates (MySQL's `0000-00-00`, which no other engine has) each date or
    /// date-time column of `table` holds; only columns that hold some.
    async fn zero_dates(&self, _table: &TableDef) -> Result<Vec<(String, u64)>> {
        Ok(Vec::new())
    }

    /// Whether `table` exists; never creates anything (a missing SQLite file has no tables).
    async fn has_table(&self, _table: &str) -> Result<bool> {
        Ok(false)
    }

    /// After rows with explicit values were loaded into an identity column, moves the engine's
    /// generator past them (PostgreSQL sequences; the others follow by themselves).
    async fn reset_identity(&self, _table: &str, _column: &str) -> Result<()> {
        Ok(())
    }

    /// The error of an engine asked for a schema.
    fn no_schemas(&self) -> FerryError {
        FerryError::Job(format!(
            "`{}` is {}, which has no schemas: name the database (or file) in the URL instead",
            self.endpoint(),
            self.name()
        ))
    }

    /// The error of an engine asked for SQL it cannot run.
    fn runs_no_sql(&self) -> FerryError {
        FerryError::Job(format!("`{}` is a {} location, not a database; it runs no SQL", self.endpoint(), self.name()))
    }
}

/// What an engine can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Runs SQL: keeps `_ferry_runs`, can be generated into, has a catalog with keys.
    pub runs_sql: bool,
    /// Can upsert on a key (merge and incremental loads).
    pub merges: bool,
    /// Stores every integer as one 64-bit type (SQLite): checks compare integer types loosely.
    pub one_integer_type: bool,
    /// Its tables are folders of files (Parquet), a lake to stage into.
    pub files: bool,
    /// Reads a type it has no portable form for as the type's text form (PostgreSQL's arrays,
    /// intervals, ranges...), so that another engine can store it as text.
    pub text_forms: bool,
    /// Keeps comments on tables and columns.
    pub comments: bool,
    /// Sets a column to the current time when its row is updated (MySQL's ON UPDATE).
    pub updates_now: bool,
    /// Builds a table's indexes and keys while another session reads the table (where the
    /// engine would make one of them wait or fail, they follow each other instead).
    pub builds_beside_reads: bool,
    /// Takes one writing transaction at a time (SQLite): loads into it run one after another,
    /// as a second writer would wait for the first and give up after a while.
    pub one_writer: bool,
    /// Writes several streams of rows at once at no cost to what it publishes (Parquet's
    /// files): a load's `writers` are its rows' partitions unless the job says otherwise.
    pub writes_at_once: bool,
    /// Has a decimal type without a precision that keeps any decimal exactly (PostgreSQL's
    /// `numeric`); where it has none (MySQL), such a column becomes the widest decimal there is.
    pub decimals_without_precision: bool,
}

/// Opens the backend behind an endpoint: the only place that knows every kind.
pub fn open(endpoint: &Endpoint) -> Arc<dyn Backend> {
    match endpoint {
        Endpoint::Postgres(_) => Arc::new(postgres::PostgresBackend::new(endpoint.clone())),
        Endpoint::Mysql(_) => Arc::new(mysql::MysqlBackend::new(endpoint.clone())),
        Endpoint::Sqlite(path) => Arc::new(sqlite::SqliteBackend::new(endpoint.clone(), path.clone())),
        Endpoint::Parquet(url) => Arc::new(parquet::ParquetBackend::new(endpoint.clone(), url.clone())),
    }
}

/// The error of a write to `table` in `endpoint`, naming both (the URL masked).
pub fn target_error(endpoint: &Endpoint, table: &str, message: impl ToString) -> FerryError {
    FerryError::Target { url: endpoint.masked(), table: table.to_string(), message: message.to_string() }
}

/// Runs blocking driver work (the `mysql` and `rusqlite` crates) off the runtime's threads.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(FerryError::internal)?
}
