//! The outbox worker. It claims due messages with a lease (so that, with several nodes,
//! one worker at a time holds a message), sends them, and records each result. A failure
//! is retried with exponential backoff; a message whose worker died is claimed again once
//! its lease runs out.
//!
//! Exactly once? A message is marked sent right after the mail server accepts it. If the
//! process dies between the two, the message is sent again after the lease, with the same
//! Message-ID. Nothing is ever lost; a duplicate needs a crash in that instant.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};

use crate::config::MailConfig;
use crate::db::outbox::{self, OutgoingMail};
use crate::db::{Db, DbError};
use crate::email::{MailError, Mailer, Sender, build_message};
use crate::services::actions::Site;

pub const UNSUBSCRIBE_PURPOSE: &str = "unsubscribe";
const BATCH: i64 = 20;

pub struct OutboxWorker {
    db: Db,
    mailer: Mailer,
    settings: MailConfig,
    site: Site,
    owner: String,
}

/// How often the worker purges expired unconfirmed actions and bundles due digests.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(30);

impl OutboxWorker {
    pub fn new(db: Db, mailer: Mailer, settings: MailConfig, site: Site) -> Self {
        let owner = format!("worker-{:016x}", rand::random::<u64>());
        Self { db, mailer, settings, site, owner }
    }

    /// Purges unconfirmed actions whose link has expired, and bundles the digests that are
    /// due. Safe on several nodes at once: each step is one conditional transaction.
    pub async fn housekeeping(&self) -> Result<(), DbError> {
        let now = Utc::now();
        let purged = crate::db::pending::purge_expired(&self.db, now).await?;
        if purged > 0 {
            tracing::info!(purged, "unconfirmed actions expired and purged");
        }
        let letters =
            crate::services::digests::send_due(&self.db, &self.site, self.settings.digest_hour_utc, now).await?;
        if letters > 0 {
            tracing::info!(letters, "letters bundled into daily digests");
        }
        Ok(())
    }

    /// Delivers until the task is stopped.
    pub async fn run(self) {
        tracing::info!(owner = %self.owner, "outbox worker started");
        let mut last_housekeeping: Option<Instant> = None;
        loop {
            if last_housekeeping.is_none_or(|at| at.elapsed() >= HOUSEKEEPING_EVERY) {
                last_housekeeping = Some(Instant::now());
                if let Err(error) = self.housekeeping().await {
                    tracing::warn!(%error, "outbox worker: housekeeping failed; will retry");
                }
            }
            match self.run_once().await {
                Ok(sent) if sent > 0 => continue,
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "outbox worker: cannot reach the database; will retry"),
            }
            tokio::time::sleep(Duration::from_millis(self.settings.poll_interval_ms)).await;
        }
    }

    /// Claims and tries one batch; returns how many were handled.
    pub async fn run_once(&self) -> Result<usize, DbError> {
        let now = Utc::now();
        let lease = now + TimeDelta::seconds(self.settings.lease_secs as i64);
        let batch = outbox::claim(&self.db, &self.owner, now, lease, BATCH).await?;
        // One at a time: during a burst, taking actions comes first and delivery catches up
        // (side by side, the local outbox's file creation took 40% of the CPU, measured).
        for mail in &batch {
            self.deliver(mail).await?;
        }
        Ok(batch.len())
    }

    async fn deliver(&self, mail: &OutgoingMail) -> Result<(), DbError> {
        let unsubscribe = match (mail.kind.as_str(), mail.action_id) {
            ("thanks", Some(action_id)) => Some(format!(
                "{}/unsubscribe/{}",
                self.site.public_url,
                self.site.signer.sign(UNSUBSCRIBE_PURPOSE, action_id)
            )),
            _ => None,
        };
        let sender = Sender { address: &self.settings.from_address, name: &self.settings.from_name };
        let result = match build_message(mail, &sender, unsubscribe.as_deref()) {
            Ok(message) => self.mailer.send(message).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(()) => {
                if !outbox::mark_sent(&self.db, mail.id, &self.owner).await? {
                    tracing::warn!(id = mail.id, "outbox: sent a message whose lease had run out");
                }
                tracing::info!(id = mail.id, kind = %mail.kind, "email sent");
            }
            Err(error) => {
                let attempts = mail.attempts + 1;
                let retry_at = match &error {
                    MailError::Transient(_) | MailError::Setup(_) if attempts < self.settings.max_attempts => {
                        // retry_base, then twice that, four times... at most an hour.
                        let doublings = (attempts - 1).clamp(0, 16) as u32;
                        let backoff = self.settings.retry_base_ms.saturating_mul(1_u64 << doublings).min(3_600_000);
                        Some(Utc::now() + TimeDelta::milliseconds(backoff as i64))
                    }
                    _ => None,
                };
                tracing::warn!(id = mail.id, attempts, will_retry = retry_at.is_some(), %error, "email not sent");
                outbox::mark_attempt_failed(&self.db, mail.id, &self.owner, &error.to_string(), retry_at).await?;
            }
        }
        Ok(())
    }
}
