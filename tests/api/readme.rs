//! The README's quick start, run as written: its `sh` blocks go to bash against a real server
//! (only the address changes), with `curl` failing on any HTTP error. A README example that
//! stops working fails this test.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{self, Server};

const README: &str = include_str!("../../README.md");

/// The README's `sh` blocks, in order.
fn sh_blocks() -> Vec<String> {
    common::sh_blocks(README)
}

/// A working directory that looks like the checkout to the examples: `data/master.key` of the
/// server, `data/sample` and `tests/fixtures` of the repository.
fn checkout_like(srv: &Server) -> tempfile::TempDir {
    let work = tempfile::tempdir().unwrap();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(work.path().join("data")).unwrap();
    std::fs::create_dir_all(work.path().join("tests")).unwrap();
    let key = srv.data_dir().join("master.key");
    if key.exists() {
        std::fs::copy(key, work.path().join("data/master.key")).unwrap();
    }
    std::os::unix::fs::symlink(repo.join("data/sample"), work.path().join("data/sample")).unwrap();
    std::os::unix::fs::symlink(
        repo.join("tests/fixtures"),
        work.path().join("tests/fixtures"),
    )
    .unwrap();
    work
}

fn run_bash(dir: &Path, script: &str) -> String {
    let script = format!(
        "set -euo pipefail\ncurl() {{ command curl --fail-with-body --max-time 30 \"$@\"; }}\n{script}"
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .output()
        .expect("bash");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "README example failed:\n{script}\n--- stdout\n{stdout}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The examples that talk to a running server (not the build, test and benchmark commands),
/// each with whether it is the development-mode example.
fn server_blocks(base: &str) -> Vec<(bool, String)> {
    sh_blocks()
        .into_iter()
        .filter(|b| b.contains("http://127.0.0.1:8000"))
        .map(|b| {
            let dev = b.contains("ENV=development");
            let script = b
                .lines()
                .filter(|l| !l.contains("cargo run"))
                .collect::<Vec<_>>()
                .join("\n")
                .replace("http://127.0.0.1:8000", base)
                // Exports land in the test's own directory, not in the shared /tmp.
                .replace("/tmp/", "./");
            // A loaded test machine may index slower than the README's pause: wait for it.
            let script = match script.lines().find(|l| l.starts_with("sleep ")) {
                Some(pause) => script.replace(
                    pause,
                    "for _ in $(seq 150); do [ \"$(command curl -s -o /dev/null -w '%{http_code}' \
                     \"$BASE/ready\")\" = 200 ] && ! command curl -s \"$BASE/api/v1/search/parts?q=M16\" \
                     -H \"Authorization: Bearer $KEY\" -H 'X-Tenant-Id: acme' | grep -q '\"total_estimate\":0' \
                     && break; sleep 0.2; done",
                ),
                None => script,
            };
            let script = format!("BASE={base}\n{script}");
            (dev, script)
        })
        .collect()
}

#[test]
fn readme_quick_start_works_as_written_in_production() {
    let srv = common::start(&[]);
    let work = checkout_like(&srv);
    let blocks = server_blocks(&srv.base);
    assert!(blocks.len() >= 4, "README lost its examples");
    let script: String = blocks
        .into_iter()
        .filter_map(|(dev, b)| (!dev).then_some(b))
        .collect::<Vec<_>>()
        .join("\n");
    let out = run_bash(work.path(), &script);
    assert!(out.contains("\"tenant_id\":\"acme\""), "{out}");
    assert!(out.contains("sk_live_"), "the first key is captured: {out}");
    assert!(
        out.contains("Hex bolt M16") && out.contains("stainless steel"),
        "the first search finds its answer in the sample: {out}"
    );
    let csv = std::fs::read_to_string(work.path().join("parts.csv")).unwrap();
    assert!(csv.lines().count() > 200, "the export holds the sample");
}

#[test]
fn readme_examples_work_in_development_mode_with_x_tenant_id() {
    let srv = common::start(&[("ENV", "development")]);
    let work = checkout_like(&srv);
    let script: String = server_blocks(&srv.base)
        .into_iter()
        .map(|(_, b)| b)
        .filter(|b| !b.contains("MASTER"))
        .map(|b| {
            format!("KEY=unused\n{b}").replace(
                "-H \"Authorization: Bearer $KEY\"",
                "-H 'X-Tenant-Id: acme'",
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let out = run_bash(work.path(), &script);
    assert!(out.contains("Hex bolt M16"), "{out}");
    assert!(
        out.contains("\"key\":\"sk_live_"),
        "dev-mode key creation: {out}"
    );
}
