//! MySQL and MariaDB (mysql_async). The session runs read-only in UTC (so `TIMESTAMP` values and
//! `:last_pull` agree); the prepared statement's rows are read one at a time off the connection
//! as the ingestion takes them.

use mysql_async::consts::ColumnType;
use mysql_async::prelude::Queryable;
use mysql_async::{Column, OptsBuilder, Params, SslOpts, Value as My};
use serde_json::Value;

use super::query::{bind_last_pull, SqlDialect};
use super::settings::{NetworkSettings, SslMode};
use super::{datetime_text, decimal, float, Cell, RowStream, CONNECT_TIMEOUT, FETCH_TIMEOUT};

/// The character set number MySQL gives binary strings (`BLOB`, `BINARY`).
const BINARY_CHARSET: u16 = 63;

fn my_error(e: mysql_async::Error) -> String {
    e.to_string()
}

fn opts(s: &NetworkSettings) -> Result<OptsBuilder, String> {
    let builder = match (&s.url, &s.host) {
        (Some(url), _) => OptsBuilder::from_opts(
            mysql_async::Opts::from_url(url).map_err(|_| "url is not a MySQL URL".to_owned())?,
        ),
        (None, Some(host)) => OptsBuilder::default()
            .ip_or_hostname(host.clone())
            .tcp_port(s.port.unwrap_or(3306))
            .user(s.user.clone())
            .pass(s.password.clone())
            .db_name(s.database.clone()),
        (None, None) => return Err("host (or url) is required".into()),
    };
    let builder = match s.sslmode() {
        SslMode::Disable if s.url.is_none() || s.sslmode.is_some() => builder.ssl_opts(None),
        SslMode::Disable => builder,
        SslMode::Prefer | SslMode::Require => builder.ssl_opts(SslOpts::default()),
    };
    Ok(builder
        // Connect where the settings say, not to a local socket the server advertises.
        .prefer_socket(false)
        .init(vec![
            "SET time_zone = '+00:00'",
            "SET SESSION TRANSACTION READ ONLY",
        ]))
}

fn unsupported(c: &Column) -> bool {
    matches!(c.column_type(), ColumnType::MYSQL_TYPE_GEOMETRY)
}

fn text(bytes: Vec<u8>, what: &str) -> Cell {
    String::from_utf8(bytes).map(Value::String).map_err(|_| {
        format!("{what} that is not UTF-8 text; convert it in the query (for example HEX(column))")
    })
}

fn decode(c: &Column, v: My) -> Cell {
    let ty = c.column_type();
    Ok(match v {
        My::NULL => Value::Null,
        My::Int(i) => i.into(),
        My::UInt(u) => u.into(),
        My::Float(f) => float(f64::from(f)),
        My::Double(d) => float(d),
        My::Date(y, mo, d, h, mi, s, us) => {
            let date = (i32::from(y), mo, d);
            if ty == ColumnType::MYSQL_TYPE_DATE || ty == ColumnType::MYSQL_TYPE_NEWDATE {
                Value::String(format!("{y:04}-{mo:02}-{d:02}"))
            } else {
                let utc = ty == ColumnType::MYSQL_TYPE_TIMESTAMP;
                Value::String(datetime_text(date, (h.into(), mi, s, us), utc))
            }
        }
        My::Time(negative, days, h, mi, s, us) => {
            let hours = days * 24 + u32::from(h);
            let t = datetime_text((0, 1, 1), (hours, mi, s, us), false);
            let t = &t["0000-01-01T".len()..];
            Value::String(if negative {
                format!("-{t}")
            } else {
                t.to_owned()
            })
        }
        My::Bytes(b) => match ty {
            ColumnType::MYSQL_TYPE_DECIMAL | ColumnType::MYSQL_TYPE_NEWDECIMAL => {
                decimal(&String::from_utf8_lossy(&b))
            }
            ColumnType::MYSQL_TYPE_JSON => serde_json::from_slice(&b)
                .map_err(|e| format!("JSON the server sent cannot be read: {e}"))?,
            _ if c.character_set() == BINARY_CHARSET => text(b, "binary data")?,
            _ => text(b, "text")?,
        },
    })
}

/// `:last_pull` as a UTC `DATETIME`.
fn last_pull_value(ms: i64) -> Result<My, String> {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| e.to_string())?;
    let year = u16::try_from(t.year()).map_err(|_| "time out of range".to_owned())?;
    Ok(My::Date(
        year,
        t.month().into(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond(),
    ))
}

/// Connects, prepares the query and starts streaming its rows.
pub async fn start(
    settings: &NetworkSettings,
    sql: &str,
    last_pull_ms: i64,
    batch_size: u32,
) -> Result<RowStream, String> {
    let opts = opts(settings)?;
    let mut conn = tokio::time::timeout(2 * CONNECT_TIMEOUT, mysql_async::Conn::new(opts))
        .await
        .map_err(|_| super::connect_timeout())?
        .map_err(|e| format!("cannot connect to MySQL: {}", my_error(e)))?;
    let bound = bind_last_pull(sql, SqlDialect::Mysql);
    let statement = tokio::time::timeout(FETCH_TIMEOUT, conn.prep(&bound.sql))
        .await
        .map_err(|_| super::fetch_timeout())?
        .map_err(|e| format!("the query failed: {}", my_error(e)))?;
    let columns = statement.columns();
    if let Some(c) = columns.iter().find(|c| unsupported(c)) {
        return Err(format!(
            "column '{}' holds geometry, which has no JSON form; convert it in the query (for \
             example ST_AsText({}))",
            c.name_str(),
            c.name_str()
        ));
    }
    let params = match bound.occurrences {
        0 => Params::Empty,
        n => Params::Positional(vec![last_pull_value(last_pull_ms)?; n]),
    };
    let names = columns.iter().map(|c| c.name_str().into_owned()).collect();
    let (tx, rx) = tokio::sync::mpsc::channel(batch_size.max(1) as usize);
    actix_web::rt::spawn(async move {
        let streamed: Result<(), String> = async {
            let mut result = conn.exec_iter(&statement, params).await.map_err(my_error)?;
            loop {
                let row = tokio::time::timeout(FETCH_TIMEOUT, result.next())
                    .await
                    .map_err(|_| super::fetch_timeout())?
                    .map_err(my_error)?;
                let Some(row) = row else {
                    break;
                };
                let cells: Vec<Cell> = row
                    .unwrap()
                    .into_iter()
                    .zip(columns.iter())
                    .map(|(v, c)| decode(c, v))
                    .collect();
                if tx.send(Ok(cells)).await.is_err() {
                    return Ok(());
                }
            }
            drop(result);
            let _ = conn.disconnect().await;
            Ok(())
        }
        .await;
        if let Err(e) = streamed {
            let _ = tx.send(Err(e)).await;
        }
    });
    Ok(RowStream {
        columns: names,
        rows: rx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_pull_is_a_utc_datetime() {
        // 2026-01-01T00:00:01.5Z
        assert_eq!(
            last_pull_value(1_767_225_601_500).unwrap(),
            My::Date(2026, 1, 1, 0, 0, 1, 500_000)
        );
    }
}
