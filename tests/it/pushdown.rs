//! Subqueries sent whole to PostgreSQL, MySQL and SQLite: every query gives the same columns,
//! types and values with pushdown on and off (DataFusion computing everything), the queries
//! that should reach the database do (seen through EXPLAIN), and the ones whose meaning
//! differs there (text under MySQL's collations, functions off the allow list) do not.

use std::path::Path;

use arrow::record_batch::RecordBatch;
use arrow::util::pretty::pretty_format_batches;
use ferry::job::{Overrides, Plan};
use ferry::sql::SqlSession;
use futures::TryStreamExt;

use crate::common::{assert_succeeded, MysqlDatabase, PgDatabase};

/// The tables, as PostgreSQL and MySQL both write them.
const TABLES: &str = "CREATE TABLE items (id int PRIMARY KEY, grp int, label varchar(10), price numeric(10,2),
        qty int, day date, big bigint, flag boolean);
    CREATE TABLE owners (id bigint PRIMARY KEY, item_id int, name text)";

/// Rows with NULLs, negatives, zeros, duplicates, and text differing only in case or trailing
/// spaces (equal under MySQL's default collation, not in DataFusion).
const ROWS: &str = "INSERT INTO items (id, grp, label, price, qty, day, big, flag) VALUES
    (1, 1, 'a', 10.50, 3, '2024-01-01', 9223372036854775807, TRUE),
    (2, 1, 'A', -2.25, NULL, '2024-02-29', -9223372036854775808, FALSE),
    (3, 2, 'a ', 0.00, 0, NULL, 0, NULL),
    (4, 2, 'b', NULL, 7, '2023-12-31', NULL, TRUE),
    (5, NULL, NULL, 99999999.99, -4, '2024-06-01', -1, FALSE),
    (6, 3, 'bb', 1.01, 2, '2024-01-01', 9223372036854775807, TRUE),
    (7, 3, 'B', 1.01, 2, '2025-03-01', 1, TRUE);
    INSERT INTO owners (id, item_id, name) VALUES
    (1, 1, 'ann'), (2, 1, 'bob'), (3, 4, 'cy'), (4, 9, 'dee'), (5, NULL, 'eve'), (6, 6, 'fay')";

/// Each query, and whether it reaches PostgreSQL, MySQL and SQLite as one statement.
const QUERIES: &[(&str, [bool; 3])] = &[
    (
        "SELECT grp, count(*) AS n, count(qty) AS q, sum(qty) AS s, min(qty) AS lo, max(qty) AS hi \
         FROM db.items GROUP BY grp ORDER BY grp",
        [true, true, true],
    ),
    (
        "SELECT grp, sum(price) AS total, min(price) AS lo, max(price) AS hi FROM db.items GROUP BY grp ORDER BY grp",
        [true, true, false],
    ),
    ("SELECT count(*) AS n, sum(qty) AS s, min(day) AS first FROM db.items WHERE qty > 1000", [true, true, false]),
    ("SELECT min(day) AS first, max(day) AS last, count(DISTINCT day) AS days FROM db.items", [true, true, false]),
    ("SELECT label, count(*) AS n FROM db.items GROUP BY label ORDER BY label", [true, false, true]),
    ("SELECT count(DISTINCT label) AS labels, count(DISTINCT grp) AS groups FROM db.items", [true, false, true]),
    (
        "SELECT i.id, o.name FROM db.items i JOIN db.owners o ON o.item_id = i.id \
         WHERE i.qty IS NOT NULL ORDER BY i.id, o.id",
        [true, true, true],
    ),
    (
        "SELECT i.id, o.id AS owner FROM db.items i LEFT JOIN db.owners o ON o.item_id = i.id \
         ORDER BY i.id DESC, o.id NULLS FIRST LIMIT 5",
        [true, true, true],
    ),
    (
        "SELECT id, qty * 2 + 1 AS v, price * qty AS amount, -qty AS neg FROM db.items \
         WHERE id IN (1, 2, 3) OR qty BETWEEN 2 AND 7 ORDER BY id DESC LIMIT 4",
        [true, true, false],
    ),
    ("SELECT DISTINCT grp FROM db.items ORDER BY grp NULLS FIRST", [true, true, true]),
    (
        "SELECT count(*) AS n, sum(q) AS s, count(q) AS c FROM \
         (SELECT qty AS q FROM db.items UNION ALL SELECT item_id AS q FROM db.owners) u",
        [true, true, true],
    ),
    ("SELECT grp FROM db.items UNION SELECT item_id FROM db.owners ORDER BY 1 NULLS FIRST", [true, true, true]),
    // Ordered by columns not selected: the database sorts and limits, ferry projects.
    ("SELECT id FROM db.items ORDER BY big DESC NULLS LAST, id LIMIT 4", [true, true, true]),
    ("SELECT id, qty * 2 AS d FROM db.items WHERE qty > 0 ORDER BY big, id DESC LIMIT 3 OFFSET 1", [true, false, true]),
    (
        "SELECT CASE WHEN qty IS NULL THEN 'none' WHEN qty < 3 THEN 'few' ELSE 'many' END AS size, count(*) AS n \
         FROM db.items GROUP BY 1 ORDER BY 1",
        [true, false, true],
    ),
    ("SELECT grp, max(qty) AS most FROM db.items WHERE label = 'a' GROUP BY grp ORDER BY grp", [true, false, true]),
    ("SELECT id FROM db.items WHERE label LIKE 'b%' ORDER BY id", [true, false, false]),
    ("SELECT id FROM db.items WHERE day >= DATE '2024-01-01' ORDER BY id LIMIT 3", [true, true, false]),
    ("SELECT min(label) AS first, max(label) AS last FROM db.items", [false, false, true]),
    (
        "SELECT min(big) AS lo, max(big) AS hi, count(DISTINCT big) AS n, count(big) AS c FROM db.items",
        [true, true, true],
    ),
    (
        "SELECT id FROM db.items WHERE big = 9223372036854775807 OR big < -9000000000000000000 ORDER BY id",
        [true, true, true],
    ),
    (
        "SELECT grp, avg(qty) AS mean, avg(id) AS mid, count(*) AS n FROM db.items GROUP BY grp ORDER BY grp",
        [true, true, true],
    ),
    ("SELECT avg(qty) AS mean FROM db.items WHERE qty > 1000", [true, true, true]),
    (
        "SELECT o.item_id, avg(i.qty) AS mean FROM db.owners o JOIN db.items i ON i.id = o.item_id \
         GROUP BY o.item_id ORDER BY o.item_id",
        [true, true, true],
    ),
    // An overflow: the databases fail, so ferry computes the sum itself (and wraps around).
    ("SELECT sum(big) AS s, count(*) AS n FROM db.items WHERE big > 0", [true, true, true]),
    // MySQL and SQLite booleans are integers: 2 is true to ferry, a group of its own to them.
    ("SELECT flag, count(*) AS n FROM db.items GROUP BY flag ORDER BY flag", [true, false, false]),
    // Off the allow list everywhere: a string function, a float sum, integer division.
    ("SELECT upper(label) AS l, count(*) AS n FROM db.items GROUP BY 1 ORDER BY 1", [false, false, false]),
    ("SELECT sum(CAST(qty AS DOUBLE)) AS f FROM db.items", [false, false, false]),
    ("SELECT grp, sum(qty / 2) AS h FROM db.items GROUP BY grp ORDER BY grp", [false, false, false]),
];

fn plan(url: &str) -> Plan {
    let toml = format!("[connections]\ndb = \"{url}\"\n");
    Plan::from_toml(&toml, "job.toml", Path::new("."), &Overrides::default()).unwrap()
}

async fn collect(session: &mut SqlSession, sql: &str) -> Vec<RecordBatch> {
    let stream = session.execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    stream.try_collect().await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The result's column types and its rows as a table.
fn shown(batches: &[RecordBatch]) -> String {
    let types = match batches.first() {
        Some(batch) => batch.schema().fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect(),
        None => Vec::new(),
    };
    format!("{}\n{}", types.join(", "), pretty_format_batches(batches).unwrap())
}

async fn explained(session: &mut SqlSession, sql: &str) -> String {
    shown(&collect(session, &format!("EXPLAIN {sql}")).await)
}

/// Every query: the same result with pushdown on and off, pushed where expected.
async fn compare(url: &str, dialect: usize) {
    let mut on = SqlSession::new(plan(url), &[]).unwrap();
    let mut off = SqlSession::new(plan(url), &[]).unwrap().pushdown(false);
    for (sql, pushed) in QUERIES {
        let expected = shown(&collect(&mut off, sql).await);
        assert!(expected.lines().count() > 4, "{sql}: {expected}");
        assert_eq!(shown(&collect(&mut on, sql).await), expected, "{sql}");
        let plan = explained(&mut on, sql).await;
        assert_eq!(plan.contains("DatabaseQuery"), pushed[dialect], "{sql}\n{plan}");
        if pushed[dialect] {
            // The database ran the statement, or (only where it overflows) ferry did instead.
            let analyzed = shown(&collect(&mut on, &format!("EXPLAIN ANALYZE {sql}")).await);
            let fallback = if sql.contains("sum(big)") { "fallbacks=1" } else { "fallbacks=0" };
            assert!(analyzed.contains(fallback), "{sql}\n{analyzed}");
        }
        assert!(!explained(&mut off, sql).await.contains("DatabaseQuery"), "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_computes_what_it_computes_alike() {
    let db = PgDatabase::new();
    db.rows(TABLES);
    db.rows(ROWS);
    compare(&db.url, 0).await;
    // EXPLAIN shows the statement PostgreSQL receives.
    let mut session = SqlSession::new(plan(&db.url), &[]).unwrap();
    let plan = explained(&mut session, QUERIES[0].0).await;
    assert!(plan.contains("sum(CAST(\"items\".\"qty\" AS BIGINT))"), "{plan}");
    assert!(plan.contains("GROUP BY \"items\".\"grp\""), "{plan}");
    let plan = explained(&mut session, "SELECT id FROM db.items ORDER BY big DESC NULLS LAST, id LIMIT 4").await;
    assert!(plan.contains("LIMIT 4"), "{plan}");
}

/// A join across two databases sends each side's aggregate to its own database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_side_of_a_join_across_databases_goes_to_its_own() {
    let db = PgDatabase::new();
    db.rows("CREATE TABLE items (id int PRIMARY KEY, grp int, label text, price numeric(10,2), qty int, day date, big bigint, flag boolean)");
    db.rows(ROWS.split(';').next().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lite.sqlite");
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute_batch(&format!(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, grp INTEGER, label TEXT, price TEXT, qty INTEGER, day TEXT, big INTEGER, flag INTEGER);
             {};",
            ROWS.split(';').next().unwrap()
        ))
        .unwrap();
    drop(connection);
    let toml = format!("[connections]\npg = \"{}\"\nlite = \"sqlite://{}\"\n", db.url, path.display());
    let plan = || Plan::from_toml(&toml, "job.toml", Path::new("."), &Overrides::default()).unwrap();
    let sql = "SELECT p.grp, p.n, s.most FROM (SELECT grp, count(*) AS n FROM pg.items GROUP BY grp) p \
               JOIN (SELECT grp, max(qty) AS most FROM lite.items WHERE qty > 0 GROUP BY grp) s ON s.grp = p.grp ORDER BY p.grp";
    let mut on = SqlSession::new(plan(), &[]).unwrap();
    let mut off = SqlSession::new(plan(), &[]).unwrap().pushdown(false);
    let expected = shown(&collect(&mut off, sql).await);
    assert_eq!(shown(&collect(&mut on, sql).await), expected);
    assert!(expected.contains("| 3   | 2 | 2    |"), "{expected}");
    let explained = explained(&mut on, sql).await;
    let statements: Vec<&str> = explained.lines().filter(|line| line.contains("DatabaseQuery")).collect();
    assert_eq!(statements.len(), 2, "{explained}");
    assert!(statements.iter().any(|s| s.contains("postgres://")) && statements.iter().any(|s| s.contains("sqlite://")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_computes_what_it_computes_alike() {
    let db = MysqlDatabase::new();
    db.execute(TABLES);
    db.execute(ROWS);
    db.execute("UPDATE items SET flag = 2 WHERE id = 7");
    compare(&db.url, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_computes_what_it_computes_alike() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute_batch(&format!(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, grp INTEGER, label TEXT, price DECIMAL(10,2), qty INTEGER, day DATE,
                 big INTEGER, flag BOOLEAN);
             CREATE TABLE owners (id INTEGER PRIMARY KEY, item_id INTEGER, name TEXT);
             {ROWS};"
        ))
        .unwrap();
    connection.execute_batch("UPDATE items SET flag = 2 WHERE id = 7").unwrap();
    // Text under a collation that folds case is compared in ferry, not in SQLite.
    connection
        .execute_batch(
            "CREATE TABLE folded (id INTEGER PRIMARY KEY, label TEXT COLLATE NOCASE);
             INSERT INTO folded VALUES (1, 'a'), (2, 'A'), (3, 'b')",
        )
        .unwrap();
    drop(connection);
    let url = format!("sqlite://{}", path.display());
    compare(&url, 2).await;
    let mut on = SqlSession::new(plan(&url), &[]).unwrap();
    let sql = "SELECT label, count(*) AS n FROM db.folded GROUP BY label ORDER BY label";
    assert_eq!(shown(&collect(&mut on, sql).await).lines().count(), 8, "three groups, not two");
    assert!(!explained(&mut on, sql).await.contains("DatabaseQuery"));
}

/// A migration whose query joins and aggregates source tables loads the same rows with
/// pushdown on (the default) and with `pushdown = false`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migration_loads_the_same_rows_either_way() {
    let source = PgDatabase::new();
    ferry::generate::generate(&source.endpoint(), 300, true).await.unwrap();
    let mut targets = Vec::new();
    for pushdown in [true, false] {
        let target = PgDatabase::new();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("spend.sql"),
            "SELECT u.id AS user_id, count(*) AS orders, sum(o.order_total) AS spent, max(o.order_date) AS last \
             FROM source_table u JOIN source_orders o ON o.user_id = u.id GROUP BY u.id",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("ferry.toml"),
            format!(
                "[connections]\nsource = \"{}\"\ntarget = \"{}\"\n\n[[migrations]]\nname = \"spend\"\nsource = \"source\"\n\
                 target = \"target\"\nquery = \"spend.sql\"\ntable = \"spend\"\npushdown = {pushdown}\n",
                source.url, target.url
            ),
        )
        .unwrap();
        let plan = Plan::load(&dir.path().join("ferry.toml"), &Overrides::default()).unwrap();
        let report = ferry::run::run(&plan, &[], ferry::run::Progress::Quiet).await.unwrap();
        assert_succeeded(&report);
        assert!(report.migrations[0].rows_loaded > 50);
        let columns = target.rows(
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns \
             WHERE table_name = 'spend' ORDER BY ordinal_position",
        );
        targets.push((columns, target.rows("SELECT * FROM spend ORDER BY user_id")));
    }
    assert_eq!(targets[0], targets[1]);
}

/// The shipped migrations give the same target tables and rejects with pushdown on and off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_migrations_are_the_same_either_way() {
    let source = PgDatabase::new();
    ferry::generate::generate(&source.endpoint(), 500, true).await.unwrap();
    let mut loaded = Vec::new();
    for pushdown in [true, false] {
        let target = PgDatabase::new();
        let dir = crate::common::job_dir(&[]);
        let job = dir.path().join("ferry.toml");
        let text = std::fs::read_to_string(&job).unwrap();
        std::fs::write(&job, text.replace("[[migrations]]\n", &format!("[[migrations]]\npushdown = {pushdown}\n")))
            .unwrap();
        assert_succeeded(&crate::common::run_shipped(dir.path(), &source.url, &target.url, &[]).await);
        let tables: Vec<_> = [
            "SELECT * FROM target_users ORDER BY user_id",
            "SELECT * FROM target_orders ORDER BY order_id",
            "SELECT * FROM target_cleaned_data ORDER BY record_id",
            "SELECT migration, reason, source_row::text FROM _ferry_rejects ORDER BY 1, 2, 3",
        ]
        .into_iter()
        .map(|sql| target.rows(sql))
        .collect();
        assert!(tables.iter().all(|rows| !rows.is_empty()));
        loaded.push(tables);
    }
    assert_eq!(loaded[0], loaded[1]);
}
