//! One pull: open the connector's settings, start its driver, and feed the rows through batch
//! ingestion. Whatever goes wrong with the database ends as a failed ingestion with the reason
//! (passwords redacted), never as an error of the caller's request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::rows::Columns;
use super::settings::{ConnectorType, Settings};
use super::{mysql, postgres, sqlite, Cell, RowStream};
use crate::error::ApiError;
use crate::ingest::batch::{self, BatchSource, Row};
use crate::quota::{WriteError, WriteQuota};
use crate::state::AppState;
use crate::store::{Connector, Ingestion, Tenant};

/// The rows of a stream as batch rows, read as the ingestion asks for them (on a blocking
/// thread: the channel is the bound on what is held in memory). A database error ends the rows
/// and is kept in `failure`.
struct Rows {
    stream: tokio::sync::mpsc::Receiver<Result<Vec<Cell>, String>>,
    columns: Columns,
    failure: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
}

impl Rows {
    fn fail(&self, why: String) {
        let mut slot = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(why);
    }
}

impl Iterator for Rows {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        if self.stop.load(Ordering::Relaxed) {
            self.fail("the server shut down during the pull".into());
            return None;
        }
        match self.stream.blocking_recv() {
            Some(Ok(cells)) => Some(self.columns.record(cells)),
            Some(Err(e)) => {
                self.fail(e);
                None
            }
            None => None,
        }
    }
}

async fn start(
    state: &AppState,
    settings: &Settings,
    connector: &Connector,
    last_pull_ms: i64,
) -> Result<RowStream, String> {
    let (sql, batch) = (connector.query.as_str(), connector.batch_size);
    match settings {
        Settings::Postgresql(n) => postgres::start(n, sql, last_pull_ms, batch).await,
        Settings::Mysql(n) => mysql::start(n, sql, last_pull_ms, batch).await,
        Settings::Sqlite(s) => {
            let file = super::settings::sqlite_file(&state.config.connector_sqlite_dir(), &s.path)?;
            sqlite::start(file, sql, last_pull_ms, batch).await
        }
    }
}

/// The connector's settings, opened and parsed.
fn settings(state: &AppState, connector: &Connector) -> Result<Settings, String> {
    let plain =
        state
            .pulls
            .sealer()
            .open(&connector.tenant_id, connector.id, &connector.sealed_config)?;
    let value: serde_json::Value = serde_json::from_slice(&plain)
        .map_err(|_| "the stored connection settings are damaged".to_owned())?;
    let kind = ConnectorType::parse(&connector.connector_type)
        .ok_or_else(|| format!("unknown connector type '{}'", connector.connector_type))?;
    Settings::parse(kind, &value)
}

/// Pulls the connector's rows into its vertical. `started` (unix ms) is the pull's start;
/// `:last_pull` is the start of the previous successful pull (the epoch before the first).
/// Returns the recorded ingestion; `Err` only for a storage failure.
pub async fn run(
    state: &AppState,
    tenant: &Tenant,
    connector: &Connector,
    started: i64,
    stop: Arc<AtomicBool>,
) -> Result<Ingestion, ApiError> {
    let src = BatchSource {
        tenant: tenant.id.clone(),
        vertical: connector.vertical.clone(),
        entity_type: connector.entity_type.clone(),
        source_type: "connector".into(),
        file_name: Some(connector.name.clone()),
        file_size: 0,
        content_hash: String::new(),
    };
    let fail = |why: String| {
        let src = src.clone();
        async move {
            state
                .write(move |store| Ok(batch::record_failure(store, &src, started, why)?))
                .await
        }
    };
    let settings = match settings(state, connector) {
        Ok(s) => s,
        Err(why) => return fail(why).await,
    };
    let redactor = settings.redactor();
    let last_pull = connector.last_success_started_at.unwrap_or(0);
    let stream = match start(state, &settings, connector, last_pull).await {
        Ok(s) => s,
        Err(why) => return fail(redactor.redact(&why)).await,
    };
    let columns = match Columns::new(stream.columns, &connector.name_column) {
        Ok(c) if c.is_empty() => return fail("the query returns no columns".into()).await,
        Ok(c) => c,
        Err(why) => return fail(why).await,
    };
    let quota = WriteQuota::for_tenant(state, tenant)?;
    let failure = Arc::new(Mutex::new(None));
    let rows = Rows {
        stream: stream.rows,
        columns,
        failure: Arc::clone(&failure),
        stop,
    };
    let ingested = state
        .write(move |store| {
            match batch::ingest_rows(store, &src, rows, &quota) {
                Ok(result) => {
                    let mut ingestion = result.ingestion;
                    let broke_off = failure.lock().unwrap_or_else(|p| p.into_inner()).take();
                    if let Some(why) = broke_off {
                        let why = format!(
                            "the pull stopped after {} rows: {}",
                            ingestion.record_count,
                            redactor.redact(&why)
                        );
                        batch::mark_failed(store, &mut ingestion, why)?;
                    }
                    Ok(ingestion)
                }
                // A capped plan refuses the whole pull: nothing was stored.
                Err(WriteError::Quota(why)) => {
                    Ok(batch::record_failure(store, &src, started, why)?)
                }
                Err(WriteError::Store(e)) => Err(e.into()),
            }
        })
        .await?;
    Ok(ingested)
}
