//! Signing in and out, passwords, roles and CSRF in the workspace.

use reqwest::StatusCode;
use undersigned::domain::user::Role;

use crate::helpers::{Backend, EN, PASSWORD, new_client, read_page, spawn_app};

fn location(response: &reqwest::Response) -> String {
    response.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

async fn anonymous_visitors_are_sent_to_sign_in(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.client.get(app.url("/admin/pages")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/admin/sign-in?next=%2Fadmin%2Fpages");

    let token = app.get_page(&format!("/page/{EN}")).await.csrf_token();
    let posted = app
        .client
        .post(app.url(&format!("/admin/pages/{EN}/status")))
        .form(&[("status", "closed"), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    assert!(location(&posted).starts_with("/admin/sign-in"));
    assert_eq!(app.get_page(&format!("/page/{EN}")).await.select("form[method=post]").len(), 1, "still open");
}

async fn sign_in_needs_the_right_password_and_sign_out_ends_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("ana@example.org", Role::Editor).await;
    assert!(app.sign_in("ana@example.org", "not the password at all").await.is_none());
    assert!(app.sign_in("nobody@example.org", PASSWORD).await.is_none());

    let ana = app.sign_in("ANA@example.org", PASSWORD).await.expect("case-insensitive email");
    let pages = ana.get("/admin/pages").await;
    assert_eq!(pages.status, StatusCode::OK);
    assert!(pages.text_of(".who").contains("ana@example.org (editor)"));

    let response = ana.post("/admin/sign-out", &[]).await;
    assert_eq!(location(&response), "/admin/sign-in");
    let after = ana.get_raw("/admin/pages").await;
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
}

async fn the_session_cookie_is_http_only_and_scoped_to_the_workspace(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("lee@example.org", Role::Viewer).await;
    let client = new_client();
    let token = read_page(client.get(app.url("/admin/sign-in")).send().await.unwrap()).await.csrf_token();
    let response = client
        .post(app.url("/admin/sign-in"))
        .form(&[("email", "lee@example.org"), ("password", PASSWORD), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("undersigned_session="))
        .expect("session cookie")
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/admin"),
        "{cookie}"
    );
}

async fn cookies_are_marked_secure_when_the_site_is_served_over_https(backend: Backend) {
    let app =
        crate::helpers::spawn_app_with(backend, |config| config.public_url = Some("https://act.example.org".into()))
            .await;
    app.create_user("tls@example.org", Role::Editor).await;
    // A client that keeps no cookies: a Secure cookie would not travel back over plain http.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = client.get(app.url("/admin/sign-in")).send().await.unwrap();
    let csrf_cookie = form.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(csrf_cookie.contains("Secure"), "{csrf_cookie}");
    let token = read_page(form).await.csrf_token();
    let signed_in = client
        .post(app.url("/admin/sign-in"))
        .header("cookie", csrf_cookie.split(';').next().unwrap())
        .form(&[("email", "tls@example.org"), ("password", PASSWORD), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let session = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("undersigned_session="))
        .expect("session cookie")
        .to_string();
    assert!(session.contains("Secure") && session.contains("HttpOnly"), "{session}");
}

async fn repeated_failed_sign_ins_are_refused_for_a_while(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("target@example.org", Role::Admin).await;
    for _ in 0..10 {
        assert!(app.sign_in("target@example.org", "wrong password guess").await.is_none());
    }
    let client = new_client();
    let token = read_page(client.get(app.url("/admin/sign-in")).send().await.unwrap()).await.csrf_token();
    let blocked = client
        .post(app.url("/admin/sign-in"))
        .form(&[("email", "target@example.org"), ("password", PASSWORD), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(blocked.headers().contains_key("retry-after"));
    assert!(blocked.text().await.unwrap().contains("Too many failed attempts"));
}

async fn changing_the_password_signs_out_other_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    app.create_user("kim@example.org", Role::Editor).await;
    let laptop = app.sign_in("kim@example.org", PASSWORD).await.unwrap();
    let phone = app.sign_in("kim@example.org", PASSWORD).await.unwrap();

    let short =
        laptop.post("/admin/account/password", &[("current", PASSWORD), ("new", "short"), ("confirm", "short")]).await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let wrong = laptop
        .post(
            "/admin/account/password",
            &[
                ("current", "not my password!"),
                ("new", "a brand new passphrase"),
                ("confirm", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let changed = laptop
        .post(
            "/admin/account/password",
            &[("current", PASSWORD), ("new", "a brand new passphrase"), ("confirm", "a brand new passphrase")],
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);

    assert_eq!(laptop.get("/admin/pages").await.status, StatusCode::OK, "this session carries on");
    assert_eq!(phone.get_raw("/admin/pages").await.status(), StatusCode::SEE_OTHER, "the other one ends");
    assert!(app.sign_in("kim@example.org", PASSWORD).await.is_none());
    assert!(app.sign_in("kim@example.org", "a brand new passphrase").await.is_some());
}

async fn each_role_reaches_what_it_may_and_nothing_more(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(
        app.submit(EN, &crate::helpers::valid_form("someone@example.org")).await.status(),
        StatusCode::SEE_OTHER
    );
    let viewer = app.sign_in_as(Role::Viewer).await;
    let editor = app.sign_in_as(Role::Editor).await;
    let admin = app.sign_in_as(Role::Admin).await;
    let action_id = app.actions_on(EN).await[0].id;

    let routes = [
        "/admin/pages".to_string(),
        format!("/admin/pages/{EN}"),
        format!("/admin/pages/{EN}/preview"),
        format!("/admin/pages/{EN}/history"),
        format!("/admin/pages/{EN}/dashboard"),
        "/admin/campaigns/safe-third-country/dashboard".to_string(),
        format!("/admin/pages/{EN}/actions"),
        "/admin/campaigns/safe-third-country/actions".to_string(),
        format!("/admin/actions/{action_id}"),
        format!("/admin/export.csv?page={EN}"),
        "/admin/users".to_string(),
    ];
    let expected: [(&crate::helpers::SignedIn, [u16; 11]); 3] = [
        (&viewer, [200, 403, 200, 200, 200, 200, 403, 403, 403, 403, 403]),
        (&editor, [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 403]),
        (&admin, [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    ];
    for (who, statuses) in expected {
        for (route, status) in routes.iter().zip(statuses) {
            assert_eq!(who.get_raw(route).await.status().as_u16(), status, "{route}");
        }
    }
    // What viewers see carries no personal data.
    let dashboard = viewer.get(&format!("/admin/pages/{EN}/dashboard")).await;
    assert!(!dashboard.text.contains("someone@example.org"));

    // Viewers change nothing.
    let refused = viewer.post(&format!("/admin/pages/{EN}/status"), &[("status", "closed")]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = viewer.post(&format!("/admin/actions/{action_id}/delete"), &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.actions_on(EN).await.len(), 1);

    // Only admins touch scripts blocks and users.
    let scripts_index = "5";
    let editor_scripts =
        editor.post(&format!("/admin/pages/{EN}/blocks/{scripts_index}"), &[("html", "<script>evil()</script>")]).await;
    assert_eq!(editor_scripts.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        editor.post(&format!("/admin/pages/{EN}/blocks/{scripts_index}/remove"), &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    let fr = crate::helpers::FR;
    assert_eq!(
        editor.post(&format!("/admin/pages/{fr}/blocks"), &[("kind", "scripts")]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert!(!editor.get(&format!("/admin/pages/{EN}")).await.text.contains("evil()"));
    assert_eq!(
        editor
            .post("/admin/users", &[("email", "x@example.org"), ("role", "admin"), ("password", PASSWORD)])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert!(app.sign_in("x@example.org", PASSWORD).await.is_none());

    let admin_scripts = admin
        .post(&format!("/admin/pages/{EN}/blocks/{scripts_index}"), &[("html", "<script>window.tag = 1;</script>")])
        .await;
    assert_eq!(admin_scripts.status(), StatusCode::SEE_OTHER);
    assert!(app.get_page(&format!("/page/{EN}")).await.text.contains("<script>window.tag = 1;</script>"));
}

async fn admins_manage_users_but_never_remove_the_last_admin(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.sign_in_as(Role::Admin).await;
    let created =
        admin.post("/admin/users", &[("email", "new@example.org"), ("role", "viewer"), ("password", PASSWORD)]).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let new_user = app.sign_in("new@example.org", PASSWORD).await.expect("the new account signs in");
    assert_eq!(new_user.get_raw(&format!("/admin/pages/{EN}")).await.status(), StatusCode::FORBIDDEN);

    let duplicate =
        admin.post("/admin/users", &[("email", "new@example.org"), ("role", "viewer"), ("password", PASSWORD)]).await;
    let users = read_page(duplicate).await;
    assert_eq!(users.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(users.text.contains("An account with this email address exists already."));

    let me = undersigned::db::users::list(&app.db).await.unwrap().into_iter().find(|u| u.role == Role::Admin).unwrap();
    let demote = admin.post(&format!("/admin/users/{}/role", me.id), &[("role", "viewer")]).await;
    assert_eq!(demote.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(read_page(demote).await.text.contains("The last admin cannot be removed or demoted."));

    let other = undersigned::db::users::find_by_email(&app.db, "new@example.org").await.unwrap().unwrap();
    assert_eq!(
        admin.post(&format!("/admin/users/{}/role", other.id), &[("role", "editor")]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        new_user.get_raw(&format!("/admin/pages/{EN}")).await.status(),
        StatusCode::OK,
        "the new role applies at once"
    );
    assert_eq!(admin.post(&format!("/admin/users/{}/delete", other.id), &[]).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        new_user.get_raw("/admin/pages").await.status(),
        StatusCode::SEE_OTHER,
        "a removed account is signed out"
    );
}

async fn workspace_forms_refuse_a_missing_or_foreign_csrf_token(backend: Backend) {
    let app = spawn_app(backend).await;
    let editor = app.sign_in_as(Role::Editor).await;
    let url = app.url(&format!("/admin/pages/{EN}/status"));
    let missing = editor.client.post(&url).form(&[("status", "closed")]).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    let other = app.sign_in_as(Role::Editor).await;
    let foreign =
        editor.client.post(&url).form(&[("status", "closed"), ("csrf_token", &other.token)]).send().await.unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.get_page(&format!("/page/{EN}")).await.select("form[method=post]").len(),
        1,
        "the page is still open"
    );
}

crate::on_both_backends!(
    anonymous_visitors_are_sent_to_sign_in,
    cookies_are_marked_secure_when_the_site_is_served_over_https,
    sign_in_needs_the_right_password_and_sign_out_ends_the_session,
    the_session_cookie_is_http_only_and_scoped_to_the_workspace,
    repeated_failed_sign_ins_are_refused_for_a_while,
    changing_the_password_signs_out_other_sessions,
    each_role_reaches_what_it_may_and_nothing_more,
    admins_manage_users_but_never_remove_the_last_admin,
    workspace_forms_refuse_a_missing_or_foreign_csrf_token,
);
