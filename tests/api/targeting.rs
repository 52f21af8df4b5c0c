//! Whom letters go to and when: the supporter's representative found from their postal
//! code, senders who must confirm before anything counts or leaves, daily digests, and
//! targets managed in the workspace.

use std::time::Duration;

use reqwest::StatusCode;
use undersigned::db::targets::Target;
use undersigned::domain::user::Role;

use crate::email::{SmtpServer, by_recipient, free_port, header, target, use_smtp, wait_for_files};
use crate::helpers::{Backend, TestApp, read_page, set, spawn_app, spawn_app_with, valid_form};

fn letter_page(slug: &str, form_options: &str) -> String {
    format!(
        r#"
slug = "{slug}"
locale = "en"
status = "live"
kind = "letter"
title = "Write to your MP"
share_text = "I wrote to my MP."

[campaign]
slug = "{slug}"
name = "MPs"

[[blocks]]
type = "counter"
sentence = "{{count}} letters"

[[blocks]]
type = "form"
call_to_action = "Write to your MP"
targets = ["Your Member of Parliament"]
default_country = "CA"
submit_label = "Send"
{form_options}

[blocks.fields]
postal_code = "required"

[blocks.letter]
subject = "Act now"
opening = "{{target_salutation}},"
body = "Please act."
sign_off = "Sincerely,"
"#
    )
}

fn mp(key: &str, name: &str, district: &str) -> Target {
    Target {
        title: Some("Member of Parliament".into()),
        district: Some(district.into()),
        party: Some("Independent".into()),
        ..target(key, name, &format!("Dear {name}"))
    }
}

/// Two ridings, one area (K2A) split between them, and the Prime Minister as a fixed target.
pub(crate) async fn with_ridings(app: &TestApp) {
    for t in [
        target("prime-minister", "Prime Minister", "Dear Prime Minister"),
        mp("mp-ottawa-centre", "Rosa Tremblay", "Ottawa Centre"),
        mp("mp-orleans", "Marc Dubois", "Orléans"),
    ] {
        undersigned::db::targets::save(&app.db, &t).await.unwrap();
    }
    let rows: Vec<(String, String)> = [
        ("K1P", "Ottawa Centre"),
        ("K1C", "Orléans"),
        ("K2A", "Ottawa Centre"),
        ("K2A", "Orléans"),
        ("K2A 1A1", "Orléans"),
        ("K9Z", "Nowhere Yet"),
    ]
    .into_iter()
    .map(|(p, d)| (p.to_string(), d.to_string()))
    .collect();
    undersigned::db::districts::import(&app.db, &rows, true).await.unwrap();
    app.import(&letter_page("write-to-your-mp", "district_targets = true\nrecipients = [\"prime-minister\"]")).await;
}

fn postal(code: &str) -> Vec<(&'static str, String)> {
    let mut form = valid_form("ana@example.org");
    set(&mut form, "postal_code", code);
    form
}

async fn letters_go_to_the_representative_of_the_supporters_postal_code(backend: Backend) {
    let app = spawn_app(backend).await;
    with_ridings(&app).await;
    let slug = "write-to-your-mp";

    // Without JavaScript, the first send shows whom the letter goes to, and stores nothing.
    let review = read_page(app.submit(slug, &postal("k1p 5j2")).await).await;
    assert_eq!(review.status, StatusCode::OK);
    let shown = review.text_of("[data-lookup-list]");
    assert!(shown.contains("Rosa Tremblay") && shown.contains("Ottawa Centre"), "{shown}");
    assert!(review.text_of(".notice").contains("Check them, then send"));
    let reviewed = review.attr("input[name=reviewed_targets]", "value").unwrap();
    assert_eq!(reviewed, "mp-ottawa-centre");
    assert!(app.actions_on(slug).await.is_empty(), "nothing stored before the supporter saw the targets");

    // Keys the supporter was not shown (a forged or stale form) bring the review back.
    let mut forged = postal("K1P 5J2");
    set(&mut forged, "reviewed_targets", "mp-orleans");
    assert_eq!(read_page(app.submit(slug, &forged).await).await.text_of("[data-lookup-list]"), shown);
    assert!(app.actions_on(slug).await.is_empty());

    let mut confirmed = postal("K1P 5J2");
    set(&mut confirmed, "reviewed_targets", &reviewed);
    assert_eq!(app.submit(slug, &confirmed).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.actions_on(slug).await.len(), 1);
    let messages = wait_for_files(&app.data_dir().join("outbox"), 3).await;
    assert_eq!(messages.len(), 3, "the Prime Minister, the MP of Ottawa Centre and the thank-you");
    let to_mp = by_recipient(&messages, "mp-ottawa-centre@example.gc.ca");
    assert!(to_mp.contains("Dear Rosa Tremblay,"), "{to_mp}");
    by_recipient(&messages, "prime-minister@example.gc.ca");
    assert!(!messages.iter().any(|m| m.contains("mp-orleans@")));

    // A full postal code listed on its own wins over its area's several ridings.
    let mut split = postal("K2A 1A1");
    set(&mut split, "email", "bo@example.org");
    let page = read_page(app.submit(slug, &split).await).await;
    assert_eq!(page.attr("input[name=reviewed_targets]", "value").as_deref(), Some("mp-orleans"));

    // Codes the table cannot place get a clear message beside the field; nothing is stored.
    for (code, message) in [
        ("H0H 0H0", "We could not find the representative for this postal code"),
        ("K2A 7B7", "enter your full postal code"),
        ("K9Z 1A1", "no contact for its representative yet"),
    ] {
        let refused = read_page(app.submit(slug, &postal(code)).await).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{code}");
        assert!(
            refused.text_of("#postal_code-error").contains(message),
            "{code}: {}",
            refused.text_of("#postal_code-error")
        );
    }
    assert_eq!(app.actions_on(slug).await.len(), 1);
}

async fn the_page_looks_up_the_representative_as_json(backend: Backend) {
    let app = spawn_app(backend).await;
    with_ridings(&app).await;
    let lookup =
        |query: &str| app.client.get(app.url(&format!("/api/v1/pages/write-to-your-mp/targets?{query}"))).send();

    let found = lookup("postal_code=K1P%205J2").await.unwrap();
    assert_eq!(found.status(), StatusCode::OK);
    let body: serde_json::Value = found.json().await.unwrap();
    assert_eq!(body["targets"][0]["name"], "Rosa Tremblay");
    assert_eq!(body["targets"][0]["district"], "Ottawa Centre");
    assert_eq!(body["review_keys"], "mp-ottawa-centre");
    assert!(body["targets"][0].get("email").is_none(), "the lookup does not hand out addresses");

    for (query, code) in [
        ("postal_code=H0H0H0", "unknown_district"),
        ("postal_code=K2A7B7", "ambiguous_district"),
        ("postal_code=12", "invalid_postal_code"),
    ] {
        let refused = lookup(query).await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["error"], code);
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    let no_lookup = app.client.get(app.url("/api/v1/pages/dont-abandon-refugees/targets?postal_code=K1P5J2"));
    assert_eq!(no_lookup.send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

/// The link in the confirmation email, from its text.
fn confirm_link(message: &str, base: &str) -> String {
    let start = message.find(&format!("{base}/confirm/")).expect("a confirmation link");
    message[start..].split_whitespace().next().unwrap().to_string()
}

async fn verified_senders_count_only_after_pressing_confirm(backend: Backend) {
    let app = spawn_app(backend).await;
    with_ridings(&app).await;
    app.import(&letter_page("verified", "recipients = [\"prime-minister\", \"mp-orleans\"]\nverify_sender = true"))
        .await;

    let response = app.submit("verified", &valid_form("ana@example.org")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let thanks = response.headers()["location"].to_str().unwrap().to_string();
    let page = app.get_page(&thanks).await;
    assert!(
        page.text_of("[data-awaiting-confirmation]").contains("Check your email")
            || page.text_of("h1") == "Check your email"
    );

    // Only the confirmation email leaves; nothing is counted or stored as an action.
    let outbox = app.data_dir().join("outbox");
    let messages = wait_for_files(&outbox, 1).await;
    let confirmation = &messages[0];
    assert_eq!(header(confirmation, "To"), Some("\"Ana Silva\" <ana@example.org>"));
    assert!(header(confirmation, "Subject").unwrap().starts_with("Please confirm your action"));
    let link = confirm_link(confirmation, &app.address);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 1, "letters are held");
    assert_eq!(app.counter("verified").await["actions"], 0);
    assert!(app.actions_on("verified").await.is_empty());

    // A mail scanner following the link confirms nothing.
    let opened = app.get_page(&link[app.address.len()..]).await;
    assert_eq!(opened.status, StatusCode::OK);
    assert!(opened.text_of("button").contains("Confirm my action"));
    assert_eq!(app.counter("verified").await["actions"], 0);

    // A tampered link is refused.
    let mut tampered = link.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(app.client.get(&tampered).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let token = opened.csrf_token();
    let forged = app.client.post(&tampered).form(&[("csrf_token", token.as_str())]).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);

    // Pressing the button counts the action and releases its letters.
    let pressed = app.client.post(&link).form(&[("csrf_token", token.as_str())]).send().await.unwrap();
    assert_eq!(pressed.status(), StatusCode::SEE_OTHER);
    assert_eq!(pressed.headers()["location"], "/page/verified/thanks#thanks");
    assert_eq!(app.counter("verified").await["actions"], 1);
    assert_eq!(app.actions_on("verified").await.len(), 1);
    let messages = wait_for_files(&outbox, 4).await;
    by_recipient(&messages, "prime-minister@example.gc.ca");
    by_recipient(&messages, "mp-orleans@example.gc.ca");
    assert!(messages.iter().any(|m| header(m, "List-Unsubscribe").is_some()), "the thank-you email");

    // The link works once.
    let again = app.client.post(&link).form(&[("csrf_token", token.as_str())]).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::GONE);
    assert_eq!(app.counter("verified").await["actions"], 1);

    // Acting again with a confirmed address changes nothing and asks for nothing.
    assert!(
        app.submit("verified", &valid_form("ana@example.org")).await.headers()["location"]
            .to_str()
            .unwrap()
            .contains("already=1")
    );
}

async fn expired_confirmation_links_are_refused_and_purged(backend: Backend) {
    let app = spawn_app_with(backend, |config| config.mail.confirm_link_hours = 0).await;
    with_ridings(&app).await;
    app.import(&letter_page("verified", "recipients = [\"prime-minister\"]\nverify_sender = true")).await;
    assert_eq!(app.submit("verified", &valid_form("ana@example.org")).await.status(), StatusCode::SEE_OTHER);
    let messages = wait_for_files(&app.data_dir().join("outbox"), 1).await;
    let link = confirm_link(&messages[0], &app.address);

    let opened = app.get_page(&link[app.address.len()..]).await;
    assert_eq!(opened.status, StatusCode::GONE);
    assert!(opened.text_of("[data-confirm-problem]").contains("expired"));
    let pressed = app.client.post(&link).form(&[("csrf_token", "none")]).send().await.unwrap();
    assert_eq!(pressed.status(), StatusCode::GONE);
    assert_eq!(app.counter("verified").await["actions"], 0);

    let page = undersigned::db::pages::find_by_slug(&app.db, "verified").await.unwrap().unwrap();
    let (_, before) = undersigned::db::outbox::page_delivery(&app.db, page.id).await.unwrap();
    assert_eq!(before.held_for_confirmation, 2, "the letter and the thank-you wait");
    let purged = undersigned::db::pending::purge_expired(&app.db, chrono::Utc::now()).await.unwrap();
    assert_eq!(purged, 1);
    let (_, after) = undersigned::db::outbox::page_delivery(&app.db, page.id).await.unwrap();
    assert_eq!(after.held_for_confirmation, 0);
    assert_eq!(undersigned::db::pending::count_for_page(&app.db, page.id).await.unwrap(), 0);
    assert!(app.actions_on("verified").await.is_empty());
}

async fn a_daily_digest_carries_each_targets_letters_in_one_email(backend: Backend) {
    if !SmtpServer::available() {
        return;
    }
    let smtp = SmtpServer::start(free_port(), tempfile::tempdir().unwrap());
    let app = spawn_app_with(backend, |config| use_smtp(config, smtp.port)).await;
    with_ridings(&app).await;
    app.import(&letter_page(
        "digest",
        "recipients = [\"prime-minister\", \"mp-orleans\"]\ndelivery = \"daily_digest\"",
    ))
    .await;
    for (email, name) in [("ana@example.org", "Ana"), ("bo@example.org", "Bo"), ("cy@example.org", "Cy")] {
        let mut form = valid_form(email);
        set(&mut form, "first_name", name);
        assert_eq!(app.submit("digest", &form).await.status(), StatusCode::SEE_OTHER);
    }
    // The thank-you emails leave at once; the letters wait for the day's digest.
    smtp.received(3).await;
    let page = undersigned::db::pages::find_by_slug(&app.db, "digest").await.unwrap().unwrap();
    let (_, waiting) = undersigned::db::outbox::page_delivery(&app.db, page.id).await.unwrap();
    assert_eq!(waiting.waiting_for_digest, 6);
    let editor = app.sign_in_as(Role::Editor).await;
    assert!(editor.get("/admin/pages/digest").await.text_of("[data-digest-waiting]").contains("6 letters"));

    // Nothing is due before the digest hour...
    let site = undersigned::services::actions::Site {
        public_url: app.address.clone(),
        from_name: "Undersigned".into(),
        signer: undersigned::signing::Signer::new(b"test key"),
        confirm_link_hours: 72,
    };
    let now = chrono::Utc::now();
    let hour = (now + chrono::TimeDelta::hours(2)).format("%H").to_string().parse().unwrap();
    assert_eq!(undersigned::services::digests::send_due(&app.db, &site, hour, now).await.unwrap(), 0);
    // ...and the organisers may send it early.
    assert_eq!(
        editor.post("/admin/pages/digest/delivery", &[("delivery", "digest")]).await.status(),
        StatusCode::SEE_OTHER
    );

    let messages = smtp.received(5).await;
    assert_eq!(messages.len(), 5, "three thank-yous and one digest per target");
    for address in ["prime-minister@example.gc.ca", "mp-orleans@example.gc.ca"] {
        let digest = by_recipient(&messages, address);
        assert_eq!(header(digest, "Subject"), Some("3 messages from the public: Write to your MP"));
        assert_eq!(header(digest, "Reply-To"), None);
        for author in ["Ana Silva <ana@example.org>", "Bo Silva <bo@example.org>", "Cy Silva <cy@example.org>"] {
            assert!(digest.contains(author), "{author} in {digest}");
        }
    }
    let (_, after) = undersigned::db::outbox::page_delivery(&app.db, page.id).await.unwrap();
    assert_eq!((after.waiting_for_digest, after.digested), (0, 6));
    // A second press finds nothing more to send.
    assert_eq!(undersigned::services::digests::send_now(&app.db, &site, page.id).await.unwrap(), 0);
}

async fn organisers_manage_targets_in_the_workspace(backend: Backend) {
    let app = spawn_app(backend).await;
    with_ridings(&app).await;
    let editor = app.sign_in_as(Role::Editor).await;
    let viewer = app.sign_in_as(Role::Viewer).await;

    let list = viewer.get("/admin/targets").await;
    assert!(list.text_of("[data-targets]").contains("Rosa Tremblay"));
    assert_eq!(list.text_of("[data-district-rows]"), "6");
    let fields = [
        ("key", "finance-minister"),
        ("name", "Minister of Finance"),
        ("email", "finance@example.gc.ca"),
        ("salutation", "Dear Minister"),
        ("district", ""),
    ];
    assert_eq!(viewer.post("/admin/targets", &fields).await.status(), StatusCode::FORBIDDEN);

    let mut bad = fields.to_vec();
    bad[2] = ("email", "finance at example");
    let refused = read_page(editor.post("/admin/targets", &bad).await).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text_of("[data-error-summary]").contains("is not an email address"));
    assert!(undersigned::db::targets::find(&app.db, "finance-minister").await.unwrap().is_none());

    assert_eq!(editor.post("/admin/targets", &fields).await.status(), StatusCode::SEE_OTHER);
    let saved = undersigned::db::targets::find(&app.db, "finance-minister").await.unwrap().unwrap();
    assert_eq!((saved.salutation.as_deref(), saved.district), (Some("Dear Minister"), None));
    let duplicate = read_page(editor.post("/admin/targets", &fields).await).await;
    assert!(duplicate.text_of("[data-error-summary]").contains("already used"));

    let mut renamed = fields.to_vec();
    renamed[1] = ("name", "Minister of Finance and Revenue");
    assert_eq!(editor.post("/admin/targets/finance-minister", &renamed).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        undersigned::db::targets::find(&app.db, "finance-minister").await.unwrap().unwrap().name,
        "Minister of Finance and Revenue"
    );
    assert_eq!(viewer.post("/admin/targets/finance-minister/delete", &[]).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(editor.post("/admin/targets/finance-minister/delete", &[]).await.status(), StatusCode::SEE_OTHER);
    assert!(undersigned::db::targets::find(&app.db, "finance-minister").await.unwrap().is_none());
}

crate::on_both_backends!(
    letters_go_to_the_representative_of_the_supporters_postal_code,
    the_page_looks_up_the_representative_as_json,
    verified_senders_count_only_after_pressing_confirm,
    expired_confirmation_links_are_refused_and_purged,
    a_daily_digest_carries_each_targets_letters_in_one_email,
    organisers_manage_targets_in_the_workspace,
);
