//! When a connector pulls, or a snapshot is taken, by itself: `every <n><unit>` (`every 15m`,
//! `every 2 hours`) or a cron expression (five fields, or six with seconds first;
//! `@hourly`-style nicknames), in UTC.

use std::str::FromStr;

use croner::Cron;

#[derive(Clone, Debug)]
pub enum Schedule {
    /// Milliseconds between the starts of two pulls.
    Every(i64),
    Cron(Box<Cron>),
}

fn unit_ms(unit: &str) -> Option<i64> {
    Some(match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return None,
    })
}

/// `15m`, `15 m`, `2 hours` → milliseconds.
fn interval(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let unit = text[digits..].trim().to_ascii_lowercase();
    let n: i64 = text[..digits]
        .parse()
        .map_err(|_| format!("'every {text}': the interval must start with a whole number"))?;
    let ms = unit_ms(&unit)
        .ok_or_else(|| format!("'every {text}': unknown unit '{unit}' (use s, m, h or d)"))?;
    n.checked_mul(ms)
        .filter(|&ms| ms > 0 && ms <= 366 * 86_400_000)
        .ok_or_else(|| format!("'every {text}': the interval must be between 1 s and 366 days"))
}

fn utc(ms: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp_millis(ms)
}

impl Schedule {
    /// Parses a schedule; pulls may not start closer together than `min_interval_ms`.
    pub fn parse(raw: &str, min_interval_ms: i64) -> Result<Schedule, String> {
        let raw = raw.trim();
        let schedule = match raw.get(..6).filter(|p| p.eq_ignore_ascii_case("every ")) {
            Some(_) => Schedule::Every(interval(&raw[6..])?),
            None => Schedule::Cron(Box::new(Cron::from_str(raw).map_err(|e| {
                format!("'{raw}' is neither 'every <n><s|m|h|d>' nor a cron expression: {e}")
            })?)),
        };
        let gap = schedule.shortest_gap();
        if gap < min_interval_ms {
            return Err(format!(
                "'{raw}' would run every {} s; the shortest allowed interval is {} s",
                gap / 1000,
                min_interval_ms / 1000
            ));
        }
        Ok(schedule)
    }

    /// Milliseconds between pulls, or for a cron expression the shortest of its next few gaps.
    fn shortest_gap(&self) -> i64 {
        match self {
            Schedule::Every(ms) => *ms,
            Schedule::Cron(_) => {
                let Some(mut prev) = self.next_after(crate::timestamp::now_ms()) else {
                    return i64::MAX;
                };
                let mut gap = i64::MAX;
                for _ in 0..8 {
                    let Some(next) = self.next_after(prev) else {
                        break;
                    };
                    gap = gap.min(next - prev);
                    prev = next;
                }
                gap
            }
        }
    }

    /// The first run strictly after `ms` (unix ms); `None` for a cron expression that never
    /// matches again.
    pub fn next_after(&self, ms: i64) -> Option<i64> {
        match self {
            Schedule::Every(every) => ms.checked_add(*every),
            // Searched from the whole second: croner keeps the milliseconds it is given.
            Schedule::Cron(cron) => cron
                .find_next_occurrence(&utc(ms.div_euclid(1000) * 1000)?, false)
                .ok()
                .map(|t| t.timestamp_millis()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_parse_with_units() {
        for (raw, ms) in [
            ("every 15m", 900_000),
            ("every 15 minutes", 900_000),
            ("EVERY 2h", 7_200_000),
            ("every 1d", 86_400_000),
            ("every 1s", 1_000),
        ] {
            match Schedule::parse(raw, 1_000).unwrap() {
                Schedule::Every(got) => assert_eq!(got, ms, "{raw}"),
                other => panic!("{raw}: {other:?}"),
            }
        }
        for bad in [
            "every",
            "every m",
            "every 5 weeks",
            "every 0m",
            "every -1m",
            "every 999999d",
        ] {
            assert!(Schedule::parse(bad, 1_000).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_minimum_interval_holds_for_both_forms() {
        assert!(Schedule::parse("every 30s", 60_000).is_err());
        assert!(Schedule::parse("every 1m", 60_000).is_ok());
        assert!(Schedule::parse("* * * * * *", 60_000).is_err());
        assert!(Schedule::parse("*/5 * * * *", 60_000).is_ok());
        let e = Schedule::parse("every 10s", 60_000).unwrap_err();
        assert!(e.contains("60 s"), "{e}");
    }

    #[test]
    fn cron_runs_at_its_next_match_in_utc() {
        let s = Schedule::parse("30 2 * * *", 60_000).unwrap();
        // 2026-01-01T00:00:00Z → 02:30 the same day.
        let jan1 = 1_767_225_600_000;
        assert_eq!(s.next_after(jan1), Some(jan1 + (2 * 60 + 30) * 60_000));
        let hourly = Schedule::parse("@hourly", 60_000).unwrap();
        assert_eq!(hourly.next_after(jan1), Some(jan1 + 3_600_000));
        assert_eq!(hourly.next_after(jan1 + 1), Some(jan1 + 3_600_000));
        assert!(Schedule::parse("61 * * * *", 60_000).is_err());
        assert!(Schedule::parse("not a schedule", 60_000).is_err());
        assert_eq!(
            Schedule::parse("every 15m", 60_000)
                .unwrap()
                .next_after(jan1),
            Some(jan1 + 900_000)
        );
    }
}
