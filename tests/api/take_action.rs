//! Taking action: validation, CSRF, honeypot, duplicates, rate limits, locked letters,
//! concurrency. Every refusal is checked to have changed nothing.

use reqwest::StatusCode;

use crate::helpers::{Backend, EN, FR, petition_page, read_page, set, spawn_app, spawn_app_with, valid_form};

fn location(response: &reqwest::Response) -> String {
    response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

async fn a_valid_action_is_stored_counted_and_leads_to_the_thank_you_step(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.submit(EN, &valid_form("Ana.Silva@Example.org")).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("/page/{EN}/thanks#thanks"));
    let actions = app.actions_on(EN).await;
    assert_eq!(actions.len(), 1);
    let action = &actions[0];
    assert_eq!(action.email, "ana.silva@example.org");
    assert_eq!(action.postal_code.as_deref(), Some("K1A 0B1"));
    assert_eq!(action.country.as_deref(), Some("CA"));
    assert!(action.consent);
    assert!(action.consent_text.as_deref().unwrap().starts_with("Yes, send me news about this campaign"));
    assert_eq!(action.subject.as_deref(), Some("Please act"));
    let message = action.message.as_deref().unwrap();
    assert!(message.starts_with("To the Government of Canada,\n\nPeople seeking safety deserve a hearing.\n\nSuspend the Safe Third Country Agreement"));
    assert!(message.ends_with("Sincerely,\nAna Silva\nK1A 0B1"), "{message}");

    let counter = app.counter(EN).await;
    assert_eq!((counter["actions"].as_i64(), counter["count"].as_i64()), (Some(1), Some(786)));

    let thanks = app.get_page(&format!("/page/{EN}/thanks")).await;
    assert_eq!(thanks.status, StatusCode::OK);
    assert_eq!(thanks.text_of("h1"), "Thank you for speaking up");
    assert!(thanks.text_of(".counter-sentence").contains("786 people have taken action"));
    let facebook = thanks.attr("a.share-facebook", "href").unwrap();
    assert!(
        facebook.contains("dont%2Dabandon%2Drefugees%3Futm%5Fsource%3Dfacebook%26utm%5Fmedium%3Dshare"),
        "{facebook}"
    );
    assert!(thanks.attr("a.share-email", "href").unwrap().starts_with("mailto:?subject="));
    assert!(thanks.attr("a.share-whatsapp", "href").unwrap().starts_with("https://wa.me/?text="));
    assert!(thanks.attr("a.share-x", "href").unwrap().starts_with("https://x.com/intent/post?text="));
    assert_eq!(thanks.attr("#page-link", "value"), Some(app.url(&format!("/page/{EN}"))));
}

async fn utm_tags_and_the_referrer_travel_with_the_form_and_are_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .get(app.url(&format!("/page/{EN}?utm_source=newsletter&utm_medium=email&utm_campaign=november&fbclid=x")))
        .header("referer", "https://news.example.org/article")
        .send()
        .await
        .unwrap();
    let page = read_page(response).await;
    let mut fields = valid_form("utm@example.org");
    for input in page.select("form input[type=hidden]") {
        let (name, value) = (input.value().attr("name").unwrap(), input.value().attr("value").unwrap_or_default());
        if let Some(known) = ["utm_source", "utm_medium", "utm_campaign", "referrer"].into_iter().find(|n| *n == name) {
            fields.push((known, value.to_string()));
        }
    }
    let posted = app.post_form(EN, &fields, Some(&page.csrf_token())).await;
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);

    let action = &app.actions_on(EN).await[0];
    assert_eq!(action.utm_source.as_deref(), Some("newsletter"));
    assert_eq!(action.utm_medium.as_deref(), Some("email"));
    assert_eq!(action.utm_campaign.as_deref(), Some("november"));
    assert_eq!(action.utm_content, None);
    assert_eq!(action.referrer.as_deref(), Some("https://news.example.org/article"));
}

async fn invalid_fields_are_explained_beside_each_field_and_what_was_typed_is_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut form = valid_form("not-an-email");
    set(&mut form, "first_name", "   ");
    set(&mut form, "message", "<script>alert('pwned')</script> Please act.");
    let response = app.submit(EN, &form).await;
    let page = read_page(response).await;

    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let summary: Vec<String> =
        page.select(".error-summary a").iter().filter_map(|a| a.value().attr("href").map(str::to_string)).collect();
    assert_eq!(summary, vec!["#first_name", "#email"]);
    assert!(page.text_of("#first_name-error").contains("Enter your first name"));
    assert!(page.text_of("#email-error").contains("Enter an email address in the right format, like name@example.org"));
    assert_eq!(page.attr("#email", "aria-invalid").as_deref(), Some("true"));
    assert_eq!(page.attr("#last_name", "value").as_deref(), Some("Silva"));
    assert_eq!(page.attr("#email", "value").as_deref(), Some("not-an-email"));
    // The message comes back as text, escaped, never as markup.
    assert!(page.text_of("textarea#message").contains("<script>alert('pwned')</script>"));
    assert!(!page.text.contains("<script>alert('pwned')"));
    let raw_textarea = &page.text[page.text.find("<textarea").unwrap()..page.text.find("</textarea>").unwrap()];
    assert!(raw_textarea.contains("&#60;script&#62;") || raw_textarea.contains("&lt;script&gt;"), "{raw_textarea}");

    assert!(app.actions_on(EN).await.is_empty());
    assert_eq!(app.counter(EN).await["actions"], 0);
}

async fn missing_and_oversized_fields_are_refused_with_their_limits(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut form = valid_form("long@example.org");
    set(&mut form, "last_name", &"x".repeat(101));
    set(&mut form, "message", &"y".repeat(5001));
    form.retain(|(name, _)| *name != "postal_code");
    let page = read_page(app.submit(EN, &form).await).await;

    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text_of("#last_name-error").contains("Last name must be 100 characters or fewer"));
    assert!(page.text_of("#message-error").contains("Your message must be 5000 characters or fewer"));
    assert!(page.text_of("#postal_code-error").contains("Enter your postal code"));
    assert!(app.actions_on(EN).await.is_empty());

    let mut bad_postal = valid_form("postal@example.org");
    set(&mut bad_postal, "postal_code", "12345");
    let page = read_page(app.submit(EN, &bad_postal).await).await;
    assert!(page.text_of("#postal_code-error").contains("Enter a valid postal code, like K1A 0B1"));
}

async fn errors_on_the_french_page_are_in_french(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut form = valid_form("");
    set(&mut form, "email", "");
    let page = read_page(app.submit(FR, &form).await).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text_of(".error-summary").contains("Il y a un problème"));
    assert!(page.text_of("#email-error").contains("Entrez votre adresse courriel"));
}

async fn a_post_without_a_valid_csrf_token_changes_nothing_and_offers_the_form_again(backend: Backend) {
    let app = spawn_app(backend).await;
    app.get_page(&format!("/page/{EN}")).await; // has the cookie, but sends no token

    let missing = read_page(app.post_form(EN, &valid_form("csrf@example.org"), None).await).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    assert!(missing.text_of(".notice").contains("This form had expired"));
    assert_eq!(missing.attr("#email", "value").as_deref(), Some("csrf@example.org"));

    let wrong = app.post_form(EN, &valid_form("csrf@example.org"), Some("forged-token")).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);

    // A token is bound to its own cookie: another visitor's token does not work here.
    let other = crate::helpers::new_client();
    let others_page = read_page(other.get(app.url(&format!("/page/{EN}"))).send().await.unwrap()).await;
    let borrowed = app.post_form(EN, &valid_form("csrf@example.org"), Some(&others_page.csrf_token())).await;
    assert_eq!(borrowed.status(), StatusCode::FORBIDDEN);

    assert!(app.actions_on(EN).await.is_empty());
    // The re-offered form carries a fresh, working token.
    let retried = app.post_form(EN, &valid_form("csrf@example.org"), Some(&missing.csrf_token())).await;
    assert_eq!(retried.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.actions_on(EN).await.len(), 1);
}

async fn a_filled_honeypot_looks_like_success_but_stores_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut form = valid_form("bot@example.org");
    set(&mut form, "website", "http://spam.example");
    let response = app.submit(EN, &form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("/page/{EN}/thanks#thanks"));
    assert!(app.actions_on(EN).await.is_empty());
    assert_eq!(app.counter(EN).await["actions"], 0);
}

async fn the_same_email_is_counted_once_per_page_and_told_so_kindly(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.submit(EN, &valid_form("twice@example.org")).await.status(), StatusCode::SEE_OTHER);
    let again = app.submit(EN, &valid_form(" TWICE@example.org ")).await;

    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&again), format!("/page/{EN}/thanks?already=1#thanks"));
    assert_eq!(app.actions_on(EN).await.len(), 1);
    assert_eq!(app.counter(EN).await["actions"], 1);
    let thanks = app.get_page(&location(&again)).await;
    assert!(thanks.text_of(".notice").contains("You have already taken this action with this email address"));
}

async fn locked_parts_of_a_letter_come_from_the_page_not_from_the_post(backend: Backend) {
    let app = spawn_app(backend).await;
    let toml = crate::helpers::petition_page("locked-letter", "live", "")
        .replace("kind = \"petition\"", "kind = \"letter\"")
        + "\n[blocks.letter]\nsubject = \"Organiser subject\"\nsubject_editable = false\nopening = \"Dear Authority,\"\nbody = \"Organiser body.\"\nbody_editable = false\n";
    app.import(&toml).await;

    let mut form = valid_form("locked@example.org");
    set(&mut form, "subject", "Forged subject");
    set(&mut form, "message", "Forged body");
    assert_eq!(app.submit("locked-letter", &form).await.status(), StatusCode::SEE_OTHER);

    let action = &app.actions_on("locked-letter").await[0];
    assert_eq!(action.subject.as_deref(), Some("Organiser subject"));
    let message = action.message.as_deref().unwrap();
    assert!(message.starts_with("Dear Authority,\n\nOrganiser body."), "{message}");
    assert!(!message.contains("Forged"));
}

async fn a_petition_stores_no_letter_and_optional_fields_may_stay_empty(backend: Backend) {
    let app = spawn_app(backend).await;
    app.import(&petition_page("river", "live", "consent = \"Keep me posted\"")).await;
    let form =
        vec![("first_name", "Lee".to_string()), ("last_name", "Wong".into()), ("email", "lee@example.org".into())];
    assert_eq!(app.submit("river", &form).await.status(), StatusCode::SEE_OTHER);

    let action = &app.actions_on("river").await[0];
    assert_eq!(
        (action.subject.as_deref(), action.message.as_deref(), action.postal_code.as_deref()),
        (None, None, None)
    );
    assert!(!action.consent);
    assert_eq!(action.consent_text.as_deref(), Some("Keep me posted"));
    assert_eq!(app.counter("river").await["count"], 11);
}

async fn a_closed_page_refuses_submissions_with_410(backend: Backend) {
    let app = spawn_app(backend).await;
    app.import(&petition_page("closing", "live", "")).await;
    let token = app.get_page("/page/closing").await.csrf_token();
    app.import(&petition_page("closing", "closed", "")).await;

    let page = read_page(app.post_form("closing", &valid_form("late@example.org"), Some(&token)).await).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.text_of(".closed").contains("This petition was delivered"));
    assert!(app.actions_on("closing").await.is_empty());
}

async fn too_many_submissions_from_one_address_get_429_with_retry_after(backend: Backend) {
    let app = spawn_app_with(backend, |config| {
        config.rate_limit.actions_burst = 2;
        config.rate_limit.actions_refill_ms = 60_000;
    })
    .await;
    for n in 0..2 {
        let response = app.submit(EN, &valid_form(&format!("burst{n}@example.org"))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    let limited = app.submit(EN, &valid_form("burst2@example.org")).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(limited.text().await.unwrap().contains("Too many submissions"));
    assert_eq!(app.actions_on(EN).await.len(), 2);
    // Reading the page is not limited.
    assert_eq!(app.get_page(&format!("/page/{EN}")).await.status, StatusCode::OK);
}

async fn an_oversized_body_is_refused_before_it_is_read(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut form = valid_form("big@example.org");
    set(&mut form, "message", &"z".repeat(100 * 1024));
    let response = app.submit(EN, &form).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(app.actions_on(EN).await.is_empty());
}

async fn concurrent_submissions_are_counted_exactly(backend: Backend) {
    let app = std::sync::Arc::new(spawn_app(backend).await);
    let token = app.get_page(&format!("/page/{EN}")).await.csrf_token();
    let distinct = 60;
    let mut tasks = Vec::new();
    for n in 0..distinct + 20 {
        let (app, token) = (app.clone(), token.clone());
        // The last twenty repeat earlier addresses, and race with them.
        let email = format!("crowd{}@example.org", n % distinct);
        tasks.push(tokio::spawn(async move { app.post_form(EN, &valid_form(&email), Some(&token)).await.status() }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::SEE_OTHER);
    }
    assert_eq!(app.actions_on(EN).await.len(), distinct);
    let counter = app.counter(EN).await;
    assert_eq!(counter["actions"], distinct as i64);
    assert_eq!(counter["count"], distinct as i64 + 785);
    assert_eq!(app.counter(FR).await["count"], distinct as i64 + 785);

    // Each stored action queued its emails once, repeats none: as many as one more action
    // queues, times the stored actions.
    let queued = |(pending, sent, failed): (i64, i64, i64)| pending + sent + failed;
    let crowd = queued(undersigned::db::outbox::counts(&app.db).await.unwrap());
    assert_eq!(
        app.post_form(EN, &valid_form("one-more@example.org"), Some(&token)).await.status(),
        StatusCode::SEE_OTHER
    );
    let per_action = queued(undersigned::db::outbox::counts(&app.db).await.unwrap()) - crowd;
    assert!(per_action > 0);
    assert_eq!(crowd, distinct as i64 * per_action, "{per_action} emails per action");
}

/// Submits `emails` on PostgreSQL while the page's row is locked from outside, 300 ms apart:
/// the first action's transaction stalls in its first statement (its foreign key to the
/// page) and the others wait in the queue meanwhile. Then the lock goes, and each action
/// must be acknowledged. Returns a pool on the app's database, from outside.
async fn submit_while_the_page_is_locked(
    app: &std::sync::Arc<crate::helpers::TestApp>,
    emails: &[&'static str],
) -> sqlx::PgPool {
    let token = app.get_page(&format!("/page/{EN}")).await.csrf_token();
    let page = undersigned::db::pages::find_by_slug(&app.db, EN).await.unwrap().unwrap();
    let url = app.postgres_url().expect("a PostgreSQL app");
    let outside = sqlx::PgPool::connect(&url).await.unwrap();
    let mut lock = outside.begin().await.unwrap();
    sqlx::query("select id from pages where id = $1 for update").bind(page.id).execute(&mut *lock).await.unwrap();
    let mut tasks = Vec::new();
    for &email in emails {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move { app.post_form(EN, &valid_form(email), Some(&token)).await.status() }));
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    lock.rollback().await.unwrap();
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::SEE_OTHER);
    }
    outside
}

/// On PostgreSQL the committers take turns: the one writing a transaction holds the queue
/// until its statements are written, so actions arriving meanwhile wait and go into the
/// next transaction together, rather than each into a small one of its own on another
/// committer. Here the page's row is locked from outside, so that the first action's
/// transaction stalls in its first statement (its foreign key to the page); two actions
/// arrive one after the other while it waits; then the lock goes.
#[tokio::test]
async fn postgres_committers_take_turns_so_actions_arriving_meanwhile_share_a_transaction() {
    if !crate::helpers::postgres_available().await {
        return;
    }
    let app = std::sync::Arc::new(spawn_app(Backend::Postgres).await);
    let emails = ["turns-first@example.org", "turns-second@example.org", "turns-third@example.org"];
    let outside = submit_while_the_page_is_locked(&app, &emails).await;

    // A transaction's actions share its time.
    let times: Vec<(String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("select email, created_at from actions where email like 'turns-%' order by id")
            .fetch_all(&outside)
            .await
            .unwrap();
    let time_of = |email: &str| times.iter().find(|(e, _)| e == email).map(|(_, t)| *t).expect(email);
    assert_eq!(times.len(), 3);
    assert_ne!(time_of("turns-first@example.org"), time_of("turns-second@example.org"));
    assert_eq!(time_of("turns-second@example.org"), time_of("turns-third@example.org"), "{times:?}");
    assert_eq!(app.counter(EN).await["actions"], 3);
    outside.close().await;
}

/// Under load a PostgreSQL committer begins its next transaction before its turn; once the
/// load is over, it must not sit in that transaction (an operator's
/// `idle_in_transaction_session_timeout` would cut its connection, and monitoring would
/// flag it). Here the page's row is locked from outside so that a second action waits in the
/// queue while the first's turn stalls: the committer that takes it finds it waiting, and
/// begins its next transaction early.
#[tokio::test]
async fn a_postgres_committer_begun_before_its_turn_ends_that_transaction_when_no_action_comes() {
    if !crate::helpers::postgres_available().await {
        return;
    }
    let app = std::sync::Arc::new(spawn_app(Backend::Postgres).await);
    let emails = ["early-first@example.org", "early-second@example.org"];
    let outside = submit_while_the_page_is_locked(&app, &emails).await;
    let idle_in_transaction = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from pg_stat_activity
             where datname = current_database() and state = 'idle in transaction'",
        )
        .fetch_one(&outside)
        .await
        .unwrap()
    };
    // (Its `BEGIN` may follow the answers by a moment.)
    let started = std::time::Instant::now();
    let mut begun = idle_in_transaction().await;
    while begun == 0 && started.elapsed() < std::time::Duration::from_millis(500) {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        begun = idle_in_transaction().await;
    }
    assert!(begun >= 1, "the committer that found an action waiting begins early");

    // Without another action, that transaction ends within a second or so.
    let mut left = idle_in_transaction().await;
    while left > 0 && started.elapsed() < std::time::Duration::from_secs(4) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        left = idle_in_transaction().await;
    }
    assert_eq!(left, 0, "no committer waits in a transaction once the load is over");

    // And the committers still write.
    let response = app.submit(EN, &valid_form("early-after@example.org")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.counter(EN).await["actions"], 3);
    outside.close().await;
}

/// A connection cut while its committer waits in a transaction begun before its turn (by
/// PostgreSQL's `idle_in_transaction_session_timeout`, or a restart) must not fail the
/// action that comes next: it is written again on a new connection.
#[tokio::test]
async fn an_action_coming_to_a_postgres_committer_whose_connection_was_cut_is_still_stored() {
    if !crate::helpers::postgres_available().await {
        return;
    }
    let app = std::sync::Arc::new(spawn_app(Backend::Postgres).await);
    let emails = ["cut-first@example.org", "cut-second@example.org"];
    let outside = submit_while_the_page_is_locked(&app, &emails).await;
    let cut = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity
             where datname = current_database() and state = 'idle in transaction') as cut",
        )
        .fetch_one(&outside)
        .await
        .unwrap()
    };
    let started = std::time::Instant::now();
    let mut terminated = cut().await;
    while terminated == 0 && started.elapsed() < std::time::Duration::from_millis(500) {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        terminated = cut().await;
    }
    assert!(terminated >= 1, "a committer waits in a transaction begun early");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let response = app.submit(EN, &valid_form("cut-after@example.org")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let stored: i64 =
        sqlx::query_scalar("select count(*) from actions where email like 'cut-%'").fetch_one(&outside).await.unwrap();
    assert_eq!(stored, 3);
    assert_eq!(app.counter(EN).await["actions"], 3);
    outside.close().await;
}

/// With PostgreSQL the group commit keeps connections of the pool for itself; a pool too
/// small to spare one must still serve every other query.
async fn a_node_with_one_database_connection_takes_actions_and_answers_reads(backend: Backend) {
    let app = spawn_app_with(backend, |config| config.database_max_connections = 1).await;
    let before = app.counter(EN).await["count"].as_i64().expect("count");
    for n in 0..3 {
        let response = app.submit(EN, &valid_form(&format!("one-connection-{n}@example.org"))).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "action {n}");
    }
    let after = app.counter(EN).await;
    assert_eq!((after["actions"].as_i64(), after["count"].as_i64()), (Some(3), Some(before + 3)));
}

crate::on_both_backends!(
    a_node_with_one_database_connection_takes_actions_and_answers_reads,
    a_valid_action_is_stored_counted_and_leads_to_the_thank_you_step,
    utm_tags_and_the_referrer_travel_with_the_form_and_are_stored,
    invalid_fields_are_explained_beside_each_field_and_what_was_typed_is_kept,
    missing_and_oversized_fields_are_refused_with_their_limits,
    errors_on_the_french_page_are_in_french,
    a_post_without_a_valid_csrf_token_changes_nothing_and_offers_the_form_again,
    a_filled_honeypot_looks_like_success_but_stores_nothing,
    the_same_email_is_counted_once_per_page_and_told_so_kindly,
    locked_parts_of_a_letter_come_from_the_page_not_from_the_post,
    a_petition_stores_no_letter_and_optional_fields_may_stay_empty,
    a_closed_page_refuses_submissions_with_410,
    too_many_submissions_from_one_address_get_429_with_retry_after,
    an_oversized_body_is_refused_before_it_is_read,
    concurrent_submissions_are_counted_exactly,
);
