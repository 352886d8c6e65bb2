//! Splitting a CSV or NDJSON file that is larger than one upload into parts that each end at a
//! record boundary, so each part is a file the server reads on its own: a CSV part after the
//! first is sent behind a copy of the header line. One pass over the file, constant memory.

use std::io::{self, Read};

/// Where the parts of a file are.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// CSV: length of the header line (with its line end), sent again before every part but
    /// the first; 0 for NDJSON.
    pub header_len: u64,
    /// Byte ranges `[start, end)` of the file, in order, covering all of it.
    pub ranges: Vec<(u64, u64)>,
}

/// Plans parts of at most `budget` bytes each (a repeated CSV header included). `csv` chooses
/// whether line ends inside double quotes are part of a field. Errs with a message when one
/// record alone is over the budget.
pub fn plan(reader: impl Read, csv: bool, budget: u64) -> io::Result<Result<Plan, String>> {
    let mut planner = Planner {
        budget,
        header_len: None,
        csv,
        start: 0,
        last: 0,
        ranges: Vec::new(),
    };
    let mut reader = io::BufReader::with_capacity(1 << 16, reader);
    let mut buf = vec![0u8; 1 << 16];
    let mut offset = 0u64;
    let mut in_quotes = false;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            match b {
                b'"' if csv => in_quotes = !in_quotes,
                b'\n' if !in_quotes => {
                    if let Err(e) = planner.record_end(offset + i as u64 + 1) {
                        return Ok(Err(e));
                    }
                }
                _ => {}
            }
        }
        offset += n as u64;
    }
    if offset > planner.last {
        if let Err(e) = planner.record_end(offset) {
            return Ok(Err(e));
        }
    }
    Ok(Ok(planner.finish(offset)))
}

struct Planner {
    budget: u64,
    header_len: Option<u64>,
    csv: bool,
    /// Where the part being planned starts.
    start: u64,
    /// The furthest record end that still fits in that part.
    last: u64,
    ranges: Vec<(u64, u64)>,
}

impl Planner {
    /// Bytes sent for a part `[start, end)`.
    fn cost(&self, start: u64, end: u64) -> u64 {
        let header = if start > 0 {
            self.header_len.unwrap_or(0)
        } else {
            0
        };
        end - start + header
    }

    fn record_end(&mut self, end: u64) -> Result<(), String> {
        if self.csv && self.header_len.is_none() {
            self.header_len = Some(end);
        }
        if self.cost(self.start, end) <= self.budget {
            self.last = end;
            return Ok(());
        }
        if self.last > self.start {
            self.ranges.push((self.start, self.last));
            self.start = self.last;
            if self.cost(self.start, end) <= self.budget {
                self.last = end;
                return Ok(());
            }
        }
        Err(format!(
            "the record at bytes {}..{end} does not fit in one upload of {} bytes",
            self.start, self.budget
        ))
    }

    fn finish(mut self, len: u64) -> Plan {
        if len > self.start {
            self.ranges.push((self.start, len));
        }
        Plan {
            header_len: if self.csv {
                self.header_len.unwrap_or(0)
            } else {
                0
            },
            ranges: self.ranges,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str, csv: bool, budget: u64) -> Result<Plan, String> {
        plan(text.as_bytes(), csv, budget).unwrap()
    }

    #[test]
    fn csv_parts_end_at_records_and_leave_room_for_the_header() {
        // header 5 bytes, records 4 bytes each; "\"b\nb\"\n" is one quoted record.
        let text = "name\na01\na02\n\"b\nb\"\na03\n";
        let p = parts(text, true, 13).unwrap();
        assert_eq!(p.header_len, 5);
        // Part 1: header + 2 records (13); later parts carry the 5-byte header: 8 left.
        assert_eq!(p.ranges, vec![(0, 13), (13, 19), (19, 23)]);
        let whole: String = p
            .ranges
            .iter()
            .map(|&(a, b)| &text[a as usize..b as usize])
            .collect();
        assert_eq!(whole, text);
    }

    #[test]
    fn ndjson_without_a_final_line_end() {
        let p = parts("{\"a\":1}\n{\"a\":2}\n{\"a\":3}", false, 16).unwrap();
        assert_eq!(p.header_len, 0);
        assert_eq!(p.ranges, vec![(0, 16), (16, 23)]);
    }

    #[test]
    fn a_small_file_is_one_part_and_a_huge_record_is_an_error() {
        assert_eq!(parts("a\nb\n", false, 100).unwrap().ranges, vec![(0, 4)]);
        let e = parts("short\nfar too long a line\n", false, 10).unwrap_err();
        assert!(e.contains("bytes 6..26"), "{e}");
    }
}
