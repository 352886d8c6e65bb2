//! The HTTP side of the remote subcommands: one blocking client that adds the key (and the
//! tenant, for the master key) to every request and turns every way a request can end into a
//! JSON value or a [`Failure`].

use std::io::Read;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use super::outcome::Failure;
use super::{Remote, Secret};

pub struct Client {
    agent: ureq::Agent,
    base: Url,
    key: Option<Secret>,
    tenant: Option<String>,
}

/// A request body.
pub enum Body<'a> {
    None,
    Json(&'a Value),
    /// A streamed body of a known length with its content type.
    Stream {
        content_type: &'a str,
        length: u64,
        reader: Box<dyn Read + 'a>,
    },
}

impl Client {
    /// A client for `remote`, waiting `default_timeout` seconds unless `--timeout` says.
    pub fn new(remote: &Remote, default_timeout: u64) -> Result<Client, Failure> {
        let base = Url::parse(remote.url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                Failure::usage(format!(
                    "--url/QANATIX_URL must be an http(s) URL such as http://127.0.0.1:8000, not '{}'",
                    remote.url
                ))
            })?;
        let timeout = Duration::from_secs(remote.timeout.unwrap_or(default_timeout));
        // No connection pool: ureq clears a connection's timeouts when it goes back to the
        // pool, so a reused connection would wait for ever. One connection per request costs a
        // command line tool nothing.
        let agent = ureq::AgentBuilder::new()
            .max_idle_connections(0)
            .timeout_connect(timeout.min(Duration::from_secs(10)))
            .timeout_read(timeout)
            .timeout_write(timeout)
            .user_agent(concat!("qanatix-cli/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Client {
            agent,
            base,
            key: remote.key.clone(),
            tenant: remote.tenant.clone(),
        })
    }

    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// The URL of `segments` below the base URL, each segment percent-encoded (so an id or a
    /// collection name cannot change the path).
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// An `/api/v1/...` URL.
    pub fn api(&self, segments: &[&str]) -> Url {
        let mut all = vec!["api", "v1"];
        all.extend_from_slice(segments);
        self.url(&all)
    }

    /// Sends one request and returns the response of a 2xx.
    pub fn send(&self, method: &str, url: &Url, body: Body<'_>) -> Result<ureq::Response, Failure> {
        let res = self.exchange(method, url, body)?;
        match res.status() {
            200..=299 => Ok(res),
            status => Err(Failure::Refused {
                status,
                detail: detail(res),
            }),
        }
    }

    /// Sends one request and returns the response whatever its status, or why there was none.
    fn exchange(&self, method: &str, url: &Url, body: Body<'_>) -> Result<ureq::Response, Failure> {
        let mut req = self.agent.request_url(method, url);
        if let Some(key) = &self.key {
            req = req.set("Authorization", &format!("Bearer {}", key.expose()));
        }
        if let Some(tenant) = &self.tenant {
            req = req.set("X-Tenant-Id", tenant);
        }
        let result = match body {
            Body::None => req.call(),
            Body::Json(value) => req.send_json(value),
            Body::Stream {
                content_type,
                length,
                reader,
            } => req
                .set("Content-Type", content_type)
                .set("Content-Length", &length.to_string())
                .send(reader),
        };
        match result {
            Ok(res) | Err(ureq::Error::Status(_, res)) => Ok(res),
            Err(ureq::Error::Transport(t)) => Err(transport_failure(&self.base, &t)),
        }
    }

    /// A request whose 2xx answer is JSON (`null` for 204 No Content).
    pub fn json(&self, method: &str, url: &Url, body: Body<'_>) -> Result<Value, Failure> {
        let res = self.send(method, url, body)?;
        if res.status() == 204 {
            return Ok(Value::Null);
        }
        self.decode(res)
    }

    /// A request whose 2xx answer is JSON of the shape `T` (fields `T` lacks are skipped
    /// without being kept: an upload's answer lists every record id).
    pub fn json_as<T: DeserializeOwned>(
        &self,
        method: &str,
        url: &Url,
        body: Body<'_>,
    ) -> Result<T, Failure> {
        let res = self.send(method, url, body)?;
        self.decode(res)
    }

    /// Parses an answer as it is read: no copy of the whole text, and no size cap (ureq's
    /// `into_string` stops at 10 MB, less than the answer to a large upload).
    fn decode<T: DeserializeOwned>(&self, res: ureq::Response) -> Result<T, Failure> {
        let reader = std::io::BufReader::new(res.into_reader());
        serde_json::from_reader(reader).map_err(|e| match e.classify() {
            serde_json::error::Category::Io | serde_json::error::Category::Eof => {
                Failure::Unreachable {
                    url: self.base.to_string(),
                    reason: format!("the answer broke off: {e}"),
                }
            }
            _ => Failure::Refused {
                status: 200,
                detail: format!(
                    "the server's answer is not what was expected ({e}); is {} a QANATIX server?",
                    self.base
                ),
            },
        })
    }

    pub fn get(&self, url: &Url) -> Result<Value, Failure> {
        self.json("GET", url, Body::None)
    }

    /// A GET whose error answers are answers too (`/ready` says why in a 503): the status and
    /// the JSON body (`null` when it is not JSON).
    pub fn get_any(&self, url: &Url) -> Result<(u16, Value), Failure> {
        let res = self.exchange("GET", url, Body::None)?;
        let status = res.status();
        let text = res.into_string().unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}

/// The `detail` of an error answer (API.md §2): a message, or a list of validation errors.
fn detail(res: ureq::Response) -> String {
    let status_text = res.status_text().to_owned();
    let text = res.into_string().unwrap_or_default();
    match serde_json::from_str::<Value>(&text) {
        Ok(body) => match &body["detail"] {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    let loc = item["loc"]
                        .as_array()
                        .map(|l| {
                            l.iter()
                                .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                                .collect::<Vec<_>>()
                                .join(".")
                        })
                        .unwrap_or_default();
                    let msg = item["msg"].as_str().unwrap_or("invalid");
                    if loc.is_empty() {
                        msg.to_owned()
                    } else {
                        format!("{loc}: {msg}")
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
            _ => status_text,
        },
        // Not the API's error shape (a proxy in between, say): its first line, kept short.
        Err(_) => {
            let line = text.lines().next().unwrap_or("").trim();
            if line.is_empty() {
                status_text
            } else {
                line.chars().take(200).collect()
            }
        }
    }
}

fn transport_failure(base: &Url, t: &ureq::Transport) -> Failure {
    use ureq::ErrorKind;
    match t.kind() {
        ErrorKind::InvalidUrl | ErrorKind::UnknownScheme => {
            Failure::usage(format!("bad server URL {base}: {t}"))
        }
        _ => {
            let reason = t
                .message()
                .map_or_else(|| t.kind().to_string(), str::to_owned);
            let source = std::error::Error::source(t)
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            Failure::Unreachable {
                url: base.to_string(),
                reason: format!("{reason}{source}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(url: &str) -> Result<Client, Failure> {
        let remote = Remote {
            url: url.into(),
            key: None,
            tenant: None,
            timeout: None,
        };
        Client::new(&remote, 5)
    }

    #[test]
    fn paths_are_encoded_below_the_base() {
        let c = client("http://h:8000").unwrap();
        assert_eq!(
            c.api(&["auth", "keys", "a/b?c"]).as_str(),
            "http://h:8000/api/v1/auth/keys/a%2Fb%3Fc"
        );
        let c = client("https://h/qanatix/").unwrap();
        assert_eq!(
            c.api(&["search", "parts"]).as_str(),
            "https://h/qanatix/api/v1/search/parts"
        );
    }

    #[test]
    fn only_http_urls() {
        assert!(client("ftp://h").is_err());
        assert!(client("127.0.0.1:8000").is_err());
        assert!(client("not a url").is_err());
    }
}
