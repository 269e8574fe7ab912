//! The three shipped migrations end to end, on every pair the foundation promises:
//! PG -> PG, MySQL -> PG, SQLite -> SQLite and PG -> Parquet. Every target row is compared
//! with what PostgreSQL computes from the same source data (`expected.rs`).

use std::path::Path;

use arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;
use ferry::connection::Endpoint;
use ferry::generate::generate;
use ferry::job::Parts;

use crate::common::{assert_succeeded, job_dir, run_shipped, sqlite_rows, MysqlDatabase, PgDatabase};
use crate::expected::{self, assert_same, Rows};

/// A PostgreSQL source with the generated tables, and PostgreSQL's expectations for them.
async fn pg_source(rows: u64) -> (PgDatabase, [Rows; 5]) {
    let source = PgDatabase::new();
    generate(&source.endpoint(), rows, true).await.unwrap();
    let expected = expected::all(&source);
    (source, expected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_postgres() {
    // 40,000 users and 120,000 orders: several batches per table.
    let (source, expected) = pg_source(40_000).await;
    let target = PgDatabase::new();
    let dir = job_dir(&[]);
    let report = run_shipped(dir.path(), &source.url, &target.url, &[]).await;
    assert_succeeded(&report);
    assert_same(&expected::pg_target(&target), &expected);
    let counts: Vec<(u64, u64, u64)> =
        report.migrations.iter().map(|m| (m.rows_read, m.rows_loaded, m.rows_rejected)).collect();
    assert_eq!(counts[0], (40_005, 40_005, 0));
    assert_eq!(counts[1].0, 120_005);
    assert_eq!(counts[1].2 as usize, expected[2].len());
    assert_eq!(counts[2].2 as usize, expected[4].len());
    // Every table verified by PostgreSQL's own count and checksum, none read back.
    for migration in &report.migrations {
        let reconciliation = migration.reconciliation.as_ref().unwrap();
        assert_eq!(reconciliation.method, Some("in_database"), "{}: {reconciliation:?}", migration.name);
    }
    // The created table carries the key and the NOT NULL the query's output implies.
    let columns = target.rows(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns \
         WHERE table_name = 'target_users' ORDER BY ordinal_position",
    );
    assert_eq!(columns[0], vec![Some("user_id".into()), Some("integer".into()), Some("NO".into())]);
    assert_eq!(columns[2], vec![Some("age_group".into()), Some("text".into()), Some("NO".into())]);

    // Again: replace mode gives the same target, and the rejects are not doubled.
    let again = run_shipped(dir.path(), &source.url, &target.url, &[]).await;
    assert_succeeded(&again);
    assert_same(&expected::pg_target(&target), &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_rows_keep_the_whole_source_row() {
    let (source, _) = pg_source(100).await;
    let target = PgDatabase::new();
    let dir = job_dir(&[]);
    assert_succeeded(&run_shipped(dir.path(), &source.url, &target.url, &[]).await);
    // Record 13 is `('diana Li', 'thirty', 'Seattle, WA, USA')`.
    let rows = target.rows(
        "SELECT migration, source_key, reason, source_row = jsonb_build_object('record_id', 13, 'full_name', 'diana Li', \
         'age', 'thirty', 'location', 'Seattle, WA, USA')::jsonb, run_id <> '' FROM _ferry_rejects WHERE source_key = '13' \
         AND migration = 'cleaned_data'",
    );
    let source_row = source.rows("SELECT full_name, age, location FROM source_unnormalized WHERE record_id = 13");
    assert_eq!(source_row[0], vec![Some("diana Li".into()), Some("thirty".into()), Some("Seattle, WA, USA".into())]);
    assert_eq!(
        rows,
        vec![vec![
            Some("cleaned_data".into()),
            Some("13".into()),
            Some("invalid_age".into()),
            Some("t".into()),
            Some("t".into())
        ]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_to_postgres() {
    let (_pg_source, expected) = pg_source(3_000).await;
    let source = MysqlDatabase::new();
    generate(&source.endpoint(), 3_000, true).await.unwrap();
    let target = PgDatabase::new();
    let dir = job_dir(&[]);
    let report = run_shipped(dir.path(), &source.url, &target.url, &[]).await;
    assert_succeeded(&report);
    assert_same(&expected::pg_target(&target), &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_sqlite() {
    let (_pg_source, expected) = pg_source(3_000).await;
    let dir = job_dir(&[]);
    let source = dir.path().join("source.db");
    let target = dir.path().join("target.db");
    generate(&Endpoint::Sqlite(source.clone()), 3_000, true).await.unwrap();
    let url = |p: &Path| format!("sqlite://{}", p.display());
    let report = run_shipped(dir.path(), &url(&source), &url(&target), &[]).await;
    assert_succeeded(&report);
    assert_same(&sqlite_target(&target), &expected);
}

/// The shipped job's target tables and rejects in a SQLite file, as text in PostgreSQL's forms.
fn sqlite_target(target: &Path) -> [Rows; 5] {
    [
        sqlite_rows(target, "SELECT user_id, full_name, age_group, city, substr(registered_date, 1, 19) FROM target_users ORDER BY user_id"),
        sqlite_rows(target, "SELECT order_id, user_id, printf('%.2f', order_total), substr(order_date, 1, 19) FROM target_orders ORDER BY order_id"),
        sqlite_rows(target, "SELECT source_key, reason FROM _ferry_rejects WHERE migration = 'orders' ORDER BY CAST(source_key AS INTEGER)"),
        sqlite_rows(target, "SELECT record_id, name, age, city FROM target_cleaned_data ORDER BY record_id"),
        sqlite_rows(target, "SELECT source_key, reason FROM _ferry_rejects WHERE migration = 'cleaned_data' ORDER BY CAST(source_key AS INTEGER)"),
    ]
}

/// Every row of a Parquet table folder, as text in PostgreSQL's forms.
async fn parquet_rows(folder: &Path, sql: &str) -> Rows {
    let ctx = SessionContext::new();
    ctx.register_parquet("t", folder.to_str().unwrap(), Default::default()).await.unwrap();
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .map(|c| {
                        let text = (!c.is_null(row)).then(|| array_value_to_string(c, row).unwrap());
                        // PostgreSQL prints `2020-01-01 00:00:00` where Arrow prints `2020-01-01T00:00:00`.
                        match c.data_type() {
                            arrow::datatypes::DataType::Timestamp(..) => text.map(|t| t.replacen('T', " ", 1)),
                            _ => text,
                        }
                    })
                    .collect(),
            );
        }
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_parquet() {
    let (source, expected) = pg_source(3_000).await;
    let dir = job_dir(&[]);
    let lake = dir.path().join("lake");
    let report = run_shipped(dir.path(), &source.url, &format!("file://{}", lake.display()), &[]).await;
    assert_succeeded(&report);
    let actual = [
        parquet_rows(&lake.join("target_users"), "SELECT * FROM t ORDER BY user_id").await,
        parquet_rows(&lake.join("target_orders"), "SELECT * FROM t ORDER BY order_id").await,
        parquet_rows(
            &lake.join("_ferry_rejects/orders"),
            "SELECT source_key, reason FROM t ORDER BY CAST(source_key AS INT)",
        )
        .await,
        parquet_rows(&lake.join("target_cleaned_data"), "SELECT * FROM t ORDER BY record_id").await,
        parquet_rows(
            &lake.join("_ferry_rejects/cleaned_data"),
            "SELECT source_key, reason FROM t ORDER BY CAST(source_key AS INT)",
        )
        .await,
    ];
    assert_same(&actual, &expected);
    assert!(lake.join("target_users/_SUCCESS").exists());
    assert!(!lake.join("_ferry_staging").exists(), "staging files are removed after the publish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_types_come_from_its_catalog() {
    // connectorx alone reads DECIMAL through a 38,10 decimal and TINYINT(1) as an integer.
    let source = MysqlDatabase::new();
    source.execute(
        "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, amount DECIMAL(30, 15) NOT NULL, flag TINYINT(1), \
         big BIGINT UNSIGNED, note VARCHAR(10)); \
         INSERT INTO t VALUES (1, 123456789012345.123456789012345, 1, 18446744073709551615, 'Zoë'), \
         (2, -0.000000000000001, 0, 0, NULL), (3, 0, NULL, NULL, '');",
    );
    let target = PgDatabase::new();
    let dir = job_dir(&[("queries/t.sql", "SELECT * FROM t")]);
    let job = format!(
        "[connections]\nsource = \"{}\"\ntarget = \"{}\"\n[[migrations]]\nname = \"t\"\nsource = \"source\"\nquery = \"queries/t.sql\"\ntarget = \"target\"\ntable = \"t\"\nkey = [\"id\"]\n",
        source.url, target.url
    );
    let plan = ferry::job::Plan::from_toml(&job, "job.toml", dir.path(), &Default::default()).unwrap();
    assert_succeeded(&ferry::run::run(&plan, &[], ferry::run::Progress::Quiet).await.unwrap());
    let columns = target.rows(
        "SELECT column_name, format_type(atttypid, atttypmod), attnotnull::text FROM information_schema.columns c \
         JOIN pg_attribute a ON a.attrelid = 't'::regclass AND a.attname = c.column_name \
         WHERE c.table_name = 't' ORDER BY ordinal_position",
    );
    let text = |row: &[&str]| row.iter().map(|v| Some(v.to_string())).collect::<Vec<_>>();
    assert_eq!(
        columns,
        vec![
            text(&["id", "integer", "true"]),
            text(&["amount", "numeric(30,15)", "true"]),
            text(&["flag", "boolean", "false"]),
            text(&["big", "numeric(20,0)", "false"]),
            text(&["note", "text", "false"]),
        ]
    );
    let rows = target.rows("SELECT id::text, amount::text, flag::text, big::text, note FROM t ORDER BY id");
    let row = |values: [Option<&str>; 5]| values.iter().map(|v| v.map(str::to_string)).collect::<Vec<_>>();
    assert_eq!(
        rows,
        vec![
            row([
                Some("1"),
                Some("123456789012345.123456789012345"),
                Some("true"),
                Some("18446744073709551615"),
                Some("Zoë")
            ]),
            row([Some("2"), Some("-0.000000000000001"), Some("false"), Some("0"), None]),
            row([Some("3"), Some("0.000000000000000"), None, None, Some("")]),
        ]
    );
}

/// The three migrations with every source table read in four parts (key ranges on one exported
/// snapshot): the same target rows and counts as in one part, and the same reconciliation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_postgres_in_parts() {
    let (source, expected) = pg_source(20_000).await;
    let target = PgDatabase::new();
    let dir = job_dir(&[]);
    let report = run_in_parts(dir.path(), &source.url, &target.url, 4).await;
    assert_succeeded(&report);
    assert_same(&expected::pg_target(&target), &expected);
    assert_eq!(report.migrations[0].rows_read, 20_005);
    assert_eq!(report.migrations[1].rows_read, 60_005);
    // The published tables are read back in four parts too, and match.
    for migration in &report.migrations {
        let status = migration.reconciliation.as_ref().map(|r| r.status);
        assert_eq!(status, Some(ferry::check::reconcile::ReconcileStatus::Matched), "{}", migration.name);
    }
}

/// The three migrations from MySQL with every source table read in four key ranges at once:
/// the same target rows, counts and reconciliation as in one part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_to_postgres_in_parts() {
    let (_pg_source, expected) = pg_source(5_000).await;
    let source = MysqlDatabase::new();
    generate(&source.endpoint(), 5_000, true).await.unwrap();
    let target = PgDatabase::new();
    let dir = job_dir(&[]);
    let report = run_in_parts(dir.path(), &source.url, &target.url, 4).await;
    assert_succeeded(&report);
    assert_same(&expected::pg_target(&target), &expected);
    assert_eq!(report.migrations[0].rows_read, 5_005);
    assert_eq!(report.migrations[1].rows_read, 15_005);
}

/// SQLite sources split on their rowid: the same rows as in one part.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_sqlite_in_parts() {
    let (_pg_source, expected) = pg_source(3_000).await;
    let dir = job_dir(&[]);
    let (source, target) = (dir.path().join("source.db"), dir.path().join("target.db"));
    generate(&Endpoint::Sqlite(source.clone()), 3_000, true).await.unwrap();
    let url = |p: &Path| format!("sqlite://{}", p.display());
    let report = run_in_parts(dir.path(), &url(&source), &url(&target), 3).await;
    assert_succeeded(&report);
    assert_same(&sqlite_target(&target), &expected);
}

/// The shipped job from `source` into `target` with every source table read in `parts` parts,
/// once the plan shows `source_table` read so.
async fn run_in_parts(dir: &Path, source: &str, target: &str, parts: usize) -> ferry::report::RunReport {
    let overrides = ferry::job::Overrides { source: Some(source.to_string()), target: Some(target.to_string()) };
    let plan = ferry::job::Plan::load(&dir.join("ferry.toml"), &overrides).unwrap();
    let (frame, _) =
        ferry::transform::plan_migration_in(&plan, &plan.migrations[0], Parts::Exactly(parts)).await.unwrap();
    let physical = frame.create_physical_plan().await.unwrap();
    let shown = datafusion::physical_plan::displayable(physical.as_ref()).indent(true).to_string();
    assert!(shown.contains("table=source_table") && shown.contains(&format!("parts={parts}")), "{shown}");
    let options = ferry::incremental::RunOptions { partitions: Some(Parts::Exactly(parts)), ..Default::default() };
    ferry::run::run_with(&plan, &[], &options, ferry::run::Progress::Quiet).await.unwrap()
}
