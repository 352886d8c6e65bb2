//! PostgreSQL (tokio-postgres). The query runs in a read-only transaction through a portal (a
//! server-side cursor) fetched `batch_size` rows at a time. Values are read from the binary
//! protocol by their column types; a type with no JSON form fails the pull before any row is
//! read, naming the column and the cast that fixes it.

use std::error::Error as _;
use std::sync::OnceLock;

use serde_json::Value;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};
use tokio_postgres::types::{FromSql, Kind, ToSql, Type};

use super::query::{bind_last_pull, SqlDialect};
use super::settings::{NetworkSettings, SslMode};
use super::{datetime_text, decimal, float, Cell, RowStream, CONNECT_TIMEOUT, FETCH_TIMEOUT};

/// An error with its causes (tokio-postgres keeps the server's message in the source).
fn pg_error(e: tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{}: {}", db.severity(), db.message());
        if let Some(d) = db.detail() {
            s.push_str(&format!(" ({d})"));
        }
        if let Some(h) = db.hint() {
            s.push_str(&format!(" hint: {h}"));
        }
        return s;
    }
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(&format!(": {c}"));
        cause = c.source();
    }
    s
}

fn tls() -> tokio_postgres_rustls::MakeRustlsConnect {
    static CONFIG: OnceLock<rustls::ClientConfig> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth()
    });
    tokio_postgres_rustls::MakeRustlsConnect::new(config.clone())
}

fn config(s: &NetworkSettings) -> Result<tokio_postgres::Config, String> {
    let mut c = match (&s.url, &s.host) {
        (Some(url), _) => url
            .parse::<tokio_postgres::Config>()
            .map_err(|_| "url is not a PostgreSQL connection string".to_owned())?,
        (None, Some(host)) => {
            let mut c = tokio_postgres::Config::new();
            c.host(host).port(s.port.unwrap_or(5432));
            if let Some(u) = &s.user {
                c.user(u);
            }
            if let Some(p) = &s.password {
                c.password(p);
            }
            if let Some(db) = &s.database {
                c.dbname(db);
            }
            c
        }
        (None, None) => return Err("host (or url) is required".into()),
    };
    if s.url.is_none() || s.sslmode.is_some() {
        c.ssl_mode(match s.sslmode() {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require => tokio_postgres::config::SslMode::Require,
        });
    }
    c.connect_timeout(CONNECT_TIMEOUT)
        .application_name("qanatix-connector");
    Ok(c)
}

/// A column's bytes as sent, whatever its type: decoded by [`decode`].
struct Raw<'a>(Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A domain's underlying type.
fn base(ty: &Type) -> &Type {
    match ty.kind() {
        Kind::Domain(inner) => base(inner),
        _ => ty,
    }
}

const TEXT_TYPES: &[&str] = &[
    "text", "varchar", "bpchar", "name", "unknown", "xml", "citext",
];
const SCALAR_TYPES: &[&str] = &[
    "bool",
    "int2",
    "int4",
    "int8",
    "oid",
    "float4",
    "float8",
    "numeric",
    "json",
    "jsonb",
    "uuid",
    "timestamptz",
    "timestamp",
    "date",
    "time",
];

fn supported(ty: &Type) -> bool {
    let ty = base(ty);
    match ty.kind() {
        Kind::Enum(_) => true,
        Kind::Array(member) => supported(member),
        _ => TEXT_TYPES.contains(&ty.name()) || SCALAR_TYPES.contains(&ty.name()),
    }
}

fn text(raw: &[u8]) -> Result<Value, String> {
    std::str::from_utf8(raw)
        .map(|s| Value::String(s.to_owned()))
        .map_err(|_| "text that is not UTF-8".to_owned())
}

fn decode(ty: &Type, raw: &[u8]) -> Cell {
    let ty = base(ty);
    let bad = |e: Box<dyn std::error::Error + Sync + Send>| {
        format!("cannot read this {} value: {e}", ty.name())
    };
    match ty.kind() {
        Kind::Enum(_) => return text(raw),
        Kind::Array(member) => {
            let items = Vec::<Raw>::from_sql(ty, raw).map_err(bad)?;
            return items
                .into_iter()
                .map(|r| r.0.map_or(Ok(Value::Null), |b| decode(member, b)))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array);
        }
        _ => {}
    }
    let name = ty.name();
    if TEXT_TYPES.contains(&name) {
        return text(raw);
    }
    Ok(match name {
        "bool" => Value::Bool(bool::from_sql(ty, raw).map_err(bad)?),
        "int2" => i16::from_sql(ty, raw).map_err(bad)?.into(),
        "int4" => i32::from_sql(ty, raw).map_err(bad)?.into(),
        "int8" => i64::from_sql(ty, raw).map_err(bad)?.into(),
        "oid" => u32::from_sql(ty, raw).map_err(bad)?.into(),
        "float4" => float(f64::from(f32::from_sql(ty, raw).map_err(bad)?)),
        "float8" => float(f64::from_sql(ty, raw).map_err(bad)?),
        "numeric" => decimal(
            &rust_decimal::Decimal::from_sql(ty, raw)
                .map_err(bad)?
                .to_string(),
        ),
        "json" | "jsonb" => Value::from_sql(ty, raw).map_err(bad)?,
        "uuid" => Value::String(uuid::Uuid::from_sql(ty, raw).map_err(bad)?.to_string()),
        "timestamptz" => {
            let t = OffsetDateTime::from_sql(ty, raw).map_err(bad)?;
            let t = t.to_offset(time::UtcOffset::UTC);
            Value::String(instant(t.date(), t.time(), true))
        }
        "timestamp" => {
            let t = PrimitiveDateTime::from_sql(ty, raw).map_err(bad)?;
            Value::String(instant(t.date(), t.time(), false))
        }
        "date" => Value::String(Date::from_sql(ty, raw).map_err(bad)?.to_string()),
        "time" => {
            let t = Time::from_sql(ty, raw).map_err(bad)?;
            let s = datetime_text(
                (0, 1, 1),
                (t.hour().into(), t.minute(), t.second(), t.microsecond()),
                false,
            );
            Value::String(s["0000-01-01T".len()..].to_owned())
        }
        other => return Err(format!("type {other} has no JSON form")),
    })
}

fn instant(d: Date, t: Time, utc: bool) -> String {
    datetime_text(
        (d.year(), d.month().into(), d.day()),
        (t.hour().into(), t.minute(), t.second(), t.microsecond()),
        utc,
    )
}

/// `:last_pull` as the type PostgreSQL inferred for it.
fn last_pull_param(ty: &Type, ms: i64) -> Result<Box<dyn ToSql + Sync + Send>, String> {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| e.to_string())?;
    Ok(match base(ty).name() {
        "timestamptz" => Box::new(at),
        "timestamp" => Box::new(PrimitiveDateTime::new(at.date(), at.time())),
        "date" => Box::new(at.date()),
        "text" | "varchar" | "unknown" => Box::new(crate::timestamp::ms_to_rfc3339(ms)),
        "int8" => Box::new(ms.div_euclid(1000)),
        "float8" => Box::new(ms as f64 / 1000.0),
        other => {
            return Err(format!(
                ":last_pull is used where PostgreSQL expects a value of type {other}; compare it \
                 with a timestamp column or cast it (:last_pull::timestamptz)"
            ))
        }
    })
}

/// Connects, prepares the query and starts streaming its rows.
pub async fn start(
    settings: &NetworkSettings,
    sql: &str,
    last_pull_ms: i64,
    batch_size: u32,
) -> Result<RowStream, String> {
    let config = config(settings)?;
    // connect_timeout bounds each TCP attempt; this bounds the whole login.
    let (mut client, connection) = tokio::time::timeout(2 * CONNECT_TIMEOUT, config.connect(tls()))
        .await
        .map_err(|_| super::connect_timeout())?
        .map_err(|e| format!("cannot connect to PostgreSQL: {}", pg_error(e)))?;
    actix_web::rt::spawn(async move {
        if let Err(e) = connection.await {
            log::debug!("connector: PostgreSQL connection ended: {}", pg_error(e));
        }
    });
    let bound = bind_last_pull(sql, SqlDialect::Postgres);
    let statement = tokio::time::timeout(FETCH_TIMEOUT, client.prepare(&bound.sql))
        .await
        .map_err(|_| super::fetch_timeout())?
        .map_err(|e| format!("the query failed: {}", pg_error(e)))?;
    if let Some(c) = statement.columns().iter().find(|c| !supported(c.type_())) {
        return Err(format!(
            "column '{}' has type {}, which has no JSON form; cast it in the query (for \
             example {}::text)",
            c.name(),
            c.type_().name(),
            c.name()
        ));
    }
    let params = statement
        .params()
        .iter()
        .map(|ty| last_pull_param(ty, last_pull_ms))
        .collect::<Result<Vec<_>, _>>()?;
    let columns: Vec<String> = statement
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let types: Vec<Type> = statement
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    let (tx, rx) = tokio::sync::mpsc::channel(batch_size.max(1) as usize);
    actix_web::rt::spawn(async move {
        let streamed: Result<(), String> = async {
            let txn = client
                .build_transaction()
                .read_only(true)
                .start()
                .await
                .map_err(pg_error)?;
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let portal = txn.bind(&statement, &refs).await.map_err(pg_error)?;
            let max_rows = i32::try_from(batch_size.max(1)).unwrap_or(i32::MAX);
            loop {
                let rows = tokio::time::timeout(FETCH_TIMEOUT, txn.query_portal(&portal, max_rows))
                    .await
                    .map_err(|_| super::fetch_timeout())?
                    .map_err(pg_error)?;
                if rows.is_empty() {
                    return Ok(());
                }
                for row in rows {
                    let cells: Vec<Cell> = types
                        .iter()
                        .enumerate()
                        .map(|(i, ty)| match row.try_get::<_, Raw>(i) {
                            Ok(Raw(None)) => Ok(Value::Null),
                            Ok(Raw(Some(b))) => decode(ty, b),
                            Err(e) => Err(pg_error(e)),
                        })
                        .collect();
                    if tx.send(Ok(cells)).await.is_err() {
                        // The ingestion stopped reading; the transaction rolls back on drop.
                        return Ok(());
                    }
                }
            }
        }
        .await;
        if let Err(e) = streamed {
            let _ = tx.send(Err(e)).await;
        }
    });
    Ok(RowStream { columns, rows: rx })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_types_and_their_json_forms() {
        assert!(supported(&Type::INT4) && supported(&Type::TEXT_ARRAY));
        assert!(!supported(&Type::BYTEA) && !supported(&Type::INTERVAL));
        assert_eq!(decode(&Type::INT4, &7i32.to_be_bytes()), Ok(Value::from(7)));
        assert_eq!(decode(&Type::BOOL, &[1]), Ok(Value::Bool(true)));
        assert_eq!(decode(&Type::TEXT, b"abc"), Ok(Value::from("abc")));
        assert!(decode(&Type::TEXT, &[0xff]).is_err());
        assert!(decode(&Type::INT4, &[1]).is_err());
        assert!(last_pull_param(&Type::TIMESTAMPTZ, 0).is_ok());
        assert!(last_pull_param(&Type::BYTEA, 0).is_err());
    }
}
