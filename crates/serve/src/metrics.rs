//! Prometheus text metrics: requests by route and status, a latency histogram per
//! route, cases grouped. Written by hand (the format is a few lines of text).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, seconds.
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Cases grouped by DRG (single, many and batch).
    pub drg_cases: AtomicU64,
    /// Cases grouped by DIP.
    pub dip_cases: AtomicU64,
    /// Batch jobs started.
    pub batches: AtomicU64,
    /// Successful reloads.
    pub reloads: AtomicU64,
    /// Work running on blocking threads now (batch jobs, `cases` requests).
    pub working: AtomicU64,
    /// Work stopped by its cancel flag (a request past its time, a client gone).
    pub cancelled: AtomicU64,
}

impl Metrics {
    /// Counts one request of `route` answered with `status` after `elapsed`.
    pub fn record(&self, route: &str, status: u16, elapsed: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            match m.get_mut(&(route.to_string(), status)) {
                Some(n) => *n += 1,
                None => {
                    m.insert((route.to_string(), status), 1);
                }
            }
        }
        let secs = elapsed.as_secs_f64();
        if let Ok(mut m) = self.latency.lock() {
            if !m.contains_key(route) {
                m.insert(route.to_string(), Histogram::default());
            }
            if let Some(h) = m.get_mut(route) {
                for (i, b) in BUCKETS.iter().enumerate() {
                    if secs <= *b {
                        h.counts[i] += 1;
                    }
                }
                h.count += 1;
                h.sum += secs;
            }
        }
    }

    /// Adds grouped cases.
    pub fn grouped(&self, drg: u64, dip: u64) {
        self.drg_cases.fetch_add(drg, Ordering::Relaxed);
        self.dip_cases.fetch_add(dip, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str("# HELP drgdip_requests_total HTTP requests by route and status.\n");
        s.push_str("# TYPE drgdip_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((route, status), n) in m.iter() {
                let _ = writeln!(
                    s,
                    "drgdip_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        s.push_str("# HELP drgdip_request_duration_seconds Request latency by route.\n");
        s.push_str("# TYPE drgdip_request_duration_seconds histogram\n");
        if let Ok(m) = self.latency.lock() {
            for (route, h) in m.iter() {
                let r = escape(route);
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        s,
                        "drgdip_request_duration_seconds_bucket{{route=\"{r}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    s,
                    "drgdip_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    s,
                    "drgdip_request_duration_seconds_sum{{route=\"{r}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    s,
                    "drgdip_request_duration_seconds_count{{route=\"{r}\"}} {}",
                    h.count
                );
            }
        }
        s.push_str("# HELP drgdip_cases_grouped_total Cases grouped, by method.\n");
        s.push_str("# TYPE drgdip_cases_grouped_total counter\n");
        let _ = writeln!(
            s,
            "drgdip_cases_grouped_total{{method=\"drg\"}} {}",
            self.drg_cases.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            s,
            "drgdip_cases_grouped_total{{method=\"dip\"}} {}",
            self.dip_cases.load(Ordering::Relaxed)
        );
        let singles = [
            (
                "drgdip_batches_total",
                "counter",
                "Batch jobs started.",
                &self.batches,
            ),
            (
                "drgdip_reloads_total",
                "counter",
                "Successful reloads.",
                &self.reloads,
            ),
            (
                "drgdip_work_running",
                "gauge",
                "Work running on blocking threads (batches, case lists).",
                &self.working,
            ),
            (
                "drgdip_work_cancelled_total",
                "counter",
                "Work stopped early: past its time or abandoned.",
                &self.cancelled,
            ),
        ];
        for (name, kind, help, value) in singles {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
            let _ = writeln!(s, "{name} {}", value.load(Ordering::Relaxed));
        }
        s
    }

    /// Counts a piece of blocking work as running until the guard is dropped.
    pub fn working(&self) -> Working<'_> {
        self.working.fetch_add(1, Ordering::Relaxed);
        Working(self)
    }
}

/// A piece of blocking work counted in `drgdip_work_running` while it lives.
pub struct Working<'a>(&'a Metrics);

impl Drop for Working<'_> {
    fn drop(&mut self) {
        self.0.working.fetch_sub(1, Ordering::Relaxed);
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Cases a piece of work grouped, to add to the counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counted {
    /// DRG cases.
    pub drg: u64,
    /// DIP cases.
    pub dip: u64,
}
