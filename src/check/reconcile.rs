//! Reconciliation: the figures of the rows a run sent (count, per-column NULL count and
//! checksum, whole-row checksum), computed while they stream to the target, compared with the
//! same figures of the published table read back.
//!
//! A checksum is the wrapping sum of 64-bit value hashes, so duplicate rows add up instead of
//! cancelling out (as XOR would) and the order of rows does not matter. Values are hashed as the
//! target column's Arrow type: the table read back is cast to the types the rows were sent as
//! (integer width, timestamp unit, text encoding are normalised that way); decimals keep their
//! scale, timestamps their microseconds, text its bytes.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use datafusion::common::hash_utils::create_hashes;
use futures::StreamExt;
use serde::Serialize;

use crate::error::{FerryError, Result};

/// One side's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    pub rows: u64,
    pub row_sum: u64,
    /// Per column: (NULLs, checksum of the values).
    pub columns: Vec<(u64, u64)>,
}

fn random_state() -> ahash::RandomState {
    ahash::RandomState::with_seeds(0x6665_7272_7921, 0x7265_636f_6e63, 0x696c_6961_7469, 0x6f6e_2121_2121)
}

impl Figures {
    pub fn new(width: usize) -> Figures {
        Figures { rows: 0, row_sum: 0, columns: vec![(0, 0); width] }
    }

    /// Adds the figures of other rows (checksums are sums: their order does not matter).
    pub fn merge(&mut self, other: &Figures) {
        self.rows += other.rows;
        self.row_sum = self.row_sum.wrapping_add(other.row_sum);
        for (ours, theirs) in self.columns.iter_mut().zip(&other.columns) {
            ours.0 += theirs.0;
            ours.1 = ours.1.wrapping_add(theirs.1);
        }
    }

    pub fn add(&mut self, columns: &[ArrayRef]) -> Result<()> {
        let Some(rows) = columns.first().map(|c| c.len()) else { return Ok(()) };
        let state = random_state();
        self.rows += rows as u64;
        let mut hashes = vec![0; rows];
        let mut row_hashes = vec![0u64; rows];
        for (column, figures) in columns.iter().zip(self.columns.iter_mut()) {
            hashes.iter_mut().for_each(|h| *h = 0);
            create_hashes(std::slice::from_ref(column), &state, &mut hashes)?;
            figures.0 += column.null_count() as u64;
            figures.1 = hashes.iter().fold(figures.1, |sum, h| sum.wrapping_add(*h));
            // Each row's hash folds in its columns' hashes in column order.
            for (row, h) in row_hashes.iter_mut().zip(&hashes) {
                *row = row.wrapping_mul(37).wrapping_add(*h);
            }
        }
        // Combined linearly, the rows' hashes would sum to the columns' sums again; mixing each
        // row's hash first makes the row checksum see values change rows.
        self.row_sum = row_hashes.iter().fold(self.row_sum, |sum, h| sum.wrapping_add(mix(*h)));
        Ok(())
    }
}

/// MurmurHash3's 64-bit finaliser: a bijective, non-linear mix.
fn mix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReconcileStatus {
    /// Same rows, same values.
    Matched,
    /// The table differs from what was sent.
    Differs,
    /// Not compared (the reason is in `detail`).
    Skipped,
    /// The table could not be read back (the error is in `detail`); the rows are published.
    Unverified,
}

/// What a run's reconciliation found.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Reconciliation {
    pub status: ReconcileStatus,
    /// Rows sent to the target, and rows the published table holds.
    pub rows_sent: u64,
    pub rows_in_target: u64,
    pub columns_compared: usize,
    /// Columns whose NULL count or checksum differ.
    pub columns_differing: Vec<String>,
    pub detail: Option<String>,
    /// How the table's figures were had: `in_database` (a count and a checksum the target
    /// database computed over its table) or `read_back` (the table streamed back to ferry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
}

impl Reconciliation {
    pub fn skipped(rows_sent: u64, reason: &str) -> Reconciliation {
        Reconciliation {
            status: ReconcileStatus::Skipped,
            rows_sent,
            rows_in_target: 0,
            columns_compared: 0,
            columns_differing: vec![],
            detail: Some(reason.to_string()),
            method: None,
        }
    }

    /// The database's own figures of the table were the rows sent.
    pub fn matched_in_database(schema: &SchemaRef, rows: u64) -> Reconciliation {
        Reconciliation {
            status: ReconcileStatus::Matched,
            rows_sent: rows,
            rows_in_target: rows,
            columns_compared: schema.fields().len(),
            columns_differing: vec![],
            detail: None,
            method: Some("in_database"),
        }
    }

    pub fn unverified(rows_sent: u64, error: &FerryError) -> Reconciliation {
        Reconciliation {
            status: ReconcileStatus::Unverified,
            detail: Some(format!("the published table could not be read back: {error}")),
            ..Reconciliation::skipped(rows_sent, "")
        }
    }

    pub fn compare(schema: &SchemaRef, sent: &Figures, target: &Figures) -> Reconciliation {
        let columns_differing: Vec<String> = schema
            .fields()
            .iter()
            .zip(sent.columns.iter().zip(&target.columns))
            .filter(|(_, (a, b))| a != b)
            .map(|(field, _)| field.name().clone())
            .collect();
        let matched = sent.rows == target.rows && sent.row_sum == target.row_sum && columns_differing.is_empty();
        let detail = match (matched, sent.rows == target.rows, columns_differing.is_empty()) {
            (true, _, _) => None,
            (false, false, _) => Some(format!("{} rows sent, {} in the table", sent.rows, target.rows)),
            (false, true, false) => Some(format!("values differ in {}", quoted(&columns_differing))),
            (false, true, true) => Some("rows differ: values moved between rows".to_string()),
        };
        Reconciliation {
            status: if matched { ReconcileStatus::Matched } else { ReconcileStatus::Differs },
            rows_sent: sent.rows,
            rows_in_target: target.rows,
            columns_compared: schema.fields().len(),
            columns_differing,
            detail,
            method: Some("read_back"),
        }
    }
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// The figures of a table read back, its columns taken by name and cast to `schema`'s types.
pub async fn table_figures(frame: datafusion::dataframe::DataFrame, schema: &SchemaRef) -> Result<Figures> {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let frame = frame.select_columns(&names).map_err(|e| FerryError::Execution(e.to_string()))?;
    let mut figures = Figures::new(schema.fields().len());
    let mut stream = frame.execute_stream().await?;
    while let Some(batch) = stream.next().await {
        figures.add(&cast_to(&batch?, schema)?)?;
    }
    Ok(figures)
}

/// `batch`'s columns as `schema`'s types; a value that does not convert stays different.
pub fn cast_to(batch: &RecordBatch, schema: &SchemaRef) -> Result<Vec<ArrayRef>> {
    batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(column.clone())
            } else {
                Ok(arrow::compute::cast(column, field.data_type())?)
            }
        })
        .collect()
}

/// The shared figures of rows as they stream.
pub type SharedFigures = Arc<std::sync::Mutex<Figures>>;

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int32Array, StringArray};

    fn figures(ids: &[i32], names: &[Option<&str>]) -> Figures {
        let mut figures = Figures::new(2);
        let columns: Vec<ArrayRef> =
            vec![Arc::new(Int32Array::from(ids.to_vec())), Arc::new(StringArray::from(names.to_vec()))];
        figures.add(&columns).unwrap();
        figures
    }

    #[test]
    fn duplicates_add_up_and_order_does_not_matter() {
        let once = figures(&[1], &[Some("a")]);
        let twice = figures(&[1, 1], &[Some("a"), Some("a")]);
        let none = figures(&[], &[]);
        assert_ne!(twice.columns, none.columns, "two equal rows must not cancel out");
        assert_ne!(twice.columns, once.columns);
        assert_eq!(figures(&[1, 2], &[Some("a"), None]), figures(&[2, 1], &[None, Some("a")]));
        // Values swapped between rows: each column's checksum holds, the rows' does not.
        let (a, b) = (figures(&[1, 2], &[Some("a"), Some("b")]), figures(&[1, 2], &[Some("b"), Some("a")]));
        assert_eq!(a.columns, b.columns);
        assert_ne!(a.row_sum, b.row_sum);
        // NULL is counted apart from any value.
        assert_ne!(figures(&[1], &[None]).columns[1], figures(&[1], &[Some("")]).columns[1]);
    }
}
