//! End to end against the local PostgreSQL, when one is reachable (`FERRY_BENCH_PG`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`): the users and orders migrations, PG -> PG.
//! The source is generated once, outside the timing; each iteration is one whole `ferry run`.

use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ferry::connection::Endpoint;
use ferry::job::{Overrides, Plan};
use ferry::run::{run, Progress};

const USERS: u64 = 100_000;

async fn admin(url: &str, sql: &str) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    client.batch_execute(sql).await
}

fn database(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("FERRY_BENCH_PG is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn end_to_end(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let admin_url =
        std::env::var("FERRY_BENCH_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let (source, target) = ("ferry_bench_source", "ferry_bench_target");
    let setup: Result<(), String> = runtime.block_on(async {
        let reset = format!("DROP DATABASE IF EXISTS {source} WITH (FORCE); DROP DATABASE IF EXISTS {target} WITH (FORCE); CREATE DATABASE {source}; CREATE DATABASE {target}");
        admin(&admin_url, &reset).await.map_err(|e| format!("PostgreSQL is not reachable at {admin_url}: {e}"))?;
        let endpoint = Endpoint::parse(&database(&admin_url, source), Path::new(".")).map_err(|e| e.to_string())?;
        ferry::generate::generate(&endpoint, USERS, false).await.map_err(|e| e.to_string())?;
        Ok(())
    });
    if let Err(error) = setup {
        eprintln!("end_to_end: skipped: {error}");
        return;
    }
    let overrides =
        Overrides { source: Some(database(&admin_url, source)), target: Some(database(&admin_url, target)) };
    let plan = Plan::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("ferry.toml"), &overrides)
        .expect("the shipped job is valid");
    let mut group = c.benchmark_group("end_to_end_pg_to_pg");
    group.sample_size(10);
    for (name, rows) in [("users", USERS), ("orders", 3 * USERS)] {
        group.throughput(Throughput::Elements(rows));
        group.bench_with_input(BenchmarkId::from_parameter(name), &name, |b, name| {
            b.iter(|| {
                let report = runtime.block_on(run(&plan, &[name.to_string()], Progress::Quiet)).expect("run");
                assert!(report.succeeded(), "{:?}", report.error);
            })
        });
    }
    group.finish();
    let _ = runtime.block_on(admin(
        &admin_url,
        &format!("DROP DATABASE IF EXISTS {source} WITH (FORCE); DROP DATABASE IF EXISTS {target} WITH (FORCE)"),
    ));
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
