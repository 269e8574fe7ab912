//! What a copy builds on a table once its rows are in: secondary indexes, CHECK constraints,
//! identity columns moved past the copied rows, and the foreign keys whose referenced tables are
//! in too, while the other tables still load (and, where the engine allows, while the table is
//! read back). The keys to tables loaded later wait for the end of the loads; views come last.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::db::{Backend, ForeignKeyDef, TableDef, ViewDef};
use crate::error::Result;
use crate::incremental::AfterPublish;
use crate::report::SchemaObject;

/// The tables of one copy and what has been built on them so far.
pub(super) struct Later {
    target: Arc<dyn Backend>,
    /// By name, in the copy's order.
    tables: Vec<TableDef>,
    creates: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Tables whose rows are in.
    loaded: BTreeSet<String>,
    /// Per table, what was built or failed.
    done: BTreeMap<String, Vec<SchemaObject>>,
    /// Per table, the foreign keys whose referenced table was not in yet.
    waiting: BTreeMap<String, Vec<ForeignKeyDef>>,
}

impl Later {
    pub fn new(target: Arc<dyn Backend>, tables: &[TableDef], creates: bool) -> Arc<Later> {
        Arc::new(Later { target, tables: tables.to_vec(), creates, state: Mutex::default() })
    }

    /// The run's hook: each published table gets what can be built on it now.
    pub fn hook(self: &Arc<Self>) -> AfterPublish {
        let later = self.clone();
        AfterPublish(Arc::new(move |name: String| {
            let later = later.clone();
            Box::pin(async move { later.table_in(&name).await })
        }))
    }

    async fn table_in(&self, name: &str) {
        let Some(table) = self.tables.iter().find(|t| t.name == name) else { return };
        let (now, waiting): (Vec<ForeignKeyDef>, Vec<ForeignKeyDef>) = match self.state.lock() {
            Ok(mut state) => {
                state.loaded.insert(name.to_string());
                let loaded = &state.loaded;
                table.foreign_keys.iter().cloned().partition(|key| loaded.contains(&key.referenced_table))
            }
            Err(_) => return,
        };
        let done = after_rows(self.target.as_ref(), table, &now, self.creates, false).await;
        let done = done.unwrap_or_else(|error| vec![failed(name, "indexes", error)]);
        if let Ok(mut state) = self.state.lock() {
            state.done.insert(name.to_string(), done);
            state.waiting.insert(name.to_string(), waiting);
        }
    }

    /// After the loads: the keys that waited for their referenced tables; then every table's
    /// objects, in the copy's order of tables and each table's order of objects.
    pub async fn finish(&self) -> Vec<SchemaObject> {
        let waiting = match self.state.lock() {
            Ok(mut state) => std::mem::take(&mut state.waiting),
            Err(_) => BTreeMap::new(),
        };
        let mut late: BTreeMap<String, Vec<SchemaObject>> = BTreeMap::new();
        for (name, keys) in waiting {
            let Some(table) = self.tables.iter().find(|t| t.name == name) else { continue };
            late.insert(name, foreign_keys(self.target.as_ref(), table, &keys, self.creates, false).await);
        }
        let mut done = match self.state.lock() {
            Ok(mut state) => std::mem::take(&mut state.done),
            Err(_) => BTreeMap::new(),
        };
        let mut all = Vec::new();
        for table in &self.tables {
            let mut objects = done.remove(&table.name).unwrap_or_default();
            objects.extend(late.remove(&table.name).unwrap_or_default());
            let order = objects_in_order(table);
            objects.sort_by_key(|object| order.iter().position(|o| *o == object.object).unwrap_or(usize::MAX));
            all.extend(objects);
        }
        all
    }
}

/// A table's objects as the report lists them: indexes, checks, foreign keys, identity columns.
fn objects_in_order(table: &TableDef) -> Vec<String> {
    let indexes = table.indexes.iter().map(|index| format!("index {}", index.name));
    let checks = table.checks.iter().map(|check| format!("check {}", check.name));
    let keys = table.foreign_keys.iter().map(|key| format!("foreign key {}", key.name));
    let identities = table.columns.iter().filter(|c| c.identity).map(|c| format!("identity {}", c.name));
    indexes.chain(checks).chain(keys).chain(identities).collect()
}

fn failed(table: &str, object: &str, error: impl ToString) -> SchemaObject {
    SchemaObject::new(table, object.into(), "failed", Some(error.to_string()))
}

/// After the rows: the secondary indexes, `keys` (foreign keys left for after the rows), and
/// identity columns moved past the copied rows. A dry run only says what it would do.
pub(super) async fn after_rows(
    target: &dyn Backend,
    table: &TableDef,
    keys: &[ForeignKeyDef],
    creates: bool,
    dry_run: bool,
) -> Result<Vec<SchemaObject>> {
    let mut done = Vec::new();
    if creates {
        for index in &table.indexes {
            let sql = target.create_index_sql(&table.name, index)?;
            done.push(apply(target, &table.name, format!("index {}", index.name), sql, dry_run).await);
        }
        for check in &table.checks {
            if let Some(sql) = target.add_check_sql(&table.name, check) {
                done.push(apply(target, &table.name, format!("check {}", check.name), sql, dry_run).await);
            }
        }
    }
    done.extend(foreign_keys(target, table, keys, creates, dry_run).await);
    for column in table.columns.iter().filter(|c| c.identity) {
        let object = format!("identity {}", column.name);
        if dry_run {
            done.push(SchemaObject::new(&table.name, object, "planned", None));
            continue;
        }
        done.push(match target.reset_identity(&table.name, &column.name).await {
            Ok(()) => SchemaObject::new(&table.name, object, "created", None),
            Err(error) => failed(&table.name, &object, error),
        });
    }
    Ok(done)
}

/// `keys` of `table`: added now, or (made with the table, where the engine cannot add them
/// later, and not checked while the rows loaded) checked now against the rows.
async fn foreign_keys(
    target: &dyn Backend,
    table: &TableDef,
    keys: &[ForeignKeyDef],
    creates: bool,
    dry_run: bool,
) -> Vec<SchemaObject> {
    let mut done = Vec::new();
    if !creates {
        return done;
    }
    let status = if dry_run { "planned" } else { "created" };
    for key in keys {
        let object = format!("foreign key {}", key.name);
        done.push(match target.add_foreign_key_sql(&table.name, key) {
            Ok(Some(sql)) => apply(target, &table.name, object, sql, dry_run).await,
            Ok(None) if dry_run => SchemaObject::new(&table.name, object, status, None),
            Ok(None) => match target.unchecked_rows(&table.name, key).await {
                Ok(0) => SchemaObject::new(&table.name, object, status, None),
                Ok(rows) => {
                    let detail = format!(
                        "{rows} rows reference no row of `{}`; the key is part of the table (made with it), \
                         so those rows are kept as the source has them",
                        key.referenced_table
                    );
                    failed(&table.name, &object, detail)
                }
                Err(error) => failed(&table.name, &object, error),
            },
            Err(error) => failed(&table.name, &object, error),
        });
    }
    done
}

/// Runs one statement of the copy (a dry run only shows it); a failure is reported, not fatal:
/// the rows are in by then.
async fn apply(target: &dyn Backend, table: &str, object: String, sql: String, dry_run: bool) -> SchemaObject {
    if dry_run {
        return SchemaObject::new(table, object, "planned", Some(sql));
    }
    match target.execute(&sql).await {
        Ok(()) => SchemaObject::new(table, object, "created", None),
        Err(error) => SchemaObject::new(table, object, "failed", Some(error.to_string())),
    }
}

/// Creates the views, in passes (a view that reads another view not made yet waits for the next).
pub(super) async fn create_views(target: &dyn Backend, views: Vec<ViewDef>) -> Vec<SchemaObject> {
    let views = views.into_iter().map(|view| Made { table: view.name, object: "view".into(), sql: view.create });
    in_passes(target, views.collect()).await
}

/// Creates objects listed as (the name the report lists it under, its kind, its statement), in
/// passes.
pub(super) async fn create_listed(target: &dyn Backend, listed: Vec<(String, String, String)>) -> Vec<SchemaObject> {
    let made = listed.into_iter().map(|(table, object, sql)| Made { table, object, sql });
    in_passes(target, made.collect()).await
}

/// One object to make: the name the report lists it under, its kind and its statement.
struct Made {
    table: String,
    object: String,
    sql: String,
}

/// Runs each statement; those that fail go again in the next pass as long as a pass makes
/// progress; what still fails is reported with the engine's error.
async fn in_passes(target: &dyn Backend, mut pending: Vec<Made>) -> Vec<SchemaObject> {
    let mut done = Vec::new();
    loop {
        let mut failed = Vec::new();
        let before = pending.len();
        for made in pending {
            match target.execute(&made.sql).await {
                Ok(()) => done.push(SchemaObject::new(&made.table, made.object, "created", None)),
                Err(error) => failed.push((made, error)),
            }
        }
        if failed.is_empty() || failed.len() == before {
            for (made, error) in failed {
                done.push(SchemaObject::new(&made.table, made.object, "failed", Some(error.to_string())));
            }
            return done;
        }
        pending = failed.into_iter().map(|(made, _)| made).collect();
    }
}
