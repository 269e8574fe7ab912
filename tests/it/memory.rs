//! One memory budget for a run's queries (`memory_limit`): a sort far larger than the budget
//! spills to disk and succeeds; a hash join whose build side cannot fit fails with an error
//! naming the budget, never with the process killed for memory.

use std::path::Path;

use ferry::job::{Overrides, Plan};
use ferry::run::{run, Progress};

/// Runs `query` from a SQLite source of `rows` users into a Parquet table with `memory_limit`.
async fn with_budget(dir: &Path, rows: u64, query: &str, limit: &str) -> (Option<String>, u64) {
    let path = dir.join("source.db");
    ferry::generate::generate(&ferry::connection::Endpoint::Sqlite(path.clone()), rows, false).await.unwrap();
    let source = format!("sqlite://{}", path.display());
    std::fs::create_dir_all(dir.join("queries")).unwrap();
    std::fs::write(dir.join("queries/q.sql"), query).unwrap();
    let job = format!(
        "memory_limit = \"{limit}\"\n[connections]\nsource = \"{source}\"\ntarget = \"file://{}/lake\"\n\
         [[migrations]]\nname = \"m\"\nsource = \"source\"\nquery = \"queries/q.sql\"\ntarget = \"target\"\ntable = \"t\"\n",
        dir.display()
    );
    let plan = Plan::from_toml(&job, "job.toml", dir, &Overrides::default()).unwrap();
    let report = run(&plan, &[], Progress::Quiet).await.unwrap();
    (report.error, report.migrations[0].rows_loaded)
}

const WIDE: &str = "SELECT id, repeat(name, 10) AS wide FROM source_table";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sort_larger_than_the_budget_spills() {
    let dir = tempfile::tempdir().unwrap();
    // About 50 MB of rows to sort, in 16 MB.
    let query = format!("SELECT * FROM ({WIDE}) ORDER BY wide DESC, id");
    assert_eq!(with_budget(dir.path(), 200_000, &query, "16MB").await, (None, 200_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_that_cannot_fit_the_budget_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let query = format!("SELECT a.id, a.wide, b.wide AS other FROM ({WIDE}) a JOIN ({WIDE}) b ON a.id = b.id");
    let (error, _) = with_budget(dir.path(), 40_000, &query, "1MB").await;
    let error = error.expect("the join cannot fit");
    assert!(
        error.starts_with("migration `m`: the query needs more memory than the run's budget allows (")
            && error.ends_with("raise `memory_limit` in the job file or --memory-limit, run fewer migrations at once (--jobs), or simplify the query"),
        "{error}"
    );
}
