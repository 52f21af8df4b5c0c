//! The `undersigned` command as an operator uses it: the real binary, a fresh data directory.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tempfile::TempDir;

use crate::helpers::petition_page;

fn undersigned(data_dir: &TempDir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_undersigned"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir.path())
        .env_remove("UNDERSIGNED_CONFIG")
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn pages_import_then_export_round_trips_a_page() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("river.toml");
    std::fs::write(&file, petition_page("river", "live", "")).unwrap();

    let imported = undersigned(&dir, &["pages", "import", file.to_str().unwrap()]);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    assert!(text(&imported.stdout).contains("created page river"));

    let exported = undersigned(&dir, &["pages", "export", "river"]);
    assert!(exported.status.success(), "{}", text(&exported.stderr));
    let toml = text(&exported.stdout);
    assert!(toml.contains("slug = \"river\"") && toml.contains("offset = 10"), "{toml}");

    let yaml = undersigned(&dir, &["pages", "export", "river", "--format", "yaml"]);
    let yaml_file = dir.path().join("river.yaml");
    std::fs::write(&yaml_file, text(&yaml.stdout).replace("Protect the river", "Protect the river now")).unwrap();
    let reimported = undersigned(&dir, &["pages", "import", yaml_file.to_str().unwrap()]);
    assert!(reimported.status.success(), "{}", text(&reimported.stderr));
    assert!(text(&reimported.stdout).contains("updated page river"));
    assert!(text(&undersigned(&dir, &["pages", "export", "river"]).stdout).contains("Protect the river now"));
}

#[test]
fn an_invalid_page_file_is_refused_with_every_problem_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    let broken = petition_page("broken", "closed", "")
        .replace("closing_message = \"This petition was delivered. Thank you!\"\n", "")
        .replace("sentence = \"{count} signatures\"", "sentence = \"signatures\"");
    std::fs::write(&file, broken).unwrap();

    let output = undersigned(&dir, &["pages", "import", file.to_str().unwrap()]);
    assert!(!output.status.success());
    let errors = text(&output.stderr);
    assert!(errors.contains("closing_message: a closed page needs a closing message"), "{errors}");
    assert!(errors.contains("blocks[0].sentence: must contain {count} where the number goes"), "{errors}");

    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, petition_page("typo", "live", "submit_lable = \"x\"")).unwrap();
    let errors = text(&undersigned(&dir, &["pages", "import", typo.to_str().unwrap()]).stderr);
    assert!(errors.contains("submit_lable"), "{errors}");

    let missing = undersigned(&dir, &["pages", "export", "broken"]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("there is no page \"broken\""));
}

#[test]
fn config_shows_settings_but_never_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_undersigned"))
        .args(["config", "--data-dir"])
        .arg(dir.path())
        .env("UNDERSIGNED_SECRET_KEY", "a-very-secret-key-that-is-long-enough-123")
        .env("UNDERSIGNED_LISTEN", "127.0.0.1:9999")
        .output()
        .unwrap();
    let shown = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(shown.contains("listen = \"127.0.0.1:9999\""), "{shown}");
    assert!(shown.contains("<redacted>") && !shown.contains("a-very-secret-key"), "{shown}");
}

/// The README's first command, minus cargo: the server starts on an empty directory,
/// creates its database, loads the demo and serves it.
#[tokio::test]
async fn serve_with_demo_starts_from_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_undersigned"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.trim().strip_prefix("Demo campaign: ") {
                let _ = sender.send(rest.split_whitespace().next().unwrap_or_default().to_string());
            }
        }
    });
    let url = receiver.recv_timeout(Duration::from_secs(60));
    let response = match &url {
        Ok(url) => reqwest::get(url).await.map(|r| r.status()),
        Err(_) => Ok(reqwest::StatusCode::REQUEST_TIMEOUT),
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(response.unwrap(), reqwest::StatusCode::OK, "server printed {url:?}");
    assert!(dir.path().join("undersigned.db").exists());
    assert!(dir.path().join("secret.key").exists());
}
