//! `TestApp`: a running server on a fresh database, and the HTTP conversations tests have
//! with it.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::redirect::Policy;
use scraper::{Html, Selector};
use tempfile::TempDir;
use undersigned::config::{Config, MailConfig, RateLimitConfig};
use undersigned::db::Db;
use undersigned::db::actions::StoredAction;
use undersigned::domain::page::{PageFormat, PageSpec};
use undersigned::services::{demo, pages};
use undersigned::startup::Application;

pub const EN: &str = "dont-abandon-refugees";
pub const FR: &str = "ne-abandonnez-pas-les-refugies";

/// The database a test runs on. Every HTTP test runs once on each (see `on_both_backends!`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates, for each named `async fn test(backend: Backend)`, a module of the same name
/// with a `sqlite` and a `postgres` test.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                if $crate::helpers::postgres_available().await {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            }
        }
    )*};
}

/// The PostgreSQL server tests create their databases on; `UNDERSIGNED_TEST_POSTGRES_URL`
/// overrides it. Each test gets a database of its own, dropped when the test ends.
pub fn postgres_admin_url() -> String {
    std::env::var("UNDERSIGNED_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Whether PostgreSQL answers. In CI (`CI` set) it must; elsewhere its absence skips the
/// PostgreSQL half of the suite, saying so.
pub async fn postgres_available() -> bool {
    let url = postgres_admin_url();
    let connecting = sqlx::PgPool::connect(&url);
    match tokio::time::timeout(Duration::from_secs(5), connecting).await {
        Ok(Ok(pool)) => {
            pool.close().await;
            true
        }
        _ if std::env::var_os("CI").is_some() => {
            panic!("PostgreSQL is unreachable at {} in CI", postgres_admin_url())
        }
        _ => {
            eprintln!(
                "SKIPPED on PostgreSQL: no server at {} (set UNDERSIGNED_TEST_POSTGRES_URL)",
                postgres_admin_url()
            );
            false
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: Db,
    postgres_database: Option<String>,
    data_dir: TempDir,
}

/// A server with the demo campaign loaded and a rate limit high enough not to get in the way.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temporary directory");
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: data_dir.path().to_path_buf(),
        rate_limit: RateLimitConfig { actions_burst: 100_000, actions_refill_ms: 1 },
        mail: MailConfig { poll_interval_ms: 50, retry_base_ms: 100, lease_secs: 5, ..MailConfig::default() },
        ..Config::default()
    };
    let postgres_database = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(create_postgres_database(&mut config).await),
    };
    adjust(&mut config);
    let app = Application::build(config).await.expect("the server starts");
    let address = format!("http://{}", app.local_addr().expect("bound address"));
    let db = app.state().db.clone();
    demo::load_demo(&db).await.expect("demo loads");
    tokio::spawn(app.run_until_stopped());
    TestApp { address, client: new_client(), db, postgres_database, data_dir }
}

/// A browser-like client: keeps cookies, does not follow redirects (tests look at them).
pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// The fields of a valid action on the demo's English page.
pub fn valid_form(email: &str) -> Vec<(&'static str, String)> {
    vec![
        ("first_name", "Ana".into()),
        ("last_name", "Silva".into()),
        ("email", email.into()),
        ("postal_code", "K1A 0B1".into()),
        ("subject", "Please act".into()),
        ("message", "People seeking safety deserve a hearing.".into()),
        ("consent", "yes".into()),
    ]
}

pub fn set(form: &mut Vec<(&'static str, String)>, name: &'static str, value: &str) {
    form.retain(|(n, _)| *n != name);
    form.push((name, value.to_string()));
}

pub struct Page {
    pub status: StatusCode,
    pub html: Html,
    pub text: String,
}

impl Page {
    pub fn select(&self, css: &str) -> Vec<scraper::ElementRef<'_>> {
        let selector = Selector::parse(css).expect("valid selector");
        self.html.select(&selector).collect()
    }

    pub fn text_of(&self, css: &str) -> String {
        self.select(css).iter().map(|e| e.text().collect::<String>()).collect::<Vec<_>>().join(" ")
    }

    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.select(css).first().and_then(|e| e.value().attr(name)).map(str::to_string)
    }

    pub fn csrf_token(&self) -> String {
        self.attr("input[name=csrf_token]", "value").expect("the form carries a CSRF token")
    }
}

impl TestApp {
    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get_page(&self, path: &str) -> Page {
        read_page(self.client.get(self.url(path)).send().await.expect("GET")).await
    }

    /// Opens the page (for its cookie and token), then posts `fields` with that token.
    pub async fn submit(&self, slug: &str, fields: &[(&'static str, String)]) -> reqwest::Response {
        let token = self.get_page(&format!("/page/{slug}")).await.csrf_token();
        self.post_form(slug, fields, Some(&token)).await
    }

    pub async fn post_form(
        &self,
        slug: &str,
        fields: &[(&'static str, String)],
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut body: Vec<(&str, String)> = fields.to_vec();
        if let Some(token) = token {
            body.push(("csrf_token", token.to_string()));
        }
        self.client.post(self.url(&format!("/page/{slug}"))).form(&body).send().await.expect("POST")
    }

    pub async fn counter(&self, slug: &str) -> serde_json::Value {
        let response =
            self.client.get(self.url(&format!("/api/v1/pages/{slug}/counter"))).send().await.expect("GET counter");
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("counter JSON")
    }

    /// The URL of the app's own PostgreSQL database, if it runs on PostgreSQL.
    pub fn postgres_url(&self) -> Option<String> {
        let name = self.postgres_database.as_ref()?;
        let mut url = url::Url::parse(&postgres_admin_url()).expect("PostgreSQL URL");
        url.set_path(name);
        Some(url.to_string())
    }

    pub async fn actions_on(&self, slug: &str) -> Vec<StoredAction> {
        let page = undersigned::db::pages::find_by_slug(&self.db, slug).await.expect("query").expect("page exists");
        undersigned::db::actions::list_for_page(&self.db, page.id).await.expect("query")
    }

    /// Imports a page given as TOML, as `undersigned pages import` would.
    pub async fn import(&self, toml: &str) {
        let spec = PageSpec::from_text(toml, PageFormat::Toml).expect("test page parses");
        pages::import_page(&self.db, &spec).await.expect("test page imports");
    }
}

pub async fn read_page(response: reqwest::Response) -> Page {
    let status = response.status();
    let text = response.text().await.expect("body");
    Page { status, html: Html::parse_document(&text), text }
}

/// A small petition page for tests that need settings the demo does not have.
pub fn petition_page(slug: &str, status: &str, extra: &str) -> String {
    format!(
        r#"
slug = "{slug}"
locale = "en"
status = "{status}"
kind = "petition"
title = "Protect the river"
share_text = "I signed."
closing_message = "This petition was delivered. Thank you!"

[campaign]
slug = "river"
name = "River"

[[blocks]]
type = "counter"
sentence = "{{count}} signatures"
offset = 10

[[blocks]]
type = "form"
call_to_action = "Sign the petition"
targets = ["River Authority"]
submit_label = "Sign"
{extra}
"#
    )
}

/// Creates an empty database for one test and points `config` at it.
async fn create_postgres_database(config: &mut Config) -> String {
    let name = format!("undersigned_test_{}", rand::random::<u64>());
    let admin = sqlx::PgPool::connect(&postgres_admin_url()).await.expect("PostgreSQL");
    sqlx::query(&format!("create database {name}")).execute(&admin).await.expect("create the test database");
    admin.close().await;
    let mut url = url::Url::parse(&postgres_admin_url()).expect("PostgreSQL URL");
    url.set_path(&name);
    config.database_url = Some(url.to_string());
    name
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(name) = self.postgres_database.take() {
            drop_postgres_database(name);
        }
    }
}

fn drop_postgres_database(name: String) {
    // Drop runs inside the test's runtime, which cannot block on itself: use a thread.
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async {
            let admin = sqlx::PgPool::connect(&postgres_admin_url()).await.map_err(std::io::Error::other)?;
            sqlx::query(&format!("drop database if exists {name} with (force)"))
                .execute(&admin)
                .await
                .map_err(std::io::Error::other)?;
            admin.close().await;
            Ok::<_, std::io::Error>(())
        })
    })
    .join();
    if !matches!(dropped, Ok(Ok(()))) {
        eprintln!("could not drop a test database: {dropped:?}");
    }
}

/// An empty PostgreSQL database of a test's own, dropped with this value: for tests that
/// run several servers on one database, or copy into one.
pub struct ScratchPostgres {
    pub url: String,
    name: Option<String>,
}

impl ScratchPostgres {
    pub async fn create() -> Self {
        let mut config = Config::default();
        let name = create_postgres_database(&mut config).await;
        ScratchPostgres { url: config.database_url.expect("URL"), name: Some(name) }
    }
}

impl Drop for ScratchPostgres {
    fn drop(&mut self) {
        if let Some(name) = self.name.take() {
            drop_postgres_database(name);
        }
    }
}

pub const PASSWORD: &str = "a long enough password";

/// An organiser's browser: signed in, with the CSRF token of its cookie.
pub struct SignedIn {
    pub client: reqwest::Client,
    pub token: String,
    base: String,
}

impl TestApp {
    pub async fn create_user(&self, email: &str, role: undersigned::domain::user::Role) {
        undersigned::services::users::create_user(&self.db, email, role, PASSWORD).await.expect("account created");
    }

    /// A new browser signed in as a new account with `role`.
    pub async fn sign_in_as(&self, role: undersigned::domain::user::Role) -> SignedIn {
        let email = format!("{}-{}@example.org", role.as_str(), rand::random::<u32>());
        self.create_user(&email, role).await;
        self.sign_in(&email, PASSWORD).await.expect("signed in")
    }

    /// Signs in in a new browser; `None` if the workspace refused.
    pub async fn sign_in(&self, email: &str, password: &str) -> Option<SignedIn> {
        let client = new_client();
        let form = read_page(client.get(self.url("/admin/sign-in")).send().await.expect("GET sign-in")).await;
        let token = form.csrf_token();
        let response = client
            .post(self.url("/admin/sign-in"))
            .form(&[("email", email), ("password", password), ("csrf_token", &token), ("next", "/admin/pages")])
            .send()
            .await
            .expect("POST sign-in");
        (response.status() == StatusCode::SEE_OTHER).then(|| SignedIn { client, token, base: self.address.clone() })
    }
}

impl SignedIn {
    pub async fn get(&self, path: &str) -> Page {
        read_page(self.client.get(format!("{}{path}", self.base)).send().await.expect("GET")).await
    }

    /// Posts a workspace form with this browser's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut body: Vec<(&str, &str)> = fields.to_vec();
        body.push(("csrf_token", &self.token));
        self.client.post(format!("{}{path}", self.base)).form(&body).send().await.expect("POST")
    }

    pub async fn get_raw(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base)).send().await.expect("GET")
    }
}

impl TestApp {
    /// Posts a valid action to a page that may show no form (a closed one), with a token
    /// from the French demo page: tokens belong to the visitor's cookie, not to a page.
    pub async fn submit_without_form(&self, slug: &str) -> StatusCode {
        let token = self.get_page(&format!("/page/{FR}")).await.csrf_token();
        let email = format!("late{}@example.org", rand::random::<u32>());
        self.post_form(slug, &valid_form(&email), Some(&token)).await.status()
    }
}

/// A child process that is killed when dropped, however the test ends.
pub struct ServerProcess {
    child: std::process::Child,
    /// The server's base URL, like `http://127.0.0.1:41234`.
    pub base: String,
}

impl ServerProcess {
    /// Runs `undersigned serve --demo` (the real binary) on a free port with `data_dir` and
    /// the given environment, and returns once it serves.
    pub fn start(data_dir: &std::path::Path, envs: &[(&str, String)]) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_undersigned"))
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let stderr = child.stderr.take().expect("stderr");
        let (sender, receiver) = std::sync::mpsc::channel();
        // `serve --demo` prints where the demo is once it listens.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.trim().strip_prefix("Demo campaign: ") {
                    let page_url = rest.split_whitespace().next().unwrap_or_default();
                    let _ = sender.send(page_url.split("/page/").next().unwrap_or_default().to_string());
                }
            }
        });
        let mut server = ServerProcess { child, base: String::new() };
        server.base = receiver.recv_timeout(Duration::from_secs(60)).expect("the server starts and prints its address");
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server at once, as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A SQLite database file in `dir`, migrated, with the demo loaded, as `serve` would leave it.
pub async fn prepared_sqlite(dir: &std::path::Path) -> (Db, String) {
    let url = format!("sqlite://{}", dir.join("undersigned.db").display());
    let db = Db::connect(&url).await.expect("SQLite");
    db.migrate().await.expect("migrations");
    demo::load_demo(&db).await.expect("demo loads");
    (db, url)
}
