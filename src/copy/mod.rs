//! `ferry copy`: a whole database, schema and rows, from one engine to another in one command.
//! The source's catalog is read, the chosen tables are created in the target with their primary
//! keys, their rows move through the same streaming pipeline as migrations (one replace per
//! table, read back and reconciled), then the secondary indexes and foreign keys are built and
//! identity columns set past the copied rows.

mod casts;
mod job;
mod journal;
mod later;
mod names;
mod plan;
mod routines;
mod rows;
mod verify;
mod zero_dates;

pub use crate::job::copies::{CopyOptions, IfExists, Names};
pub use crate::report::SchemaObject;
pub use job::run_job;
pub use plan::glob_matches;
pub use verify::{junit_suites, verify};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::connection::Endpoint;
use crate::db::{self, Backend, Catalog, TableDef};
use crate::error::{FerryError, Result};
use crate::report::RunReport;

/// What a copy did: the rows, per table as a run reports them, and the schema objects.
#[derive(Debug, serde::Serialize)]
pub struct CopyReport {
    #[serde(flatten)]
    pub run: RunReport,
    pub schema: Vec<SchemaObject>,
    /// The DDL a dry run would have run, in order.
    pub ddl: Vec<String>,
}

impl CopyReport {
    /// The run's table, then one line per schema object that was not simply created.
    pub fn text(&self) -> String {
        let mut out = if self.run.migrations.is_empty() { String::new() } else { self.run.table() };
        out.push_str(&crate::report::schema_lines(&self.schema));
        for statement in &self.ddl {
            out.push_str(&format!("{statement};\n"));
        }
        out
    }
}

/// Copies the chosen tables of `source` into `target`.
pub async fn copy(source: &Endpoint, target: &Endpoint, options: &CopyOptions) -> Result<CopyReport> {
    if options.schema_only && options.data_only {
        return Err(FerryError::Job("--schema-only and --data-only exclude each other; give one".into()));
    }
    let (source, target, schema_ddl) = in_schemas(source, target, options).await?;
    let from = db::open(&source);
    if !options.single_transaction {
        return copy_with(&source, from, db::open(&target), schema_ddl, options).await;
    }
    let to = db::open(&target).single_transaction().await?;
    let copied = copy_with(&source, from, to.clone(), schema_ddl, options).await;
    let commit = matches!(&copied, Ok(report) if report.run.error.is_none() && !options.dry_run);
    if commit {
        to.finish(true).await?;
    } else {
        // Closing the connection rolls back as well, should the server not answer.
        let _ = to.finish(false).await;
    }
    let mut report = copied?;
    if let Some(error) = &mut report.run.error {
        error
            .push_str("; the copy ran in one transaction (--single-transaction), rolled back: the target is as it was");
    }
    Ok(report)
}

/// [`copy`] from the source's backend into the target's.
async fn copy_with(
    source: &Endpoint,
    from: Arc<dyn Backend>,
    to: Arc<dyn Backend>,
    schema_ddl: Option<String>,
    options: &CopyOptions,
) -> Result<CopyReport> {
    if let Some(database) = from.database() {
        database.tables().await?; // a source that cannot be read says so here, before anything is written
    }
    let Chosen { catalog, tables, sources, converted, skipped } = choose(from.as_ref(), to.as_ref(), options).await?;
    let (mut tables, mut schema) = (tables, skipped);
    let target_catalog = to.catalog().await?;
    let existing: Vec<String> = target_catalog.tables.iter().map(|t| t.name.clone()).collect();
    if !options.schema_only {
        for found in zero_dates::count(from.as_ref(), &tables, &sources, true).await? {
            schema.push(zero_dates::line(&mut tables, found));
        }
    }
    if options.resume {
        let done = journal::finished(to.as_ref(), source).await?;
        for name in tables.iter().map(|t| &t.name).filter(|name| done.contains(name) && existing.contains(name)) {
            let detail = "loaded and reconciled by an earlier copy";
            schema.push(SchemaObject::new(name, "table".into(), "skipped", Some(detail.into())));
        }
        tables.retain(|t| !(done.contains(&t.name) && existing.contains(&t.name)));
    }
    let present: Vec<String> = tables.iter().map(|t| t.name.clone()).filter(|name| existing.contains(name)).collect();
    // Resuming, a table the earlier copy made but did not finish is made anew.
    let if_exists = if options.resume { IfExists::Replace } else { options.if_exists };
    if !options.data_only && !present.is_empty() {
        match if_exists {
            IfExists::Fail => {
                let listed: Vec<String> = present.iter().map(|n| format!("`{n}`")).collect();
                return Err(FerryError::Job(format!(
                    "`{}` already has {}; nothing was written. Use --if-exists replace to copy them anew, \
                     --if-exists skip to leave them, or --data-only to load their rows",
                    to.endpoint(),
                    listed.join(", ")
                )));
            }
            IfExists::Skip => {
                tables.retain(|t| !present.contains(&t.name));
                for name in &present {
                    schema.push(SchemaObject::new(name, "table".into(), "skipped", Some("it exists".into())));
                }
            }
            IfExists::Replace => {}
        }
    }
    let creates = to.capabilities().runs_sql && !options.data_only;
    let makes_schema = schema_ddl.is_some();
    let mut ddl: Vec<String> = schema_ddl.into_iter().collect();
    // Within one engine the source's extensions come first: its tables' types and indexes may
    // be theirs (PostgreSQL's citext, hstore, pg_trgm...).
    let same_engine = from.name() == to.name();
    let extensions: Vec<(&String, String)> = match creates && same_engine {
        true => catalog.extensions.iter().filter_map(|e| Some((e, to.create_extension_sql(e)?))).collect(),
        false => Vec::new(),
    };
    if creates {
        if if_exists == IfExists::Replace {
            // Referencing tables first: their keys would hold the others.
            for name in present.iter().rev() {
                ddl.push(to.drop_table_sql(name)?);
            }
        }
        for table in &tables {
            ddl.push(to.create_table_sql(&without_later_keys(to.as_ref(), table)?)?);
        }
    }
    let views = if options.names != Names::Keep {
        for view in &catalog.views {
            let detail = "a view's SQL names the source's tables and columns; views are copied with --names keep";
            schema.push(SchemaObject::new(&view.name, "view".into(), "skipped", Some(detail.into())));
        }
        Vec::new()
    } else if creates {
        plan::views(&catalog, from.as_ref(), to.as_ref(), &options.tables, &options.exclude, &mut schema)
    } else {
        Vec::new()
    };
    // The routines and triggers within one engine and one schema name; else each is reported.
    let target_schema = target_catalog.schema.as_deref().or(options.target_schema.as_deref());
    let code_why_not = routines::why_not(
        from.as_ref(),
        to.as_ref(),
        options.names == Names::Keep,
        (catalog.schema.as_deref(), target_schema),
    );
    let code = creates && code_why_not.is_none();
    if creates && code_why_not.is_some() {
        // Triggers across engines were reported with their tables.
        let tables: &[TableDef] = if same_engine { &tables } else { &[] };
        schema.extend(routines::listed(&catalog, tables, "skipped", code_why_not.as_deref()));
    }
    if options.dry_run {
        if code {
            schema.extend(routines::listed(&catalog, &tables, "planned", None));
        }
        for (extension, sql) in extensions {
            schema.push(SchemaObject::new(extension, "extension".into(), "planned", Some(sql)));
        }
        if !options.schema_only {
            for found in zero_dates::count(from.as_ref(), &tables, &sources, false).await? {
                schema.push(zero_dates::line(&mut tables, found));
            }
        }
        for view in &views {
            schema.push(SchemaObject::new(&view.name, "view".into(), "planned", Some(view.create.clone())));
        }
        for table in &tables {
            if creates {
                schema.push(SchemaObject::new(&table.name, "table".into(), "planned", None));
            }
            schema.extend(later::after_rows(to.as_ref(), table, &table.foreign_keys, creates, true).await?);
        }
        return Ok(CopyReport { run: empty_run(), schema, ddl });
    }
    if makes_schema {
        to.execute(&ddl.remove(0)).await?;
    }
    for (extension, sql) in extensions {
        // One the target's server lacks fails the tables that need it, with their own errors.
        let (status, detail) = match to.execute(&sql).await {
            Ok(()) => ("created", None),
            Err(error) => ("failed", Some(error.to_string())),
        };
        schema.push(SchemaObject::new(extension, "extension".into(), status, detail));
    }
    if !ddl.is_empty() {
        to.execute(&ddl.join(";\n")).await?;
    }
    for table in &tables {
        if creates {
            schema.push(SchemaObject::new(&table.name, "table".into(), "created", None));
        }
    }
    // Each table is all or nothing: the ones loaded get their indexes and keys as soon as their
    // rows are in, a failed one (named in the report) none, and views wait for every table.
    let later = later::Later::new(to.clone(), &tables, creates);
    let run = match options.schema_only {
        true => empty_run(),
        false => {
            // Keys made with the table (SQLite's) are not checked while the rows load (tables
            // whose keys form a cycle could not load otherwise), but against them afterwards.
            // Where a target cannot load so, its referenced tables go first: one at a time.
            // Only where the copy makes the tables: it then checks their keys (data only, the
            // loads check them).
            let unchecked = if creates { to.keys_unchecked() } else { None };
            let mut checked_now = false;
            for table in &tables {
                checked_now |= !without_later_keys(to.as_ref(), table)?.foreign_keys.is_empty();
            }
            checked_now &= unchecked.is_none();
            let loads_to = unchecked.unwrap_or_else(|| to.clone());
            // One transaction is one connection, and a one-writer target one writer: one table
            // at a time.
            let one_at_a_time = checked_now || options.single_transaction || to.capabilities().one_writer;
            let workers = if one_at_a_time { 1 } else { options.workers.max(1) };
            // A table's load is retried on its own; in one transaction a failure ends it all.
            let retries = if options.single_transaction { 0 } else { 3 };
            let mut sizes = Vec::new();
            let database = from.database();
            for table in &tables {
                let name = sources.get(&table.name).map_or(&table.name, |source| &source.name);
                let estimate = match &database {
                    Some(database) => database.estimate(name).await.unwrap_or_default(),
                    None => Default::default(),
                };
                sizes.push(estimate.bytes.or(estimate.rows).unwrap_or(0) as u64);
            }
            let (run, nullable) = tokio::join!(
                rows::move_rows(
                    source,
                    &loads_to,
                    &tables,
                    &sources,
                    &converted,
                    (workers, retries, later.hook()),
                    &sizes
                ),
                zero_dates::count(from.as_ref(), &tables, &sources, false)
            );
            for found in nullable? {
                schema.push(zero_dates::line(&mut tables, found));
            }
            run?
        }
    };
    if options.single_transaction && run.error.is_some() {
        return Ok(CopyReport { run, schema, ddl: Vec::new() }); // all of it is rolled back
    }
    let loaded = |table: &TableDef| {
        options.schema_only
            || run.migrations.iter().any(|m| m.name == table.name && m.status == crate::report::Status::Succeeded)
    };
    if options.schema_only {
        for table in &tables {
            schema.extend(later::after_rows(to.as_ref(), table, &table.foreign_keys, creates, false).await?);
        }
    }
    schema.extend(later.finish().await);
    let finished: Vec<String> = tables.iter().filter(|t| loaded(t)).map(|t| t.name.clone()).collect();
    if !options.schema_only {
        journal::record(to.as_ref(), source, &run.run_id, &finished).await?;
    }
    if run.error.is_none() {
        // A view an earlier copy made stays as it is.
        let views = views.into_iter().filter(|v| !target_catalog.views.iter().any(|t| t.name == v.name)).collect();
        if creates {
            // Before the views, which may call them.
            schema.extend(routines::create(to.as_ref(), &catalog, &tables, code).await);
        }
        schema.extend(later::create_views(to.as_ref(), views).await);
    }
    Ok(CopyReport { run, schema, ddl: Vec::new() })
}

/// The endpoints in the schemas asked for: a source schema that does not exist is an error
/// naming those that do; a target schema that does not exist is made (the statement returned).
async fn in_schemas(
    source: &Endpoint,
    target: &Endpoint,
    options: &CopyOptions,
) -> Result<(Endpoint, Endpoint, Option<String>)> {
    let (mut from, mut to, mut create) = (source.clone(), target.clone(), None);
    if let Some(schema) = &options.source_schema {
        let backend = db::open(source);
        let known = backend.schemas().await?;
        if !known.contains(schema) {
            let listed: Vec<String> = known.iter().map(|s| format!("`{s}`")).collect();
            return Err(FerryError::Job(format!(
                "--source-schema: `{source}` has no schema `{schema}`; it has {}",
                listed.join(", ")
            )));
        }
        from = backend.in_schema(schema)?;
    }
    if let Some(schema) = &options.target_schema {
        let backend = db::open(target);
        if !backend.schemas().await?.contains(schema) {
            create = Some(backend.create_schema_sql(schema)?);
        }
        to = backend.in_schema(schema)?;
    }
    Ok((from, to, create))
}

/// The tables a copy chooses, each as the target gets it.
struct Chosen {
    catalog: Catalog,
    /// As the target names them, referenced tables first.
    tables: Vec<TableDef>,
    /// Each table as the source has it, by its name in the target.
    sources: BTreeMap<String, TableDef>,
    /// (table, column) pairs the copy's query converts.
    converted: BTreeSet<(String, String)>,
    /// What is not made as it was, and why.
    skipped: Vec<SchemaObject>,
}

/// Reads the source's catalog and chooses and translates its tables; writes nothing.
async fn choose(from: &dyn Backend, to: &dyn Backend, options: &CopyOptions) -> Result<Chosen> {
    let catalog = from.catalog().await?;
    if catalog.tables.is_empty() {
        return Err(FerryError::Job(format!("`{}` has no tables to copy", from.endpoint())));
    }
    let casts = crate::job::copies::parse_casts(&options.casts)?;
    let mut selection = plan::select(&catalog, from, &options.tables, &options.exclude)?;
    let mut converted = casts::apply(&mut selection.tables, &casts)?;
    plan::translate(&mut selection, from, to, &mut converted, options.names == Names::Keep)?;
    let sources = names::rename(&mut selection.tables, options.names)?;
    Ok(Chosen { catalog, tables: selection.tables, sources, converted, skipped: selection.skipped })
}

/// The table as created before its rows: foreign keys the target can add afterwards are left
/// for then (so tables load in any order, cycles included).
fn without_later_keys(target: &dyn Backend, table: &TableDef) -> Result<TableDef> {
    let mut created = table.clone();
    let (mut kept, mut later) = (Vec::new(), Vec::new());
    for key in &table.foreign_keys {
        match target.add_foreign_key_sql(&table.name, key)? {
            None => kept.push(key.clone()),
            Some(_) => later.push(key.clone()),
        }
    }
    (created.foreign_keys, created.later_keys) = (kept, later);
    Ok(created)
}

pub(crate) fn empty_run() -> RunReport {
    RunReport {
        run_id: crate::run::new_run_id(),
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        migrations: Vec::new(),
        error: None,
        error_kind: None,
        schema: Vec::new(),
    }
}
