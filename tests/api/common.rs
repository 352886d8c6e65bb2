//! Test harness: runs the real `qanatix` binary on 127.0.0.1:0 with a temp data dir, reads the
//! bound address from its log, and talks HTTP to it. Logs are captured for assertions.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

const CONFIG_VARS: &[&str] = &[
    "ENV",
    "HOST",
    "PORT",
    "DATA_DIR",
    "QANATIX_MASTER_KEY",
    "API_KEY_SALT",
    "RATE_LIMIT_ENABLED",
    "DEFAULT_PLAN",
    "DEV_PLAN",
    "PLANS_FILE",
    "WEBHOOK_SECRET",
    "OPEN_TENANT_ID",
    "TRUST_PROXY",
    "AUTH_FAILURES_PER_MINUTE",
    "WORKERS",
    "RUST_LOG",
    "CONNECTOR_SQLITE_DIR",
    "CONNECTOR_MIN_INTERVAL_SECS",
    "EMBEDDINGS_ENABLED",
];

pub struct Server {
    child: Option<Child>,
    pub base: String,
    dir: Arc<tempfile::TempDir>,
    env: Vec<(String, String)>,
    logs: Arc<Mutex<String>>,
    agent: ureq::Agent,
}

/// Starts a server on a fresh data dir with extra environment.
pub fn start(env: &[(&str, &str)]) -> Server {
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Server::spawn(Arc::new(tempfile::tempdir().unwrap()), env)
}

/// A development-mode server (X-Tenant-Id authenticates) with extra environment. Tenants it
/// creates get the `enterprise` plan unless `DEFAULT_PLAN` is given, so tests that poll do not
/// run into the free plan's rate limits by accident.
pub fn start_dev(env: &[(&str, &str)]) -> Server {
    let mut all = vec![("ENV", "development")];
    match env.iter().find(|(k, _)| *k == "DEFAULT_PLAN") {
        // Tests that name a plan mean it for the tenants development mode creates, too.
        Some((_, plan)) if !env.iter().any(|(k, _)| *k == "DEV_PLAN") => {
            all.push(("DEV_PLAN", *plan))
        }
        Some(_) => {}
        None => all.push(("DEFAULT_PLAN", "enterprise")),
    }
    all.extend_from_slice(env);
    start(&all)
}

/// A server on a data dir prepared by the test, with extra environment.
pub fn start_in(dir: tempfile::TempDir, env: &[(&str, &str)]) -> Server {
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Server::spawn(Arc::new(dir), env)
}

/// [`start_dev`] on a data dir prepared by the test (e.g. holding data in an older format).
pub fn start_dev_in(dir: tempfile::TempDir) -> Server {
    let env = [("ENV", "development"), ("DEFAULT_PLAN", "enterprise")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Server::spawn(Arc::new(dir), env)
}

impl Server {
    fn spawn(dir: Arc<tempfile::TempDir>, env: Vec<(String, String)>) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_qanatix"));
        for var in CONFIG_VARS {
            cmd.env_remove(var);
        }
        cmd.env("RUST_LOG", "info")
            .env("WORKERS", "2")
            .args(["--port", "0", "--data-dir"])
            .arg(dir.path())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn qanatix");
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let sink = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("listening on http://").nth(1) {
                    let _ = tx.send(addr.trim().to_owned());
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start:\n{}", logs.lock().unwrap());
            }
        };
        Server {
            child: Some(child),
            base: format!("http://{addr}"),
            dir,
            env,
            logs,
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .build(),
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn master_key(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("master.key"))
            .unwrap()
            .trim()
            .to_owned()
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    /// The server process's peak resident memory so far (VmHWM), in MB; 0 where /proc is
    /// missing.
    pub fn peak_rss_mb(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
            .map_or(0, |kb| kb / 1024)
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("server running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(&mut self) -> ExitStatus {
        // SAFETY: kill(2) on our own child's pid; no memory is shared.
        let rc = unsafe { libc::kill(self.pid() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill(SIGTERM) failed");
        let mut child = self.child.take().unwrap();
        for _ in 0..400 {
            if let Some(s) = child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(50));
                return s;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        child.kill().unwrap();
        panic!("server did not stop on SIGTERM");
    }

    /// Starts a new process on the same data dir and environment (the old one must be stopped).
    pub fn restart(&self) -> Server {
        self.restart_with(&[])
    }

    /// Like [`Server::restart`] with some variables changed.
    pub fn restart_with(&self, changes: &[(&str, &str)]) -> Server {
        assert!(self.child.is_none(), "stop the server first");
        let mut env: Vec<_> = self
            .env
            .iter()
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .cloned()
            .collect();
        env.extend(changes.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Server::spawn(Arc::clone(&self.dir), env)
    }

    pub fn req(&self, method: &str, path: &str) -> Req<'_> {
        Req {
            server: self,
            method: method.to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(&self, path: &str) -> Req<'_> {
        self.req("GET", path)
    }

    pub fn post(&self, path: &str) -> Req<'_> {
        self.req("POST", path)
    }

    /// Creates a key for `tenant` with the master key and returns its value.
    pub fn create_key(&self, tenant: &str, scopes: &[&str]) -> String {
        let r = self
            .post("/api/v1/auth/keys")
            .bearer(&self.master_key())
            .tenant(tenant)
            .json(&serde_json::json!({"name": "test key", "scopes": scopes}))
            .send();
        assert_eq!(r.status, 201, "{}", r.text);
        r.json()["key"].as_str().unwrap().to_owned()
    }

    /// Creates a tenant with the master key.
    pub fn create_tenant(&self, tenant: &str, plan: &str) {
        let r = self
            .post("/api/v1/admin/tenants")
            .bearer(&self.master_key())
            .json(&serde_json::json!({"tenant_id": tenant, "plan": plan}))
            .send();
        assert_eq!(r.status, 201, "{}", r.text);
    }

    /// A counter or gauge value from `/metrics`.
    pub fn metric(&self, name: &str) -> f64 {
        let text = self.get("/metrics").send().text;
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub struct Req<'a> {
    server: &'a Server,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Req<'_> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn bearer(self, key: &str) -> Self {
        let value = format!("Bearer {key}");
        self.header("Authorization", &value)
    }

    pub fn tenant(self, tenant: &str) -> Self {
        self.header("X-Tenant-Id", tenant)
    }

    pub fn json(self, v: &Value) -> Self {
        self.raw(v.to_string().into_bytes(), "application/json")
    }

    pub fn raw(mut self, body: Vec<u8>, content_type: &str) -> Self {
        self.body = Some(body);
        self.header("Content-Type", content_type)
    }

    pub fn send(self) -> Resp {
        let url = format!("{}{}", self.server.base, self.path);
        let mut req = self.server.agent.request(&self.method, &url);
        for (k, v) in &self.headers {
            req = req.set(k, v);
        }
        let result = match &self.body {
            Some(b) => req.send_bytes(b),
            None => req.call(),
        };
        let res = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{} {}: {e}", self.method, self.path),
        };
        let status = res.status();
        let headers = res
            .headers_names()
            .into_iter()
            .filter_map(|n| {
                res.header(&n)
                    .map(|v| (n.to_ascii_lowercase(), v.to_owned()))
            })
            .collect();
        // Read whole: `into_string` stops at 10 MB (a large export looked empty) and gives
        // nothing for a body that is not UTF-8 (a gzipped one), which is shown lossily instead.
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut res.into_reader(), &mut bytes).expect("a whole body");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Resp {
            status,
            headers,
            text,
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header_u64(&self, name: &str) -> u64 {
        self.header(name)
            .unwrap_or_else(|| panic!("missing header {name}"))
            .parse()
            .unwrap()
    }

    /// Asserts status and error code in one go.
    pub fn expect_error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.json()["code"], code, "{}", self.text);
        assert!(self.json()["detail"].is_string() || self.json()["detail"].is_array());
        self
    }
}

/// Writes a `PLANS_FILE` holding `body` into `dir`; returns its path.
pub fn plans_file(dir: &tempfile::TempDir, body: serde_json::Value) -> String {
    let path = dir.path().join("plans.json");
    std::fs::write(&path, body.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Polls `f` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Server {
    /// Dev-mode batch ingestion for `tenant`; returns the response body.
    pub fn ingest(&self, tenant: &str, vertical: &str, entity_type: &str, body: &Value) -> Value {
        let r = self
            .post(&format!("/api/v1/ingest/{vertical}/{entity_type}/batch"))
            .tenant(tenant)
            .json(body)
            .send();
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
    }

    /// Waits until every listed entity is indexed (embedding_status completed).
    pub fn wait_indexed(&self, tenant: &str, ids: &[Value]) {
        let ok = wait_for(Duration::from_secs(20), || {
            ids.iter().all(|id| {
                let r = self
                    .get(&format!("/api/v1/entities/{}", id.as_str().unwrap()))
                    .tenant(tenant)
                    .send();
                r.status == 200 && r.json()["embedding_status"] == "completed"
            })
        });
        assert!(ok, "entities were not indexed in time");
    }

    /// `GET /ingestions/{id}` for the ingestion an ingest response names.
    pub fn ingestion(&self, tenant: &str, ingest_response: &Value) -> Value {
        let id = ingest_response["ingestion_id"].as_str().unwrap();
        self.get(&format!("/api/v1/ingestions/{id}"))
            .tenant(tenant)
            .send()
            .json()
    }

    /// Ingests the fixture catalog into `parts/item` for `tenant` and waits until searchable.
    pub fn load_catalog(&self, tenant: &str) -> Value {
        let body: Value = serde_json::from_str(include_str!("../fixtures/catalog.json")).unwrap();
        let r = self.ingest(tenant, "parts", "item", &body);
        self.wait_indexed(tenant, r["entity_ids"].as_array().unwrap());
        r
    }

    /// Dev-mode POST search; returns the response.
    pub fn search(&self, tenant: &str, vertical: &str, body: &Value) -> Resp {
        self.post(&format!("/api/v1/search/{vertical}"))
            .tenant(tenant)
            .json(body)
            .send()
    }

    /// Names of the results of a successful search.
    pub fn search_names(&self, tenant: &str, body: &Value) -> Vec<String> {
        let r = self.search(tenant, "parts", body);
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_owned())
            .collect()
    }
}

pub const BOUNDARY: &str = "qanatix-test-boundary-7MA4YWxkTrZu0gW";

/// One multipart part: field name, file name, content type, bytes.
pub type Part<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// A multipart body of the parts.
pub fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file_name, content_type, data) in parts {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes(),
        );
        if let Some(f) = file_name {
            body.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

impl Server {
    /// Posts a multipart body of `parts` to `path` as `tenant` (dev mode).
    pub fn upload(&self, tenant: &str, path: &str, parts: &[Part<'_>]) -> Resp {
        self.post(path)
            .tenant(tenant)
            .raw(
                multipart(parts),
                &format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .send()
    }
}

/// The `sh` code blocks of a Markdown text, in order.
pub fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}
