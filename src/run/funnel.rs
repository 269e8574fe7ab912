//! The partitions of a migration's rows, each drained on a task of its own (so that the query,
//! the reject split, the checks and the digests of each partition run on as many cores) into the
//! one stream a sink takes.

use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::error::{FerryError, Result};

/// Batches each partition may have ready ahead of the sink.
const AHEAD: usize = 2;

/// One stream of the items of `parts`, in the order they come. The first error is passed on
/// (and the sink, which stops at it, drops the stream, which stops every partition). A partition
/// that panics ends the stream with an error, never with its rows silently missing.
pub fn funnel<T: Send + 'static>(parts: Vec<BoxStream<'static, Result<T>>>) -> BoxStream<'static, Result<T>> {
    let mut parts = parts;
    if parts.len() <= 1 {
        return parts.pop().unwrap_or_else(|| futures::stream::empty().boxed());
    }
    let (sender, receiver) = mpsc::channel(parts.len() * AHEAD);
    let mut tasks = JoinSet::new();
    for mut part in parts {
        let sender = sender.clone();
        tasks.spawn(async move {
            while let Some(item) = part.next().await {
                let failed = item.is_err();
                if sender.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
    }
    drop(sender);
    let draining = (Some(receiver), tasks);
    futures::stream::unfold(draining, |(mut receiver, mut tasks)| async move {
        if let Some(open) = receiver.as_mut() {
            if let Some(item) = open.recv().await {
                return Some((item, (receiver, tasks)));
            }
            receiver = None;
        }
        // Every partition's sender is gone: each task has ended; a panic is an error.
        while let Some(ended) = tasks.join_next().await {
            if let Err(error) = ended {
                let error = FerryError::internal(format!("a partition of the rows stopped: {error}"));
                tasks.abort_all();
                return Some((Err(error), (receiver, tasks)));
            }
        }
        None
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(values: Vec<u32>) -> BoxStream<'static, Result<u32>> {
        futures::stream::iter(values.into_iter().map(Ok)).boxed()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_item_of_every_partition_comes_once() {
        let parts = (0..4).map(|p| part((0..1000).map(|i| p * 1000 + i).collect())).collect();
        let mut items: Vec<u32> = funnel(parts).map(|item| item.unwrap()).collect().await;
        items.sort_unstable();
        assert_eq!(items, (0..4000).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_partition_that_panics_ends_the_stream_with_an_error() {
        let panicking = futures::stream::iter([1u32, 2]).map(|i| if i == 2 { panic!("boom") } else { Ok(i) }).boxed();
        let items: Vec<Result<u32>> = funnel(vec![part(vec![7, 8]), panicking]).collect().await;
        let last = items.last().unwrap().as_ref().unwrap_err().to_string();
        assert!(last.contains("a partition of the rows stopped"), "{last}");
        assert_eq!(items.iter().filter(|item| item.is_err()).count(), 1);
    }
}
