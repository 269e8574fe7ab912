//! Prometheus counters of the server's runs, written in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Upper bounds (seconds) of the run-duration histogram's buckets.
const BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0];

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
}

#[derive(Default)]
struct Counters {
    /// (migration, outcome) -> runs.
    runs: BTreeMap<(String, String), u64>,
    rows_loaded: BTreeMap<String, u64>,
    rows_rejected: BTreeMap<String, u64>,
    /// migration -> (count per bucket, sum, count).
    durations: BTreeMap<String, ([u64; BUCKETS.len()], f64, u64)>,
    in_progress: i64,
}

impl Metrics {
    pub fn started(&self) {
        if let Ok(mut c) = self.inner.lock() {
            c.in_progress += 1;
        }
    }

    pub fn finished(&self, migration: &str, outcome: &str, loaded: u64, rejected: u64, seconds: f64) {
        let Ok(mut c) = self.inner.lock() else { return };
        c.in_progress -= 1;
        *c.runs.entry((migration.to_string(), outcome.to_string())).or_default() += 1;
        *c.rows_loaded.entry(migration.to_string()).or_default() += loaded;
        *c.rows_rejected.entry(migration.to_string()).or_default() += rejected;
        let (buckets, sum, count) = c.durations.entry(migration.to_string()).or_default();
        for (bucket, bound) in buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        *sum += seconds;
        *count += 1;
    }

    pub fn render(&self) -> String {
        let Ok(c) = self.inner.lock() else { return String::new() };
        let mut out = String::new();
        let _ = writeln!(out, "# HELP ferry_runs_total Migration runs finished, by outcome.");
        let _ = writeln!(out, "# TYPE ferry_runs_total counter");
        for ((migration, outcome), n) in &c.runs {
            let _ = writeln!(out, "ferry_runs_total{{migration=\"{}\",outcome=\"{outcome}\"}} {n}", escape(migration));
        }
        for (name, help, values) in [
            ("ferry_rows_loaded_total", "Rows published into targets.", &c.rows_loaded),
            ("ferry_rows_rejected_total", "Rows quarantined in _ferry_rejects.", &c.rows_rejected),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (migration, n) in values {
                let _ = writeln!(out, "{name}{{migration=\"{}\"}} {n}", escape(migration));
            }
        }
        let _ = writeln!(out, "# HELP ferry_run_duration_seconds Wall time of finished runs.");
        let _ = writeln!(out, "# TYPE ferry_run_duration_seconds histogram");
        for (migration, (buckets, sum, count)) in &c.durations {
            let m = escape(migration);
            for (n, bound) in buckets.iter().zip(BUCKETS) {
                let _ = writeln!(out, "ferry_run_duration_seconds_bucket{{migration=\"{m}\",le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(out, "ferry_run_duration_seconds_bucket{{migration=\"{m}\",le=\"+Inf\"}} {count}");
            let _ = writeln!(out, "ferry_run_duration_seconds_sum{{migration=\"{m}\"}} {sum}");
            let _ = writeln!(out, "ferry_run_duration_seconds_count{{migration=\"{m}\"}} {count}");
        }
        let _ = writeln!(out, "# HELP ferry_runs_in_progress Runs going on now.");
        let _ = writeln!(out, "# TYPE ferry_runs_in_progress gauge\nferry_runs_in_progress {}", c.in_progress);
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let metrics = Metrics::default();
        metrics.started();
        metrics.finished("users", "succeeded", 10, 2, 0.7);
        metrics.started();
        let text = metrics.render();
        assert!(text.contains("ferry_runs_total{migration=\"users\",outcome=\"succeeded\"} 1\n"), "{text}");
        assert!(text.contains("ferry_rows_loaded_total{migration=\"users\"} 10\n"), "{text}");
        assert!(text.contains("ferry_run_duration_seconds_bucket{migration=\"users\",le=\"0.5\"} 0\n"), "{text}");
        assert!(text.contains("ferry_run_duration_seconds_bucket{migration=\"users\",le=\"1\"} 1\n"), "{text}");
        assert!(text.contains("ferry_runs_in_progress 1\n"), "{text}");
    }
}
