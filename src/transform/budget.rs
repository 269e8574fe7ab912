//! One memory budget for a run's queries: every session made with the same `memory_limit`
//! shares one DataFusion memory pool (fair to the operators that can spill: sorts, aggregates,
//! sort-merge joins, which then spill to the temporary folder), so that migrations running at
//! once (`--jobs`) together stay within it. An operator that cannot spill and needs more fails
//! with an error naming the budget. What the pool does not count (connections' buffers, batches
//! in flight, the Parquet writer's row group) comes on top.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

/// The runtime of every session with `memory_limit` bytes to share.
pub fn runtime(memory_limit: usize) -> Arc<RuntimeEnv> {
    static RUNTIMES: Mutex<BTreeMap<usize, Arc<RuntimeEnv>>> = Mutex::new(BTreeMap::new());
    let make = || {
        RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(memory_limit)))
            .build_arc()
            .unwrap_or_else(|_| Arc::new(RuntimeEnv::default()))
    };
    match RUNTIMES.lock() {
        Ok(mut runtimes) => runtimes.entry(memory_limit).or_insert_with(make).clone(),
        Err(_) => make(),
    }
}
