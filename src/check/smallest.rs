//! A row check's sample: the failing rows with the smallest keys, whatever order they come in,
//! so that a report does not depend on how many parts a table was read in or on timing. Once the
//! sample is full, a batch's rows are first narrowed with Arrow's kernels to those whose first
//! key column is not above the largest kept, so that a check failing on most rows costs little.

use std::cmp::Ordering;

use arrow::array::{Array, BooleanArray, RecordBatch};
use datafusion::common::ScalarValue;

use super::result::{row_sample, SAMPLE};
use crate::error::Result;

pub struct Smallest {
    /// The columns rows are ordered by: the migration's key, or every sampled column without one.
    order: Vec<usize>,
    /// The sampled columns.
    columns: Vec<usize>,
    kept: Vec<(Vec<ScalarValue>, Vec<Option<String>>)>,
}

/// `mask` with NULL as false.
fn definite(mask: &BooleanArray) -> BooleanArray {
    match mask.null_count() {
        0 => mask.clone(),
        _ => arrow::compute::prep_null_mask_filter(mask),
    }
}

fn compare(a: &[ScalarValue], b: &[ScalarValue]) -> Ordering {
    a.partial_cmp(b).unwrap_or(Ordering::Equal)
}

impl Smallest {
    pub fn new(order: Vec<usize>, columns: Vec<usize>) -> Smallest {
        let order = if order.is_empty() { columns.clone() } else { order };
        Smallest { order, columns, kept: Vec::new() }
    }

    /// Considers the rows of `batch` that `failing` marks.
    pub fn offer(&mut self, batch: &RecordBatch, failing: &BooleanArray) -> Result<()> {
        let mut candidates = definite(failing);
        if let (true, Some(first), Some(largest)) = (self.kept.len() >= SAMPLE, self.order.first(), self.largest()) {
            let column = batch.column(*first);
            let bound = largest.0[0].to_scalar()?;
            let not_above = definite(&arrow::compute::kernels::cmp::lt_eq(column, &bound)?);
            // NULL orders first: a NULL key is a candidate too.
            let null = arrow::compute::is_null(column)?;
            let narrowed = arrow::compute::or(&not_above, &null)?;
            candidates = arrow::compute::and(&candidates, &narrowed)?;
        }
        for row in (0..candidates.len()).filter(|&row| candidates.value(row)) {
            let key = self
                .order
                .iter()
                .map(|&column| ScalarValue::try_from_array(batch.column(column), row))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            if self.kept.len() < SAMPLE {
                self.kept.push((key, row_sample(batch, &self.columns, row)));
                continue;
            }
            let Some((at, largest)) = self.kept.iter().enumerate().max_by(|a, b| compare(&a.1 .0, &b.1 .0)) else {
                continue;
            };
            if compare(&key, &largest.0) == Ordering::Less {
                self.kept[at] = (key, row_sample(batch, &self.columns, row));
            }
        }
        Ok(())
    }

    /// The same sample with nothing kept yet, for another partition of the rows.
    pub fn fork(&self) -> Smallest {
        Smallest { order: self.order.clone(), columns: self.columns.clone(), kept: Vec::new() }
    }

    /// Keeps the smallest of both samples' rows.
    pub fn merge(&mut self, fork: Smallest) {
        self.kept.extend(fork.kept);
        self.kept.sort_by(|a, b| compare(&a.0, &b.0).then_with(|| a.1.cmp(&b.1)));
        self.kept.truncate(SAMPLE);
    }

    fn largest(&self) -> Option<&(Vec<ScalarValue>, Vec<Option<String>>)> {
        self.kept.iter().max_by(|a, b| compare(&a.0, &b.0))
    }

    /// The sampled rows, smallest key first.
    pub fn rows(mut self) -> Vec<Vec<Option<String>>> {
        self.kept.sort_by(|a, b| compare(&a.0, &b.0).then_with(|| a.1.cmp(&b.1)));
        self.kept.into_iter().map(|(_, row)| row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};

    fn batch(ids: Vec<Option<i64>>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(ids))]).unwrap()
    }

    #[test]
    fn forks_merge_into_the_smallest_keys_of_all_partitions() {
        let whole = Smallest::new(vec![0], vec![0]);
        let mut merged = whole.fork();
        for part in [(20..40), (1..5), (5..20)] {
            let mut fork = whole.fork();
            let ids: Vec<Option<i64>> = part.rev().map(Some).collect();
            let failing = BooleanArray::from(vec![true; ids.len()]);
            fork.offer(&batch(ids), &failing).unwrap();
            merged.merge(fork);
        }
        let expected: Vec<Vec<Option<String>>> = (1..=10).map(|id| vec![Some(id.to_string())]).collect();
        assert_eq!(merged.rows(), expected);
    }

    #[test]
    fn the_smallest_keys_whatever_the_order() {
        let ids: Vec<i64> = (1..=40).rev().collect();
        let mut forwards = Smallest::new(vec![0], vec![0]);
        let mut backwards = Smallest::new(vec![0], vec![0]);
        for chunk in ids.chunks(7) {
            let rows = batch(chunk.iter().map(|&id| Some(id)).collect());
            backwards.offer(&rows, &BooleanArray::from(vec![true; chunk.len()])).unwrap();
        }
        let sorted: Vec<Option<i64>> = (1..=40).map(Some).collect();
        forwards.offer(&batch(sorted), &BooleanArray::from(vec![true; 40])).unwrap();
        let expected: Vec<Vec<Option<String>>> = (1..=10).map(|id| vec![Some(id.to_string())]).collect();
        assert_eq!(forwards.rows(), expected);
        assert_eq!(backwards.rows(), expected);
        // A NULL key orders first; rows that do not fail are not sampled.
        let mut with_null = Smallest::new(vec![0], vec![0]);
        let rows = batch((1..=12).map(Some).chain([None, Some(0)]).collect());
        let mut failing = vec![true; 14];
        failing[13] = false;
        with_null.offer(&rows, &BooleanArray::from(failing)).unwrap();
        let sample = with_null.rows();
        assert_eq!(sample[0], vec![None]);
        assert_eq!(sample[1], vec![Some("1".to_string())]);
        assert_eq!(sample.len(), 10);
    }
}
