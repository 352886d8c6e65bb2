//! The operator CLI (`qanatix import|search|keys|tenants|status`, docs/cli.md) run as a child
//! process against a real server. Its stdout and stderr are pipes here, so it must print plain
//! lines, never a terminal's carriage-return animation.

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{self, Server};

/// One finished CLI run.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn expect(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(
            !self.stdout.contains('\r') && !self.stderr.contains('\r'),
            "carriage return in non-terminal output:\n{}{}",
            self.stdout,
            self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `qanatix ARGS` with exactly the given connection variables.
fn cli(env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_qanatix"));
    for var in ["QANATIX_URL", "QANATIX_API_KEY", "QANATIX_TENANT"] {
        cmd.env_remove(var);
    }
    let out = cmd
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run qanatix");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `qanatix ARGS` against `server` with `key` in QANATIX_API_KEY.
fn as_key(server: &Server, key: &str, args: &[&str]) -> Run {
    cli(
        &[("QANATIX_URL", &server.base), ("QANATIX_API_KEY", key)],
        args,
    )
}

/// A production server with tenant `acme` (enterprise plan) and an admin key for it.
fn server_with_tenant() -> (Server, String) {
    let server = common::start(&[]);
    server.create_tenant("acme", "enterprise");
    let key = server.create_key("acme", &["admin"]);
    (server, key)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

const CSV: &str = "name,part_number,price\n\
Hex bolt M8,HB-8,0.12\n\
Wing nut M6,WN-6,0.30\n\
Broken widget,BW-9\n\
\"Washer, flat\",WF-10,0.02\n";

#[test]
fn import_reports_partial_rejection_and_where_to_see_it_then_search_finds_the_rest() {
    let (server, key) = server_with_tenant();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "parts.csv", CSV);

    let run = as_key(
        &server,
        &key,
        &["import", &file, "--collection", "parts", "--type", "item"],
    );
    run.expect(4);
    for line in [
        "received:   4",
        "created:    3",
        "updated:    0",
        "rejected:   1",
        "status:     partial",
        "upload id:  ",
    ] {
        assert!(run.stdout.contains(line), "{line:?} in:\n{}", run.stdout);
    }
    // Plain progress lines on a pipe: the last one says what was sent.
    assert!(
        run.stderr.contains("sent ") && run.stderr.contains("4 records"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains(&key) && !run.stderr.contains(&key));

    // The printed command names the DLQ URL; the rejected row is there with its raw input.
    let dlq = run
        .stdout
        .split_whitespace()
        .find(|w| w.starts_with("http") && w.ends_with("/dlq"))
        .unwrap_or_else(|| panic!("no DLQ URL in:\n{}", run.stdout));
    let path = dlq.strip_prefix(&server.base).expect("the server's URL");
    let r = server.get(path).bearer(&key).send();
    assert_eq!(r.status, 200, "{}", r.text);
    let entries = r.json()["entries"].as_array().unwrap().clone();
    assert_eq!(entries.len(), 1, "{}", r.text);
    assert!(entries[0]["raw"].to_string().contains("BW-9"), "{}", r.text);

    // What was stored is searchable, in the collection and across collections.
    let run = as_key(
        &server,
        &key,
        &["search", "hex bolt", "--collection", "parts"],
    );
    run.expect(0);
    assert!(run.stdout.contains("Hex bolt M8"), "{}", run.stdout);
    assert!(run.stdout.lines().next().unwrap().starts_with("SCORE"));
    let run = as_key(&server, &key, &["search", "washer", "--json"]);
    run.expect(0);
    let results = run.json()["results"].as_array().unwrap().clone();
    assert_eq!(results[0]["name"], "Washer, flat");
    assert_eq!(run.json()["searched_collections"][0], "parts");
    let run = as_key(
        &server,
        &key,
        &[
            "search",
            "",
            "-c",
            "parts",
            "-f",
            "price_max=0.2",
            "--format",
            "json",
        ],
    );
    run.expect(0);
    let mut names: Vec<_> = run.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["Hex bolt M8", "Washer, flat"]);
    let run = as_key(&server, &key, &["search", "nothing-like-it", "-c", "parts"]);
    run.expect(0);
    assert!(run.stdout.contains("No results."), "{}", run.stdout);
}

#[test]
fn import_of_clean_ndjson_and_json_exits_zero_and_format_can_be_forced() {
    let (server, key) = server_with_tenant();
    let dir = tempfile::tempdir().unwrap();
    let ndjson = write(
        dir.path(),
        "a.ndjson",
        "{\"name\": \"Gear A\", \"teeth\": 20}\n\n{\"name\": \"Gear B\", \"teeth\": 40}\n",
    );
    let run = as_key(
        &server,
        &key,
        &["import", &ndjson, "-c", "gears", "-t", "gear"],
    );
    run.expect(0);
    assert!(run.stdout.contains("received:   2"), "{}", run.stdout);
    assert!(!run.stdout.contains("dlq"), "{}", run.stdout);

    // A .txt file with --format json; --json prints the server's answer.
    let json = write(
        dir.path(),
        "b.txt",
        r#"[{"name": "Gear C"}, {"name": "Gear D"}]"#,
    );
    let run = as_key(
        &server,
        &key,
        &[
            "import", &json, "-c", "gears", "-t", "gear", "--format", "json", "--json",
        ],
    );
    run.expect(0);
    let answer = run.json();
    assert_eq!(answer["summary"]["created"], 2, "{answer}");
    assert!(run.stderr.is_empty(), "--json is quiet: {}", run.stderr);

    // An extension the CLI cannot read and no --format: usage error before anything is sent.
    let odd = write(dir.path(), "c.dat", "x");
    let run = as_key(
        &server,
        &key,
        &["import", &odd, "-c", "gears", "-t", "gear"],
    );
    run.expect(2);
    assert!(run.stderr.contains("--format"), "{}", run.stderr);

    // The server's own refusal of a file comes back as exit 1 with its detail.
    let bad = write(dir.path(), "d.json", "{not json");
    let run = as_key(
        &server,
        &key,
        &["import", &bad, "-c", "gears", "-t", "gear"],
    );
    run.expect(1);
    assert!(run.stderr.contains("400: "), "{}", run.stderr);
}

#[test]
fn failures_have_their_exit_codes_and_say_why() {
    let (server, key) = server_with_tenant();
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "parts.csv", CSV);
    let import = |key: &str, file: &str| {
        as_key(&server, key, &["import", file, "-c", "parts", "-t", "item"])
    };

    // The master key must name a tenant.
    let run = import(&server.master_key(), &file);
    run.expect(1);
    assert!(
        run.stderr.contains("400: ") && run.stderr.contains("X-Tenant-Id"),
        "{}",
        run.stderr
    );

    // Wrong key: 1, with the server's status and detail.
    let wrong = format!("sk_live_{}", "0".repeat(64));
    let run = import(&wrong, &file);
    run.expect(1);
    assert!(
        run.stderr.contains("401: Invalid API key."),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(&wrong));
    as_key(&server, &wrong, &["search", "x", "-c", "parts"]).expect(1);

    // A key without the ingest scope is refused before the upload is sent.
    let search_only = server.create_key("acme", &["search"]);
    let run = import(&search_only, &file);
    run.expect(1);
    assert!(run.stderr.contains("403: "), "{}", run.stderr);

    // Missing file: a clear local error.
    let missing = dir.path().join("nope.csv");
    let run = import(&key, missing.to_str().unwrap());
    run.expect(2);
    assert!(
        run.stderr.contains("cannot open") && run.stderr.contains("nope.csv"),
        "{}",
        run.stderr
    );

    // Server down: 3, naming the URL.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down = format!("http://127.0.0.1:{port}");
    for args in [
        &["import", file.as_str(), "-c", "parts", "-t", "item"][..],
        &["search", "x"][..],
        &["status"][..],
        &["keys", "list"][..],
    ] {
        let run = cli(&[("QANATIX_URL", &down), ("QANATIX_API_KEY", &key)], args);
        run.expect(3);
        assert!(
            run.stderr.contains(&format!("127.0.0.1:{port}")),
            "{args:?}: {}",
            run.stderr
        );
    }

    // Usage errors: 2, from clap or from checks before anything is sent.
    as_key(&server, &key, &["import", &file]).expect(2);
    let run = as_key(
        &server,
        &key,
        &["import", &file, "-c", "my parts", "-t", "item"],
    );
    run.expect(2);
    assert!(
        run.stderr.contains("--collection: must be"),
        "{}",
        run.stderr
    );
    as_key(&server, &key, &["search", "x", "--filter", "novalue"]).expect(2);
    as_key(&server, &key, &["search", "x", "--limit", "0"]).expect(2);
    cli(&[("QANATIX_URL", "ftp://x")], &["status"]).expect(2);

    // --key works like the variable and is never echoed.
    let run = cli(
        &[("QANATIX_URL", &server.base)],
        &["search", "x", "-c", "parts", "--key", &wrong],
    );
    run.expect(1);
    assert!(!run.stderr.contains(&wrong) && !run.stdout.contains(&wrong));
}

#[test]
fn help_documents_the_exit_codes() {
    let run = cli(&[], &["--help"]);
    run.expect(0);
    assert!(run.stdout.contains("Exit codes"), "{}", run.stdout);
    assert!(run.stdout.contains("4  import only"), "{}", run.stdout);
    let run = cli(&[], &["import", "--help"]);
    run.expect(0);
    assert!(run.stdout.contains("QANATIX_API_KEY"), "{}", run.stdout);
    assert!(run.stdout.contains("Exit codes"), "{}", run.stdout);
}

#[test]
fn keys_create_list_rotate_revoke_round_trip() {
    let (server, admin) = server_with_tenant();
    let me = |key: &str| server.get("/api/v1/auth/me").bearer(key).send().status;

    let run = as_key(
        &server,
        &admin,
        &[
            "keys",
            "create",
            "--name",
            "ci",
            "--scopes",
            "search,ingest",
            "--expires-in",
            "30d",
        ],
    );
    run.expect(0);
    let created = run.stdout.trim().to_owned();
    assert!(
        created.starts_with("sk_live_") && created.len() == 72,
        "{created}"
    );
    assert_eq!(run.stdout.lines().count(), 1, "only the key on stdout");
    assert!(
        run.stderr.contains("cannot be retrieved again"),
        "{}",
        run.stderr
    );
    assert_eq!(me(&created), 200);

    let run = as_key(&server, &admin, &["keys", "list", "--json"]);
    run.expect(0);
    let keys = run.json();
    let ci = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "ci")
        .expect("the new key is listed")
        .clone();
    assert_eq!(ci["scopes"], serde_json::json!(["search", "ingest"]));
    assert!(ci["expires_at"].is_string());
    assert!(
        !run.stdout.contains(&created[12..]),
        "no key values in lists"
    );
    let id = ci["id"].as_str().unwrap().to_owned();
    let table = as_key(&server, &admin, &["keys", "list"]);
    table.expect(0);
    assert!(table.stdout.starts_with("ID "), "{}", table.stdout);
    assert!(table.stdout.contains(&id), "{}", table.stdout);

    let run = as_key(&server, &admin, &["keys", "rotate", &id]);
    run.expect(0);
    let rotated = run.stdout.trim().to_owned();
    assert!(rotated.starts_with("sk_live_") && rotated != created);
    assert_eq!(me(&created), 401, "the old value stops working");
    assert_eq!(me(&rotated), 200);

    as_key(&server, &admin, &["keys", "revoke", &id]).expect(0);
    assert_eq!(me(&rotated), 401, "a revoked key gets 401");
    let run = as_key(&server, &admin, &["keys", "revoke", &id]);
    run.expect(1);
    assert!(run.stderr.contains("404: "), "{}", run.stderr);

    // Validation comes back from the server as exit 1 with its detail.
    let run = as_key(&server, &admin, &["keys", "create", "--scopes", "root"]);
    run.expect(1);
    assert!(run.stderr.contains("422: "), "{}", run.stderr);
    as_key(&server, &admin, &["keys", "create", "--expires-in", "3y"]).expect(2);

    // The master key acts for a tenant named with --tenant / QANATIX_TENANT.
    let master = server.master_key();
    let run = cli(
        &[
            ("QANATIX_URL", &server.base),
            ("QANATIX_API_KEY", &master),
            ("QANATIX_TENANT", "acme"),
        ],
        &["keys", "create", "--name", "by-operator"],
    );
    run.expect(0);
    assert_eq!(me(run.stdout.trim()), 200);
}

#[test]
fn tenants_need_the_master_key_and_status_reports_health_and_counts() {
    let (server, admin) = server_with_tenant();
    let master = server.master_key();

    let run = as_key(
        &server,
        &master,
        &["tenants", "create", "beta", "--plan", "pro"],
    );
    run.expect(0);
    assert!(run.stdout.contains("beta"), "{}", run.stdout);
    let run = as_key(&server, &master, &["tenants", "list", "--json"]);
    run.expect(0);
    let ids: Vec<_> = run
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tenant_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        ids.contains(&"acme".into()) && ids.contains(&"beta".into()),
        "{ids:?}"
    );
    let run = as_key(&server, &master, &["tenants", "list"]);
    run.expect(0);
    assert!(run.stdout.starts_with("TENANT"), "{}", run.stdout);
    let run = as_key(&server, &master, &["tenants", "create", "beta"]);
    run.expect(1);
    assert!(run.stderr.contains("409: "), "{}", run.stderr);
    let run = as_key(
        &server,
        &master,
        &["tenants", "create", "gamma", "--plan", "gold"],
    );
    run.expect(1);
    assert!(run.stderr.contains("unknown plan"), "{}", run.stderr);

    // A tenant's admin key cannot create tenants and lists only its own.
    let run = as_key(&server, &admin, &["tenants", "create", "gamma"]);
    run.expect(1);
    assert!(run.stderr.contains("403: "), "{}", run.stderr);
    let run = as_key(&server, &admin, &["tenants", "list", "--json"]);
    run.expect(0);
    assert_eq!(run.json().as_array().unwrap().len(), 1);

    // Status: health without a key; counts with one.
    let run = cli(&[("QANATIX_URL", &server.base)], &["status"]);
    run.expect(0);
    assert!(
        run.stdout.contains("server:") && run.stdout.contains(": ok"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("ready:    ready"), "{}", run.stdout);
    server.ingest_with_key(&admin);
    let run = as_key(&server, &admin, &["status"]);
    run.expect(0);
    assert!(
        run.stdout.contains("caller:   tenant acme"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("records:  2 (active 2"),
        "{}",
        run.stdout
    );
    let run = as_key(&server, &master, &["status", "--json"]);
    run.expect(0);
    let status = run.json();
    assert_eq!(status["health"]["status"], "ok");
    assert_eq!(status["ready"]["status_code"], 200);
    assert_eq!(status["stats"]["total_entities"], 2);
    // A key without admin scope sees its collections' counts instead.
    let search_only = server.create_key("acme", &["search"]);
    let run = as_key(&server, &search_only, &["status"]);
    run.expect(0);
    assert!(
        run.stdout.contains("records:  2 in 1 collections"),
        "{}",
        run.stdout
    );
    // A wrong key is an error, not a silent "no counts".
    let run = as_key(&server, &format!("sk_live_{}", "1".repeat(64)), &["status"]);
    run.expect(1);
    assert!(run.stderr.contains("401: "), "{}", run.stderr);
}

impl Server {
    /// Two records in `parts/item` through the batch route with `key`.
    fn ingest_with_key(&self, key: &str) {
        let r = self
            .post("/api/v1/upload/parts/item/batch")
            .bearer(key)
            .json(&serde_json::json!([{"name": "Spring"}, {"name": "Clip"}]))
            .send();
        assert_eq!(r.status, 201, "{}", r.text);
    }
}

#[test]
fn docs_examples_work_as_written() {
    let server = common::start(&[]);
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("data")).unwrap();
    std::fs::copy(
        server.data_dir().join("master.key"),
        work.path().join("data/master.key"),
    )
    .unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::os::unix::fs::symlink(repo.join("tests"), work.path().join("tests")).unwrap();
    let script = common::sh_blocks(include_str!("../../docs/cli.md"))
        .join("\n")
        .replace("http://127.0.0.1:8000", &server.base);
    assert!(
        script.contains("qanatix import"),
        "docs/cli.md lost its examples"
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_qanatix")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    for var in ["QANATIX_URL", "QANATIX_API_KEY", "QANATIX_TENANT"] {
        cmd.env_remove(var);
    }
    let out = cmd
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .env("PATH", path)
        .current_dir(work.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "docs/cli.md examples failed:\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(stdout.contains("Hex bolt M8"), "{stdout}");
    let ci_key = std::fs::read_to_string(work.path().join("ci.key")).unwrap();
    assert_eq!(
        server
            .get("/api/v1/auth/me")
            .bearer(ci_key.trim())
            .send()
            .status,
        401,
        "the rotated, then revoked key"
    );
}

/// A server that answers the first request it reads with a 404 (if `answer_first`) and then
/// never answers again, on any connection. Returns its URL.
fn server_that_stops_answering(answer_first: bool) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let answered = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(!answer_first));
        for conn in listener.incoming().take(8) {
            let Ok(mut conn) = conn else { return };
            let answered = std::sync::Arc::clone(&answered);
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                let mut seen = Vec::new();
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                conn.set_read_timeout(Some(std::time::Duration::from_secs(1)))
                    .unwrap();
                while std::time::Instant::now() < deadline {
                    match conn.read(&mut buf) {
                        Ok(0) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                        Err(_) => continue,
                    }
                    let headers_done = seen.windows(4).any(|w| w == b"\r\n\r\n");
                    if headers_done && !answered.swap(true, std::sync::atomic::Ordering::SeqCst) {
                        let body = r#"{"detail":"Not found.","code":"not_found"}"#;
                        let _ = write!(
                            conn,
                            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                    }
                }
            });
        }
    });
    url
}

#[test]
fn a_server_that_stops_answering_times_out_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "parts.csv", CSV);
    let import = [
        "import",
        &file,
        "-c",
        "parts",
        "-t",
        "item",
        "--timeout",
        "2",
    ];
    // The preflight of an import is answered, the upload never is; status gets no answer.
    for (answer_first, args) in [
        (true, &import[..]),
        (false, &["status", "--timeout", "2"][..]),
    ] {
        let url = server_that_stops_answering(answer_first);
        let mut child = Command::new(env!("CARGO_BIN_EXE_qanatix"))
            .env_remove("QANATIX_API_KEY")
            .env("QANATIX_URL", &url)
            .env("QANATIX_TENANT", "acme")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let finished = common::wait_for(std::time::Duration::from_secs(20), || {
            child.try_wait().unwrap().is_some()
        });
        if !finished {
            let _ = child.kill();
            panic!("{args:?} did not time out");
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&url) && stderr.contains("timed out"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn a_file_over_the_part_size_goes_as_several_uploads_split_at_records() {
    let (server, key) = server_with_tenant();
    let dir = tempfile::tempdir().unwrap();
    // 60 rows of about 45 bytes, one quoted field spanning lines, one bad row late in the file.
    let mut csv = String::from("name,part_number,notes\n");
    for i in 0..60 {
        match i {
            7 => csv.push_str("\"Bracket, two\nlines\",BR-7,x\n"),
            50 => csv.push_str("Broken row,BW-50\n"),
            _ => csv.push_str(&format!("Spring washer {i:03},SW-{i:03},plain text\n")),
        }
    }
    let file = write(dir.path(), "many.csv", &csv);
    let run = as_key(
        &server,
        &key,
        &[
            "import",
            &file,
            "-c",
            "parts",
            "-t",
            "item",
            "--part-size",
            "1k",
        ],
    );
    run.expect(4);
    let parts: u64 = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("parts:      "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no parts line:\n{}", run.stdout));
    assert!(parts >= 3, "{}", run.stdout);
    for line in [
        "received:   60",
        "created:    59",
        "rejected:   1",
        "status:     partial",
    ] {
        assert!(run.stdout.contains(line), "{line:?} in:\n{}", run.stdout);
    }
    assert!(run.stderr.contains("60 records"), "{}", run.stderr);
    let dlqs: Vec<_> = run
        .stdout
        .split_whitespace()
        .filter(|w| w.ends_with("/dlq"))
        .collect();
    assert_eq!(
        dlqs.len(),
        1,
        "only the part with the bad row: {}",
        run.stdout
    );
    let r = server
        .get(dlqs[0].strip_prefix(&server.base).unwrap())
        .bearer(&key)
        .send();
    assert!(r.text.contains("BW-50"), "{}", r.text);
    // Every record arrived whole: the quoted two-line name too.
    let run = as_key(
        &server,
        &key,
        &["search", "bracket", "-c", "parts", "--json"],
    );
    run.expect(0);
    assert_eq!(run.json()["results"][0]["name"], "Bracket, two\nlines");

    // Formats that cannot be split are refused before anything is sent.
    let xml = write(
        dir.path(),
        "big.xml",
        &format!("<a>{}</a>", "x".repeat(2000)),
    );
    let run = as_key(
        &server,
        &key,
        &[
            "import",
            &xml,
            "-c",
            "parts",
            "-t",
            "item",
            "--part-size",
            "1k",
        ],
    );
    run.expect(2);
    assert!(run.stderr.contains("only CSV and NDJSON"), "{}", run.stderr);
}
