//! A pipeline stage as a stream adapter: it owns its state, turns each input item into output
//! items, and when its input ends it may add last items and hands its summary to whoever holds
//! the receiver. No state is shared while the rows flow; the run reads every stage's summary
//! once the sink has consumed the stream.

use std::collections::VecDeque;

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

struct Running<In, Out, S: Stage<In, Out>> {
    input: Option<BoxStream<'static, Result<In>>>,
    stage: Option<S>,
    summary: Option<oneshot::Sender<<S as Stage<In, Out>>::Summary>>,
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
    let running = Running { input: Some(input), stage: Some(stage), summary: Some(sender), pending: VecDeque::new() };
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
                        let (last, summary) = stage.end().await;
                        running.pending.extend(last);
                        if let Some(sender) = running.summary.take() {
                            let _ = sender.send(summary);
                        }
                    }
                }
            }
        }
    });
    (stream.boxed(), Summary(receiver))
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
