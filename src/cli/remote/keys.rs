//! `qanatix keys create|list|rotate|revoke` over `/auth/keys` (API.md §4). A new or rotated
//! key's value goes alone to stdout (so `KEY=$(qanatix keys create ...)` works) and is shown
//! this once; what else the server said goes to stderr.

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::client::{Body, Client};
use super::outcome::{finish, Failure};
use super::table::{self, Table};
use super::{Remote, DEFAULT_TIMEOUT};
use crate::timestamp;

#[derive(Debug, Args)]
#[command(after_help = super::EXIT_CODES_HELP)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub action: KeysAction,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key; prints its value once.
    Create {
        /// A name to recognise the key by (1-100 characters).
        #[arg(long, default_value = "cli")]
        name: String,
        /// Comma-separated scopes: search, ingest (or upload), entities, admin.
        #[arg(long, value_delimiter = ',', default_value = "search")]
        scopes: Vec<String>,
        /// Lifetime, e.g. 90m, 12h, 30d, 2w; the key never expires without it.
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<i64>,
        /// Print the server's answer (with the key) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the tenant's active keys (never their values).
    List {
        /// Include expired keys.
        #[arg(long)]
        include_expired: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Replace a key's value; the old value stops working at once. Prints the new value once.
    Rotate {
        /// The key's id (from `keys list`).
        id: String,
        /// Print the server's answer (with the key) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key; it stops working at once.
    Revoke {
        /// The key's id (from `keys list`).
        id: String,
    },
}

/// Seconds in a lifetime such as `90m`, `12h`, `30d`, `2w` (a bare number is seconds).
fn parse_duration(raw: &str) -> Result<i64, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(split);
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("'{raw}' is not a lifetime such as 90m, 12h, 30d or 2w"))?;
    let unit_secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("unknown unit in '{raw}': use s, m, h, d or w")),
    };
    match n.checked_mul(unit_secs) {
        Some(secs) if secs > 0 && secs <= 100 * 365 * 86_400 => Ok(secs),
        _ => Err(format!("'{raw}' must be between 1s and 100 years")),
    }
}

pub fn run_keys(args: KeysArgs) -> std::process::ExitCode {
    finish("keys", keys(&args))
}

fn keys(args: &KeysArgs) -> Result<u8, Failure> {
    let client = Client::new(&args.remote, DEFAULT_TIMEOUT)?;
    match &args.action {
        KeysAction::Create {
            name,
            scopes,
            expires_in,
            json,
        } => {
            let mut body = json!({"name": name, "scopes": scopes});
            if let Some(secs) = expires_in {
                body["expires_at"] = timestamp::to_rfc3339(timestamp::now() + secs).into();
            }
            let answer = client.json("POST", &client.api(&["auth", "keys"]), Body::Json(&body))?;
            issued(&answer, *json);
        }
        KeysAction::List {
            include_expired,
            json,
        } => {
            let mut url = client.api(&["auth", "keys"]);
            if *include_expired {
                url.query_pairs_mut().append_pair("include_expired", "true");
            }
            let answer = client.get(&url)?;
            if *json {
                println!("{answer:#}");
            } else {
                list(&answer);
            }
        }
        KeysAction::Rotate { id, json } => {
            let url = client.api(&["auth", "keys", id, "rotate"]);
            let answer = client.json("POST", &url, Body::None)?;
            issued(&answer, *json);
        }
        KeysAction::Revoke { id } => {
            client.json("DELETE", &client.api(&["auth", "keys", id]), Body::None)?;
            eprintln!("Revoked key {id}.");
        }
    }
    Ok(0)
}

/// A created or rotated key: the value alone on stdout, the rest on stderr.
fn issued(answer: &Value, as_json: bool) {
    if as_json {
        println!("{answer:#}");
        return;
    }
    println!("{}", answer["key"].as_str().unwrap_or(""));
    eprintln!(
        "id: {}  name: {}  scopes: {}  expires: {}",
        table::text(&answer["id"]),
        table::text(&answer["name"]),
        table::text(&answer["scopes"]),
        table::text(&answer["expires_at"]),
    );
    if let Some(message) = answer["message"].as_str() {
        eprintln!("{message}");
    }
}

fn list(answer: &Value) {
    let t = Table::of(
        &[
            "ID",
            "NAME",
            "PREFIX",
            "SCOPES",
            "CREATED",
            "EXPIRES",
            "LAST USED",
        ],
        &[
            "id",
            "name",
            "prefix",
            "scopes",
            "created_at",
            "expires_at",
            "last_used_at",
        ],
        answer,
    );
    print!("{}", t.render());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        assert_eq!(parse_duration("90m"), Ok(5400));
        assert_eq!(parse_duration("30d"), Ok(30 * 86_400));
        assert_eq!(parse_duration("2w"), Ok(14 * 86_400));
        assert_eq!(parse_duration("45"), Ok(45));
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("3y").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("99999999999999w").is_err());
    }
}
