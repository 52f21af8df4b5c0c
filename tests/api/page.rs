//! Showing action pages: content from the database, both languages, statuses.

use reqwest::StatusCode;

use crate::helpers::{Backend, EN, FR, petition_page, spawn_app};

async fn the_demo_page_shows_campaign_counter_form_and_scripts_block(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app.get_page(&format!("/page/{EN}")).await;

    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.attr("html", "lang").as_deref(), Some("en"));
    assert_eq!(page.text_of("h1"), "Don't abandon refugees");
    assert!(page.text_of(".counter-sentence").contains("785 people have taken action"));
    assert_eq!(page.text_of(".campaign-section h2").matches("What we are asking for").count(), 1);
    assert!(page.text_of(".learn-more").contains("Learn more"));
    assert_eq!(page.attr(".campaign-section img", "alt").map(|alt| alt.is_empty()), Some(false));
    assert!(page.text_of(".target").contains("Government of Canada"));
    assert_eq!(page.attr("textarea#message", "name").as_deref(), Some("message"));
    for (id, autocomplete) in
        [("first_name", "given-name"), ("last_name", "family-name"), ("email", "email"), ("postal_code", "postal-code")]
    {
        assert_eq!(page.attr(&format!("input#{id}"), "autocomplete").as_deref(), Some(autocomplete), "{id}");
        assert_eq!(page.select(&format!("label[for={id}]")).len(), 1, "{id} has a label");
    }
    assert!(page.text_of("label[for=consent]").starts_with("Yes, send me news"));
    // The organiser's tag is placed, unescaped, after the page's own script.
    let body = &page.text;
    let scripts_at = body.find("document.documentElement.dataset.scriptsBlock").expect("scripts block present");
    assert!(body.find("/static/app.js").expect("app.js") < scripts_at);
}

async fn the_french_page_speaks_french_and_shares_the_campaign_counter(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app.get_page(&format!("/page/{FR}")).await;

    assert_eq!(page.attr("html", "lang").as_deref(), Some("fr"));
    assert!(page.text_of(".counter-sentence").contains("785 personnes ont agi"));
    assert_eq!(page.text_of("label[for=first_name]").trim(), "Prénom");
    assert_eq!(page.text_of("label[for=email]").trim(), "Courriel");
    assert!(page.text_of("legend").contains("Vos coordonnées"));
    assert_eq!(page.text_of("button[type=submit]"), "Envoyer mon message");
}

async fn organiser_markdown_is_rendered_but_cannot_inject_script(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut toml = petition_page("safe-text", "live", "");
    toml.push_str("\n[[blocks]]\ntype = \"campaign_section\"\nbody = \"**Bold** <script>alert('x')</script> <a href=\\\"javascript:alert(1)\\\">bad</a>\"\n");
    app.import(&toml).await;

    let page = app.get_page("/page/safe-text").await;
    assert!(page.text.contains("<strong>Bold</strong>"));
    assert!(!page.text.contains("alert('x')"));
    assert!(!page.text.contains("javascript:"));
}

async fn a_draft_page_is_not_public(backend: Backend) {
    let app = spawn_app(backend).await;
    app.import(&petition_page("draft-page", "draft", "")).await;

    assert_eq!(app.get_page("/page/draft-page").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get_page("/page/draft-page/thanks").await.status, StatusCode::NOT_FOUND);
    let posted = app.post_form("draft-page", &[("email", "a@example.org".into())], None).await;
    assert_eq!(posted.status(), StatusCode::NOT_FOUND);
    let counter = app.client.get(app.url("/api/v1/pages/draft-page/counter")).send().await.unwrap();
    assert_eq!(counter.status(), StatusCode::NOT_FOUND);
    assert_eq!(counter.json::<serde_json::Value>().await.unwrap()["error"], "not_found");
}

async fn a_closed_page_shows_its_closing_message_instead_of_the_form(backend: Backend) {
    let app = spawn_app(backend).await;
    app.import(&petition_page("closed-page", "closed", "")).await;

    let page = app.get_page("/page/closed-page").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text_of(".closed").contains("This petition was delivered. Thank you!"));
    assert!(page.select("form").is_empty());
    assert!(page.text_of(".counter-sentence").contains("10 signatures"));
}

async fn an_unknown_page_gets_a_bilingual_not_found_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app.get_page("/page/no-such-page").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.text.contains("Page not found") && page.text.contains("Page introuvable"));
}

async fn the_front_page_lists_public_pages_only(backend: Backend) {
    let app = spawn_app(backend).await;
    app.import(&petition_page("hidden-draft", "draft", "")).await;
    let page = app.get_page("/").await;
    assert_eq!(page.status, StatusCode::OK);
    let links: Vec<String> =
        page.select(".page-list a").iter().filter_map(|a| a.value().attr("href").map(str::to_string)).collect();
    assert!(links.contains(&format!("/page/{EN}")) && links.contains(&format!("/page/{FR}")));
    assert!(!links.iter().any(|l| l.contains("hidden-draft")));
}

async fn pages_are_not_cached_and_carry_security_headers(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.client.get(app.url(&format!("/page/{EN}"))).send().await.unwrap();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    assert_eq!(header("cache-control").as_deref(), Some("private, no-store"));
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(header("x-frame-options").as_deref(), Some("SAMEORIGIN"));
    assert_eq!(header("referrer-policy").as_deref(), Some("strict-origin-when-cross-origin"));
    let request_id = header("x-request-id").expect("a request id");
    let id = uuid::Uuid::parse_str(&request_id).expect("the request id is a UUID");
    assert_eq!(id.get_version_num(), 4, "{request_id}");
    let cookie = header("set-cookie").expect("CSRF cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    // Each request has its own id; one the client (or a proxy) sent is kept.
    let again = app.client.get(app.url(&format!("/page/{EN}"))).send().await.unwrap();
    assert_ne!(again.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some(request_id.as_str()));
    let given = app.client.get(app.url("/healthz")).header("x-request-id", "from-the-proxy-42").send().await.unwrap();
    assert_eq!(given.headers().get("x-request-id").and_then(|v| v.to_str().ok()), Some("from-the-proxy-42"));
    // Pages that do not exist get the same headers as the rest.
    let missing = app.client.get(app.url("/no/such/thing")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers().get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
    assert!(missing.headers().get("x-request-id").is_some());
}

async fn health_reports_the_database(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], if backend == Backend::Sqlite { "sqlite" } else { "postgres" });
    let ready: serde_json::Value = app.client.get(app.url("/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready, body);
    let live = app.client.get(app.url("/livez")).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    // Without its database a node is alive but not ready.
    app.db.close().await;
    let unready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(unready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(app.client.get(app.url("/livez")).send().await.unwrap().status(), StatusCode::OK);
}

async fn every_stylesheet_script_and_image_a_page_uses_is_served(backend: Backend) {
    let app = spawn_app(backend).await;
    let organiser = app.sign_in_as(undersigned::domain::user::Role::Admin).await;
    let pages = [
        app.get_page(&format!("/page/{EN}")).await,
        app.get_page(&format!("/page/{EN}/thanks")).await,
        organiser.get(&format!("/admin/pages/{EN}")).await,
    ];
    let mut checked = 0;
    for page in &pages {
        let links = page
            .select("link[rel=stylesheet]")
            .iter()
            .filter_map(|l| l.value().attr("href"))
            .map(String::from)
            .collect::<Vec<_>>();
        let scripts = page
            .select("script[src]")
            .iter()
            .filter_map(|s| s.value().attr("src"))
            .map(String::from)
            .collect::<Vec<_>>();
        let images = page
            .select("img[src^='/']")
            .iter()
            .filter_map(|i| i.value().attr("src"))
            .map(String::from)
            .collect::<Vec<_>>();
        for path in links.iter().chain(&scripts).chain(&images) {
            let response = app.client.get(app.url(path)).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            checked += 1;
        }
    }
    assert!(checked >= 6, "admin.css, app.css, app.js and the demo image are among them");
}

crate::on_both_backends!(
    every_stylesheet_script_and_image_a_page_uses_is_served,
    the_demo_page_shows_campaign_counter_form_and_scripts_block,
    the_french_page_speaks_french_and_shares_the_campaign_counter,
    organiser_markdown_is_rendered_but_cannot_inject_script,
    a_draft_page_is_not_public,
    a_closed_page_shows_its_closing_message_instead_of_the_form,
    an_unknown_page_gets_a_bilingual_not_found_page,
    the_front_page_lists_public_pages_only,
    pages_are_not_cached_and_carry_security_headers,
    health_reports_the_database,
);
