//! Page views, counted in memory and written every few seconds, so that showing a page
//! never waits on a database write. A crash loses at most the last few seconds of views
//! (never an action); several nodes each add their own.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::db::{self, Db, DbError};

#[derive(Default)]
pub struct PageViews {
    pending: Mutex<HashMap<(i64, DateTime<Utc>), i64>>,
}

impl PageViews {
    pub fn record(&self, page_id: i64) {
        let hour = Utc::now().duration_trunc(TimeDelta::hours(1)).unwrap_or_else(|_| Utc::now());
        let mut pending = self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *pending.entry((page_id, hour)).or_insert(0) += 1;
    }

    /// Writes the views counted so far; what cannot be written is kept for the next time.
    pub async fn flush(&self, db: &Db) -> Result<(), DbError> {
        let taken = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        let mut result = Ok(());
        for ((page_id, hour), views) in taken {
            if let Err(error) = db::page_views::add(db, page_id, hour, views).await {
                *self
                    .pending
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .entry((page_id, hour))
                    .or_insert(0) += views;
                result = Err(error);
            }
        }
        result
    }
}
