//! A run's progress: a spinner on a terminal, log lines elsewhere, or a counter for the API.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Progress;
use crate::db::ReadCounter;
use crate::report::thousands;

/// The spinners of the migrations running at once.
static BARS: std::sync::LazyLock<indicatif::MultiProgress> = std::sync::LazyLock::new(indicatif::MultiProgress::new);

/// Shows rows read and rows/s while a migration runs; stops when dropped or finished.
pub struct Ticker {
    task: Option<tokio::task::JoinHandle<()>>,
    bar: Option<indicatif::ProgressBar>,
}

impl Ticker {
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
            BARS.remove(&bar);
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn show_progress(name: &str, counter: Arc<ReadCounter>, progress: Progress) -> Ticker {
    match progress {
        Progress::Quiet => return Ticker { task: None, bar: None },
        Progress::Counter(shown) => {
            shown.store(0, Ordering::Relaxed);
            let task = tokio::spawn(async move {
                loop {
                    shown.store(counter.get(), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
            return Ticker { task: Some(task), bar: None };
        }
        Progress::Auto => {}
    }
    let started = Instant::now();
    let rate = move |rows: u64| rows as f64 / started.elapsed().as_secs_f64().max(0.001);
    if std::io::stderr().is_terminal() {
        // One line per running migration, drawn together.
        let bar = BARS.add(indicatif::ProgressBar::new_spinner());
        let style = indicatif::ProgressStyle::with_template("{spinner} {prefix}: {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_prefix(name.to_string());
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            loop {
                let rows = counter.get();
                shown.set_message(format!(
                    "{} rows read, {} rows/s",
                    thousands(rows as i64),
                    thousands(rate(rows) as i64)
                ));
                shown.tick();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        Ticker { task: Some(task), bar: Some(bar) }
    } else {
        let name = name.to_string();
        let task = tokio::spawn(async move {
            tracing::info!(migration = %name, "started");
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let rows = counter.get();
                tracing::info!(migration = %name, rows_read = rows, rows_per_second = rate(rows) as u64, "progress");
            }
        });
        Ticker { task: Some(task), bar: None }
    }
}
