//! `ferry generate`: the old system's three source tables at any scale, deterministic (every
//! value is a function of the row number, the same formulas as `shared/peers/source_pg.sql`),
//! with the dirty rows the cleaning and reject rules exist for. Rows stream through the
//! ordinary sinks in append mode, so generating a billion rows needs no more memory than ten.

use std::sync::Arc;

use arrow::array::{ArrayRef, Decimal128Array, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use futures::stream;

use crate::connection::Endpoint;
use crate::db::{
    self, Backend, ColumnDef, ColumnDefault, ColumnType, ForeignKeyDef, LoadSpec, SinkBatch, TableDef, WriteMode,
};
use crate::error::{FerryError, Result};
use crate::sink;

const CHUNK: u64 = 50_000;
const FIRST: [&str; 20] = [
    "Alice", "Bob", "Charlie", "Diana", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj", "Olivia",
    "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Zoë",
];
const LAST: [&str; 15] = [
    "Johnson", "Smith", "Brown", "Ross", "Adams", "Garcia", "Müller", "Nguyen", "O'Brien", "Kowalski", "Li", "Patel",
    "Silva", "Kim", "Dubois",
];
const CITIES: [&str; 15] = [
    "New York",
    "Los Angeles",
    "Chicago",
    "San Francisco",
    "Boston",
    "Seattle",
    "Austin",
    "Denver",
    "Miami",
    "Portland",
    "São Paulo",
    "Zürich",
    "Kraków",
    "Osaka",
    "Lagos",
];
const DIRTY_FIRST: [&str; 10] = ["alice", "BOB", "Charlie", "diana", "Eve", "frank", "GRACE", "heidi", "Ivan", "judy"];
const DIRTY_LAST: [&str; 8] = ["Johnson", "smith", "BROWN", "Ross", "adams", "Garcia", "Nguyen", "Li"];
const DIRTY_CITIES: [&str; 8] =
    ["New York", "los angeles", "CHICAGO", " San Francisco ", "Boston, MA", "Seattle, WA, USA", "austin", "Denver "];
/// 2020-01-01 and 2021-01-01 in microseconds since 1970; the sample rows' creation time.
const USERS_EPOCH: i64 = 1_577_836_800_000_000;
const ORDERS_EPOCH: i64 = 1_609_459_200_000_000;
const SAMPLE_TIME: i64 = 1_696_118_400_000_000;

/// Writes the three source tables; returns their row counts (users, orders, unnormalized).
pub async fn generate(endpoint: &Endpoint, rows: u64, with_sample: bool) -> Result<[u64; 3]> {
    let offset = if with_sample { 5 } else { 0 };
    let backend = db::open(endpoint);
    if !backend.capabilities().runs_sql {
        return Err(FerryError::Job(
            "`ferry generate` writes to a database (postgres://, mysql://, sqlite://), not to Parquet".into(),
        ));
    }
    create_tables(backend.as_ref()).await?;
    let users = write(
        endpoint,
        "source_table",
        users_schema(),
        rows,
        offset,
        users,
        with_sample.then(sample_users).transpose()?,
    )
    .await?;
    let user_count = rows + offset;
    let orders = write(
        endpoint,
        "source_orders",
        orders_schema(),
        3 * rows,
        offset,
        move |j, s| orders(j, s, user_count),
        with_sample.then(sample_orders).transpose()?,
    )
    .await?;
    let unnormalized = write(
        endpoint,
        "source_unnormalized",
        unnormalized_schema(),
        rows,
        offset,
        unnormalized,
        with_sample.then(sample_unnormalized).transpose()?,
    )
    .await?;
    for (table, column) in [("source_table", "id"), ("source_orders", "order_id"), ("source_unnormalized", "record_id")]
    {
        backend.reset_identity(table, column).await?;
    }
    Ok([users, orders, unnormalized])
}

async fn write(
    endpoint: &Endpoint,
    table: &str,
    schema: SchemaRef,
    rows: u64,
    offset: u64,
    make: impl Fn(std::ops::Range<u64>, &SchemaRef) -> Result<RecordBatch> + Send + 'static,
    sample: Option<RecordBatch>,
) -> Result<u64> {
    let spec = LoadSpec {
        migration: format!("generate {table}"),
        run_id: crate::run::new_run_id(),
        table: table.to_string(),
        mode: WriteMode::Append,
        key: vec![],
        schema: schema.clone(),
        watermark: None,
        publish: db::Publish::Auto,
        writers: 1,
    };
    let load = db::open(endpoint).sink()?.prepare(&spec).await?;
    let target = load.schema();
    let chunks = (0..rows.div_ceil(CHUNK)).map(move |c| {
        let start = offset + 1 + c * CHUNK;
        let end = (offset + 1 + rows).min(start + CHUNK);
        (start, end)
    });
    let name = spec.migration.clone();
    let batches = sample.into_iter().map(Ok).chain(chunks.map(move |(start, end)| make(start..end, &schema)));
    let conformed = stream::iter(batches.map(move |b: Result<RecordBatch>| {
        b.and_then(|b| sink::conform(&b, &target, &name, &[])).map(SinkBatch::Rows)
    }));
    Ok(load.write_all(Box::pin(conformed)).await?.rows)
}

/// The old system's source schema, as every engine writes it.
fn source_tables() -> [TableDef; 3] {
    let integer = |name: &str| ColumnDef::new(name, ColumnType::Integer);
    let text = |name: &str, length: u32| ColumnDef::new(name, ColumnType::Varchar(length));
    let created = |name: &str| ColumnDef::new(name, ColumnType::Timestamp).default(ColumnDefault::CurrentTimestamp);
    let table = |name: &str, columns: Vec<ColumnDef>| TableDef {
        name: name.into(),
        primary_key: vec![columns[0].name.clone()],
        columns,
        ..Default::default()
    };
    let mut orders = table(
        "source_orders",
        vec![
            integer("order_id").identity(),
            integer("user_id"),
            ColumnDef::new("order_total", ColumnType::Decimal(Some((10, 2)))),
            created("order_date"),
        ],
    );
    orders.foreign_keys.push(ForeignKeyDef {
        name: "source_orders_user_id_fkey".into(),
        columns: vec!["user_id".into()],
        referenced_table: "source_table".into(),
        referenced_columns: vec!["id".into()],
        ..Default::default()
    });
    [
        table(
            "source_table",
            vec![integer("id").identity(), text("name", 100), integer("age"), text("city", 50), created("created_at")],
        ),
        orders,
        table(
            "source_unnormalized",
            vec![integer("record_id").identity(), text("full_name", 150), text("age", 10), text("location", 100)],
        ),
    ]
}

/// Drops the three tables (the referencing one first) and creates them anew.
async fn create_tables(backend: &dyn Backend) -> Result<()> {
    let tables = source_tables();
    let mut script = Vec::new();
    for name in ["source_orders", "source_table", "source_unnormalized"] {
        script.push(backend.drop_table_sql(name)?);
    }
    for table in &tables {
        script.push(backend.create_table_sql(table)?);
    }
    backend.execute(&format!("{};", script.join("; "))).await
}

pub fn users_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("age", DataType::Int32, true),
        Field::new("city", DataType::Utf8, true),
        Field::new("created_at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
    ]))
}

pub fn orders_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("order_id", DataType::Int32, false),
        Field::new("user_id", DataType::Int32, true),
        Field::new("order_total", DataType::Decimal128(10, 2), true),
        Field::new("order_date", DataType::Timestamp(TimeUnit::Microsecond, None), true),
    ]))
}

pub fn unnormalized_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("record_id", DataType::Int32, false),
        Field::new("full_name", DataType::Utf8, true),
        Field::new("age", DataType::Utf8, true),
        Field::new("location", DataType::Utf8, true),
    ]))
}

fn batch(schema: &SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

/// Rows `ids` of `source_table` (also used by the benchmarks).
pub fn users(ids: std::ops::Range<u64>, schema: &SchemaRef) -> Result<RecordBatch> {
    let i: Vec<u64> = ids.collect();
    batch(
        schema,
        vec![
            Arc::new(Int32Array::from_iter_values(i.iter().map(|&i| i as i32))),
            Arc::new(StringArray::from_iter_values(
                i.iter().map(|&i| format!("{} {}", FIRST[(i * 7 % 20) as usize], LAST[(i * 13 % 15) as usize])),
            )),
            Arc::new(Int32Array::from_iter(i.iter().map(|&i| (i % 97 != 0).then(|| 18 + (i * 31 % 63) as i32)))),
            Arc::new(StringArray::from_iter(i.iter().map(|&i| (i % 89 != 0).then(|| CITIES[(i * 11 % 15) as usize])))),
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                i.iter().map(|&i| USERS_EPOCH + i as i64 * 37_000_000),
            )),
        ],
    )
}

/// Orders reference users 1..=users; every 1009th has no user and every 1013th a negative
/// total, the rows the orders reject rules exist for.
pub fn orders(ids: std::ops::Range<u64>, schema: &SchemaRef, users: u64) -> Result<RecordBatch> {
    let j: Vec<u64> = ids.collect();
    let totals = Decimal128Array::from_iter_values(j.iter().map(|&j| {
        let cents = (j * 104_729 % 100_000) as i128;
        if j % 1013 == 0 {
            -cents
        } else {
            cents
        }
    }));
    batch(
        schema,
        vec![
            Arc::new(Int32Array::from_iter_values(j.iter().map(|&j| j as i32))),
            Arc::new(Int32Array::from_iter(
                j.iter().map(|&j| (j % 1009 != 0).then(|| (1 + j * 7919 % users.max(1)) as i32)),
            )),
            Arc::new(totals.with_precision_and_scale(10, 2)?),
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                j.iter().map(|&j| ORDERS_EPOCH + j as i64 * 11_000_000),
            )),
        ],
    )
}

/// Rows `ids` of `source_unnormalized`.
pub fn unnormalized(ids: std::ops::Range<u64>, schema: &SchemaRef) -> Result<RecordBatch> {
    let k: Vec<u64> = ids.collect();
    let name = |k: u64| -> Option<String> {
        let first = DIRTY_FIRST[(k % 10) as usize];
        match k % 10 {
            0 => Some(format!("  {first}   {} ", DIRTY_LAST[(k % 8) as usize])),
            1 => Some(first.to_string()),
            2 => None,
            _ => Some(format!("{first} {}", DIRTY_LAST[(k * 3 % 8) as usize])),
        }
    };
    let age = |k: u64| -> Option<String> {
        Some(match k % 13 {
            0 => "thirty".into(),
            1 => " 42 ".into(),
            2 => "".into(),
            3 => return None,
            4 => "-5".into(),
            5 => "250".into(),
            _ => (18 + k * 17 % 70).to_string(),
        })
    };
    batch(
        schema,
        vec![
            Arc::new(Int32Array::from_iter_values(k.iter().map(|&k| k as i32))),
            Arc::new(StringArray::from_iter(k.iter().map(|&k| name(k)))),
            Arc::new(StringArray::from_iter(k.iter().map(|&k| age(k)))),
            Arc::new(StringArray::from_iter(k.iter().map(|&k| (k % 11 != 0).then(|| DIRTY_CITIES[(k % 8) as usize])))),
        ],
    )
}

/// The old system's five sample rows per table (`shared/old-system/sample.sql`).
fn sample_users() -> Result<RecordBatch> {
    let rows = [
        ("Alice", 30, "New York"),
        ("Bob", 25, "Los Angeles"),
        ("Charlie", 35, "Chicago"),
        ("Diana", 28, "San Francisco"),
        ("Eve", 40, "Boston"),
    ];
    batch(
        &users_schema(),
        vec![
            Arc::new(Int32Array::from_iter_values(1..=5)),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
            Arc::new(TimestampMicrosecondArray::from_iter_values([SAMPLE_TIME; 5])),
        ],
    )
}

fn sample_orders() -> Result<RecordBatch> {
    let rows = [
        (1, 10050, "2023-11-01 10:00:00"),
        (2, 20075, "2023-11-02 15:30:00"),
        (1, 5000, "2023-11-03 18:45:00"),
        (3, 30000, "2023-11-04 12:15:00"),
        (4, 15025, "2023-11-05 09:10:00"),
    ];
    let time = |text: &str| {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
            .map(|t| t.and_utc().timestamp_micros())
            .unwrap_or_default()
    };
    batch(
        &orders_schema(),
        vec![
            Arc::new(Int32Array::from_iter_values(1..=5)),
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(
                Decimal128Array::from_iter_values(rows.iter().map(|r| r.1 as i128)).with_precision_and_scale(10, 2)?,
            ),
            Arc::new(TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| time(r.2)))),
        ],
    )
}

fn sample_unnormalized() -> Result<RecordBatch> {
    let rows = [
        ("Alice Johnson", "30", "New York"),
        ("Bob Smith", "25", "Los Angeles"),
        ("Charlie Brown", "35", "Chicago"),
        ("Diana Ross", "28", "San Francisco"),
        ("Eve Adams", "40", "Boston"),
    ];
    batch(
        &unnormalized_schema(),
        vec![
            Arc::new(Int32Array::from_iter_values(1..=5)),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2))),
        ],
    )
}
