//! Several migrations at once (`ferry run --jobs N`): independent migrations overlap, a migration
//! never starts before those it depends on have succeeded, the targets and reports are the same
//! whatever the number of jobs, and a failure stops new starts.

use std::path::Path;

use ferry::connection::Endpoint;
use ferry::incremental::RunOptions;
use ferry::job::{Overrides, Plan};
use ferry::report::{RunReport, Status};
use ferry::run::{run_with, Progress};

use crate::common::{job_dir, sqlite_rows};

/// The shipped job from a generated SQLite source into a SQLite file, `jobs` at a time.
async fn shipped(dir: &Path, target: &str, jobs: usize) -> RunReport {
    let (source, target) = (dir.join("source.db"), dir.join(target));
    let overrides = Overrides {
        source: Some(format!("sqlite://{}", source.display())),
        target: Some(format!("sqlite://{}", target.display())),
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
    let one = shipped(dir.path(), "one.db", 1).await;
    let three = shipped(dir.path(), "three.db", 3).await;
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
    // millisecond, durations by another clock: a few milliseconds of slack).
    let slack = 0.005;
    let names: Vec<&str> = one.migrations.iter().map(|m| m.name.as_str()).collect();
    for pair in names.windows(2) {
        assert!(instant(&one, pair[1]).0 + slack >= instant(&one, pair[0]).1, "{pair:?}");
    }
    // Three at a time: users and cleaned_data start together, orders waits for users.
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
    let report = shipped(dir.path(), "target.db", 3).await;
    let statuses: Vec<(&str, Status)> = report.migrations.iter().map(|m| (m.name.as_str(), m.status)).collect();
    assert_eq!(statuses, [("users", Status::Failed), ("orders", Status::Skipped), ("cleaned_data", Status::Succeeded)]);
    assert!(report.error.as_deref().unwrap_or_default().contains("source_table"), "{:?}", report.error);
    assert!(report.migrations[1].started_at.is_none());
}

#[test]
fn jobs_zero_is_refused() {
    let dir = job_dir(&[]);
    let output = crate::common::ferry().current_dir(dir.path()).args(["run", "--jobs", "0"]).output().unwrap();
    assert!(!output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "error: --jobs 0: give at least 1\n");
}
