//! Quick proofs for `unique` and `relationships` on one integer column. While the rows stream,
//! a compressed bitmap (roaring) holds the values seen, or the values referenced; when it shows
//! that no value came twice, or that every value is referenced, the check passes without its
//! table query. Otherwise (a duplicate, an unreferenced value, a NULL that fails, or a bitmap
//! grown past its budget on sparse keys) the exact query over the spill runs and reports the
//! rows, as without the proof. Dense integer keys take about one bit each: 5M keys, ~1 MB.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Int64Type, UInt64Type};
use roaring::RoaringTreemap;

use crate::error::{FerryError, Result};

/// A bitmap may take this much memory; past it the proof is abandoned.
const BUDGET: u64 = 32 * 1024 * 1024;
/// The bitmap's size is measured every this many values (measuring walks its containers).
const MEASURE_EVERY: u64 = 1 << 20;

/// The proof a check is waiting for.
enum Claim {
    /// No value appears twice: the values seen so far.
    Unique { seen: RoaringTreemap },
    /// Every value is among the referenced ones; NULLs fail when `nulls_fail`.
    Referenced { referenced: Arc<RoaringTreemap>, nulls_fail: bool },
}

pub struct KeyProof {
    pub check: usize,
    column: usize,
    claim: Option<Claim>,
    since_measured: u64,
}

impl KeyProof {
    /// A proof that column `column` (of the rows written) holds no value twice, if its type is
    /// an integer.
    pub fn unique(check: usize, column: usize, data_type: &DataType) -> Option<KeyProof> {
        data_type.is_integer().then(|| KeyProof::new(check, column, Claim::Unique { seen: RoaringTreemap::new() }))
    }

    /// A proof that every value of `column` is in the reference file `path` (one column), if
    /// both are integers and the references fit the budget.
    pub fn referenced(
        check: usize,
        column: usize,
        data_type: &DataType,
        path: &Path,
        nulls_fail: bool,
    ) -> Result<Option<KeyProof>> {
        if !data_type.is_integer() {
            return Ok(None);
        }
        let file = std::fs::File::open(path).map_err(|source| FerryError::Io { path: path.into(), source })?;
        let reader = arrow::ipc::reader::FileReader::try_new(file, None)?;
        if !reader.schema().fields().first().is_some_and(|f| f.data_type().is_integer()) {
            return Ok(None);
        }
        let (mut referenced, mut since_measured) = (RoaringTreemap::new(), 0);
        for batch in reader {
            let column = batch?.column(0).clone();
            let added = all_keys(&column, |v| {
                referenced.insert(v);
                true
            })?;
            if added.is_none() || !fits(&referenced, &mut since_measured, column.len()) {
                return Ok(None);
            }
        }
        let referenced = Arc::new(referenced);
        Ok(Some(KeyProof::new(check, column, Claim::Referenced { referenced, nulls_fail })))
    }

    fn new(check: usize, column: usize, claim: Claim) -> KeyProof {
        KeyProof { check, column, claim: Some(claim), since_measured: 0 }
    }

    /// Tests the batch's values; a counterexample or an outgrown bitmap ends the proof.
    pub fn observe(&mut self, batch: &arrow::array::RecordBatch) -> Result<()> {
        let Some(claim) = &mut self.claim else { return Ok(()) };
        let array = batch.column(self.column);
        let holds = match claim {
            Claim::Unique { seen } => {
                all_keys(array, |v| seen.insert(v))? == Some(true) && fits(seen, &mut self.since_measured, array.len())
            }
            Claim::Referenced { referenced, nulls_fail } => {
                !(*nulls_fail && array.null_count() > 0) && all_keys(array, |v| referenced.contains(v))? == Some(true)
            }
        };
        if !holds {
            self.claim = None;
        }
        Ok(())
    }

    /// The same proof with no value seen yet, for another partition of the rows.
    pub fn fork(&self) -> KeyProof {
        let claim = match &self.claim {
            Some(Claim::Unique { .. }) => Some(Claim::Unique { seen: RoaringTreemap::new() }),
            Some(Claim::Referenced { referenced, nulls_fail }) => {
                Some(Claim::Referenced { referenced: referenced.clone(), nulls_fail: *nulls_fail })
            }
            None => None,
        };
        KeyProof { check: self.check, column: self.column, claim, since_measured: 0 }
    }

    /// Takes in what a fork saw: a value both saw is a duplicate.
    pub fn merge(&mut self, fork: KeyProof) {
        let holds = match (&mut self.claim, fork.claim) {
            (Some(Claim::Unique { seen }), Some(Claim::Unique { seen: other })) => {
                let disjoint = seen.is_disjoint(&other);
                *seen |= other;
                disjoint && seen.serialized_size() as u64 <= BUDGET
            }
            (Some(Claim::Referenced { .. }), Some(Claim::Referenced { .. })) => true,
            _ => false,
        };
        if !holds {
            self.claim = None;
        }
    }

    /// Whether the check is proven to pass on every row observed.
    pub fn proven(&self) -> bool {
        self.claim.is_some()
    }
}

/// Whether `bitmap` still fits the budget after `added` more values. Measuring walks its
/// containers, so it is measured once every MEASURE_EVERY values.
fn fits(bitmap: &RoaringTreemap, since_measured: &mut u64, added: usize) -> bool {
    *since_measured += added as u64;
    if *since_measured < MEASURE_EVERY {
        return true;
    }
    *since_measured = 0;
    bitmap.serialized_size() as u64 <= BUDGET
}

/// Calls `each` with the non-NULL values of an integer column as order-preserving u64 bitmap
/// keys until it returns false: Some(whether it never did); None when the column is not an
/// integer.
fn all_keys(array: &ArrayRef, mut each: impl FnMut(u64) -> bool) -> Result<Option<bool>> {
    if let Some(unsigned) = array.as_primitive_opt::<UInt64Type>() {
        return Ok(Some(unsigned.iter().flatten().all(each)));
    }
    if !array.data_type().is_integer() {
        return Ok(None);
    }
    let signed = arrow::compute::cast(array, &DataType::Int64)?;
    Ok(Some(signed.as_primitive::<Int64Type>().iter().flatten().all(|v| each((v as u64) ^ (1 << 63)))))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, Int64Array, RecordBatch, UInt64Array};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn batch(array: ArrayRef) -> RecordBatch {
        let schema = Schema::new(vec![Field::new("k", array.data_type().clone(), true)]);
        RecordBatch::try_new(Arc::new(schema), vec![array]).unwrap()
    }

    #[test]
    fn unique_holds_until_a_value_comes_twice_and_ignores_nulls() {
        let mut proof = KeyProof::unique(0, 0, &DataType::Int32).unwrap();
        proof.observe(&batch(Arc::new(Int32Array::from(vec![Some(-1), None, Some(2)])))).unwrap();
        proof.observe(&batch(Arc::new(Int32Array::from(vec![None, Some(3)])))).unwrap();
        assert!(proof.proven());
        proof.observe(&batch(Arc::new(Int32Array::from(vec![Some(-1)])))).unwrap();
        assert!(!proof.proven());
    }

    #[test]
    fn signed_and_unsigned_keys_do_not_collide_across_the_sign() {
        let mut proof = KeyProof::unique(0, 0, &DataType::Int64).unwrap();
        proof.observe(&batch(Arc::new(Int64Array::from(vec![-1, i64::MIN, i64::MAX, 0])))).unwrap();
        assert!(proof.proven());
        let mut unsigned = KeyProof::unique(0, 0, &DataType::UInt64).unwrap();
        unsigned.observe(&batch(Arc::new(UInt64Array::from(vec![u64::MAX, 0, 1 << 63])))).unwrap();
        assert!(unsigned.proven());
    }

    #[test]
    fn forks_of_a_unique_proof_find_a_value_two_partitions_saw() {
        let ints = |values: Vec<i32>| batch(Arc::new(Int32Array::from(values)));
        let proof = KeyProof::unique(0, 0, &DataType::Int32).unwrap();
        let (mut one, mut other, mut third) = (proof.fork(), proof.fork(), proof.fork());
        one.observe(&ints(vec![1, 2])).unwrap();
        other.observe(&ints(vec![3, 4])).unwrap();
        third.observe(&ints(vec![5, 2])).unwrap();
        let mut merged = proof;
        merged.merge(one);
        merged.merge(other);
        assert!(merged.proven(), "1, 2, 3, 4 are each once");
        merged.merge(third);
        assert!(!merged.proven(), "2 came in two partitions");
    }

    #[test]
    fn text_columns_get_no_proof() {
        assert!(KeyProof::unique(0, 0, &DataType::Utf8).is_none());
    }

    #[test]
    fn references_prove_membership_and_nulls_follow_the_rule() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("reference.arrow");
        let references = batch(Arc::new(Int64Array::from(vec![1, 2, 3, 70_000])));
        let mut writer =
            arrow::ipc::writer::FileWriter::try_new(std::fs::File::create(&path).unwrap(), &references.schema())
                .unwrap();
        writer.write(&references).unwrap();
        writer.finish().unwrap();

        let rows = batch(Arc::new(Int32Array::from(vec![Some(1), None, Some(70_000)])));
        let mut lenient = KeyProof::referenced(0, 0, &DataType::Int32, &path, false).unwrap().unwrap();
        lenient.observe(&rows).unwrap();
        assert!(lenient.proven());
        let mut strict = KeyProof::referenced(0, 0, &DataType::Int32, &path, true).unwrap().unwrap();
        strict.observe(&rows).unwrap();
        assert!(!strict.proven(), "a NULL fails when nulls = fail");
        lenient.observe(&batch(Arc::new(Int32Array::from(vec![4])))).unwrap();
        assert!(!lenient.proven(), "4 is not referenced");
    }
}
