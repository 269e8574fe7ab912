//! Rejected rows. A query marks a row as rejected by giving it a reason code in the column
//! `_ferry_reject` (NULL keeps the row), and may carry the original source row in a struct
//! column `_ferry_source` (`named_struct('id', id, ...)`). Rejected rows leave the stream and
//! become quarantine records: run id, migration, source key, reason, source row as JSON.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::compute::{filter_record_batch, is_not_null, is_null};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use arrow::util::display::array_value_to_string;

use crate::db::rejects_schema;
use crate::error::{FerryError, Result};

pub const REJECT_COLUMN: &str = "_ferry_reject";
pub const SOURCE_ROW_COLUMN: &str = "_ferry_source";

/// Splits each batch into the rows to load and the quarantine records of the rest.
#[derive(Clone, Debug)]
pub struct RejectSplitter {
    migration: String,
    run_id: String,
    reject: Option<usize>,
    source_row: Option<usize>,
    /// The columns that are loaded (everything but `_ferry_*`).
    loaded: Vec<usize>,
    key: Vec<usize>,
    output: SchemaRef,
    /// Rejected rows per reason code.
    pub reasons: BTreeMap<String, u64>,
}

impl RejectSplitter {
    /// Checks the query's output: `_ferry_reject` must be text, every key column must exist.
    pub fn new(migration: &str, run_id: &str, query_output: &Schema, key: &[String]) -> Result<Self> {
        let error = |message: String| FerryError::Job(format!("migration `{migration}`: {message}"));
        let reject = query_output.index_of(REJECT_COLUMN).ok();
        if let Some(index) = reject {
            let data_type = query_output.field(index).data_type();
            if !matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null) {
                return Err(error(format!(
                    "`{REJECT_COLUMN}` must be text (a reason code or NULL), the query gives {data_type}"
                )));
            }
        }
        let source_row = query_output.index_of(SOURCE_ROW_COLUMN).ok();
        let loaded: Vec<usize> = (0..query_output.fields().len())
            .filter(|i| !query_output.field(*i).name().starts_with("_ferry_"))
            .collect();
        let output = Arc::new(query_output.project(&loaded)?);
        let key = key
            .iter()
            .map(|column| {
                query_output.index_of(column).map_err(|_| {
                    let columns: Vec<String> = output.fields().iter().map(|f| format!("`{}`", f.name())).collect();
                    error(format!("key column `{column}` is not in the query's output; it has {}", columns.join(", ")))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RejectSplitter {
            migration: migration.to_string(),
            run_id: run_id.to_string(),
            reject,
            source_row,
            loaded,
            key,
            output,
            reasons: BTreeMap::new(),
        })
    }

    /// The same split with nothing counted yet, for another partition of the rows.
    pub fn fork(&self) -> RejectSplitter {
        RejectSplitter { reasons: BTreeMap::new(), ..self.clone() }
    }

    /// Adds the counts of a fork.
    pub fn merge(&mut self, fork: RejectSplitter) {
        for (reason, rows) in fork.reasons {
            *self.reasons.entry(reason).or_default() += rows;
        }
    }

    /// The loaded columns' schema.
    pub fn output_schema(&self) -> SchemaRef {
        self.output.clone()
    }

    /// Returns the rows to load and, if any row was rejected, its quarantine records.
    pub fn split(&mut self, batch: &RecordBatch) -> Result<(RecordBatch, Option<RecordBatch>)> {
        let Some(reject) = self.reject else {
            return Ok((batch.project(&self.loaded)?, None));
        };
        let reasons = batch.column(reject);
        if reasons.null_count() == batch.num_rows() {
            return Ok((batch.project(&self.loaded)?, None));
        }
        let kept = filter_record_batch(batch, &is_null(reasons)?)?.project(&self.loaded)?;
        let rejected = filter_record_batch(batch, &is_not_null(reasons)?)?;
        Ok((kept, Some(self.records(&rejected)?)))
    }

    fn records(&mut self, rejected: &RecordBatch) -> Result<RecordBatch> {
        let rows = rejected.num_rows();
        let reason_column = arrow::compute::cast(rejected.column(self.reject.unwrap_or_default()), &DataType::Utf8)?;
        let reason_text = reason_column.as_string::<i32>();
        let mut keys = Vec::with_capacity(rows);
        for row in 0..rows {
            *self.reasons.entry(reason_text.value(row).to_string()).or_default() += 1;
            if self.key.is_empty() {
                keys.push(None);
                continue;
            }
            let parts = self
                .key
                .iter()
                .map(|index| array_value_to_string(rejected.column(*index), row))
                .collect::<Result<Vec<_>, _>>()?;
            keys.push(Some(parts.join(",")));
        }
        let source_rows = match self.source_row {
            Some(index) => {
                let structs = rejected.column(index).as_struct_opt().ok_or_else(|| {
                    FerryError::Job(format!(
                        "migration `{}`: `{SOURCE_ROW_COLUMN}` must be a struct (use named_struct(...))",
                        self.migration
                    ))
                })?;
                json_lines(&RecordBatch::from(structs.clone()))?
            }
            None => json_lines(&rejected.project(&self.loaded)?)?,
        };
        let constant = |value: &str| Arc::new(StringArray::from(vec![value; rows])) as ArrayRef;
        Ok(RecordBatch::try_new(
            rejects_schema(),
            vec![
                constant(&self.run_id),
                constant(&self.migration),
                Arc::new(StringArray::from(keys)),
                reason_column,
                Arc::new(StringArray::from(source_rows)),
            ],
        )?)
    }
}

/// One JSON object per row, nulls written as `null` so the source row is whole.
fn json_lines(batch: &RecordBatch) -> Result<Vec<String>> {
    let mut buffer = Vec::new();
    {
        let builder = arrow::json::WriterBuilder::new().with_explicit_nulls(true);
        let mut writer = builder.build::<_, arrow::json::writer::LineDelimited>(&mut buffer);
        writer.write(batch)?;
        writer.finish()?;
    }
    let text = String::from_utf8(buffer).map_err(FerryError::internal)?;
    Ok(text.lines().map(str::to_string).collect())
}

/// `StructArray` from a batch's column, for tests.
#[cfg(test)]
fn struct_of(batch: &RecordBatch) -> arrow::array::StructArray {
    arrow::array::StructArray::from(batch.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int32Array;
    use arrow::datatypes::Field;

    #[test]
    fn splits_rejects_with_key_reason_and_source_row() {
        let source = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::Int32, false),
                Field::new("age", DataType::Utf8, true),
            ])),
            vec![
                Arc::new(Int32Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![Some("30"), Some("thirty"), None])),
            ],
        )
        .unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int32, false),
            Field::new(REJECT_COLUMN, DataType::Utf8, true),
            Field::new(SOURCE_ROW_COLUMN, DataType::Struct(source.schema().fields().clone()), false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int32Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![None, Some("invalid_age"), None])),
                Arc::new(struct_of(&source)),
            ],
        )
        .unwrap();
        let mut splitter = RejectSplitter::new("m", "run1", &schema, &["id".to_string()]).unwrap();
        let (kept, rejects) = splitter.split(&batch).unwrap();
        assert_eq!(kept.num_rows(), 2);
        assert_eq!(kept.num_columns(), 1);
        let rejects = rejects.unwrap();
        assert_eq!(rejects.column(2).as_string::<i32>().value(0), "2");
        assert_eq!(rejects.column(3).as_string::<i32>().value(0), "invalid_age");
        assert_eq!(rejects.column(4).as_string::<i32>().value(0), r#"{"id":2,"age":"thirty"}"#);
        assert_eq!(splitter.reasons.get("invalid_age"), Some(&1));
    }

    #[test]
    fn a_missing_key_column_is_named() {
        let schema = Schema::new(vec![Field::new("id", DataType::Int32, false)]);
        let error = RejectSplitter::new("m", "r", &schema, &["user_id".to_string()]).unwrap_err().to_string();
        assert_eq!(error, "migration `m`: key column `user_id` is not in the query's output; it has `id`");
    }
}
