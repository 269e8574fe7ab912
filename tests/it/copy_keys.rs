//! `ferry copy` of keys and decimals the public samples showed wrong: foreign keys that form a
//! cycle (Sakila's store and staff) into SQLite, whose keys are made with the table; rows whose
//! key references nothing, reported rather than failing the table; TEXT columns in keys into
//! MySQL (Northwind's SQLite `CustomerID`); decimals without a precision into MySQL, which has
//! none. The expected values are the servers' own.

use ferry::copy::{copy, CopyOptions, CopyReport};

use crate::common::{sqlite_rows, MysqlDatabase};

/// Two tables that reference each other (as Sakila's `store` and `staff` do) and one that
/// references the cycle, loaded with foreign key checks off, as a dump would be.
const CYCLE: &str = "SET FOREIGN_KEY_CHECKS = 0;
CREATE TABLE store (id INT PRIMARY KEY, manager INT NOT NULL, CONSTRAINT store_manager FOREIGN KEY (manager) REFERENCES staff (id));
CREATE TABLE staff (id INT PRIMARY KEY, store INT NOT NULL, CONSTRAINT staff_store FOREIGN KEY (store) REFERENCES store (id));
CREATE TABLE customer (id INT PRIMARY KEY, store INT NOT NULL, CONSTRAINT customer_store FOREIGN KEY (store) REFERENCES store (id));
INSERT INTO store VALUES (1, 10), (2, 20);
INSERT INTO staff VALUES (10, 1), (20, 2);
INSERT INTO customer VALUES (100, 1), (101, 2), (102, 1)";

fn objects(report: &CopyReport, status: &str) -> Vec<String> {
    let listed = report.schema.iter().filter(|o| o.status == status);
    listed.map(|o| format!("{} {}: {}", o.table, o.object, o.detail.clone().unwrap_or_default())).collect()
}

fn text(rows: &[&[&str]]) -> Vec<Vec<Option<String>>> {
    rows.iter().map(|row| row.iter().map(|v| Some(v.to_string())).collect()).collect()
}

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
