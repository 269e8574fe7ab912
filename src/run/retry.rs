//! Transient failures retried: a database that refused or dropped the connection, restarted,
//! or ended a transaction for a serialization failure or a deadlock, before anything was
//! published. A failure after the publish began is never retried blindly: an append could
//! publish its rows twice (a replace or a merge publishes the same rows again, so those are
//! retried when the connection broke during the load, whose outcome is then unknown only if it
//! broke while committing).

use std::time::Duration;

use crate::check::CheckResult;
use crate::error::FerryError;
use crate::job::{MigrationPlan, Mode, CLUSTER_JOB};

/// What one attempt at a migration got to.
#[derive(Default)]
pub struct Attempt {
    /// The checks' results, once known.
    pub checks: Vec<CheckResult>,
    /// The rows were published: nothing may be retried any more.
    pub published: bool,
}

/// Words of the messages of failures that pass (as drivers and servers put them).
const TRANSIENT: [&str; 15] = [
    "connection refused",
    "connection reset",
    "connection closed",
    "broken pipe",
    "server closed the connection",
    "the server closed the connection",
    "terminating connection",
    "the database system is starting up",
    "the database system is shutting down",
    "could not serialize access",
    "deadlock detected",
    "lost connection",
    "server has gone away",
    "server disconnected",
    "timed out",
];

/// Words of a cluster's failures that pass: an executor lost, a scheduler or executor that could
/// not be reached (Ballista's and tonic's words). The job is then run again from the staging.
const CLUSTER_TRANSIENT: [&str; 4] = ["lost", "transport error", "unavailable", "connection"];

/// Whether `error`, after `attempt`, may be retried.
pub fn retryable(error: &FerryError, attempt: &Attempt, migration: &MigrationPlan) -> bool {
    if attempt.published {
        return false;
    }
    let transient = |message: &str| {
        let message = message.to_lowercase();
        TRANSIENT.iter().any(|words| message.contains(words))
    };
    match error {
        // Nothing reached the target yet.
        FerryError::Connection { message, .. } => transient(message),
        FerryError::Source { table, message, .. } if table == CLUSTER_JOB => {
            let message = message.to_lowercase();
            migration.mode != Mode::Append && CLUSTER_TRANSIENT.iter().any(|words| message.contains(words))
        }
        FerryError::Source { message, .. } | FerryError::Target { message, .. } => {
            migration.mode != Mode::Append && transient(message)
        }
        _ => false,
    }
}

/// The wait before retry number `retried` + 1: 0.5 s, doubling, at most 8 s.
pub fn backoff(retried: usize) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1 << retried.min(4)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_job_that_lost_its_executor_is_run_again() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.sql"), "SELECT 1 AS x").unwrap();
        let job = "[connections]\na = \"sqlite:///a.db\"\n[[migrations]]\nname = \"m\"\nsource = \"a\"\n\
                   target = \"a\"\nquery = \"m.sql\"\ntable = \"t\"\n";
        let plan = crate::job::Plan::from_toml(job, "job", dir.path(), &Default::default()).unwrap();
        let migration = &plan.migrations[0];
        let failed = |message: &str| FerryError::Source {
            url: "df://sched:50050".into(),
            table: CLUSTER_JOB.into(),
            message: message.into(),
        };
        // Ballista's words when an executor dies with the job's tasks.
        let lost = failed("Job 4aGq failed: Task failure due to Executor 9f1 lost");
        assert!(retryable(&lost, &Attempt::default(), migration));
        assert!(!retryable(&lost, &Attempt { published: true, ..Default::default() }, migration));
        // A query the cluster cannot run fails the same way every time.
        let wrong = failed("Job 4aGq failed: Arrow error: Divide by zero error");
        assert!(!retryable(&wrong, &Attempt::default(), migration));
    }

    #[test]
    fn waits_double_up_to_eight_seconds() {
        let waits: Vec<u64> = (0..6).map(|n| backoff(n).as_millis() as u64).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 8000]);
    }
}
