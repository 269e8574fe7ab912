//! The cleaning rules of `queries/cleaned_data.sql`, case by case.

use crate::common::{assert_succeeded, job_dir, run_shipped, sqlite_rows};

/// The loaded row (name, age, city), or the reject reason.
type Outcome = Result<(&'static str, Option<&'static str>, Option<&'static str>), &'static str>;
type Text = Option<&'static str>;

/// (record_id, full_name, age, location) -> the outcome.
const CASES: &[(i64, Text, Text, Text, Outcome)] = &[
    (
        1,
        Some("  aLiCe   JOHNSON "),
        Some(" 42 "),
        Some(" SAN FRANCISCO , CA"),
        Ok(("Alice", Some("42"), Some("San Francisco"))),
    ),
    (2, Some("jean-luc picard"), Some("+7"), Some("new york"), Ok(("Jean-Luc", Some("7"), Some("New York")))),
    (3, Some("\tbob\n"), Some("0"), Some(",CA"), Ok(("Bob", Some("0"), None))),
    (4, Some("Eve"), Some("130"), Some("   "), Ok(("Eve", Some("130"), None))),
    (5, Some("zoë müller"), Some("-0"), None, Ok(("Zoë", Some("0"), None))),
    (6, Some("x"), None, Some("a"), Ok(("X", None, Some("A")))),
    (7, Some("y"), Some(""), Some("b\r\n"), Ok(("Y", None, Some("B")))),
    (8, Some("z"), Some(" \t "), Some("c"), Ok(("Z", None, Some("C")))),
    (9, Some("a"), Some("00042"), Some("x"), Ok(("A", Some("42"), Some("X")))),
    (10, Some("élodie DUPONT"), Some("30"), Some("ZÜRICH, CH"), Ok(("Élodie", Some("30"), Some("Zürich")))),
    (11, Some("o'brien"), Some("18"), Some("st. louis"), Ok(("O'Brien", Some("18"), Some("St. Louis")))),
    (20, None, Some("thirty"), Some("x"), Err("missing_name")),
    (21, Some("   "), Some("42"), Some("x"), Err("missing_name")),
    (22, Some("\t\r\n"), Some("42"), Some("x"), Err("missing_name")),
    (23, Some(""), Some("-5"), Some("x"), Err("missing_name")),
    (30, Some("a"), Some("thirty"), Some("x"), Err("invalid_age")),
    (31, Some("a"), Some("42.0"), Some("x"), Err("invalid_age")),
    (32, Some("a"), Some("4 2"), Some("x"), Err("invalid_age")),
    (33, Some("a"), Some("+-5"), Some("x"), Err("invalid_age")),
    (34, Some("a"), Some("-"), Some("x"), Err("invalid_age")),
    (35, Some("a"), Some("1e2"), Some("x"), Err("invalid_age")),
    (36, Some("a"), Some("٤٢"), Some("x"), Err("invalid_age")),
    (40, Some("a"), Some("131"), Some("x"), Err("age_out_of_range")),
    (41, Some("a"), Some("-5"), Some("x"), Err("age_out_of_range")),
    (42, Some("a"), Some("99999999999999999999999999"), Some("x"), Err("age_out_of_range")),
    (43, Some("a"), Some("-99999999999999999999999999"), Some("x"), Err("age_out_of_range")),
    (44, Some("a"), Some("2147483648"), Some("x"), Err("age_out_of_range")),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cleaning_rule_case_by_case() {
    let dir = job_dir(&[]);
    let source = dir.path().join("source.db");
    let target = dir.path().join("target.db");
    {
        let connection = rusqlite::Connection::open(&source).unwrap();
        connection
            .execute_batch(
                "CREATE TABLE source_unnormalized (record_id INTEGER PRIMARY KEY, full_name VARCHAR(150), \
                 age VARCHAR(10), location VARCHAR(100));",
            )
            .unwrap();
        for (id, name, age, location, _) in CASES {
            connection
                .execute(
                    "INSERT INTO source_unnormalized VALUES (?, ?, ?, ?)",
                    rusqlite::params![id, name, age, location],
                )
                .unwrap();
        }
    }
    let report = run_shipped(
        dir.path(),
        &format!("sqlite://{}", source.display()),
        &format!("sqlite://{}", target.display()),
        &["cleaned_data"],
    )
    .await;
    assert_succeeded(&report);
    let loaded = sqlite_rows(&target, "SELECT record_id, name, age, city FROM target_cleaned_data ORDER BY record_id");
    let rejected = sqlite_rows(
        &target,
        "SELECT source_key, reason FROM _ferry_rejects WHERE migration = 'cleaned_data' ORDER BY CAST(source_key AS INTEGER)",
    );
    let mut expected_loaded = Vec::new();
    let mut expected_rejected = Vec::new();
    for (id, _, _, _, outcome) in CASES {
        match outcome {
            Ok((name, age, city)) => expected_loaded.push(vec![
                Some(id.to_string()),
                Some(name.to_string()),
                age.map(str::to_string),
                city.map(str::to_string),
            ]),
            Err(reason) => expected_rejected.push(vec![Some(id.to_string()), Some(reason.to_string())]),
        }
    }
    for (actual, expected) in loaded.iter().zip(&expected_loaded) {
        assert_eq!(actual, expected);
    }
    assert_eq!(loaded.len(), expected_loaded.len());
    assert_eq!(rejected, expected_rejected);
    let m = &report.migrations[0];
    assert_eq!(
        (m.rows_read, m.rows_loaded, m.rows_rejected),
        (CASES.len() as u64, loaded.len() as u64, rejected.len() as u64)
    );
    assert_eq!(m.rejects.get("invalid_age"), Some(&7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_systems_sample_rows_migrate_as_before() {
    // The five sample rows of shared/old-system/sample.sql, through all three migrations.
    let dir = job_dir(&[]);
    let source = dir.path().join("source.db");
    let target = dir.path().join("target.db");
    ferry::generate::generate(&ferry::connection::Endpoint::Sqlite(source.clone()), 0, true).await.unwrap();
    let url = |p: &std::path::Path| format!("sqlite://{}", p.display());
    assert_succeeded(&run_shipped(dir.path(), &url(&source), &url(&target), &[]).await);
    let users = sqlite_rows(&target, "SELECT user_id, full_name, age_group, city FROM target_users ORDER BY 1");
    let text = |row: &[&str]| row.iter().map(|v| Some(v.to_string())).collect::<Vec<_>>();
    assert_eq!(
        users,
        vec![
            text(&["1", "Alice", "30-40", "New York"]),
            text(&["2", "Bob", "<30", "Los Angeles"]),
            text(&["3", "Charlie", "30-40", "Chicago"]),
            text(&["4", "Diana", "<30", "San Francisco"]),
            text(&["5", "Eve", "30-40", "Boston"]),
        ]
    );
    let orders =
        sqlite_rows(&target, "SELECT order_id, user_id, printf('%.2f', order_total) FROM target_orders ORDER BY 1");
    assert_eq!(orders[1], text(&["2", "2", "200.75"]));
    assert_eq!(orders.len(), 5);
    let cleaned = sqlite_rows(&target, "SELECT record_id, name, age, city FROM target_cleaned_data ORDER BY 1");
    assert_eq!(cleaned[0], text(&["1", "Alice", "30", "New York"]));
    assert_eq!(cleaned.len(), 5);
}
