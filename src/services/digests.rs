//! Daily digests: on pages that spare their targets' inboxes, letters wait in the outbox
//! and leave once a day as one email per target carrying the day's messages.

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};

use crate::db::{self, Db, DbError};
use crate::services::actions::Site;
use crate::services::compose;

/// Letters per digest email: a day's flood is split into several readable emails.
const LETTERS_PER_DIGEST: i64 = 500;

/// The latest moment digests were due at or before `now`: today at `hour` UTC once that hour
/// has come, otherwise yesterday at `hour`. Letters written before it leave in a digest.
pub fn latest_cutoff(now: DateTime<Utc>, hour: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_hms_opt(hour.min(23), 0, 0).unwrap_or(NaiveTime::MIN);
    let today = now.date_naive().and_time(time).and_utc();
    if today <= now { today } else { today - TimeDelta::days(1) }
}

/// Bundles every letter written before `cutoff` into digests; returns how many letters.
pub async fn bundle(db: &Db, site: &Site, cutoff: DateTime<Utc>, page_id: Option<i64>) -> Result<usize, DbError> {
    let mut letters = 0;
    for (due_page, to_address) in db::outbox::digests_due(db, cutoff).await? {
        if page_id.is_some_and(|id| id != due_page) {
            continue;
        }
        let Some(page) = db::pages::find_by_id(db, due_page).await? else { continue };
        loop {
            let bundled = db::outbox::bundle_digest(db, due_page, &to_address, cutoff, LETTERS_PER_DIGEST, |waiting| {
                compose::digest_mail(site, &page.spec, &to_address, waiting)
            })
            .await?;
            letters += bundled;
            if bundled < LETTERS_PER_DIGEST as usize {
                break;
            }
        }
    }
    Ok(letters)
}

/// What the worker does: the digests that are due by the configured hour.
pub async fn send_due(db: &Db, site: &Site, hour: u32, now: DateTime<Utc>) -> Result<usize, DbError> {
    bundle(db, site, latest_cutoff(now, hour), None).await
}

/// Organisers' "send the digests now" for one page: everything waiting leaves.
pub async fn send_now(db: &Db, site: &Site, page_id: i64) -> Result<usize, DbError> {
    bundle(db, site, Utc::now() + TimeDelta::seconds(1), Some(page_id)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn digests_cover_the_day_up_to_the_configured_hour() {
        assert_eq!(latest_cutoff(at("2026-11-24T18:30:00Z"), 17), at("2026-11-24T17:00:00Z"));
        assert_eq!(latest_cutoff(at("2026-11-24T17:00:00Z"), 17), at("2026-11-24T17:00:00Z"));
        assert_eq!(latest_cutoff(at("2026-11-24T09:15:00Z"), 17), at("2026-11-23T17:00:00Z"));
        assert_eq!(latest_cutoff(at("2026-11-24T00:00:00Z"), 0), at("2026-11-24T00:00:00Z"));
    }
}
