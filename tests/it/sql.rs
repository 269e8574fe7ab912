//! `ferry stage` and `ferry sql`: staging from PostgreSQL and MySQL to a folder and to an object
//! store, reading it back, joins across connections, every output format, the prompt, and each
//! bad input.

use std::path::Path;

use ferry::job::{Overrides, Plan};
use ferry::sql::prompt::prompt_loop;
use ferry::sql::{Format, SqlSession};

use crate::common::{assert_succeeded, ferry, MysqlDatabase, PgDatabase};

fn plan(connections: &[(&str, &str)]) -> Plan {
    let mut toml = String::from("[connections]\n");
    for (name, url) in connections {
        toml.push_str(&format!("{name} = \"{url}\"\n"));
    }
    Plan::from_toml(&toml, "job.toml", Path::new("."), &Overrides::default()).unwrap()
}

async fn text(session: &mut SqlSession, sql: &str, format: Format) -> String {
    let mut out = Vec::new();
    session.run(sql, format, &mut out).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    String::from_utf8(out).unwrap()
}

/// Stages the three source tables of `source` to `lake`, and checks every table reads back
/// the same through `ferry sql` as straight from the source.
async fn stage_and_compare(source_url: &str, lake: &str) {
    let plan = plan(&[("source", source_url)]);
    let report = ferry::stage::stage(&plan, &[], lake, "source").await.unwrap();
    assert_succeeded(&report);
    assert_eq!(report.migrations.len(), 3);
    let mut session = SqlSession::new(plan, &[format!("lake={lake}")]).unwrap();
    for (table, key) in [("source_table", "id"), ("source_orders", "order_id"), ("source_unnormalized", "record_id")] {
        let from_source =
            text(&mut session, &format!("SELECT * FROM source.{table} ORDER BY {key}"), Format::Csv).await;
        let from_lake = text(&mut session, &format!("SELECT * FROM lake.{table} ORDER BY {key}"), Format::Csv).await;
        assert!(from_source.lines().count() > 100, "{table}: {from_source}");
        assert_eq!(from_lake, from_source, "{table}");
        // A count reads no column of the source table at all.
        let count = |from: &str| format!("SELECT count(*) AS n FROM {from}.{table}");
        let counted = text(&mut session, &count("source"), Format::Csv).await;
        assert_eq!(counted, format!("n\n{}\n", from_source.lines().count() - 1), "{table}");
        assert_eq!(text(&mut session, &count("lake"), Format::Csv).await, counted, "{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_postgres_to_a_folder_and_read_it_back() {
    let source = PgDatabase::new();
    ferry::generate::generate(&source.endpoint(), 200, true).await.unwrap();
    let lake = tempfile::tempdir().unwrap();
    stage_and_compare(&source.url, &format!("file://{}", lake.path().display())).await;
    assert!(lake.path().join("source_orders/_SUCCESS").exists());
    // And PostgreSQL's own figures agree with the staged copy.
    let mut session = SqlSession::new(plan(&[]), &[format!("lake=file://{}", lake.path().display())]).unwrap();
    let staged = text(&mut session, "SELECT count(*), sum(order_total) FROM lake.source_orders", Format::Csv).await;
    let expected = source.rows("SELECT count(*), sum(order_total) FROM source_orders");
    let expected = expected[0].iter().map(|v| v.clone().unwrap()).collect::<Vec<_>>().join(",");
    assert_eq!(staged.lines().nth(1), Some(expected.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_mysql_to_an_object_store_and_read_it_back() {
    let source = MysqlDatabase::new();
    ferry::generate::generate(&source.endpoint(), 200, true).await.unwrap();
    stage_and_compare(&source.url, "memory:///ferry-it-stage-mysql").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_a_migrations_output_and_join_across_connections() {
    let source = PgDatabase::new();
    ferry::generate::generate(&source.endpoint(), 50, true).await.unwrap();
    let dir = crate::common::job_dir(&[]);
    let overrides = Overrides { source: Some(source.url.clone()), target: Some("sqlite://t.db".into()) };
    let plan = Plan::load(&dir.path().join("ferry.toml"), &overrides).unwrap();
    let lake = format!("file://{}/lake", dir.path().display());
    assert_succeeded(&ferry::stage::stage(&plan, &["cleaned_data".into()], &lake, "source").await.unwrap());
    let rejects_location = format!("rejects={lake}/_ferry_rejects");
    let mut session = SqlSession::new(plan, &[format!("lake={lake}"), rejects_location]).unwrap();
    let joined = text(
        &mut session,
        "SELECT c.record_id, c.name, s.full_name FROM lake.cleaned_data c JOIN source.source_unnormalized s \
         ON s.record_id = c.record_id WHERE c.record_id IN (1, 10) ORDER BY 1",
        Format::Csv,
    )
    .await;
    assert_eq!(joined, "record_id,name,full_name\n1,Alice,Alice Johnson\n10,Alice,  alice   BROWN \n");
    // The migration's rejects are staged beside its output, under `_ferry_rejects/<migration>/`.
    let rejects =
        text(&mut session, "SELECT reason, count(*) AS n FROM rejects.cleaned_data GROUP BY 1 ORDER BY 1", Format::Csv)
            .await;
    let mut expected = std::collections::BTreeMap::<String, usize>::new();
    for row in crate::expected::cleaned_rejects(&source) {
        *expected.entry(row[1].clone().unwrap()).or_default() += 1;
    }
    let expected: String = expected.iter().map(|(reason, n)| format!("{reason},{n}\n")).collect();
    assert_eq!(rejects, format!("reason,n\n{expected}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_output_format() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    ferry::generate::generate(&ferry::connection::Endpoint::Sqlite(db.clone()), 0, true).await.unwrap();
    let mut session = SqlSession::new(plan(&[("source", &format!("sqlite://{}", db.display()))]), &[]).unwrap();
    let sql = "SELECT id, name, age FROM source.source_table WHERE id <= 2 ORDER BY id";
    insta::assert_snapshot!(text(&mut session, sql, Format::Table).await, @r"
    +----+-------+-----+
    | id | name  | age |
    +----+-------+-----+
    | 1  | Alice | 30  |
    | 2  | Bob   | 25  |
    +----+-------+-----+
    ");
    assert_eq!(text(&mut session, sql, Format::Csv).await, "id,name,age\n1,Alice,30\n2,Bob,25\n");
    assert_eq!(
        text(&mut session, sql, Format::Json).await,
        "[{\"id\":1,\"name\":\"Alice\",\"age\":30},{\"id\":2,\"name\":\"Bob\",\"age\":25}]\n"
    );
    assert_eq!(text(&mut session, "SELECT id FROM source.source_table WHERE id < 0", Format::Json).await, "[]\n");
    let mut parquet = Vec::new();
    let summary = session.run(sql, Format::Parquet, &mut parquet).await.unwrap();
    assert_eq!(summary.rows, 2);
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(bytes::Bytes::from(parquet), 1024).unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 2);
    // The one write ferry sql allows: COPY of a result to a file.
    let file = dir.path().join("copy.csv");
    let copied = text(&mut session, &format!("COPY ({sql}) TO '{}' STORED AS CSV", file.display()), Format::Csv).await;
    assert_eq!(copied, "count\n2\n");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "id,name,age\n1,Alice,30\n2,Bob,25\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prompt_goes_on_after_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    ferry::generate::generate(&ferry::connection::Endpoint::Sqlite(db.clone()), 0, true).await.unwrap();
    let plan =
        plan(&[("source", &format!("sqlite://{}", db.display())), ("down", "postgres://u:secret@127.0.0.1:1/x")]);
    let mut session = SqlSession::new(plan, &[]).unwrap();
    let script = [
        "SELECT count(*) AS n",
        "  FROM source.source_table;",
        "SELECT * FROM source.source_tabel;",
        "SELECT * FROM down.anything;",
        "SELECT id FROM source.source_table WHERE id = 1;",
        "\\d source.source_orders",
        "\\d",
        "\\x",
        "\\q",
        "SELECT 'never reached';",
    ];
    let mut lines = script.iter().map(|s| s.to_string());
    let mut out = Vec::new();
    prompt_loop(&mut session, &mut lines, &mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    let seconds = regex::Regex::new(r"in \d+\.\d+ s").unwrap();
    let out = out.replace(&dir.path().display().to_string(), "[DIR]");
    insta::assert_snapshot!(seconds.replace_all(&out, "in [time] s"));
}

#[test]
fn one_shot_bad_input_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    crate::common::block_on(async {
        ferry::generate::generate(&ferry::connection::Endpoint::Sqlite(db.clone()), 0, true).await.unwrap()
    });
    let job = format!(
        "[connections]\nsource = \"sqlite://{}\"\ndown = \"postgres://u:secret@127.0.0.1:1/x\"\n",
        db.display()
    );
    std::fs::write(dir.path().join("job.toml"), job).unwrap();
    let run = |args: &[&str]| {
        let output =
            ferry().current_dir(dir.path()).arg("sql").arg("--job").arg("job.toml").args(args).output().unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        (output.status.code(), String::from_utf8(output.stdout).unwrap(), stderr)
    };
    let (code, _, stderr) = run(&["SELECT id FROM source.source_tabel"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.trim().starts_with("error: table `source_tabel` does not exist in connection `source` (sqlite://"),
        "{stderr}"
    );
    assert!(
        stderr
            .trim()
            .ends_with("did you mean `source_table`? It has: `source_orders`, `source_table`, `source_unnormalized`"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["SELECT id,, name FROM source.source_table"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("SQL syntax error") && stderr.contains("Line: 1, Column: 11"), "{stderr}");
    // The unreachable connection fails only the statements that name it.
    let (code, _, stderr) = run(&["SELECT * FROM down.t"]);
    assert_eq!(code, Some(2));
    assert!(stderr.starts_with("error: cannot connect to `postgres://u:***@127.0.0.1:1/x`"), "{stderr}");
    let (code, stdout, _) = run(&["SELECT count(*) AS n FROM source.source_table"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("| 5 |"), "{stdout}");
    let (code, _, stderr) = run(&["--parquet", "lake=ftp://host/path", "SELECT 1"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("unknown scheme `ftp`"), "{stderr}");
    let (code, _, stderr) = run(&["--parquet", "lake=gs://bucket/x", "SELECT * FROM lake.t"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("gs://bucket/x"), "{stderr}");
    let (code, _, stderr) = run(&["INSERT INTO source.source_table (id) VALUES (99)"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("only reads"), "{stderr}");
    let (code, _, stderr) = run(&["--format", "parquet", "SELECT 1"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--out"), "{stderr}");
    let (code, _, stderr) = run(&["SELECT 1 FROM source_table"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("write `connection.source_table`"), "{stderr}");
}

#[test]
fn stage_refuses_a_database_as_destination() {
    let dir = crate::common::job_dir(&[]);
    let output = ferry().current_dir(dir.path()).args(["stage", "--to", "sqlite://x.db"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("`ferry stage` writes Parquet"), "{stderr}");
}
