//! A run killed after its rows reached the target but before its commit: the target and the
//! watermark are as they were, and the next run loads every row exactly once. The kill is
//! placed deterministically: the test holds a lock on the migration's `_ferry_state` row, so
//! the ferry process stops on its last statement (saving the watermark) with every row already
//! written inside its open transaction, and is killed there. Also: a run is refused while
//! another holds the migration's lock.

use std::time::{Duration, Instant};

use ferry::incremental::RunOptions;

use crate::common::{ferry, MysqlDatabase, PgDatabase};
use crate::incremental::{job, load, Db, EVENTS_QUERY, INCREMENTAL};

fn seed(db: &Db) {
    let (text, timestamp) = if matches!(db, Db::My(_)) { ("VARCHAR(100)", "DATETIME") } else { ("TEXT", "TIMESTAMP") };
    db.execute(&format!("CREATE TABLE events (id INT PRIMARY KEY, name {text}, updated_at {timestamp})"));
    for id in 1..=5 {
        db.execute(&format!("INSERT INTO events VALUES ({id}, 'name {id}', '2024-01-01 0{id}:00:00')"));
    }
}

fn change(db: &Db) {
    db.execute("INSERT INTO events VALUES (7, 'new', '2024-01-01 06:00:00')");
    db.execute("UPDATE events SET name = 'changed', updated_at = '2024-01-01 07:00:00' WHERE id = 2");
}

/// Loads the five seeded rows, then changes the source; returns the job and the target's rows.
async fn first_run_then_changes(db: &Db) -> (tempfile::TempDir, std::path::PathBuf, Vec<Vec<Option<String>>>) {
    seed(db);
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path(), db, EVENTS_QUERY, INCREMENTAL);
    load(&job, RunOptions::default()).await.unwrap();
    let before = db.events("t");
    change(db);
    (dir, job, before)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(120), "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs ferry as its own process and kills it once `blocked` says it waits on the state lock.
/// Its temporary folder is the test's, so the spill files a killed run cannot remove go with it.
fn kill_before_commit(job: &std::path::Path, blocked: impl FnMut() -> bool) {
    let temporary = tempfile::tempdir().unwrap();
    let mut child = ferry().env("TMPDIR", temporary.path()).args(["run", "--job"]).arg(job).spawn().unwrap();
    wait_for("ferry to reach the watermark's save", blocked);
    assert!(child.try_wait().unwrap().is_none(), "ferry finished although its commit was blocked");
    child.kill().unwrap();
    child.wait().unwrap();
}

async fn after_the_kill(db: &Db, job: &std::path::Path, before: Vec<Vec<Option<String>>>) {
    assert_eq!(db.events("t"), before, "the killed run published rows");
    let state = db.rows("SELECT watermark FROM _ferry_state");
    assert_eq!(state, [[Some("2024-01-01T05:00:00".to_string())]], "the killed run moved the watermark");
    let again = load(job, RunOptions::default()).await.unwrap();
    // 5 (at the watermark, unchanged), 7 and 2, each once.
    assert_eq!([again.rows_read, again.rows_inserted, again.rows_updated, again.rows_unchanged], [3, 1, 1, 1]);
    assert_eq!(db.events("t"), db.events("events"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_run_killed_before_commit() {
    let pg = PgDatabase::new();
    let url = pg.url.clone();
    let db = Db::Pg(pg);
    let (_dir, job, before) = first_run_then_changes(&db).await;
    let (locker, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    // EXCLUSIVE lets ferry read the state but not write it.
    locker.batch_execute("BEGIN; LOCK TABLE _ferry_state IN EXCLUSIVE MODE").await.unwrap();
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                   AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO _ferry_state%'";
    let job_path = job.clone();
    let db_ref = &db;
    std::thread::scope(|scope| {
        scope.spawn(|| kill_before_commit(&job_path, || db_ref.rows(waiting)[0][0].as_deref() == Some("1")));
    });
    locker.batch_execute("ROLLBACK").await.unwrap();
    // The killed session's backend finds its client gone once it gets the lock, and rolls back.
    let ferry_sessions =
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
                          AND query LIKE 'INSERT INTO _ferry_state%'";
    wait_for("the killed session to end", || db.rows(ferry_sessions)[0][0].as_deref() == Some("0"));
    after_the_kill(&db, &job, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_run_killed_before_commit() {
    use mysql::prelude::Queryable;
    let my = MysqlDatabase::new();
    let url = my.url.clone();
    let db = Db::My(my);
    let (_dir, job, before) = first_run_then_changes(&db).await;
    let mut locker = mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).unwrap();
    locker.query_drop("START TRANSACTION").unwrap();
    locker.query_drop("SELECT * FROM _ferry_state WHERE migration = 'm' FOR UPDATE").unwrap();
    let in_this_database = "FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()";
    let waiting = format!("SELECT count(*) {in_this_database} AND info LIKE 'INSERT INTO _ferry_state%'");
    let db_ref = &db;
    std::thread::scope(|scope| {
        scope.spawn(|| kill_before_commit(&job, || db_ref.rows(&waiting)[0][0].as_deref() == Some("1")));
    });
    locker.query_drop("ROLLBACK").unwrap();
    drop(locker);
    // The killed session's thread finds its client gone once it gets the lock, and rolls back.
    let open = format!("SELECT count(*) {in_this_database}");
    wait_for("the killed session to end", || db.rows(&open)[0][0].as_deref() == Some("0"));
    after_the_kill(&db, &job, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_run_failing_after_its_rows_leaves_no_trace() {
    let files = tempfile::tempdir().unwrap();
    let db = Db::Lite(files.path().join("db.sqlite"));
    let (dir, job, before) = first_run_then_changes(&db).await;
    // 20,000 new rows and, last, one the query cannot compute: the run fails after several batches
    // were written into its open transaction.
    db.execute(
        "WITH RECURSIVE n(i) AS (SELECT 100 UNION ALL SELECT i + 1 FROM n WHERE i < 20099) \
         INSERT INTO events SELECT i, 'bulk', '2024-01-01 06:30:00' FROM n",
    );
    db.execute("INSERT INTO events VALUES (99999, 'boom', '2024-01-01 08:00:00')");
    let failing = "SELECT CAST(id AS INT) AS id, \
                   CASE WHEN name = 'boom' THEN CAST(CAST(name AS INT) AS VARCHAR) ELSE name END AS name, \
                   updated_at FROM events ORDER BY id";
    let failing_job = job_with_query(dir.path(), &db, failing);
    let error = load(&failing_job, RunOptions::default()).await.unwrap_err();
    assert!(error.contains("boom"), "{error}");
    assert_eq!(db.events("t"), before);
    assert_eq!(db.rows("SELECT watermark FROM _ferry_state"), [[Some("2024-01-01T05:00:00".to_string())]]);
    db.execute("DELETE FROM events WHERE id = 99999");
    let again = load(&job, RunOptions::default()).await.unwrap();
    assert_eq!([again.rows_inserted, again.rows_updated, again.rows_unchanged], [20_001, 1, 1]);
    assert_eq!(db.events("t"), db.events("events"));
}

fn job_with_query(dir: &std::path::Path, db: &Db, query: &str) -> std::path::PathBuf {
    let sub = dir.join("failing");
    std::fs::create_dir_all(&sub).unwrap();
    job(&sub, db, query, INCREMENTAL)
}

/// One run per migration at a time, whatever the target: while another holder has the
/// migration's lock, a run is refused before it reads or writes anything.
async fn one_run_at_a_time(db: Db) {
    seed(&db);
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path(), &db, EVENTS_QUERY, INCREMENTAL);
    let target = ferry::connection::Endpoint::parse(&db.url(), std::path::Path::new(".")).unwrap();
    let held = ferry::db::open(&target).lock("m").await.unwrap();
    let error = load(&job, RunOptions::default()).await.unwrap_err();
    assert!(
        error.starts_with("migration `m` is already running (another ferry process holds its lock in `"),
        "{error}"
    );
    assert!(error.ends_with("); wait for that run to finish"), "{error}");
    held.release().await;
    assert_eq!(load(&job, RunOptions::default()).await.unwrap().rows_loaded, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_at_a_time_in_postgres() {
    one_run_at_a_time(Db::Pg(PgDatabase::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_at_a_time_in_mysql() {
    one_run_at_a_time(Db::My(MysqlDatabase::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_at_a_time_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    one_run_at_a_time(Db::Lite(dir.path().join("db.sqlite"))).await;
}

/// A job moving `query`'s rows from `source` into table `t` of `target` (with `extra` lines in
/// the migration: mode, key, publish), in its own folder.
fn kill_job(dir: &std::path::Path, source: &str, target: &str, query: &str, extra: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("queries")).unwrap();
    std::fs::write(dir.join("queries/q.sql"), query).unwrap();
    let job = format!(
        "[connections]\nsource = \"{source}\"\ntarget = \"{target}\"\n[[migrations]]\nname = \"m\"\n\
         source = \"source\"\nquery = \"queries/q.sql\"\ntarget = \"target\"\ntable = \"t\"\n{extra}\n"
    );
    std::fs::write(dir.join("job.toml"), job).unwrap();
    dir.join("job.toml")
}

/// Kills a run once its source has sent 20,000 rows (it then waits 3 s for the rest).
fn kill_mid_load(job: &std::path::Path, source: &PgDatabase) {
    let temporary = tempfile::tempdir().unwrap();
    let mut child = ferry().env("TMPDIR", temporary.path()).args(["run", "--job"]).arg(job).spawn().unwrap();
    wait_for("the source to be read", || {
        !source
            .rows("SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY%slow_rows%' AND wait_event = 'PgSleep'")
            .is_empty()
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "ferry finished early");
    child.kill().unwrap();
    child.wait().unwrap();
}

const SLOW_ROWS: &str = "CREATE VIEW slow_rows AS SELECT g AS user_id, md5(g::text) AS name \
    FROM generate_series(1, 40000) g WHERE CASE WHEN g = 20000 THEN pg_sleep(3)::text = '' ELSE true END;
    CREATE VIEW few_rows AS SELECT g AS user_id, md5(g::text) AS name FROM generate_series(1, 5) g";

/// A target of the kill test: its rows of `t`, and the objects of ferry's it holds (shadows,
/// staging files).
enum Target {
    Pg(PgDatabase),
    My(MysqlDatabase),
    Lake(std::path::PathBuf),
}

impl Target {
    fn url(&self) -> String {
        match self {
            Target::Pg(db) => db.url.clone(),
            Target::My(db) => db.url.clone(),
            Target::Lake(path) => format!("file://{}", path.display()),
        }
    }

    async fn rows(&self) -> usize {
        let count = |rows: Vec<Vec<Option<String>>>| rows[0][0].clone().unwrap().parse().unwrap();
        match self {
            Target::Pg(db) => count(db.rows("SELECT count(*) FROM t")),
            Target::My(db) => count(db.rows("SELECT count(*) FROM t")),
            Target::Lake(path) => crate::atomic::parquet_rows(path).await,
        }
    }

    fn leftovers(&self) -> Vec<String> {
        let names = |rows: Vec<Vec<Option<String>>>| rows.into_iter().filter_map(|row| row[0].clone()).collect();
        match self {
            Target::Pg(db) => {
                names(db.rows("SELECT relname::text FROM pg_class WHERE relname LIKE '\\_ferry\\_shadow%'"))
            }
            Target::My(db) => names(db.rows(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() \
                 AND (table_name LIKE '\\_ferry\\_shadow%' OR table_name LIKE '\\_ferry\\_old%')",
            )),
            Target::Lake(path) => {
                crate::atomic::walk(&path.join("_ferry_staging")).iter().map(|p| p.display().to_string()).collect()
            }
        }
    }
}

/// SIGKILL in the middle of a load, at eight points: a PostgreSQL replace (swapped, and in
/// place), merge and append; a MySQL replace (its shadow filling) and merge; a Parquet replace
/// and append (files being written). The table is as it was, and after the next run, which
/// completes, nothing of the killed run is left: no shadow, no staging. (With the two kills
/// before an incremental run's commit above, ten points.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_killed_mid_load_leave_the_old_table_and_nothing_behind() {
    let source = PgDatabase::new();
    source.rows(SLOW_ROWS);
    let dir = tempfile::tempdir().unwrap();
    let merge = "mode = \"merge\"\nkey = [\"user_id\"]";
    let cases: Vec<(Target, &str, usize)> = vec![
        (Target::Pg(PgDatabase::new()), "", 5),
        (Target::Pg(PgDatabase::new()), "publish = \"in_place\"", 5),
        (Target::Pg(PgDatabase::new()), merge, 5),
        (Target::Pg(PgDatabase::new()), "mode = \"append\"", 8),
        (Target::My(MysqlDatabase::new()), "", 5),
        (Target::My(MysqlDatabase::new()), merge, 5),
        (Target::Lake(dir.path().join("lake")), "", 5),
        (Target::Lake(dir.path().join("lake_appended")), "mode = \"append\"", 8),
    ];
    for (target, extra, after) in cases {
        let url = target.url();
        let first = kill_job(dir.path(), &source.url, &url, "SELECT * FROM few_rows WHERE user_id <= 3", extra);
        load(&first, RunOptions::default()).await.unwrap();
        let slow = kill_job(dir.path(), &source.url, &url, "SELECT * FROM slow_rows", extra);
        kill_mid_load(&slow, &source);
        assert_eq!(target.rows().await, 3, "{url} {extra}: the old rows, as they were");
        if let Target::Lake(path) = &target {
            // What a run killed after its files were closed leaves: staged files of the migration.
            let staged = path.join("_ferry_staging/20200101T000000-killed/m/t");
            std::fs::create_dir_all(&staged).unwrap();
            std::fs::write(staged.join("part-00000.parquet"), "unfinished").unwrap();
        }
        let next = kill_job(dir.path(), &source.url, &url, "SELECT * FROM few_rows", extra);
        load(&next, RunOptions::default()).await.unwrap();
        assert_eq!(target.rows().await, after, "{url} {extra}: the next run's rows");
        assert_eq!(target.leftovers(), Vec::<String>::new(), "{url} {extra}: nothing of the killed run is left");
    }
}
