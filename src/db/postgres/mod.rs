//! PostgreSQL: sessions (`connect`), reads as binary COPY decoded into Arrow (`source`,
//! `copy`, `decode`), loads as binary COPY in one transaction (`sink`, `encode`,
//! `indexes`, `types`), the catalog and DDL (`catalog`, `ddl`), and the advisory lock.

pub mod catalog;
pub mod connect;
mod copy;
pub mod ddl;
pub mod decode;
mod digest;
pub mod encode;
mod hash;
mod indexes;
mod password;
mod rejects;
mod session;
mod sink;
mod socket;
mod source;
mod swap;
mod types;
mod views;
mod writers;

use std::sync::Arc;

use async_trait::async_trait;

use super::{
    busy, lock_name, target_error, Backend, Capabilities, Catalog, CheckDef, ColumnDef, ForeignKeyDef, HeldLock,
    IndexDef, MigrationLock, NoLock, RoutineDef, Sink, SourceDatabase, Statement, TableDef, TextRows,
};
use crate::connection::Endpoint;
use crate::error::{FerryError, Result};
pub use connect::{pg_connect, pg_message};
use session::{Session, Shared};
use source::SharedSnapshot;
pub use source::{arrow_type, PostgresSource};

pub struct PostgresBackend {
    endpoint: Endpoint,
    /// Set when every operation shares one connection and its transaction.
    shared: Option<Shared>,
    /// The snapshot every read through this backend shares ([`Backend::one_snapshot`]); None:
    /// the reads of each `database()` share one of their own.
    snapshot: Option<SharedSnapshot>,
}

impl std::fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shared = if self.shared.is_some() { " (one transaction)" } else { "" };
        write!(f, "PostgresBackend({}{shared})", self.endpoint)
    }
}

impl PostgresBackend {
    pub fn new(endpoint: Endpoint) -> Self {
        PostgresBackend { endpoint, shared: None, snapshot: None }
    }

    /// A session for one operation.
    async fn session(&self) -> Result<Session> {
        Session::open(&self.endpoint, self.shared.as_ref()).await
    }

    fn error(&self, table: &str, error: &tokio_postgres::Error) -> FerryError {
        target_error(&self.endpoint, table, pg_message(error))
    }
}

/// `?` placeholders as PostgreSQL's `$1`, `$2`, ...
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// `?` placeholders replaced by the values as escape-string literals (`E'...'`, whatever the
/// server's `standard_conforming_strings`), NULL for None.
fn with_literals(sql: &str, values: &[Option<String>]) -> String {
    let mut values = values.iter();
    let mut out = String::with_capacity(sql.len());
    for c in sql.chars() {
        match (c, c == '?') {
            (_, true) => match values.next() {
                Some(Some(value)) => out.push_str(&format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))),
                Some(None) | None => out.push_str("NULL"),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

/// A URL's query parameters, decoded, in order.
fn query_pairs(url: &url::Url) -> Vec<(String, String)> {
    url.query_pairs().map(|(key, value)| (key.into_owned(), value.into_owned())).collect()
}

/// Replaces a URL's query with `pairs` (none: no query).
fn set_query_pairs(url: &mut url::Url, pairs: &[(String, String)]) {
    url.set_query(None);
    if pairs.is_empty() {
        return;
    }
    url.query_pairs_mut().extend_pairs(pairs);
    // Form encoding writes a space as `+`, which libpq-style URL parsing keeps as a plus.
    let query = url.query().map(|q| q.replace('+', "%20"));
    url.set_query(query.as_deref());
}

fn parameters(values: &[Option<String>]) -> Vec<&(dyn tokio_postgres::types::ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync)).collect()
}

#[async_trait]
impl Backend for PostgresBackend {
    fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn name(&self) -> &'static str {
        "PostgreSQL"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            runs_sql: true,
            merges: true,
            one_integer_type: false,
            files: false,
            text_forms: true,
            comments: true,
            updates_now: false,
            builds_beside_reads: true,
            one_writer: false,
            writes_at_once: false,
            decimals_without_precision: true,
        }
    }

    fn database(&self) -> Option<Arc<dyn SourceDatabase>> {
        // `snapshot=off` in the URL: each read sees the database as it is then.
        let snapshot = source::snapshot_wanted(&self.endpoint).then(|| self.snapshot.clone().unwrap_or_default());
        Some(Arc::new(PostgresSource::new(self.endpoint.clone(), snapshot).shared(self.shared.clone())))
    }

    fn one_snapshot(self: Arc<Self>) -> Arc<dyn Backend> {
        let snapshot = Some(self.snapshot.clone().unwrap_or_default());
        Arc::new(PostgresBackend { endpoint: self.endpoint.clone(), shared: self.shared.clone(), snapshot })
    }

    fn sink(&self) -> Result<Box<dyn Sink>> {
        Ok(Box::new(sink::PostgresSink::new(self.endpoint.clone(), self.shared.clone())))
    }

    async fn single_transaction(&self) -> Result<Arc<dyn Backend>> {
        let shared = session::begin_shared(&self.endpoint).await?;
        Ok(Arc::new(PostgresBackend { endpoint: self.endpoint.clone(), shared: Some(shared), snapshot: None }))
    }

    async fn finish(&self, commit: bool) -> Result<()> {
        let Some(shared) = &self.shared else { return Ok(()) };
        let client = shared.lock().await;
        let end = if commit { "COMMIT" } else { "ROLLBACK" };
        client.batch_execute(end).await.map_err(|e| self.error("(commit)", &e))
    }

    async fn ping(&self) -> Result<()> {
        let client = self.session().await?;
        client
            .simple_query("SELECT 1")
            .await
            .map_err(|e| FerryError::Connection { url: self.endpoint.masked(), message: pg_message(&e) })?;
        Ok(())
    }

    async fn lock(&self, migration: &str) -> Result<MigrationLock> {
        let client = self.session().await?;
        // In a shared transaction the lock lasts until it ends.
        let function = if client.is_shared() { "pg_try_advisory_xact_lock" } else { "pg_try_advisory_lock" };
        let row = client
            .query_one(&format!("SELECT {function}(hashtextextended($1, 0))"), &[&lock_name(migration)])
            .await
            .map_err(|e| FerryError::Connection { url: self.endpoint.masked(), message: pg_message(&e) })?;
        if !row.get::<_, bool>(0) {
            return Err(busy(migration, &self.endpoint.masked()));
        }
        match client {
            Session::Own(client) => Ok(MigrationLock::new(AdvisoryLock { client, name: lock_name(migration) })),
            Session::Shared(_) => Ok(MigrationLock::new(NoLock)),
            Session::Kept(_) => Err(FerryError::internal("a migration lock on a kept catalog connection")),
        }
    }

    async fn catalog(&self) -> Result<Catalog> {
        let client = self.session().await?;
        catalog::read(&client).await.map_err(|e| self.error("(catalog)", &e))
    }

    fn create_table_sql(&self, table: &TableDef) -> Result<String> {
        Ok(ddl::create_table(table))
    }

    fn add_check_sql(&self, table: &str, check: &CheckDef) -> Option<String> {
        Some(ddl::add_check(table, check))
    }

    fn type_sql(&self, column: &ColumnDef) -> String {
        ddl::type_sql(column)
    }

    fn create_index_sql(&self, table: &str, index: &IndexDef) -> Result<String> {
        Ok(ddl::create_index(table, index))
    }

    fn add_foreign_key_sql(&self, table: &str, key: &ForeignKeyDef) -> Result<Option<String>> {
        Ok(Some(ddl::add_foreign_key(table, key)))
    }

    fn drop_table_sql(&self, table: &str) -> Result<String> {
        Ok(format!("DROP TABLE IF EXISTS {} CASCADE", ddl::quote_table(table)))
    }

    fn updated_now_trigger(&self, table: &str, column: &str) -> Option<RoutineDef> {
        let name = format!("{table}_{column}_on_update");
        let (function, column) = (ddl::quote(&name), ddl::quote(column));
        let create = format!(
            "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $ferry$ BEGIN \
             IF NEW.{column} IS NOT DISTINCT FROM OLD.{column} AND NEW IS DISTINCT FROM OLD THEN \
             NEW.{column} := CURRENT_TIMESTAMP; END IF; RETURN NEW; END $ferry$; \
             CREATE TRIGGER {function} BEFORE UPDATE ON {} FOR EACH ROW EXECUTE FUNCTION {function}()",
            ddl::quote_table(table)
        );
        Some(RoutineDef { kind: "trigger".into(), name, create })
    }

    fn routine_prelude(&self) -> &'static str {
        "SET check_function_bodies = false; "
    }

    fn create_extension_sql(&self, extension: &str) -> Option<String> {
        Some(format!("CREATE EXTENSION IF NOT EXISTS {}", ddl::quote(extension)))
    }

    async fn execute(&self, sql: &str) -> Result<()> {
        // DDL after the rows validates foreign keys with a join of two whole tables: more
        // memory than the default 4 MB makes it one hash join (3M orders against 1M users:
        // 1.77 s -> 1.56 s). A session that has more already keeps it.
        const ROOMIER: &str = "SELECT set_config('work_mem', '256MB', false) \
                               WHERE pg_size_bytes(current_setting('work_mem')) < pg_size_bytes('256MB')";
        match self.session().await? {
            Session::Own(client) => match client.batch_execute(ROOMIER).await {
                Ok(()) => client.batch_execute(sql).await,
                Err(error) => Err(error),
            },
            Session::Shared(client) => session::alone(&client, sql).await,
            Session::Kept(client) => client.batch_execute(sql).await,
        }
        .map_err(|e| self.error("(schema)", &e))
    }

    async fn transaction(&self, setup: &str, statements: Vec<Statement>) -> Result<()> {
        let client = self.session().await?;
        client.batch_execute(setup).await.map_err(|e| self.error("(setup)", &e))?;
        client.begin().await.map_err(|e| self.error("(transaction)", &e))?;
        for (sql, values) in &statements {
            client.execute(&numbered(sql), &parameters(values)).await.map_err(|e| self.error(sql, &e))?;
        }
        client.commit().await.map_err(|e| self.error("(commit)", &e))
    }

    /// Through the simple query protocol, which answers every type as text.
    async fn schemas(&self) -> Result<Vec<String>> {
        let sql = "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' \
                   AND nspname <> 'information_schema' ORDER BY 1";
        Ok(self
            .text_rows(sql, Vec::new())
            .await?
            .into_iter()
            .filter_map(|row| row.into_iter().next().flatten())
            .collect())
    }

    /// Every session of the returned endpoint has `search_path` set to `schema` (libpq's
    /// `options` parameter), so that reads, the catalog and the DDL all name it by default.
    fn in_schema(&self, schema: &str) -> Result<Endpoint> {
        let Endpoint::Postgres(url) = &self.endpoint else { return Err(FerryError::internal("not PostgreSQL")) };
        let mut url = url.clone();
        let quoted = ddl::quote(schema).replace('\\', "\\\\").replace(' ', "\\ ");
        let setting = format!("-c search_path={quoted}");
        let mut pairs = query_pairs(&url);
        match pairs.iter_mut().find(|(key, _)| key == "options") {
            Some((_, value)) => *value = format!("{value} {setting}"),
            None => pairs.push(("options".into(), setting)),
        }
        set_query_pairs(&mut url, &pairs);
        Ok(Endpoint::Postgres(url))
    }

    fn create_schema_sql(&self, schema: &str) -> Result<String> {
        Ok(format!("CREATE SCHEMA IF NOT EXISTS {}", ddl::quote(schema)))
    }

    async fn text_rows(&self, sql: &str, values: Vec<Option<String>>) -> Result<TextRows> {
        let client = self.session().await?;
        let messages = client.simple_query(&with_literals(sql, &values)).await.map_err(|e| self.error(sql, &e))?;
        Ok(messages
            .iter()
            .filter_map(|message| match message {
                tokio_postgres::SimpleQueryMessage::Row(row) => {
                    Some((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect())
                }
                _ => None,
            })
            .collect())
    }

    async fn has_table(&self, table: &str) -> Result<bool> {
        let client = self.session().await?;
        let row = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&ddl::quote_table(table)])
            .await
            .map_err(|e| self.error(table, &e))?;
        Ok(row.get(0))
    }

    async fn reset_identity(&self, table: &str, column: &str) -> Result<()> {
        let client = self.session().await?;
        let quoted = ddl::quote_table(table);
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), GREATEST(1, (SELECT max({}) FROM {quoted})))",
            ddl::quote(column)
        );
        client.execute(&sql, &[&quoted, &column]).await.map_err(|e| self.error(table, &e))?;
        Ok(())
    }
}

/// A session-level advisory lock: the session holds it, closing the session frees it.
struct AdvisoryLock {
    client: tokio_postgres::Client,
    name: String,
}

#[async_trait]
impl HeldLock for AdvisoryLock {
    async fn release(self: Box<Self>) {
        let _ = self.client.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", &[&self.name]).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_escaped_literals() {
        let values = [Some("it's".to_string()), None, Some("a\\b".to_string())];
        assert_eq!(with_literals("SELECT ?, ?, ?", &values), r"SELECT E'it''s', NULL, E'a\\b'");
        assert_eq!(numbered("a = ? AND b = ?"), "a = $1 AND b = $2");
    }
}
