//! Subcommands that talk HTTP to a running server: `import`, `search`, `keys`, `tenants`,
//! `status` (docs/cli.md). They share the connection options ([`Remote`]), one HTTP client
//! ([`client::Client`]) and one mapping of outcomes to exit codes ([`outcome`]).

mod client;
mod import;
mod keys;
mod outcome;
mod parts;
mod progress;
mod search;
mod status;
mod table;
mod tenants;

use std::fmt;
use std::str::FromStr;

use clap::Args;

pub use import::{run_import, ImportArgs};
pub use keys::{run_keys, KeysArgs};
pub use outcome::EXIT_CODES_HELP;
pub use search::{run_search, SearchArgs};
pub use status::{run_status, StatusArgs};
pub use tenants::{run_tenants, TenantsArgs};

/// Seconds a request waits for the server unless `--timeout` says otherwise.
const DEFAULT_TIMEOUT: u64 = 120;

/// Where the server is and who we are to it; every remote subcommand takes these.
#[derive(Clone, Debug, Args)]
pub struct Remote {
    /// Base URL of the server.
    #[arg(
        long,
        env = "QANATIX_URL",
        default_value = "http://127.0.0.1:8000",
        global = true
    )]
    pub url: String,

    /// API key or master key. Prefer the QANATIX_API_KEY variable: a --key value is visible
    /// to other users in `ps`.
    #[arg(long, env = "QANATIX_API_KEY", hide_env_values = true, global = true)]
    pub key: Option<Secret>,

    /// Tenant to act for when the key is the master key (sent as X-Tenant-Id); in a
    /// development-mode server, the tenant to act as without a key.
    #[arg(long, env = "QANATIX_TENANT", global = true)]
    pub tenant: Option<String>,

    /// Seconds to wait for the server: to connect (at most 10), and for each read or write.
    /// Default 120; for `import` 3600, as the server answers only once the whole file is
    /// stored.
    #[arg(long, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: Option<u64>,
}

/// A key value: never shown by `Debug`, so neither a log line nor a panic message carries it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err("the key is empty".into());
        }
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("the key holds whitespace or control characters".into());
        }
        Ok(Secret(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug() {
        let s: Secret = " sk_live_abc ".parse().unwrap();
        assert_eq!(s.expose(), "sk_live_abc");
        assert!(!format!("{s:?}").contains("abc"));
        assert!("".parse::<Secret>().is_err());
        assert!("a b".parse::<Secret>().is_err());
    }
}
