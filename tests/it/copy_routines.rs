//! `ferry copy` within one engine makes the source's functions, procedures, aggregates and
//! triggers too (Pagila's views call its own `group_concat`, Sakila's tables keep `last_update`
//! with triggers, MySQL's and SQLite's alike); triggers come after the rows, so they do not fire
//! on the copied ones. Into another engine, or into a schema of another name, each is reported
//! skipped with why. MySQL's `ON UPDATE CURRENT_TIMESTAMP` becomes a trigger where the target lacks
//! it. The expected values are the servers' own.

use ferry::copy::{copy, CopyOptions};

use crate::common::{schema_objects as objects, text_rows as text, MysqlDatabase, PgDatabase};

const SOURCE: &str = "CREATE TABLE actor (id int PRIMARY KEY, name text NOT NULL, touched int NOT NULL DEFAULT 0);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.touched := NEW.touched + 1; RETURN NEW; END $$;
CREATE FUNCTION joined(a text, b text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN a IS NULL THEN b ELSE a || ', ' || b END $$;
CREATE AGGREGATE group_concat(text) (SFUNC = joined, STYPE = text);
CREATE FUNCTION shouted(id int) RETURNS text LANGUAGE sql AS $$ SELECT upper(name) FROM actor WHERE actor.id = shouted.id $$;
INSERT INTO actor (id, name) VALUES (1, 'ann'), (2, 'bob');
CREATE TRIGGER touch_on_write BEFORE INSERT OR UPDATE ON actor FOR EACH ROW EXECUTE FUNCTION touch();
CREATE VIEW everyone AS SELECT group_concat(name ORDER BY id) AS names, shouted(1) AS first FROM actor";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_aggregates_and_triggers_come_along_within_postgres() {
    let (source, target) = (PgDatabase::new(), PgDatabase::new());
    source.rows(SOURCE);
    let report = copy(&source.endpoint(), &target.endpoint(), &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    assert_eq!(objects(&report, "failed"), Vec::<String>::new(), "{}", report.text());
    assert_eq!(objects(&report, "skipped"), Vec::<String>::new(), "{}", report.text());
    let made: Vec<String> = report
        .schema
        .iter()
        .filter(|o| !o.object.starts_with("table"))
        .map(|o| format!("{} {} {}", o.table, o.object, o.status))
        .collect();
    for expected in [
        "touch function created",
        "joined function created",
        "shouted function created",
        "group_concat aggregate created",
        "actor trigger touch_on_write created",
        "everyone view created",
    ] {
        assert!(made.contains(&expected.to_string()), "{expected} not in {made:#?}");
    }
    for sql in [
        "SELECT proname::text, prokind::text, pg_get_function_identity_arguments(oid) FROM pg_proc \
         WHERE pronamespace = 'public'::regnamespace ORDER BY 1",
        "SELECT tgname::text, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal",
        // The trigger did not fire on the copied rows: they are as the source has them.
        "SELECT id, name, touched FROM actor ORDER BY id",
        "SELECT names, first FROM everyone",
    ] {
        assert_eq!(target.rows(sql), source.rows(sql), "{sql}");
    }
    assert_eq!(target.rows("SELECT names FROM everyone"), text(&[&["ann, bob"]]));
    // After the copy the trigger works as in the source.
    target.rows("UPDATE actor SET name = 'anne' WHERE id = 1");
    assert_eq!(target.rows("SELECT touched FROM actor WHERE id = 1"), text(&[&["1"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn into_a_schema_of_another_name_they_are_reported() {
    let (source, target) = (PgDatabase::new(), PgDatabase::new());
    source.rows(SOURCE);
    let options = CopyOptions { target_schema: Some("archive".into()), ..Default::default() };
    let report = copy(&source.endpoint(), &target.endpoint(), &options).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    let why = "its code names the schema `public`; it is copied only into a schema of the same name, not `archive`";
    let skipped = objects(&report, "skipped");
    for expected in ["touch function", "group_concat aggregate", "actor trigger touch_on_write"] {
        assert!(skipped.contains(&format!("{expected}: {why}")), "{expected} not in {skipped:#?}");
    }
    let made = target.rows("SELECT count(*) FROM pg_proc WHERE pronamespace = 'archive'::regnamespace");
    assert_eq!(made, text(&[&["0"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn into_mysql_they_are_reported() {
    let (source, target) = (PgDatabase::new(), MysqlDatabase::new());
    source.rows(SOURCE);
    let report = copy(&source.endpoint(), &target.endpoint(), &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    let why = "its code is PostgreSQL's; it moves only between engines of the same kind";
    let skipped = objects(&report, "skipped");
    for expected in ["touch function", "shouted function", "group_concat aggregate", "actor trigger touch_on_write"] {
        assert!(skipped.contains(&format!("{expected}: {why}")), "{expected} not in {skipped:#?}");
    }
    assert_eq!(
        target.rows("SELECT id, name, touched FROM actor ORDER BY id"),
        text(&[&["1", "ann", "0"], &["2", "bob", "0"]])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_procedures_and_triggers_come_along_within_mysql() {
    let (source, target) = (MysqlDatabase::new(), MysqlDatabase::new());
    source.execute(
        "CREATE TABLE film (id INT PRIMARY KEY, title VARCHAR(20), touched INT NOT NULL DEFAULT 0);
         INSERT INTO film (id, title) VALUES (1, 'ace'), (2, 'bee');
         CREATE TRIGGER film_touch BEFORE UPDATE ON film FOR EACH ROW SET NEW.touched = OLD.touched + 1;
         CREATE FUNCTION shouted(n INT) RETURNS VARCHAR(20) READS SQL DATA RETURN (SELECT upper(title) FROM film WHERE id = n);
         CREATE PROCEDURE counted(OUT n INT) BEGIN SELECT count(*) INTO n FROM film; END",
    );
    let report = copy(&source.endpoint(), &target.endpoint(), &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    assert_eq!(objects(&report, "failed"), Vec::<String>::new(), "{}", report.text());
    assert_eq!(objects(&report, "skipped"), Vec::<String>::new(), "{}", report.text());
    for sql in [
        "SELECT routine_type, routine_name, routine_definition FROM information_schema.routines \
         WHERE routine_schema = DATABASE() ORDER BY 2",
        "SELECT trigger_name, action_timing, event_manipulation, action_statement FROM information_schema.triggers \
         WHERE trigger_schema = DATABASE()",
        "SELECT id, title, touched FROM film ORDER BY id",
    ] {
        assert_eq!(target.rows(sql), source.rows(sql), "{sql}");
    }
    target.execute("UPDATE film SET title = 'cat' WHERE id = 1");
    assert_eq!(target.rows("SELECT shouted(1), touched FROM film WHERE id = 1"), text(&[&["CAT", "1"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_come_along_within_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    crate::copy::sqlite_execute(
        &dir.path().join("from.db"),
        "CREATE TABLE film (id INTEGER PRIMARY KEY, title TEXT, touched INT NOT NULL DEFAULT 0);
         INSERT INTO film (id, title) VALUES (1, 'ace');
         CREATE TRIGGER film_touch AFTER UPDATE OF title ON film BEGIN
           UPDATE film SET touched = touched + 1 WHERE id = NEW.id; END",
    );
    let source = ferry::connection::Endpoint::parse("sqlite://from.db", dir.path()).unwrap();
    let target = ferry::connection::Endpoint::parse("sqlite://to.db", dir.path()).unwrap();
    let report = copy(&source, &target, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    assert_eq!(objects(&report, "failed"), Vec::<String>::new(), "{}", report.text());
    let to = dir.path().join("to.db");
    let triggers = crate::common::sqlite_rows(&to, "SELECT name FROM sqlite_master WHERE type = 'trigger'");
    assert_eq!(triggers, text(&[&["film_touch"]]));
    crate::copy::sqlite_execute(&to, "UPDATE film SET title = 'bee' WHERE id = 1");
    assert_eq!(crate::common::sqlite_rows(&to, "SELECT touched FROM film"), text(&[&["1"]]));
}

/// MySQL's `ON UPDATE CURRENT_TIMESTAMP`, which Sakila puts on every table.
const TOUCHED: &str = "CREATE TABLE actor (id INT PRIMARY KEY, name VARCHAR(20),
  touched TIMESTAMP NOT NULL DEFAULT '2000-01-01 00:00:00' ON UPDATE CURRENT_TIMESTAMP);
  INSERT INTO actor (id, name) VALUES (1, 'ann'), (2, 'bob')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_update_current_timestamp_becomes_a_trigger_in_postgres() {
    let (source, target) = (MysqlDatabase::new(), PgDatabase::new());
    source.execute(TOUCHED);
    let report = copy(&source.endpoint(), &target.endpoint(), &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    assert_eq!(objects(&report, "failed"), Vec::<String>::new(), "{}", report.text());
    assert!(objects(&report, "translated").contains(
        &"actor on update touched: PostgreSQL has no ON UPDATE CURRENT_TIMESTAMP: a trigger sets the column when its \
          row is updated without setting it"
            .to_string()
    ));
    let old = "2000-01-01 00:00:00+00";
    // The copy did not touch the rows; an update that changes nothing, or sets the column, keeps it.
    assert_eq!(target.rows("SELECT touched::text FROM actor ORDER BY id"), text(&[&[old], &[old]]));
    target.rows("UPDATE actor SET name = 'ann' WHERE id = 1");
    target.rows("UPDATE actor SET name = 'bee', touched = '2001-01-01 00:00:00+00' WHERE id = 2");
    let expected = text(&[&["1", old], &["2", "2001-01-01 00:00:00+00"]]);
    assert_eq!(target.rows("SELECT id, touched::text FROM actor ORDER BY id"), expected);
    // One that changes the row sets it to now.
    target.rows("UPDATE actor SET name = 'anne' WHERE id = 1");
    let touched = target.rows("SELECT touched > now() - interval '1 minute' FROM actor WHERE id = 1");
    assert_eq!(touched, text(&[&["t"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_update_current_timestamp_becomes_a_trigger_in_sqlite() {
    let source = MysqlDatabase::new();
    source.execute(TOUCHED);
    let dir = tempfile::tempdir().unwrap();
    let target = ferry::connection::Endpoint::parse("sqlite://to.db", dir.path()).unwrap();
    let report = copy(&source.endpoint(), &target, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    assert_eq!(objects(&report, "failed"), Vec::<String>::new(), "{}", report.text());
    let to = dir.path().join("to.db");
    crate::copy::sqlite_execute(&to, "UPDATE actor SET name = 'anne' WHERE id = 1");
    crate::copy::sqlite_execute(&to, "UPDATE actor SET name = 'bee', touched = '2001-01-01 00:00:00' WHERE id = 2");
    let rows = crate::common::sqlite_rows(&to, "SELECT id, touched > '2020-01-01', touched FROM actor ORDER BY id");
    assert_eq!(rows[0][1].as_deref(), Some("1"), "{rows:?}");
    assert_eq!(rows[1][2].as_deref(), Some("2001-01-01 00:00:00"), "{rows:?}");
}
