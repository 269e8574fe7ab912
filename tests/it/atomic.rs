//! A failure in the middle of a load leaves the target exactly as it was, on every target kind:
//! the old rows are still there (replace mode), no new row is visible, no table is left created,
//! and no reject is recorded.

use std::path::Path;

use ferry::connection::Endpoint;
use ferry::job::{Overrides, Plan};
use ferry::run::{run, Progress};

use crate::common::{sqlite_rows, MysqlDatabase, PgDatabase};

/// 40,000 users: the query fails at id 30,000, after the first batches were written.
const FAILING_QUERY: &str = "SELECT CAST(id AS INT) AS user_id, name AS full_name, CAST(100 / (id - 30000) AS BIGINT) AS boom FROM source_table";
/// The same rows without the failure, for the first (successful) load.
const GOOD_QUERY: &str =
    "SELECT CAST(id AS INT) AS user_id, name AS full_name, CAST(id AS BIGINT) AS boom FROM source_table WHERE id <= 3";

pub async fn source(dir: &Path) -> String {
    let path = dir.join("source.db");
    ferry::generate::generate(&Endpoint::Sqlite(path.clone()), 40_000, false).await.unwrap();
    format!("sqlite://{}", path.display())
}

/// Runs one migration of `query` from `source` into table `t` of `target`; returns the error.
pub async fn load(dir: &Path, source: &str, target: &str, query: &str, mode: &str) -> Option<String> {
    load_with(dir, source, target, query, mode, "").await
}

/// [`load`], with `extra` lines in the migration.
pub async fn load_with(dir: &Path, source: &str, target: &str, query: &str, mode: &str, extra: &str) -> Option<String> {
    std::fs::create_dir_all(dir.join("queries")).unwrap();
    std::fs::write(dir.join("queries/q.sql"), query).unwrap();
    let job = format!(
        "[connections]\nsource = \"{source}\"\ntarget = \"{target}\"\n[[migrations]]\nname = \"m\"\nsource = \"source\"\n\
         query = \"queries/q.sql\"\ntarget = \"target\"\ntable = \"t\"\nmode = \"{mode}\"\nkey = [\"user_id\"]\n{extra}\n"
    );
    let plan = Plan::from_toml(&job, "job.toml", dir, &Overrides::default()).unwrap();
    run(&plan, &[], Progress::Quiet).await.unwrap().error
}

fn assert_failed_mid_load(error: Option<String>) {
    let error = error.expect("the load must fail");
    assert!(error.to_lowercase().contains("divide by zero"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_target_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path()).await;
    let target = PgDatabase::new();
    // No table yet: a failed first load must not leave one behind.
    assert_failed_mid_load(load(dir.path(), &source, &target.url, FAILING_QUERY, "replace").await);
    assert!(target.rows("SELECT 1 FROM pg_tables WHERE tablename IN ('t', '_ferry_rejects')").is_empty());
    assert_eq!(load(dir.path(), &source, &target.url, GOOD_QUERY, "replace").await, None);
    let before = target.rows("SELECT * FROM t ORDER BY user_id");
    assert_eq!(before.len(), 3);
    assert_failed_mid_load(load(dir.path(), &source, &target.url, FAILING_QUERY, "replace").await);
    assert_eq!(target.rows("SELECT * FROM t ORDER BY user_id"), before);
    assert_failed_mid_load(load(dir.path(), &source, &target.url, FAILING_QUERY, "append").await);
    assert_eq!(target.rows("SELECT * FROM t ORDER BY user_id"), before);
    // A failure inside the database (a duplicate key on append) rolls back just the same.
    let error = load(dir.path(), &source, &target.url, GOOD_QUERY, "append").await.expect("duplicate keys");
    assert!(error.contains("duplicate key"), "{error}");
    assert_eq!(target.rows("SELECT * FROM t ORDER BY user_id"), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_target_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path()).await;
    let target = MysqlDatabase::new();
    let tables =
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 't'";
    assert_failed_mid_load(load(dir.path(), &source, &target.url, FAILING_QUERY, "replace").await);
    assert!(target.rows(tables).is_empty(), "a table created by a failed load is dropped again");
    assert_eq!(load(dir.path(), &source, &target.url, GOOD_QUERY, "replace").await, None);
    let before = target.rows("SELECT * FROM t ORDER BY user_id");
    assert_eq!(before.len(), 3);
    assert_failed_mid_load(load(dir.path(), &source, &target.url, FAILING_QUERY, "replace").await);
    assert_eq!(target.rows("SELECT * FROM t ORDER BY user_id"), before);
    let error = load(dir.path(), &source, &target.url, GOOD_QUERY, "append").await.expect("duplicate keys");
    assert!(error.contains("Duplicate entry"), "{error}");
    assert_eq!(target.rows("SELECT * FROM t ORDER BY user_id"), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_target_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path()).await;
    let target_path = dir.path().join("target.db");
    let target = format!("sqlite://{}", target_path.display());
    assert_failed_mid_load(load(dir.path(), &source, &target, FAILING_QUERY, "replace").await);
    assert!(sqlite_rows(&target_path, "SELECT name FROM sqlite_master").is_empty());
    assert_eq!(load(dir.path(), &source, &target, GOOD_QUERY, "replace").await, None);
    let before = sqlite_rows(&target_path, "SELECT * FROM t ORDER BY user_id");
    assert_eq!(before.len(), 3);
    assert_failed_mid_load(load(dir.path(), &source, &target, FAILING_QUERY, "replace").await);
    assert_eq!(sqlite_rows(&target_path, "SELECT * FROM t ORDER BY user_id"), before);
    let error = load(dir.path(), &source, &target, GOOD_QUERY, "append").await.expect("duplicate keys");
    assert!(error.contains("UNIQUE constraint failed"), "{error}");
    assert_eq!(sqlite_rows(&target_path, "SELECT * FROM t ORDER BY user_id"), before);
}

fn files(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        walk(folder).into_iter().map(|p| p.strip_prefix(folder).unwrap().display().to_string()).collect();
    names.sort();
    names
}

pub fn walk(folder: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else { return vec![] };
    entries.flatten().flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] }).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_target_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path()).await;
    let lake = dir.path().join("lake");
    let target = format!("file://{}", lake.display());
    assert_failed_mid_load(load(dir.path(), &source, &target, FAILING_QUERY, "replace").await);
    assert!(files(&lake).is_empty(), "{:?}", files(&lake));
    assert_eq!(load(dir.path(), &source, &target, GOOD_QUERY, "replace").await, None);
    let before = files(&lake);
    assert_eq!(before.iter().filter(|f| f.ends_with(".parquet")).count(), 1, "{before:?}");
    assert_failed_mid_load(load(dir.path(), &source, &target, FAILING_QUERY, "replace").await);
    assert_eq!(files(&lake), before);
    assert_failed_mid_load(load(dir.path(), &source, &target, FAILING_QUERY, "append").await);
    assert_eq!(files(&lake), before);
}

/// The rows of Parquet table `t` as ferry's own source reads them.
pub async fn parquet_rows(lake: &Path) -> usize {
    let url = url::Url::parse(&format!("file://{}/t/", lake.display())).unwrap();
    let ctx = datafusion::prelude::SessionContext::new();
    let table = ferry::db::parquet::listing_table(&ctx, &url).await.unwrap();
    let batches = ctx.read_table(table).unwrap().collect().await.unwrap();
    batches.iter().map(|b| b.num_rows()).sum()
}

fn manifest(lake: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(lake.join("t/_ferry_manifest.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut files: Vec<String> =
        json["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect();
    files.sort();
    files
}

fn parquet_files(lake: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(lake.join("t"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".parquet"))
        .collect();
    names.sort();
    names
}

/// A Parquet table is the files its manifest lists: a publish killed after its files were
/// renamed in (simulated: a file the manifest does not list) shows nothing of them, and the
/// next publish removes them; a replace lists only its files, an append adds its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parquet_table_is_what_its_manifest_lists() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path()).await;
    let lake = dir.path().join("lake");
    let target = format!("file://{}", lake.display());
    assert_eq!(load(dir.path(), &source, &target, GOOD_QUERY, "replace").await, None);
    assert_eq!(manifest(&lake), parquet_files(&lake));
    assert_eq!(parquet_rows(&lake).await, 3);
    let published = lake.join("t").join(&parquet_files(&lake)[0]);
    std::fs::copy(&published, lake.join("t/part-killed-00000.parquet")).unwrap();
    assert_eq!(parquet_rows(&lake).await, 3, "a file the manifest does not list is not read");
    let five = GOOD_QUERY.replace("id <= 3", "id <= 5");
    assert_eq!(load(dir.path(), &source, &target, &five, "replace").await, None);
    assert_eq!(parquet_rows(&lake).await, 5);
    assert_eq!(parquet_files(&lake).len(), 1, "the old file and the killed run's are gone");
    assert_eq!(manifest(&lake), parquet_files(&lake));
    let more = GOOD_QUERY.replace("id <= 3", "id > 39997");
    assert_eq!(load(dir.path(), &source, &target, &more, "append").await, None);
    assert_eq!(parquet_rows(&lake).await, 8);
    assert_eq!(manifest(&lake).len(), 2);
    assert_eq!(manifest(&lake), parquet_files(&lake));
}

/// Several writers into a Parquet table: each its own files, all listed by the one manifest,
/// every row there once (the reconciliation says so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_writers_write_a_parquet_table() {
    let dir = tempfile::tempdir().unwrap();
    let source = source(dir.path()).await;
    let lake = dir.path().join("lake");
    let target = format!("file://{}", lake.display());
    let all = "SELECT CAST(id AS INT) AS user_id, name AS full_name, CAST(id AS BIGINT) AS boom FROM source_table";
    assert_eq!(load_with(dir.path(), &source, &target, all, "replace", "writers = 3").await, None);
    assert_eq!(parquet_rows(&lake).await, 40_000);
    assert_eq!(manifest(&lake).len(), 3, "40,000 rows come in 3 batches, one for each writer");
    assert_eq!(manifest(&lake), parquet_files(&lake));
    // No rows: one empty file still gives the table its schema.
    let none = format!("{all} WHERE id < 0");
    assert_eq!(load_with(dir.path(), &source, &target, &none, "replace", "writers = 3").await, None);
    assert_eq!((parquet_rows(&lake).await, parquet_files(&lake).len()), (0, 1));
}
