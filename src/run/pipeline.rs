//! The stages a migration's rows pass between the query and the sink, each a [`Stage`] that
//! owns its state and counts its own rows: the query's rows (and the incremental watermark),
//! the reject split with the cast to the target's columns, the checks, the reconciliation's
//! digests, and last the conservation of rows, checked before the sink commits.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;

use super::stage::{Stage, Summary};
use crate::check::sent::Sent;
use crate::check::{Audit, CheckResult};
use crate::db::state::Watermark;
use crate::db::{ReadCounter, SinkBatch};
use crate::error::{FailedCheck, FerryError, Result};
use crate::sink::conform;
use crate::transform::RejectSplitter;

/// Counts the query's rows and observes the incremental cursor's values.
pub struct QueryRows {
    /// The watermark and the cursor's column in the query's output.
    pub watermark: Option<(Arc<Watermark>, usize)>,
    pub rows: u64,
}

#[async_trait]
impl Stage<RecordBatch, RecordBatch> for QueryRows {
    type Summary = u64;

    fn item(&mut self, batch: RecordBatch) -> Result<Vec<RecordBatch>> {
        if let Some((watermark, index)) = &self.watermark {
            watermark.observe(batch.column(*index))?;
        }
        self.rows += batch.num_rows() as u64;
        Ok(vec![batch])
    }

    async fn end(self) -> (Vec<Result<RecordBatch>>, u64) {
        (Vec::new(), self.rows)
    }

    fn fork(&self) -> Result<Self> {
        Ok(QueryRows { watermark: self.watermark.clone(), rows: 0 })
    }

    fn merge(&mut self, fork: Self) -> Result<()> {
        self.rows += fork.rows;
        Ok(())
    }
}

/// What the reject split counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub kept: u64,
    pub rejected: u64,
    pub reasons: BTreeMap<String, u64>,
}

/// Splits the rows to load from the rejected ones and casts them to the target's columns.
pub struct Splitter {
    pub splitter: RejectSplitter,
    pub target: SchemaRef,
    pub migration: String,
    pub key: Vec<String>,
    pub counted: Split,
}

#[async_trait]
impl Stage<RecordBatch, SinkBatch> for Splitter {
    type Summary = Split;

    fn item(&mut self, batch: RecordBatch) -> Result<Vec<SinkBatch>> {
        let (kept, records) = self.splitter.split(&batch)?;
        self.counted.kept += kept.num_rows() as u64;
        let mut out = vec![SinkBatch::Rows(conform(&kept, &self.target, &self.migration, &self.key)?)];
        if let Some(records) = records {
            self.counted.rejected += records.num_rows() as u64;
            out.push(SinkBatch::Rejects(records));
        }
        Ok(out)
    }

    async fn end(mut self) -> (Vec<Result<SinkBatch>>, Split) {
        self.counted.reasons = std::mem::take(&mut self.splitter.reasons);
        (Vec::new(), self.counted)
    }

    fn fork(&self) -> Result<Self> {
        Ok(Splitter {
            splitter: self.splitter.fork(),
            target: self.target.clone(),
            migration: self.migration.clone(),
            key: self.key.clone(),
            counted: Split::default(),
        })
    }

    fn merge(&mut self, fork: Self) -> Result<()> {
        self.counted.kept += fork.counted.kept;
        self.counted.rejected += fork.counted.rejected;
        self.splitter.merge(fork.splitter);
        Ok(())
    }
}

/// The checks see every row; their verdict comes after the last one and before the commit: a
/// failing `error` check ends the stream with an error, so the sink rolls back.
pub struct Checks {
    pub audit: Audit,
    pub migration: String,
    /// The rows read from the sources, for `row_count` with `equals_source`.
    pub source_rows: Arc<ReadCounter>,
}

#[async_trait]
impl Stage<SinkBatch, SinkBatch> for Checks {
    type Summary = Vec<CheckResult>;

    fn item(&mut self, batch: SinkBatch) -> Result<Vec<SinkBatch>> {
        if let SinkBatch::Rows(rows) = &batch {
            self.audit.observe(rows)?;
        }
        Ok(vec![batch])
    }

    async fn end(self) -> (Vec<Result<SinkBatch>>, Vec<CheckResult>) {
        let results = match self.audit.finish(Some(self.source_rows.get())).await {
            Ok(results) => results,
            Err(error) => return (vec![Err(error)], Vec::new()),
        };
        let failed: Vec<FailedCheck> = results
            .iter()
            .filter(|r| r.blocks())
            .map(|r| FailedCheck { name: r.name.clone(), failing: r.failing })
            .collect();
        let last = match failed.is_empty() {
            true => Vec::new(),
            false => vec![Err(FerryError::ChecksFailed { migration: self.migration, failed })],
        };
        (last, results)
    }

    fn fork(&self) -> Result<Self> {
        let audit = self.audit.fork();
        Ok(Checks { audit, migration: self.migration.clone(), source_rows: self.source_rows.clone() })
    }

    fn merge(&mut self, fork: Self) -> Result<()> {
        self.audit.merge(fork.audit);
        Ok(())
    }
}

/// The reconciliation's digest of the rows sent (and a merge's keys).
pub struct Digest(pub Sent);

#[async_trait]
impl Stage<SinkBatch, SinkBatch> for Digest {
    type Summary = Sent;

    fn item(&mut self, batch: SinkBatch) -> Result<Vec<SinkBatch>> {
        if let SinkBatch::Rows(rows) = &batch {
            self.0.add(rows)?;
        }
        Ok(vec![batch])
    }

    async fn end(self) -> (Vec<Result<SinkBatch>>, Sent) {
        (Vec::new(), self.0)
    }

    fn fork(&self) -> Result<Self> {
        Ok(Digest(self.0.fork()))
    }

    fn merge(&mut self, fork: Self) -> Result<()> {
        self.0.merge(fork.0);
        Ok(())
    }
}

/// Every stage's count, as the conservation check saw them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Rows out of the query.
    pub query: u64,
    pub split: Split,
    /// Rows and rejected rows handed to the sink.
    pub sent: u64,
    pub sent_rejects: u64,
}

impl Counts {
    /// Rows lost or made up between two stages: a bug in ferry, never a property of the data.
    pub fn verify(&self, migration: &str) -> Result<()> {
        let Counts { query, split, sent, sent_rejects } = self;
        if *query == split.kept + split.rejected && *sent == split.kept && *sent_rejects == split.rejected {
            return Ok(());
        }
        Err(FerryError::Internal(format!(
            "migration `{migration}`: rows lost inside ferry: the query gave {query} rows, the reject split kept {} and \
             rejected {}, {sent} rows and {sent_rejects} rejects reached the target; nothing was published",
            split.kept, split.rejected
        )))
    }
}

impl Counts {
    /// After the commit: the target acknowledged every row sent (its own count: COPY's row
    /// count, the rows each INSERT affected, the rows written to files).
    pub fn acknowledged(&self, migration: &str, table: &str, rows: u64) -> Result<()> {
        if rows == self.sent {
            return Ok(());
        }
        Err(FerryError::Internal(format!(
            "migration `{migration}`: `{table}` acknowledged {rows} rows of the {} ferry sent",
            self.sent
        )))
    }
}

/// The last stage: counts what reaches the sink and, once every stage before it has ended,
/// checks that no row was lost or made up on the way, before the sink commits.
pub struct Conservation {
    pub migration: String,
    /// The stages' summaries, which only the stage the forks merge into holds.
    pub query: Option<Summary<u64>>,
    pub split: Option<Summary<Split>>,
    pub sent: u64,
    pub sent_rejects: u64,
}

impl Conservation {
    pub fn new(migration: &str, query: Summary<u64>, split: Summary<Split>) -> Conservation {
        Conservation { migration: migration.into(), query: Some(query), split: Some(split), sent: 0, sent_rejects: 0 }
    }
}

#[async_trait]
impl Stage<SinkBatch, SinkBatch> for Conservation {
    type Summary = Counts;

    fn item(&mut self, batch: SinkBatch) -> Result<Vec<SinkBatch>> {
        match &batch {
            SinkBatch::Rows(rows) => self.sent += rows.num_rows() as u64,
            SinkBatch::Rejects(rejects) => self.sent_rejects += rejects.num_rows() as u64,
        }
        Ok(vec![batch])
    }

    async fn end(self) -> (Vec<Result<SinkBatch>>, Counts) {
        let missing = || FerryError::internal("a fork of the conservation stage ended the stream");
        let counts = async {
            Ok::<_, FerryError>(Counts {
                query: self.query.ok_or_else(missing)?.get("query").await?,
                split: self.split.ok_or_else(missing)?.get("reject split").await?,
                sent: self.sent,
                sent_rejects: self.sent_rejects,
            })
        };
        match counts.await {
            Ok(counts) => match counts.verify(&self.migration) {
                Ok(()) => (Vec::new(), counts),
                Err(error) => (vec![Err(error)], counts),
            },
            Err(error) => (vec![Err(error)], Counts::default()),
        }
    }

    fn fork(&self) -> Result<Self> {
        let migration = self.migration.clone();
        Ok(Conservation { migration, query: None, split: None, sent: 0, sent_rejects: 0 })
    }

    fn merge(&mut self, fork: Self) -> Result<()> {
        self.sent += fork.sent;
        self.sent_rejects += fork.sent_rejects;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use futures::StreamExt;

    use super::super::stage::adapt;
    use super::*;

    /// Six rows in two batches; row 2 of each is rejected by the query.
    fn query() -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("_ferry_reject", DataType::Utf8, true),
        ]));
        let batch = |ids: [i64; 3]| {
            let reasons = StringArray::from(vec![None, Some("bad"), None]);
            RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(ids.to_vec())), Arc::new(reasons)])
                .unwrap()
        };
        (schema.clone(), vec![batch([1, 2, 3]), batch([4, 5, 6])])
    }

    /// The pipeline's stages, with `faulty` between the query and the reject split.
    async fn run(
        faulty: impl Fn(RecordBatch) -> RecordBatch + Send + 'static,
    ) -> (Vec<Result<SinkBatch>>, Result<Counts>) {
        let (schema, batches) = query();
        let input = futures::stream::iter(batches.into_iter().map(Ok)).boxed();
        let (rows, query_rows) = adapt(input, QueryRows { watermark: None, rows: 0 });
        let rows = rows.map(move |batch| batch.map(&faulty)).boxed();
        let splitter = RejectSplitter::new("m", "r", &schema, &[]).unwrap();
        let target = splitter.output_schema();
        let stage = Splitter { splitter, target, migration: "m".into(), key: vec![], counted: Split::default() };
        let (rows, split) = adapt(rows, stage);
        let conservation = Conservation::new("m", query_rows, split);
        let (rows, counts) = adapt(rows, conservation);
        let items = rows.collect().await;
        (items, counts.get("conservation").await)
    }

    #[tokio::test]
    async fn every_stage_counts_its_own_rows() {
        let (items, counts) = run(|batch| batch).await;
        assert!(items.iter().all(Result::is_ok));
        let counts = counts.unwrap();
        let reasons = BTreeMap::from([("bad".to_string(), 2)]);
        let split = Split { kept: 4, rejected: 2, reasons };
        assert_eq!(counts, Counts { query: 6, split, sent: 4, sent_rejects: 2 });
        counts.acknowledged("m", "t", 4).unwrap();
        let error = counts.acknowledged("m", "t", 3).unwrap_err().to_string();
        assert_eq!(
            error,
            "internal error (a bug in ferry, please report it): migration `m`: `t` acknowledged 3 rows of the 4 ferry sent"
        );
    }

    #[tokio::test]
    async fn a_stage_that_loses_a_row_fails_the_load_before_the_commit() {
        let (items, _) = run(|batch| batch.slice(1, batch.num_rows() - 1)).await;
        let error = items.last().unwrap().as_ref().unwrap_err().to_string();
        assert_eq!(
            error,
            "internal error (a bug in ferry, please report it): migration `m`: rows lost inside ferry: the query gave 6 \
             rows, the reject split kept 2 and rejected 2, 2 rows and 2 rejects reached the target; nothing was published"
        );
    }
}
