//! Test databases on the real servers: each test makes its own uniquely named database and
//! drops it, so tests run in parallel and leave nothing behind. An unreachable server fails the
//! test with one line naming the URL tried and how to start the server.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use ferry::connection::Endpoint;
use ferry::job::{Overrides, Plan};
use ferry::report::RunReport;
use ferry::run::{run, Progress};
use mysql::prelude::Queryable;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("ferry_it_{}_{}_{:x}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), nanos & 0xfffff)
}

pub fn pg_admin_url() -> String {
    std::env::var("FERRY_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn mysql_admin_url() -> String {
    std::env::var("FERRY_TEST_MYSQL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

fn with_database(url: &str, database: &str) -> String {
    let mut url = url::Url::parse(url).unwrap();
    url.set_path(&format!("/{database}"));
    url.to_string()
}

/// Runs a future to completion on a fresh runtime in a thread of its own, so the sync helpers
/// work inside a test's runtime too (which cannot be blocked on).
pub fn block_on<F: std::future::Future + Send>(future: F) -> F::Output
where
    F::Output: Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future))
            .join()
            .unwrap()
    })
}

/// A PostgreSQL database that exists for one test.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub fn new() -> PgDatabase {
        let admin = pg_admin_url();
        let name = unique_name();
        let client = block_on(async {
            let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await.unwrap_or_else(|e| {
                panic!("PostgreSQL is not reachable at {admin} ({e}); start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` or set FERRY_TEST_PG")
            });
            tokio::spawn(connection);
            client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
            client
        });
        drop(client);
        PgDatabase { url: with_database(&admin, &name), name }
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::parse(&self.url, Path::new(".")).unwrap()
    }

    /// Every row of `sql` in PostgreSQL's own text form.
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.try_rows(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The rows of `sql`, or PostgreSQL's error message.
    pub fn try_rows(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
        let url = self.url.clone();
        let sql = sql.to_string();
        block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            let messages = client.simple_query(&sql).await.map_err(|e| format!("{e:?}"))?;
            Ok(messages
                .into_iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => {
                        Some((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect())
                    }
                    _ => None,
                })
                .collect())
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin = pg_admin_url();
        let name = self.name.clone();
        block_on(async move {
            if let Ok((client, connection)) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await {
                tokio::spawn(connection);
                let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
            }
        });
    }
}

/// A MySQL/MariaDB database that exists for one test.
pub struct MysqlDatabase {
    pub name: String,
    pub url: String,
}

impl MysqlDatabase {
    pub fn new() -> MysqlDatabase {
        let admin = mysql_admin_url();
        let name = unique_name();
        let mut connection = mysql::Conn::new(mysql::Opts::from_url(&admin).unwrap()).unwrap_or_else(|e| {
            panic!("MySQL/MariaDB is not reachable at {admin} ({e}); start it with `start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd` or set FERRY_TEST_MYSQL")
        });
        connection.query_drop(format!("CREATE DATABASE {name} CHARACTER SET utf8mb4")).unwrap();
        MysqlDatabase { url: with_database(&admin, &name), name }
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint::parse(&self.url, Path::new(".")).unwrap()
    }

    /// Runs statements (several, separated by `;`).
    pub fn execute(&self, sql: &str) {
        let mut connection = mysql::Conn::new(mysql::Opts::from_url(&self.url).unwrap()).unwrap();
        // Every statement's result read, as dropping them unread hides a later statement's error.
        let mut result = connection.query_iter(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        while let Some(set) = result.iter() {
            for row in set {
                row.unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }
    }

    /// Every row of `sql` as text.
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let mut connection = mysql::Conn::new(mysql::Opts::from_url(&self.url).unwrap()).unwrap();
        let rows: Vec<mysql::Row> = connection.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.into_iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| match row.as_ref(i) {
                        Some(mysql::Value::NULL) | None => None,
                        Some(mysql::Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
                        Some(other) => Some(other.as_sql(true).trim_matches('\'').to_string()),
                    })
                    .collect()
            })
            .collect()
    }
}

impl Drop for MysqlDatabase {
    fn drop(&mut self) {
        if let Ok(mut connection) = mysql::Conn::new(mysql::Opts::from_url(&mysql_admin_url()).unwrap()) {
            let _ = connection.query_drop(format!("DROP DATABASE IF EXISTS {}", self.name));
        }
    }
}

/// Rows of `sql` from a SQLite file, every value as text (NULL as None).
pub fn sqlite_rows(path: &Path, sql: &str) -> Vec<Vec<Option<String>>> {
    let connection = rusqlite::Connection::open(path).unwrap();
    let mut statement = connection.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let width = statement.column_count();
    statement
        .query_map([], |row| {
            Ok((0..width)
                .map(|i| match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => None,
                    rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                    rusqlite::types::ValueRef::Real(v) => Some(v.to_string()),
                    rusqlite::types::ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                    rusqlite::types::ValueRef::Blob(b) => Some(format!("{b:?}")),
                })
                .collect())
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The repository's own folder (for `queries/` and `ferry.toml`).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A folder with the shipped job (`ferry.toml` and `queries/`) copied in, plus `extra` files.
pub fn job_dir(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("queries")).unwrap();
    for entry in std::fs::read_dir(repo().join("queries")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join("queries").join(entry.file_name())).unwrap();
    }
    std::fs::copy(repo().join("ferry.toml"), dir.path().join("ferry.toml")).unwrap();
    for (name, text) in extra {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// The shipped job without its checks, for tests that change the queries.
pub fn job_dir_without_checks() -> tempfile::TempDir {
    let dir = job_dir(&[]);
    let path = dir.path().join("ferry.toml");
    let mut kept = Vec::new();
    let mut in_check = false;
    let text = std::fs::read_to_string(&path).unwrap();
    for line in text.lines() {
        if line.starts_with("[[") {
            in_check = line == "[[migrations.checks]]";
        }
        if !in_check {
            kept.push(line);
        }
    }
    std::fs::write(&path, kept.join("\n")).unwrap();
    dir
}

/// Runs the shipped job (or the named migrations) from `source` to `target`.
pub async fn run_shipped(dir: &Path, source: &str, target: &str, names: &[&str]) -> RunReport {
    let overrides = Overrides { source: Some(source.to_string()), target: Some(target.to_string()) };
    let plan = Plan::load(&dir.join("ferry.toml"), &overrides).unwrap();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    run(&plan, &names, Progress::Quiet).await.unwrap()
}

/// Asserts a run succeeded and that every migration's rows add up.
pub fn assert_succeeded(report: &RunReport) {
    assert!(report.succeeded(), "run failed: {:?}", report.error);
    for m in &report.migrations {
        assert_eq!(
            m.rows_read as i64,
            m.rows_loaded as i64 + m.rows_rejected as i64 + m.rows_filtered,
            "{}: read != loaded + rejected + filtered",
            m.name
        );
    }
}

/// The ferry binary, for CLI tests.
pub fn ferry() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
}

/// A copy report's schema objects of one `status`, each as `table object: detail`.
pub fn schema_objects(report: &ferry::copy::CopyReport, status: &str) -> Vec<String> {
    let listed = report.schema.iter().filter(|o| o.status == status);
    listed.map(|o| format!("{} {}: {}", o.table, o.object, o.detail.clone().unwrap_or_default())).collect()
}

/// Rows of text values, as a server's rows are compared.
pub fn text_rows(rows: &[&[&str]]) -> Vec<Vec<Option<String>>> {
    rows.iter().map(|row| row.iter().map(|v| Some(v.to_string())).collect()).collect()
}
