//! A copy declared in the job file (`[[copies]]`): `ferry run` copies most tables as they are and
//! a query migration transforms one, `ferry check` compares every copied table with its source,
//! and the HTTP API's migration list and runs know the copy. Bad copy entries are refused before
//! any database is touched.

use std::path::Path;

use ferry::job::{Overrides, Plan};

use crate::common::{ferry, MysqlDatabase, PgDatabase};
use crate::copy::{POSTGRES_SCHEMA, ROWS};

/// A job: the copy leaves `album` out, the migration makes it with prices in cents.
pub fn job(dir: &Path, source: &PgDatabase, target: &MysqlDatabase) -> std::path::PathBuf {
    std::fs::write(dir.join("album.sql"), "SELECT id, artist_id, title, CAST(price * 100 AS INT) AS cents FROM album")
        .unwrap();
    let text = format!(
        r#"[connections]
shop = "{}"
warehouse = "{}"

[[copies]]
name = "shop"
source = "shop"
target = "warehouse"
exclude = ["album"]
casts = {{ "employee.name" = "varchar(80)" }}

[[migrations]]
name = "album"
source = "shop"
query = "album.sql"
target = "warehouse"
table = "album"
key = ["id"]
depends_on = ["shop"]
"#,
        source.url, target.url
    );
    let path = dir.join("ferry.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_copies_most_tables_and_transforms_one() {
    let (source, target) = (PgDatabase::new(), MysqlDatabase::new());
    source.rows(POSTGRES_SCHEMA);
    source.rows(ROWS);
    let dir = tempfile::tempdir().unwrap();
    let path = job(dir.path(), &source, &target);
    let plan = Plan::load(&path, &Overrides::default()).unwrap();
    assert_eq!(plan.names(), ["shop", "album"]);
    let report = ferry::copy::run_job(&plan, &[], &Default::default(), ferry::run::Progress::Quiet).await.unwrap();
    assert_eq!(report.error, None, "{}", report.table());
    let loaded: Vec<(&str, u64)> = report.migrations.iter().map(|m| (m.name.as_str(), m.rows_loaded)).collect();
    assert_eq!(loaded, [("artist", 3), ("employee", 3), ("track", 3), ("album", 3)]);
    // The copy's report lines come with the run's: the key to the table left out is not made.
    let text = report.table();
    assert!(
        text.contains("track foreign key track_album_id_fkey skipped: it references `album`, which is not copied"),
        "{text}"
    );
    let name = target.rows("SELECT column_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'employee' AND column_name = 'name'");
    assert_eq!(name, [[Some("varchar(80)".to_string())]]);
    let cents = [("1", Some("1099")), ("2", None), ("3", Some("850"))];
    let cents: Vec<Vec<Option<String>>> =
        cents.iter().map(|(id, cents)| vec![Some(id.to_string()), cents.map(str::to_string)]).collect();
    assert_eq!(target.rows("SELECT id, cents FROM album ORDER BY id"), cents);

    // `ferry check` compares every copied table with its source: equal now.
    let output = ferry().args(["check", "--job"]).arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    for table in ["artist", "employee", "track"] {
        assert!(stdout.contains(&format!("shop ({table}, 3 rows):\n  passed   matches_source (0 failing")), "{stdout}");
    }
    // A row changed in the target is found, naming the column.
    target.execute("UPDATE artist SET name = 'AC-DC' WHERE id = 1");
    let output = ferry().args(["check", "shop", "--job"]).arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("failed   matches_source (1 failing: values differ in `name`)"), "{stdout}");
    assert!(!stdout.contains("(album,"), "{stdout}");
}

#[test]
fn bad_copy_entries_are_refused_naming_the_culprit() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |entry: &str| {
        let text = format!(
            "[connections]\nshop = \"sqlite://shop.db\"\nwarehouse = \"sqlite://warehouse.db\"\n\n[[copies]]\n{entry}\n"
        );
        Plan::from_toml(&text, "ferry.toml", dir.path(), &Overrides::default()).unwrap_err().to_string()
    };
    let cases = [
        (
            "name = \"shop\"\nsource = \"shops\"\ntarget = \"warehouse\"",
            "copy `shop`: unknown source connection `shops`; the job defines: `shop`, `warehouse`",
        ),
        (
            "name = \"shop\"\nsource = \"shop\"\ntarget = \"warehouse\"\nworkers = 0",
            "copy `shop`: workers = 0; give at least 1",
        ),
        (
            "name = \"shop\"\nsource = \"shop\"\ntarget = \"warehouse\"\ncasts = { \"a.b\" = \"int8\" }",
            "copy `shop`: --cast `a.b=int8`: `int8` is not a type ferry writes",
        ),
        (
            "name = \"shop\"\nsource = \"shop\"\ntarget = \"warehouse\"\nschema_only = true\ndata_only = true",
            "copy `shop`: schema_only and data_only exclude each other; give one",
        ),
        (
            "name = \"shop\"\nsource = \"shop\"\ntarget = \"warehouse\"\nif_exists = \"overwrite\"",
            "unknown variant `overwrite`, expected one of `fail`, `replace`, `skip`",
        ),
    ];
    for (entry, expected) in cases {
        let error = refused(entry);
        assert!(error.contains(expected), "{entry}:\n{error}");
    }
}

#[test]
fn ferry_copy_writes_its_report_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    crate::copy::sqlite_execute(&dir.path().join("shop.db"), crate::copy::SQLITE_SCHEMA);
    crate::copy::sqlite_execute(&dir.path().join("shop.db"), &ROWS.replace("TRUE", "1").replace("FALSE", "0"));
    let output = ferry()
        .current_dir(dir.path())
        .args(["copy", "--source", "sqlite://shop.db", "--target", "sqlite://copy.db"])
        .args(["--junit", "copy.xml", "--report", "copy.json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let junit = std::fs::read_to_string(dir.path().join("copy.xml")).unwrap();
    for table in ["artist", "album", "employee", "track"] {
        assert!(junit.contains(&format!("<testsuite name=\"{table}\"")), "{junit}");
    }
    assert_eq!(junit.matches("name=\"matches_source\"/>").count(), 4, "{junit}");
    assert!(!junit.contains("<failure"), "{junit}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("copy.json")).unwrap()).unwrap();
    assert_eq!(report["migrations"].as_array().unwrap().len(), 4);
    assert!(report["schema"].as_array().unwrap().iter().all(|o| o["status"] != "failed"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lists_and_runs_a_copy() {
    let (source, target) = (PgDatabase::new(), MysqlDatabase::new());
    source.rows(POSTGRES_SCHEMA);
    source.rows(ROWS);
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan::load(&job(dir.path(), &source, &target), &Overrides::default()).unwrap();
    let (base, _stop, _task) = crate::api::serve(plan, Some("copy-token")).await;
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{base}{path}")).bearer_auth("copy-token").send()
    };
    let listed: serde_json::Value = call(reqwest::Method::GET, "/migrations").await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["name"], "shop");
    assert_eq!(listed[0]["mode"], "copy");
    assert_eq!(listed[0]["exclude"], serde_json::json!(["album"]));
    let response = call(reqwest::Method::POST, "/migrations/shop/runs").await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let run: serde_json::Value = response.json().await.unwrap();
    assert_eq!(run["status"], "succeeded", "{run}");
    let tables: Vec<&str> =
        run["report"]["migrations"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(tables, ["artist", "employee", "track"]);
    assert!(run["report"]["schema"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["object"] == "foreign key track_album_id_fkey"));
    assert_eq!(target.rows("SELECT count(*) FROM track"), [[Some("3".to_string())]]);
}
