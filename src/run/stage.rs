//! A pipeline stage as a stream adapter: it owns its state, turns each input item into output
//! items, and when its input ends it may add last items and hands its summary to whoever holds
//! the receiver. No state is shared while the rows flow; the run reads every stage's summary
//! once the sink has consumed the stream.
//!
//! A query's partitions stay apart through the stages ([`adapt_parts`]): each partition's stream
//! gets a fork of the stage (same settings, empty state), polled by whoever polls that stream, so
//! the partitions' work runs on as many cores. As each fork's input ends it merges into the
//! stage; the last one to end runs the stage's `end`, once, over the merged state.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::oneshot;

use crate::error::{FerryError, Result};

#[async_trait]
pub trait Stage<In, Out>: Send + 'static {
    /// What the stage reports once its input has ended.
    type Summary: Send + 'static;

    /// The output items for one input item.
    fn item(&mut self, item: In) -> Result<Vec<Out>>;

    /// After the last input item: last output items (an error ends the stream) and the summary.
    async fn end(self) -> (Vec<Result<Out>>, Self::Summary);

    /// A stage with the same settings and nothing seen yet, for another partition of the input.
    fn fork(&self) -> Result<Self>
    where
        Self: Sized;

    /// Takes in what a fork saw.
    fn merge(&mut self, fork: Self) -> Result<()>
    where
        Self: Sized;
}

/// The summary of a stage, delivered when its input has ended.
pub struct Summary<T>(oneshot::Receiver<T>);

impl<T> Summary<T> {
    /// The stage's summary; an error when the stream stopped before the stage's input ended
    /// (the run has failed then, and this error is never the one reported first).
    pub async fn get(self, stage: &str) -> Result<T> {
        self.0.await.map_err(|_| FerryError::internal(format!("the {stage} stage ended before its input")))
    }
}

/// The stage the forks of the partitions merge into, until the last one ends.
struct Merging<S, T> {
    stage: Option<S>,
    remaining: usize,
    summary: Option<oneshot::Sender<T>>,
}

/// What a stream does when its input ends: end its own stage, or merge it into the shared one.
enum Ending<S, T> {
    Own(Option<oneshot::Sender<T>>),
    Shared(Arc<Mutex<Merging<S, T>>>),
}

struct Running<In, Out, S: Stage<In, Out>> {
    input: Option<BoxStream<'static, Result<In>>>,
    stage: Option<S>,
    ending: Ending<S, S::Summary>,
    pending: VecDeque<Result<Out>>,
}

/// Puts `stage` behind `input`. The first error, the input's or the stage's, is passed on and
/// ends the stream (the sink rolls back on it).
pub fn adapt<In, Out, S>(
    input: BoxStream<'static, Result<In>>,
    stage: S,
) -> (BoxStream<'static, Result<Out>>, Summary<S::Summary>)
where
    In: Send + 'static,
    Out: Send + 'static,
    S: Stage<In, Out>,
{
    let (sender, receiver) = oneshot::channel();
    (running(input, stage, Ending::Own(Some(sender))), Summary(receiver))
}

/// Each partition's output stream, and the stage's summary once every partition has ended.
pub type Parted<Out, T> = (Vec<BoxStream<'static, Result<Out>>>, Summary<T>);

/// Puts a fork of `stage` behind each of `inputs` (the stage itself when there is one input).
/// An error ends only its own partition's stream; whoever drains the streams stops at it.
pub fn adapt_parts<In, Out, S>(inputs: Vec<BoxStream<'static, Result<In>>>, stage: S) -> Result<Parted<Out, S::Summary>>
where
    In: Send + 'static,
    Out: Send + 'static,
    S: Stage<In, Out>,
{
    let mut inputs = inputs;
    if inputs.len() <= 1 {
        let input = inputs.pop().unwrap_or_else(|| futures::stream::empty().boxed());
        let (stream, summary) = adapt(input, stage);
        return Ok((vec![stream], summary));
    }
    let (sender, receiver) = oneshot::channel();
    let forks = inputs.iter().map(|_| stage.fork()).collect::<Result<Vec<_>>>()?;
    let merging = Merging { stage: Some(stage), remaining: inputs.len(), summary: Some(sender) };
    let shared = Arc::new(Mutex::new(merging));
    let streams = inputs
        .into_iter()
        .zip(forks)
        .map(|(input, fork)| running(input, fork, Ending::Shared(shared.clone())))
        .collect();
    Ok((streams, Summary(receiver)))
}

fn running<In, Out, S>(
    input: BoxStream<'static, Result<In>>,
    stage: S,
    ending: Ending<S, S::Summary>,
) -> BoxStream<'static, Result<Out>>
where
    In: Send + 'static,
    Out: Send + 'static,
    S: Stage<In, Out>,
{
    let running = Running { input: Some(input), stage: Some(stage), ending, pending: VecDeque::new() };
    let stream = futures::stream::unfold(running, |mut running| async move {
        loop {
            if let Some(item) = running.pending.pop_front() {
                return Some((item, running));
            }
            let input = running.input.as_mut()?;
            match input.next().await {
                Some(Ok(item)) => match running.stage.as_mut().map(|stage| stage.item(item)) {
                    Some(Ok(out)) => running.pending.extend(out.into_iter().map(Ok)),
                    Some(Err(error)) => stop(&mut running, error),
                    None => return None,
                },
                Some(Err(error)) => stop(&mut running, error),
                None => {
                    running.input = None;
                    if let Some(stage) = running.stage.take() {
                        match finish::<In, Out, S>(stage, &mut running.ending) {
                            Ok(Some((stage, sender))) => {
                                let (last, summary) = stage.end().await;
                                running.pending.extend(last);
                                if let Some(sender) = sender {
                                    let _ = sender.send(summary);
                                }
                            }
                            Ok(None) => {}
                            Err(error) => running.pending.push_back(Err(error)),
                        }
                    }
                }
            }
        }
    });
    stream.boxed()
}

type Ended<S, T> = Option<(S, Option<oneshot::Sender<T>>)>;

/// The stage to end, with where its summary goes: this stream's own, or the merged one when
/// this is the last fork to end; None while other forks go on.
fn finish<In, Out, S>(stage: S, ending: &mut Ending<S, S::Summary>) -> Result<Ended<S, S::Summary>>
where
    S: Stage<In, Out>,
{
    match ending {
        Ending::Own(sender) => Ok(Some((stage, sender.take()))),
        Ending::Shared(shared) => {
            let mut merging = shared.lock().map_err(|_| FerryError::internal("a stage's merge lock is poisoned"))?;
            let Some(merged) = merging.stage.as_mut() else {
                return Err(FerryError::internal("a stage's fork ended after the stage"));
            };
            merged.merge(stage)?;
            merging.remaining -= 1;
            if merging.remaining > 0 {
                return Ok(None);
            }
            let summary = merging.summary.take();
            Ok(merging.stage.take().map(|stage| (stage, summary)))
        }
    }
}

/// Passes `error` on as the stream's last item.
fn stop<In, Out, S: Stage<In, Out>>(running: &mut Running<In, Out, S>, error: FerryError) {
    running.input = None;
    running.stage = None;
    running.pending.push_back(Err(error));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Doubles each number and reports how many it saw.
    struct Doubler(u64);

    #[async_trait]
    impl Stage<u64, u64> for Doubler {
        type Summary = u64;
        fn item(&mut self, item: u64) -> Result<Vec<u64>> {
            self.0 += 1;
            if item == 13 {
                return Err(FerryError::Execution("unlucky".into()));
            }
            Ok(vec![item * 2])
        }
        async fn end(self) -> (Vec<Result<u64>>, u64) {
            (vec![Ok(0)], self.0)
        }
        fn fork(&self) -> Result<Self> {
            Ok(Doubler(0))
        }
        fn merge(&mut self, fork: Self) -> Result<()> {
            self.0 += fork.0;
            Ok(())
        }
    }

    fn numbers(values: std::ops::Range<u64>) -> BoxStream<'static, Result<u64>> {
        futures::stream::iter(values.map(Ok)).boxed()
    }

    #[tokio::test]
    async fn partitions_keep_apart_and_the_last_one_ends_the_merged_stage() {
        let inputs = vec![numbers(1..4), numbers(20..22), numbers(0..0)];
        let (outputs, summary) = adapt_parts(inputs, Doubler(100)).unwrap();
        assert_eq!(outputs.len(), 3);
        let mut ends = Vec::new();
        for output in outputs {
            ends.push(output.map(|item| item.unwrap()).collect::<Vec<u64>>().await);
        }
        // The last partition to end carries the stage's last item, once.
        assert_eq!(ends, [vec![2, 4, 6], vec![40, 42], vec![0]]);
        assert_eq!(summary.get("doubler").await.unwrap(), 105);
    }

    #[tokio::test]
    async fn a_partition_that_fails_never_delivers_the_summary() {
        let inputs = vec![numbers(1..4), numbers(12..15)];
        let (outputs, summary) = adapt_parts(inputs, Doubler(0)).unwrap();
        let mut items = Vec::new();
        for output in outputs {
            items.extend(output.collect::<Vec<Result<u64>>>().await);
        }
        assert_eq!(items.iter().filter(|item| item.is_err()).count(), 1);
        assert!(summary.get("doubler").await.is_err());
    }

    #[tokio::test]
    async fn a_stage_maps_items_then_reports() {
        let input = futures::stream::iter([1u64, 2, 3].map(Ok)).boxed();
        let (output, summary) = adapt(input, Doubler(0));
        let items: Vec<u64> = output.map(|item| item.unwrap()).collect().await;
        assert_eq!(items, [2, 4, 6, 0]);
        assert_eq!(summary.get("doubler").await.unwrap(), 3);
    }

    #[tokio::test]
    async fn the_first_error_ends_the_stream_without_a_summary() {
        let input = futures::stream::iter([1u64, 13, 3].map(Ok)).boxed();
        let (output, summary) = adapt(input, Doubler(0));
        let items: Vec<Result<u64>> = output.collect().await;
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].as_ref().unwrap_err().to_string(), "unlucky");
        assert!(summary
            .get("doubler")
            .await
            .unwrap_err()
            .to_string()
            .contains("the doubler stage ended before its input"));
    }
}
