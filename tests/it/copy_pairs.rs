//! `ferry copy` between every pair of PostgreSQL, MySQL and SQLite: the same shop schema made in
//! each source's own DDL, copied, its rows compared, its foreign keys found in the target's
//! catalog, its identity column going on.

use ferry::connection::Endpoint;

use crate::common::{sqlite_rows, MysqlDatabase, PgDatabase};
use crate::copy::{
    copy_all, decimal_text, sqlite_execute, COMPARED, MYSQL_SCHEMA, POSTGRES_SCHEMA, ROWS, SQLITE_SCHEMA,
};

/// A database of one engine.
enum Db {
    Postgres(PgDatabase),
    Mysql(MysqlDatabase),
    Sqlite(tempfile::TempDir),
}

impl Db {
    fn new(engine: &str) -> Db {
        match engine {
            "postgres" => Db::Postgres(PgDatabase::new()),
            "mysql" => Db::Mysql(MysqlDatabase::new()),
            _ => Db::Sqlite(tempfile::tempdir().unwrap()),
        }
    }

    fn endpoint(&self) -> Endpoint {
        match self {
            Db::Postgres(db) => db.endpoint(),
            Db::Mysql(db) => db.endpoint(),
            Db::Sqlite(dir) => Endpoint::parse("sqlite://db.sqlite", dir.path()).unwrap(),
        }
    }

    fn execute(&self, sql: &str) {
        match self {
            Db::Postgres(db) => drop(db.rows(sql)),
            Db::Mysql(db) => db.execute(sql),
            Db::Sqlite(dir) => sqlite_execute(&dir.path().join("db.sqlite"), sql),
        }
    }

    /// Rows as text, decimals at their scale whatever the engine prints.
    fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let rows = match self {
            Db::Postgres(db) => db.rows(sql),
            Db::Mysql(db) => db.rows(sql),
            Db::Sqlite(dir) => sqlite_rows(&dir.path().join("db.sqlite"), sql),
        };
        rows.into_iter().map(decimal_text).collect()
    }

    /// The shop schema in this engine's own DDL, and its rows.
    fn fill(&self) {
        match self {
            Db::Postgres(_) => self.execute(POSTGRES_SCHEMA),
            Db::Mysql(_) => self.execute(MYSQL_SCHEMA),
            Db::Sqlite(_) => self.execute(SQLITE_SCHEMA),
        }
        match self {
            Db::Postgres(_) => self.execute(ROWS),
            _ => self.execute(&ROWS.replace("TRUE", "1").replace("FALSE", "0")),
        }
    }
}

/// Every row the same, three foreign keys in the target's own catalog, identity going on.
async fn pair(from: &str, to: &str) {
    let (source, target) = (Db::new(from), Db::new(to));
    source.fill();
    copy_all(&source.endpoint(), &target.endpoint()).await;
    for sql in COMPARED {
        assert_eq!(target.rows(sql), source.rows(sql), "{from} -> {to}: {sql}");
    }
    let catalog = ferry::db::open(&target.endpoint()).catalog().await.unwrap();
    let keys: usize = catalog.tables.iter().map(|t| t.foreign_keys.len()).sum();
    assert_eq!(keys, 3, "{from} -> {to}");
    target.execute("INSERT INTO artist (name) VALUES ('new')");
    assert_eq!(target.rows("SELECT id FROM artist WHERE name = 'new'"), [[Some("4".to_string())]], "{from} -> {to}");
}

macro_rules! pairs {
    ($($name:ident: $from:literal -> $to:literal),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                pair($from, $to).await;
            }
        )*
    };
}

pairs! {
    pair_postgres_postgres: "postgres" -> "postgres",
    pair_postgres_mysql: "postgres" -> "mysql",
    pair_postgres_sqlite: "postgres" -> "sqlite",
    pair_mysql_postgres: "mysql" -> "postgres",
    pair_mysql_mysql: "mysql" -> "mysql",
    pair_mysql_sqlite: "mysql" -> "sqlite",
    pair_sqlite_postgres: "sqlite" -> "postgres",
    pair_sqlite_mysql: "sqlite" -> "mysql",
    pair_sqlite_sqlite: "sqlite" -> "sqlite",
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_parquet_lake_and_back() {
    let (source, target) = (Db::new("postgres"), PgDatabase::new());
    source.fill();
    let lake = tempfile::tempdir().unwrap();
    let lake = Endpoint::parse("file://lake", lake.path()).unwrap();
    let out = ferry::copy::copy(&source.endpoint(), &lake, &Default::default()).await.unwrap();
    assert_eq!(out.run.error, None, "{}", out.text());
    let back = ferry::copy::copy(&lake, &target.endpoint(), &Default::default()).await.unwrap();
    assert_eq!(back.run.error, None, "{}", back.text());
    // The declared types ride in the files' metadata: varchar(160), not text.
    let types = target.rows(
        "SELECT column_name, format_type(atttypid, atttypmod) FROM information_schema.columns c \
         JOIN pg_attribute a ON a.attrelid = 'album'::regclass AND a.attname = c.column_name \
         WHERE c.table_name = 'album' ORDER BY ordinal_position",
    );
    let expected =
        [["id", "integer"], ["artist_id", "integer"], ["title", "character varying(160)"], ["price", "numeric(6,2)"]];
    assert_eq!(types, expected.map(|r| r.map(|v| Some(v.to_string()))));
    let sql = COMPARED[1];
    assert_eq!(target.rows(sql).into_iter().map(decimal_text).collect::<Vec<_>>(), source.rows(sql), "{sql}");
}
