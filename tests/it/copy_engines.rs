//! `ferry copy` of what one engine has and the others lack: MySQL's zero dates, SET, YEAR,
//! FULLTEXT indexes and CHECKs; PostgreSQL's table inheritance, domains, char(n), arrays and
//! GiST indexes. Within one engine they are made again as they were; across engines each
//! becomes its documented counterpart and is reported. The expected values are the servers' own.

use ferry::copy::{copy, CopyOptions, CopyReport};

use crate::common::{schema_objects as details, MysqlDatabase, PgDatabase};

const MYSQL_SOURCE: &str = "SET SESSION sql_mode = '';
CREATE TABLE film (id SMALLINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, code CHAR(4) NOT NULL COMMENT 'the film''s code', released YEAR,
  features SET('Trailers', 'Deleted Scenes') DEFAULT NULL, added DATE NOT NULL, seen DATETIME NULL,
  title VARCHAR(100) NOT NULL, blurb TEXT, rating TINYINT UNSIGNED, CONSTRAINT rating_range CHECK (rating <= 10),
  touched TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  INDEX blurb_start (blurb(10), title), FULLTEXT INDEX film_text (title, blurb)) COMMENT = 'Films \\\\ more';
INSERT INTO film (code, released, features, added, seen, title, blurb, rating) VALUES
  ('ab', 2006, 'Trailers,Deleted Scenes', '0000-00-00', '0000-00-00 00:00:00', 'Academy', 'A drama', 7),
  ('cd  ', NULL, '', '2020-01-02', '2020-01-02 03:04:05', 'Ace', NULL, NULL);
CREATE TRIGGER film_touch BEFORE UPDATE ON film FOR EACH ROW SET NEW.rating = NEW.rating";

/// The copy's report, after checking every table was loaded and reconciled.
async fn copied(source: &ferry::connection::Endpoint, target: &ferry::connection::Endpoint) -> CopyReport {
    let report = copy(source, target, &CopyOptions { workers: 2, ..Default::default() }).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    assert!(report.schema.iter().all(|o| o.status != "failed"), "{}", report.text());
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_zero_dates_sets_and_years_into_postgres() {
    let (source, target) = (MysqlDatabase::new(), PgDatabase::new());
    source.execute(MYSQL_SOURCE);
    let report = copied(&source.endpoint(), &target.endpoint()).await;
    let translated = details(&report, "translated");
    for expected in [
        "film column added: 1 zero dates ('0000-00-00') arrive as NULL; the column is created nullable to hold them",
        "film column seen: 1 zero dates ('0000-00-00') arrive as NULL",
        "film column code: code char(4) -> varchar(4): char(n) keeps its padding only within one engine",
    ] {
        assert!(translated.iter().any(|t| t == expected), "{expected} not in {translated:#?}");
    }
    let skipped = details(&report, "skipped");
    assert!(skipped.iter().any(|s| s.starts_with("film index film_text: this index is MySQL's")), "{skipped:#?}");
    assert!(
        skipped.iter().any(|s| s.starts_with("film check rating_range: a CHECK constraint is MySQL's")),
        "{skipped:#?}"
    );
    let on_update = "film on update touched: PostgreSQL has no ON UPDATE CURRENT_TIMESTAMP: a trigger sets the column \
                     when its row is updated without setting it";
    assert!(translated.iter().any(|s| s == on_update), "{translated:#?}");
    let trigger =
        "film trigger film_touch: its code is MySQL's; it moves only between engines of the same kind".to_string();
    assert!(skipped.contains(&trigger), "{skipped:#?}");
    // A prefix index indexes the whole columns elsewhere.
    let prefix = target.rows("SELECT indexdef FROM pg_indexes WHERE indexname = 'blurb_start'");
    assert_eq!(prefix, [[Some("CREATE INDEX blurb_start ON public.film USING btree (blurb, title)".to_string())]]);
    let rows = target.rows("SELECT id, code, released, features, added, seen, rating FROM film ORDER BY id");
    let expected = [
        ["1", "ab", "2006", "Trailers,Deleted Scenes"].map(Some).into_iter().chain([None, None, Some("7")]).collect(),
        vec![Some("2"), Some("cd"), None, Some(""), Some("2020-01-02"), Some("2020-01-02 03:04:05"), None],
    ];
    let expected: Vec<Vec<Option<String>>> =
        expected.iter().map(|row: &Vec<Option<&str>>| row.iter().map(|v| v.map(str::to_string)).collect()).collect();
    assert_eq!(rows, expected);
    let types = target.rows(
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute \
         WHERE attrelid = 'film'::regclass AND attnum > 0 ORDER BY attnum",
    );
    let types: Vec<String> = types.iter().map(|r| r.iter().flatten().cloned().collect::<Vec<_>>().join(" ")).collect();
    let comments =
        target.rows("SELECT obj_description('film'::regclass, 'pg_class'), col_description('film'::regclass, 2)");
    assert_eq!(comments, [[Some("Films \\ more".to_string()), Some("the film's code".to_string())]]);
    assert_eq!(
        types,
        [
            "id integer t",
            "code character varying(4) t",
            "released smallint f",
            "features text f",
            "added date f",
            "seen timestamp without time zone f",
            "title character varying(100) t",
            "blurb text f",
            "rating smallint f",
            "touched timestamp with time zone t",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_to_mysql_keeps_its_own_types_indexes_and_checks() {
    let (source, target) = (MysqlDatabase::new(), MysqlDatabase::new());
    source.execute(MYSQL_SOURCE);
    copied(&source.endpoint(), &target.endpoint()).await;
    let columns = "SELECT column_name, column_type FROM information_schema.columns \
                   WHERE table_schema = DATABASE() AND table_name = 'film' AND column_name NOT IN ('added', 'seen') \
                   ORDER BY ordinal_position";
    assert_eq!(target.rows(columns), source.rows(columns));
    let touched = "SELECT column_type, column_default, extra FROM information_schema.columns \
                   WHERE table_schema = DATABASE() AND table_name = 'film' AND column_name = 'touched'";
    assert_eq!(target.rows(touched), source.rows(touched));
    let indexes = "SELECT index_name, index_type, column_name, sub_part FROM information_schema.statistics \
                   WHERE table_schema = DATABASE() AND table_name = 'film' ORDER BY 1, seq_in_index";
    assert_eq!(target.rows(indexes), source.rows(indexes));
    let comments =
        "SELECT table_comment FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'film'";
    assert_eq!(target.rows(comments), [[Some("Films \\ more".to_string())]]);
    let comments = "SELECT column_name, column_comment FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'film' AND column_comment <> ''";
    assert_eq!(target.rows(comments), source.rows(comments));
    let checks = "SELECT constraint_name, check_clause FROM information_schema.check_constraints \
                  WHERE constraint_schema = DATABASE() AND table_name = 'film' ORDER BY 1";
    assert_eq!(target.rows(checks), source.rows(checks));
    assert_eq!(target.rows(checks).len(), 1);
    let values = "SELECT id, code, released, features, title, blurb, rating FROM film ORDER BY id";
    assert_eq!(target.rows(values), source.rows(values));
    // The zero dates are the one change, and the report says so.
    let dates = target.rows("SELECT id, added, seen FROM film ORDER BY id");
    assert_eq!(dates[0], [Some("1".to_string()), None, None]);
}

const POSTGRES_SOURCE: &str = "CREATE DOMAIN year AS integer CHECK (VALUE >= 1901 AND VALUE <= 2155);
CREATE TABLE payment (id SERIAL PRIMARY KEY, amount NUMERIC(5, 2) NOT NULL, paid TIMESTAMP NOT NULL);
CREATE TABLE payment_2007 (CHECK (paid >= '2007-01-01' AND paid < '2008-01-01')) INHERITS (payment);
CREATE TABLE film (id INTEGER PRIMARY KEY, code CHAR(4), released year, features TEXT[], words TSVECTOR);
CREATE INDEX film_words ON film USING gist (words);
CREATE TABLE events (id INTEGER, at DATE NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') PARTITION BY HASH (id);
CREATE TABLE events_2025_a PARTITION OF events_2025 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE events_2025_b PARTITION OF events_2025 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO events VALUES (1, '2024-05-06'), (2, '2025-07-08'), (3, '2025-08-09');
COMMENT ON TABLE payment IS 'Payments, one per rental';
COMMENT ON COLUMN film.code IS 'it''s the code';
INSERT INTO payment (amount, paid) VALUES (1.50, '2006-05-06 07:08:09');
INSERT INTO payment_2007 (amount, paid) VALUES (2.99, '2007-02-03 04:05:06'), (0.99, '2007-03-04 05:06:07');
INSERT INTO film VALUES (1, 'ab', 2006, '{Trailers,\"Deleted Scenes\"}', 'academy:1 dinosaur:2'), (2, NULL, NULL, NULL, NULL)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_inheritance_and_domains_within_postgres() {
    let (source, target) = (PgDatabase::new(), PgDatabase::new());
    source.rows(POSTGRES_SOURCE);
    let report = copied(&source.endpoint(), &target.endpoint()).await;
    let loaded: Vec<(&str, u64)> = report.run.migrations.iter().map(|m| (m.name.as_str(), m.rows_loaded)).collect();
    assert_eq!(loaded, [("events", 3), ("film", 2), ("payment", 1), ("payment_2007", 2)]);
    assert_eq!(details(&report, "skipped"), Vec::<String>::new());
    assert_eq!(details(&report, "translated"), Vec::<String>::new());
    // Inheritance and partitioning are made again: the parent shows its children's rows, none
    // twice, and each partition holds its own.
    for sql in [
        "SELECT pg_get_partkeydef('events'::regclass)",
        "SELECT c.relname, c.relkind::text, pg_get_expr(c.relpartbound, c.oid) FROM pg_class c WHERE c.relispartition AND c.relkind IN ('r', 'p') ORDER BY 1",
        "SELECT pg_get_partkeydef('events_2025'::regclass)",
        "SELECT id, at FROM events_2025_b",
        "SELECT id, at FROM events_2025",
        "SELECT id, amount, paid FROM payment ORDER BY id",
        "SELECT id, amount FROM ONLY payment ORDER BY id",
        "SELECT id, code, released, features, words FROM film ORDER BY id",
        "SELECT inhrelid::regclass::text, inhparent::regclass::text FROM pg_inherits JOIN pg_class c ON c.oid = inhrelid WHERE NOT c.relispartition",
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' ORDER BY 1",
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'film_words'",
        "SELECT obj_description('payment'::regclass, 'pg_class'), col_description('film'::regclass, 2)",
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'film'::regclass AND attnum > 0 ORDER BY attnum",
    ] {
        assert_eq!(target.rows(sql), source.rows(sql), "{sql}");
    }
    assert_eq!(target.rows("SELECT count(*) FROM payment"), [[Some("3".to_string())]]);
    // The domain keeps its check.
    let error = target.try_rows("INSERT INTO film (id, released) VALUES (3, 1800)").unwrap_err();
    assert!(error.contains("violates check constraint"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_inheritance_and_domains_into_mysql() {
    let (source, target) = (PgDatabase::new(), MysqlDatabase::new());
    source.rows(POSTGRES_SOURCE);
    let report = copied(&source.endpoint(), &target.endpoint()).await;
    // Each table holds its own rows: the parent's are not copied again with its children's.
    assert_eq!(target.rows("SELECT id, amount FROM payment"), [[Some("1".to_string()), Some("1.50".to_string())]]);
    assert_eq!(target.rows("SELECT count(*) FROM payment_2007"), [[Some("2".to_string())]]);
    assert_eq!(
        target.rows("SELECT id, at FROM events ORDER BY id"),
        source.rows("SELECT id, at FROM events ORDER BY id")
    );
    let comments = "SELECT table_comment FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'payment'";
    assert_eq!(target.rows(comments), [[Some("Payments, one per rental".to_string())]]);
    let comments = "SELECT column_comment FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'film' AND column_name = 'code'";
    assert_eq!(target.rows(comments), [[Some("it's the code".to_string())]]);
    let translated = details(&report, "translated");
    for expected in [
        "events partitioning: PARTITION BY RANGE (at): partitioning is PostgreSQL's, copied only to PostgreSQL; read through the partitioned table, its partitions' rows are copied into one table",
        "payment_2007 inherits payment: MySQL has no table inheritance: these rows are copied here, not into `payment`",
        "film column released: released domain year -> INT: a domain is PostgreSQL's; its checks are not copied: CHECK (((VALUE >= 1901) AND (VALUE <= 2155)))",
        "film column features: features text[] -> LONGTEXT: `text[]` has no counterpart in MySQL; its text form is kept",
    ] {
        assert!(translated.iter().any(|t| t == expected), "{expected} not in {translated:#?}");
    }
    let rows = target.rows("SELECT id, code, released, features, words FROM film ORDER BY id");
    let first: Vec<Option<String>> = ["1", "ab  ", "2006", "{Trailers,\"Deleted Scenes\"}", "'academy':1 'dinosaur':2"]
        .map(|v| Some(v.to_string()))
        .to_vec();
    assert_eq!(rows[0], first);
    let skipped = details(&report, "skipped");
    assert!(skipped.iter().any(|s| s.starts_with("film index film_words: this index is PostgreSQL's")), "{skipped:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schemas_are_chosen_on_both_sides() {
    let database = PgDatabase::new();
    database.rows(
        "CREATE SCHEMA \"Sales\"; CREATE TABLE \"Sales\".orders (id INTEGER PRIMARY KEY, note TEXT);
         INSERT INTO \"Sales\".orders VALUES (1, 'a'), (2, NULL);
         CREATE INDEX orders_note ON \"Sales\".orders (lower(note));
         CREATE VIEW \"Sales\".notes AS SELECT note FROM \"Sales\".orders;
         CREATE TABLE public.elsewhere (x INTEGER)",
    );
    let endpoint = database.endpoint();
    let options = CopyOptions {
        source_schema: Some("Sales".into()),
        target_schema: Some("archive".into()),
        ..Default::default()
    };
    let report = copy(&endpoint, &endpoint, &options).await.unwrap();
    assert_eq!(report.run.error, None, "{}", report.text());
    let loaded: Vec<&str> = report.run.migrations.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(loaded, ["orders"]);
    assert_eq!(
        database.rows("SELECT id, note FROM archive.orders ORDER BY id"),
        database.rows("SELECT id, note FROM \"Sales\".orders ORDER BY id")
    );
    let made = database.rows(
        "SELECT c.relname, c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'archive' AND c.relname NOT LIKE '\\_ferry%' ORDER BY 1",
    );
    let made: Vec<String> = made.iter().map(|r| r.iter().flatten().cloned().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(made, ["notes v", "orders r", "orders_note i", "orders_pkey i"]);
    // A schema that does not exist, or an engine without schemas, is named.
    let missing = CopyOptions { source_schema: Some("sales".into()), ..Default::default() };
    let error = copy(&endpoint, &endpoint, &missing).await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!("--source-schema: `{endpoint}` has no schema `sales`; it has `Sales`, `archive`, `public`")
    );
    let mysql = MysqlDatabase::new();
    let error =
        copy(&endpoint, &mysql.endpoint(), &CopyOptions { target_schema: Some("x".into()), ..Default::default() })
            .await
            .unwrap_err()
            .to_string();
    assert_eq!(
        error,
        format!(
            "`{}` is MySQL, which has no schemas: name the database (or file) in the URL instead",
            mysql.endpoint()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_untyped_columns_and_64_bit_integers_into_postgres() {
    let dir = tempfile::tempdir().unwrap();
    crate::copy::sqlite_execute(
        &dir.path().join("loose.db"),
        "CREATE TABLE t (id INTEGER PRIMARY KEY, anything, n INTEGER, small INT);
         INSERT INTO t VALUES (1, 'text', 3000000000, 1), (2, 42, -5, 2), (3, NULL, NULL, NULL), (4, 3.25, 8, 4)",
    );
    let source = ferry::connection::Endpoint::parse("sqlite://loose.db", dir.path()).unwrap();
    let target = PgDatabase::new();
    copied(&source, &target.endpoint()).await;
    let types = target.rows(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute \
         WHERE attrelid = 't'::regclass AND attnum > 0 ORDER BY attnum",
    );
    let types: Vec<String> = types.iter().map(|r| r.iter().flatten().cloned().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(types, ["id bigint", "anything text", "n bigint", "small integer"]);
    let rows = target.rows("SELECT id, anything, n FROM t ORDER BY id");
    let expected = [["1", "text", "3000000000"], ["2", "42", "-5"], ["4", "3.25", "8"]];
    let mut expected: Vec<Vec<Option<String>>> =
        expected.iter().map(|r| r.iter().map(|v| Some(v.to_string())).collect()).collect();
    expected.insert(2, vec![Some("3".to_string()), None, None]);
    assert_eq!(rows, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_partitions_within_mysql_and_one_table_elsewhere() {
    // The employees sample's partitioned salaries.
    let source = MysqlDatabase::new();
    source.execute(
        "CREATE TABLE salaries (emp_no INT NOT NULL, salary INT NOT NULL, from_date DATE NOT NULL,
           PRIMARY KEY (emp_no, from_date))
         PARTITION BY RANGE COLUMNS (from_date) (PARTITION p01 VALUES LESS THAN ('1990-01-01'),
           PARTITION p02 VALUES LESS THAN (MAXVALUE));
         INSERT INTO salaries VALUES (1, 100, '1986-06-26'), (1, 110, '1995-06-26'), (2, 90, '1999-01-01')",
    );
    let within = MysqlDatabase::new();
    let report = copied(&source.endpoint(), &within.endpoint()).await;
    assert_eq!(details(&report, "translated"), Vec::<String>::new());
    let sql = "SELECT partition_name, partition_method, partition_expression, partition_description, table_rows \
               FROM information_schema.partitions WHERE table_schema = DATABASE() AND table_name = 'salaries' \
               ORDER BY partition_ordinal_position";
    within.execute("ANALYZE TABLE salaries");
    source.execute("ANALYZE TABLE salaries");
    assert_eq!(within.rows(sql), source.rows(sql));
    let postgres = PgDatabase::new();
    let report = copied(&source.endpoint(), &postgres.endpoint()).await;
    assert_eq!(
        details(&report, "translated"),
        ["salaries partitioning: PARTITION BY RANGE  COLUMNS(`from_date`): partitioning is MySQL's, copied only to \
          MySQL; read through the partitioned table, its partitions' rows are copied into one table"]
    );
    assert_eq!(postgres.rows("SELECT count(*) FROM salaries"), [[Some("3".to_string())]]);
}
