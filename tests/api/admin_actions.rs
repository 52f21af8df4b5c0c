//! Actions in the workspace: lists, search, detail, deletion, the CSV export, dashboards.

use reqwest::StatusCode;
use undersigned::domain::user::Role;

use crate::helpers::{Backend, EN, FR, read_page, set, spawn_app, valid_form};

async fn take_three_actions(app: &crate::helpers::TestApp) {
    let mut ana = valid_form("ana@example.org");
    set(&mut ana, "first_name", "Ana");
    set(&mut ana, "last_name", "Silva");
    let mut bo = valid_form("bo@example.org");
    set(&mut bo, "first_name", "Bo");
    set(&mut bo, "last_name", "Tremblay");
    set(&mut bo, "postal_code", "H2X 1Y4");
    let mut cy = valid_form("cy@example.org");
    set(&mut cy, "first_name", "=HYPERLINK(\"http://evil.example\",\"Cy\")");
    set(&mut cy, "last_name", "Young");
    set(&mut cy, "message", "Line one, \"quoted\"\nline two");
    for (slug, form) in [(EN, ana), (EN, bo), (FR, cy)] {
        assert_eq!(app.submit(slug, &form).await.status(), StatusCode::SEE_OTHER);
    }
}

async fn actions_are_listed_searched_and_shown_in_full(backend: Backend) {
    let app = spawn_app(backend).await;
    take_three_actions(&app).await;
    let editor = app.sign_in_as(Role::Editor).await;

    let list = editor.get(&format!("/admin/pages/{EN}/actions")).await;
    assert_eq!(list.select("tbody tr").len(), 2);
    assert!(list.text.contains("2 action(s)"));
    let campaign = editor.get("/admin/campaigns/safe-third-country/actions").await;
    assert_eq!(campaign.select("tbody tr").len(), 3);

    for (query, expected) in [
        ("silva", "ana@example.org"),
        ("BO@EXAMPLE", "bo@example.org"),
        ("h2x1y4", "bo@example.org"),
        ("Ana Silva", "ana@example.org"),
    ] {
        let found =
            editor.get(&format!("/admin/campaigns/safe-third-country/actions?q={}", query.replace(' ', "+"))).await;
        assert_eq!(found.select("tbody tr").len(), 1, "{query}");
        assert!(found.text_of("tbody").contains(expected), "{query}");
    }
    let none = editor.get("/admin/campaigns/safe-third-country/actions?q=%25").await;
    assert_eq!(none.select("tbody tr").len(), 0, "a % is searched for, not a wildcard");

    let id = app.actions_on(EN).await[0].id;
    let detail = editor.get(&format!("/admin/actions/{id}")).await;
    assert!(detail.text_of("dl").contains("ana@example.org"));
    assert!(detail.text_of("dl").contains("Yes, send me news about this campaign"));
    assert!(detail.text_of("pre.letter").contains("To the Government of Canada,"));
}

async fn long_lists_of_actions_are_paginated_newest_first(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = undersigned::services::pages::public_page(&app.db, EN).await.unwrap();
    let site = undersigned::services::actions::Site {
        public_url: app.address.clone(),
        from_name: "Test".into(),
        signer: undersigned::signing::Signer::new(b"test key"),
        confirm_link_hours: 72,
    };
    for n in 0..55 {
        let submission = undersigned::domain::action::Submission {
            first_name: "Many".into(),
            last_name: format!("Number{n}"),
            email: format!("many{n}@example.org"),
            postal_code: "K1A 0B1".into(),
            subject: Some("Act".into()),
            message: Some("Please.".into()),
            ..Default::default()
        };
        undersigned::services::actions::take_action(&app.db, &site, &page, &submission, &Default::default())
            .await
            .unwrap();
    }
    let editor = app.sign_in_as(Role::Editor).await;
    let first = editor.get(&format!("/admin/pages/{EN}/actions")).await;
    assert_eq!(first.select("tbody tr").len(), 50);
    assert!(first.text_of("tbody tr:first-child").contains("many54@example.org"), "newest first");
    assert!(first.text_of(".pager").contains("Page 1 of 2"));
    let second = editor.get(&format!("/admin/pages/{EN}/actions?page=2")).await;
    assert_eq!(second.select("tbody tr").len(), 5);
    assert!(second.text_of("tbody tr:last-child").contains("many0@example.org"));
}

async fn deleting_an_action_takes_it_off_the_counter(backend: Backend) {
    let app = spawn_app(backend).await;
    take_three_actions(&app).await;
    let editor = app.sign_in_as(Role::Editor).await;
    assert_eq!(app.counter(EN).await["count"], 788);
    let id = app.actions_on(EN).await[0].id;
    let deleted = editor.post(&format!("/admin/actions/{id}/delete"), &[]).await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.counter(EN).await["count"], 787);
    assert_eq!(app.actions_on(EN).await.len(), 1);
    assert_eq!(editor.post(&format!("/admin/actions/{id}/delete"), &[]).await.status(), StatusCode::NOT_FOUND);
    // The same person may act again: their earlier action is gone.
    assert_eq!(app.submit(EN, &valid_form("ana@example.org")).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.counter(EN).await["count"], 788);
}

fn parse_csv(text: &str) -> Vec<Vec<String>> {
    csv::Reader::from_reader(text.as_bytes()).records().map(|r| r.unwrap().iter().map(String::from).collect()).collect()
}

async fn the_csv_export_has_documented_columns_neutralised_cells_and_filters(backend: Backend) {
    let app = spawn_app(backend).await;
    take_three_actions(&app).await;
    let editor = app.sign_in_as(Role::Editor).await;

    let response = editor.get_raw("/admin/export.csv?campaign=safe-third-country").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"undersigned-actions-safe-third-country-")
    );
    let text = response.text().await.unwrap();
    let header = text.lines().next().unwrap();
    assert_eq!(
        header,
        "action_id,campaign,page,kind,created_at,first_name,last_name,email,postal_code,country,consent,consent_text,subject,message,utm_source,utm_medium,utm_campaign,utm_content,utm_term,referrer"
    );
    let rows = parse_csv(&text);
    assert_eq!(rows.len(), 3);
    let ana = &rows[0];
    assert_eq!((ana[1].as_str(), ana[2].as_str(), ana[3].as_str()), ("safe-third-country", EN, "letter"));
    assert!(ana[4].ends_with('Z') && ana[4].len() == 20, "UTC ISO-8601: {}", ana[4]);
    assert_eq!(
        (ana[5].as_str(), ana[7].as_str(), ana[8].as_str(), ana[9].as_str(), ana[10].as_str()),
        ("Ana", "ana@example.org", "K1A 0B1", "CA", "yes")
    );
    let cy = &rows[2];
    assert!(cy[5].starts_with("'=HYPERLINK"), "formulas are neutralised: {}", cy[5]);
    assert!(cy[13].contains("Line one, \"quoted\"\nline two"), "quoting survives: {}", cy[13]);

    let only_fr = parse_csv(&editor.get_raw(&format!("/admin/export.csv?page={FR}")).await.text().await.unwrap());
    assert_eq!(only_fr.len(), 1);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let tomorrow = (chrono::Utc::now() + chrono::TimeDelta::days(1)).format("%Y-%m-%d").to_string();
    let yesterday = (chrono::Utc::now() - chrono::TimeDelta::days(1)).format("%Y-%m-%d").to_string();
    let in_range =
        parse_csv(&editor.get_raw(&format!("/admin/export.csv?from={today}&to={today}")).await.text().await.unwrap());
    assert_eq!(in_range.len(), 3, "`to` includes its whole day");
    let before = parse_csv(&editor.get_raw(&format!("/admin/export.csv?to={yesterday}")).await.text().await.unwrap());
    assert!(before.is_empty());
    let after = parse_csv(&editor.get_raw(&format!("/admin/export.csv?from={tomorrow}")).await.text().await.unwrap());
    assert!(after.is_empty());
    let nothing = parse_csv(&editor.get_raw("/admin/export.csv?campaign=no-such-campaign").await.text().await.unwrap());
    assert!(nothing.is_empty());
    assert_eq!(editor.get_raw("/admin/export.csv?from=yesterday").await.status(), StatusCode::BAD_REQUEST);
}

async fn dashboards_show_views_actions_sources_and_places(backend: Backend) {
    let app = spawn_app(backend).await;
    for _ in 0..3 {
        app.get_page(&format!("/page/{FR}")).await;
    }
    let page = read_page(
        app.client
            .get(app.url(&format!("/page/{EN}?utm_source=newsletter")))
            .header("referer", "https://news.example.org/")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let mut form = valid_form("tracked@example.org");
    form.push(("utm_source", page.attr("input[name=utm_source]", "value").unwrap()));
    form.push(("referrer", page.attr("input[name=referrer]", "value").unwrap()));
    assert_eq!(app.post_form(EN, &form, Some(&page.csrf_token())).await.status(), StatusCode::SEE_OTHER);
    take_three_actions(&app).await;
    let viewer = app.sign_in_as(Role::Viewer).await;

    let dashboard = viewer.get("/admin/campaigns/safe-third-country/dashboard").await;
    assert_eq!(dashboard.status, StatusCode::OK);
    assert_eq!(dashboard.text_of("[data-stat=actions]"), "4");
    assert_eq!(dashboard.text_of("[data-stat=count]"), "789");
    assert_eq!(dashboard.text_of(&format!("tr[data-page={EN}] [data-actions]")), "3");
    assert_eq!(dashboard.text_of(&format!("tr[data-page={FR}] [data-actions]")), "1");
    assert!(dashboard.text_of(&format!("tr[data-page={FR}] [data-views]")).parse::<i64>().unwrap() >= 3);
    let tables = dashboard.text_of(".columns");
    assert!(tables.contains("https://news.example.org/") && tables.contains("newsletter"), "{tables}");
    assert!(tables.contains("K1A") && tables.contains("H2X"), "postal areas: {tables}");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(dashboard.text_of("details").contains(&today));

    let page_dashboard = viewer.get(&format!("/admin/pages/{FR}/dashboard")).await;
    assert_eq!(page_dashboard.text_of("[data-stat=actions]"), "1");
    assert_eq!(page_dashboard.select("tbody tr[data-page]").len(), 1);
}

/// The rows of an export read with `cursor` to its end, as (id, campaign, page, email).
async fn read_to_end(
    app: &crate::helpers::TestApp,
    cursor: &mut undersigned::db::actions::ExportCursor,
) -> Vec<(i64, String, String, String)> {
    let mut rows = Vec::new();
    while let Some(batch) = cursor.next(&app.db).await.unwrap() {
        assert!(!batch.is_empty());
        batch
            .each(|row| {
                rows.push((row.id, row.campaign.to_string(), row.page.to_string(), row.email.to_string()));
                Ok(())
            })
            .unwrap();
    }
    rows
}

async fn an_export_reads_in_batches_and_finds_pages_made_while_it_runs(backend: Backend) {
    use undersigned::db::actions::{ExportCursor, ExportFilter};
    let app = spawn_app(backend).await;
    take_three_actions(&app).await;

    let mut cursor = ExportCursor::new(ExportFilter::default(), 2);
    let first = cursor.next(&app.db).await.unwrap().expect("a first batch");
    assert_eq!(first.len(), 2);
    // A page goes live and is acted on while the export runs.
    app.import(&crate::helpers::petition_page("river-now", "live", "")).await;
    assert_eq!(app.submit("river-now", &valid_form("dee@example.org")).await.status(), StatusCode::SEE_OTHER);
    let rest = read_to_end(&app, &mut cursor).await;
    let pages: Vec<(&str, &str, &str)> =
        rest.iter().map(|(_, campaign, page, email)| (campaign.as_str(), page.as_str(), email.as_str())).collect();
    assert_eq!(
        pages,
        [("safe-third-country", FR, "cy@example.org"), ("river", "river-now", "dee@example.org")],
        "the rows after the first batch, each with its own page"
    );

    // Filters hold across batches of one.
    let mut by_page = ExportCursor::new(ExportFilter { page: Some(EN.into()), ..ExportFilter::default() }, 1);
    let emails: Vec<String> = read_to_end(&app, &mut by_page).await.into_iter().map(|row| row.3).collect();
    assert_eq!(emails, ["ana@example.org", "bo@example.org"]);
    let mut by_campaign =
        ExportCursor::new(ExportFilter { campaign: Some("river".into()), ..ExportFilter::default() }, 1);
    let rows = read_to_end(&app, &mut by_campaign).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].2, "river-now");
    let mut nowhere =
        ExportCursor::new(ExportFilter { page: Some("no-such-page".into()), ..ExportFilter::default() }, 1);
    assert!(read_to_end(&app, &mut nowhere).await.is_empty());
}

crate::on_both_backends!(
    an_export_reads_in_batches_and_finds_pages_made_while_it_runs,
    actions_are_listed_searched_and_shown_in_full,
    long_lists_of_actions_are_paginated_newest_first,
    deleting_an_action_takes_it_off_the_counter,
    the_csv_export_has_documented_columns_neutralised_cells_and_filters,
    dashboards_show_views_actions_sources_and_places,
);
