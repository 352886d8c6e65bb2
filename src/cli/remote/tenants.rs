//! `qanatix tenants create|list` over `/admin/tenants` (API.md §9). Creating needs the master
//! key; listing with a tenant's admin key shows that tenant only.

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::client::{Body, Client};
use super::outcome::{finish, Failure};
use super::table::{self, Table};
use super::{Remote, DEFAULT_TIMEOUT};

#[derive(Debug, Args)]
#[command(after_help = super::EXIT_CODES_HELP)]
pub struct TenantsArgs {
    #[command(subcommand)]
    pub action: TenantsAction,

    #[command(flatten)]
    pub remote: Remote,
}

#[derive(Debug, Subcommand)]
pub enum TenantsAction {
    /// Create a tenant (master key).
    Create {
        /// Tenant id: 1-64 characters of A-Z a-z 0-9 _ -.
        id: String,
        /// Plan: free, starter, pro, enterprise, or one the server's PLANS_FILE names; the
        /// server's DEFAULT_PLAN when omitted.
        #[arg(long)]
        plan: Option<String>,
        /// Display name (the id when omitted).
        #[arg(long)]
        name: Option<String>,
        /// Print the server's answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tenants (all with the master key).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run_tenants(args: TenantsArgs) -> std::process::ExitCode {
    finish("tenants", tenants(&args))
}

fn tenants(args: &TenantsArgs) -> Result<u8, Failure> {
    let client = Client::new(&args.remote, DEFAULT_TIMEOUT)?;
    let url = client.api(&["admin", "tenants"]);
    match &args.action {
        TenantsAction::Create {
            id,
            plan,
            name,
            json,
        } => {
            let mut body = json!({ "tenant_id": id });
            if let Some(plan) = plan {
                body["plan"] = plan.as_str().into();
            }
            if let Some(name) = name {
                body["name"] = name.as_str().into();
            }
            let answer = client.json("POST", &url, Body::Json(&body))?;
            if *json {
                println!("{answer:#}");
            } else {
                println!(
                    "Created tenant {} (plan {}).",
                    table::text(&answer["tenant_id"]),
                    table::text(&answer["plan"])
                );
            }
        }
        TenantsAction::List { json } => {
            let answer = client.get(&url)?;
            if *json {
                println!("{answer:#}");
            } else {
                print!("{}", list(&answer));
            }
        }
    }
    Ok(0)
}

fn list(answer: &Value) -> String {
    Table::of(
        &[
            "TENANT",
            "NAME",
            "PLAN",
            "STATUS",
            "RECORDS",
            "COLLECTIONS",
            "CREATED",
        ],
        &[
            "tenant_id",
            "name",
            "plan",
            "status",
            "entity_count",
            "verticals",
            "created_at",
        ],
        answer,
    )
    .render()
}
