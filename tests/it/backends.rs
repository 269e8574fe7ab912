//! The conformance suite every backend passes through the `Backend` trait alone: ping, the
//! migration lock, a load written and read back, and (where the engine runs SQL) DDL, the
//! catalog and identity columns. A new backend gets its test with one line at the bottom.

use std::sync::Arc;

use arrow::array::{ArrayRef, Decimal128Array, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::prelude::SessionContext;
use ferry::connection::Endpoint;
use ferry::db::{
    self, Backend, ColumnDef, ColumnDefault, ColumnType, ForeignKeyDef, IndexDef, LoadSpec, ReadCounter, SinkBatch,
    TableDef, WriteMode,
};
use ferry::error::FerryError;

use crate::common::{MysqlDatabase, PgDatabase};

fn rows_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int32, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("amount", DataType::Decimal128(10, 2), true),
        Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, None), true),
    ]))
}

/// Rows `ids`, named `n<id>` (none for 4), amounts id * 1.25, at 2024-01-0<id> 10:30:00.
fn batch(ids: &[i32]) -> RecordBatch {
    let names: Vec<Option<String>> = ids.iter().map(|i| (*i != 4).then(|| format!("n{i}"))).collect();
    let amounts: Decimal128Array = ids
        .iter()
        .map(|i| Some(*i as i128 * 125))
        .collect::<Decimal128Array>()
        .with_precision_and_scale(10, 2)
        .unwrap();
    let day = 1_704_067_200_000_000i64 + 37_800_000_000; // 2024-01-01 10:30:00
    let at: TimestampMicrosecondArray = ids.iter().map(|i| Some(day + (*i as i64 - 1) * 86_400_000_000)).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(ids.to_vec())),
        Arc::new(StringArray::from(names)),
        Arc::new(amounts),
        Arc::new(at),
    ];
    RecordBatch::try_new(rows_schema(), columns).unwrap()
}

/// Loads `batches` into `conformance_rows` in one replace, through the backend's sink.
async fn load(backend: &dyn Backend, batches: Vec<RecordBatch>) -> u64 {
    let spec = LoadSpec {
        migration: "conformance".into(),
        run_id: ferry::run::new_run_id(),
        table: "conformance_rows".into(),
        mode: WriteMode::Replace,
        key: vec!["id".into()],
        schema: rows_schema(),
        watermark: None,
        publish: ferry::db::Publish::Auto,
        writers: 1,
    };
    let load = backend.sink().unwrap().prepare(&spec).await.unwrap();
    let target = load.schema();
    let rows = batches
        .into_iter()
        .map(move |b| ferry::sink::conform(&b, &target, "conformance", &[]).map(SinkBatch::Rows))
        .collect::<Vec<_>>();
    load.write_all(Box::pin(futures::stream::iter(rows))).await.unwrap().rows
}

/// `conformance_rows` as DataFusion reads it through the backend's tables, values as text.
async fn read_back(endpoint: &Endpoint) -> Vec<String> {
    let ctx = SessionContext::new();
    let connection = ferry::job::Connection::new("conformance", endpoint.clone());
    let tables =
        ferry::source::schema_provider(&ctx, &connection, Some(Arc::new(ReadCounter::default()))).await.unwrap();
    let table = tables.table("conformance_rows").await.unwrap().expect("the loaded table is listed");
    ctx.register_table("rows", table).unwrap();
    let sql = "SELECT concat_ws(' | ', CAST(id AS BIGINT), coalesce(name, 'NULL'), CAST(amount AS VARCHAR), \
               CAST(at AS VARCHAR)) FROM rows ORDER BY id";
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let mut lines = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            lines.push(arrow::util::display::array_value_to_string(batch.column(0), row).unwrap());
        }
    }
    lines
}

async fn conformance(endpoint: Endpoint) {
    let backend = db::open(&endpoint);
    backend.ping().await.unwrap();

    // One run of a migration at a time: a second lock is refused until the first is released.
    let lock = backend.lock("conformance").await.unwrap();
    let busy = backend.lock("conformance").await.err().expect("the second lock is refused");
    assert!(matches!(busy, FerryError::Busy { .. }));
    assert_eq!(
        busy.to_string(),
        format!(
            "migration `conformance` is already running (another ferry process holds its lock in `{}`); wait for that run to finish",
            endpoint.masked()
        )
    );
    lock.release().await;
    backend.lock("conformance").await.unwrap().release().await;

    // A load, read back through the generic source; a second replace leaves only its rows.
    assert_eq!(load(backend.as_ref(), vec![batch(&[1, 2, 3]), batch(&[4, 5])]).await, 5);
    let expected = [
        "1 | n1 | 1.25 | 2024-01-01T10:30:00",
        "2 | n2 | 2.50 | 2024-01-02T10:30:00",
        "3 | n3 | 3.75 | 2024-01-03T10:30:00",
        "4 | NULL | 5.00 | 2024-01-04T10:30:00",
        "5 | n5 | 6.25 | 2024-01-05T10:30:00",
    ];
    assert_eq!(read_back(&endpoint).await, expected);
    assert_eq!(load(backend.as_ref(), vec![batch(&[2, 4])]).await, 2);
    assert_eq!(read_back(&endpoint).await, [expected[1], expected[3]]);

    let catalog = backend.catalog().await.unwrap();
    let rows = catalog.table("conformance_rows").expect("the loaded table is in the catalog");
    let names: Vec<&str> = rows.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "name", "amount", "at"]);
    if backend.capabilities().runs_sql {
        schema_round_trip(backend.as_ref()).await;
    } else {
        assert!(backend.execute("SELECT 1").await.unwrap_err().to_string().contains("runs no SQL"));
    }
}

/// Tables written from ferry's catalog model come back from the engine's catalog the same.
async fn schema_round_trip(backend: &dyn Backend) {
    let parent = TableDef {
        name: "conformance_parent".into(),
        columns: vec![
            ColumnDef::new("id", ColumnType::Integer).identity(),
            ColumnDef::new("code", ColumnType::Varchar(20)).not_null(),
            ColumnDef::new("created", ColumnType::Timestamp).default(ColumnDefault::CurrentTimestamp),
        ],
        primary_key: vec!["id".into()],
        indexes: vec![IndexDef {
            name: "conformance_parent_code".into(),
            columns: vec!["code".into()],
            unique: true,
            ..Default::default()
        }],
        ..Default::default()
    };
    let key = ForeignKeyDef {
        name: "conformance_child_parent_fkey".into(),
        columns: vec!["parent_id".into()],
        referenced_table: "conformance_parent".into(),
        referenced_columns: vec!["id".into()],
        on_delete: Some("CASCADE".into()),
        on_update: None,
    };
    let child = TableDef {
        name: "conformance_child".into(),
        columns: vec![
            ColumnDef::new("id", ColumnType::BigInt).not_null(),
            ColumnDef::new("parent_id", ColumnType::Integer),
            ColumnDef::new("amount", ColumnType::Decimal(Some((12, 3)))),
            ColumnDef::new("note", ColumnType::Text),
        ],
        primary_key: vec!["id".into()],
        indexes: vec![IndexDef {
            name: "conformance_child_parent".into(),
            columns: vec!["parent_id".into()],
            unique: false,
            ..Default::default()
        }],
        foreign_keys: vec![key.clone()],
        ..Default::default()
    };
    let mut script = vec![
        backend.drop_table_sql("conformance_child").unwrap(),
        backend.drop_table_sql("conformance_parent").unwrap(),
    ];
    for table in [&parent, &child] {
        script.push(backend.create_table_sql(table).unwrap());
        for index in &table.indexes {
            script.push(backend.create_index_sql(&table.name, index).unwrap());
        }
    }
    backend.execute(&script.join(";\n")).await.unwrap();
    assert!(backend.has_table("conformance_child").await.unwrap());
    assert!(!backend.has_table("conformance_nothing").await.unwrap());

    let catalog = backend.catalog().await.unwrap();
    let names: Vec<&str> = catalog.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["conformance_child", "conformance_parent", "conformance_rows"]);
    let one_integer_type = backend.capabilities().one_integer_type;
    let portable = |table: &TableDef| -> Vec<(String, ColumnType, bool, Option<ColumnDefault>, bool)> {
        table
            .columns
            .iter()
            .map(|c| {
                // SQLite's rowid (INTEGER PRIMARY KEY) holds 64 bits, whatever the column was made from.
                let column_type = match c.column_type.portable() {
                    ColumnType::Integer if one_integer_type && c.identity => ColumnType::BigInt,
                    other => other.clone(),
                };
                (c.name.clone(), column_type, c.nullable, c.default.clone(), c.identity)
            })
            .collect()
    };
    let read_child = catalog.table("conformance_child").unwrap();
    assert_eq!(portable(read_child), portable(&child));
    assert_eq!(read_child.primary_key, ["id"]);
    assert_eq!(read_child.foreign_keys, [key]);
    assert!(read_child.indexes.contains(&child.indexes[0]), "{:?}", read_child.indexes);
    let read_parent = catalog.table("conformance_parent").unwrap();
    assert_eq!(portable(read_parent), portable(&parent));
    assert_eq!(read_parent.primary_key, ["id"]);
    assert_eq!(read_parent.indexes, parent.indexes);

    // Rows given their ids explicitly, then one numbered by the database: after the next.
    backend.execute("INSERT INTO conformance_parent (id, code) VALUES (10, 'given')").await.unwrap();
    backend.reset_identity("conformance_parent", "id").await.unwrap();
    backend.execute("INSERT INTO conformance_parent (code) VALUES ('numbered')").await.unwrap();
    let rows = backend.text_rows("SELECT id FROM conformance_parent WHERE code = ?", vec![Some("numbered".into())]);
    assert_eq!(rows.await.unwrap(), [[Some("11".to_string())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backend() {
    let db = PgDatabase::new();
    conformance(db.endpoint()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_backend() {
    let db = MysqlDatabase::new();
    conformance(db.endpoint()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend() {
    let dir = tempfile::tempdir().unwrap();
    conformance(Endpoint::parse("sqlite://conformance.db", dir.path()).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_backend() {
    let dir = tempfile::tempdir().unwrap();
    conformance(Endpoint::parse("file://lake", dir.path()).unwrap()).await;
}
