//! The reconciliation's two halves around a load: the digest of the rows sent ([`Sent`], fed
//! by the run's pipeline), and the published table read back and compared with it.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::common::{JoinType, ScalarValue};
use datafusion::execution::options::ArrowReadOptions;
use datafusion::functions_aggregate::expr_fn::{max, min};
use datafusion::prelude::{cast, col, lit};

use super::reconcile::{table_figures, Figures, Reconciliation};
use super::spill::SharedSpill;
use crate::db::{TableDigest, WriteMode};
use crate::error::{FerryError, Result};
use crate::job::{MigrationPlan, Parts};

/// What a run sent, for its reconciliation: the figures, and for a merge the keys, spilled to a
/// file so the rows the merge touched can be found again.
pub struct Sent {
    pub figures: Figures,
    /// One file for every partition's keys, and (not in forks) the folder it is in.
    keys: Option<(SharedSpill, Option<tempfile::TempDir>)>,
    /// The same rows' figures as the target database computes them, where it can.
    digest: Option<Box<dyn TableDigest>>,
}

impl Sent {
    /// `digest` is the target's own, for a replace (whose table then holds exactly the rows sent).
    pub fn new(
        schema: &SchemaRef,
        key: &[String],
        write: WriteMode,
        digest: Option<Box<dyn TableDigest>>,
    ) -> Result<Sent> {
        let keys = match write {
            WriteMode::Merge => {
                let columns = key.iter().map(|k| schema.index_of(k)).collect::<Result<Vec<_>, _>>()?;
                let folder = super::audit_folder()?;
                let spill = SharedSpill::create(folder.path().join("sent_keys.arrow"), schema, columns)?;
                Some((spill, Some(folder)))
            }
            _ => None,
        };
        let digest = if write == WriteMode::Replace { digest } else { None };
        Ok(Sent { figures: Figures::new(schema.fields().len()), keys, digest })
    }

    pub fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        self.figures.add(batch.columns())?;
        if let Some(digest) = &mut self.digest {
            digest.add(batch)?;
        }
        if let Some((keys, _)) = &self.keys {
            keys.write(batch)?;
        }
        Ok(())
    }

    /// The same digest with no row added yet, for another partition of the rows; the keys go to
    /// the same file.
    pub fn fork(&self) -> Sent {
        Sent {
            figures: Figures::new(self.figures.columns.len()),
            keys: self.keys.as_ref().map(|(keys, _)| (keys.clone(), None)),
            digest: self.digest.as_ref().map(|digest| digest.fork()),
        }
    }

    /// Takes in what a fork added.
    pub fn merge(&mut self, fork: Sent) {
        self.figures.merge(&fork.figures);
        if let (Some(digest), Some(theirs)) = (&mut self.digest, fork.digest) {
            digest.absorb(theirs.figures());
        }
    }
}

/// The memory a merge's read-back may hold for the keys it sent (about 4M integer keys).
const READ_BACK_MEMORY: usize = 128 * 1024 * 1024;

/// The published rows read back and compared with the rows sent: the whole table after a
/// replace, the rows with the keys sent after a merge. The table is read in `partitions` parts,
/// as the run read its sources.
pub async fn read_back(
    migration: &MigrationPlan,
    schema: &SchemaRef,
    mut sent: Sent,
    partitions: Parts,
) -> Result<Reconciliation> {
    if let Some(digest) = sent.digest.take() {
        // The database's count and checksum settle a match; anything else (figures that
        // differ, a type the digest does not cover, an error) is settled by reading back, which
        // also names the columns that differ.
        match digest.matches().await {
            Ok(true) => return Ok(Reconciliation::matched_in_database(schema, sent.figures.rows)),
            Ok(false) => tracing::debug!(table = %migration.table, "the database's digest differs; reading back"),
            Err(error) => tracing::debug!(table = %migration.table, %error, "no database digest; reading back"),
        }
    }
    let ctx = super::table::bounded_session(READ_BACK_MEMORY, partitions)?;
    let Some(mut frame) = super::target_table(&ctx, migration, &migration.table).await? else {
        return Err(FerryError::internal(format!("the published table `{}` is missing", migration.table)));
    };
    // The keys' file lives until the read below has run (the plan reads it lazily).
    let keys = match sent.keys {
        Some((keys, folder)) => Some((keys.finish()?, folder)),
        None => None,
    };
    if let Some((path, _)) = &keys {
        let path = path.display().to_string();
        ctx.register_arrow("ferry_sent_keys", &path, ArrowReadOptions::default()).await?;
        let renamed: Vec<String> = (0..migration.key.len()).map(|i| format!("ferry_key_{i}")).collect();
        // As the table's key types: the join compares them as they are.
        let mut aliased = Vec::new();
        for (key, name) in migration.key.iter().zip(&renamed) {
            let data_type = frame.schema().field_with_unqualified_name(key)?.data_type().clone();
            aliased.push(cast(col(format!("\"{key}\"")), data_type).alias(name));
        }
        let sent_keys = ctx.table("ferry_sent_keys").await?.select(aliased)?;
        if let [key] = migration.key.as_slice() {
            // The keys' span as a filter the database applies: an incremental run reads back
            // only the range it touched.
            let span = sent_keys.clone().aggregate(vec![], vec![min(col("ferry_key_0")), max(col("ferry_key_0"))])?;
            if let Some(batch) = span.collect().await?.first() {
                let low = ScalarValue::try_from_array(batch.column(0), 0)?;
                let high = ScalarValue::try_from_array(batch.column(1), 0)?;
                let key = col(format!("\"{key}\""));
                frame = frame.filter(key.clone().gt_eq(lit(low)).and(key.lt_eq(lit(high))))?;
            }
        }
        let ours: Vec<&str> = migration.key.iter().map(String::as_str).collect();
        let theirs: Vec<&str> = renamed.iter().map(String::as_str).collect();
        // The keys on the build side: an incremental run's few keys, not the table's rows.
        frame = sent_keys.join(frame, JoinType::RightSemi, &theirs, &ours, None)?;
    }
    let target = table_figures(frame, schema).await?;
    Ok(Reconciliation::compare(schema, &sent.figures, &target))
}
