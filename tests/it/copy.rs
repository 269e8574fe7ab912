//! `ferry copy` between engines: tables with their keys, indexes, foreign keys (a chain and a
//! self-reference), defaults and identity columns; every row reconciled; the target's schema
//! read from its own catalog tables; and the bad inputs, each refused before anything is written.

use std::path::Path;

use ferry::connection::Endpoint;
use ferry::copy::{copy, CopyOptions, IfExists};
use ferry::report::Status;

use crate::common::{sqlite_rows, MysqlDatabase, PgDatabase};

pub const ROWS: &str = "INSERT INTO artist (id, name, active) VALUES (1, 'AC/DC', TRUE), (2, 'Accept', FALSE), (3, 'Zoë', NULL);
INSERT INTO album (id, artist_id, title, price) VALUES (1, 1, 'For Those About To Rock', 10.99), (2, 2, 'Balls to the Wall', NULL), (3, 1, 'Let There Be Rock', 8.50);
INSERT INTO employee (id, boss_id, name) VALUES (1, NULL, 'Andrew'), (2, 1, 'Nancy'), (3, 2, 'Jane');
UPDATE artist SET mood = 'it''s' WHERE id = 1;
INSERT INTO track (album_id, position, name) VALUES (1, 1, 'For Those About To Rock'), (1, 2, 'Put The Finger On You'), (2, 1, 'Balls to the Wall')";

pub const POSTGRES_SCHEMA: &str = "CREATE TYPE mood AS ENUM ('sad', 'ok', 'it''s');
CREATE TABLE artist (id SERIAL PRIMARY KEY, name VARCHAR(120) NOT NULL, active BOOLEAN DEFAULT TRUE, created TIMESTAMP DEFAULT CURRENT_TIMESTAMP, mood mood DEFAULT 'ok');
CREATE TABLE album (id SERIAL PRIMARY KEY, artist_id INTEGER NOT NULL REFERENCES artist (id), title VARCHAR(160), price NUMERIC(6, 2) DEFAULT 9.99);
CREATE INDEX album_title ON album (title);
CREATE TABLE employee (id INTEGER PRIMARY KEY, boss_id INTEGER REFERENCES employee (id), name TEXT);
CREATE TABLE track (album_id INTEGER REFERENCES album (id) ON DELETE CASCADE, position INTEGER, name VARCHAR(200) NOT NULL, PRIMARY KEY (album_id, position));
CREATE UNIQUE INDEX track_name ON track (album_id, name)";

pub const MYSQL_SCHEMA: &str = "CREATE TABLE artist (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(120) NOT NULL, active TINYINT(1) DEFAULT 1, created DATETIME DEFAULT CURRENT_TIMESTAMP, mood ENUM('sad', 'ok', 'it''s') DEFAULT 'ok');
CREATE TABLE album (id INT AUTO_INCREMENT PRIMARY KEY, artist_id INT NOT NULL, title VARCHAR(160), price DECIMAL(6, 2) DEFAULT 9.99, FOREIGN KEY (artist_id) REFERENCES artist (id), INDEX album_title (title));
CREATE TABLE employee (id INT PRIMARY KEY, boss_id INT, name TEXT, FOREIGN KEY (boss_id) REFERENCES employee (id));
CREATE TABLE track (album_id INT, position INT, name VARCHAR(200) NOT NULL, PRIMARY KEY (album_id, position), FOREIGN KEY (album_id) REFERENCES album (id) ON DELETE CASCADE, UNIQUE INDEX track_name (album_id, name))";

pub const SQLITE_SCHEMA: &str = "CREATE TABLE artist (id INTEGER PRIMARY KEY, name VARCHAR(120) NOT NULL, active BOOLEAN DEFAULT 1, created TIMESTAMP DEFAULT CURRENT_TIMESTAMP, mood TEXT DEFAULT 'ok');
CREATE TABLE album (id INTEGER PRIMARY KEY, artist_id INTEGER NOT NULL REFERENCES artist (id), title VARCHAR(160), price DECIMAL(6, 2) DEFAULT 9.99);
CREATE INDEX album_title ON album (title);
CREATE TABLE employee (id INTEGER NOT NULL PRIMARY KEY, boss_id INTEGER REFERENCES employee (id), name TEXT);
CREATE TABLE track (album_id INTEGER REFERENCES album (id) ON DELETE CASCADE, position INTEGER, name VARCHAR(200) NOT NULL, PRIMARY KEY (album_id, position));
CREATE UNIQUE INDEX track_name ON track (album_id, name)";

/// The columns every engine prints alike, in a fixed order.
pub const COMPARED: [&str; 4] = [
    "SELECT id, name, mood FROM artist ORDER BY id",
    "SELECT id, artist_id, title, price FROM album ORDER BY id",
    "SELECT id, boss_id, name FROM employee ORDER BY id",
    "SELECT album_id, position, name FROM track ORDER BY album_id, position",
];

pub fn sqlite_execute(path: &Path, sql: &str) {
    rusqlite::Connection::open(path).unwrap().execute_batch(sql).unwrap();
}

/// Copies everything and checks the report: four tables, each loaded and reconciled; returns
/// the schema objects not simply created, as (table, object, status).
pub async fn copy_all(source: &Endpoint, target: &Endpoint) -> Vec<(String, String, &'static str)> {
    let options = CopyOptions { workers: 3, ..Default::default() };
    let report = copy(source, target, &options).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    let loaded: Vec<(&str, u64)> = report.run.migrations.iter().map(|m| (m.name.as_str(), m.rows_loaded)).collect();
    assert_eq!(loaded, [("artist", 3), ("album", 3), ("employee", 3), ("track", 3)]);
    for migration in &report.run.migrations {
        assert_eq!(migration.status, Status::Succeeded, "{}", report.text());
    }
    assert!(report.schema.iter().all(|o| o.status != "failed"), "{}", report.text());
    let others = report.schema.iter().filter(|o| o.status != "created");
    let others = others.map(|o| (o.table.clone(), o.object.clone(), o.status)).collect();
    // Copying again into the same target is refused, naming the tables, and writes nothing.
    let error = copy(source, target, &CopyOptions::default()).await.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "`{target}` already has `artist`, `album`, `employee`, `track`; nothing was written"
        )),
        "{error}"
    );
    others
}

/// What PostgreSQL has beyond the portable schema: a view, a partial index, a CHECK.
const POSTGRES_EXTRAS: &str = "CREATE VIEW album_titles AS SELECT id, title FROM album;
CREATE INDEX album_cheap ON album (price) WHERE price < 9;
ALTER TABLE album ADD CONSTRAINT price_positive CHECK (price >= 0)";

fn skipped_extras() -> Vec<(String, String, &'static str)> {
    [("album", "index album_cheap"), ("album", "check price_positive")]
        .map(|(table, object)| (table.to_string(), object.to_string(), "skipped"))
        .to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_postgres_keeps_views() {
    let (source, target) = (PgDatabase::new(), PgDatabase::new());
    source.rows(POSTGRES_SCHEMA);
    source.rows(ROWS);
    source.rows(POSTGRES_EXTRAS);
    assert_eq!(copy_all(&source.endpoint(), &target.endpoint()).await, []);
    let sql = "SELECT id, title FROM album_titles ORDER BY id";
    assert_eq!(target.rows(sql), source.rows(sql));
    // Within one engine the partial index and the CHECK are made again as they were.
    let sql = "SELECT indexdef FROM pg_indexes WHERE indexname = 'album_cheap'";
    assert_eq!(target.rows(sql), source.rows(sql));
    let sql = "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' ORDER BY 1";
    assert_eq!(target.rows(sql), source.rows(sql));
    assert!(target.rows(sql).iter().any(|row| row[0].as_deref() == Some("price_positive")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_to_postgres() {
    let (source, target) = (MysqlDatabase::new(), PgDatabase::new());
    source.execute(MYSQL_SCHEMA);
    source.execute(&ROWS.replace("TRUE", "1").replace("FALSE", "0"));
    // A TIMESTAMP is an instant: it arrives as one.
    source.execute("ALTER TABLE artist ADD seen TIMESTAMP NULL DEFAULT NULL; SET time_zone = '+00:00'; UPDATE artist SET seen = '2024-05-06 07:08:09' WHERE id = 1");
    copy_all(&source.endpoint(), &target.endpoint()).await;
    for sql in COMPARED {
        assert_eq!(target.rows(sql), source.rows(sql), "{sql}");
    }
    let labels = target.rows("SELECT format_type(atttypid, atttypmod), enum_range(NULL::artist_mood)::text FROM pg_attribute WHERE attrelid = 'artist'::regclass AND attname = 'mood'");
    assert_eq!(labels, [[Some("artist_mood".to_string()), Some("{sad,ok,it's}".to_string())]]);
    let seen = target.rows("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'artist'::regclass AND attname = 'seen'");
    assert_eq!(seen, [[Some("timestamp with time zone".to_string())]]);
    let seen = target.rows("SELECT to_char(seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') FROM artist ORDER BY id");
    assert_eq!(seen, [Some("2024-05-06 07:08:09".to_string()), None, None].map(|v| [v]));
    let keys = target.rows("SELECT conname FROM pg_constraint WHERE contype = 'f' ORDER BY 1");
    assert_eq!(keys, [["album_ibfk_1"], ["employee_ibfk_1"], ["track_ibfk_1"]].map(|r| r.map(|v| Some(v.to_string()))));
    let unique = target.rows(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'track' AND indexdef LIKE 'CREATE UNIQUE%' ORDER BY 1",
    );
    assert_eq!(unique, [[Some("track_name".to_string())], [Some("track_pkey".to_string())]]);
    assert_eq!(
        target.rows("SELECT count(*) FROM pg_indexes WHERE indexname = 'album_title'"),
        [[Some("1".to_string())]]
    );
    // The identity goes on after the copied rows; the defaults are the source's.
    let inserted = target.rows("INSERT INTO artist (name) VALUES ('new') RETURNING id, active, created IS NOT NULL");
    assert_eq!(inserted, [[Some("4".to_string()), Some("t".to_string()), Some("t".to_string())]]);
    assert_eq!(target.rows("INSERT INTO album (artist_id) VALUES (4) RETURNING price"), [[Some("9.99".to_string())]]);
    // The foreign key keeps its action.
    target.rows("DELETE FROM album WHERE id = 2");
    assert_eq!(target.rows("SELECT count(*) FROM track WHERE album_id = 2"), [[Some("0".to_string())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_mysql() {
    let (source, target) = (PgDatabase::new(), MysqlDatabase::new());
    source.rows(POSTGRES_SCHEMA);
    source.rows(ROWS);
    source.rows(POSTGRES_EXTRAS);
    let mut expected = skipped_extras();
    expected.push(("album_titles".to_string(), "view".to_string(), "skipped"));
    assert_eq!(copy_all(&source.endpoint(), &target.endpoint()).await, expected);
    for sql in COMPARED {
        assert_eq!(target.rows(sql), source.rows(sql), "{sql}");
    }
    let keys = target.rows(
        "SELECT constraint_name, referenced_table_name FROM information_schema.referential_constraints \
         WHERE constraint_schema = DATABASE() ORDER BY 1",
    );
    let expected =
        [["album_artist_id_fkey", "artist"], ["employee_boss_id_fkey", "employee"], ["track_album_id_fkey", "album"]];
    assert_eq!(keys, expected.map(|r| r.map(|v| Some(v.to_string()))));
    let mood = target.rows(
        "SELECT column_type, column_default FROM information_schema.columns WHERE table_schema = DATABASE() \
         AND table_name = 'artist' AND column_name = 'mood'",
    );
    assert_eq!(mood, [[Some("enum('sad','ok','it''s')".to_string()), Some("'ok'".to_string())]]);
    let unique = target.rows(
        "SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = DATABASE() \
         AND table_name = 'track' AND non_unique = 0 ORDER BY 1",
    );
    assert_eq!(unique, [[Some("PRIMARY".to_string())], [Some("track_name".to_string())]]);
    target.execute("INSERT INTO artist (name) VALUES ('new')");
    let inserted = target.rows("SELECT id, active, created IS NOT NULL FROM artist WHERE name = 'new'");
    assert_eq!(inserted, [[Some("4".to_string()), Some("1".to_string()), Some("1".to_string())]]);
    target.execute("DELETE FROM album WHERE id = 2");
    assert_eq!(target.rows("SELECT count(*) FROM track WHERE album_id = 2"), [[Some("0".to_string())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_sqlite() {
    let source = PgDatabase::new();
    source.rows(POSTGRES_SCHEMA);
    source.rows(ROWS);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("copy.db");
    copy_all(&source.endpoint(), &Endpoint::parse("sqlite://copy.db", dir.path()).unwrap()).await;
    for sql in COMPARED {
        let copied: Vec<_> = sqlite_rows(&path, sql).into_iter().map(decimal_text).collect();
        assert_eq!(copied, source.rows(sql), "{sql}");
    }
    let keys = sqlite_rows(
        &path,
        "SELECT m.name, f.\"table\" FROM sqlite_master m, pragma_foreign_key_list(m.name) f ORDER BY 1",
    );
    let expected = [["album", "artist"], ["employee", "employee"], ["track", "album"]];
    assert_eq!(keys, expected.map(|r| r.map(|v| Some(v.to_string()))));
    let indexes =
        sqlite_rows(&path, "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY 1");
    assert_eq!(indexes, [[Some("album_title".to_string())], [Some("track_name".to_string())]]);
    sqlite_execute(&path, "INSERT INTO artist (name) VALUES ('new')");
    let inserted = sqlite_rows(&path, "SELECT id, active, created IS NOT NULL FROM artist WHERE name = 'new'");
    assert_eq!(inserted, [[Some("4".to_string()), Some("1".to_string()), Some("1".to_string())]]);
    let refused = rusqlite::Connection::open(&path).unwrap().execute_batch("UPDATE artist SET mood = 'glad'");
    assert!(refused.unwrap_err().to_string().contains("CHECK constraint failed"));
    sqlite_execute(&path, "PRAGMA foreign_keys = ON; DELETE FROM album WHERE id = 2");
    assert_eq!(sqlite_rows(&path, "SELECT count(*) FROM track WHERE album_id = 2"), [[Some("0".to_string())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_mysql() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("source.db");
    sqlite_execute(&path, SQLITE_SCHEMA);
    sqlite_execute(&path, &ROWS.replace("TRUE", "1").replace("FALSE", "0"));
    let target = MysqlDatabase::new();
    copy_all(&Endpoint::parse("sqlite://source.db", dir.path()).unwrap(), &target.endpoint()).await;
    for sql in COMPARED {
        assert_eq!(
            target.rows(sql),
            sqlite_rows(&path, sql).into_iter().map(decimal_text).collect::<Vec<_>>(),
            "{sql}"
        );
    }
    let keys = target
        .rows("SELECT count(*) FROM information_schema.referential_constraints WHERE constraint_schema = DATABASE()");
    assert_eq!(keys, [[Some("3".to_string())]]);
    target.execute("INSERT INTO artist (name) VALUES ('new')");
    assert_eq!(target.rows("SELECT id FROM artist WHERE name = 'new'"), [[Some("4".to_string())]]);
    target.execute("DELETE FROM album WHERE id = 2");
    assert_eq!(target.rows("SELECT count(*) FROM track WHERE album_id = 2"), [[Some("0".to_string())]]);
}

/// SQLite keeps a DECIMAL as a number (8.5) where the others print the column's scale (8.50).
pub fn decimal_text(row: Vec<Option<String>>) -> Vec<Option<String>> {
    row.into_iter()
        .map(|value| match value {
            Some(v) if v.contains('.') && v.parse::<f64>().is_ok() => Some(format!("{:.2}", v.parse::<f64>().unwrap())),
            other => other,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_anything_is_written() {
    let (source, target) = (PgDatabase::new(), PgDatabase::new());
    source.rows(POSTGRES_SCHEMA);
    source.rows("CREATE TABLE places (id INTEGER PRIMARY KEY, at POINT)");
    let (from, to) = (source.endpoint(), target.endpoint());
    let options = |tables: &[&str], exclude: &[&str]| CopyOptions {
        tables: tables.iter().map(|t| t.to_string()).collect(),
        exclude: exclude.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    };
    let error = copy(&from, &to, &options(&["albums*"], &[])).await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!("`albums*` matches no table of `{from}`; it has `album`, `artist`, `employee`, `places`, `track`")
    );
    // A type with no portable form, between two engines: MySQL reads a POINT as no text ferry
    // can store elsewhere (PostgreSQL's point arrives as its text form, below).
    let mysql = MysqlDatabase::new();
    mysql.execute("CREATE TABLE places (id INTEGER PRIMARY KEY, at POINT)");
    let error = copy(&mysql.endpoint(), &to, &options(&["places"], &[])).await.unwrap_err().to_string();
    assert_eq!(
        error,
        "column `places.at` has type `point`, which ferry cannot translate from MySQL to PostgreSQL; give it one with --cast places.at=TYPE (e.g. text), or leave the table out with --exclude places"
    );
    assert!(target.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").is_empty());
    mysql.execute("DROP TABLE places");
    let cast = |rules: &[&str]| CopyOptions {
        casts: rules.iter().map(|r| r.to_string()).collect(),
        ..options(&["places"], &[])
    };
    let error = copy(&from, &mysql.endpoint(), &cast(&["places.where=text"])).await.unwrap_err().to_string();
    assert_eq!(error, "--cast `places.where=text`: no column of that name among the tables copied (write TABLE.COLUMN as the source spells them)");
    // With a type given, the values arrive as their text.
    source.rows("INSERT INTO places VALUES (1, point(1.5, 2))");
    let report = copy(&from, &mysql.endpoint(), &cast(&["places.at=varchar(40)", "integer=bigint"])).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    let columns = mysql.rows("SELECT column_name, column_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'places' ORDER BY ordinal_position");
    assert_eq!(columns, [["id", "bigint(20)"], ["at", "varchar(40)"]].map(|r| r.map(|v| Some(v.to_string()))));
    assert_eq!(mysql.rows("SELECT id, at FROM places"), [[Some("1".to_string()), Some("(1.5,2)".to_string())]]);
    // A foreign key to a table left out is reported, not created.
    let dry = CopyOptions { dry_run: true, ..options(&["album", "track"], &[]) };
    let report = copy(&from, &to, &dry).await.unwrap();
    let skipped: Vec<(&str, &str)> =
        report.schema.iter().filter(|o| o.status == "skipped").map(|o| (o.table.as_str(), o.object.as_str())).collect();
    assert_eq!(skipped, [("album", "foreign key album_artist_id_fkey")]);
    assert!(report.ddl.iter().any(|sql| sql.starts_with("CREATE TABLE \"album\"")), "{:?}", report.ddl);
    assert!(target.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").is_empty(), "a dry run wrote");
    // Existing tables: skip leaves them, replace copies them anew.
    let only_artist = options(&["artist"], &[]);
    copy(&from, &to, &only_artist).await.unwrap();
    let skip = CopyOptions { if_exists: IfExists::Skip, ..options(&["artist", "employee"], &[]) };
    let report = copy(&from, &to, &skip).await.unwrap();
    let copied: Vec<&str> = report.run.migrations.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(copied, ["employee"]);
    let replace = CopyOptions { if_exists: IfExists::Replace, ..only_artist };
    assert_eq!(copy(&from, &to, &replace).await.unwrap().run.error, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_table_leaves_the_others_loaded() {
    let (source, target) = (PgDatabase::new(), PgDatabase::new());
    source.rows(POSTGRES_SCHEMA);
    source.rows(ROWS);
    let (from, to) = (source.endpoint(), target.endpoint());
    copy(&from, &to, &CopyOptions { schema_only: true, ..Default::default() }).await.unwrap();
    target.rows("ALTER TABLE artist ALTER COLUMN name TYPE VARCHAR(3)");
    let report = copy(&from, &to, &CopyOptions { data_only: true, workers: 2, ..Default::default() }).await.unwrap();
    let statuses: Vec<(&str, Status)> = report.run.migrations.iter().map(|m| (m.name.as_str(), m.status)).collect();
    // The artists do not fit; the albums (and so the tracks) reference them; the employees load.
    let expected = [
        ("artist", Status::Failed),
        ("album", Status::Failed),
        ("employee", Status::Succeeded),
        ("track", Status::Failed),
    ];
    assert_eq!(statuses, expected);
    let error = report.run.error.unwrap();
    assert!(error.contains("writing `artist`") && error.contains("value too long"), "{error}");
    assert_eq!(target.rows("SELECT count(*) FROM employee"), [[Some("3".to_string())]]);
    assert_eq!(target.rows("SELECT count(*) FROM artist"), [[Some("0".to_string())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_fold_to_snake_case_everywhere() {
    let (source, target) = (MysqlDatabase::new(), PgDatabase::new());
    source.execute(
        "CREATE TABLE Track (TrackId INT PRIMARY KEY, Name VARCHAR(20));
         CREATE TABLE InvoiceLine (InvoiceLineId INT AUTO_INCREMENT PRIMARY KEY, TrackId INT, UnitPrice DECIMAL(10, 2),
           INDEX IFK_Track (TrackId), CONSTRAINT FK_Track FOREIGN KEY (TrackId) REFERENCES Track (TrackId));
         INSERT INTO Track VALUES (1, 'One'), (2, 'Two');
         INSERT INTO InvoiceLine (TrackId, UnitPrice) VALUES (1, 0.99), (2, 1.99), (2, 1.99)",
    );
    let options = CopyOptions { names: ferry::copy::Names::Snake, ..Default::default() };
    let report = copy(&source.endpoint(), &target.endpoint(), &options).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    let columns = target.rows(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' \
         AND table_name NOT LIKE '\\_ferry\\_%' ORDER BY 1, ordinal_position",
    );
    let expected = [
        ["invoice_line", "invoice_line_id"],
        ["invoice_line", "track_id"],
        ["invoice_line", "unit_price"],
        ["track", "track_id"],
        ["track", "name"],
    ];
    assert_eq!(columns, expected.map(|r| r.map(|v| Some(v.to_string()))));
    let keys = target.rows("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f'");
    assert_eq!(
        keys,
        [[Some("fk_track".to_string()), Some("FOREIGN KEY (track_id) REFERENCES track(track_id)".to_string())]]
    );
    assert_eq!(target.rows("SELECT count(*) FROM pg_indexes WHERE indexname = 'ifk_track'"), [[Some("1".to_string())]]);
    let sql =
        "SELECT t.name, sum(l.unit_price) FROM invoice_line l JOIN track t USING (track_id) GROUP BY 1 ORDER BY 1";
    assert_eq!(target.rows(sql), [["One", "0.99"], ["Two", "3.98"]].map(|r| r.map(|v| Some(v.to_string()))));
    let next = target.rows("INSERT INTO invoice_line (track_id) VALUES (1) RETURNING invoice_line_id");
    assert_eq!(next, [[Some("4".to_string())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_goes_on_with_the_tables_not_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("source.db");
    // SQLite keeps the 7 characters its VARCHAR(3) cannot hold elsewhere: that table fails.
    sqlite_execute(
        &path,
        "CREATE TABLE codes (id INTEGER PRIMARY KEY, code VARCHAR(3)); INSERT INTO codes VALUES (1, 'toolong');
         CREATE TABLE names (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO names VALUES (1, 'kept'), (2, 'also kept');",
    );
    let source = Endpoint::parse("sqlite://source.db", dir.path()).unwrap();
    let target = PgDatabase::new();
    let report = copy(&source, &target.endpoint(), &CopyOptions::default()).await.unwrap();
    let statuses: Vec<(&str, Status)> = report.run.migrations.iter().map(|m| (m.name.as_str(), m.status)).collect();
    assert_eq!(statuses, [("codes", Status::Failed), ("names", Status::Succeeded)]);
    // Without --resume the copy refuses the tables it finds; with it, it copies only `codes`.
    let again = copy(&source, &target.endpoint(), &CopyOptions::default()).await.unwrap_err().to_string();
    assert!(again.contains("already has `codes`, `names`"), "{again}");
    sqlite_execute(&path, "UPDATE codes SET code = 'ok'");
    let resumed = copy(&source, &target.endpoint(), &CopyOptions { resume: true, ..Default::default() }).await.unwrap();
    assert_eq!(resumed.run.error, None, "{}", resumed.text());
    let copied: Vec<&str> = resumed.run.migrations.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(copied, ["codes"]);
    let skipped: Vec<(&str, &str)> = resumed
        .schema
        .iter()
        .filter(|o| o.status == "skipped")
        .map(|o| (o.table.as_str(), o.object.as_str()))
        .collect();
    assert_eq!(skipped, [("names", "table")]);
    assert_eq!(target.rows("SELECT code FROM codes"), [[Some("ok".to_string())]]);
    assert_eq!(target.rows("SELECT count(*) FROM names"), [[Some("2".to_string())]]);
    // Nothing is left to do.
    let done = copy(&source, &target.endpoint(), &CopyOptions { resume: true, ..Default::default() }).await.unwrap();
    assert!(done.run.migrations.is_empty());
}
