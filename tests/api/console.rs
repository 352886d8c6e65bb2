//! The web console in a real headless Chromium, driven over WebDriver (chromedriver): sign-in,
//! search with a filter, an upload with a rejected row, creating and revoking a key, the usage
//! page against `GET /usage`, the master key's tenant list, and the layout at 375 px. A
//! screenshot per scenario goes to `target/console-screenshots/`. Chromium and chromedriver
//! are required (Debian: `apt-get install chromium chromium-driver`, as `.ci/run` does): without
//! them this test fails, it does not skip.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::common::{self, Server};

const INSTALL: &str = "install Debian's `chromium` and `chromium-driver` packages \
     (apt-get install -y chromium chromium-driver; .ci/run does this)";

/// A program on PATH (or at an absolute path), the first of `names` found.
fn program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// A program the suite cannot run without: a missing one fails the test, saying what to install.
fn required(names: &[&str]) -> PathBuf {
    program(names).unwrap_or_else(|| panic!("{} is not installed: {INSTALL}", names[0]))
}

#[test]
#[should_panic(expected = "no-such-browser is not installed: install Debian's `chromium`")]
fn a_missing_browser_fails_the_suite_and_says_what_to_install() {
    required(&["no-such-browser"]);
}

/// chromedriver on a free port, killed when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let bin = required(&["chromedriver"]);
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(&bin)
        .arg(format!("--port={port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let driver = Driver { child, port };
    let ok = common::wait_for(Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(ok, "chromedriver did not listen on port {port}");
    driver
}

struct Browser {
    client: Client,
    base: String,
    shots: PathBuf,
}

impl Browser {
    async fn open(driver: &Driver, base: &str) -> Browser {
        let chromium = required(&["chromium", "chromium-browser", "google-chrome"]);
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                         "--window-size=1280,900"],
            },
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .expect("a Chromium session from chromedriver");
        // target/debug/qanatix → target/console-screenshots
        let shots = Path::new(env!("CARGO_BIN_EXE_qanatix"))
            .parent()
            .and_then(Path::parent)
            .expect("the target dir")
            .join("console-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            client,
            base: base.to_owned(),
            shots,
        }
    }

    async fn goto(&self, hash: &str) {
        let url = format!("{}/console{hash}", self.base);
        self.client.goto(&url).await.unwrap();
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Saves a screenshot, after checking the page shows no JavaScript placeholder where a
    /// value belongs (stored JSON and literals, in `pre` and `code`, may hold a real null).
    async fn shot(&self, name: &str) {
        let text = self
            .js("const m = document.querySelector('main').cloneNode(true); \
                 m.querySelectorAll('pre, code').forEach(e => e.remove()); return m.textContent")
            .await;
        let text = text.as_str().unwrap_or_default();
        for bad in ["null", "undefined", "NaN", "[object"] {
            let found = text
                .split(|c: char| !c.is_alphanumeric() && c != '[')
                .any(|w| w == bad || (bad == "[object" && w.starts_with("[object")));
            assert!(!found, "{name}: the page shows {bad}: {text}");
        }
        self.save_png(name).await;
    }

    async fn save_png(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Polls `script` (a function body returning a value) until it returns something truthy;
    /// on timeout saves a screenshot and fails with what the page shows.
    async fn until(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = self.js(script).await;
            let truthy = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                self.save_png(&format!("failed-{}", what.replace(' ', "-")))
                    .await;
                let page = self.js("return document.body.innerText").await;
                panic!("timed out waiting for {what}; the page shows:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn css(&self, selector: &str) -> fantoccini::elements::Element {
        self.until(
            selector,
            &format!(
                "return document.querySelector({}) !== null",
                json!(selector)
            ),
        )
        .await;
        self.client.find(Locator::Css(selector)).await.unwrap()
    }

    async fn click(&self, selector: &str) {
        self.css(selector).await.click().await.unwrap();
    }

    /// Waits until the page's status line (its aria-live region) reads `text`.
    async fn status_is(&self, text: &str) {
        self.until(
            text,
            &format!(
                "const s = document.querySelector('main .status'); \
                 return s && s.textContent.includes({})",
                json!(text)
            ),
        )
        .await;
    }

    async fn text(&self, selector: &str) -> String {
        self.until(
            selector,
            &format!(
                "const e = document.querySelector({}); return e && e.textContent.trim()",
                json!(selector)
            ),
        )
        .await
        .as_str()
        .unwrap()
        .to_owned()
    }

    async fn sign_in(&self, key: &str, tenant: &str) {
        self.sign_in_attempt(key, tenant).await;
        self.until(
            "navigation",
            "return !document.getElementById('nav').hidden",
        )
        .await;
    }

    async fn sign_in_attempt(&self, key: &str, tenant: &str) {
        self.js("sessionStorage.clear(); return null").await;
        self.goto("").await;
        self.client.refresh().await.unwrap();
        if !key.is_empty() {
            self.css("form.signin input[name=key]")
                .await
                .send_keys(key)
                .await
                .unwrap();
        }
        if !tenant.is_empty() {
            self.css("form.signin input[name=tenant]")
                .await
                .send_keys(tenant)
                .await
                .unwrap();
        }
        self.click("form.signin button[type=submit]").await;
    }

    /// Presses a key on the keyboard (to whatever has focus), as a user would.
    async fn press(&self, key: Key) {
        let key: char = key.into();
        let actions = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key })
            .then(KeyAction::Up { value: key });
        self.client.perform_actions(actions).await.unwrap();
    }

    async fn focused(&self) -> Value {
        self.js("const e = document.activeElement; \
                 return {id: e.id, text: e.textContent.trim().slice(0, 40), \
                         outline: getComputedStyle(e).outlineStyle}")
            .await
    }

    async fn nav(&self) -> Vec<String> {
        let v = self
            .js("return [...document.querySelectorAll('#nav a')].map(a => a.textContent)")
            .await;
        serde_json::from_value(v).unwrap()
    }
}

/// A record as the API has it.
fn record(srv: &Server, admin: &str, id: &str) -> Value {
    let r = srv
        .get(&format!("/api/v1/records/{id}"))
        .bearer(admin)
        .send();
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

fn number(text: &str) -> u64 {
    text.replace(',', "")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("not a count: {text:?}"))
}

#[test]
fn console_in_headless_chromium() {
    let started = Instant::now();
    // Found before the server starts, so a machine without them fails at once and says why.
    let driver = start_driver();
    // Enterprise rates (the suite types faster than the free plan allows) with monthly caps, so
    // the usage page has limits to draw.
    let dir = tempfile::tempdir().unwrap();
    let plans = common::plans_file(
        &dir,
        json!({"enterprise": {"general_rpm": 5000, "search_rpm": 2500,
            "max_searches_per_month": 1000, "max_ingested_records_per_month": 5000,
            "max_entities": 10000}}),
    );
    let srv = common::start_dev(&[("PLANS_FILE", &plans)]);
    srv.load_catalog("acme");
    let admin = srv.create_key("acme", &["admin"]);
    let search_only = srv.create_key("acme", &["search"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let b = rt.block_on(Browser::open(&driver, &srv.base));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(scenarios(&b, &srv, &admin, &search_only))
    }));
    // Ends Chromium with its session (killing chromedriver alone could leave it running).
    let _ = rt.block_on(b.client.close());
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    eprintln!(
        "console browser suite: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn scenarios(b: &Browser, srv: &Server, admin: &str, search_only: &str) {
    sign_in(b, admin).await;
    search_with_filter(b, admin).await;
    upload_with_rejected_row(b, srv, admin).await;
    browse_edit_archive(b, srv, admin).await;
    create_and_revoke_key(b, srv).await;
    usage_matches_api(b, srv, admin).await;
    keyboard(b).await;
    narrow_screen(b).await;
    scopes_decide_pages(b, search_only).await;
    development_mode_tenant(b).await;
    master_key_sees_tenants(b, srv).await;
}

async fn sign_in(b: &Browser, admin: &str) {
    // First paint of the sign-in page from the browser's own timing: the first load (a fresh
    // browser, nothing cached) and reloads (modules revalidated by ETag).
    let mut paints = Vec::new();
    for _ in 0..4 {
        b.goto("").await;
        b.client.refresh().await.unwrap();
        b.css("form.signin input[name=key]").await;
        let paint = b
            .until(
                "paint timing",
                "const p = performance.getEntriesByType('paint') \
                   .find(e => e.name === 'first-contentful-paint'); return p && p.startTime",
            )
            .await;
        paints.push(paint.as_f64().unwrap());
    }
    let mut warm = paints[1..].to_vec();
    warm.sort_by(f64::total_cmp);
    eprintln!(
        "console first contentful paint: first load {:.0} ms, reloads {warm:?} ms (median {:.0})",
        paints[0], warm[1]
    );
    // Generous bounds: the suite runs beside the other tests on a shared machine.
    assert!(paints[0] < 1000.0 && warm[1] < 500.0, "{paints:?}");

    // A wrong key keeps the sign-in form and says why.
    b.sign_in_attempt("sk_live_0000", "").await;
    let error = b.text("form.signin .error").await;
    assert!(
        error.contains("Invalid API key") && error.contains("401"),
        "{error}"
    );
    assert_eq!(
        b.js("return document.getElementById('nav').hidden").await,
        json!(true)
    );

    b.sign_in(admin, "").await;
    assert_eq!(
        b.nav().await,
        ["Search", "Records", "Uploads", "Keys", "Usage"]
    );
    assert!(b.text("#who-text").await.contains("acme"));
    // The key is in session storage only: not in the URL, not in a cookie.
    let leak = b
        .js("return [location.href, document.cookie, JSON.stringify(localStorage)]")
        .await;
    assert!(!leak.to_string().contains(admin), "{leak}");
    let stored = b
        .js("return sessionStorage.getItem('qanatix.console.session')")
        .await;
    assert!(stored.as_str().unwrap().contains(admin));
    b.shot("01-signed-in").await;
}

async fn search_with_filter(b: &Browser, admin: &str) {
    b.goto("#/search").await;
    let stainless = b
        .css("fieldset.facet[data-field=material] input[data-value='stainless steel']")
        .await;
    b.css("#q").await.send_keys("hex bolt m8").await.unwrap();
    stainless.click().await.unwrap();
    let names = b
        .until(
            "filtered results",
            "const n = [...document.querySelectorAll('#results .name')].map(e => e.textContent); \
             const b = document.getElementById('curl').textContent; \
             return n.length && n.every(x => x.includes('stainless')) && b.includes('material_in') \
                && b.includes('hex bolt m8') ? n : null",
        )
        .await;
    assert!(
        names
            .as_array()
            .unwrap()
            .contains(&json!("Hex bolt M8x20 stainless steel A2")),
        "{names}"
    );
    let count = b
        .text("fieldset.facet[data-field=material] label:has(input[data-value='stainless steel']) .count")
        .await;
    assert_ne!(count, "(0)");
    let curl = b.text("#curl").await;
    assert!(
        curl.contains("$QANATIX_KEY") && !curl.contains(admin),
        "{curl}"
    );
    assert!(b.text(".timings").await.contains("search"));
    b.shot("02-search-filtered").await;

    // The match mode goes into the request and the answer says which reading ran.
    let seen = b
        .until(
            "a search by meaning",
            "const m = document.getElementById('mode'); \
             if (m.value !== 'semantic') { m.value = 'semantic'; m.dispatchEvent(new Event('change')); } \
             const i = document.querySelector('.search-layout p.status').textContent; \
             const c = document.getElementById('curl').textContent; \
             return i.includes('semantic') && c.includes('\"mode\":\"semantic\"') ? i : null",
        )
        .await;
    assert!(seen.as_str().unwrap().contains("semantic"), "{seen}");
}

async fn upload_with_rejected_row(b: &Browser, srv: &Server, admin: &str) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("gaskets.csv");
    std::fs::write(
        &csv,
        "name,part_number,material\nGasket A,GK-1,NBR\nGasket B,GK-2\nGasket C,GK-3,EPDM\n",
    )
    .unwrap();
    b.goto("#/uploads").await;
    let collection = b.css("#up-collection").await;
    collection.clear().await.unwrap();
    collection.send_keys("parts").await.unwrap();
    b.css("#up-file")
        .await
        .send_keys(csv.to_str().unwrap())
        .await
        .unwrap();
    let rejected = b.text("#up-summary dd[data-key=rejected]").await;
    assert_eq!(rejected, "1");
    assert_eq!(b.text("#up-summary dd[data-key=accepted]").await, "2");
    let row = b
        .until(
            "the rejected row",
            "const r = document.querySelector('#dlq tbody tr'); \
             return r && [...r.cells].map(c => c.textContent)",
        )
        .await;
    assert_eq!(row[2], "ragged_row", "{row}");
    assert!(row[4].as_str().unwrap().contains("Gasket B"), "{row}");
    let id = b.text("#up-summary dd[data-key=upload]").await;
    let dlq = srv
        .get(&format!("/api/v1/uploads/{id}/dlq"))
        .bearer(admin)
        .send()
        .json();
    let entry = &dlq["entries"][0];
    assert_eq!(dlq["entries"].as_array().unwrap().len(), 1, "{dlq}");
    assert_eq!(row[0], entry["row"].to_string(), "{dlq}");
    assert_eq!(row[3], entry["message"], "{dlq}");
    let progress = b
        .js("return document.getElementById('up-progress').value")
        .await;
    assert_eq!(progress, json!(1));
    b.shot("03-upload-dlq").await;
}

async fn browse_edit_archive(b: &Browser, srv: &Server, admin: &str) {
    let rows = "const r = [...document.querySelectorAll('main tbody tr')]; \
                return r.map(x => x.cells[0].textContent)";
    b.goto("#/records").await;
    let total = srv
        .get("/api/v1/records?status=active&limit=100")
        .bearer(admin)
        .send()
        .json()["records"]
        .as_array()
        .unwrap()
        .len();
    assert!(
        total > 20 && total <= 40,
        "{total} records: the test wants two pages"
    );
    let first = b
        .until(
            "the first page",
            &format!("const n = (() => {{ {rows} }})(); return n.length === 20 ? n : null"),
        )
        .await;
    b.click(".pager button:last-child").await;
    let second = b
        .until(
            "the second page",
            &format!(
                "const n = (() => {{ {rows} }})(); return n.length === {} ? n : null",
                total - 20
            ),
        )
        .await;
    for name in second.as_array().unwrap() {
        assert!(
            !first.as_array().unwrap().contains(name),
            "{name} on both pages"
        );
    }
    b.shot("04-records-page-2").await;

    b.click("main tbody tr a").await;
    b.css("#patch").await;
    let hash = b.js("return location.hash").await;
    let id = hash
        .as_str()
        .unwrap()
        .trim_start_matches("#/records/")
        .to_owned();
    let patch = b.css("#patch").await;
    patch.clear().await.unwrap();
    patch
        .send_keys(r#"{"description": "edited in the console", "data": {"stock": 7}}"#)
        .await
        .unwrap();
    b.click("main form button[type=submit]").await;
    b.status_is("Saved.").await;
    let stored = record(srv, admin, &id);
    assert_eq!(stored["description"], "edited in the console", "{stored}");
    assert_eq!(stored["data"]["stock"], 7, "{stored}");
    assert!(b
        .text("#record-json")
        .await
        .contains("edited in the console"));

    // Not valid JSON: refused in the page, nothing sent.
    patch.clear().await.unwrap();
    patch.send_keys("{nope").await.unwrap();
    b.click("main form button[type=submit]").await;
    b.status_is("not valid JSON").await;

    b.click("#archive").await;
    b.click("#archive-confirm").await;
    b.status_is("Archived.").await;
    let stored = record(srv, admin, &id);
    assert_eq!(stored["status"], "archived", "{stored}");
    b.shot("05-record-archived").await;
}

async fn create_and_revoke_key(b: &Browser, srv: &Server) {
    b.goto("#/keys").await;
    b.css("#key-name")
        .await
        .send_keys("browser key")
        .await
        .unwrap();
    // datetime-local's typing order depends on the locale; the value property does not.
    b.js("document.getElementById('key-expires').value = '2999-01-01T00:00'; return null")
        .await;
    b.click("#key-create button[type=submit]").await;
    let value = b.text("#new-key-value").await;
    assert!(value.starts_with("sk_live_"), "{value}");
    let me = srv.get("/api/v1/auth/me").bearer(&value).send();
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["name"], "browser key");
    assert!(
        me.json()["expires_at"]
            .as_str()
            .unwrap()
            .starts_with("2999-01-01"),
        "{}",
        me.text
    );
    b.until(
        "the new key in the list",
        "return document.querySelector('#key-list tr[data-name=\"browser key\"]')",
    )
    .await;
    b.shot("06-key-created").await;

    b.click("#key-list tr[data-name=\"browser key\"] button[data-action=rotate]")
        .await;
    let rotated = b
        .until(
            "the rotated value",
            &format!(
                "const v = document.getElementById('new-key-value'); \
                 return v && v.textContent !== {} && v.textContent",
                json!(value)
            ),
        )
        .await;
    let rotated = rotated.as_str().unwrap().to_owned();
    srv.get("/api/v1/auth/me")
        .bearer(&value)
        .send()
        .expect_error(401, "invalid_api_key");
    let value = rotated;
    assert_eq!(srv.get("/api/v1/auth/me").bearer(&value).send().status, 200);

    let revoke = "#key-list tr[data-name=\"browser key\"] button[data-action=revoke]";
    let button = b.css(revoke).await;
    button.click().await.unwrap();
    button.click().await.unwrap();
    b.until(
        "the key to leave the list",
        "return document.querySelector('#key-list tr[data-name=\"browser key\"]') === null \
           && document.querySelector('#key-list table') !== null",
    )
    .await;
    srv.get("/api/v1/auth/me")
        .bearer(&value)
        .send()
        .expect_error(401, "invalid_api_key");
    b.shot("07-key-revoked").await;
}

async fn usage_matches_api(b: &Browser, srv: &Server, admin: &str) {
    b.goto("#/usage").await;
    let shown = b
        .until(
            "usage counters",
            "const v = k => { const e = document.querySelector(`[data-counter=${k}] .value`); \
               return e && e.textContent }; \
             const all = ['requests', 'searches', 'ingested_records', 'entities_created'].map(v); \
             return all.every(x => x) ? all : null",
        )
        .await;
    let shown: Vec<u64> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|v| number(v.as_str().unwrap()))
        .collect();
    let api = srv.get("/api/v1/usage").bearer(admin).send().json();
    let u = &api["usage"];
    assert_eq!(shown[1], u["searches"].as_u64().unwrap(), "{api}");
    assert_eq!(shown[2], u["ingested_records"].as_u64().unwrap(), "{api}");
    assert_eq!(shown[3], u["entities_created"].as_u64().unwrap(), "{api}");
    // This request counted too, after the page read its numbers.
    let requests = u["requests"].as_u64().unwrap();
    assert!(
        shown[0] < requests && shown[0] + 3 >= requests,
        "{shown:?} {api}"
    );
    // The chart has a column per day so far, today's holding the requests the API reports
    // for today (up to the few made since the page read them).
    let today = api["daily"].as_array().unwrap().last().unwrap().clone();
    let columns = b
        .js("return [...document.querySelectorAll('#daily g')].map(g => [g.dataset.date, Number(g.dataset.requests)])")
        .await;
    let columns = columns.as_array().unwrap();
    assert_eq!(
        columns.len(),
        api["daily"].as_array().unwrap().len(),
        "{api}"
    );
    let last = columns.last().unwrap();
    assert_eq!(last[0], today["date"]);
    let (drawn, reported) = (
        last[1].as_u64().unwrap(),
        today["requests"].as_u64().unwrap(),
    );
    assert!(
        drawn > 0 && drawn < reported && drawn + 3 >= reported,
        "{last:?} {today}"
    );
    b.shot("08-usage").await;
}

/// The page works from the keyboard: a new page puts focus on its heading, so the next Tab
/// reaches the page's first control, with its focus visible; the skip link lands in the page
/// without being taken for a route.
async fn keyboard(b: &Browser) {
    b.goto("#/search").await;
    b.client.refresh().await.unwrap();
    b.css("#results .result").await;
    let start = b
        .until(
            "focus on the heading",
            "const e = document.activeElement; return e.tagName === 'H1' && e.textContent",
        )
        .await;
    assert_eq!(start, "Search");
    b.press(Key::Tab).await;
    let first = b.focused().await;
    assert_eq!(first["id"], "collection", "{first}");
    assert_ne!(first["outline"], "none", "focus is not visible: {first}");
    b.js("document.querySelector('.skip').focus(); return null")
        .await;
    assert_eq!(b.focused().await["text"], "Skip to content");
    b.press(Key::Enter).await;
    assert_eq!(b.focused().await["id"], "main");
    assert_eq!(b.js("return location.hash").await, "#/search");
}

async fn narrow_screen(b: &Browser) {
    b.client.set_window_size(375, 812).await.unwrap();
    b.goto("#/search").await;
    b.css("#results .result").await;
    let widths = b
        .js("return [window.innerWidth, document.documentElement.scrollWidth]")
        .await;
    let (inner, scroll) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    assert!(scroll <= inner, "horizontal scrolling at 375 px: {widths}");
    b.shot("09-search-375px").await;
    b.client.set_window_size(1280, 900).await.unwrap();
}

async fn scopes_decide_pages(b: &Browser, search_only: &str) {
    b.click("#sign-out").await;
    b.css("form.signin").await;
    b.sign_in(search_only, "").await;
    assert_eq!(b.nav().await, ["Search"]);
    b.goto("#/keys").await;
    b.until("the search page", "return location.hash === '#/search'")
        .await;
    b.shot("10-search-scope-only").await;
}

async fn development_mode_tenant(b: &Browser) {
    b.click("#sign-out").await;
    b.sign_in("", "acme").await;
    assert_eq!(
        b.nav().await,
        ["Search", "Records", "Uploads", "Keys", "Usage"]
    );
    let who = b.text("#who-text").await;
    assert!(
        who.contains("acme") && who.contains("development mode"),
        "{who}"
    );
}

async fn master_key_sees_tenants(b: &Browser, srv: &Server) {
    b.sign_in(&srv.master_key(), "").await;
    assert_eq!(b.nav().await, ["Tenants"]);
    let tenants = b
        .until(
            "the tenant list",
            "const r = [...document.querySelectorAll('main tbody tr')]; \
             return r.length ? r.map(x => x.cells[0].textContent) : null",
        )
        .await;
    assert_eq!(tenants, json!(["acme"]));
    let records = b.text("#all-stats dd:nth-of-type(2)").await;
    let stats = srv
        .get("/api/v1/admin/stats")
        .bearer(&srv.master_key())
        .send()
        .json();
    assert_eq!(number(&records), stats["total_entities"].as_u64().unwrap());
    b.shot("11-master-tenants").await;

    // Acting as a tenant adds its pages; going back leaves only the tenant list.
    b.click("main tbody tr button:last-child").await;
    b.until(
        "the tenant's pages",
        "return [...document.querySelectorAll('#nav a')].length === 6",
    )
    .await;
    let who = b.text("#who-text").await;
    assert!(who.contains("acme") && who.contains("master key"), "{who}");
    b.goto("#/tenants").await;
    b.click("#all-tenants").await;
    b.until(
        "the tenant list only",
        "return [...document.querySelectorAll('#nav a')].map(a => a.textContent).join() === 'Tenants'",
    )
    .await;
}
