//! The CSV export streams: the server's peak memory grows by far less than the size of
//! the file it sends. Measured on a separate server process (its /proc status), so that
//! other tests running in this process do not blur the figure.

use undersigned::domain::user::Role;

use crate::helpers::{EN, PASSWORD};

const ACTIONS: i64 = 200_000;

fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse().ok())
        .expect("memory figure")
}

#[tokio::test]
async fn exporting_many_actions_keeps_memory_flat() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (db, url) = crate::helpers::prepared_sqlite(dir.path()).await;
        undersigned::services::users::create_user(&db, "exporter@example.org", Role::Editor, PASSWORD).await.unwrap();
        db.close().await;
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let message = "A letter of a realistic length. ".repeat(12);
        sqlx::query(
            "with recursive n(i) as (select 1 union all select i + 1 from n where i < $1)
             insert into actions (page_id, email, first_name, last_name, postal_code, country, consent, consent_text,
                                  subject, message, utm_source, created_at)
             select (select id from pages where slug = $2), 'supporter' || i || '@example.org', 'Firstname', 'Lastname',
                    'K1A 0B1', 'CA', 1, 'Yes, keep me informed', 'Please act', $3, 'newsletter', '2026-11-24T12:00:00+00:00'
             from n",
        )
        .bind(ACTIONS)
        .bind(EN)
        .bind(&message)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }

    let mut server = crate::helpers::ServerProcess::start(dir.path(), &[]);
    let base = server.base.clone();
    let pid = server.pid();

    let result = async {
        let client = crate::helpers::new_client();
        let sign_in = crate::helpers::read_page(client.get(format!("{base}/admin/sign-in")).send().await?).await;
        let token = sign_in.csrf_token();
        let response = client
            .post(format!("{base}/admin/sign-in"))
            .form(&[("email", "exporter@example.org"), ("password", PASSWORD), ("csrf_token", token.as_str())])
            .send()
            .await?;
        assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER);

        let before = memory_kib(pid, "VmRSS:");
        let mut body = client.get(format!("{base}/admin/export.csv?page={EN}")).send().await?;
        let (mut bytes, mut newlines) = (0_usize, 0_usize);
        while let Some(chunk) = body.chunk().await? {
            bytes += chunk.len();
            newlines += chunk.iter().filter(|b| **b == b'\n').count();
        }
        let peak = memory_kib(pid, "VmHWM:");
        Ok::<_, reqwest::Error>((before, peak, bytes, newlines))
    }
    .await;
    server.kill();
    let (before, peak, bytes, newlines) = result.expect("the export downloads");

    assert_eq!(newlines as i64, ACTIONS + 1, "a header and one line per action");
    let grew_mib = peak.saturating_sub(before) / 1024;
    let sent_mib = bytes / (1024 * 1024);
    println!(
        "export of {ACTIONS} actions: {sent_mib} MiB sent; server RSS {} MiB before, peak {} MiB",
        before / 1024,
        peak / 1024
    );
    assert!(sent_mib > 80, "the export is large enough to tell: {sent_mib} MiB");
    assert!(grew_mib < 40, "memory grew by {grew_mib} MiB while sending {sent_mib} MiB");
}
