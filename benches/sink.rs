//! The write path without a database: PostgreSQL binary COPY encoding and decoding of the
//! users target rows, and the Parquet (zstd) writer. Inputs are built before timing.

use std::sync::Arc;

use arrow::array::{Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferry::db::postgres::decode::CopyDecoder;
use ferry::db::postgres::encode::{encode_batch, header, trailer, WireType};

const ROWS: usize = 100_000;

fn users_target() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Int32, false),
        Field::new("full_name", DataType::Utf8, true),
        Field::new("age_group", DataType::Utf8, false),
        Field::new("city", DataType::Utf8, true),
        Field::new("registered_date", DataType::Timestamp(TimeUnit::Microsecond, None), true),
    ]));
    let groups = ["<30", "30-40", ">40", "unknown"];
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int32Array::from_iter_values(0..ROWS as i32)),
            Arc::new(StringArray::from_iter_values((0..ROWS).map(|i| format!("Name {i} Surname")))),
            Arc::new(StringArray::from_iter_values((0..ROWS).map(|i| groups[i % 4]))),
            Arc::new(StringArray::from_iter((0..ROWS).map(|i| (i % 89 != 0).then_some("San Francisco")))),
            Arc::new(TimestampMicrosecondArray::from_iter_values(
                (0..ROWS as i64).map(|i| 1_577_836_800_000_000 + i * 37_000_000),
            )),
        ],
    )
    .expect("columns match the schema")
}

fn encoded(batch: &RecordBatch) -> BytesMut {
    let mut out = BytesMut::with_capacity(16 << 20);
    header(&mut out);
    encode_batch(batch, &[WireType::Native; 5], &mut out).expect("encodable");
    trailer(&mut out);
    out
}

fn sinks(c: &mut Criterion) {
    let batch = users_target();
    let mut group = c.benchmark_group("sink");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("pg_copy_encode", |b| b.iter(|| encoded(&batch).len()));
    let bytes = encoded(&batch);
    group.bench_function("pg_copy_decode", |b| {
        b.iter(|| {
            let mut decoder = CopyDecoder::new(batch.schema(), 16_384);
            let mut rows: usize = decoder.push(&bytes).expect("decodable").iter().map(|b| b.num_rows()).sum();
            rows += decoder.finish().expect("complete").map(|b| b.num_rows()).unwrap_or(0);
            rows
        })
    });
    group.bench_function("parquet_zstd", |b| {
        b.iter(|| {
            let properties = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                .build();
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(Vec::new(), batch.schema(), Some(properties)).expect("writer");
            writer.write(&batch).expect("write");
            writer.into_inner().expect("close").len()
        })
    });
    group.finish();
}

criterion_group!(benches, sinks);
criterion_main!(benches);
