//! Incremental state: the watermark a target keeps per migration in `_ferry_state`, written in
//! the same transaction as the rows it describes, so the two can never disagree.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use arrow::util::display::array_value_to_string;
use datafusion::common::ScalarValue;

use crate::error::{FerryError, Result};

pub use super::bookkeeping::STATE_TABLE;

/// What a target remembers of a migration's last incremental load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedState {
    /// The cursor column the watermark is a value of.
    pub cursor: String,
    /// The highest cursor value loaded, as text ([`scalar_text`]); None when no row had one.
    pub watermark: Option<String>,
}

/// The watermark a load saves: the highest cursor value among the rows it read, and never
/// below `floor` (the previous watermark, for an incremental run).
#[derive(Debug)]
pub struct Watermark {
    pub cursor: String,
    floor: Option<ScalarValue>,
    seen: Mutex<Option<ScalarValue>>,
    nulls: AtomicU64,
}

impl Watermark {
    pub fn new(cursor: &str, floor: Option<ScalarValue>) -> Self {
        Watermark { cursor: cursor.to_string(), floor, seen: Mutex::new(None), nulls: AtomicU64::new(0) }
    }

    /// Takes in a batch's cursor values (NULLs are ignored).
    pub fn observe(&self, values: &ArrayRef) -> Result<()> {
        self.nulls.fetch_add(values.null_count() as u64, Ordering::Relaxed);
        let max = datafusion_functions_aggregate_common::min_max::max_batch(values)?;
        if max.is_null() {
            return Ok(());
        }
        let mut seen = self.seen.lock().map_err(|_| FerryError::internal("watermark lock poisoned"))?;
        *seen = Some(higher(seen.take(), max));
        Ok(())
    }

    /// How many of the values observed were NULL.
    pub fn nulls(&self) -> u64 {
        self.nulls.load(Ordering::Relaxed)
    }

    /// The watermark to save.
    pub fn value(&self) -> Option<ScalarValue> {
        let seen = self.seen.lock().ok()?.clone();
        match (self.floor.clone(), seen) {
            (Some(floor), Some(seen)) => Some(higher(Some(floor), seen)),
            (floor, seen) => floor.or(seen),
        }
    }

    /// The watermark to save, as text.
    pub fn text(&self) -> Result<Option<String>> {
        self.value().map(|v| scalar_text(&v)).transpose()
    }
}

fn higher(current: Option<ScalarValue>, candidate: ScalarValue) -> ScalarValue {
    match current {
        Some(current) if current.partial_cmp(&candidate) != Some(std::cmp::Ordering::Less) => current,
        _ => candidate,
    }
}

/// A cursor value as the text `_ferry_state` keeps (Arrow's display form, which [`parse_scalar`]
/// reads back exactly: ISO 8601 date-times, decimals with their scale, shortest round-trip floats).
pub fn scalar_text(value: &ScalarValue) -> Result<String> {
    let array = value.to_array()?;
    Ok(array_value_to_string(&array, 0)?)
}

/// Reads a cursor value of type `data_type` back from its text.
pub fn parse_scalar(text: &str, data_type: &DataType) -> std::result::Result<ScalarValue, String> {
    let value = ScalarValue::try_from_string(text.to_string(), data_type).map_err(|e| e.strip_backtrace())?;
    if value.is_null() {
        return Err(format!("`{text}` is not a {data_type} value"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Date32Array, Decimal128Array, Float64Array, Int64Array, TimestampMicrosecondArray};
    use arrow::datatypes::TimeUnit;

    use super::*;

    #[test]
    fn the_text_form_reads_back_exactly() {
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![i64::MIN, 7, i64::MAX])),
            Arc::new(Float64Array::from(vec![0.1, 1e300, -2.5])),
            Arc::new(Decimal128Array::from(vec![1250, -5]).with_precision_and_scale(12, 2).unwrap()),
            Arc::new(Date32Array::from(vec![-1_000_000, 19_000])),
            Arc::new(TimestampMicrosecondArray::from(vec![1_700_000_000_123_456, -1])),
            Arc::new(TimestampMicrosecondArray::from(vec![1_700_000_000_000_001]).with_timezone("UTC")),
            Arc::new(TimestampMicrosecondArray::from(vec![1_700_000_000_000_001]).with_timezone("+05:30")),
        ];
        for array in arrays {
            for row in 0..array.len() {
                let value = ScalarValue::try_from_array(&array, row).unwrap();
                let text = scalar_text(&value).unwrap();
                assert_eq!(parse_scalar(&text, array.data_type()).unwrap(), value, "{text}");
            }
        }
        let timestamp = DataType::Timestamp(TimeUnit::Microsecond, None);
        assert!(parse_scalar("yesterday", &timestamp).is_err());
        // The forms the command line's --from/--to are documented to take.
        for text in ["2024-01-31", "2024-01-31 13:45:00", "2024-01-31T13:45:00.5"] {
            assert!(parse_scalar(text, &timestamp).is_ok(), "{text}");
        }
        let instant = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        for text in ["2024-01-31T13:45:00Z", "2024-01-31 13:45:00+01:00"] {
            assert!(parse_scalar(text, &instant).is_ok(), "{text}");
        }
    }

    #[test]
    fn the_watermark_is_the_highest_value_and_never_below_the_floor() {
        let mark = Watermark::new("c", Some(ScalarValue::Int64(Some(10))));
        mark.observe(&(Arc::new(Int64Array::from(vec![Some(3), None, Some(7)])) as ArrayRef)).unwrap();
        assert_eq!(mark.value(), Some(ScalarValue::Int64(Some(10))));
        mark.observe(&(Arc::new(Int64Array::from(vec![Some(12), Some(11)])) as ArrayRef)).unwrap();
        assert_eq!(mark.text().unwrap().as_deref(), Some("12"));
        assert_eq!(mark.nulls(), 1);
        let empty = Watermark::new("c", None);
        empty.observe(&(Arc::new(Int64Array::from(vec![None::<i64>])) as ArrayRef)).unwrap();
        assert_eq!(empty.value(), None);
    }
}
