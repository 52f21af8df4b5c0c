//! The page builder, over HTTP as an editor uses it.

use reqwest::StatusCode;
use undersigned::domain::user::Role;

use crate::helpers::{Backend, EN, FR, read_page, spawn_app};

async fn an_editor_builds_a_page_from_scratch_and_publishes_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.sign_in_as(Role::Editor).await;
    let created = editor
        .post(
            "/admin/pages",
            &[
                ("title", "Save the marsh"),
                ("slug", "save-the-marsh"),
                ("locale", "en"),
                ("kind", "petition"),
                ("campaign_slug", "marsh"),
                ("campaign_name", "Marsh"),
            ],
        )
        .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get_page("/page/save-the-marsh").await.status, StatusCode::NOT_FOUND, "a new page is a draft");
    let preview = editor.get("/admin/pages/save-the-marsh/preview").await;
    assert_eq!(preview.status, StatusCode::OK);
    assert_eq!(preview.text_of("h1"), "Save the marsh");

    // Block 1 is the campaign section of a new page.
    let saved = editor
        .post(
            "/admin/pages/save-the-marsh/blocks/1",
            &[
                ("heading", "Why the marsh matters"),
                ("body", "The marsh shelters **200 species**."),
                ("image_src", "https://example.org/marsh.jpg"),
                ("image_alt", "Reeds at dawn"),
                ("links_heading", "Read more"),
                ("links", "The study | https://example.org/study\nThe map | https://example.org/map"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let published = editor.post("/admin/pages/save-the-marsh/status", &[("status", "live")]).await;
    assert_eq!(published.status(), StatusCode::SEE_OTHER);

    let page = app.get_page("/page/save-the-marsh").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("<strong>200 species</strong>"));
    assert_eq!(page.attr(".campaign-section img", "alt").as_deref(), Some("Reeds at dawn"));
    assert_eq!(page.select(".learn-more a").len(), 2);

    let duplicate = editor
        .post(
            "/admin/pages",
            &[
                ("title", "Again"),
                ("slug", "save-the-marsh"),
                ("locale", "en"),
                ("kind", "petition"),
                ("campaign_slug", "marsh"),
            ],
        )
        .await;
    let refused = read_page(duplicate).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text_of(".error-summary").contains("another page already has this address"));
}

async fn every_block_type_can_be_edited(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.sign_in_as(Role::Admin).await;
    let edits: [(&str, Vec<(&str, &str)>); 5] = [
        ("0", vec![("sentence", "{count} voices so far"), ("scope", "campaign")]),
        ("1", vec![("heading", "New heading"), ("body", "New *text*."), ("links", "")]),
        (
            "3",
            vec![
                ("call_to_action", "Write to Ottawa"),
                ("targets", "Prime Minister\nMinister of Immigration"),
                ("letter_subject", "Act now"),
                ("letter_subject_editable", "1"),
                ("letter_opening", "Dear Ministers,"),
                ("letter_body", "Please act."),
                ("letter_closing", "End the agreement."),
                ("letter_sign_off", "Regards,"),
                ("first_name", "required"),
                ("last_name", "optional"),
                ("postal_code", "hidden"),
                ("country", "optional"),
                ("default_country", "ca"),
                ("consent", "Email me news"),
                ("submit_label", "Send it"),
            ],
        ),
        ("4", vec![("heading", "Merci beaucoup"), ("body", "Share please."), ("share_x", "1"), ("share_copy", "1")]),
        ("5", vec![("html", "<script>window.edited = true;</script>")]),
    ];
    for (index, fields) in edits {
        let response = admin.post(&format!("/admin/pages/{EN}/blocks/{index}"), &fields).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "block {index}");
    }
    let page = app.get_page(&format!("/page/{EN}")).await;
    assert!(page.text_of(".counter-sentence").contains("voices so far"));
    assert_eq!(page.text_of(".campaign-section h2").matches("New heading").count(), 1);
    assert_eq!(page.text_of("#call-to-action"), "Write to Ottawa");
    assert_eq!(page.select(".target").len(), 2);
    assert!(page.select("#postal_code").is_empty(), "the postal code is hidden");
    assert_eq!(page.attr("#country option[selected]", "value").as_deref(), Some("CA"));
    assert_eq!(page.text_of("label[for=consent]"), "Email me news");
    assert_eq!(page.text_of("button[type=submit]"), "Send it");
    assert!(page.text.contains("window.edited = true"));
    let thanks = app.get_page(&format!("/page/{EN}/thanks")).await;
    assert_eq!(thanks.text_of("h1"), "Merci beaucoup");
    assert_eq!(thanks.select(".share-links a").len(), 1, "only X is left among the links");
    assert_eq!(thanks.select("[data-copy]").len(), 1);
}

async fn an_invalid_change_is_explained_and_nothing_is_saved(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.sign_in_as(Role::Editor).await;
    let before = undersigned::services::pages::export_page(&app.db, EN).await.unwrap();

    let bad_link = editor
        .post(
            &format!("/admin/pages/{EN}/blocks/2"),
            &[("heading", "Changed"), ("links", "Broken | javascript:alert(1)")],
        )
        .await;
    let page = read_page(bad_link).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.text_of(".error-summary").contains("blocks[2].links[0].url: must be an absolute http:// or https:// URL")
    );
    assert_eq!(page.attr("#heading-2", "value").as_deref(), Some("Changed"), "what was typed is shown again");

    let no_count =
        read_page(editor.post(&format!("/admin/pages/{EN}/blocks/0"), &[("sentence", "no number here")]).await).await;
    assert!(no_count.text_of(".error-summary").contains("must contain {count}"));
    let no_title =
        read_page(editor.post(&format!("/admin/pages/{EN}/settings"), &[("title", " "), ("share_text", "x")]).await)
            .await;
    assert!(no_title.text_of(".error-summary").contains("title: cannot be empty"));
    let form_removal = read_page(editor.post(&format!("/admin/pages/{EN}/blocks/3/remove"), &[]).await).await;
    assert!(form_removal.text_of(".error-summary").contains("exactly one block of type \"form\""));

    assert_eq!(undersigned::services::pages::export_page(&app.db, EN).await.unwrap(), before);
}

async fn markdown_can_be_previewed_without_saving(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.sign_in_as(Role::Editor).await;
    let preview = read_page(
        editor.post(&format!("/admin/pages/{EN}/blocks/2"), &[("body", "Try **this**"), ("preview", "1")]).await,
    )
    .await;
    assert_eq!(preview.status, StatusCode::OK);
    assert!(preview.text.contains("<strong>this</strong>"));
    assert!(preview.text_of(".notice").contains("not saved"));
    assert!(!app.get_page(&format!("/page/{EN}")).await.text.contains("Try <strong>this</strong>"));
}

async fn blocks_are_added_moved_and_removed(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.sign_in_as(Role::Editor).await;
    assert_eq!(
        editor.post(&format!("/admin/pages/{EN}/blocks"), &[("kind", "campaign_section")]).await.status(),
        StatusCode::SEE_OTHER
    );
    let spec = undersigned::services::pages::export_page(&app.db, EN).await.unwrap();
    assert_eq!(spec.blocks.len(), 7);
    assert_eq!(
        editor
            .post(&format!("/admin/pages/{EN}/blocks/6"), &[("heading", "Added last"), ("body", "Hello")])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        editor.post(&format!("/admin/pages/{EN}/blocks/6/move"), &[("direction", "up")]).await.status(),
        StatusCode::SEE_OTHER
    );
    let headings: Vec<String> = app
        .get_page(&format!("/page/{EN}"))
        .await
        .select(".campaign-section h2")
        .iter()
        .map(|h| h.text().collect())
        .collect();
    assert_eq!(headings.last().map(String::as_str), Some("Added last"));
    let spec = undersigned::services::pages::export_page(&app.db, EN).await.unwrap();
    assert!(
        matches!(&spec.blocks[5], undersigned::domain::page::Block::CampaignSection(s) if s.heading.as_deref() == Some("Added last"))
    );

    assert_eq!(
        editor.post(&format!("/admin/pages/{EN}/blocks/1/move"), &[("direction", "down")]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(editor.post(&format!("/admin/pages/{EN}/blocks/5/remove"), &[]).await.status(), StatusCode::SEE_OTHER);
    let spec = undersigned::services::pages::export_page(&app.db, EN).await.unwrap();
    assert_eq!(spec.blocks.len(), 6);
    let first_section = spec.blocks.iter().find_map(|b| match b {
        undersigned::domain::page::Block::CampaignSection(s) => s.heading.clone(),
        _ => None,
    });
    assert_eq!(first_section.as_deref(), Some("What we are asking for"), "the first section moved below the second");
}

async fn pages_are_published_closed_and_reopened(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.sign_in_as(Role::Editor).await;
    assert_eq!(
        editor.post(&format!("/admin/pages/{EN}/status"), &[("status", "closed")]).await.status(),
        StatusCode::SEE_OTHER
    );
    let closed = app.get_page(&format!("/page/{EN}")).await;
    assert!(closed.text_of(".closed").contains("This action has ended"));
    assert_eq!(app.submit_without_form(EN).await, StatusCode::GONE);

    assert_eq!(
        editor.post(&format!("/admin/pages/{EN}/status"), &[("status", "live")]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.get_page(&format!("/page/{EN}")).await.select("form[method=post]").len(), 1);
    assert_eq!(
        editor.post(&format!("/admin/pages/{EN}/status"), &[("status", "draft")]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.get_page(&format!("/page/{EN}")).await.status, StatusCode::NOT_FOUND);
}

async fn the_offset_changes_with_a_reason_that_is_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.sign_in_as(Role::Editor).await;
    let no_reason = read_page(
        editor
            .post(&format!("/admin/pages/{EN}/counter"), &[("offset", "900"), ("goal", "2000"), ("reason", "")])
            .await,
    )
    .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(no_reason.text_of(".error-summary").contains("reason: say why"));
    let not_a_number =
        read_page(editor.post(&format!("/admin/pages/{EN}/counter"), &[("offset", "lots"), ("reason", "x")]).await)
            .await;
    assert!(not_a_number.text_of(".error-summary").contains("offset: must be a whole number"));
    assert_eq!(app.counter(EN).await["offset"], 785);

    let changed = editor
        .post(
            &format!("/admin/pages/{EN}/counter"),
            &[("offset", "900"), ("goal", "2000"), ("reason", "Paper petitions from the vigil")],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::SEE_OTHER);
    for slug in [EN, FR] {
        let counter = app.counter(slug).await;
        assert_eq!(
            (counter["offset"].as_i64(), counter["goal"].as_i64()),
            (Some(900), Some(2000)),
            "{slug} shares the campaign counter"
        );
    }
    let dashboard = editor.get("/admin/campaigns/safe-third-country/dashboard").await;
    assert!(dashboard.text_of(".log").contains("785 → 900"));
    assert!(dashboard.text_of(".log").contains("Paper petitions from the vigil"));
}

async fn a_page_is_duplicated_or_translated_as_a_draft(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.sign_in_as(Role::Editor).await;
    assert_eq!(
        editor
            .post(&format!("/admin/pages/{EN}/copy"), &[("slug", "dont-abandon-refugees-b"), ("locale", "")])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        editor.post(&format!("/admin/pages/{EN}/copy"), &[("slug", "refugees-fr-2"), ("locale", "fr")]).await.status(),
        StatusCode::SEE_OTHER
    );
    let copy = undersigned::services::pages::export_page(&app.db, "dont-abandon-refugees-b").await.unwrap();
    let translation = undersigned::services::pages::export_page(&app.db, "refugees-fr-2").await.unwrap();
    assert_eq!(copy.status, undersigned::domain::page::PageStatus::Draft);
    assert_eq!(copy.title, "Don't abandon refugees");
    assert_eq!(translation.locale, undersigned::domain::locale::Locale::Fr);
    assert_eq!(translation.campaign.slug.as_str(), "safe-third-country");
    assert_eq!(editor.get("/admin/pages/refugees-fr-2/preview").await.attr("html", "lang").as_deref(), Some("fr"));
    let taken = read_page(editor.post(&format!("/admin/pages/{EN}/copy"), &[("slug", FR)]).await).await;
    assert!(taken.text_of(".error-summary").contains("another page already has this address"));
}

async fn history_shows_who_changed_what_and_restores_a_version(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.sign_in_as(Role::Editor).await;
    let settings = |title: &'static str| {
        [("title", title), ("share_text", "Share it"), ("intro", ""), ("closing_message", "Closed.")]
    };
    assert_eq!(
        editor.post(&format!("/admin/pages/{EN}/settings"), &settings("First new title")).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        editor.post(&format!("/admin/pages/{EN}/settings"), &settings("Second new title")).await.status(),
        StatusCode::SEE_OTHER
    );

    let history = editor.get(&format!("/admin/pages/{EN}/history")).await;
    let rows: Vec<String> = history.select("tbody tr").iter().map(|r| r.text().collect::<String>()).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows[0].contains("Changed the page's settings") && rows[0].contains("editor-"));
    assert!(rows[2].contains("Imported from a page file") && rows[2].contains("command line"));

    let first_edit = history.select("tbody tr form").len();
    assert_eq!(first_edit, 2, "every version but the current one can be restored");
    let versions = undersigned::db::pages::revisions(
        &app.db,
        undersigned::db::pages::find_by_slug(&app.db, EN).await.unwrap().unwrap().id,
    )
    .await
    .unwrap();
    let original = versions.last().unwrap().id;
    let restored = editor.post(&format!("/admin/pages/{EN}/history/{original}/restore"), &[]).await;
    assert_eq!(restored.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get_page(&format!("/page/{EN}")).await.text_of("h1"), "Don't abandon refugees");
    assert!(
        editor.get(&format!("/admin/pages/{EN}/history")).await.text.contains(&format!("Restored version {original}"))
    );

    // A version whose scripts differ from today's is an admin's to restore.
    let admin = app.sign_in_as(Role::Admin).await;
    assert_eq!(
        admin
            .post(&format!("/admin/pages/{EN}/blocks/5"), &[("html", "<script>window.v = 2;</script>")])
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        editor.post(&format!("/admin/pages/{EN}/history/{original}/restore"), &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        admin.post(&format!("/admin/pages/{EN}/history/{original}/restore"), &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert!(!app.get_page(&format!("/page/{EN}")).await.text.contains("window.v = 2"));
}

crate::on_both_backends!(
    an_editor_builds_a_page_from_scratch_and_publishes_it,
    every_block_type_can_be_edited,
    an_invalid_change_is_explained_and_nothing_is_saved,
    markdown_can_be_previewed_without_saving,
    blocks_are_added_moved_and_removed,
    pages_are_published_closed_and_reopened,
    the_offset_changes_with_a_reason_that_is_kept,
    a_page_is_duplicated_or_translated_as_a_draft,
    history_shows_who_changed_what_and_restores_a_version,
);
