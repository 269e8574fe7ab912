//! Every read of a run's PostgreSQL source sees one snapshot: a table read in parts, while a
//! writer keeps inserting into it, arrives as the table was at one moment, even when the parts'
//! connections take different times to open (a proxy holds them back by up to 0.4 s).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ferry::job::{Overrides, Plan};
use ferry::run::{run, Progress};

use std::time::Duration;

use crate::common::PgDatabase;
use crate::proxy::{Fault, Proxy};

/// Reads `events` in 8 parts while rows are inserted, one per transaction, in `seq` order at
/// keys spread over every part's range; returns (rows of `seq` read, highest `seq` read).
async fn read_while_inserting(db: &PgDatabase, url: &str) -> (i64, i64) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("queries")).unwrap();
    std::fs::write(dir.path().join("queries/q.sql"), "SELECT * FROM events").unwrap();
    let job = format!(
        "[connections]\nsource = \"{url}\"\ntarget = \"{}\"\n[[migrations]]\nname = \"m\"\nsource = \"source\"\n\
         query = \"queries/q.sql\"\ntarget = \"target\"\ntable = \"copied\"\nkey = [\"id\"]\npartitions = 8\n",
        db.url
    );
    let plan = Plan::from_toml(&job, "job.toml", dir.path(), &Overrides::default()).unwrap();
    let (writer, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let inserting = tokio::spawn(async move {
        let mut seq: i64 = 0;
        while !stopped.load(Ordering::Relaxed) {
            seq += 1;
            // Odd keys, scattered over 1..=400,000: every part's range gets some.
            let id = (seq * 7919 % 200_000) * 2 + 1;
            writer.execute("INSERT INTO events VALUES ($1, $2) ON CONFLICT DO NOTHING", &[&id, &seq]).await.unwrap();
        }
        seq
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let report = run(&plan, &[], Progress::Quiet).await.unwrap();
    stop.store(true, Ordering::Relaxed);
    let inserted = inserting.await.unwrap();
    assert_eq!(report.error, None);
    let seen = db.rows("SELECT count(seq), coalesce(max(seq), 0) FROM copied");
    let (count, highest) = (seen[0][0].clone().unwrap(), seen[0][1].clone().unwrap());
    assert!(inserted > 100, "the writer kept inserting ({inserted})");
    (count.parse().unwrap(), highest.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_table_read_in_parts_is_read_at_one_moment() {
    let db = PgDatabase::new();
    db.rows(
        "CREATE TABLE events (id bigint PRIMARY KEY, seq bigint);
         INSERT INTO events SELECT g * 2, NULL FROM generate_series(0, 200000) g;",
    );
    let proxy = Proxy::before(&db.url, Fault::Delay(|n| Duration::from_millis(n as u64 % 3 * 200))).await;
    let (count, highest) = read_while_inserting(&db, &proxy.url(&db.url)).await;
    // One snapshot sees the inserts up to some point, all of them: seq 1..=highest, no gap.
    assert!(highest > 0, "some inserts were already in");
    assert_eq!(count, highest, "the parts saw different moments");
}

#[test]
fn a_bad_snapshot_setting_is_refused() {
    let db = PgDatabase::new();
    let url = format!("{}?snapshot=sometimes", db.url);
    let error = crate::common::block_on(async {
        ferry::db::open(&ferry::connection::Endpoint::parse(&url, std::path::Path::new(".")).unwrap()).ping().await
    })
    .unwrap_err()
    .to_string()
    .replace(&db.name, "DB");
    insta::assert_snapshot!(error, @"cannot connect to `postgres://postgres@127.0.0.1:5432/DB?snapshot=sometimes`: snapshot=sometimes: use snapshot=on (the default) or snapshot=off");
}
