//! `qanatix status`: `/health`, `/ready` (index rebuild progress), and with a key who it is
//! (`/auth/me`) and the counts its role may see: `/admin/stats` for an admin key or the master
//! key, else each collection's record count (`/collections`). Exits 0 only when the server is
//! up and ready.

use clap::Args;
use serde_json::{json, Value};

use super::client::Client;
use super::outcome::{finish, Failure};
use super::table::text;
use super::{Remote, DEFAULT_TIMEOUT};

#[derive(Debug, Args)]
#[command(after_help = super::EXIT_CODES_HELP)]
pub struct StatusArgs {
    /// Print JSON: {url, health, ready: {status_code, body}, caller, stats, collections}.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub remote: Remote,
}

pub fn run_status(args: StatusArgs) -> std::process::ExitCode {
    finish("status", status(&args))
}

/// What the key's role may see of the counts.
enum Counts {
    Stats(Value),
    Collections(Value),
    Hidden(String),
}

fn status(args: &StatusArgs) -> Result<u8, Failure> {
    let client = Client::new(&args.remote, DEFAULT_TIMEOUT)?;
    let health = client.get(&client.url(&["health"]))?;
    let (ready_code, ready) = client.get_any(&client.url(&["ready"]))?;
    let identified = client.has_key() || args.remote.tenant.is_some();
    let caller = if identified {
        match client.get(&client.api(&["auth", "me"])) {
            Ok(me) => Some(me),
            // The master key names no tenant of its own.
            Err(Failure::Refused { status: 400, .. }) => None,
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    let counts = if identified {
        counts(&client)?
    } else {
        Counts::Hidden("pass a key (QANATIX_API_KEY) to see counts".into())
    };

    if args.json {
        let (stats, collections) = match &counts {
            Counts::Stats(s) => (s.clone(), Value::Null),
            Counts::Collections(c) => (Value::Null, c.clone()),
            Counts::Hidden(_) => (Value::Null, Value::Null),
        };
        println!(
            "{:#}",
            json!({
                "url": client.url(&[]).as_str(),
                "health": health,
                "ready": {"status_code": ready_code, "body": ready},
                "caller": caller,
                "stats": stats,
                "collections": collections,
            })
        );
    } else {
        print_report(
            &client,
            &health,
            ready_code,
            &ready,
            identified,
            caller.as_ref(),
            &counts,
        );
    }
    if ready_code == 200 {
        Ok(0)
    } else {
        Err(Failure::Refused {
            status: ready_code,
            detail: format!("not ready ({})", readiness(&ready)),
        })
    }
}

fn counts(client: &Client) -> Result<Counts, Failure> {
    match client.get(&client.api(&["admin", "stats"])) {
        Ok(stats) => return Ok(Counts::Stats(stats)),
        Err(Failure::Refused { status: 403, .. }) => {}
        Err(e) => return Err(e),
    }
    match client.get(&client.api(&["collections"])) {
        Ok(c) => Ok(Counts::Collections(c)),
        Err(Failure::Refused {
            status: 403,
            detail,
        }) => Ok(Counts::Hidden(format!(
            "not visible to this key ({detail})"
        ))),
        Err(e) => Err(e),
    }
}

fn readiness(ready: &Value) -> String {
    match ready["status"].as_str() {
        Some("ready") => "ready".into(),
        Some("rebuilding") => format!(
            "rebuilding the search index: {} of {} records indexed",
            text(&ready["indexed"]),
            text(&ready["total"])
        ),
        Some(other) => match ready["detail"].as_str() {
            Some(d) => format!("{other}: {d}"),
            None => other.to_owned(),
        },
        None => "unknown".into(),
    }
}

fn print_report(
    client: &Client,
    health: &Value,
    ready_code: u16,
    ready: &Value,
    identified: bool,
    caller: Option<&Value>,
    counts: &Counts,
) {
    println!(
        "server:   {} (qanatix {}): {}",
        client.url(&[]),
        text(&health["version"]),
        text(&health["status"])
    );
    println!("ready:    {} (HTTP {ready_code})", readiness(ready));
    match caller {
        Some(me) => println!(
            "caller:   tenant {}, key {}, scopes {}, plan {}",
            text(&me["tenant_id"]),
            text(&me["name"]),
            text(&me["scopes"]),
            text(&me["plan"])
        ),
        None if identified => println!("caller:   master key (all tenants)"),
        None => {}
    }
    match counts {
        Counts::Stats(s) => {
            let by = &s["entities_by_status"];
            let ix = &s["embedding_status"];
            println!(
                "records:  {} (active {}, archived {}, draft {})",
                text(&s["total_entities"]),
                text(&by["active"]),
                text(&by["archived"]),
                text(&by["draft"])
            );
            println!(
                "indexing: {} indexed, {} pending, {} failed; queue depth {}",
                text(&ix["completed"]),
                text(&ix["pending"]),
                text(&ix["failed"]),
                text(&s["queue_depth"])
            );
        }
        Counts::Collections(c) => {
            let list = c["collections"].as_array().map_or(&[][..], Vec::as_slice);
            let total: u64 = list.iter().filter_map(|x| x["record_count"].as_u64()).sum();
            println!("records:  {total} in {} collections", list.len());
            for x in list {
                println!(
                    "          {}: {}",
                    text(&x["collection"]),
                    text(&x["record_count"])
                );
            }
        }
        Counts::Hidden(why) => println!("records:  {why}"),
    }
}
