//! Several migrations at once (`ferry run --jobs N`): independent migrations overlap, a migration
//! never starts before those it depends on have succeeded, the targets and reports are the same
//! whatever the number of jobs, and a failure stops new starts.

use std::path::Path;

use ferry::connection::Endpoint;
use ferry::incremental::RunOptions;
use ferry::job::Parts;
use ferry::job::{Overrides, Plan};
use ferry::report::{RunReport, Status};
use ferry::run::{run_with, Progress};

use crate::common::{job_dir, sqlite_rows};

/// The shipped job from a generated SQLite source into `target` (`sqlite://` or `file://` and a
/// path in `dir`), `jobs` at a time.
async fn shipped(dir: &Path, target: &str, jobs: usize) -> RunReport {
    let source = dir.join("source.db");
    let (scheme, path) = target.split_once("://").unwrap();
    let overrides = Overrides {
        source: Some(format!("sqlite://{}", source.display())),
        target: Some(format!("{scheme}://{}", dir.join(path).display())),
    };
    let plan = Plan::load(&dir.join("ferry.toml"), &overrides).unwrap();
    let options = RunOptions { jobs: Some(jobs), ..Default::default() };
    run_with(&plan, &[], &options, Progress::Quiet).await.unwrap()
}

fn instant(report: &RunReport, name: &str) -> (f64, f64) {
    let migration = report.migrations.iter().find(|m| m.name == name).unwrap();
    let started = chrono::DateTime::parse_from_rfc3339(migration.started_at.as_deref().unwrap()).unwrap();
    let started = started.timestamp_micros() as f64 / 1e6;
    (started, started + migration.seconds)
}

/// What a report says that does not depend on timing.
fn counts(report: &RunReport) -> Vec<String> {
    report
        .migrations
        .iter()
        .map(|m| {
            let checks: Vec<String> =
                m.checks.iter().map(|c| format!("{} {:?} {}", c.name, c.status, c.failing)).collect();
            format!(
                "{} {:?} read {} loaded {} rejected {} {:?} checks {checks:?} reconciled {:?}",
                m.name,
                m.status,
                m.rows_read,
                m.rows_loaded,
                m.rows_rejected,
                m.rejects,
                m.reconciliation.as_ref().map(|r| (r.status, r.rows_in_target))
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_migrations_overlap_and_results_do_not_depend_on_jobs() {
    let dir = job_dir(&[]);
    ferry::generate::generate(&Endpoint::Sqlite(dir.path().join("source.db")), 3_000, true).await.unwrap();
    let one = shipped(dir.path(), "sqlite://one.db", 1).await;
    let three = shipped(dir.path(), "sqlite://three.db", 3).await;
    assert_eq!(one.error, None);
    assert_eq!(three.error, None);
    assert_eq!(counts(&one), counts(&three));
    for sql in [
        "SELECT * FROM target_users ORDER BY 1",
        "SELECT * FROM target_orders ORDER BY 1",
        "SELECT * FROM target_cleaned_data ORDER BY 1",
        // Without the run's id and time.
        "SELECT migration, source_key, reason, source_row FROM _ferry_rejects ORDER BY 1, 2, 3",
    ] {
        let (a, b) = (sqlite_rows(&dir.path().join("one.db"), sql), sqlite_rows(&dir.path().join("three.db"), sql));
        assert!(!a.is_empty(), "{sql}: no rows");
        assert!(a == b, "{sql}: {} rows with one job, {} with three, or different values", a.len(), b.len());
    }
    // One at a time, each starts after the one before has finished (start times are to the
    // millisecond, durations by another clock: a few milliseconds of slack). So it is with three
    // jobs into one SQLite file, which takes one writer at a time.
    let slack = 0.005;
    let names: Vec<&str> = one.migrations.iter().map(|m| m.name.as_str()).collect();
    for report in [&one, &three] {
        let mut spans: Vec<(f64, f64)> = names.iter().map(|name| instant(report, name)).collect();
        spans.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in spans.windows(2) {
            assert!(pair[1].0 + slack >= pair[0].1, "{pair:?}");
        }
    }
    // Three at a time into Parquet: users and cleaned_data start together, orders waits for users.
    let three = shipped(dir.path(), "file://lake", 3).await;
    assert_eq!(three.error, None);
    let (users, cleaned, orders) =
        (instant(&three, "users"), instant(&three, "cleaned_data"), instant(&three, "orders"));
    assert!(cleaned.0 < users.1 && users.0 < cleaned.1, "users {users:?}, cleaned_data {cleaned:?}");
    assert!(orders.0 + slack >= users.1, "users {users:?}, orders {orders:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_stops_new_starts_and_dependents_are_skipped() {
    // users' source table is gone, so users fails and orders (which depends on it) never starts;
    // cleaned_data, independent, runs beside it.
    let dir = job_dir(&[]);
    let source = dir.path().join("source.db");
    ferry::generate::generate(&Endpoint::Sqlite(source.clone()), 100, true).await.unwrap();
    rusqlite::Connection::open(&source)
        .unwrap()
        .execute_batch("PRAGMA foreign_keys = OFF; DROP TABLE source_table")
        .unwrap();
    let report = shipped(dir.path(), "file://lake", 3).await;
    let statuses: Vec<(&str, Status)> = report.migrations.iter().map(|m| (m.name.as_str(), m.status)).collect();
    assert_eq!(statuses, [("users", Status::Failed), ("orders", Status::Skipped), ("cleaned_data", Status::Succeeded)]);
    assert!(report.error.as_deref().unwrap_or_default().contains("source_table"), "{:?}", report.error);
    assert!(report.migrations[1].started_at.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_of_one_run_at_once_into_one_parquet_location() {
    // One load publishes (and cleans up) while another of the same run is still writing: each
    // stages apart, so the second still publishes all its rows.
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;
    use ferry::db::{LoadSpec, SinkBatch, WriteMode};
    use futures::StreamExt;

    let dir = tempfile::tempdir().unwrap();
    let lake = Endpoint::parse(&format!("file://{}", dir.path().display()), Path::new(".")).unwrap();
    let schema = std::sync::Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let spec = |name: &str| LoadSpec {
        migration: name.to_string(),
        run_id: "run-1".to_string(),
        table: name.to_string(),
        mode: WriteMode::Replace,
        key: Vec::new(),
        schema: schema.clone(),
        watermark: None,
        publish: ferry::db::Publish::Auto,
        writers: 1,
    };
    // Values that do not compress, so that the slow load's file reaches the disk before it ends.
    let batch = |from: i64, rows: i64| {
        let ids =
            Int64Array::from_iter_values((from..from + rows).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_u64 as i64)));
        Ok(SinkBatch::Rows(RecordBatch::try_new(schema.clone(), vec![std::sync::Arc::new(ids)]).unwrap()))
    };
    let backend = ferry::db::open(&lake);
    let slow = backend.sink().unwrap().prepare(&spec("slow")).await.unwrap();
    let fast = backend.sink().unwrap().prepare(&spec("fast")).await.unwrap();
    let (sender, receiver) = futures::channel::mpsc::unbounded();
    for part in 0..25 {
        sender.unbounded_send(batch(part * 100_000, 100_000)).unwrap();
    }
    let slow = tokio::spawn(slow.write_all(receiver.boxed()));
    // The slow load has written its first row groups to a staged file.
    let staged = dir.path().join("_ferry_staging");
    for _ in 0..100 {
        let written: u64 = walk(&staged).iter().map(|f| f.metadata().map(|m| m.len()).unwrap_or(0)).sum();
        if written > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(!walk(&staged).is_empty(), "the slow load staged nothing");
    let fast = fast.write_all(futures::stream::iter([batch(0, 10)]).boxed()).await.unwrap();
    assert_eq!(fast.rows, 10);
    sender.unbounded_send(batch(2_500_000, 10)).unwrap();
    drop(sender);
    assert_eq!(slow.await.unwrap().unwrap().rows, 2_500_010);
    assert!(!dir.path().join("_ferry_staging").exists());
}

#[test]
fn jobs_zero_is_refused() {
    let dir = job_dir(&[]);
    let output = crate::common::ferry().current_dir(dir.path()).args(["run", "--jobs", "0"]).output().unwrap();
    assert!(!output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "error: --jobs 0: give at least 1\n");
}

/// The files below `folder`, at any depth.
fn walk(folder: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    entries
        .flatten()
        .flat_map(|entry| match entry.path().is_dir() {
            true => walk(&entry.path()),
            false => vec![entry.path()],
        })
        .collect()
}

/// A report's migrations without what depends on timing (start, seconds, rates) or names the
/// target database.
fn timeless(report: &RunReport) -> serde_json::Value {
    let mut value = serde_json::to_value(&report.migrations).unwrap();
    for migration in value.as_array_mut().unwrap() {
        let fields = migration.as_object_mut().unwrap();
        for timed in ["started_at", "seconds", "rows_per_second", "target"] {
            fields.remove(timed);
        }
    }
    value
}

/// The shipped job read in 1 part one migration at a time, and in 8 parts (8 partitions through
/// the pipeline) 3 migrations at once (PostgreSQL source, on one snapshot): the same targets,
/// rejects and reports, check samples included (a warning check that most rows fail is added, so
/// that its sample has rows to choose from: the smallest keys).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_do_not_depend_on_partitions() {
    let source = crate::common::PgDatabase::new();
    ferry::generate::generate(&source.endpoint(), 6_000, true).await.unwrap();
    let dir = job_dir(&[]);
    let job = dir.path().join("ferry.toml");
    let mut text = std::fs::read_to_string(&job).unwrap();
    text.push_str("\n[[migrations.checks]]\nname = \"young\"\ntype = \"range\"\ncolumn = \"age\"\nmax = 20\nseverity = \"warn\"\n");
    std::fs::write(&job, text).unwrap();
    let mut reports = Vec::new();
    let mut tables = Vec::new();
    for (parts, jobs) in [(1, 1), (8, 3)] {
        let target = crate::common::PgDatabase::new();
        let overrides = Overrides { source: Some(source.url.clone()), target: Some(target.url.clone()) };
        let plan = Plan::load(&dir.path().join("ferry.toml"), &overrides).unwrap();
        let options = RunOptions { partitions: Some(Parts::Exactly(parts)), jobs: Some(jobs), ..Default::default() };
        let report = run_with(&plan, &[], &options, Progress::Quiet).await.unwrap();
        assert_eq!(report.error, None, "{parts} parts");
        reports.push(timeless(&report));
        tables.push(
            [
                "SELECT * FROM target_users ORDER BY 1",
                "SELECT * FROM target_orders ORDER BY 1",
                "SELECT * FROM target_cleaned_data ORDER BY 1",
                "SELECT migration, source_key, reason, source_row::text FROM _ferry_rejects ORDER BY 1, 2, 3, 4",
            ]
            .map(|sql| target.rows(sql)),
        );
    }
    assert!(tables[0].iter().all(|rows| !rows.is_empty()));
    assert!(tables[0] == tables[1], "the targets differ between 1 and 8 parts");
    let young = &reports[0][2]["checks"][4];
    assert_eq!(young["name"], "young");
    assert!(young["failing"].as_u64().unwrap() > 1000 && young["sample"].as_array().unwrap().len() == 10, "{young}");
    assert_eq!(reports[0], reports[1]);
}
