//! The console in a real browser: Debian's headless Chromium driven through chromedriver,
//! against `ferry serve` on a loopback port with real PostgreSQL databases. Each page is saved
//! as a screenshot under the test's output folder (`target/tmp/console/`).

use std::path::PathBuf;
use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::api::{serve, shipped_plan, Client as Api};
use crate::common::PgDatabase;

const TOKEN: &str = "s3cret-token";

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    process: std::process::Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let process = std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start chromedriver ({e}); install Chromium: apt-get install chromium chromium-driver")
            });
        let driver = Driver { process, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return driver;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("chromedriver did not listen on port {port}");
    }

    async fn browser(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        let arguments =
            ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"];
        capabilities.insert("goog:chromeOptions".into(), json!({ "args": arguments }));
        ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("chromedriver could not start Chromium")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn output_folder() -> PathBuf {
    let folder = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console");
    std::fs::create_dir_all(&folder).unwrap();
    folder
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    std::fs::write(output_folder().join(format!("{name}.png")), png).unwrap();
}

/// Waits until the main area's text contains `text`; fails with what it shows instead.
async fn wait_for_text(browser: &Client, text: &str) -> String {
    let mut shown = String::new();
    for _ in 0..300 {
        shown = browser.find(Locator::Css("body")).await.unwrap().text().await.unwrap_or_default();
        if shown.contains(text) {
            return shown;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the page never showed `{text}`; it shows:\n{shown}");
}

async fn script(browser: &Client, code: &str) -> Value {
    browser.execute(code, vec![]).await.unwrap()
}

/// Controls without a name a screen reader could say, and drawings without a text.
const UNNAMED: &str = "return [...document.querySelectorAll('button, a, select, input, svg[role=img], table')]
    .filter((e) => !(e.getAttribute('aria-label') || (e.tagName !== 'svg' && e.textContent.trim())
        || (e.id && document.querySelector('label[for=\"' + e.id + '\"]'))))
    .map((e) => e.outerHTML.slice(0, 80))
    .concat(document.documentElement.lang === 'en' ? [] : ['<html> without lang'])";

async fn assert_accessible(browser: &Client, page: &str) {
    assert_eq!(script(browser, UNNAMED).await, json!([]), "unnamed elements on {page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_runs_a_migration_and_shows_its_report_checks_and_rejects() {
    let (source, target) = (PgDatabase::new(), PgDatabase::new());
    let (_dir, plan) = shipped_plan(&source, &target).await;
    // A row whose name is markup and whose age is not a number (rejected: invalid_age), and one
    // whose name becomes `<I>X</I>` (initcap) (fails the warn check "names start with a capital").
    source.rows(
        "INSERT INTO source_unnormalized (record_id, full_name, age, location) VALUES \
         (900001, '<script>document.title=''pwned''</script>', 'thirty', 'Oslo'), \
         (900002, '<i>x</i> y', '40', 'Rome')",
    );
    let (base, _stop, _task) = serve(plan, Some(TOKEN)).await;
    let driver = Driver::start();
    let browser = driver.browser().await;

    // Without the token: the sign-in form and health, nothing of the job.
    browser.goto(&format!("{base}/")).await.unwrap();
    let shown = wait_for_text(&browser, "healthy").await;
    assert!(shown.contains("API token"), "{shown}");
    assert!(!shown.contains("cleaned_data") && !shown.contains("target_users"), "data without a token:\n{shown}");
    screenshot(&browser, "1-sign-in").await;
    assert_accessible(&browser, "the sign-in page").await;
    let token = browser.find(Locator::Id("token")).await.unwrap();
    token.send_keys("wrong-token").await.unwrap();
    browser.find(Locator::Css("form.signin button")).await.unwrap().click().await.unwrap();
    wait_for_text(&browser, "refused that token").await;
    // By keyboard alone: the token and Enter.
    let token = browser.find(Locator::Id("token")).await.unwrap();
    token.send_keys(&format!("{TOKEN}{}", char::from(Key::Enter))).await.unwrap();
    let shown = wait_for_text(&browser, "cleaned_data").await;
    assert!(shown.contains("never run"), "{shown}");
    assert!(browser.find(Locator::Css("svg.graph path.edge")).await.is_ok(), "orders depends on users: an edge");
    screenshot(&browser, "2-migrations").await;
    assert_accessible(&browser, "the migrations page").await;

    // Run cleaned_data from the page while its source is locked: the run page shows it running.
    let (locker, connection) = tokio_postgres::connect(&source.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    locker.batch_execute("BEGIN; LOCK TABLE source_unnormalized IN ACCESS EXCLUSIVE MODE").await.unwrap();
    // The run button, reached and pressed from the keyboard.
    script(&browser, "document.querySelector(\"button[aria-label='Run cleaned_data']\").focus()").await;
    let focused = browser.active_element().await.unwrap();
    assert_eq!(focused.attr("aria-label").await.unwrap().as_deref(), Some("Run cleaned_data"));
    focused.send_keys(&char::from(Key::Enter).to_string()).await.unwrap();
    wait_for_text(&browser, "Running:").await;
    screenshot(&browser, "3-run-in-progress").await;
    let url = browser.current_url().await.unwrap();
    let id = url.fragment().unwrap().strip_prefix("/run/").unwrap().to_string();
    locker.batch_execute("COMMIT").await.unwrap();
    // The page follows the run to its end without a reload; its counts are the report's.
    let shown = wait_for_text(&browser, "Reconciliation").await;
    let (_, run) = Api::new(&base).call("GET", &format!("/runs/{id}"), None).await;
    let m = &run["report"]["migrations"][0];
    let equation = format!(
        "Read {} = loaded {} + rejected {} + filtered {}",
        m["rows_read"], m["rows_loaded"], m["rows_rejected"], m["rows_filtered"]
    );
    assert!(shown.contains(&equation), "`{equation}` not in:\n{shown}");
    assert!(m["rejects"]["invalid_age"].as_u64().unwrap() >= 1, "{m}");
    assert!(shown.contains("succeeded") && shown.contains("names start with a capital"), "{shown}");
    screenshot(&browser, "4-run-report").await;
    assert_accessible(&browser, "the run page").await;

    // The failing check's sample rows, with the markup shown as text.
    let summary = browser.find(Locator::Css("details.sample summary")).await.unwrap();
    assert!(summary.text().await.unwrap().contains("names start with a capital"));
    summary.click().await.unwrap();
    let sample = browser.find(Locator::Css("details.sample table")).await.unwrap().text().await.unwrap();
    assert!(sample.contains("900002") && sample.contains("<I>X</I>"), "{sample}");
    screenshot(&browser, "5-check-sample").await;

    // The rejects of the run's reason: the stored source row, its <script> shown as text.
    browser.find(Locator::LinkText("invalid_age")).await.unwrap().click().await.unwrap();
    let shown = wait_for_text(&browser, "Rejects of cleaned_data").await;
    assert!(shown.contains("<script>document.title='pwned'</script>"), "{shown}");
    assert_eq!(script(&browser, "return document.querySelectorAll('main script, main i').length").await, 0);
    assert_eq!(browser.title().await.unwrap(), "ferry console");
    screenshot(&browser, "6-rejects").await;
    assert_accessible(&browser, "the rejects page").await;

    // The runs page, with its chart of the migration's two runs.
    let (status, second) = Api::new(&base).call("POST", "/migrations/cleaned_data/runs", None).await;
    assert_eq!(status, 200, "{second}");
    browser.goto(&format!("{base}/#/runs?migration=cleaned_data")).await.unwrap();
    wait_for_text(&browser, "Runs of cleaned_data").await;
    assert_eq!(browser.find_all(Locator::Css("svg.chart rect.bar")).await.unwrap().len(), 2);
    let shown = wait_for_text(&browser, second["id"].as_str().unwrap()).await;
    assert!(shown.find(second["id"].as_str().unwrap()) < shown.find(&id), "newest first:\n{shown}");
    screenshot(&browser, "7-runs").await;
    assert_accessible(&browser, "the runs page").await;

    // On a phone-sized screen the page does not scroll sideways (tables scroll in place).
    browser.set_window_size(375, 800).await.unwrap();
    browser.goto(&format!("{base}/#/rejects/cleaned_data")).await.unwrap();
    wait_for_text(&browser, "Rejects of cleaned_data").await;
    let overflow =
        script(&browser, "return document.documentElement.scrollWidth - document.documentElement.clientWidth").await;
    assert!(overflow.as_i64().unwrap() <= 0, "the page is wider than the screen by {overflow} px");
    screenshot(&browser, "8-rejects-narrow").await;

    // The token never lands in the address, a cookie or localStorage; forgetting it hides all.
    let kept = script(&browser, "return [location.href, document.cookie, localStorage.length]").await;
    assert!(!kept.to_string().contains(TOKEN), "{kept}");
    assert_eq!(kept[2], 0);
    browser.find(Locator::Id("signout")).await.unwrap().click().await.unwrap();
    let shown = wait_for_text(&browser, "API token").await;
    assert!(!shown.contains("cleaned_data"), "{shown}");
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_restrictive_content_security_policy() {
    let plan = ferry::job::Plan::from_toml("", "job", std::path::Path::new("."), &Default::default()).unwrap();
    let (base, _stop, _task) = serve(plan, Some(TOKEN)).await;
    for path in ["/", "/console/app.js", "/health", "/runs", "/nowhere"] {
        let response = reqwest::get(format!("{base}{path}")).await.unwrap();
        let policy = response.headers()["content-security-policy"].to_str().unwrap().to_string();
        assert!(policy.starts_with("default-src 'none'; script-src 'self';"), "{path}: {policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{path}: {policy}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{path}");
    }
    // The page has no inline script or style for the policy to forbid.
    let page = reqwest::get(format!("{base}/")).await.unwrap().text().await.unwrap();
    assert!(!page.contains("<script>") && !page.contains("style="), "{page}");
}

/// A copy (`[[copies]]`) beside a migration that depends on it: the graph draws the edge, and the
/// copy's run shows per table what was created, translated or skipped. A server without a token
/// opens the console at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_run_shows_what_it_made_of_each_table() {
    let (source, target) = (PgDatabase::new(), crate::common::MysqlDatabase::new());
    source.rows(crate::copy::POSTGRES_SCHEMA);
    source.rows(crate::copy::ROWS);
    let dir = tempfile::tempdir().unwrap();
    let path = crate::copy_job::job(dir.path(), &source, &target);
    let plan = ferry::job::Plan::load(&path, &Default::default()).unwrap();
    let (base, _stop, _task) = serve(plan, None).await;
    let driver = Driver::start();
    let browser = driver.browser().await;
    browser.goto(&format!("{base}/")).await.unwrap();
    wait_for_text(&browser, "never run").await;
    let graph = script(&browser, "return document.querySelector('svg.graph').getAttribute('aria-label')").await;
    assert_eq!(graph, "Dependencies: album runs after shop");
    browser.find(Locator::Css("button[aria-label='Run shop']")).await.unwrap().click().await.unwrap();
    let shown = wait_for_text(&browser, "Schema objects").await;
    let created = script(
        &browser,
        "return [...document.querySelectorAll('table')].find((t) => t.caption.textContent === 'Schema objects')
            .innerText.split('\\n').filter((l) => l.includes('track'))",
    )
    .await;
    let created: Vec<String> = serde_json::from_value(created).unwrap();
    let skipped = created.iter().find(|line| line.contains("foreign key track_album_id_fkey")).unwrap();
    assert!(skipped.contains("skipped") && skipped.contains("which is not copied"), "{skipped}");
    assert!(created.iter().any(|line| line.contains("index track_name") && line.contains("created")), "{created:?}");
    assert!(shown.contains("Tables of this run") && shown.contains("employee"), "{shown}");
    // Rows read counts every table of the copy.
    let id = browser.current_url().await.unwrap().fragment().unwrap().strip_prefix("/run/").unwrap().to_string();
    let (_, run) = Api::new(&base).call("GET", &format!("/runs/{id}"), None).await;
    let read: u64 =
        run["report"]["migrations"].as_array().unwrap().iter().map(|m| m["rows_read"].as_u64().unwrap()).sum();
    assert_eq!(run["rows_read"], read);
    let shown_read = browser.find(Locator::Id("rows-read")).await.unwrap().text().await.unwrap();
    assert_eq!(shown_read, read.to_string());
    screenshot(&browser, "9-copy-run").await;
    browser.close().await.unwrap();
}
