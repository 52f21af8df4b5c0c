//! The `undersigned` command as an operator uses it: the real binary, a fresh data directory.

use std::process::{Command, Output, Stdio};

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
    let server = crate::helpers::ServerProcess::start(dir.path(), &[]);
    let response = reqwest::get(format!("{}/page/{}", server.base, crate::helpers::EN)).await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert!(dir.path().join("undersigned.db").exists());
    assert!(dir.path().join("secret.key").exists());
}

fn undersigned_with_stdin(data_dir: &TempDir, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_undersigned"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir.path())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write the password");
    child.wait_with_output().expect("the binary ends")
}

#[test]
fn users_create_reads_the_password_from_stdin_and_refuses_weak_ones() {
    let dir = tempfile::tempdir().unwrap();
    let weak =
        undersigned_with_stdin(&dir, &["users", "create", "--email", "boss@example.org", "--role", "admin"], "short\n");
    assert!(!weak.status.success());
    assert!(text(&weak.stderr).contains("at least 12 characters"), "{}", text(&weak.stderr));

    let created = undersigned_with_stdin(
        &dir,
        &["users", "create", "--email", "boss@example.org", "--role", "admin"],
        "a long enough password\n",
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    assert!(text(&created.stdout).contains("created admin account for boss@example.org"));
    let again =
        undersigned_with_stdin(&dir, &["users", "create", "--email", "boss@example.org"], "a long enough password\n");
    assert!(text(&again.stderr).contains("exists already"));
    let listed = undersigned(&dir, &["users", "list"]);
    assert!(text(&listed.stdout).starts_with("boss@example.org\tadmin\t"), "{}", text(&listed.stdout));
}

#[tokio::test]
async fn actions_export_writes_the_csv_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = crate::helpers::prepared_sqlite(dir.path()).await;
    let page = undersigned::services::pages::public_page(&db, crate::helpers::EN).await.unwrap();
    let submission = undersigned::domain::action::Submission {
        first_name: "Ana".into(),
        last_name: "Silva".into(),
        email: "ana@example.org".into(),
        postal_code: "K1A 0B1".into(),
        message: Some("Act now.".into()),
        subject: Some("Please".into()),
        ..Default::default()
    };
    let site = undersigned::services::actions::Site {
        public_url: "http://localhost".into(),
        from_name: "Test".into(),
        signer: undersigned::signing::Signer::new(b"test key"),
        confirm_link_hours: 72,
    };
    undersigned::services::actions::take_action(&db, &site, &page, &submission, &Default::default()).await.unwrap();
    db.close().await;

    let file = dir.path().join("out.csv");
    let output = undersigned(
        &dir,
        &["actions", "export", "--campaign", "safe-third-country", "--output", file.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("exported 1 actions"));
    let csv = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("action_id,campaign,page,kind,created_at"));
    assert!(
        lines[1].contains(",ana@example.org,")
            && lines[1].contains(",safe-third-country,dont-abandon-refugees,letter,")
    );

    let empty = undersigned(&dir, &["actions", "export", "--from", "2999-01-01"]);
    assert_eq!(text(&empty.stdout).lines().count(), 1, "only the header");
}

#[test]
fn districts_import_checks_every_row_then_replaces_the_table_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ridings.csv");
    std::fs::write(&file, "postal_code,district\nK1P,Ottawa Centre\nK,Too short\nK1C,\n").unwrap();
    let refused = undersigned(&dir, &["districts", "import", file.to_str().unwrap()]);
    assert!(!refused.status.success());
    let problems = text(&refused.stderr);
    assert!(problems.contains("row 3") && problems.contains("row 4"), "{problems}");

    std::fs::write(&file, "postal_code,district\nk1p,Ottawa Centre\nK1A 0B1,Ottawa Centre\n").unwrap();
    let imported = undersigned(&dir, &["districts", "import", file.to_str().unwrap()]);
    assert!(imported.status.success(), "{}", text(&imported.stderr));
    assert!(text(&imported.stdout).contains("the district table has 2"));

    std::fs::write(&file, "postal_code,district\nK1C,Orléans\n").unwrap();
    let replaced = undersigned(&dir, &["districts", "import", "--replace", file.to_str().unwrap()]);
    assert!(text(&replaced.stdout).contains("the district table has 1"), "{}", text(&replaced.stderr));
    let exported = undersigned(&dir, &["districts", "export"]);
    assert_eq!(text(&exported.stdout), "postal_code,district\nK1C,Orléans\n");
}

#[tokio::test]
async fn db_backup_copies_a_running_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = crate::helpers::prepared_sqlite(dir.path()).await;
    let backup = dir.path().join("backup.db");
    let output = undersigned(&dir, &["db", "backup", backup.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let copy = undersigned::db::Db::connect(&format!("sqlite://{}", backup.display())).await.unwrap();
    assert_eq!(
        undersigned::db::pages::list_all(&copy).await.unwrap().len(),
        undersigned::db::pages::list_all(&db).await.unwrap().len()
    );
    let again = undersigned(&dir, &["db", "backup", backup.to_str().unwrap()]);
    assert!(!again.status.success() && text(&again.stderr).contains("exists already"));
}
