//! Type fidelity: a table with every common type and its edge values (min, max, zero, negative,
//! NULL, longest) is migrated with `SELECT *`, and every value is compared with what the source
//! database itself prints for it.

use std::path::Path;

use ferry::job::{Overrides, Plan};
use ferry::run::{run, Progress};

use crate::common::{sqlite_rows, MysqlDatabase, PgDatabase};

const PG_TABLE: &str = r#"
CREATE TABLE every_type (
  id integer PRIMARY KEY,
  i2 smallint, i4 integer, i8 bigint,
  n12 numeric(12,2), n38 numeric(38,10), n60 numeric(60,20), nany numeric,
  r real, d double precision, b boolean,
  t text, vc varchar(20), c char(5), by bytea,
  da date, ti time, ts timestamp, tstz timestamptz, iv interval,
  u uuid, j json, jb jsonb, ai integer[], at text[]
);
INSERT INTO every_type VALUES
(1, -32768, -2147483648, -9223372036854775808, -9999999999.99, -9999999999999999999999999999.9999999999,
 -9999999999999999999999999999999999999999.99999999999999999999,
 -123456789012345678901234567890123456789012345678901234567890.000123456789012345678901234567890,
 '-3.4028235e38', '-1.7976931348623157e308', false, '', '', '', '\x',
 '4713-01-01 BC', '00:00:00', '4713-01-01 00:00:00 BC', '4713-01-02 00:00:00+00 BC', '-178000000 years',
 '00000000-0000-0000-0000-000000000000', '[]', '{}', '{}', '{}'),
(2, 32767, 2147483647, 9223372036854775807, 9999999999.99, 9999999999999999999999999999.9999999999,
 9999999999999999999999999999999999999999.99999999999999999999, 1e-300,
 '3.4028235e38', '1.7976931348623157e308', true, repeat('ü', 100000), 'abcdefghijklmnopqrst', 'abcde', '\xdeadbeef00ff',
 '5874897-12-31', '24:00:00', '294246-12-31 23:59:59.999999', '294246-12-30 23:59:59.999999+00', '178000000 years 11 mons',
 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{"b": [1, 2.50, null],   "a": "\u00e9"}', '{"b": [1, 2.50, null], "a": "é"}',
 '{1,NULL,-2147483648}', '{"a,b","","NULL",NULL,"quote\"d","back\\slash"}'),
(3, 0, 0, 0, 0, 0, 0, 'NaN', 'NaN', 'NaN', true, 'crab 🦀, e + combining acute: é, 한국어', 'héllo wörld', 'ab', '\x00',
 '2000-01-01', '12:34:56.789012', '2000-01-01 00:00:00', '2024-03-10 02:30:00-08', '1 year 2 mons 3 days 04:05:06.789012',
 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"z": 1, "a": 2}', '{"z": 1, "a": 2}', '{{1,2},{3,4}}', '{"tab\there"}'),
(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL),
(5, -1, -1, -1, -0.01, 0.0000000001, -0.00000000000000000001, 'Infinity', 'Infinity', '-0', false, ' ', ' ', ' ', '\x20',
 '1969-12-31', '23:59:59.999999', '1969-12-31 23:59:59.999999', '2024-07-01 12:00:00+05:30', '-1 days +02:00:00.000001',
 '12345678-1234-5678-1234-567812345678', 'null', '"string"', '{}', '{NULL}'),
(6, 1, 1, 1, 0.10, -1.5, 1.00000000000000000000, '-Infinity', '-Infinity', 'Infinity', true, E'line\nbreak\r\ttab', 'x', 'x', '\x',
 '0001-01-01', '00:00:00.000001', '2000-02-29 12:00:00', '1999-12-31 23:59:59.999999-12', '0 seconds',
 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '{}', '[1, "a", {"k": null}]', '{0}', '{""}'),
(7, 2, 2, 2, 1.00, 0.5, 1.5, '0.000', '1.17549435e-38', '4.9e-324', false, 'NULL', 'null', 'NULL', '\x00ff00',
 '1970-01-01', '12:00:00', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00', '1 mon -1 days',
 'ffffffff-0000-ffff-0000-ffffffffffff', '3.14', '3.140', '{7}', '{a}')
"#;

type Rows = Vec<Vec<Option<String>>>;

/// Every row of `every_type` as PostgreSQL prints it, with the columns' declared types.
fn pg_snapshot(database: &PgDatabase) -> (Rows, Rows) {
    let rows = database.rows("SELECT * FROM every_type ORDER BY id");
    let types = database.rows(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
         WHERE a.attrelid = 'every_type'::regclass AND a.attnum > 0 ORDER BY a.attnum",
    );
    (rows, types)
}

/// Writes a job moving `table` from `source` to `target` as `SELECT *`, runs it, returns the error.
async fn pass_through(dir: &Path, source: &str, target: &str, table: &str) -> Option<String> {
    std::fs::create_dir_all(dir.join("queries")).unwrap();
    std::fs::write(dir.join("queries/all.sql"), format!("SELECT * FROM {table}")).unwrap();
    let job = format!(
        "[connections]\nsource = \"{source}\"\ntarget = \"{target}\"\n[[migrations]]\nname = \"types\"\n\
         source = \"source\"\nquery = \"queries/all.sql\"\ntarget = \"target\"\ntable = \"{table}\"\n"
    );
    let plan = Plan::from_toml(&job, "job.toml", dir, &Overrides::default()).unwrap();
    run(&plan, &[], Progress::Quiet).await.unwrap().error
}

fn assert_rows_equal(actual: &[Vec<Option<String>>], expected: &[Vec<Option<String>>], names: &[&str]) {
    assert_eq!(actual.len(), expected.len(), "row count");
    for (actual, expected) in actual.iter().zip(expected) {
        for (index, (a, e)) in actual.iter().zip(expected).enumerate() {
            let shorten = |v: &Option<String>| v.as_ref().map(|v| v.chars().take(120).collect::<String>());
            assert_eq!(
                a,
                e,
                "row id {:?}, column `{}`: {:?} vs {:?}",
                expected[0],
                names[index],
                shorten(a),
                shorten(e)
            );
        }
    }
}

fn pg_names(types: &[Vec<Option<String>>]) -> Vec<&str> {
    types.iter().map(|t| t[0].as_deref().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_postgres_keeps_every_value_and_type() {
    let source = PgDatabase::new();
    source.rows(PG_TABLE);
    let target = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(pass_through(dir.path(), &source.url, &target.url, "every_type").await, None);
    let (expected, expected_types) = pg_snapshot(&source);
    let (actual, actual_types) = pg_snapshot(&target);
    // The created table has the source's own types, modifiers included.
    assert_eq!(actual_types, expected_types);
    assert_rows_equal(&actual, &expected, &pg_names(&expected_types));

    // Into an existing table: the same values again (replace mode), through the same wires.
    assert_eq!(pass_through(dir.path(), &source.url, &target.url, "every_type").await, None);
    assert_rows_equal(&pg_snapshot(&target).0, &expected, &pg_names(&expected_types));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_parquet_to_postgres_keeps_every_value_and_type() {
    let source = PgDatabase::new();
    source.rows(PG_TABLE);
    let target = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let lake = format!("file://{}/lake", dir.path().display());
    assert_eq!(pass_through(dir.path(), &source.url, &lake, "every_type").await, None);
    assert_eq!(pass_through(dir.path(), &lake, &target.url, "every_type").await, None);
    let (expected, expected_types) = pg_snapshot(&source);
    let (actual, actual_types) = pg_snapshot(&target);
    assert_eq!(actual_types, expected_types);
    assert_rows_equal(&actual, &expected, &pg_names(&expected_types));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_arrow_cannot_hold_fail_naming_row_and_column() {
    let source = PgDatabase::new();
    source.rows(
        "CREATE TABLE edge (id int PRIMARY KEY, ts timestamp); \
         INSERT INTO edge VALUES (1, '2024-01-01'), (2, 'infinity'), (3, '294270-01-01')",
    );
    let target = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let error = pass_through(dir.path(), &source.url, &target.url, "edge").await.expect("infinity must fail");
    assert!(error.contains("row 2, column `ts`: the timestamp is ±infinity"), "{error}");
    assert!(target.rows("SELECT 1 FROM pg_tables WHERE tablename = 'edge'").is_empty());
    source.rows("DELETE FROM edge WHERE id = 2");
    let error = pass_through(dir.path(), &source.url, &target.url, "edge").await.expect("out of range must fail");
    assert!(error.contains("row 2, column `ts`: timestamp out of Arrow's range"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_in_the_middle_of_a_read_names_the_table_and_publishes_nothing() {
    let source = PgDatabase::new();
    // The view fails at its 40,000th row, after the server has sent many rows of the COPY.
    source.rows(
        "CREATE TABLE base AS SELECT id FROM generate_series(1, 50000) AS id; \
         CREATE VIEW edge AS SELECT id, 100 / (id - 40000) AS x FROM base",
    );
    let target = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let error = pass_through(dir.path(), &source.url, &target.url, "edge").await.expect("division by zero must fail");
    let masked = source.endpoint().masked();
    assert!(error.contains(&format!("reading `edge` from `{masked}`: division by zero")), "{error}");
    assert!(target.rows("SELECT 1 FROM pg_tables WHERE tablename = 'edge'").is_empty());
}

const MYSQL_TABLE: &str = r#"
CREATE TABLE every_type (
  id int PRIMARY KEY, flag tinyint(1), big bigint unsigned, dec65 decimal(65,30), f float, d double,
  dt datetime(6), ts timestamp(6) NULL, da date, ti time(6), y year, c char(5), vc varchar(50), tx text,
  bl blob, j json, e enum('small','large'), bt bit(10)
) CHARACTER SET utf8mb4;
SET time_zone = '+05:30';
INSERT INTO every_type VALUES
(1, 0, 0, '-99999999999999999999999999999999999.999999999999999999999999999999', -3.40282e38, -1.7976931348623157e308,
 '1000-01-01 00:00:00', '1970-01-01 05:30:01', '1000-01-01', '00:00:00', 1901, '', '', '', '', '[]', 'small', b'0'),
(2, 1, 18446744073709551615, '99999999999999999999999999999999999.999999999999999999999999999999', 3.40282e38,
 1.7976931348623157e308, '9999-12-31 23:59:59.999999', '2038-01-19 08:44:07.999999', '9999-12-31', '23:59:59.999999',
 2155, 'abcde', 'crab 🦀, é, 한국어', REPEAT('ü', 30000), x'DEADBEEF00FF', '{"a": "é", "b": [1, 2.5, null]}', 'large',
 b'1111111111'),
(3, 0, 9223372036854775808, '0.000000000000000000000000000001', 0, -0.0, '2024-03-10 02:30:00.123456',
 '2024-03-10 02:30:00.5', '2024-03-10', '12:34:56.789012', 2000, 'ab', ' lead', 'line
break', x'00', '{}', 'small', b'101'),
(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
(5, 1, 1, '-1.5', 1.17549e-38, 4.9e-324, '1969-12-31 23:59:59.999999', '2000-01-01 00:00:00', '1969-12-31',
 '00:00:00.000001', 1970, 'x', 'x', 'x', x'20', 'null', 'large', b'0000000001')
"#;

/// Column name, the MySQL expression that prints it, the PostgreSQL expression that prints the
/// migrated column the same way.
const MYSQL_COLUMNS: &[(&str, &str, &str)] = &[
    ("id", "CAST(id AS CHAR)", "id::text"),
    ("flag", "CASE WHEN flag THEN 'true' WHEN NOT flag THEN 'false' END", "flag::text"),
    ("big", "CAST(big AS CHAR)", "big::text"),
    ("dec65", "CAST(dec65 AS CHAR)", "dec65::text"),
    ("f", "CAST(f AS CHAR)", "f::text"),
    ("d", "CAST(d AS CHAR)", "d::text"),
    ("dt", "DATE_FORMAT(dt, '%Y-%m-%d %H:%i:%s.%f')", "to_char(dt, 'YYYY-MM-DD HH24:MI:SS.US')"),
    ("ts", "CAST(UNIX_TIMESTAMP(ts) AS CHAR)", "extract(epoch FROM ts)::numeric(20, 6)::text"),
    ("da", "CAST(da AS CHAR)", "da::text"),
    ("ti", "TIME_FORMAT(ti, '%H:%i:%s.%f')", "to_char(ti, 'HH24:MI:SS.US')"),
    ("y", "CAST(y AS CHAR)", "y::text"),
    ("c", "c", "c"),
    ("vc", "vc", "vc"),
    ("tx", "tx", "tx"),
    ("bl", "HEX(bl)", "upper(encode(bl, 'hex'))"),
    ("j", "j", "j::text"),
    ("e", "e", "e"),
    ("bt", "CAST(bt + 0 AS CHAR)", "bt::text"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_to_postgres_keeps_every_value() {
    let source = MysqlDatabase::new();
    source.execute(MYSQL_TABLE);
    let target = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(pass_through(dir.path(), &source.url, &target.url, "every_type").await, None);
    let select = |side: usize| {
        let columns: Vec<&str> = MYSQL_COLUMNS.iter().map(|c| if side == 0 { c.1 } else { c.2 }).collect();
        format!("SELECT {} FROM every_type ORDER BY id", columns.join(", "))
    };
    let expected = source.rows(&select(0));
    let mut actual = target.rows(&select(1));
    let names: Vec<&str> = MYSQL_COLUMNS.iter().map(|c| c.0).collect();
    assert_eq!(actual.len(), expected.len(), "row count");
    // MySQL and PostgreSQL print the same float in different notations; compare the numbers.
    for (row, expected_row) in actual.iter_mut().zip(&expected) {
        for (index, name) in [(4, "f"), (5, "d")] {
            let parse = |v: &Option<String>| v.as_ref().map(|v| v.parse::<f64>().unwrap());
            if index == 4 {
                let as_f32 = |v: &Option<String>| v.as_ref().map(|v| v.parse::<f32>().unwrap().to_bits());
                assert_eq!(as_f32(&row[index]), as_f32(&expected_row[index]), "column `{name}`");
            } else {
                assert_eq!(parse(&row[index]).map(f64::to_bits), parse(&expected_row[index]).map(f64::to_bits));
            }
            row[index] = expected_row[index].clone();
        }
    }
    assert_rows_equal(&actual, &expected, &names);
    let types = target.rows(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'every_type' \
         AND column_name IN ('big', 'dec65', 'ts', 'j') ORDER BY column_name",
    );
    let types: Vec<(String, String)> =
        types.into_iter().map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap())).collect();
    assert_eq!(
        types,
        [("big", "numeric"), ("dec65", "numeric"), ("j", "jsonb"), ("ts", "timestamp with time zone")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_time_outside_a_day_fails_naming_the_column() {
    let source = MysqlDatabase::new();
    source.execute("CREATE TABLE spans (id int PRIMARY KEY, span time); INSERT INTO spans VALUES (1, '838:59:59')");
    let target = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    let error = pass_through(dir.path(), &source.url, &target.url, "spans").await.expect("must fail");
    assert!(error.contains("column `span`") && error.contains("838:59:59"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_keeps_every_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("source.db");
    let connection = rusqlite::Connection::open(&path).unwrap();
    connection
        .execute_batch(
            "CREATE TABLE every_type (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB, n NUMERIC, \
             d DECIMAL(10, 2), odd INTEGER);
             INSERT INTO every_type VALUES
             (1, -9223372036854775808, -1.7976931348623157e308, '', x'', 5, 12.34, 1),
             (2, 9223372036854775807, 1.7976931348623157e308, 'crab 🦀, é', x'00ff', 2.5, -99999999.99, 'abc'),
             (3, 0, 0.1, 'line\nbreak', x'20', '1e3', 0, 2.5),
             (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
             (5, -1, -0.0, ' ', x'DEADBEEF', 7, 0.01, x'41');",
        )
        .unwrap();
    drop(connection);
    let target = PgDatabase::new();
    let source = format!("sqlite://{}", path.display());
    assert_eq!(pass_through(dir.path(), &source, &target.url, "every_type").await, None);
    let expected = sqlite_rows(
        &path,
        "SELECT id, i, r, t, CASE WHEN b IS NOT NULL THEN hex(b) END, n, d, CASE typeof(odd) WHEN 'blob' THEN CAST(odd AS TEXT) ELSE odd END \
         FROM every_type ORDER BY id",
    );
    let actual = target.rows("SELECT id, i, r, t, upper(encode(b, 'hex')), n, d, odd FROM every_type ORDER BY id");
    assert_eq!(actual.len(), expected.len(), "row count");
    for (actual, expected) in actual.iter().zip(&expected) {
        let float = |v: &Option<String>| v.as_ref().map(|v| v.parse::<f64>().unwrap().to_bits());
        assert_eq!(float(&actual[2]), float(&expected[2]), "column `r` of {expected:?}");
        let numeric =
            |v: &Option<String>| v.as_ref().map(|v| v.parse::<f64>().map(f64::to_bits).map_err(|_| v.clone()));
        assert_eq!(numeric(&actual[5]), numeric(&expected[5]), "column `n` of {expected:?}");
        for index in [0, 1, 3, 4, 6, 7] {
            let expected = &expected[index];
            let expected = if index == 6 {
                expected.as_ref().map(|v| format!("{:.2}", v.parse::<f64>().unwrap()))
            } else {
                expected.clone()
            };
            assert_eq!(actual[index], expected, "column {index} of row {:?}", actual[0]);
        }
    }
    let types = target.rows(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'every_type' ORDER BY ordinal_position",
    );
    let types: Vec<String> = types.into_iter().map(|r| r[1].clone().unwrap()).collect();
    assert_eq!(types, ["bigint", "bigint", "double precision", "text", "bytea", "numeric", "numeric", "text"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrower_target_column_is_checked_per_value_naming_the_key() {
    let source = PgDatabase::new();
    source
        .rows("CREATE TABLE wide (id int PRIMARY KEY, big bigint); INSERT INTO wide VALUES (1, 7), (2, 1099511627776)");
    let target = PgDatabase::new();
    target.rows("CREATE TABLE wide (id bigint PRIMARY KEY, big integer); INSERT INTO wide VALUES (9, 9)");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("all.sql"), "SELECT * FROM wide").unwrap();
    let job = format!(
        "[connections]\nsource = \"{}\"\ntarget = \"{}\"\n[[migrations]]\nname = \"m\"\nsource = \"source\"\n\
         query = \"all.sql\"\ntarget = \"target\"\ntable = \"wide\"\nkey = [\"id\"]\n",
        source.url, target.url
    );
    let plan = Plan::from_toml(&job, "job.toml", dir.path(), &Overrides::default()).unwrap();
    let error = run(&plan, &[], Progress::Quiet).await.unwrap().error.expect("must not fit");
    assert!(error.contains("column `big`: the value 1099511627776 (row with id = 2) does not fit"), "{error}");
    // integer -> bigint widens; nothing was published.
    assert_eq!(target.rows("SELECT id, big FROM wide"), vec![vec![Some("9".into()), Some("9".into())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_built_in_and_user_defined_types_survive() {
    let source = PgDatabase::new();
    source.rows(
        "CREATE TYPE mood AS ENUM ('sad', 'happy'); \
         CREATE DOMAIN positive AS numeric(10, 2) CHECK (VALUE > 0); \
         CREATE TABLE more_types (id int PRIMARY KEY, tz timetz, ip inet, net cidr, mac macaddr, m money, \
           bits bit(3), vbits varbit, x xml, tsv tsvector, r int4range, p point, md mood, pos positive, o oid, \
           neg numeric(5, -2), si smallint[], tsa timestamptz[], ts3 timestamp(3), vc varchar, ch char); \
         INSERT INTO more_types VALUES \
         (1, '04:05:06.789+05:30', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', 1234.56, B'101', B'1', \
          '<a>x</a>', 'a fat cat', '[1,10)', '(1.5,2)', 'happy', 12.34, 4294967295, 12300, '{1,2}', \
          '{\"2024-01-01 00:00:00+00\"}', '2024-01-01 00:00:00.123', 'free', 'c'), \
         (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
          NULL, NULL, NULL)",
    );
    let target = PgDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(pass_through(dir.path(), &source.url, &target.url, "more_types").await, None);
    let select = "SELECT * FROM more_types ORDER BY id";
    let types = |database: &PgDatabase| {
        database.rows(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = 'more_types'::regclass AND attnum > 0 ORDER BY attnum",
        )
    };
    let expected_types = types(&source);
    let names: Vec<String> = source
        .rows("SELECT attname FROM pg_attribute WHERE attrelid = 'more_types'::regclass AND attnum > 0 ORDER BY attnum")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_rows_equal(&target.rows(select), &source.rows(select), &names);
    // Built-in types are recreated as themselves; a user-defined type may not exist in the
    // target, so its column is text.
    let mut created = types(&target);
    let user_defined =
        [names.iter().position(|n| *n == "md").unwrap(), names.iter().position(|n| *n == "pos").unwrap()];
    for index in user_defined {
        assert_eq!(created[index], vec![Some("text".to_string())]);
        created[index] = expected_types[index].clone();
    }
    assert_eq!(created, expected_types);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_to_mysql_keeps_instants_and_wide_decimals() {
    let table =
        "CREATE TABLE moments (id int PRIMARY KEY, ts timestamp(6) NULL, dt datetime(6), dec65 decimal(65,30));";
    let source = MysqlDatabase::new();
    source.execute(&format!(
        "{table} SET time_zone = '-08:00'; INSERT INTO moments VALUES \
         (1, '2024-03-10 02:30:00.5', '2024-03-10 02:30:00.5', '-12345678901234567890123456789012345.000000000000000000000000000001'), \
         (2, NULL, NULL, NULL)"
    ));
    let target = MysqlDatabase::new();
    let dir = tempfile::tempdir().unwrap();
    // Into a table ferry creates, then into the existing one (replace).
    for _ in 0..2 {
        assert_eq!(pass_through(dir.path(), &source.url, &target.url, "moments").await, None);
        let select = "SELECT id, CAST(UNIX_TIMESTAMP(ts) AS CHAR), CAST(dt AS CHAR), CAST(dec65 AS CHAR) FROM moments ORDER BY id";
        assert_eq!(target.rows(select), source.rows(select));
    }
    target.execute("DROP TABLE moments");
    target.execute(table);
    assert_eq!(pass_through(dir.path(), &source.url, &target.url, "moments").await, None);
    let select =
        "SELECT id, CAST(UNIX_TIMESTAMP(ts) AS CHAR), CAST(dt AS CHAR), CAST(dec65 AS CHAR) FROM moments ORDER BY id";
    assert_eq!(target.rows(select), source.rows(select));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instants_go_into_sqlite_as_utc_again_and_again() {
    let source = PgDatabase::new();
    source.rows(
        "CREATE TABLE moments (id int PRIMARY KEY, at timestamptz); \
         INSERT INTO moments VALUES (1, '2024-03-10 02:30:00.5-08'), (2, NULL), (3, '1999-12-31 23:59:59.999999+14')",
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("target.db");
    let target = format!("sqlite://{}", path.display());
    let expected = source
        .rows("SELECT id::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM moments ORDER BY id");
    // Into the table ferry creates, then into the existing one.
    for _ in 0..2 {
        assert_eq!(pass_through(dir.path(), &source.url, &target, "moments").await, None);
        assert_eq!(sqlite_rows(&path, "SELECT id, at FROM moments ORDER BY id"), expected);
    }
}
