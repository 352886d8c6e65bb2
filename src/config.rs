//! Runtime configuration: every setting is an environment variable and a CLI flag.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Parser, ValueEnum};

/// Whether `X-Tenant-Id` alone may authenticate (development mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RunMode {
    #[value(alias = "dev")]
    Development,
    #[value(alias = "prod")]
    Production,
}

#[derive(Clone, Debug, Parser)]
#[command(name = "qanatix", version, about = "Self-hosted QANATIX API server")]
pub struct Config {
    /// `development` (or `dev`) lets `X-Tenant-Id` act as a tenant without a key; `production`
    /// (or `prod`) requires keys.
    #[arg(
        long = "env",
        env = "ENV",
        value_enum,
        default_value = "production",
        ignore_case = true
    )]
    pub mode: RunMode,

    /// Address to bind.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to bind; 0 picks a free port (logged at start).
    #[arg(long, env = "PORT", default_value_t = 8000)]
    pub port: u16,

    /// Where the store, the index, the salt and master.key live.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Operator key (≥ 32 chars); generated into DATA_DIR/master.key when unset.
    #[arg(long, env = "QANATIX_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,

    /// Secret for the keyed hash of API keys; generated into DATA_DIR/key.salt when unset.
    #[arg(long, env = "API_KEY_SALT", hide_env_values = true)]
    pub api_key_salt: Option<String>,

    /// `false` turns off per-tenant and per-IP limits and the X-RateLimit-* headers.
    #[arg(long, env = "RATE_LIMIT_ENABLED", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub rate_limit_enabled: bool,

    /// Plan given to tenants created without one.
    #[arg(long, env = "DEFAULT_PLAN", default_value = "free")]
    pub default_plan: String,

    /// Plan of the tenants that development mode creates on first use of an `X-Tenant-Id`
    /// (uncapped by default, so trying the server out never runs into a plan quota).
    #[arg(long, env = "DEV_PLAN", default_value = "enterprise")]
    pub dev_plan: String,

    /// JSON file of plan overrides (plan names and fields: README, docs/api-notes.md).
    #[arg(long, env = "PLANS_FILE")]
    pub plans_file: Option<PathBuf>,

    /// Secret for HMAC-SHA256 webhook signatures.
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,

    /// `true` lets outgoing webhooks target loopback, private and link-local addresses
    /// (on-prem receivers often live there). Always allowed in development mode.
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE", default_value = "false", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,

    /// First wait before retrying a failed outgoing-webhook delivery, in milliseconds; doubles
    /// per failure up to an hour, for 24 h.
    #[arg(long, env = "WEBHOOK_RETRY_BASE_MS", default_value_t = 10_000)]
    pub webhook_retry_base_ms: u64,

    /// Directory the SQLite files of connectors must be in (paths are taken relative to it);
    /// default `DATA_DIR/sqlite`. A tenant can read only the files the operator puts there.
    #[arg(long, env = "CONNECTOR_SQLITE_DIR")]
    pub connector_sqlite_dir: Option<PathBuf>,

    /// Shortest time between two scheduled pulls of a connector, in seconds.
    #[arg(long, env = "CONNECTOR_MIN_INTERVAL_SECS", default_value_t = 60)]
    pub connector_min_interval_secs: u64,

    /// Tenant whose `visibility: public` records are published read-only, without a key, under
    /// `/open/v1`. Unset: every `/open` route is 404.
    #[arg(long, env = "OPEN_TENANT_ID")]
    pub open_tenant_id: Option<String>,

    /// `true` when a reverse proxy on loopback or a private network forwards the requests:
    /// per-IP limits then use the last address of its `X-Forwarded-For` instead of the proxy's.
    #[arg(long, env = "TRUST_PROXY", default_value = "false", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub trust_proxy: bool,

    /// Failed authentications allowed per client IP per minute before 429.
    #[arg(long, env = "AUTH_FAILURES_PER_MINUTE", default_value_t = 30)]
    pub auth_failures_per_minute: u32,

    /// `false` turns usage metering off (`GET /usage` then reports zeros; quotas on monthly
    /// counts are not enforced). For measuring metering's cost.
    #[arg(long, env = "METERING_ENABLED", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub metering_enabled: bool,

    /// `false` turns text embeddings off: no vectors are computed or kept and every text
    /// search is keyword-only (saves about 300 bytes of memory and disk per entity).
    #[arg(long, env = "EMBEDDINGS_ENABLED", default_value = "true", value_parser = BoolishValueParser::new(), action = clap::ArgAction::Set)]
    pub embeddings_enabled: bool,

    /// Testing only: the usage meter's clock starts at this RFC 3339 time and runs from there.
    #[arg(long, env = "QANATIX_USAGE_CLOCK_START", hide = true)]
    pub usage_clock_start: Option<String>,

    /// Where snapshots are written and listed (default `DATA_DIR/snapshots`). Snapshot files hold
    /// every record and the secrets: keep the directory as private as the data dir.
    #[arg(long, env = "SNAPSHOT_DIR")]
    pub snapshot_dir: Option<PathBuf>,

    /// Take a snapshot on this schedule: `every 24h` or a cron expression (UTC). Unset: only on
    /// request.
    #[arg(long, env = "SNAPSHOT_SCHEDULE")]
    pub snapshot_schedule: Option<String>,

    /// After each snapshot, keep only the newest N in the snapshot dir. Unset: keep all.
    #[arg(long, env = "SNAPSHOT_RETAIN", value_parser = clap::value_parser!(u32).range(1..))]
    pub snapshot_retain: Option<u32>,

    /// HTTP worker threads (default: number of cores).
    #[arg(long, env = "WORKERS")]
    pub workers: Option<usize>,

    /// Log filter in env_logger syntax.
    #[arg(long = "log", env = "RUST_LOG", default_value = "info")]
    pub log: String,
}

impl Config {
    pub fn is_development(&self) -> bool {
        self.mode == RunMode::Development
    }

    /// Whether outgoing webhooks may target internal addresses (API-RECORDS.md §5: refused in
    /// production unless `WEBHOOK_ALLOW_PRIVATE`).
    pub fn webhook_private_targets(&self) -> bool {
        self.webhook_allow_private || self.is_development()
    }

    /// Where connectors' SQLite files live.
    pub fn connector_sqlite_dir(&self) -> PathBuf {
        self.connector_sqlite_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("sqlite"))
    }

    /// Where snapshots go.
    pub fn snapshot_dir(&self) -> PathBuf {
        self.snapshot_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("snapshots"))
    }

    /// A configuration for embedding and tests: defaults plus the given data dir and port.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let mut config = Config::parse_from(["qanatix"]);
        config.data_dir = data_dir.into();
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_spec() {
        let c = Config::parse_from(["qanatix"]);
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.port, 8000);
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.mode, RunMode::Production);
        assert!(c.rate_limit_enabled);
        assert_eq!(c.default_plan, "free");
        assert_eq!(c.dev_plan, "enterprise");
        assert_eq!(c.snapshot_dir(), PathBuf::from("./data/snapshots"));
        assert_eq!((c.snapshot_schedule, c.snapshot_retain), (None, None));
    }

    #[test]
    fn run_modes_have_short_aliases_in_any_case() {
        for (v, mode) in [
            ("dev", RunMode::Development),
            ("DEVELOPMENT", RunMode::Development),
            ("prod", RunMode::Production),
            ("Production", RunMode::Production),
        ] {
            assert_eq!(Config::parse_from(["qanatix", "--env", v]).mode, mode);
        }
        let err = Config::try_parse_from(["qanatix", "--env", "staging"]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("development") && text.contains("production"),
            "{text}"
        );
    }

    #[test]
    fn flags_parse() {
        let c = Config::parse_from([
            "qanatix",
            "--env",
            "development",
            "--port",
            "0",
            "--rate-limit-enabled",
            "false",
        ]);
        assert!(c.is_development());
        assert_eq!(c.port, 0);
        assert!(!c.rate_limit_enabled);
    }
}
