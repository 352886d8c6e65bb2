//! Progress of an upload as the file streams from disk: a bar on a terminal, plain lines
//! otherwise (a log or CI never sees a carriage return). Records are counted as the bytes pass
//! by, so the rate is "records sent per second"; only the server's answer says they are stored.

use std::io::{self, IsTerminal, Read};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Counts a file's records from its bytes without parsing it, one chunk at a time.
#[derive(Debug, Default)]
pub enum RecordCounter {
    /// CSV: line ends outside double quotes, less the header.
    Csv {
        in_quotes: bool,
        line_has_content: bool,
        lines: u64,
    },
    /// NDJSON: non-blank lines.
    Lines { line_has_content: bool, lines: u64 },
    /// A JSON array: values that open at depth one.
    JsonArray {
        depth: u32,
        in_string: bool,
        escaped: bool,
        values: u64,
    },
    /// XML and PDF: records are only known once the server has read the file.
    #[default]
    Unknown,
}

impl RecordCounter {
    pub fn csv() -> Self {
        RecordCounter::Csv {
            in_quotes: false,
            line_has_content: false,
            lines: 0,
        }
    }

    pub fn ndjson() -> Self {
        RecordCounter::Lines {
            line_has_content: false,
            lines: 0,
        }
    }

    pub fn json_array() -> Self {
        RecordCounter::JsonArray {
            depth: 0,
            in_string: false,
            escaped: false,
            values: 0,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        match self {
            RecordCounter::Csv {
                in_quotes,
                line_has_content,
                lines,
            } => {
                for &b in bytes {
                    match (b, *in_quotes) {
                        // A doubled quote inside a field closes and reopens: the state is right.
                        (b'"', q) => {
                            *in_quotes = !q;
                            *line_has_content = true;
                        }
                        (_, true) => {}
                        (b'\n', false) => {
                            *lines += u64::from(*line_has_content);
                            *line_has_content = false;
                        }
                        (b'\r' | b' ' | b'\t', false) => {}
                        (_, false) => *line_has_content = true,
                    }
                }
            }
            RecordCounter::Lines {
                line_has_content,
                lines,
            } => {
                for &b in bytes {
                    match b {
                        b'\n' => {
                            *lines += u64::from(*line_has_content);
                            *line_has_content = false;
                        }
                        b'\r' | b' ' | b'\t' => {}
                        _ => *line_has_content = true,
                    }
                }
            }
            RecordCounter::JsonArray {
                depth,
                in_string,
                escaped,
                values,
            } => {
                for &b in bytes {
                    if *in_string {
                        match (b, *escaped) {
                            (_, true) => *escaped = false,
                            (b'\\', false) => *escaped = true,
                            (b'"', false) => *in_string = false,
                            _ => {}
                        }
                        continue;
                    }
                    match b {
                        b'"' => *in_string = true,
                        b'{' | b'[' => {
                            *values += u64::from(*depth == 1);
                            *depth += 1;
                        }
                        b'}' | b']' => *depth = depth.saturating_sub(1),
                        _ => {}
                    }
                }
            }
            RecordCounter::Unknown => {}
        }
    }

    /// Records seen so far (a last line without a line end counts); `None` when the format's
    /// records cannot be counted from its bytes.
    pub fn count(&self) -> Option<u64> {
        match self {
            RecordCounter::Csv {
                line_has_content,
                lines,
                ..
            } => Some((lines + u64::from(*line_has_content)).saturating_sub(1)),
            RecordCounter::Lines {
                line_has_content,
                lines,
            } => Some(lines + u64::from(*line_has_content)),
            RecordCounter::JsonArray { values, .. } => Some(*values),
            RecordCounter::Unknown => None,
        }
    }
}

/// What is shown while a file streams out, and how.
pub struct Progress {
    total: u64,
    sent: u64,
    counter: RecordCounter,
    started: Instant,
    view: View,
}

enum View {
    Bar(ProgressBar),
    /// Not a terminal: a line every [`PLAIN_EVERY`], and one at the end.
    Lines {
        last: Instant,
    },
    /// `--quiet`.
    Silent,
}

impl Progress {
    pub fn new(total: u64, counter: RecordCounter, quiet: bool) -> Progress {
        let view = if quiet {
            View::Silent
        } else if io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{wide_bar}] {bytes}/{total_bytes} {msg} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            View::Bar(bar)
        } else {
            View::Lines {
                last: Instant::now(),
            }
        };
        Progress {
            total,
            sent: 0,
            counter,
            started: Instant::now(),
            view,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Records per second so far, e.g. "1,234 records (567/s)".
    fn records_text(&self) -> String {
        match self.counter.count() {
            Some(n) => {
                let secs = self.elapsed().as_secs_f64().max(0.001);
                format!("{} records ({:.0} records/s)", n, n as f64 / secs)
            }
            None => "records counted by the server".to_owned(),
        }
    }

    fn advance(&mut self, chunk: &[u8]) {
        self.sent += chunk.len() as u64;
        self.counter.feed(chunk);
        match &self.view {
            View::Bar(bar) => {
                bar.set_position(self.sent);
                bar.set_message(self.records_text());
            }
            View::Lines { last } if last.elapsed() >= PLAIN_EVERY => {
                eprintln!("{}", self.line());
                self.view = View::Lines {
                    last: Instant::now(),
                };
            }
            View::Lines { .. } | View::Silent => {}
        }
    }

    /// One plain progress line: bytes, percentage, records and rate, ETA.
    fn line(&self) -> String {
        let pct = if self.total == 0 {
            100.0
        } else {
            self.sent as f64 * 100.0 / self.total as f64
        };
        let secs = self.elapsed().as_secs_f64();
        let eta = if self.sent == 0 || self.sent >= self.total {
            0.0
        } else {
            secs * (self.total - self.sent) as f64 / self.sent as f64
        };
        format!(
            "sent {} of {} ({pct:.0}%), {}, ETA {eta:.0}s",
            bytes(self.sent),
            bytes(self.total),
            self.records_text()
        )
    }

    /// The file is out: say so, and that the server is now storing it.
    pub fn sent(&mut self) {
        let waiting = "the server is storing them";
        match &self.view {
            View::Bar(bar) => {
                bar.set_position(self.sent);
                bar.set_message(format!("{}; {waiting}", self.records_text()));
                bar.enable_steady_tick(Duration::from_millis(200));
            }
            View::Lines { .. } => eprintln!("{}; {waiting}", self.line()),
            View::Silent => {}
        }
    }

    /// The server answered: the bar goes away, the summary follows.
    pub fn done(&self) {
        if let View::Bar(bar) = &self.view {
            bar.finish_and_clear();
        }
    }

    /// Wraps the file's reader so each chunk read advances this progress.
    pub fn track<R: Read>(&mut self, inner: R) -> Tracked<'_, R> {
        Tracked {
            inner,
            progress: self,
            ended: false,
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.done();
    }
}

pub struct Tracked<'p, R> {
    inner: R,
    progress: &'p mut Progress,
    ended: bool,
}

impl<R: Read> Read for Tracked<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(&buf[..n]);
        if n == 0 && !buf.is_empty() && !self.ended {
            // The whole file is out; what follows is the server's work.
            self.ended = true;
            self.progress.sent();
        }
        Ok(n)
    }
}

/// A byte count for people: "12.3 MB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(mut c: RecordCounter, text: &str, chunk: usize) -> Option<u64> {
        for piece in text.as_bytes().chunks(chunk) {
            c.feed(piece);
        }
        c.count()
    }

    #[test]
    fn csv_rows_with_quoted_line_ends_blank_lines_and_no_final_newline() {
        let csv = "name,notes\r\nA,\"two\nlines\"\n\nB,\"say \"\"hi\"\"\"\r\nC,x";
        for chunk in [1, 3, 100] {
            assert_eq!(count(RecordCounter::csv(), csv, chunk), Some(3), "{chunk}");
        }
        assert_eq!(count(RecordCounter::csv(), "name\n", 4), Some(0));
        assert_eq!(count(RecordCounter::csv(), "", 4), Some(0));
    }

    #[test]
    fn ndjson_lines_skip_blanks() {
        let text = "{\"name\":\"a\"}\n\n  \n{\"name\":\"b\"}";
        assert_eq!(count(RecordCounter::ndjson(), text, 2), Some(2));
    }

    #[test]
    fn json_array_values_at_depth_one() {
        let text = r#"[{"name":"a","d":{"x":[1,2]}}, {"name":"b]\"{"} ,{"name":"c"}]"#;
        for chunk in [1, 5, 1000] {
            assert_eq!(count(RecordCounter::json_array(), text, chunk), Some(3));
        }
    }

    #[test]
    fn xml_is_not_counted() {
        assert_eq!(count(RecordCounter::Unknown, "<a/>", 2), None);
    }

    #[test]
    fn plain_lines_have_no_carriage_returns() {
        let mut p = Progress {
            total: 10,
            sent: 0,
            counter: RecordCounter::ndjson(),
            started: Instant::now(),
            view: View::Silent,
        };
        p.advance(b"{}\n{}\n");
        let line = p.line();
        assert!(line.contains("2 records"), "{line}");
        assert!(line.contains("60%"), "{line}");
        assert!(!line.contains('\r'));
    }

    #[test]
    fn byte_counts_for_people() {
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(12_345_678), "12.3 MB");
    }
}
