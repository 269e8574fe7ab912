//! `ferry copy` of what the public samples showed wrong: foreign keys that form a cycle
//! (Sakila's store and staff) into SQLite, whose keys are made with the table; rows whose key
//! references nothing, reported rather than failing the table; TEXT columns in keys into MySQL
//! (Northwind's SQLite `CustomerID`); decimals without a precision into MySQL, which has none;
//! Pagila's generated column, function defaults and serial column second in its key; a MySQL
//! script whose second statement fails. The expected values are the servers' own.

use ferry::copy::{copy, CopyOptions};

use crate::common::{schema_objects as objects, sqlite_rows, text_rows as text, MysqlDatabase};

/// Two tables that reference each other (as Sakila's `store` and `staff` do) and one that
/// references the cycle, loaded with foreign key checks off, as a dump would be.
const CYCLE: &str = "SET FOREIGN_KEY_CHECKS = 0;
CREATE TABLE store (id INT PRIMARY KEY, manager INT NOT NULL, CONSTRAINT store_manager FOREIGN KEY (manager) REFERENCES staff (id));
CREATE TABLE staff (id INT PRIMARY KEY, store INT NOT NULL, CONSTRAINT staff_store FOREIGN KEY (store) REFERENCES store (id));
CREATE TABLE customer (id INT PRIMARY KEY, store INT NOT NULL, CONSTRAINT customer_store FOREIGN KEY (store) REFERENCES store (id));
INSERT INTO store VALUES (1, 10), (2, 20);
INSERT INTO staff VALUES (10, 1), (20, 2);
INSERT INTO customer VALUES (100, 1), (101, 2), (102, 1)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_of_foreign_keys_loads_into_sqlite_and_is_checked_after() {
    let source = MysqlDatabase::new();
    source.execute(CYCLE);
    let dir = tempfile::tempdir().unwrap();
    let target = ferry::connection::Endpoint::parse("sqlite://cycle.db", dir.path()).unwrap();
    let report = copy(&source.endpoint(), &target, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    assert_eq!(objects(&report, "failed"), Vec::<String>::new(), "{}", report.text());
    let made: Vec<&str> =
        report.schema.iter().filter(|o| o.object.starts_with("foreign key")).map(|o| o.status).collect();
    assert_eq!(made, ["created"; 3], "{}", report.text());
    let file = dir.path().join("cycle.db");
    assert_eq!(
        sqlite_rows(&file, "SELECT id, store FROM customer ORDER BY id"),
        text(&[&["100", "1"], &["101", "2"], &["102", "1"]])
    );
    assert_eq!(sqlite_rows(&file, "SELECT id, manager FROM store ORDER BY id"), text(&[&["1", "10"], &["2", "20"]]));
    // The keys are the tables' own, and every row satisfies them.
    let keys = sqlite_rows(
        &file,
        "SELECT m.name, k.\"from\", k.\"table\" FROM sqlite_master m, pragma_foreign_key_list(m.name) k \
         WHERE m.type = 'table' AND m.name NOT LIKE '\\_ferry%' ESCAPE '\\' ORDER BY 1",
    );
    assert_eq!(
        keys,
        text(&[&["customer", "store", "store"], &["staff", "store", "store"], &["store", "manager", "staff"]])
    );
    assert_eq!(sqlite_rows(&file, "PRAGMA foreign_key_check"), Vec::<Vec<Option<String>>>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_that_reference_nothing_are_counted_not_lost() {
    let source = MysqlDatabase::new();
    // A customer of a store that does not exist, as a source loaded without checks may hold.
    source.execute(&format!("{CYCLE}; INSERT INTO customer VALUES (103, 9), (104, 9)"));
    let dir = tempfile::tempdir().unwrap();
    let target = ferry::connection::Endpoint::parse("sqlite://orphans.db", dir.path()).unwrap();
    let report = copy(&source.endpoint(), &target, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    assert_eq!(
        objects(&report, "failed"),
        ["customer foreign key customer_store: 2 rows reference no row of `store`; the key is part of the table \
          (made with it), so those rows are kept as the source has them"]
    );
    let file = dir.path().join("orphans.db");
    assert_eq!(sqlite_rows(&file, "SELECT count(*) FROM customer"), text(&[&["5"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_keys_and_decimals_without_precision_into_mysql() {
    let dir = tempfile::tempdir().unwrap();
    // Northwind's SQLite shape: TEXT keys, NUMERIC prices holding reals and integers.
    crate::copy::sqlite_execute(
        &dir.path().join("shop.db"),
        "CREATE TABLE customers (code TEXT PRIMARY KEY, name TEXT);
         CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT REFERENCES customers (code), freight NUMERIC DEFAULT 0);
         CREATE INDEX orders_by_name ON customers (name);
         INSERT INTO customers VALUES ('ALFKI', 'Alfreds'), ('ANATR', 'Ana');
         INSERT INTO orders VALUES (1, 'ALFKI', 32.38), (2, 'ANATR', 7), (3, NULL, NULL), (4, 'ALFKI', 0.000001),
           (5, 'ANATR', -1234567890123.25)",
    );
    let source = ferry::connection::Endpoint::parse("sqlite://shop.db", dir.path()).unwrap();
    let target = MysqlDatabase::new();
    let report = copy(&source, &target.endpoint(), &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    assert_eq!(objects(&report, "failed"), Vec::<String>::new(), "{}", report.text());
    assert!(
        objects(&report, "translated").iter().any(|t| t.starts_with(
            "orders column freight: freight decimal -> DECIMAL(65, 30): MySQL has no decimal without a precision"
        )),
        "{}",
        report.text()
    );
    let columns = target.rows(
        "SELECT table_name, column_name, column_type FROM information_schema.columns \
         WHERE table_schema = DATABASE() AND table_name NOT LIKE '\\_ferry%' ORDER BY table_name, ordinal_position",
    );
    let expected = [
        ["customers", "code", "varchar(255)"],
        ["customers", "name", "varchar(255)"],
        ["orders", "id", "bigint(20)"],
        ["orders", "customer", "varchar(255)"],
        ["orders", "freight", "decimal(65,30)"],
    ];
    let expected: Vec<Vec<Option<String>>> =
        expected.iter().map(|row| row.iter().map(|v| Some(v.to_string())).collect()).collect();
    assert_eq!(columns, expected);
    let keys = target.rows(
        "SELECT constraint_name, referenced_table_name FROM information_schema.referential_constraints \
         WHERE constraint_schema = DATABASE()",
    );
    assert_eq!(keys, text(&[&["orders_customer_fkey", "customers"]]));
    let freight = target.rows("SELECT id, CAST(freight AS CHAR) FROM orders ORDER BY id");
    let mut expected = text(&[
        &["1", "32.380000000000000000000000000000"],
        &["2", "7.000000000000000000000000000000"],
        &["3", "-"],
        &["4", "0.000001000000000000000000000000"],
        &["5", "-1234567890123.250000000000000000000000000000"],
    ]);
    expected[2][1] = None;
    assert_eq!(freight, expected);
}

/// Pagila's shapes: a generated column, defaults that call PostgreSQL's functions, and a serial
/// column that is not first in its table's primary key (as in a partitioned table).
const PAGILA: &str = "CREATE TABLE film (id serial, length smallint,
  hours numeric(4,2) GENERATED ALWAYS AS (round(length / 60.0, 2)) STORED,
  code uuid NOT NULL DEFAULT gen_random_uuid(), made date NOT NULL DEFAULT CURRENT_DATE, PRIMARY KEY (made, id));
INSERT INTO film (length, made) VALUES (86, '2020-01-01'), (48, '2021-01-01'), (NULL, '2022-01-01')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_columns_are_made_again_within_postgres() {
    let (source, target) = (crate::common::PgDatabase::new(), crate::common::PgDatabase::new());
    source.rows(PAGILA);
    let report = copy(&source.endpoint(), &target.endpoint(), &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    assert_eq!(objects(&report, "failed"), Vec::<String>::new(), "{}", report.text());
    assert_eq!(objects(&report, "translated"), Vec::<String>::new(), "{}", report.text());
    let sql = "SELECT attname, attgenerated::text, pg_get_expr(adbin, adrelid) FROM pg_attribute \
               LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum \
               WHERE attrelid = 'film'::regclass AND attnum > 0 ORDER BY attnum";
    assert_eq!(target.rows(sql), source.rows(sql));
    let values = "SELECT id, length, hours, made FROM film ORDER BY id";
    assert_eq!(target.rows(values), source.rows(values));
    // The database computes the column and fills the defaults for rows inserted after the copy.
    target.rows("INSERT INTO film (length) VALUES (120)");
    let inserted = target.rows("SELECT id, hours, code IS NOT NULL, made = CURRENT_DATE FROM film WHERE length = 120");
    assert_eq!(inserted, text(&[&["4", "2.00", "t", "t"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_columns_and_function_defaults_into_mysql() {
    let (source, target) = (crate::common::PgDatabase::new(), MysqlDatabase::new());
    source.rows(PAGILA);
    let report = copy(&source.endpoint(), &target.endpoint(), &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    assert_eq!(objects(&report, "failed"), Vec::<String>::new(), "{}", report.text());
    assert!(
        objects(&report, "translated").contains(
            &"film column hours: PostgreSQL computes it as (round(((length)::numeric / 60.0), 2)); here it is a plain \
              column holding the copied values"
                .to_string()
        ),
        "{}",
        report.text()
    );
    assert_eq!(
        objects(&report, "skipped"),
        [
            "film default code: (gen_random_uuid()) is PostgreSQL's SQL: the column has no default",
            "film default made: (CURRENT_DATE) is PostgreSQL's SQL: the column has no default",
        ]
    );
    let columns = target.rows(
        // MariaDB shows a nullable column's missing default as NULL, MySQL as nothing.
        "SELECT column_name, column_type, extra, COALESCE(column_default, 'NULL') FROM information_schema.columns \
         WHERE table_schema = DATABASE() AND table_name = 'film' ORDER BY ordinal_position",
    );
    let expected = text(&[
        &["id", "int(11)", "auto_increment", "NULL"],
        &["length", "smallint(6)", "", "NULL"],
        &["hours", "decimal(4,2)", "", "NULL"],
        &["code", "char(36)", "", "NULL"],
        &["made", "date", "", "NULL"],
    ]);
    assert_eq!(columns, expected);
    let values = target.rows("SELECT id, length, hours, made FROM film ORDER BY id");
    let mut expected =
        text(&[&["1", "86", "1.43", "2020-01-01"], &["2", "48", "0.80", "2021-01-01"], &["3", "-", "-", "2022-01-01"]]);
    (expected[2][1], expected[2][2]) = (None, None);
    assert_eq!(values, expected);
    // AUTO_INCREMENT goes on past the copied rows, though the column is second in the key.
    target.execute("INSERT INTO film (length, code, made) VALUES (120, 'x', '2023-01-01')");
    assert_eq!(target.rows("SELECT id FROM film WHERE length = 120"), text(&[&["4"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_columns_are_made_again_within_mysql() {
    let (source, target) = (MysqlDatabase::new(), MysqlDatabase::new());
    source.execute(
        "CREATE TABLE line (id INT PRIMARY KEY, price DECIMAL(6,2), qty INT,
           total DECIMAL(8,2) AS (price * qty) STORED, label VARCHAR(20) AS (CONCAT('n', id)) VIRTUAL);
         INSERT INTO line (id, price, qty) VALUES (1, 2.50, 4), (2, NULL, 1)",
    );
    let report = copy(&source.endpoint(), &target.endpoint(), &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    assert_eq!(objects(&report, "failed"), Vec::<String>::new(), "{}", report.text());
    let sql = "SELECT column_name, extra, generation_expression FROM information_schema.columns \
               WHERE table_schema = DATABASE() AND table_name = 'line' ORDER BY ordinal_position";
    assert_eq!(target.rows(sql), source.rows(sql));
    let values = "SELECT id, price, qty, total, label FROM line ORDER BY id";
    assert_eq!(target.rows(values), source.rows(values));
    target.execute("INSERT INTO line (id, price, qty) VALUES (3, 1.25, 2)");
    assert_eq!(target.rows("SELECT total, label FROM line WHERE id = 3"), text(&[&["2.50", "n3"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mysql_script_fails_at_the_statement_that_fails() {
    let database = MysqlDatabase::new();
    let backend = ferry::db::open(&database.endpoint());
    let error =
        backend.execute("CREATE TABLE a (x INT); CREATE TABLE b (y NO_SUCH_TYPE); CREATE TABLE c (z INT)").await;
    let error = error.unwrap_err().to_string();
    assert!(error.contains("NO_SUCH_TYPE"), "{error}");
    let tables = database.rows("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()");
    assert_eq!(tables, text(&[&["a"]]));
}

/// An extension's type (citext) and a default only PostgreSQL's floats have.
const EXTENDED: &str = "CREATE EXTENSION citext;
CREATE TABLE person (id int PRIMARY KEY, email citext UNIQUE, score real DEFAULT 'NaN');
INSERT INTO person VALUES (1, 'Ann@Example.org', 1.5), (2, 'bob@example.org', -2)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extensions_come_along_within_postgres() {
    let (source, target) = (crate::common::PgDatabase::new(), crate::common::PgDatabase::new());
    source.rows(EXTENDED);
    let report = copy(&source.endpoint(), &target.endpoint(), &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    assert_eq!(objects(&report, "failed"), Vec::<String>::new(), "{}", report.text());
    let made: Vec<String> = report.schema.iter().filter(|o| o.object == "extension").map(|o| o.table.clone()).collect();
    assert_eq!(made, ["citext"]);
    assert_eq!(target.rows("SELECT extname FROM pg_extension WHERE extname = 'citext'"), text(&[&["citext"]]));
    let sql = "SELECT id, email, score, format_type(pg_typeof(email), NULL), pg_get_expr(adbin, adrelid) \
               FROM person, pg_attrdef WHERE adrelid = 'person'::regclass ORDER BY id";
    assert_eq!(target.rows(sql), source.rows(sql));
    // citext compares without case in the copy too.
    let error = target.try_rows("INSERT INTO person (id, email) VALUES (3, 'ANN@example.ORG')").unwrap_err();
    assert!(error.contains("person_email_key"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_type_and_a_nan_default_into_mysql() {
    let (source, target) = (crate::common::PgDatabase::new(), MysqlDatabase::new());
    source.rows(EXTENDED);
    let report = copy(&source.endpoint(), &target.endpoint(), &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    assert_eq!(objects(&report, "failed"), Vec::<String>::new(), "{}", report.text());
    assert_eq!(
        objects(&report, "skipped"),
        ["person default score: 'NaN' is no number in MySQL: the column has no default"]
    );
    let columns = target.rows(
        "SELECT column_name, column_type FROM information_schema.columns \
         WHERE table_schema = DATABASE() AND table_name = 'person' ORDER BY ordinal_position",
    );
    assert_eq!(columns, text(&[&["id", "int(11)"], &["email", "varchar(255)"], &["score", "float"]]));
    let rows = target.rows("SELECT id, email, score FROM person ORDER BY id");
    assert_eq!(rows, text(&[&["1", "Ann@Example.org", "1.5"], &["2", "bob@example.org", "-2"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bit_fields_are_integers_elsewhere_and_bit_fields_within_mysql() {
    let source = MysqlDatabase::new();
    source.execute(
        "CREATE TABLE flags (id INT PRIMARY KEY, flag BIT(1) NOT NULL DEFAULT b'1', mask BIT(10) DEFAULT b'101');
         INSERT INTO flags VALUES (1, b'0', b'1010101010'), (2, DEFAULT, DEFAULT), (3, b'1', NULL)",
    );
    let within = MysqlDatabase::new();
    let report = copy(&source.endpoint(), &within.endpoint(), &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    let sql = "SELECT column_name, column_type, column_default FROM information_schema.columns \
               WHERE table_schema = DATABASE() AND table_name = 'flags' ORDER BY ordinal_position";
    assert_eq!(within.rows(sql), source.rows(sql));
    let values = "SELECT id, flag + 0, mask + 0 FROM flags ORDER BY id";
    assert_eq!(within.rows(values), source.rows(values));

    let postgres = crate::common::PgDatabase::new();
    let report = copy(&source.endpoint(), &postgres.endpoint(), &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    let columns = postgres.rows(
        "SELECT attname, format_type(atttypid, atttypmod), pg_get_expr(adbin, adrelid) FROM pg_attribute \
         LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum \
         WHERE attrelid = 'flags'::regclass AND attnum > 0 ORDER BY attnum",
    );
    let mut expected = text(&[&["id", "integer", "-"], &["flag", "smallint", "1"], &["mask", "smallint", "5"]]);
    expected[0][2] = None;
    assert_eq!(columns, expected);
    let mut expected = text(&[&["1", "0", "682"], &["2", "1", "5"], &["3", "1", "-"]]);
    expected[2][2] = None;
    assert_eq!(postgres.rows("SELECT id, flag, mask FROM flags ORDER BY id"), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_only_into_sqlite_still_checks_the_keys_as_rows_arrive() {
    let source = MysqlDatabase::new();
    source.execute(
        "SET FOREIGN_KEY_CHECKS = 0;
         CREATE TABLE parent (id INT PRIMARY KEY);
         CREATE TABLE child (id INT PRIMARY KEY, parent INT, CONSTRAINT child_parent FOREIGN KEY (parent) REFERENCES parent (id));
         INSERT INTO parent VALUES (1);
         INSERT INTO child VALUES (10, 1), (11, 7)",
    );
    let dir = tempfile::tempdir().unwrap();
    let target = ferry::connection::Endpoint::parse("sqlite://tables.db", dir.path()).unwrap();
    let schema_only = CopyOptions { schema_only: true, ..Default::default() };
    copy(&source.endpoint(), &target, &schema_only).await.unwrap();
    // The tables exist already: nothing checks the keys after the rows, so the loads do.
    let data_only = CopyOptions { data_only: true, ..Default::default() };
    let report = copy(&source.endpoint(), &target, &data_only).await.unwrap();
    let error = report.run.error.clone().unwrap_or_default();
    assert!(error.contains("FOREIGN KEY constraint failed"), "{}", report.text());
    let file = dir.path().join("tables.db");
    assert_eq!(sqlite_rows(&file, "SELECT count(*) FROM child"), text(&[&["0"]]));
    assert_eq!(sqlite_rows(&file, "SELECT count(*) FROM parent"), text(&[&["1"]]));
}
