//! `ferry init`: a commented starter job, so that a new user starts from a file that works.
//! Given a source, one migration per source table (`SELECT *` in `queries/<table>.sql`, keyed by
//! the table's primary key), which the user then edits into the transformations they want.

use std::path::{Path, PathBuf};

use crate::cli::InitArgs;
use crate::connection::Endpoint;
use crate::db::TableDef;
use crate::error::{FerryError, Result};
use crate::job::{Overrides, Plan};

const HEADER: &str = "\
# ferry's job: the connections, and the migrations between them (written by `ferry init`).
#   ferry run                  every migration, in dependency order
#   ferry run NAME...          only those
#   ferry check                the migrations' checks on their target tables as they are
#   ferry sql \"SELECT ...\"     SQL over every connection (`source.table`, `target.table`)
#   ferry copy --source URL --target URL    a whole database, schema and all, without a job
# `${NAME}` is read from the environment; `${NAME:-default}` falls back to the default.
# Relative paths (sqlite://, file://) start at this file's folder. Passwords: in the URL,
# PGPASSWORD / ~/.pgpass / MYSQL_PWD, or `password_file` (see the README).
";

const EXAMPLE: &str = "
# A migration: rows of `source` through a DataFusion SQL query into a table of `target`.
# [[migrations]]
# name = \"users\"
# source = \"source\"
# query = \"queries/users.sql\"        # SELECT ... FROM users (the source's tables by name)
# target = \"target\"
# table = \"users\"
# mode = \"replace\"                   # replace | append | merge | incremental (with cursor = ...)
# key = [\"id\"]
#
# Checks run on the rows before they are published; an `error` check that fails keeps the
# target as it was.
# [[migrations.checks]]
# type = \"unique\"
# columns = [\"id\"]
";

/// Writes `ferry.toml` (and the query files) into `folder`, then loads it back as a check.
pub async fn init(args: &InitArgs, folder: &Path) -> Result<()> {
    let job = folder.join("ferry.toml");
    if job.exists() && !args.force {
        return Err(FerryError::Job(format!(
            "{} exists; edit it, or run `ferry init --force` to overwrite it",
            job.display()
        )));
    }
    let source = args.source.clone().unwrap_or_else(|| "${FERRY_SOURCE:-sqlite://source.db}".to_string());
    let target = args.target.clone().unwrap_or_else(|| "${FERRY_TARGET:-sqlite://target.db}".to_string());
    let tables = match &args.source {
        Some(url) => {
            let endpoint = Endpoint::parse(url, folder)?;
            crate::db::open(&endpoint).catalog().await?.tables
        }
        None => Vec::new(),
    };
    let mut text = format!("{HEADER}\n[connections]\nsource = {}\ntarget = {}\n", quoted(&source), quoted(&target));
    let mut queries = Vec::new();
    let mut names = std::collections::HashSet::new();
    for table in &tables {
        // A migration's name is a plain identifier, and unique.
        let plain = plain_name(&table.name);
        let mut name = plain.clone();
        for number in 2.. {
            if names.insert(name.clone()) {
                break;
            }
            name = format!("{plain}_{number}");
        }
        let (entry, query) = migration(&name, table);
        text.push_str(&entry);
        queries.push(query);
    }
    if tables.is_empty() {
        text.push_str(EXAMPLE);
    }
    for (path, _) in &queries {
        let path = folder.join(path);
        if path.exists() && !args.force {
            return Err(FerryError::Job(format!(
                "{} exists; run `ferry init --force` to overwrite it",
                path.display()
            )));
        }
    }
    for (path, sql) in queries {
        write_file(&folder.join(path), &sql)?;
    }
    write_file(&job, &text)?;
    if !tables.is_empty() {
        Plan::load(&job, &Overrides::default())?;
    }
    eprintln!("wrote {} with {} migration(s); edit it, then `ferry run`", job.display(), tables.len());
    Ok(())
}

/// A table's `[[migrations]]` entry and its query file (path relative to the job, SQL).
fn migration(name: &str, table: &TableDef) -> (String, (PathBuf, String)) {
    let file = PathBuf::from("queries").join(format!("{name}.sql"));
    let columns: Vec<String> = table.columns.iter().map(|c| format!("\"{}\"", c.name.replace('"', "\"\""))).collect();
    let sql = format!(
        "-- {name}: every column as it is; transform here (DataFusion SQL).\nSELECT {}\nFROM \"{}\"\n",
        columns.join(", "),
        table.name.replace('"', "\"\""),
        name = table.name
    );
    // A job's table names are plain identifiers: a table named otherwise lands under the
    // migration's name (`ferry copy` keeps every name as it is).
    let renamed =
        if name == table.name { String::new() } else { format!("# from the source table {}\n", quoted(&table.name)) };
    let mut entry = format!(
        "\n[[migrations]]\n{renamed}name = {}\nsource = \"source\"\nquery = {}\ntarget = \"target\"\ntable = {}\nmode = \"replace\"\n",
        quoted(name),
        quoted(&file.to_string_lossy()),
        quoted(name)
    );
    if !table.primary_key.is_empty() {
        let key: Vec<String> = table.primary_key.iter().map(|k| quoted(k)).collect();
        entry.push_str(&format!("key = [{}]\n", key.join(", ")));
    }
    (entry, (file, sql))
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// A table's name as a migration's (and its query file's): letters, digits, `-` and `_`, the
/// rest `_`, starting with a letter.
fn plain_name(table: &str) -> String {
    let name: String =
        table.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    match name.chars().next() {
        Some(first) if first.is_ascii_alphabetic() => name,
        _ => format!("t_{name}"),
    }
}

/// Writes `text` to `path`, making its folder first.
pub fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| FerryError::Io { path: parent.to_path_buf(), source })?;
    }
    std::fs::write(path, text).map_err(|source| FerryError::Io { path: path.to_path_buf(), source })
}
