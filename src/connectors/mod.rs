//! Database connectors (API-RECORDS.md §6): pull rows from an operator's PostgreSQL,
//! MySQL/MariaDB or SQLite database into a vertical, on demand or on a schedule.
//!
//! A pull streams rows from the database (a server-side cursor for PostgreSQL, the row-by-row
//! protocol for MySQL, statement stepping for SQLite) through a bounded channel into the batch
//! ingestion path (`crate::ingest::batch`), so it never holds more than a channel's worth of
//! rows. Settings are sealed at rest ([`sealing`]); `:last_pull` is bound as a parameter
//! ([`query`]); [`worker`] runs pulls and the schedule on its own thread.

pub mod mysql;
pub mod postgres;
pub mod pull;
pub mod query;
pub mod rows;
pub mod schedule;
pub mod sealing;
pub mod settings;
pub mod sqlite;
pub mod worker;

use std::time::Duration;

/// How long connecting (TCP, TLS and authentication) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a pull waits for the database's next rows before giving up.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(300);

/// One value of a row: JSON, or why it has none (the row then goes to the dead-letter entries).
pub type Cell = Result<serde_json::Value, String>;

/// What a driver hands the ingestion: the result's column names, then its rows as they arrive.
/// An `Err` on the channel ends the pull as failed with that message.
pub struct RowStream {
    pub columns: Vec<String>,
    pub rows: tokio::sync::mpsc::Receiver<Result<Vec<Cell>, String>>,
}

/// The message of a pull whose database did not let it log in in time.
pub(crate) fn connect_timeout() -> String {
    format!(
        "could not connect and log in within {} s (is the database reachable?)",
        2 * CONNECT_TIMEOUT.as_secs()
    )
}

/// The message of a pull whose database stopped sending rows.
pub(crate) fn fetch_timeout() -> String {
    format!(
        "the database sent no rows for {} s; the pull was stopped",
        FETCH_TIMEOUT.as_secs()
    )
}

/// `YYYY-MM-DDTHH:MM:SS`, with microseconds when there are any and `Z` for instants in UTC.
pub(crate) fn datetime_text(
    (year, month, day): (i32, u8, u8),
    (hour, minute, second, micros): (u32, u8, u8, u32),
    utc: bool,
) -> String {
    let mut s = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if micros != 0 {
        s.push_str(&format!(".{micros:06}"));
    }
    if utc {
        s.push('Z');
    }
    s
}

/// A float as JSON: a number when finite, else its text (`NaN`, `inf`).
pub(crate) fn float(f: f64) -> serde_json::Value {
    serde_json::Number::from_f64(f).map_or_else(
        || serde_json::Value::String(f.to_string()),
        serde_json::Value::Number,
    )
}

/// A decimal's text as JSON: an integer when it is one, else a float (JSON has no decimals).
pub(crate) fn decimal(text: &str) -> serde_json::Value {
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        return serde_json::Value::Number(i.into());
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => float(f),
        _ => serde_json::Value::String(t.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_take_their_json_forms() {
        assert_eq!(
            datetime_text((2026, 1, 2), (3, 4, 5, 0), true),
            "2026-01-02T03:04:05Z"
        );
        assert_eq!(
            datetime_text((2026, 1, 2), (27, 4, 5, 120), false),
            "2026-01-02T27:04:05.000120"
        );
        assert_eq!(decimal("12.50"), json!(12.5));
        assert_eq!(decimal("-7"), json!(-7));
        assert_eq!(decimal("1e999"), json!("1e999"));
        assert_eq!(float(f64::NAN), json!("NaN"));
    }
}
