//! Several app nodes on one PostgreSQL database, and moving an instance from SQLite to
//! PostgreSQL. PostgreSQL only: skipped (loudly) without it, except in CI.

use std::collections::HashSet;
use std::path::Path;

use reqwest::StatusCode;
use undersigned::db::Db;
use undersigned::domain::user::Role;

use crate::email::{LETTER_PAGE, header, target, wait_for_files};
use crate::helpers::{
    Backend, EN, PASSWORD, ScratchPostgres, ServerProcess, TestApp, new_client, postgres_available, read_page, set,
    spawn_app, spawn_app_with, valid_form,
};

const SECRET: &str = "one-secret-key-shared-by-every-node-0123456789";

fn start_node(data_dir: &Path, database_url: &str, outbox: &Path) -> ServerProcess {
    let env = |key: &'static str, value: &str| (key, value.to_string());
    ServerProcess::start(
        data_dir,
        &[
            env("UNDERSIGNED_DATABASE_URL", database_url),
            env("UNDERSIGNED_SECRET_KEY", SECRET),
            env("UNDERSIGNED_RATE_LIMIT__ACTIONS_BURST", "1000000"),
            env("UNDERSIGNED_MAIL__OUTBOX_DIR", &outbox.display().to_string()),
            env("UNDERSIGNED_MAIL__POLL_INTERVAL_MS", "50"),
            env("UNDERSIGNED_MAIL__LEASE_SECS", "30"),
        ],
    )
}

/// Opens the page on one node and sends the form to another, as a load balancer may.
async fn act(open_on: &str, send_to: &str, slug: &str, form: &[(&'static str, String)]) -> StatusCode {
    let client = new_client();
    let token = read_page(client.get(format!("{open_on}/page/{slug}")).send().await.unwrap()).await.csrf_token();
    let mut body = form.to_vec();
    body.push(("csrf_token", token));
    client.post(format!("{send_to}/page/{slug}")).form(&body).send().await.unwrap().status()
}

async fn count(db: &Db, slug: &str) -> i64 {
    undersigned::db::counters::for_page(db, slug).await.unwrap().unwrap().counter.actions
}

#[tokio::test]
async fn two_nodes_on_one_database_count_exactly_and_send_each_letter_once() {
    if !postgres_available().await {
        return;
    }
    let database = ScratchPostgres::create().await;
    let (dir_a, dir_b, outbox) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // One after the other: the first migrates and loads the demo, the second finds them.
    let node_a = start_node(dir_a.path(), &database.url, outbox.path());
    let node_b = start_node(dir_b.path(), &database.url, outbox.path());
    let db = Db::connect(&database.url).await.unwrap();
    for t in [
        target("prime-minister", "Prime Minister", "Dear PM"),
        target("immigration-minister", "Minister", "Dear Minister"),
    ] {
        undersigned::db::targets::save(&db, &t).await.unwrap();
    }
    let spec = undersigned::domain::page::PageSpec::from_text(LETTER_PAGE, undersigned::domain::page::PageFormat::Toml)
        .unwrap();
    undersigned::services::pages::import_page(&db, &spec).await.unwrap();

    // 300 supporters from 60 concurrent clients, spread over both nodes; 60 of them send
    // the form twice (once through each node) at the same moment.
    let nodes = [node_a.base.clone(), node_b.base.clone()];
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..60 {
        let nodes = nodes.clone();
        tasks.spawn(async move {
            let mut statuses = Vec::new();
            for n in 0..5 {
                let person = worker * 5 + n;
                let form = valid_form(&format!("person{person}@example.org"));
                let (first, second) = (&nodes[person % 2], &nodes[(person + 1) % 2]);
                if person % 5 == 0 {
                    let (one, two) = tokio::join!(
                        act(first, first, "write-to-ottawa", &form),
                        act(second, second, "write-to-ottawa", &form)
                    );
                    statuses.extend([one, two]);
                } else {
                    statuses.push(act(first, second, "write-to-ottawa", &form).await);
                }
            }
            statuses
        });
    }
    while let Some(statuses) = tasks.join_next().await {
        assert!(statuses.unwrap().iter().all(|s| *s == StatusCode::SEE_OTHER));
    }

    let page = undersigned::db::pages::find_by_slug(&db, "write-to-ottawa").await.unwrap().unwrap();
    let stored = undersigned::db::actions::list_for_page(&db, page.id).await.unwrap();
    assert_eq!(stored.len(), 300, "one action per person, duplicates included");
    assert_eq!(count(&db, "write-to-ottawa").await, 300);
    // Each node's counter shows the other's actions at once: no cache between them.
    for node in &nodes {
        let counter: serde_json::Value =
            reqwest::get(format!("{node}/api/v1/pages/write-to-ottawa/counter")).await.unwrap().json().await.unwrap();
        assert_eq!(counter["actions"], 300);
    }
    let before = count(&db, EN).await;
    assert_eq!(act(&nodes[0], &nodes[0], EN, &valid_form("live@example.org")).await, StatusCode::SEE_OTHER);
    let on_b: serde_json::Value =
        reqwest::get(format!("{}/api/v1/pages/{EN}/counter", nodes[1])).await.unwrap().json().await.unwrap();
    assert_eq!(on_b["actions"], before + 1);

    // Both workers deliver from one outbox: 300 × (2 letters + 1 thank-you), none twice.
    let messages = wait_for_files(outbox.path(), 901).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let messages = if std::fs::read_dir(outbox.path()).unwrap().count() > messages.len() {
        wait_for_files(outbox.path(), 902).await
    } else {
        messages
    };
    assert_eq!(messages.len(), 901, "every message exactly once");
    let ids: HashSet<&str> = messages.iter().map(|m| header(m, "Message-ID").unwrap()).collect();
    assert_eq!(ids.len(), 901);

    // A sign-in made on one node works on the other.
    undersigned::services::users::create_user(&db, "ed@example.org", Role::Editor, PASSWORD).await.unwrap();
    let browser = new_client();
    let sign_in = read_page(browser.get(format!("{}/admin/sign-in", nodes[0])).send().await.unwrap()).await;
    let signed = browser
        .post(format!("{}/admin/sign-in", nodes[0]))
        .form(&[("email", "ed@example.org"), ("password", PASSWORD), ("csrf_token", &sign_in.csrf_token())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    let pages = browser.get(format!("{}/admin/pages", nodes[1])).send().await.unwrap();
    assert_eq!(pages.status(), StatusCode::OK, "the session is in the database, not in a node");
    db.close().await;
}

/// A SQLite instance with a bit of everything: actions, a pending one, letters, a digest
/// page, targets, districts, an account, page history and an offset change.
async fn populated(app: &TestApp) {
    crate::targeting::with_ridings(app).await;
    app.import(&LETTER_PAGE.replace("write-to-ottawa", "verified").replace("Send\"", "Send\"\nverify_sender = true"))
        .await;
    for n in 0..25 {
        assert_eq!(app.submit(EN, &valid_form(&format!("en{n}@example.org"))).await.status(), StatusCode::SEE_OTHER);
    }
    let mut form = valid_form("mp@example.org");
    set(&mut form, "postal_code", "K1P 5J2");
    set(&mut form, "reviewed_targets", "mp-ottawa-centre");
    assert_eq!(app.submit("write-to-your-mp", &form).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.submit("verified", &valid_form("pending@example.org")).await.status(), StatusCode::SEE_OTHER);
    let editor = app.sign_in_as(Role::Admin).await;
    let offset = editor
        .post(
            &format!("/admin/pages/{EN}/counter"),
            &[("offset", "900"), ("goal", "2000"), ("reason", "paper petitions")],
        )
        .await;
    assert_eq!(offset.status(), StatusCode::SEE_OTHER);
    wait_for_files(&app.data_dir().join("outbox"), 25 + 3 + 1).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while undersigned::db::outbox::counts(&app.db).await.unwrap().0 > 0 {
        assert!(std::time::Instant::now() < deadline, "the outbox empties");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_instance_moves_from_sqlite_to_postgresql_with_everything_in_it() {
    if !postgres_available().await {
        return;
    }
    let source = spawn_app(Backend::Sqlite).await;
    populated(&source).await;
    let destination = ScratchPostgres::create().await;

    let from = format!("sqlite://{}", source.data_dir().join("undersigned.db").display());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_undersigned"))
        .args(["db", "copy", "--from", &from, "--to", &destination.url])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(report.contains("every count matches"), "{report}");
    // A second copy into the now full database is refused and changes nothing.
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_undersigned"))
        .args(["db", "copy", "--from", &from, "--to", &destination.url])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds data"));

    let moved = spawn_app_with(Backend::Sqlite, |config| {
        config.database_url = Some(destination.url.clone());
        config.mail.worker = false;
    })
    .await;
    assert_eq!(moved.db.backend_name(), "postgres");
    for slug in [EN, crate::helpers::FR, "write-to-your-mp", "verified"] {
        assert_eq!(source.counter(slug).await, moved.counter(slug).await, "{slug}");
        let (a, b) = (source.get_page(&format!("/page/{slug}")).await, moved.get_page(&format!("/page/{slug}")).await);
        assert_eq!(a.text_of("main h1"), b.text_of("main h1"));
        assert_eq!(a.text_of("[data-count]"), b.text_of("[data-count]"));
    }
    // The accounts came too: the same person signs in on the new instance and exports the same.
    let admin_email = "mover@example.org";
    source.create_user(admin_email, Role::Admin).await;
    let copied_user = undersigned::db::users::list(&moved.db).await.unwrap();
    assert_eq!(copied_user.len(), undersigned::db::users::list(&source.db).await.unwrap().len() - 1);
    let original = source.sign_in(admin_email, PASSWORD).await.unwrap();
    let first = undersigned::db::users::list(&source.db).await.unwrap()[0].email.clone();
    let on_moved = moved.sign_in(&first, PASSWORD).await.expect("a copied account signs in");
    let path = "/admin/export.csv?campaign=safe-third-country";
    let a = original.get_raw(path).await.text().await.unwrap();
    let b = on_moved.get_raw(path).await.text().await.unwrap();
    assert!(a.contains("en24@example.org") && a.contains("Ana"), "{a}");
    assert_eq!(a, b);
    // History, the offset log, targets, districts, the pending action and the outbox too.
    let page = |db: Db, slug: &'static str| async move {
        undersigned::db::pages::find_by_slug(&db, slug).await.unwrap().unwrap().id
    };
    let (en_a, en_b) = (page(source.db.clone(), EN).await, page(moved.db.clone(), EN).await);
    assert_eq!(
        undersigned::db::pages::revisions(&source.db, en_a).await.unwrap().len(),
        undersigned::db::pages::revisions(&moved.db, en_b).await.unwrap().len()
    );
    assert_eq!(
        undersigned::db::targets::list(&source.db).await.unwrap(),
        undersigned::db::targets::list(&moved.db).await.unwrap()
    );
    assert_eq!(undersigned::db::districts::count(&moved.db).await.unwrap(), 6);
    let verified = page(moved.db.clone(), "verified").await;
    assert_eq!(undersigned::db::pending::count_for_page(&moved.db, verified).await.unwrap(), 1);
    assert_eq!(
        undersigned::db::outbox::counts(&source.db).await.unwrap(),
        undersigned::db::outbox::counts(&moved.db).await.unwrap()
    );
    // New rows continue after the copied ids.
    assert_eq!(moved.submit(EN, &valid_form("after-the-move@example.org")).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(moved.counter(EN).await["actions"], source.counter(EN).await["actions"].as_i64().unwrap() + 1);
}
