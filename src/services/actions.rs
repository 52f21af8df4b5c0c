//! Taking action: the one path by which a supporter's submission becomes a stored,
//! counted action, whichever door (public form, later the API) it comes through.

use chrono::{TimeDelta, Utc};

use crate::db::pages::Page;
use crate::db::pending::{self, Confirmed, Pending};
use crate::db::targets::Target;
use crate::db::{self, Db, DbError};
use crate::domain::action::{ActionDraft, Submission, Tracking};
use crate::domain::field::{Field, FieldError, FieldErrors};
use crate::domain::page::{FormBlock, PageStatus};
use crate::services::compose;
use crate::signing::Signer;

/// The purpose label of the tokens in confirmation links.
pub const CONFIRM_PURPOSE: &str = "confirm-action";

#[derive(Debug, thiserror::Error)]
pub enum TakeActionError {
    #[error("the submission has invalid fields")]
    Invalid(FieldErrors),
    /// The supporter has not yet seen whom their letter goes to (the district lookup found
    /// these targets): show them, then take the submission again.
    #[error("the supporter must review the targets first")]
    ReviewTargets(Vec<Target>),
    #[error("the page is closed")]
    Closed,
    #[error("the page is not published")]
    NotPublished,
    #[error("the page has no form")]
    NoForm,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What happened to a valid submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionOutcome {
    /// Stored and counted; committed before this returns.
    Recorded { action_id: i64 },
    /// Stored, not yet counted: the supporter must confirm from the email we queued.
    AwaitingConfirmation { pending_id: i64 },
    /// This email address had already acted on this page: nothing changed.
    AlreadyTaken,
}

/// Where the site is, who its emails come from, and how it signs the links in them.
#[derive(Clone)]
pub struct Site {
    pub public_url: String,
    pub from_name: String,
    pub signer: Signer,
    pub confirm_link_hours: u64,
}

impl Site {
    /// The link a supporter follows to confirm a pending action.
    pub fn confirm_url(&self, pending_id: i64) -> String {
        format!("{}/confirm/{}", self.public_url, self.signer.sign(CONFIRM_PURPOSE, pending_id))
    }
}

/// The targets of a postal code's district, or the reason there are none to write to.
pub async fn district_targets(db: &Db, postal_code: &str) -> Result<Result<Vec<Target>, FieldError>, DbError> {
    let districts = db::districts::lookup(db, postal_code).await?;
    Ok(match districts.len() {
        0 => Err(FieldError::UnknownDistrict),
        1 => {
            let targets = db::targets::in_districts(db, &districts).await?;
            if targets.is_empty() { Err(FieldError::NoTargetInDistrict) } else { Ok(targets) }
        }
        _ => Err(FieldError::AmbiguousDistrict),
    })
}

/// The keys the form carries once the supporter has seen the targets, in a stable order.
pub fn review_keys(targets: &[Target]) -> String {
    let mut keys: Vec<&str> = targets.iter().map(|t| t.key.as_str()).collect();
    keys.sort_unstable();
    keys.join(",")
}

/// Everyone the letter goes to: the page's fixed recipients, then the supporter's district's.
async fn recipients(
    db: &Db,
    form: &FormBlock,
    draft: &ActionDraft,
    submission: &Submission,
) -> Result<Vec<Target>, TakeActionError> {
    if draft.letter.is_none() {
        return Ok(Vec::new());
    }
    let mut targets =
        if form.recipients.is_empty() { Vec::new() } else { db::targets::find_by_keys(db, &form.recipients).await? };
    if form.district_targets {
        let postal_code = draft.postal_code.as_ref().map(|p| p.as_str()).unwrap_or_default();
        let found = district_targets(db, postal_code).await?.map_err(|error| {
            let mut errors = FieldErrors::default();
            errors.add(Field::PostalCode, error);
            TakeActionError::Invalid(errors)
        })?;
        if submission.reviewed_targets.as_deref() != Some(review_keys(&found).as_str()) {
            return Err(TakeActionError::ReviewTargets(found));
        }
        for target in found {
            if !targets.iter().any(|t| t.key == target.key) {
                targets.push(target);
            }
        }
    }
    Ok(targets)
}

/// Checks the submission against the page and stores it, once per email address and page,
/// with its emails: the letter to each of the page's targets and the thank-you email. On a
/// page that verifies senders the action waits, uncounted and with its emails held, for
/// the supporter to confirm from the email queued with it.
pub async fn take_action(
    db: &Db,
    site: &Site,
    page: &Page,
    submission: &Submission,
    tracking: &Tracking,
) -> Result<ActionOutcome, TakeActionError> {
    match page.spec.status {
        PageStatus::Live => {}
        PageStatus::Closed => return Err(TakeActionError::Closed),
        PageStatus::Draft => return Err(TakeActionError::NotPublished),
    }
    let form = page.spec.form().ok_or(TakeActionError::NoForm)?;
    let draft = ActionDraft::parse(submission, form).map_err(TakeActionError::Invalid)?;
    let targets = recipients(db, form, &draft, submission).await?;
    let mails = compose::mails_for(site, &page.spec, &draft, &targets);
    if form.verify_sender {
        let expires_at = Utc::now() + TimeDelta::hours(site.confirm_link_hours as i64);
        let confirmation = |pending_id| {
            compose::confirmation_mail(&page.spec, &draft, &site.confirm_url(pending_id), site.confirm_link_hours)
        };
        return Ok(match pending::insert(db, page.id, &draft, tracking, expires_at, &mails, confirmation).await? {
            Pending::Created { pending_id } => ActionOutcome::AwaitingConfirmation { pending_id },
            Pending::AlreadyTaken => ActionOutcome::AlreadyTaken,
        });
    }
    Ok(match db::actions::insert_counted(db, page.id, draft, tracking.clone(), mails).await? {
        Some(action_id) => ActionOutcome::Recorded { action_id },
        None => ActionOutcome::AlreadyTaken,
    })
}

/// Confirms a pending action from the token in its link: it is counted and its letters
/// leave. `None` when the token is not one this site signed.
pub async fn confirm_action(db: &Db, site: &Site, token: &str) -> Result<Option<Confirmed>, DbError> {
    let Some(pending_id) = site.signer.verify(CONFIRM_PURPOSE, token) else {
        return Ok(None);
    };
    let digest = match pending::find(db, pending_id).await? {
        Some(found) => db::pages::find_by_id(db, found.page_id)
            .await?
            .and_then(|page| page.spec.form().map(|form| !form.delivery.is_immediate()))
            .unwrap_or(false),
        None => false,
    };
    Ok(Some(pending::confirm(db, pending_id, digest, Utc::now()).await?))
}
