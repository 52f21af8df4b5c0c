//! People in Debian's headless Chromium: a supporter reads the page, is stopped by inline
//! validation, fills the form, reaches the thank-you step and sees the counter move when
//! someone else acts; an editor signs in, edits a page and publishes it. Skipped, loudly,
//! on a machine without chromium and chromedriver, except in CI (`CI` set), where their
//! absence fails the test.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{Backend, EN, spawn_app, valid_form};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn browser_available() -> bool {
    let present = std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !present {
        assert!(std::env::var_os("CI").is_none(), "CI must install chromium and chromium-driver (see .ci/run)");
        eprintln!("SKIPPED browser test: install Debian's chromium and chromium-driver to run it");
    }
    present
}

async fn start_driver() -> (Driver, String) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{url}/status")).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (driver, url)
}

/// A headless Chromium session, with the chromedriver and the profile it needs.
async fn open_browser() -> (fantoccini::Client, Driver, tempfile::TempDir) {
    let (driver, driver_url) = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,1600", format!("--user-data-dir={}", profile.path().display())]
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let browser =
        ClientBuilder::new(connector).capabilities(capabilities).connect(&driver_url).await.expect("a browser session");
    (browser, driver, profile)
}

#[tokio::test]
async fn a_supporter_reads_the_page_fills_the_form_and_reaches_the_thank_you_step() {
    if !browser_available() {
        return;
    }
    let app = spawn_app(Backend::Sqlite).await;
    let (browser, _driver, _profile) = open_browser().await;

    let result = async {
        browser.goto(&app.url(&format!("/page/{EN}"))).await?;
        assert_eq!(browser.find(Locator::Css("h1")).await?.text().await?, "Don't abandon refugees");
        assert_eq!(browser.find(Locator::Css("[data-count]")).await?.text().await?, "785");
        let ran = browser.execute("return document.documentElement.dataset.scriptsBlock || null;", vec![]).await?;
        assert_eq!(ran, json!("ran"), "the scripts block runs");

        // Inline validation stops an empty form before it is sent, and says why.
        browser.find(Locator::Css("button[type=submit]")).await?.click().await?;
        let summary = browser.wait().for_element(Locator::Css("[data-error-summary]:not([hidden])")).await?;
        assert!(summary.text().await?.contains("Enter your first name"));
        assert!(browser.current_url().await?.as_str().ends_with(&format!("/page/{EN}")));

        for (id, value) in [
            ("first_name", "Ana"),
            ("last_name", "Silva"),
            ("email", "browser@example.org"),
            ("postal_code", "K1A 0B1"),
        ] {
            browser.find(Locator::Id(id)).await?.send_keys(value).await?;
        }
        browser.find(Locator::Id("consent")).await?.click().await?;
        browser.find(Locator::Css("button[type=submit]")).await?.click().await?;
        let thanks = url::Url::parse(&app.url(&format!("/page/{EN}/thanks#thanks"))).unwrap();
        browser.wait().at_most(Duration::from_secs(20)).for_url(&thanks).await?;
        assert_eq!(browser.find(Locator::Css("h1")).await?.text().await?, "Thank you for speaking up");
        assert_eq!(browser.find(Locator::Css("[data-count]")).await?.text().await?, "786");

        // Someone else acts; the open page's counter follows without a reload.
        browser.goto(&app.url(&format!("/page/{EN}"))).await?;
        let other = app.submit(EN, &valid_form("someone@example.org")).await;
        assert_eq!(other.status(), reqwest::StatusCode::SEE_OTHER);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if browser.find(Locator::Css("[data-count]")).await?.text().await? == "787" {
                break;
            }
            assert!(Instant::now() < deadline, "the live counter did not update");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("the browser session");

    let actions = app.actions_on(EN).await;
    assert_eq!(actions.len(), 2);
    assert!(actions.iter().any(|a| a.email == "browser@example.org" && a.consent));
}

#[tokio::test]
async fn an_editor_signs_in_edits_a_page_publishes_it_and_sees_it_live() {
    if !browser_available() {
        return;
    }
    let app = spawn_app(Backend::Sqlite).await;
    app.import(&crate::helpers::petition_page("river-draft", "draft", "")).await;
    app.create_user("editor@example.org", undersigned::domain::user::Role::Editor).await;
    let (browser, _driver, _profile) = open_browser().await;

    let result = async {
        browser.goto(&app.url("/admin/pages/river-draft")).await?;
        // Sent to sign in first, then back to the page asked for.
        browser.find(Locator::Id("email")).await?.send_keys("editor@example.org").await?;
        browser.find(Locator::Id("password")).await?.send_keys(crate::helpers::PASSWORD).await?;
        browser.find(Locator::Css("button[type=submit]")).await?.click().await?;
        browser.wait().for_element(Locator::Css("#settings")).await?;
        assert!(browser.current_url().await?.as_str().ends_with("/admin/pages/river-draft"));

        let title = browser.find(Locator::Id("title")).await?;
        title.clear().await?;
        title.send_keys("Protect the river, now").await?;
        browser.find(Locator::Css("#settings button[type=submit]")).await?.click().await?;
        // The editor comes back with the new title. (Waiting for the status buttons instead
        // found them on the editor being left, and the click met a stale element.)
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(heading) = browser.find(Locator::Css("h1")).await
                && heading.text().await.is_ok_and(|text| text == "Protect the river, now")
            {
                break;
            }
            assert!(Instant::now() < deadline, "the editor did not come back with the new title");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        browser.find(Locator::Css("#status button[value=live]")).await?.click().await?;
        browser.wait().for_element(Locator::Css(".status-live")).await?;

        browser.goto(&app.url("/page/river-draft")).await?;
        assert_eq!(browser.find(Locator::Css("h1")).await?.text().await?, "Protect the river, now");
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("the browser session");
}

#[tokio::test]
async fn a_supporter_sees_their_representative_appear_as_they_type_their_postal_code() {
    if !browser_available() {
        return;
    }
    let app = spawn_app(Backend::Sqlite).await;
    crate::targeting::with_ridings(&app).await;
    let (browser, _driver, _profile) = open_browser().await;

    let result = async {
        browser.goto(&app.url("/page/write-to-your-mp")).await?;
        let hint = browser.find(Locator::Css("[data-lookup-hint]")).await?;
        assert!(hint.text().await?.contains("Enter your postal code"));
        // An unknown code is said inline, before sending.
        browser.find(Locator::Id("postal_code")).await?.send_keys("H0H 0H0").await?;
        let refused = browser.wait().for_element(Locator::Css("[data-lookup-hint].lookup-error")).await?;
        assert!(refused.text().await?.contains("We could not find the representative"));
        browser.find(Locator::Id("postal_code")).await?.clear().await?;
        browser.find(Locator::Id("postal_code")).await?.send_keys("K1P 5J2").await?;
        let shown = browser.wait().for_element(Locator::Css("[data-lookup-list] li")).await?;
        assert!(shown.text().await?.contains("Rosa Tremblay"));
        for (id, value) in [("first_name", "Ana"), ("last_name", "Silva"), ("email", "inline@example.org")] {
            browser.find(Locator::Id(id)).await?.send_keys(value).await?;
        }
        // Having seen the representative, one press sends: no review step.
        browser.find(Locator::Css("button[type=submit]")).await?.click().await?;
        let thanks = url::Url::parse(&app.url("/page/write-to-your-mp/thanks#thanks")).unwrap();
        browser.wait().at_most(Duration::from_secs(20)).for_url(&thanks).await?;
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("the browser session");
    let actions = app.actions_on("write-to-your-mp").await;
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].postal_code.as_deref(), Some("K1P 5J2"));
}
