//! PostgreSQL sink: binary `COPY ... FROM STDIN` inside one transaction.
//!
//! The transaction is the staging area: rows copied in it are invisible to everyone else until
//! `COMMIT`, and replace mode's `TRUNCATE` is transactional, so readers see the old rows until the
//! new ones are published at once, and a failure anywhere rolls everything back. A table created
//! or truncated in the same transaction also lets PostgreSQL skip WAL-heavy work for the COPY.

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use tokio_postgres::Client;

use super::connect::{pg_connect, pg_message};
use super::ddl::create_table;
use super::digest::PostgresDigest;
use super::encode::{encode_batch, header, trailer, WireType, FLUSH_BYTES};
use super::indexes::defer_indexes;
use super::rejects::{write_rejects, RejectSpill};
use super::session::{Session, Shared};
use super::swap::{self, Plan};
use super::types::{existing_columns, new_column_type, wires, write_type, PgColumn};
use super::writers::copy_in_parallel;
use crate::connection::Endpoint;
use crate::db::bookkeeping::{if_not_exists, state_table};
use crate::db::merge::{
    check_unique_key, duplicates_error, duplicates_sql, insert_sql, key_columns, matched_sql, save_state_sql, Dialect,
    STAGING,
};
use crate::db::state::{SavedState, STATE_TABLE};
use crate::db::{
    match_columns, new_table_columns, target_error, LoadSpec, Loaded, PreparedLoad, Publish, RowStream, Sink,
    SinkBatch, TableDigest, TargetColumn, WriteMode, REJECTS_TABLE,
};
use crate::error::{FerryError, Result};

pub struct PostgresSink {
    endpoint: Endpoint,
    /// The connection every load shares, in a transaction someone else ends.
    shared: Option<Shared>,
    /// The session `state` opened, which `prepare` goes on in.
    client: Option<Session>,
}

/// A prepared load: its session, and the table as the load will find it.
struct PostgresLoad {
    endpoint: Endpoint,
    client: Session,
    spec: LoadSpec,
    /// The `CREATE TABLE` to run in the load's transaction when the table does not exist.
    create: Option<String>,
    /// The existing table's columns (empty until a created table exists).
    columns: Vec<PgColumn>,
    target: SchemaRef,
}

impl PostgresSink {
    pub fn new(endpoint: Endpoint, shared: Option<Shared>) -> Self {
        PostgresSink { endpoint, shared, client: None }
    }

    fn error(&self, table: &str, message: impl ToString) -> FerryError {
        target_error(&self.endpoint, table, message)
    }

    /// What `_ferry_state` holds for `migration`, unless `table` is missing or empty.
    async fn read_state(&self, client: &Client, migration: &str, table: &str) -> Result<Option<SavedState>> {
        let pg = |e: tokio_postgres::Error| self.error(STATE_TABLE, pg_message(&e));
        let present = |name: &str| format!("to_regclass('{}') IS NOT NULL", name.replace('\'', "''"));
        let row = client
            .query_one(&format!("SELECT {}, {}", present(STATE_TABLE), present(&quote_table(table))), &[])
            .await
            .map_err(pg)?;
        if !row.get::<_, bool>(0) || !row.get::<_, bool>(1) {
            return Ok(None);
        }
        let has_rows = client
            .query_opt(&format!("SELECT 1 FROM {} LIMIT 1", quote_table(table)), &[])
            .await
            .map_err(|e| self.error(table, pg_message(&e)))?
            .is_some();
        if !has_rows {
            return Ok(None);
        }
        let saved = client
            .query_opt(
                &format!("SELECT cursor_column, watermark FROM {STATE_TABLE} WHERE migration = $1"),
                &[&migration],
            )
            .await
            .map_err(pg)?;
        Ok(saved.map(|row| SavedState { cursor: row.get(0), watermark: row.get(1) }))
    }

    /// The sink's session: the one `state` opened, or a new one.
    async fn session(&mut self) -> Result<Session> {
        match self.client.take() {
            Some(client) => Ok(client),
            None => Session::open(&self.endpoint, self.shared.as_ref()).await,
        }
    }
}

/// `"schema"."table"` or `"table"`.
fn quote_table(table: &str) -> String {
    crate::db::merge::quote_table(Dialect::Postgres, table)
}

fn quote(identifier: &str) -> String {
    crate::db::merge::quote(Dialect::Postgres, identifier)
}

#[async_trait]
impl Sink for PostgresSink {
    async fn state(&mut self, migration: &str, table: &str) -> Result<Option<SavedState>> {
        let client = self.session().await?;
        let state = self.read_state(&client, migration, table).await;
        self.client = Some(client); // prepare goes on in the same session
        state
    }

    async fn prepare(&mut self, spec: &LoadSpec) -> Result<Box<dyn PreparedLoad>> {
        let client = self.session().await?;
        let mut create = None;
        let mut columns = Vec::new();
        let existing =
            existing_columns(&*client, &spec.table).await.map_err(|e| self.error(&spec.table, pg_message(&e)))?;
        let target = if existing.is_empty() {
            let (columns, target) = new_table_columns(spec, "PostgreSQL", new_column_type, quote, write_type)?;
            create = Some(format!("CREATE TABLE {} ({columns})", quote_table(&spec.table)));
            target
        } else {
            let existing_columns: Vec<TargetColumn> = existing.iter().map(|c| c.column.clone()).collect();
            columns = existing;
            if spec.mode == WriteMode::Merge {
                let unique =
                    unique_keys(&client, &spec.table).await.map_err(|e| self.error(&spec.table, pg_message(&e)))?;
                check_unique_key(spec, &unique)?;
            }
            match_columns(spec, &existing_columns)?
        };
        let endpoint = self.endpoint.clone();
        Ok(Box::new(PostgresLoad { endpoint, client, spec: spec.clone(), create, columns, target }))
    }
}

#[async_trait]
impl PreparedLoad for PostgresLoad {
    fn schema(&self) -> SchemaRef {
        self.target.clone()
    }

    fn digest(&self) -> Option<Box<dyn TableDigest>> {
        // Rows of a shared transaction are the owner's to verify (they are not published yet).
        if self.client.is_shared() {
            return None;
        }
        Some(Box::new(PostgresDigest::new(self.endpoint.clone(), self.spec.table.clone(), &self.target)))
    }

    async fn write_all(self: Box<Self>, rows: RowStream) -> Result<Loaded> {
        let endpoint = self.endpoint.clone();
        let mut committed_shadow = None;
        let written = self.write(rows, &mut committed_shadow).await;
        // A shadow committed for several writers goes with a failed load (best effort: a kill
        // leaves it to the next load of the table, which drops it first).
        if let (Err(_), Some(shadow)) = (&written, committed_shadow) {
            if let Ok(client) = pg_connect(&endpoint).await {
                let _ = client.batch_execute(&format!("DROP TABLE IF EXISTS {shadow}")).await;
            }
        }
        written
    }
}

impl PostgresLoad {
    async fn write(self, mut rows: RowStream, committed_shadow: &mut Option<String>) -> Result<Loaded> {
        let PostgresLoad { endpoint, client, spec, create, columns: mut table_columns, target } = self;
        let spec = &spec;
        let table = spec.table.clone();
        let pg = |e: tokio_postgres::Error| target_error(&endpoint, &table, pg_message(&e));
        // A failure leaves the transaction open: closing the connection (or the shared
        // transaction's owner) rolls it back.
        client.begin().await.map_err(pg)?;
        let transaction: &Client = &client;
        // Rows copied into a table this transaction made or truncated can be written frozen:
        // no reader (the reconciliation's read-back first) has to set their hint bits later.
        let mut emptied_here = create.is_some();
        // A replace of an existing table fills a shadow table that is swapped in at the end.
        let mut swap = None;
        let (mut method, mut note) = (None, None);
        if spec.mode == WriteMode::Replace
            && create.is_none()
            && !client.is_shared()
            && spec.publish != Publish::InPlace
        {
            match swap::plan(transaction, &quote_table(&table)).await.map_err(pg)? {
                Plan::Swap(planned) => {
                    planned.create(transaction).await.map_err(pg)?;
                    (swap, method, emptied_here) = (Some(planned), Some("swap"), true);
                }
                Plan::InPlace(why) if spec.publish == Publish::Swap => {
                    return Err(target_error(
                        &endpoint,
                        &table,
                        format!("`publish = \"swap\"`, but the table cannot be swapped: {why}; use `publish = \"in_place\"` (readers then wait for the load), or change the table"),
                    ));
                }
                Plan::InPlace(why) => (method, note) = (Some("in place"), Some(why)),
            }
        } else if spec.mode == WriteMode::Replace && create.is_none() {
            method = Some("in place");
        }
        if let Some(create) = &create {
            transaction.batch_execute(create).await.map_err(pg)?;
            table_columns = existing_columns(transaction, &table).await.map_err(pg)?;
        } else if spec.mode == WriteMode::Replace && swap.is_none() {
            // TRUNCATE refuses a table another table's foreign key references, even when no row
            // does: such a table's rows are deleted instead (which fails only if rows refer to them).
            // Only the table's own rows go, not those of tables inheriting from it; a partitioned
            // table's rows are its partitions'.
            let about = "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE confrelid = to_regclass($1) \
                         AND contype = 'f' AND conrelid <> confrelid), \
                         (SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass($1))";
            let about = transaction.query_one(about, &[&quote_table(&table)]).await.map_err(pg)?;
            let (referenced, partitioned): (bool, Option<bool>) = (about.get(0), about.get(1));
            let empty = if referenced { "DELETE FROM" } else { "TRUNCATE" };
            let only = if partitioned.unwrap_or(false) { "" } else { " ONLY" };
            transaction.batch_execute(&format!("{empty}{only} {}", quote_table(&table))).await.map_err(pg)?;
            emptied_here = !referenced && !partitioned.unwrap_or(false);
        }
        // All the table's rows come from this load: its indexes are built once, after the rows.
        let emptied = (create.is_some() || spec.mode == WriteMode::Replace) && swap.is_none();
        let deferred =
            if emptied { Some(defer_indexes(transaction, &quote_table(&table)).await.map_err(pg)?) } else { None };
        let wires = wires(&target, &table_columns);
        let names: Vec<String> = target.fields().iter().map(|f| f.name().clone()).collect();
        let columns: Vec<String> = names.iter().map(|n| quote(n)).collect();
        // Merged rows, and text PostgreSQL cannot receive in binary for its column's type, land
        // in a temporary table first and move into the table in the same transaction.
        let staged = spec.mode == WriteMode::Merge || wires.contains(&WireType::Cast);
        if staged {
            let staged_columns: Vec<String> = columns
                .iter()
                .zip(&wires)
                .map(|(column, wire)| match wire {
                    WireType::Cast => format!("{column}::text AS {column}"),
                    _ => column.clone(),
                })
                .collect();
            transaction
                .batch_execute(&format!(
                    "CREATE TEMPORARY TABLE {STAGING} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA",
                    staged_columns.join(", "),
                    quote_table(&table)
                ))
                .await
                .map_err(pg)?;
        }
        // Where the rows go: the table, or its shadow (which `sink` names as it names tables).
        let into = swap.as_ref().map_or(table.clone(), |swap| swap.shadow_name.clone());
        let copy_into = if staged { STAGING.to_string() } else { quote_table(&into) };
        // Several writers need the shadow committed (empty) first, so that their connections
        // see it; it is still published only by the swap.
        let writers = if swap.is_some() && !staged { spec.writers.max(1) } else { 1 };
        let freeze = if emptied_here && !staged && writers == 1 { ", FREEZE" } else { "" };
        let copy = format!("COPY {copy_into} ({}) FROM STDIN (FORMAT binary{freeze})", columns.join(", "));
        let mut rejects = RejectSpill::default();
        let loaded = if writers > 1 {
            client.commit().await.map_err(pg)?;
            *committed_shadow = swap.as_ref().map(|swap| swap.shadow.clone());
            let loaded = copy_in_parallel(&endpoint, &table, &copy, &wires, writers, &mut rows, &mut rejects).await?;
            client.begin().await.map_err(pg)?;
            loaded
        } else {
            let sink = transaction.copy_in::<_, Bytes>(copy.as_str()).await.map_err(pg)?;
            let mut sink = std::pin::pin!(sink);
            let mut buffer = BytesMut::with_capacity(FLUSH_BYTES * 2);
            header(&mut buffer);
            while let Some(batch) = rows.next().await {
                match batch? {
                    SinkBatch::Rows(batch) => {
                        encode_batch(&batch, &wires, &mut buffer).map_err(|e| target_error(&endpoint, &table, e))?;
                        if buffer.len() >= FLUSH_BYTES {
                            sink.send(buffer.split().freeze()).await.map_err(pg)?;
                        }
                    }
                    SinkBatch::Rejects(batch) => {
                        rejects.push(&batch).map_err(|e| target_error(&endpoint, REJECTS_TABLE, e))?
                    }
                }
            }
            trailer(&mut buffer);
            sink.send(buffer.split().freeze()).await.map_err(pg)?;
            sink.as_mut().finish().await.map_err(pg)?
        };
        let (mut updated, mut unchanged) = (0, 0);
        if staged {
            let key = key_columns(spec, &target);
            if spec.mode == WriteMode::Merge {
                let found = transaction.query(&duplicates_sql(Dialect::Postgres, &key), &[]).await.map_err(pg)?;
                if !found.is_empty() {
                    let found: Vec<(Vec<Option<String>>, i64, i64)> = found
                        .iter()
                        .map(|row| {
                            ((0..key.len()).map(|i| row.get(i)).collect(), row.get(key.len()), row.get(key.len() + 1))
                        })
                        .collect();
                    return Err(duplicates_error(spec, &found));
                }
                // A table created by this load holds no keys yet: nothing to match.
                if create.is_none() {
                    let compared: Vec<(String, String)> = names
                        .iter()
                        .zip(&columns)
                        .zip(&wires)
                        .filter(|((name, _), _)| !key.contains(name))
                        .map(|((name, column), wire)| {
                            let sql_type =
                                table_columns.iter().find(|c| c.column.name == *name).map(|c| &c.column.sql_type);
                            let staged = match (wire, sql_type) {
                                (WireType::Cast, Some(sql_type)) => format!("CAST(s.{column} AS {sql_type})"),
                                _ => format!("s.{column}"),
                            };
                            (name.clone(), staged)
                        })
                        .collect();
                    let sql = matched_sql(Dialect::Postgres, &table, &key, &compared);
                    let matched = transaction.query_one(&sql, &[]).await.map_err(pg)?;
                    unchanged = matched.get::<_, i64>(1) as u64;
                    updated = matched.get::<_, i64>(0) as u64 - unchanged;
                }
            }
            let selected: Vec<String> = names
                .iter()
                .zip(&columns)
                .zip(&wires)
                .map(|((name, column), wire)| {
                    let sql_type = table_columns.iter().find(|c| c.column.name == *name).map(|c| &c.column.sql_type);
                    match (wire, sql_type) {
                        (WireType::Cast, Some(sql_type)) => format!("CAST({column} AS {sql_type})"),
                        _ => column.clone(),
                    }
                })
                .collect();
            let merge_key = (spec.mode == WriteMode::Merge && create.is_none()).then_some(key.as_slice());
            let insert = insert_sql(Dialect::Postgres, &into, &names, &selected, merge_key);
            // Dropped now rather than at commit: the next load of a shared transaction makes it again.
            transaction.batch_execute(&format!("{insert}; DROP TABLE {STAGING}")).await.map_err(pg)?;
        }
        if let Some(deferred) = deferred {
            deferred.rebuild(transaction).await.map_err(pg)?;
        }
        write_rejects(transaction, spec, rejects).await.map_err(|e| target_error(&endpoint, REJECTS_TABLE, e))?;
        if let Some(watermark) = &spec.watermark {
            let pg_state = |e: tokio_postgres::Error| target_error(&endpoint, STATE_TABLE, pg_message(&e));
            transaction.batch_execute(&if_not_exists(create_table(&state_table()))).await.map_err(pg_state)?;
            let value = watermark.text()?;
            transaction
                .execute(
                    &save_state_sql(Dialect::Postgres),
                    &[&spec.migration, &watermark.cursor, &value, &spec.run_id],
                )
                .await
                .map_err(pg_state)?;
        }
        if let Some(swap) = &swap {
            swap.build(transaction).await.map_err(|message| target_error(&endpoint, &table, message))?;
            // Last, so that the lock it takes is held for as short a time as can be.
            swap.swap(transaction).await.map_err(|e| swap_error(&endpoint, &table, &e))?;
        }
        client.commit().await.map_err(pg)?;
        if let Some(swap) = &swap {
            if let Err(error) = swap.validate(transaction).await {
                tracing::warn!(table = %table, error = %pg_message(&error), "a foreign key moved to the new table is left NOT VALID");
            }
        }
        Ok(Loaded { rows: loaded, updated, unchanged, method, note })
    }
}

/// A swap that failed: a lock not granted in time is said as such, with what to do.
fn swap_error(endpoint: &Endpoint, table: &str, error: &tokio_postgres::Error) -> FerryError {
    if error.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) {
        return target_error(
            endpoint,
            table,
            "the new rows were ready, but the table could not be locked for the swap within lock_timeout \
             (10 s unless set): a long query or transaction is using it; nothing was changed. Run again later, \
             raise lock_timeout (e.g. `?options=-c%20lock_timeout%3D60s` in the URL), or use `publish = \"in_place\"`",
        );
    }
    target_error(endpoint, table, pg_message(error))
}

/// The column sets of the table's primary key and unique indexes (those an upsert can match on).
async fn unique_keys(client: &Client, table: &str) -> std::result::Result<Vec<Vec<String>>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT array_agg(a.attname::text ORDER BY k.n) FROM pg_index i \
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL GROUP BY i.indexrelid",
            &[&quote_table(table)],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}
