//! The generic half of writing: rows are conformed to the target's columns here, whatever the
//! engine; the engine's [`crate::db::Sink`] then publishes them in one call.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::error::{FerryError, Result};

/// Casts a batch to the target schema. Narrowing is checked: a value that does not fit is an
/// error naming the column, the value and the row's `key`, never a silent wrap or cut.
pub fn conform(batch: &RecordBatch, target: &SchemaRef, migration: &str, key: &[String]) -> Result<RecordBatch> {
    let options = arrow::compute::CastOptions { safe: false, ..Default::default() };
    let columns = batch
        .columns()
        .iter()
        .zip(target.fields())
        .map(|(array, field)| {
            if array.data_type() == field.data_type() {
                return Ok(array.clone());
            }
            arrow::compute::cast_with_options(array, field.data_type(), &options).map_err(|e| FerryError::Value {
                migration: migration.to_string(),
                column: field.name().clone(),
                message: misfit(batch, array, field.data_type(), key)
                    .unwrap_or_else(|| format!("cannot store a value as {}: {e}", field.data_type())),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // Nullability is the database's to enforce (it names the failing row); keep the schema's
    // fields nullable so Arrow does not refuse the batch first.
    let relaxed: Vec<Field> = target.fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
    Ok(RecordBatch::try_new(Arc::new(Schema::new(relaxed)), columns)?)
}

/// Names the first value of `array` that does not fit `to`, with its row's key.
fn misfit(batch: &RecordBatch, array: &ArrayRef, to: &DataType, key: &[String]) -> Option<String> {
    use arrow::util::display::array_value_to_string;
    let lenient = arrow::compute::cast(array, to).ok()?;
    let row = (0..array.len()).find(|&row| array.is_valid(row) && lenient.is_null(row))?;
    let value = array_value_to_string(array, row).ok()?;
    let keys: Vec<String> = key
        .iter()
        .filter_map(|name| {
            let column = batch.column_by_name(name)?;
            Some(format!("{name} = {}", array_value_to_string(column, row).ok()?))
        })
        .collect();
    let at = if keys.is_empty() { String::new() } else { format!(" (row with {})", keys.join(", ")) };
    Some(format!(
        "the value {value}{at} does not fit the target column's type {to}; widen the column or cast/filter in the query"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_is_checked_per_value() {
        let target = Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, false)]));
        let source = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        let fits =
            RecordBatch::try_new(source.clone(), vec![Arc::new(arrow::array::Int64Array::from(vec![1, 2]))]).unwrap();
        assert_eq!(conform(&fits, &target, "m", &[]).unwrap().column(0).data_type(), &DataType::Int32);
        let too_big =
            RecordBatch::try_new(source, vec![Arc::new(arrow::array::Int64Array::from(vec![1, 1 << 40]))]).unwrap();
        let error = conform(&too_big, &target, "m", &["id".to_string()]).unwrap_err().to_string();
        insta::assert_snapshot!(error, @"migration `m`: column `id`: the value 1099511627776 (row with id = 1099511627776) does not fit the target column's type Int32; widen the column or cast/filter in the query");
    }
}
