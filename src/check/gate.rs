//! Where checks meet a run: the audit's verdict as the last item of the stream the sink writes
//! (before its commit), and the published table read back for the reconciliation (after).

use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use futures::StreamExt;

use super::reconcile::{table_figures, Figures, Reconciliation};
use super::{Audit, CheckResult};
use crate::error::{FerryError, Result};
use crate::job::MigrationPlan;
use crate::sink::SinkBatch;
use crate::source::ReadCounter;

/// The published table read back and compared with the rows sent.
pub async fn read_back(migration: &MigrationPlan, schema: &SchemaRef, sent: &Figures) -> Result<Reconciliation> {
    let ctx = datafusion::prelude::SessionContext::new();
    let Some(frame) = super::target_table(&ctx, migration, &migration.table).await? else {
        return Err(FerryError::internal(format!("the published table `{}` is missing", migration.table)));
    };
    let target = table_figures(frame, schema).await?;
    Ok(Reconciliation::compare(schema, sent, &target))
}

/// The stream's last step: the audit's verdict, after every row went to the sink and before it
/// commits. A failing `error` check ends the stream with an error, so the sink rolls back.
pub fn audit_gate(
    migration: &str,
    audit: Arc<Mutex<Option<Audit>>>,
    verdict: Arc<Mutex<Vec<CheckResult>>>,
    counter: Arc<ReadCounter>,
) -> impl futures::Stream<Item = Result<SinkBatch>> {
    let migration = migration.to_string();
    futures::stream::once(async move {
        let taken = audit.lock().ok().and_then(|mut audit| audit.take());
        let audit = taken?;
        let results = match audit.finish(Some(counter.get())).await {
            Ok(results) => results,
            Err(error) => return Some(Err(error)),
        };
        if let Ok(mut shared) = verdict.lock() {
            shared.clone_from(&results);
        }
        if results.iter().any(CheckResult::blocks) {
            return Some(Err(FerryError::ChecksFailed { migration, results }));
        }
        None
    })
    .filter_map(futures::future::ready)
}
