//! Nothing acknowledged is lost: the server is killed with SIGKILL at random moments while
//! many clients submit, again and again; after each restart every acknowledged action is
//! stored once, counted once, and has all its emails in the outbox. On PostgreSQL some
//! commits are made slow, so that kills find commits in flight, and the figures are compared
//! once PostgreSQL has finished what the killed servers had sent it.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use undersigned::db::Db;

use crate::email::{LETTER_PAGE, target};
use crate::helpers::{ScratchPostgres, ServerProcess, new_client, postgres_available, read_page, valid_form};

const SLUG: &str = "write-to-ottawa";
/// Two letters and a thank-you per action.
const MAILS_PER_ACTION: i64 = 3;

async fn prepare(db: &Db) {
    db.migrate().await.unwrap();
    undersigned::services::demo::load_demo(db).await.unwrap();
    for t in [
        target("prime-minister", "Prime Minister", "Dear PM"),
        target("immigration-minister", "Minister", "Dear Minister"),
    ] {
        undersigned::db::targets::save(db, &t).await.unwrap();
    }
    let spec = undersigned::domain::page::PageSpec::from_text(LETTER_PAGE, undersigned::domain::page::PageFormat::Toml)
        .unwrap();
    undersigned::services::pages::import_page(db, &spec).await.unwrap();
}

/// Submits unique actions from `clients` concurrent clients until the server dies; returns
/// the addresses whose action was acknowledged (303).
async fn submit_until_killed(base: String, round: usize, clients: usize, acknowledged: Arc<Mutex<Vec<String>>>) {
    let mut tasks = tokio::task::JoinSet::new();
    for client_no in 0..clients {
        let base = base.clone();
        let acknowledged = acknowledged.clone();
        tasks.spawn(async move {
            let client = new_client();
            let Ok(response) = client.get(format!("{base}/page/{SLUG}")).send().await else { return };
            let token = read_page(response).await.csrf_token();
            for n in 0.. {
                let email = format!("r{round}-c{client_no}-n{n}@example.org");
                let mut form = valid_form(&email);
                form.push(("csrf_token", token.clone()));
                match client.post(format!("{base}/page/{SLUG}")).form(&form).send().await {
                    Ok(response) if response.status() == StatusCode::SEE_OTHER => {
                        acknowledged.lock().unwrap().push(email)
                    }
                    Ok(response) => panic!("unexpected {} before the kill", response.status()),
                    Err(_) => return,
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// The application name the killed servers give PostgreSQL, to find their sessions.
const KILLED: &str = "undersigned-killed";

async fn kill_repeatedly_under_load(data_dir: &Path, envs: &[(&str, String)], db: &Db, postgres: Option<&str>) {
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    for round in 0..4 {
        let mut server = ServerProcess::start(data_dir, envs);
        let load = tokio::spawn(submit_until_killed(server.base.clone(), round, 16, acknowledged.clone()));
        tokio::time::sleep(Duration::from_millis(rand::random_range(300..900))).await;
        server.kill();
        load.await.unwrap();
    }
    let acknowledged: Vec<String> = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() > 50, "the load ran ({} actions acknowledged)", acknowledged.len());
    if let Some(url) = postgres {
        wait_for_killed_sessions(url).await;
    }

    // A last start recovers whatever the kills left (SQLite replays its WAL), then look.
    let server = ServerProcess::start(data_dir, envs);
    let counter: serde_json::Value =
        reqwest::get(format!("{}/api/v1/pages/{SLUG}/counter", server.base)).await.unwrap().json().await.unwrap();
    let page = undersigned::db::pages::find_by_slug(db, SLUG).await.unwrap().unwrap();
    let stored = undersigned::db::actions::list_for_page(db, page.id).await.unwrap();
    let stored_emails: HashSet<&str> = stored.iter().map(|a| a.email.as_str()).collect();
    assert_eq!(stored_emails.len(), stored.len(), "no action stored twice");
    let missing: Vec<&String> = acknowledged.iter().filter(|e| !stored_emails.contains(e.as_str())).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert_eq!(counter["actions"], stored.len() as i64, "the counter equals the stored rows");
    assert_eq!(counter["count"], stored.len() as i64 + counter["offset"].as_i64().unwrap());
    let (pending, sent, failed) = undersigned::db::outbox::counts(db).await.unwrap();
    assert_eq!(pending + sent + failed, stored.len() as i64 * MAILS_PER_ACTION, "every action's emails, once");
    drop(server);
}

/// PostgreSQL finishes what a killed server had already sent it: a COMMIT it received just
/// before the kill still commits, a moment later (those actions were never acknowledged, so
/// they may be kept or not, but they are counted with their rows). Waits until no session of
/// the killed servers is left, so that the figures compared afterwards have stopped moving.
async fn wait_for_killed_sessions(url: &str) {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    for _ in 0..600 {
        let left: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity where datname = current_database() and application_name = $1",
        )
        .bind(KILLED)
        .fetch_one(&pool)
        .await
        .unwrap();
        if left == 0 {
            pool.close().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the killed servers' sessions were still open after 30 s");
}

/// Makes one commit in ten that counts actions take a second, as a busy disk can, so that
/// the kills find commits in flight: PostgreSQL completes those after the kill.
async fn slow_some_commits(url: &str) {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    for statement in [
        "create function slow_commit() returns trigger language plpgsql as $$
         begin if random() < 0.1 then perform pg_sleep(1.0); end if; return null; end $$",
        // A deferred constraint trigger runs at COMMIT.
        "create constraint trigger slow_commit after insert or update on action_counts initially deferred
         for each row execute function slow_commit()",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    pool.close().await;
}

#[tokio::test]
async fn acknowledged_actions_survive_sigkill_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = crate::helpers::prepared_sqlite(dir.path()).await;
    prepare(&db).await;
    let envs = [("UNDERSIGNED_RATE_LIMIT__ACTIONS_BURST", "1000000".to_string())];
    kill_repeatedly_under_load(dir.path(), &envs, &db, None).await;
    db.close().await;
}

#[tokio::test]
async fn acknowledged_actions_survive_sigkill_on_postgresql() {
    if !postgres_available().await {
        return;
    }
    let database = ScratchPostgres::create().await;
    let db = Db::connect(&database.url).await.unwrap();
    prepare(&db).await;
    slow_some_commits(&database.url).await;
    let dir = tempfile::tempdir().unwrap();
    let mut server_url = url::Url::parse(&database.url).unwrap();
    server_url.query_pairs_mut().append_pair("application_name", KILLED);
    let envs = [
        ("UNDERSIGNED_RATE_LIMIT__ACTIONS_BURST", "1000000".to_string()),
        ("UNDERSIGNED_DATABASE_URL", server_url.to_string()),
    ];
    kill_repeatedly_under_load(dir.path(), &envs, &db, Some(&database.url)).await;
    db.close().await;
}
