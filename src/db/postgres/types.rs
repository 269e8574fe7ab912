//! The PostgreSQL side of types for the PostgreSQL sink: which type a created column gets, how an
//! existing column is read back into Arrow terms, and how each column's values travel on the wire.

use arrow::datatypes::{DataType, Field, SchemaRef, TimeUnit};
use tokio_postgres::GenericClient;

use super::encode::WireType;
use crate::db::{TargetColumn, PG_TYPE};

/// The PostgreSQL type a new column gets for an Arrow type.
pub fn pg_type(data_type: &DataType) -> Option<String> {
    Some(match data_type {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "SMALLINT".into(),
        DataType::Int32 | DataType::UInt16 => "INTEGER".into(),
        DataType::Int64 | DataType::UInt32 => "BIGINT".into(),
        DataType::UInt64 => "NUMERIC(20, 0)".into(),
        DataType::Float32 => "REAL".into(),
        DataType::Float64 => "DOUBLE PRECISION".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("NUMERIC({p}, {s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "TEXT".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BYTEA".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ".into(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME".into(),
        _ => return None,
    })
}

/// The Arrow type a value is written as for a new column of `data_type`.
pub fn write_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Int8 | DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 => DataType::Int64,
        DataType::UInt64 => DataType::Decimal128(20, 0),
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::LargeBinary | DataType::BinaryView => DataType::Binary,
        DataType::Date64 => DataType::Date32,
        DataType::Timestamp(_, zone) => DataType::Timestamp(TimeUnit::Microsecond, zone.clone()),
        DataType::Time32(_) | DataType::Time64(_) => DataType::Time64(TimeUnit::Microsecond),
        other => other.clone(),
    }
}

/// A column of the target table with what the load needs to know about it.
#[derive(Clone, Debug)]
pub struct PgColumn {
    pub column: TargetColumn,
    /// The type's binary receive function (the base type's, for a domain).
    pub receive: String,
}

pub async fn existing_columns(
    client: &impl GenericClient,
    table: &str,
) -> std::result::Result<Vec<PgColumn>, tokio_postgres::Error> {
    let (schema, name) = match table.split_once('.') {
        Some((schema, name)) => (Some(schema), name),
        None => (None, table),
    };
    let rows = client
        .query(
            "SELECT a.attname, format_type(a.atttypid, NULL), a.atttypmod, a.attnotnull, a.atthasdef, \
             format_type(a.atttypid, a.atttypmod), \
             (SELECT b.typreceive::text FROM pg_type b \
              WHERE b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END) \
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid \
             WHERE n.nspname = coalesce($1, current_schema()) AND c.relname = $2 AND a.attnum > 0 \
             AND NOT a.attisdropped ORDER BY a.attnum",
            &[&schema, &name],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let type_name: String = row.get(1);
            let modifier: i32 = row.get(2);
            let data_type = super::source::arrow_type(&type_name, modifier).unwrap_or(DataType::Utf8);
            PgColumn {
                column: TargetColumn {
                    name: row.get(0),
                    data_type,
                    sql_type: row.get(5),
                    not_null: row.get(3),
                    has_default: row.get(4),
                },
                receive: row.get::<_, Option<String>>(6).unwrap_or_default(),
            }
        })
        .collect())
}

/// How each output column travels: binary by its Arrow type, except text, whose binary form
/// depends on the target column's type. Text for a type without a text-like binary form goes
/// to a temporary text column and is cast by PostgreSQL (`WireType::Cast`).
pub fn wires(target: &SchemaRef, columns: &[PgColumn]) -> Vec<WireType> {
    target
        .fields()
        .iter()
        .map(|field| {
            if field.data_type() != &DataType::Utf8 {
                return WireType::Native;
            }
            let receive = columns.iter().find(|c| c.column.name == *field.name()).map(|c| c.receive.as_str());
            match receive.unwrap_or("textrecv") {
                "textrecv" | "varcharrecv" | "bpcharrecv" | "namerecv" | "enum_recv" | "json_recv" | "xml_recv" => {
                    WireType::Native
                }
                "jsonb_recv" => WireType::Jsonb,
                "uuid_recv" => WireType::Uuid,
                "numeric_recv" => WireType::Numeric,
                _ => WireType::Cast,
            }
        })
        .collect()
}

/// The type of a new column: the source's own PostgreSQL type when the field still has the
/// Arrow type ferry reads that type as, else the closest type for the Arrow type.
pub fn new_column_type(field: &Field) -> Option<String> {
    if let Some(source_type) = field.metadata().get(PG_TYPE) {
        if reads_as(source_type) == write_type(field.data_type()) {
            return Some(source_type.clone());
        }
    }
    pg_type(field.data_type())
}

/// The Arrow type ferry reads a PostgreSQL type (as `format_type` prints it) as.
fn reads_as(type_text: &str) -> DataType {
    let base: String = {
        let mut depth = 0;
        let kept: String = type_text
            .chars()
            .filter(|c| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => return depth == 0,
                }
                false
            })
            .collect();
        kept.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let modifier = if base == "numeric" {
        let inner = type_text.split_once('(').and_then(|(_, rest)| rest.split_once(')')).map(|(inner, _)| inner);
        let parts: Option<Vec<i32>> = inner.and_then(|i| i.split(',').map(|p| p.trim().parse().ok()).collect());
        match parts.as_deref() {
            Some([precision, scale]) => ((precision << 16) | (scale & 0x7ff)) + 4,
            Some([precision]) => (precision << 16) + 4,
            _ => -1,
        }
    } else {
        -1
    };
    super::source::arrow_type(&base, modifier).unwrap_or(DataType::Utf8)
}
