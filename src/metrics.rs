//! Prometheus metrics: request counts and latency histograms by route pattern, method and status.
//! Route patterns (`/api/v1/auth/keys/{id}`) keep ids and tenant names out of the labels.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::concurrent_map::ConcurrentMap;

const BUCKETS_SECS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Default)]
struct Series {
    count: AtomicU64,
    sum_micros: AtomicU64,
    buckets: [AtomicU64; BUCKETS_SECS.len()],
}

#[derive(Default)]
pub struct Metrics {
    series: ConcurrentMap<(String, String, u16), Series>,
}

impl Metrics {
    pub fn observe(&self, route: &str, method: &str, status: u16, secs: f64) {
        let record = |s: &Series| {
            s.count.fetch_add(1, Ordering::Relaxed);
            s.sum_micros
                .fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
            for (b, le) in s.buckets.iter().zip(BUCKETS_SECS) {
                if secs <= le {
                    b.fetch_add(1, Ordering::Relaxed);
                }
            }
        };
        let key = (route.to_owned(), method.to_owned(), status);
        if let Some(s) = self.series.get(&key) {
            record(&s);
            return;
        }
        record(&self.series.entry(key).or_default());
    }

    /// The exposition text; `extra` lines are appended verbatim (gauges owned elsewhere).
    pub fn render(&self, extra: &[(&str, &str, u64)]) -> String {
        let mut rows: Vec<_> = self.series.iter().collect();
        rows.sort_by(|a, b| a.key().cmp(b.key()));
        let mut out = String::new();
        out.push_str(
            "# HELP qanatix_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE qanatix_http_requests_total counter\n");
        for r in &rows {
            let (route, method, status) = r.key();
            let _ = writeln!(
                out,
                "qanatix_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
                r.count.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP qanatix_http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE qanatix_http_request_duration_seconds histogram\n");
        for r in &rows {
            let (route, method, status) = r.key();
            let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
            for (b, le) in r.buckets.iter().zip(BUCKETS_SECS) {
                let _ = writeln!(
                    out,
                    "qanatix_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    b.load(Ordering::Relaxed)
                );
            }
            let count = r.count.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "qanatix_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "qanatix_http_request_duration_seconds_sum{{{labels}}} {}",
                r.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "qanatix_http_request_duration_seconds_count{{{labels}}} {count}"
            );
        }
        for (name, help, value) in extra {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets() {
        let m = Metrics::default();
        m.observe("/health", "GET", 200, 0.0001);
        m.observe("/health", "GET", 200, 0.02);
        let text = m.render(&[("qanatix_x_total", "x", 3)]);
        assert!(text.contains(
            "qanatix_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} 2"
        ));
        assert!(text.contains("le=\"0.0005\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("qanatix_x_total 3"));
    }
}
