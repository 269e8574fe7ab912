//! The three shipped transformations (`queries/*.sql`) on in-memory batches: DataFusion's share of
//! a migration, without any database. Setup stays out of the timed closure.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use datafusion::catalog::{MemorySchemaProvider, SchemaProvider};
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use ferry::generate;
use futures::StreamExt;

const ROWS: u64 = 200_000;
const CHUNK: u64 = 16_384;

fn table(
    schema: arrow::datatypes::SchemaRef,
    make: impl Fn(std::ops::Range<u64>) -> arrow::record_batch::RecordBatch,
) -> Arc<MemTable> {
    let batches = (0..ROWS.div_ceil(CHUNK)).map(|c| make(1 + c * CHUNK..(1 + ROWS).min(1 + (c + 1) * CHUNK))).collect();
    Arc::new(MemTable::try_new(schema, vec![batches]).expect("batches match their schema"))
}

/// ferry's session (with its lookup join), or DataFusion's own (`plain`), over the same tables.
fn context(plain: bool) -> SessionContext {
    let ctx = if plain {
        SessionContext::new_with_config(
            SessionConfig::new()
                .with_default_catalog_and_schema("ferry", "source")
                .with_create_default_catalog_and_schema(true),
        )
    } else {
        ferry::transform::new_session(
            Some("source"),
            ferry::job::Parts::Exactly(1),
            ferry::job::DEFAULT_MEMORY_LIMIT,
            true,
        )
    };
    let source = MemorySchemaProvider::new();
    let users = generate::users_schema();
    let orders = generate::orders_schema();
    let unnormalized = generate::unnormalized_schema();
    source
        .register_table("source_table".into(), table(users.clone(), |r| generate::users(r, &users).expect("users")))
        .expect("register");
    source
        .register_table(
            "source_orders".into(),
            table(orders.clone(), |r| generate::orders(r, &orders, ROWS).expect("orders")),
        )
        .expect("register");
    source
        .register_table(
            "source_unnormalized".into(),
            table(unnormalized.clone(), |r| generate::unnormalized(r, &unnormalized).expect("unnormalized")),
        )
        .expect("register");
    let target = MemorySchemaProvider::new();
    let user_ids = arrow::record_batch::RecordBatch::try_new(
        Arc::new(arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new(
            "user_id",
            arrow::datatypes::DataType::Int32,
            false,
        )])),
        vec![Arc::new(arrow::array::Int32Array::from_iter_values(1..=ROWS as i32))],
    )
    .expect("user ids");
    target
        .register_table(
            "target_users".into(),
            Arc::new(MemTable::try_new(user_ids.schema(), vec![vec![user_ids]]).expect("table")),
        )
        .expect("register");
    let catalog = ctx.catalog("ferry").expect("catalog");
    catalog.register_schema("source", Arc::new(source)).expect("schema");
    catalog.register_schema("target", Arc::new(target)).expect("schema");
    ctx
}

fn transformations(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (ferry, plain) = (context(false), context(true));
    let mut group = c.benchmark_group("transform");
    group.sample_size(10);
    // `orders_hash_join`: the orders query as DataFusion plans it, without ferry's lookup join.
    let runs = [("users", ROWS), ("orders", 3 * ROWS), ("orders_hash_join", 3 * ROWS), ("cleaned_data", ROWS)];
    for (name, rows) in runs {
        let ctx = if name == "orders_hash_join" { &plain } else { &ferry };
        let file = name.trim_end_matches("_hash_join");
        let sql =
            std::fs::read_to_string(format!("{}/queries/{file}.sql", env!("CARGO_MANIFEST_DIR"))).expect("query file");
        group.throughput(Throughput::Elements(rows));
        group.bench_with_input(BenchmarkId::from_parameter(name), &sql, |b, sql| {
            b.iter(|| {
                runtime.block_on(async {
                    let mut stream = ctx.sql(sql).await.expect("plan").execute_stream().await.expect("execute");
                    let mut out = 0;
                    while let Some(batch) = stream.next().await {
                        out += batch.expect("batch").num_rows();
                    }
                    out
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, transformations);
criterion_main!(benches);
