//! Taking action: the one path by which a supporter's submission becomes a stored,
//! counted action, whichever door (public form, later the API) it comes through.

use crate::db::pages::Page;
use crate::db::{self, Db, DbError};
use crate::domain::action::{ActionDraft, Submission, Tracking};
use crate::domain::field::FieldErrors;
use crate::domain::page::PageStatus;
use crate::services::compose;

#[derive(Debug, thiserror::Error)]
pub enum TakeActionError {
    #[error("the submission has invalid fields")]
    Invalid(FieldErrors),
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
    /// This email address had already acted on this page: nothing changed.
    AlreadyTaken,
}

/// Where the site is and who its emails come from, for composing messages.
#[derive(Debug, Clone)]
pub struct Site {
    pub public_url: String,
    pub from_name: String,
}

/// Checks the submission against the page and stores it, once per email address and page,
/// with its emails: the letter to each of the page's targets and the thank-you email.
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
    let targets = match &draft.letter {
        Some(_) if !form.recipients.is_empty() => db::targets::find_by_keys(db, &form.recipients).await?,
        _ => Vec::new(),
    };
    let mails = compose::mails_for(site, &page.spec, &draft, &targets);
    Ok(match db::actions::insert_counted(db, page.id, &draft, tracking, &mails).await? {
        Some(action_id) => ActionOutcome::Recorded { action_id },
        None => ActionOutcome::AlreadyTaken,
    })
}
