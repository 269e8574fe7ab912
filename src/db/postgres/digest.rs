//! The reconciliation's figures computed by PostgreSQL itself: the row count and the sum of a
//! hash of each whole row, which ferry computes over the rows it sends with the server's own hash
//! functions ([`super::hash`]). One aggregate query, which PostgreSQL may run in parallel workers,
//! instead of the table streamed back to ferry.
//!
//! A row's hash mixes the XOR of its columns' hashes, each seeded with the column's position.
//! A column is hashed by its type's own hash function where ferry sends that type's values
//! (integers, booleans, floats, dates, timestamps, times, bytea) and as its text otherwise (text
//! types, enums, json, and numeric, whose own hash ignores the sign and the scale). A column of
//! another type, a server that hashes differently, or figures that differ all answer "no match",
//! and the caller then reads the table back to find out what differs.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    Time64MicrosecondType, TimeUnit, TimestampMicrosecondType, UInt16Type, UInt32Type, UInt8Type,
};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;

use super::connect::{pg_connect, pg_message};
use super::hash;
use super::types::existing_columns;
use crate::connection::Endpoint;
use crate::db::merge::{quote, quote_table, Dialect};
use crate::db::{target_error, TableDigest};
use crate::decimal::write_unscaled;
use crate::error::Result;

/// How ferry hashes a column's values, from the Arrow type they are sent as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hashing {
    Integer,
    Boolean,
    Float,
    /// Days since 1970, hashed as days since 2000 (an int4).
    Date,
    /// Microseconds since 1970, hashed as microseconds since 2000 (an int8).
    Timestamp,
    Time,
    Bytes,
    Text,
    /// Decimal text with the column's scale, as `numeric::text` prints it.
    Decimal(i8),
}

impl Hashing {
    fn of(data_type: &DataType) -> Option<Hashing> {
        Some(match data_type {
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Hashing::Integer,
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => Hashing::Integer,
            DataType::Boolean => Hashing::Boolean,
            DataType::Float32 | DataType::Float64 => Hashing::Float,
            DataType::Date32 => Hashing::Date,
            DataType::Timestamp(TimeUnit::Microsecond, _) => Hashing::Timestamp,
            DataType::Time64(TimeUnit::Microsecond) => Hashing::Time,
            DataType::Binary => Hashing::Bytes,
            DataType::Utf8 => Hashing::Text,
            DataType::Decimal128(_, scale) if *scale >= 0 => Hashing::Decimal(*scale),
            _ => return None,
        })
    }

    /// The hash PostgreSQL computes of a column stored by the type whose binary receive function
    /// is `receive`, seeded with `seed`, or None when the stored value may not hash as ferry's.
    fn expression(self, column: &str, receive: &str, seed: u64) -> Option<String> {
        let column = quote(Dialect::Postgres, column);
        let function = match (self, receive) {
            (Hashing::Integer, "int2recv") => "hashint2extended",
            (Hashing::Integer, "int4recv") => "hashint4extended",
            (Hashing::Integer, "int8recv") => "hashint8extended",
            (Hashing::Float, "float4recv") => "hashfloat4extended",
            (Hashing::Float, "float8recv") => "hashfloat8extended",
            (Hashing::Timestamp, "timestamp_recv") => "timestamp_hash_extended",
            (Hashing::Time, "time_recv") => "time_hash_extended",
            (Hashing::Text, "textrecv" | "varcharrecv") => "hashtextextended",
            // Text that such a column prints back as it was sent, when it was sent as the type
            // prints it (as read from a PostgreSQL source); otherwise the figures differ and the
            // table is read back.
            (Hashing::Text, "enum_recv" | "json_recv" | "numeric_recv" | "uuid_recv")
            | (Hashing::Decimal(_), "numeric_recv") => {
                return Some(format!("hashtextextended({column}::text, {seed})"))
            }
            // Types without a hash function of their own that SQL can call: the one-column
            // record's hash is the column's own.
            (Hashing::Boolean, "boolrecv")
            | (Hashing::Date, "date_recv")
            | (Hashing::Timestamp, "timestamptz_recv")
            | (Hashing::Bytes, "bytearecv") => return Some(format!("hash_record_extended(ROW({column}), {seed})")),
            _ => return None,
        };
        Some(format!("{function}({column}, {seed})"))
    }
}

/// The digest of a load into a PostgreSQL table.
pub struct PostgresDigest {
    endpoint: Endpoint,
    table: String,
    /// The load's columns and how their values are hashed; None when one cannot be.
    columns: Option<Vec<(String, Hashing)>>,
    rows: u64,
    sum: u64,
    row_hashes: Vec<u64>,
}

impl PostgresDigest {
    pub fn new(endpoint: Endpoint, table: String, schema: &arrow::datatypes::Schema) -> PostgresDigest {
        let columns = schema.fields().iter().map(|f| Some((f.name().clone(), Hashing::of(f.data_type())?))).collect();
        PostgresDigest { endpoint, table, columns, rows: 0, sum: 0, row_hashes: Vec::new() }
    }
}

#[async_trait]
impl TableDigest for PostgresDigest {
    fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let Some(columns) = &self.columns else { return Ok(()) };
        self.rows += batch.num_rows() as u64;
        self.row_hashes.clear();
        self.row_hashes.resize(batch.num_rows(), 0);
        for (position, ((_, hashing), array)) in columns.iter().zip(batch.columns()).enumerate() {
            fold(array.as_ref(), *hashing, seed(position), &mut self.row_hashes);
        }
        for row in &self.row_hashes {
            self.sum = self.sum.wrapping_add(hash::int8(*row as i64, 0));
        }
        Ok(())
    }

    fn fork(&self) -> Box<dyn TableDigest> {
        let (endpoint, table, columns) = (self.endpoint.clone(), self.table.clone(), self.columns.clone());
        Box::new(PostgresDigest { endpoint, table, columns, rows: 0, sum: 0, row_hashes: Vec::new() })
    }

    fn figures(&self) -> (u64, u64) {
        (self.rows, self.sum)
    }

    fn absorb(&mut self, (rows, sum): (u64, u64)) {
        self.rows += rows;
        self.sum = self.sum.wrapping_add(sum);
    }

    async fn matches(self: Box<Self>) -> Result<bool> {
        let Some(columns) = &self.columns else { return Ok(false) };
        let error = |e: tokio_postgres::Error| target_error(&self.endpoint, &self.table, pg_message(&e));
        let client = pg_connect(&self.endpoint).await?;
        let stored = existing_columns(&client, &self.table).await.map_err(error)?;
        // A table with more columns than the load's: their values are not the rows sent.
        if stored.len() != columns.len() {
            return Ok(false);
        }
        let mut expressions = Vec::new();
        for (position, (name, hashing)) in columns.iter().enumerate() {
            let Some(stored) = stored.iter().find(|c| c.column.name == *name) else { return Ok(false) };
            let Some(hash) = hashing.expression(name, &stored.receive, seed(position)) else { return Ok(false) };
            expressions.push(if stored.column.not_null { hash } else { format!("coalesce({hash}, 0)") });
        }
        let sql = format!(
            "SELECT count(*), coalesce(sum(hashint8extended({}, 0)), 0)::text FROM {}",
            expressions.join(" # "),
            quote_table(Dialect::Postgres, &self.table)
        );
        let row = client.query_one(&sql, &[]).await.map_err(error)?;
        let rows: i64 = row.get(0);
        // The exact sum of signed 64-bit hashes, reduced modulo 2^64 as ferry sums them.
        let sum = row.get::<_, String>(1).parse::<i128>().map(|sum| sum as u64).ok();
        Ok(rows as u64 == self.rows && sum == Some(self.sum))
    }
}

/// Each column's values are hashed with its position as the seed, so that values swapped
/// between columns change the row's hash.
fn seed(position: usize) -> u64 {
    position as u64 + 1
}

/// XORs `array`'s value hashes (0 for NULL) into each row's hash.
fn fold(array: &dyn Array, hashing: Hashing, seed: u64, rows: &mut [u64]) {
    let mut each = |hash_of: &dyn Fn(usize) -> u64| {
        for (row, hash) in rows.iter_mut().enumerate() {
            if !array.is_null(row) {
                *hash ^= hash_of(row);
            }
        }
    };
    macro_rules! primitive {
        ($type:ty, $hash:expr) => {{
            let values = array.as_primitive::<$type>();
            each(&|r| $hash(values.value(r)))
        }};
    }
    match (hashing, array.data_type()) {
        (Hashing::Integer, DataType::Int8) => primitive!(Int8Type, |v| hash::int8(v as i64, seed)),
        (Hashing::Integer, DataType::Int16) => primitive!(Int16Type, |v| hash::int8(v as i64, seed)),
        (Hashing::Integer, DataType::Int32) => primitive!(Int32Type, |v| hash::int8(v as i64, seed)),
        (Hashing::Integer, DataType::Int64) => primitive!(Int64Type, |v| hash::int8(v, seed)),
        (Hashing::Integer, DataType::UInt8) => primitive!(UInt8Type, |v| hash::int8(v as i64, seed)),
        (Hashing::Integer, DataType::UInt16) => primitive!(UInt16Type, |v| hash::int8(v as i64, seed)),
        (Hashing::Integer, _) => primitive!(UInt32Type, |v| hash::int8(v as i64, seed)),
        (Hashing::Boolean, _) => {
            let values = array.as_boolean();
            each(&|r| hash::uint32(values.value(r) as u32, seed))
        }
        (Hashing::Float, DataType::Float32) => primitive!(Float32Type, |v| hash::float8(v as f64, seed)),
        (Hashing::Float, _) => primitive!(Float64Type, |v| hash::float8(v, seed)),
        (Hashing::Date, _) => primitive!(Date32Type, |v| hash::int8(v as i64 - hash::EPOCH_DAYS, seed)),
        (Hashing::Timestamp, _) => {
            primitive!(TimestampMicrosecondType, |v: i64| hash::int8(v.wrapping_sub(hash::EPOCH_MICROS), seed))
        }
        (Hashing::Time, _) => primitive!(Time64MicrosecondType, |v| hash::int8(v, seed)),
        (Hashing::Bytes, _) => {
            let values = array.as_binary::<i32>();
            each(&|r| hash::bytes(values.value(r), seed))
        }
        (Hashing::Text, _) => {
            let values = array.as_string::<i32>();
            each(&|r| hash::bytes(values.value(r).as_bytes(), seed))
        }
        (Hashing::Decimal(scale), _) => {
            let values = array.as_primitive::<Decimal128Type>();
            let text = std::cell::RefCell::new(Vec::with_capacity(48));
            each(&|r| {
                let mut text = text.borrow_mut();
                write_unscaled(values.value(r), scale, &mut text);
                hash::bytes(&text, seed)
            })
        }
    }
}
