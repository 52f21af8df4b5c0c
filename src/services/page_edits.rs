//! The page builder's operations. Each applies one change to a copy of the page, checks
//! the organiser's role (only admins touch scripts blocks), validates the whole page and
//! stores it with an entry in its history, in one transaction: a refused change leaves
//! the page exactly as it was.

use crate::db::pages::{ChangeNote, Page};
use crate::db::users::User;
use crate::db::{self, Db, DbError};
use crate::domain::field::FieldRule;
use crate::domain::letter::Letter;
use crate::domain::locale::Locale;
use crate::domain::page::{
    Block, CampaignRef, CampaignSection, CounterBlock, CounterScope, Delivery, FormBlock, InfoFields, PageKind,
    PageSpec, PageStatus, ScriptsBlock, ShareChannel, SpecError, ThankYouBlock,
};
use crate::domain::slug::Slug;

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("there is no such page")]
    NotFound,
    #[error("your role does not allow this change")]
    Forbidden,
    #[error("the page would not be valid")]
    Invalid(Vec<SpecError>),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Kinds of block the builder can add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    CampaignSection,
    Counter,
    Scripts,
    ThankYou,
}

impl BlockKind {
    pub fn parse(input: &str) -> Option<Self> {
        match input {
            "campaign_section" => Some(BlockKind::CampaignSection),
            "counter" => Some(BlockKind::Counter),
            "scripts" => Some(BlockKind::Scripts),
            "thank_you" => Some(BlockKind::ThankYou),
            _ => None,
        }
    }

    fn new_block(self, locale: Locale) -> Block {
        let fr = locale == Locale::Fr;
        match self {
            BlockKind::CampaignSection => Block::CampaignSection(CampaignSection {
                heading: Some(if fr { "Nouvelle section" } else { "New section" }.into()),
                ..CampaignSection::default()
            }),
            BlockKind::Counter => Block::Counter(CounterBlock {
                sentence: if fr { "{count} personnes ont agi" } else { "{count} people have taken action" }.into(),
                scope: CounterScope::Page,
                offset: 0,
                goal: None,
            }),
            BlockKind::Scripts => Block::Scripts(ScriptsBlock { html: String::new() }),
            BlockKind::ThankYou => Block::ThankYou(ThankYouBlock {
                heading: if fr { "Merci!" } else { "Thank you!" }.into(),
                body: String::new(),
                share: ShareChannel::all(),
                show_counter: true,
                email_subject: None,
                email_body: None,
            }),
        }
    }
}

/// One change the builder can make.
#[derive(Debug, Clone)]
pub enum PageEdit {
    Settings { title: String, intro: Option<String>, share_text: String, closing_message: Option<String> },
    ReplaceBlock { index: usize, block: Block },
    AddBlock(BlockKind),
    MoveBlock { index: usize, up: bool },
    RemoveBlock { index: usize },
    Status(PageStatus),
    Restore { revision: i64 },
}

/// A page's blocks for the builder's "add" menu and the history's summaries.
pub fn block_label(block: &Block) -> &'static str {
    match block {
        Block::CampaignSection(_) => "campaign section",
        Block::Counter(_) => "counter",
        Block::Form(_) => "form",
        Block::Scripts(_) => "scripts block",
        Block::ThankYou(_) => "thank-you step",
    }
}

/// The page with `edit` applied, checked, but not stored: used for previews and to show
/// what was refused.
pub fn apply(spec: &PageSpec, user: &User, edit: &PageEdit) -> Result<(PageSpec, String), EditError> {
    let mut next = spec.clone();
    let admin = user.role.can_edit_scripts();
    let touches_scripts = |block: Option<&Block>| matches!(block, Some(Block::Scripts(_)));
    let summary = match edit {
        PageEdit::Settings { title, intro, share_text, closing_message } => {
            next.title = title.clone();
            next.intro = intro.clone();
            next.share_text = share_text.clone();
            next.closing_message = closing_message.clone();
            "Changed the page's settings".to_string()
        }
        PageEdit::ReplaceBlock { index, block } => {
            let current = next.blocks.get(*index).ok_or(EditError::NotFound)?;
            if std::mem::discriminant(current) != std::mem::discriminant(block) {
                return Err(EditError::NotFound);
            }
            if touches_scripts(Some(block)) && !admin {
                return Err(EditError::Forbidden);
            }
            next.blocks[*index] = block.clone();
            format!("Edited the {} (block {})", block_label(block), index + 1)
        }
        PageEdit::AddBlock(kind) => {
            if *kind == BlockKind::Scripts && !admin {
                return Err(EditError::Forbidden);
            }
            let block = kind.new_block(spec.locale);
            let label = block_label(&block);
            next.blocks.push(block);
            format!("Added a {label}")
        }
        PageEdit::MoveBlock { index, up } => {
            let other = if *up { index.checked_sub(1) } else { Some(index + 1) };
            let other = other.filter(|o| *o < next.blocks.len()).ok_or(EditError::NotFound)?;
            if *index >= next.blocks.len() {
                return Err(EditError::NotFound);
            }
            next.blocks.swap(*index, other);
            format!("Moved the {} {}", block_label(&next.blocks[other]), if *up { "up" } else { "down" })
        }
        PageEdit::RemoveBlock { index } => {
            if touches_scripts(next.blocks.get(*index)) && !admin {
                return Err(EditError::Forbidden);
            }
            if *index >= next.blocks.len() {
                return Err(EditError::NotFound);
            }
            let removed = next.blocks.remove(*index);
            format!("Removed the {}", block_label(&removed))
        }
        PageEdit::Status(status) => {
            next.status = *status;
            match status {
                PageStatus::Live => "Published",
                PageStatus::Closed => "Closed",
                PageStatus::Draft => "Unpublished (back to draft)",
            }
            .to_string()
        }
        // A restore needs the stored revision: `edit_page` handles it.
        PageEdit::Restore { .. } => return Err(EditError::NotFound),
    };
    next.validate().map_err(EditError::Invalid)?;
    Ok((next, summary))
}

/// Applies `edit` to the page `slug` and stores the result with its history entry.
pub async fn edit_page(db: &Db, user: &User, slug: &str, edit: PageEdit) -> Result<Page, EditError> {
    if !user.role.can_edit_pages() {
        return Err(EditError::Forbidden);
    }
    let page = db::pages::find_by_slug(db, slug).await?.ok_or(EditError::NotFound)?;
    let (next, summary) = match edit {
        PageEdit::Restore { revision } => {
            let old = db::pages::revision_spec(db, page.id, revision).await?.ok_or(EditError::NotFound)?;
            restore(&page.spec, old, user, revision)?
        }
        edit => apply(&page.spec, user, &edit)?,
    };
    let (saved, _) = db::pages::save(db, &next, ChangeNote { user_id: Some(user.id), summary: &summary }).await?;
    Ok(saved)
}

/// The page's content as it was in an earlier version; its address, status and counter
/// figures stay as they are now (the counter has its own log of changes).
fn restore(current: &PageSpec, old: PageSpec, user: &User, revision: i64) -> Result<(PageSpec, String), EditError> {
    if current.scripts() != old.scripts() && !user.role.can_edit_scripts() {
        return Err(EditError::Forbidden);
    }
    let mut next = old;
    next.slug = current.slug.clone();
    next.status = current.status;
    next.campaign = current.campaign.clone();
    let (offset, goal) = current.counter().map(|c| (c.offset, c.goal)).unwrap_or((0, None));
    if let Some(counter) = next.counter_mut() {
        if current.counter().map(|c| c.scope) == Some(counter.scope) {
            counter.offset = offset;
            counter.goal = goal;
        }
    }
    next.validate().map_err(EditError::Invalid)?;
    Ok((next, format!("Restored version {revision}")))
}

/// What a new page starts from.
#[derive(Debug, Clone)]
pub struct NewPage {
    pub slug: String,
    pub title: String,
    pub locale: Locale,
    pub kind: PageKind,
    pub campaign_slug: String,
    pub campaign_name: String,
}

/// A new draft page with a counter, a campaign section, a form and a thank-you step.
pub async fn create_page(db: &Db, user: &User, new: NewPage) -> Result<Page, EditError> {
    if !user.role.can_edit_pages() {
        return Err(EditError::Forbidden);
    }
    let invalid =
        |path: &str, message: &str| EditError::Invalid(vec![SpecError { path: path.into(), message: message.into() }]);
    let slug = Slug::parse(&new.slug).map_err(|e| invalid("slug", &e.to_string()))?;
    let campaign_slug = Slug::parse(&new.campaign_slug).map_err(|e| invalid("campaign.slug", &e.to_string()))?;
    if db::pages::find_by_slug(db, slug.as_str()).await?.is_some() {
        return Err(invalid("slug", "another page already has this address"));
    }
    let fr = new.locale == Locale::Fr;
    let letter = (new.kind == PageKind::Letter).then(|| Letter {
        subject: if fr { "Objet de la lettre" } else { "Subject of the letter" }.into(),
        subject_editable: true,
        opening: String::new(),
        body: if fr { "Votre message ici." } else { "Your message here." }.into(),
        body_editable: true,
        closing: String::new(),
        sign_off: if fr { "Salutations," } else { "Sincerely," }.into(),
    });
    let spec = PageSpec {
        slug,
        locale: new.locale,
        status: PageStatus::Draft,
        kind: new.kind,
        title: new.title.clone(),
        intro: None,
        share_text: new.title.clone(),
        closing_message: None,
        campaign: CampaignRef { slug: campaign_slug, name: new.campaign_name.clone() },
        blocks: vec![
            BlockKind::Counter.new_block(new.locale),
            BlockKind::CampaignSection.new_block(new.locale),
            Block::Form(FormBlock {
                call_to_action: new.title.clone(),
                targets: vec![],
                recipients: vec![],
                district_targets: false,
                delivery: Delivery::Immediate,
                verify_sender: false,
                letter,
                fields: InfoFields { postal_code: FieldRule::Optional, ..InfoFields::default() },
                default_country: None,
                consent: None,
                submit_label: if fr { "Envoyer" } else { "Send" }.into(),
            }),
            BlockKind::ThankYou.new_block(new.locale),
        ],
    };
    spec.validate().map_err(EditError::Invalid)?;
    let (page, _) =
        db::pages::save(db, &spec, ChangeNote { user_id: Some(user.id), summary: "Created the page" }).await?;
    Ok(page)
}

/// A draft copy of a page under a new address: a duplicate (same language) or a
/// translation (another language, same campaign, so a campaign counter is shared).
pub async fn copy_page(
    db: &Db,
    user: &User,
    from: &str,
    slug: &str,
    locale: Option<Locale>,
) -> Result<Page, EditError> {
    if !user.role.can_edit_pages() {
        return Err(EditError::Forbidden);
    }
    let source = db::pages::find_by_slug(db, from).await?.ok_or(EditError::NotFound)?;
    let invalid = |message: &str| EditError::Invalid(vec![SpecError { path: "slug".into(), message: message.into() }]);
    let slug = Slug::parse(slug).map_err(|e| invalid(&e.to_string()))?;
    if db::pages::find_by_slug(db, slug.as_str()).await?.is_some() {
        return Err(invalid("another page already has this address"));
    }
    let mut spec = source.spec;
    spec.slug = slug;
    spec.status = PageStatus::Draft;
    let summary = match locale {
        Some(locale) => {
            spec.locale = locale;
            format!("Created as a {} translation of {from}", locale.as_str())
        }
        None => format!("Created as a copy of {from}"),
    };
    if spec.counter_scope() == CounterScope::Page {
        if let Some(counter) = spec.counter_mut() {
            counter.offset = 0;
        }
    }
    spec.validate().map_err(EditError::Invalid)?;
    let (page, _) = db::pages::save(db, &spec, ChangeNote { user_id: Some(user.id), summary: &summary }).await?;
    Ok(page)
}

/// Changes the counter's offset and goal, recording who did it and why.
pub async fn set_counter(
    db: &Db,
    user: &User,
    slug: &str,
    offset: i64,
    goal: Option<i64>,
    reason: &str,
) -> Result<Page, EditError> {
    if !user.role.can_edit_pages() {
        return Err(EditError::Forbidden);
    }
    let page = db::pages::find_by_slug(db, slug).await?.ok_or(EditError::NotFound)?;
    let mut problems = Vec::new();
    if page.spec.counter().is_none() {
        problems.push(SpecError { path: "counter".into(), message: "this page has no counter block".into() });
    }
    if offset < 0 {
        problems.push(SpecError { path: "offset".into(), message: "cannot be negative".into() });
    }
    if goal.is_some_and(|goal| goal <= 0) {
        problems.push(SpecError { path: "goal".into(), message: "must be a positive number".into() });
    }
    if reason.trim().is_empty() {
        problems.push(SpecError {
            path: "reason".into(),
            message: "say why (for example: paper signatures from the march)".into(),
        });
    }
    if !problems.is_empty() {
        return Err(EditError::Invalid(problems));
    }
    db::pages::set_counter(db, &page, offset, goal, reason.trim(), user.id).await?;
    db::pages::find_by_slug(db, slug).await?.ok_or(EditError::NotFound)
}
