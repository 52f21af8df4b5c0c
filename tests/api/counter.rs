//! The counter endpoint: shape, scope, CORS.

use reqwest::StatusCode;

use crate::helpers::{Backend, EN, FR, petition_page, spawn_app, valid_form};

async fn the_counter_adds_the_offset_and_is_open_to_other_sites(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .get(app.url(&format!("/api/v1/pages/{EN}/counter")))
        .header("origin", "https://partner.example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({ "count": 785, "actions": 0, "offset": 785, "goal": 1500 }));
}

async fn a_campaign_counter_counts_every_page_of_the_campaign(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.submit(EN, &valid_form("en@example.org")).await.status(), StatusCode::SEE_OTHER);
    let mut french = valid_form("fr@example.org");
    crate::helpers::set(&mut french, "postal_code", "H2X 1Y4");
    assert_eq!(app.submit(FR, &french).await.status(), StatusCode::SEE_OTHER);

    for slug in [EN, FR] {
        let counter = app.counter(slug).await;
        assert_eq!((counter["actions"].as_i64(), counter["count"].as_i64()), (Some(2), Some(787)), "{slug}");
    }
}

async fn a_page_counter_counts_only_its_page(backend: Backend) {
    let app = spawn_app(backend).await;
    app.import(&petition_page("river-a", "live", "")).await;
    app.import(&petition_page("river-b", "live", "")).await;
    let form =
        vec![("first_name", "Lee".to_string()), ("last_name", "Wong".into()), ("email", "lee@example.org".into())];
    assert_eq!(app.submit("river-a", &form).await.status(), StatusCode::SEE_OTHER);

    assert_eq!(app.counter("river-a").await["count"], 11);
    assert_eq!(app.counter("river-b").await["count"], 10);
    assert_eq!(app.counter("river-b").await["goal"], serde_json::Value::Null);
}

async fn the_page_shows_the_offset_and_goal_from_the_page_file(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app.get_page(&format!("/page/{EN}")).await;
    assert_eq!(page.attr(".progress", "aria-valuenow").as_deref(), Some("52"));
    assert_eq!(page.text_of("[data-goal]"), "1,500");
    assert_eq!(page.attr("[data-counter-url]", "data-counter-url"), Some(format!("/api/v1/pages/{EN}/counter")));
}

crate::on_both_backends!(
    the_counter_adds_the_offset_and_is_open_to_other_sites,
    a_campaign_counter_counts_every_page_of_the_campaign,
    a_page_counter_counts_only_its_page,
    the_page_shows_the_offset_and_goal_from_the_page_file,
);
