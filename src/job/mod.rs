//! The job file (`ferry.toml`) and the validated [`Plan`] made from it.
//!
//! Parse, then validate, then run: everything here reads only the job file and its query files;
//! no database is touched, so bad input fails before any connection opens.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::connection::Endpoint;
use crate::db::{Backend, Publish, Reading};
use crate::error::{FerryError, Result};
use check_plan::check_all_checks;
use checks::{check_checks, Check};
use migration::{check_migration, MigrationFile};

pub mod check_plan;
pub mod checks;
mod cluster;
mod connections;
pub mod copies;
mod migration;
mod mode;
mod query;
pub mod size;

/// The memory a run's queries may hold together when the job does not say.
pub const DEFAULT_MEMORY_LIMIT: usize = 512 << 20;

pub use cluster::{check_cluster, scheduler_address, ClusterRun, CLUSTER_JOB};
pub use mode::{check_writers, Mode, Parts};
pub use query::parse_query;

/// `ferry.toml` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobFile {
    /// Connection name -> URL (`postgres://`, `mysql://`, `sqlite://`, `file://`, `s3://`), or
    /// `{ url = "...", password_file = "..." }`.
    #[serde(default)]
    connections: BTreeMap<String, connections::ConnectionFile>,
    /// The migrations, in any order; `depends_on` sets the order they run in.
    #[serde(default)]
    migrations: Vec<MigrationFile>,
    /// Whole databases copied, schema and rows, before the migrations run.
    #[serde(default)]
    copies: Vec<copies::CopyFile>,
    /// The memory the run's queries may hold together (`512MB` by default); beyond it they
    /// spill to disk where they can, or fail saying so.
    #[serde(default)]
    memory_limit: Option<String>,
    /// A Ballista cluster (`df://HOST:PORT`) that computes the migrations' queries, over their
    /// sources staged to Parquet under `stage`.
    #[serde(default)]
    cluster: Option<String>,
    #[serde(default)]
    stage: Option<String>,
}

/// A named connection of the job.
#[derive(Clone, Debug)]
pub struct Connection {
    pub name: String,
    pub endpoint: Endpoint,
    /// How a whole-database copy reads; the default for migrations.
    pub reading: Reading,
    /// The backend already opened for it (a copy's single transaction); None opens one per use.
    pub backend: Option<Arc<dyn Backend>>,
}

impl Connection {
    pub fn new(name: &str, endpoint: Endpoint) -> Self {
        Connection { name: name.to_string(), endpoint, reading: Reading::default(), backend: None }
    }

    /// The backend to read and write it through.
    pub fn backend(&self) -> Arc<dyn Backend> {
        self.backend.clone().unwrap_or_else(|| crate::db::open(&self.endpoint))
    }
}

/// One migration, checked: its connections exist, its query file was read and parses.
#[derive(Clone, Debug)]
pub struct MigrationPlan {
    pub name: String,
    pub source: Connection,
    pub target: Connection,
    /// The query file as the job names it, for messages.
    pub query_file: String,
    pub query_sql: String,
    pub table: String,
    pub mode: Mode,
    pub key: Vec<String>,
    /// Incremental mode's cursor column (of the query's output).
    pub cursor: Option<String>,
    /// Partitions the query keeps (each source table read in as many parts).
    pub partitions: Parts,
    /// Whole subqueries over one database sent to it (`source::pushdown`).
    pub pushdown: bool,
    pub depends_on: Vec<String>,
    /// Checks run on the rows before they are published, in the order written.
    pub checks: Vec<Check>,
    /// Whether a run reads the published table back to compare it with the rows sent.
    pub reconcile: bool,
    /// How a replace publishes over an existing table.
    pub publish: Publish,
    /// Writers of the rows at once (connections into a swapped PostgreSQL replace, Parquet
    /// files); unset, the target's choice.
    pub writers: Option<usize>,
}

/// A job ready to run: every connection parsed, every migration checked, in dependency order.
#[derive(Clone, Debug)]
pub struct Plan {
    pub connections: BTreeMap<String, Connection>,
    pub migrations: Vec<MigrationPlan>,
    /// Run before the migrations, in the order written.
    pub copies: Vec<copies::CopyPlan>,
    /// Bytes the run's queries may hold together (DataFusion's memory pool).
    pub memory_limit: usize,
    /// Where the queries run when not here (`cluster`, `stage`).
    pub cluster: Option<ClusterRun>,
}

/// Command-line replacements for the connections named `source` and `target`.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub source: Option<String>,
    pub target: Option<String>,
}

impl Plan {
    /// Reads and validates a job file.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Plan> {
        let text =
            std::fs::read_to_string(path).map_err(|source| FerryError::JobFile { path: path.to_path_buf(), source })?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        Plan::from_toml(&text, &path.display().to_string(), &base, overrides)
    }

    /// Validates a job given as text; `origin` names it in messages, `base` resolves paths.
    pub fn from_toml(text: &str, origin: &str, base: &Path, overrides: &Overrides) -> Result<Plan> {
        let file: JobFile = toml::from_str(text).map_err(|error| toml_error(origin, text, &error))?;
        let mut connections = BTreeMap::new();
        for (name, written) in &file.connections {
            check_identifier(name, "connection name")?;
            connections.insert(name.clone(), connections::check_connection(name, written, origin, base)?);
        }
        let cwd = Path::new(".");
        for (name, url) in [("source", &overrides.source), ("target", &overrides.target)] {
            if let Some(url) = url {
                let endpoint = Endpoint::parse(url, cwd).map_err(|e| FerryError::Job(format!("--{name}: {e}")))?;
                connections.insert(name.to_string(), Connection::new(name, endpoint));
            }
        }
        let mut migrations = Vec::new();
        let mut names = BTreeSet::new();
        for migration in &file.migrations {
            if !names.insert(migration.name.clone()) {
                return Err(FerryError::Job(format!(
                    "`{origin}`: two migrations are named `{}`; names must be unique",
                    migration.name
                )));
            }
            migrations.push(check_migration(migration, &connections, base)?);
        }
        let mut copies = Vec::new();
        for copy in &file.copies {
            if !names.insert(copy.name().to_string()) {
                return Err(FerryError::Job(format!(
                    "`{origin}`: `{}` names two migrations or copies; names must be unique",
                    copy.name()
                )));
            }
            copies.push(copies::check_copy(copy, &connections)?);
        }
        let tables: BTreeSet<String> = migrations.iter().map(|m| m.table.clone()).collect();
        for (plan, file) in migrations.iter_mut().zip(&file.migrations) {
            plan.checks = check_checks(&plan.name, &file.checks, &tables)?;
        }
        check_all_checks(&mut migrations)?;
        for migration in &migrations {
            for dependency in &migration.depends_on {
                if !names.contains(dependency) {
                    return Err(FerryError::Job(format!(
                        "migration `{}` depends on `{dependency}`, which the job does not define; it defines: {}",
                        migration.name,
                        list(&names)
                    )));
                }
            }
        }
        let copied: Vec<String> = copies.iter().map(|c: &copies::CopyPlan| c.name.clone()).collect();
        let migrations = dependency_order(migrations, &copied)?;
        let memory_limit = match &file.memory_limit {
            Some(text) => size::parse_size(text, "memory_limit")?,
            None => DEFAULT_MEMORY_LIMIT,
        };
        let cluster = check_cluster(file.cluster.as_deref(), file.stage.as_deref(), base, &format!("`{origin}`"))?;
        Ok(Plan { connections, migrations, copies, memory_limit, cluster })
    }

    /// The connection a migration or copy of this name writes to.
    pub fn target_of(&self, name: &str) -> Option<&Connection> {
        let migration = self.migrations.iter().find(|m| m.name == name).map(|m| &m.target);
        migration.or_else(|| self.copies.iter().find(|c| c.name == name).map(|c| &c.target))
    }

    /// The names a run can be asked for: the copies', then the migrations'.
    pub fn names(&self) -> Vec<&str> {
        self.copies.iter().map(|c| c.name.as_str()).chain(self.migrations.iter().map(|m| m.name.as_str())).collect()
    }

    /// The copies and the migrations a run or check of `names` (all when empty) takes, the
    /// migrations by name in dependency order; an unknown name is an error listing the known.
    pub fn chosen(&self, names: &[String]) -> Result<(Vec<&copies::CopyPlan>, Vec<String>)> {
        let known = self.names();
        if let Some(unknown) = names.iter().find(|name| !known.contains(&name.as_str())) {
            let listed: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
            return Err(FerryError::Job(format!(
                "unknown migration `{unknown}`; the job defines: {}",
                listed.join(", ")
            )));
        }
        let chosen = |name: &String| names.is_empty() || names.contains(name);
        let copies = self.copies.iter().filter(|c| chosen(&c.name)).collect();
        let migrations = self.migrations.iter().map(|m| m.name.clone()).filter(chosen).collect();
        Ok((copies, migrations))
    }

    /// The migrations to run: all of them, or the named ones, in dependency order.
    pub fn select(&self, names: &[String]) -> Result<Vec<&MigrationPlan>> {
        if names.is_empty() {
            return Ok(self.migrations.iter().collect());
        }
        for name in names {
            if !self.migrations.iter().any(|m| &m.name == name) {
                let known: BTreeSet<String> = self.migrations.iter().map(|m| m.name.clone()).collect();
                return Err(FerryError::Job(format!("unknown migration `{name}`; the job defines: {}", list(&known))));
            }
        }
        Ok(self.migrations.iter().filter(|m| names.contains(&m.name)).collect())
    }
}

/// The connection a migration or copy (`owner`) names as its `role`; an unknown one is an error
/// listing those the job defines.
fn named_connection(
    connections: &BTreeMap<String, Connection>,
    wanted: &str,
    role: &str,
    owner: &str,
) -> Result<Connection> {
    connections.get(wanted).cloned().ok_or_else(|| {
        let known: BTreeSet<String> = connections.keys().cloned().collect();
        FerryError::Job(format!("{owner}: unknown {role} connection `{wanted}`; the job defines: {}", list(&known)))
    })
}

/// Orders migrations so each runs after the ones it depends on; a cycle is an error naming it.
/// Copies run before every migration: a dependency on one is met from the start.
fn dependency_order(migrations: Vec<MigrationPlan>, copies: &[String]) -> Result<Vec<MigrationPlan>> {
    let mut done: Vec<MigrationPlan> = Vec::with_capacity(migrations.len());
    let mut pending = migrations;
    while !pending.is_empty() {
        let met = |d: &String| copies.contains(d) || done.iter().any(|x| &x.name == d);
        let ready = pending.iter().position(|m| m.depends_on.iter().all(met));
        match ready {
            Some(index) => done.push(pending.remove(index)),
            None => {
                let cycle: Vec<String> = pending.iter().map(|m| format!("`{}`", m.name)).collect();
                return Err(FerryError::Job(format!(
                    "dependency cycle among migrations {}; remove one of their `depends_on` entries",
                    cycle.join(", ")
                )));
            }
        }
    }
    Ok(done)
}

/// Names that end up in SQL are plain identifiers, so no quoting trick can reach the database.
pub fn check_identifier(name: &str, what: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(FerryError::Job(format!(
            "{what} `{name}` is not a plain identifier; use letters, digits, `_` and `-`, starting with a letter"
        )))
    }
}

fn list(names: &BTreeSet<String>) -> String {
    if names.is_empty() {
        return "(none)".to_string();
    }
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// One line: the file, line and column, and what is wrong.
fn toml_error(origin: &str, text: &str, error: &toml::de::Error) -> FerryError {
    let position = error.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
        format!(" line {line}, column {column}")
    });
    FerryError::Job(format!("`{origin}`{}: {}", position.unwrap_or_default(), error.message().trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Result<Plan> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("q.sql"), "SELECT 1 AS x").unwrap();
        Plan::from_toml(text, "ferry.toml", dir.path(), &Overrides::default())
    }

    const CONNECTIONS: &str = "[connections]\nsource = \"sqlite://a.db\"\ntarget = \"sqlite://b.db\"\n";

    fn migration(name: &str, depends_on: &str) -> String {
        format!("[[migrations]]\nname = \"{name}\"\nsource = \"source\"\nquery = \"q.sql\"\ntarget = \"target\"\ntable = \"t_{name}\"\ndepends_on = [{depends_on}]\n")
    }

    #[test]
    fn orders_by_dependencies() {
        let text = format!("{CONNECTIONS}{}{}", migration("b", "\"a\""), migration("a", ""));
        let plan = plan(&text).unwrap();
        let names: Vec<_> = plan.migrations.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn reports_a_cycle() {
        let text = format!("{CONNECTIONS}{}{}", migration("b", "\"a\""), migration("a", "\"b\""));
        let error = plan(&text).unwrap_err().to_string();
        assert_eq!(error, "dependency cycle among migrations `b`, `a`; remove one of their `depends_on` entries");
    }

    #[test]
    fn malformed_toml_names_line_and_column() {
        let error = plan("[connections]\nsource = \"sqlite://a.db\"\nbogus = = 1\n").unwrap_err().to_string();
        assert!(error.starts_with("`ferry.toml` line 3, column"), "{error}");
    }

    #[test]
    fn unknown_fields_unknown_connections_and_modes_are_errors() {
        let error = plan(&format!("{CONNECTIONS}[[migrations]]\nname = \"a\"\nsource = \"source\"\nquery = \"q.sql\"\ntarget = \"target\"\ntable = \"t\"\nmodee = \"x\"\n")).unwrap_err().to_string();
        assert!(error.contains("unknown field `modee`"), "{error}");
        let error =
            plan(&format!("{CONNECTIONS}{}", migration("a", "").replace("source = \"source\"", "source = \"nope\"")))
                .unwrap_err()
                .to_string();
        assert_eq!(error, "migration `a`: unknown source connection `nope`; the job defines: `source`, `target`");
        let error = plan(&format!("{CONNECTIONS}{}mode = \"upsert\"\n", migration("a", ""))).unwrap_err().to_string();
        assert_eq!(error, "migration `a`: unknown mode `upsert`; use `replace`, `append`, `merge` or `incremental`");
        let error =
            plan(&format!("{CONNECTIONS}{}publish = \"atomic\"\n", migration("a", ""))).unwrap_err().to_string();
        assert_eq!(error, "migration `a`: unknown publish `atomic`; use `auto`, `swap` or `in_place`");
        let error = plan(&format!("{CONNECTIONS}{}writers = 0\n", migration("a", ""))).unwrap_err().to_string();
        assert_eq!(error, "migration `a`: writers is 0; use a number from 1 to 16");
    }

    #[test]
    fn merge_and_incremental_need_a_key_a_cursor_and_a_database_target() {
        let with = |extra: &str| plan(&format!("{CONNECTIONS}{}{extra}", migration("a", ""))).map(|_| ());
        let message = |extra: &str| with(extra).unwrap_err().to_string();
        insta::assert_snapshot!(message("mode = \"merge\"\n"), @r#"migration `a`: mode `merge` needs `key`, the columns rows are matched on; add e.g. `key = ["id"]`"#);
        insta::assert_snapshot!(message("mode = \"incremental\"\nkey = [\"id\"]\n"), @r#"migration `a`: mode `incremental` needs `cursor`, the output column whose value only grows (e.g. `cursor = "updated_at"`)"#);
        insta::assert_snapshot!(message("key = [\"id\"]\ncursor = \"ts\"\n"), @r#"migration `a`: `cursor = "ts"` is only used by `mode = "incremental"`; set that mode or remove the cursor"#);
        insta::assert_snapshot!(message("mode = \"incremental\"\nkey = [\"id\"]\ncursor = \"a b\"\n"), @"migration `a`: cursor `a b` is not a plain identifier; use letters, digits, `_` and `-`, starting with a letter");
        let parquet = format!("[connections]\nsource = \"sqlite://a.db\"\ntarget = \"file:///tmp/x\"\n{}mode = \"merge\"\nkey = [\"id\"]\n", migration("a", ""));
        insta::assert_snapshot!(plan(&parquet).unwrap_err().to_string(), @"migration `a`: mode `merge` is not supported for Parquet targets (connection `target`): Parquet files cannot update rows; use `replace` or `append`");
        with("mode = \"incremental\"\nkey = [\"id\"]\ncursor = \"ts\"\n").unwrap();
    }

    #[test]
    fn pushdown_is_on_unless_turned_off() {
        let with = |line: &str| plan(&format!("{CONNECTIONS}{}{line}", migration("a", "")));
        assert!(with("").unwrap().migrations[0].pushdown);
        assert!(!with("pushdown = false\n").unwrap().migrations[0].pushdown);
        insta::assert_snapshot!(with("pushdown = \"off\"\n").unwrap_err().to_string(), @r#"`ferry.toml` line 11, column 12: invalid type: string "off", expected a boolean"#);
    }

    #[test]
    fn partitions_are_auto_or_between_1_and_64() {
        let with = |line: &str| plan(&format!("{CONNECTIONS}{}{line}", migration("a", "")));
        insta::assert_snapshot!(with("partitions = 0\n").unwrap_err().to_string(), @r#"migration `a`: partitions is 0; use "auto" or a number from 1 to 64"#);
        insta::assert_snapshot!(with("partitions = \"many\"\n").unwrap_err().to_string(), @r#"migration `a`: partitions is `many`; use "auto" or a number from 1 to 64"#);
        insta::assert_snapshot!(with("partitions = true\n").unwrap_err().to_string(), @r#"`ferry.toml` line 11, column 14: invalid type: boolean `true`, expected "auto" or a number from 1 to 64"#);
        assert_eq!(with("partitions = 4\n").unwrap().migrations[0].partitions, Parts::Exactly(4));
        assert_eq!(with("partitions = \"auto\"\n").unwrap().migrations[0].partitions, Parts::Auto);
        assert_eq!(with("").unwrap().migrations[0].partitions, Parts::Auto);
        assert_eq!(
            Parts::parse("65", "--partitions").unwrap_err().to_string(),
            r#"--partitions is 65; use "auto" or a number from 1 to 64"#
        );
        assert!(Parts::Auto.count(DEFAULT_MEMORY_LIMIT) >= 1);
        assert_eq!(Parts::Auto.count(16 << 20), 1, "a small budget, one partition");
        assert_eq!(Parts::Exactly(8).count(16 << 20), 8);
    }

    #[test]
    fn unsafe_table_names_are_refused() {
        let text = format!("{CONNECTIONS}{}", migration("a", "").replace("t_a", "t; DROP TABLE x"));
        let error = plan(&text).unwrap_err().to_string();
        assert!(error.contains("is not a plain identifier"), "{error}");
    }
}
