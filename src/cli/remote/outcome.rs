//! How a remote subcommand ends: the exit codes scripts rely on (docs/cli.md, "Exit codes") and
//! the one message printed on stderr for each way of failing.

use std::process::ExitCode;

/// The server refused or failed the request (4xx, 5xx).
pub const EXIT_REFUSED: u8 = 1;
/// Bad arguments or local input (clap's own usage errors exit 2 as well).
pub const EXIT_USAGE: u8 = 2;
/// The server could not be reached: refused connection, unknown host, timeout.
pub const EXIT_UNREACHABLE: u8 = 3;
/// `import` only: the upload was stored, but some rows were rejected.
pub const EXIT_ROWS_REJECTED: u8 = 4;

/// The exit codes, for `qanatix --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes of import, search, keys, tenants and status:
  0  success
  1  the server refused or failed the request (its status and detail are printed on stderr)
  2  usage error: bad arguments, or a missing or unreadable input file
  3  the server could not be reached (connection refused, unknown host, timeout)
  4  import only: the upload completed but some rows were rejected

Connection: --url or QANATIX_URL (default http://127.0.0.1:8000), and the key in QANATIX_API_KEY
(--key works too, but its value is visible in `ps`). See docs/cli.md.

HTTP API reference: /docs on a running server (the OpenAPI 3.1 document is /openapi.json).";

/// Why a remote subcommand failed.
#[derive(Debug)]
pub enum Failure {
    /// The server answered with an error status; `detail` is its message.
    Refused { status: u16, detail: String },
    /// No answer from `url`.
    Unreachable { url: String, reason: String },
    /// Bad arguments or local input, found before anything was sent.
    Usage(String),
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::Usage(message.into())
    }

    fn exit_code(&self) -> u8 {
        match self {
            Failure::Refused { .. } => EXIT_REFUSED,
            Failure::Usage(_) => EXIT_USAGE,
            Failure::Unreachable { .. } => EXIT_UNREACHABLE,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused { status, detail } => write!(f, "{status}: {detail}"),
            Failure::Unreachable { url, reason } => {
                write!(f, "cannot reach the server at {url}: {reason}")
            }
            Failure::Usage(message) => f.write_str(message),
        }
    }
}

/// The exit of a subcommand: its own code on success, the failure's (after saying why on
/// stderr) otherwise.
pub fn finish(command: &str, result: Result<u8, Failure>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("qanatix {command}: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_code_and_says_why() {
        let refused = Failure::Refused {
            status: 401,
            detail: "Invalid API key.".into(),
        };
        assert_eq!(refused.exit_code(), 1);
        assert_eq!(refused.to_string(), "401: Invalid API key.");
        let down = Failure::Unreachable {
            url: "http://127.0.0.1:9".into(),
            reason: "connection refused".into(),
        };
        assert_eq!(down.exit_code(), 3);
        assert!(down.to_string().contains("http://127.0.0.1:9"));
        assert_eq!(Failure::usage("no such file").exit_code(), 2);
    }
}
