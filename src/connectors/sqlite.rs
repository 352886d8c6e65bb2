//! SQLite (rusqlite, SQLite compiled in). The file is opened read-only, on a blocking thread
//! that steps the statement and hands rows over as the ingestion takes them. `:last_pull` is
//! bound as UTC text in SQLite's own `datetime()` form (`YYYY-MM-DD HH:MM:SS`), which compares
//! correctly with `CURRENT_TIMESTAMP` and `datetime('now')` values.

use std::path::PathBuf;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use super::query::{bind_last_pull, SqlDialect};
use super::{float, Cell, RowStream};

fn last_pull_text(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn decode(v: ValueRef<'_>) -> Cell {
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => i.into(),
        ValueRef::Real(f) => float(f),
        ValueRef::Text(t) => Value::String(
            std::str::from_utf8(t)
                .map_err(|_| "text that is not UTF-8".to_owned())?
                .to_owned(),
        ),
        ValueRef::Blob(b) => Value::String(
            std::str::from_utf8(b)
                .map_err(|_| {
                    "binary data that is not UTF-8 text; convert it in the query (for \
                     example hex(column))"
                        .to_owned()
                })?
                .to_owned(),
        ),
    })
}

/// Opens the file, prepares the query and starts streaming its rows.
pub async fn start(
    file: PathBuf,
    sql: &str,
    last_pull_ms: i64,
    batch_size: u32,
) -> Result<RowStream, String> {
    let bound = bind_last_pull(sql, SqlDialect::Sqlite);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<Result<Vec<String>, String>>();
    let (tx, rx) = tokio::sync::mpsc::channel(batch_size.max(1) as usize);
    actix_web::rt::task::spawn_blocking(move || {
        let opened = Connection::open_with_flags(
            &file,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|c| {
            c.busy_timeout(super::CONNECT_TIMEOUT)?;
            Ok(c)
        });
        let conn = match opened {
            Ok(c) => c,
            Err(e) => {
                let _ = ready_tx.send(Err(format!("cannot open the SQLite database: {e}")));
                return;
            }
        };
        let mut statement = match conn.prepare(&bound.sql) {
            Ok(s) => s,
            Err(e) => {
                let _ = ready_tx.send(Err(format!("the query failed: {e}")));
                return;
            }
        };
        let names: Vec<String> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let n = names.len();
        if ready_tx.send(Ok(names)).is_err() {
            return;
        }
        let rows = match bound.occurrences {
            0 => statement.query([]),
            _ => statement.query([last_pull_text(last_pull_ms)]),
        };
        let mut rows = match rows {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(e.to_string()));
                return;
            }
        };
        loop {
            let sent = match rows.next() {
                Ok(Some(row)) => {
                    let cells = (0..n)
                        .map(|i| row.get_ref(i).map_err(|e| e.to_string()).and_then(decode))
                        .collect();
                    tx.blocking_send(Ok(cells))
                }
                Ok(None) => return,
                Err(e) => {
                    let _ = tx.blocking_send(Err(e.to_string()));
                    return;
                }
            };
            if sent.is_err() {
                return;
            }
        }
    });
    let columns = ready_rx
        .await
        .map_err(|_| "the SQLite reader stopped".to_owned())??;
    Ok(RowStream { columns, rows: rx })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_pull_text_sorts_like_sqlite_datetimes() {
        assert_eq!(last_pull_text(1_767_225_601_500), "2026-01-01 00:00:01");
        assert_eq!(last_pull_text(0), "1970-01-01 00:00:00");
        assert_eq!(decode(ValueRef::Integer(3)), Ok(Value::from(3)));
        assert!(decode(ValueRef::Blob(&[0xff, 0])).is_err());
        assert_eq!(decode(ValueRef::Blob(b"ok")), Ok(Value::from("ok")));
    }
}
