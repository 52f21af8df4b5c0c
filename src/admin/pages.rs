//! The page builder: lists of campaigns and pages, creating, copying and translating
//! pages, editing every block, publishing, the counter's offset, preview and history.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::admin::{AdminError, CsrfForm, Nav, NoFields, Organiser};
use crate::db::pages::{OffsetChange, Page, PageListing, Revision};
use crate::db::{self};
use crate::domain::field::FieldRule;
use crate::domain::letter::Letter;
use crate::domain::locale::Locale;
use crate::domain::markdown::render_markdown;
use crate::domain::page::{
    Block, CampaignSection, CounterBlock, CounterScope, Delivery, FormBlock, Image, InfoFields, Link, PageKind,
    PageSpec, PageStatus, ScriptsBlock, ShareChannel, SpecError, ThankYouBlock,
};
use crate::services::page_edits::{self, BlockKind, EditError, NewPage, PageEdit, block_label};
use crate::web::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/pages", get(list_pages).post(create_page))
        .route("/admin/pages/{slug}", get(show_editor))
        .route("/admin/pages/{slug}/settings", post(update_settings))
        .route("/admin/pages/{slug}/blocks", post(add_block))
        .route("/admin/pages/{slug}/blocks/{index}", post(update_block))
        .route("/admin/pages/{slug}/blocks/{index}/move", post(move_block))
        .route("/admin/pages/{slug}/blocks/{index}/remove", post(remove_block))
        .route("/admin/pages/{slug}/status", post(change_status))
        .route("/admin/pages/{slug}/counter", post(change_counter))
        .route("/admin/pages/{slug}/copy", post(copy_page))
        .route("/admin/pages/{slug}/delivery", post(change_delivery))
        .route("/admin/pages/{slug}/preview", get(preview))
        .route("/admin/pages/{slug}/history", get(show_history))
        .route("/admin/pages/{slug}/history/{revision}/restore", post(restore))
}

// ---- The list of pages ----

pub struct PageRow {
    pub listing: PageListing,
    pub count: i64,
}

pub struct CampaignGroup {
    pub name: String,
    pub slug: String,
    pub pages: Vec<PageRow>,
}

#[derive(Template)]
#[template(path = "admin/pages.html")]
struct PagesList {
    nav: Nav,
    campaigns: Vec<CampaignGroup>,
    can_edit: bool,
    errors: Vec<SpecError>,
    /// Emails waiting, sent and failed.
    outbox: (i64, i64, i64),
}

async fn render_list(state: &AppState, organiser: &Organiser, errors: Vec<SpecError>) -> Result<Response, AdminError> {
    let mut campaigns: Vec<CampaignGroup> = Vec::new();
    for listing in db::pages::list_all(&state.db).await? {
        let count = db::counters::for_page(&state.db, &listing.slug).await?.map(|c| c.counter.count()).unwrap_or(0);
        let row = PageRow { listing, count };
        match campaigns.last_mut() {
            Some(group) if group.slug == row.listing.campaign_slug => group.pages.push(row),
            _ => campaigns.push(CampaignGroup {
                name: row.listing.campaign_name.clone(),
                slug: row.listing.campaign_slug.clone(),
                pages: vec![row],
            }),
        }
    }
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let outbox = db::outbox::counts(&state.db).await?;
    let page =
        PagesList { nav: organiser.nav(), campaigns, can_edit: organiser.user.role.can_edit_pages(), errors, outbox };
    Ok((status, organiser.render(page)?).into_response())
}

async fn list_pages(State(state): State<AppState>, organiser: Organiser) -> Result<Response, AdminError> {
    render_list(&state, &organiser, Vec::new()).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NewPageForm {
    slug: String,
    title: String,
    locale: String,
    kind: String,
    campaign_slug: String,
    campaign_name: String,
}

async fn create_page(
    State(state): State<AppState>,
    organiser: Organiser,
    CsrfForm(form): CsrfForm<NewPageForm>,
) -> Result<Response, AdminError> {
    let locale = Locale::parse(&form.locale).unwrap_or(Locale::En);
    let kind = PageKind::parse(&form.kind).unwrap_or(PageKind::Petition);
    let campaign_name =
        if form.campaign_name.trim().is_empty() { form.campaign_slug.clone() } else { form.campaign_name.clone() };
    let new = NewPage {
        slug: form.slug.trim().to_string(),
        title: form.title.trim().to_string(),
        locale,
        kind,
        campaign_slug: form.campaign_slug.trim().to_string(),
        campaign_name,
    };
    match page_edits::create_page(&state.db, &organiser.user, new).await {
        Ok(page) => Ok(Redirect::to(&format!("/admin/pages/{}", page.spec.slug)).into_response()),
        Err(EditError::Invalid(errors)) => render_list(&state, &organiser, errors).await,
        Err(error) => Err(edit_error(error)),
    }
}

fn edit_error(error: EditError) -> AdminError {
    match error {
        EditError::NotFound => AdminError::NotFound,
        EditError::Forbidden => AdminError::Forbidden,
        EditError::Db(e) => AdminError::Db(e),
        EditError::Invalid(errors) => AdminError::BadRequest(format!("{errors:?}")),
    }
}

// ---- The editor ----

/// One block in the editor, with what its form needs already worked out.
pub struct BlockEditor {
    pub index: usize,
    pub label: &'static str,
    pub block: Block,
    pub preview_html: Option<String>,
    /// Scripts blocks are read-only for editors.
    pub locked: bool,
    pub first: bool,
    pub last: bool,
    pub links_text: String,
    pub targets_text: String,
    pub recipients_text: String,
    pub rules: Vec<(&'static str, &'static str, &'static str)>,
    pub shares: Vec<(&'static str, &'static str, bool)>,
}

impl BlockEditor {
    fn new(index: usize, count: usize, block: &Block, can_edit_scripts: bool) -> Self {
        let mut links_text = String::new();
        let mut targets_text = String::new();
        let mut recipients_text = String::new();
        let mut rules = Vec::new();
        let mut shares = Vec::new();
        match block {
            Block::CampaignSection(section) => {
                links_text =
                    section.links.iter().map(|l| format!("{} | {}", l.label, l.url)).collect::<Vec<_>>().join("\n");
            }
            Block::Form(form) => {
                targets_text = form.targets.join("\n");
                recipients_text = form.recipients.join("\n");
                rules = vec![
                    ("first_name", "First name", form.fields.first_name.as_str()),
                    ("last_name", "Last name", form.fields.last_name.as_str()),
                    ("postal_code", "Postal code", form.fields.postal_code.as_str()),
                    ("country", "Country", form.fields.country.as_str()),
                ];
            }
            Block::ThankYou(thanks) => {
                shares = [
                    ("email", "Email", ShareChannel::Email),
                    ("facebook", "Facebook", ShareChannel::Facebook),
                    ("x", "X", ShareChannel::X),
                    ("whatsapp", "WhatsApp", ShareChannel::Whatsapp),
                    ("copy", "Copy link", ShareChannel::Copy),
                ]
                .into_iter()
                .map(|(name, label, channel)| (name, label, thanks.share.contains(&channel)))
                .collect();
            }
            Block::Counter(_) | Block::Scripts(_) => {}
        }
        BlockEditor {
            index,
            label: block_label(block),
            block: block.clone(),
            preview_html: None,
            locked: matches!(block, Block::Scripts(_)) && !can_edit_scripts,
            first: index == 0,
            last: index + 1 == count,
            links_text,
            targets_text,
            recipients_text,
            rules,
            shares,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/page_edit.html")]
struct EditorPage {
    nav: Nav,
    slug: String,
    spec: PageSpec,
    public_url: String,
    blocks: Vec<BlockEditor>,
    errors: Vec<SpecError>,
    notice: Option<String>,
    can_edit_scripts: bool,
    count: i64,
    counter_scope: &'static str,
    offset: i64,
    goal: String,
    offset_changes: Vec<OffsetChange>,
    delivery_paused: bool,
    delivery: crate::db::outbox::DeliveryCounts,
    /// Messages that cancelling would stop: queued, or waiting for a digest.
    waiting: i64,
    /// Actions waiting for their supporters to confirm (pages that verify senders).
    unconfirmed: i64,
}

struct EditorState {
    spec: Option<PageSpec>,
    errors: Vec<SpecError>,
    notice: Option<String>,
    preview: Option<(usize, String)>,
}

impl EditorState {
    fn clean() -> Self {
        Self { spec: None, errors: Vec::new(), notice: None, preview: None }
    }
}

async fn load_page(state: &AppState, slug: &str) -> Result<Page, AdminError> {
    db::pages::find_by_slug(&state.db, slug).await?.ok_or(AdminError::NotFound)
}

async fn render_editor(
    state: &AppState,
    organiser: &Organiser,
    page: &Page,
    shown: EditorState,
) -> Result<Response, AdminError> {
    organiser.require(organiser.user.role.can_edit_pages())?;
    let spec = shown.spec.unwrap_or_else(|| page.spec.clone());
    let can_edit_scripts = organiser.user.role.can_edit_scripts();
    let mut blocks: Vec<BlockEditor> = spec
        .blocks
        .iter()
        .enumerate()
        .map(|(i, b)| BlockEditor::new(i, spec.blocks.len(), b, can_edit_scripts))
        .collect();
    if let Some((index, html)) = shown.preview {
        if let Some(block) = blocks.get_mut(index) {
            block.preview_html = Some(html);
        }
    }
    let count =
        db::counters::for_page(&state.db, page.spec.slug.as_str()).await?.map(|c| c.counter.count()).unwrap_or(0);
    let (offset, goal) = page.spec.counter().map(|c| (c.offset, c.goal)).unwrap_or((0, None));
    let status = if shown.errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let (delivery_paused, delivery) = db::outbox::page_delivery(&state.db, page.id).await?;
    let template = EditorPage {
        delivery_paused,
        waiting: delivery.queued + delivery.waiting_for_digest,
        unconfirmed: db::pending::count_for_page(&state.db, page.id).await?,
        delivery,
        nav: organiser.nav(),
        slug: page.spec.slug.to_string(),
        public_url: format!("{}/page/{}", state.public_url, page.spec.slug),
        counter_scope: page.spec.counter_scope().as_str(),
        spec,
        blocks,
        errors: shown.errors,
        notice: shown.notice,
        can_edit_scripts,
        count,
        offset,
        goal: goal.map(|g| g.to_string()).unwrap_or_default(),
        offset_changes: db::pages::offset_changes(&state.db, crate::db::actions::Scope::Page(page.id)).await?,
    };
    Ok((status, organiser.render(template)?).into_response())
}

async fn show_editor(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(slug): Path<String>,
) -> Result<Response, AdminError> {
    let page = load_page(&state, &slug).await?;
    render_editor(&state, &organiser, &page, EditorState::clean()).await
}

/// Applies an edit; on success back to the editor, otherwise the editor again with the
/// problems and what was typed.
async fn run_edit(
    state: &AppState,
    organiser: &Organiser,
    slug: &str,
    edit: PageEdit,
    anchor: &str,
) -> Result<Response, AdminError> {
    match page_edits::edit_page(&state.db, &organiser.user, slug, edit.clone()).await {
        Ok(page) => Ok(Redirect::to(&format!("/admin/pages/{}#{anchor}", page.spec.slug)).into_response()),
        Err(EditError::Invalid(errors)) => {
            let page = load_page(state, slug).await?;
            let attempted = page_edits::apply(&page.spec, &organiser.user, &edit).ok().map(|(spec, _)| spec);
            let attempted = attempted.or_else(|| attempted_spec(&page.spec, &edit));
            render_editor(state, organiser, &page, EditorState { spec: attempted, errors, notice: None, preview: None })
                .await
        }
        Err(error) => Err(edit_error(error)),
    }
}

/// The page as the organiser tried to make it, even though it is not valid, so that the
/// editor shows what they typed beside the errors.
fn attempted_spec(spec: &PageSpec, edit: &PageEdit) -> Option<PageSpec> {
    let mut next = spec.clone();
    match edit {
        PageEdit::ReplaceBlock { index, block } => *next.blocks.get_mut(*index)? = block.clone(),
        PageEdit::Settings { title, intro, share_text, closing_message } => {
            next.title = title.clone();
            next.intro = intro.clone();
            next.share_text = share_text.clone();
            next.closing_message = closing_message.clone();
        }
        _ => return None,
    }
    Some(next)
}

fn optional(text: &str) -> Option<String> {
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.replace("\r\n", "\n"))
}

fn text(text: &str) -> String {
    text.trim().replace("\r\n", "\n")
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SettingsForm {
    title: String,
    intro: String,
    share_text: String,
    closing_message: String,
}

async fn update_settings(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> Result<Response, AdminError> {
    let edit = PageEdit::Settings {
        title: text(&form.title),
        intro: optional(&form.intro),
        share_text: text(&form.share_text),
        closing_message: optional(&form.closing_message),
    };
    run_edit(&state, &organiser, &slug, edit, "settings").await
}

/// Every field any block's form may send; each block reads the ones it has.
#[derive(Deserialize, Default)]
#[serde(default)]
struct BlockForm {
    heading: String,
    body: String,
    image_src: String,
    image_alt: String,
    image_caption: String,
    links_heading: String,
    links: String,
    sentence: String,
    scope: String,
    call_to_action: String,
    targets: String,
    recipients: String,
    district_targets: Option<String>,
    delivery: String,
    verify_sender: Option<String>,
    email_subject: String,
    email_body: String,
    submit_label: String,
    consent: String,
    default_country: String,
    first_name: String,
    last_name: String,
    postal_code: String,
    country: String,
    letter_subject: String,
    letter_subject_editable: Option<String>,
    letter_opening: String,
    letter_body: String,
    letter_body_editable: Option<String>,
    letter_closing: String,
    letter_sign_off: String,
    html: String,
    share_email: Option<String>,
    share_facebook: Option<String>,
    share_x: Option<String>,
    share_whatsapp: Option<String>,
    share_copy: Option<String>,
    show_counter: Option<String>,
    preview: Option<String>,
}

/// Reads a block of the same type as `current` from the form.
fn block_from_form(current: &Block, form: &BlockForm, index: usize) -> Result<Block, Vec<SpecError>> {
    let mut errors = Vec::new();
    let block = match current {
        Block::CampaignSection(_) => {
            let mut links = Vec::new();
            for (n, line) in form.links.lines().map(str::trim).filter(|l| !l.is_empty()).enumerate() {
                match line.rsplit_once('|') {
                    Some((label, url)) => links.push(Link { label: label.trim().into(), url: url.trim().into() }),
                    None => errors.push(SpecError {
                        path: format!("blocks[{index}].links[{n}]"),
                        message: "write each link as: Label | https://address".into(),
                    }),
                }
            }
            let image = optional(&form.image_src).map(|src| Image {
                src,
                alt: text(&form.image_alt),
                caption: optional(&form.image_caption),
            });
            Block::CampaignSection(CampaignSection {
                heading: optional(&form.heading),
                body: text(&form.body),
                image,
                links_heading: optional(&form.links_heading),
                links,
            })
        }
        Block::Counter(counter) => Block::Counter(CounterBlock {
            sentence: text(&form.sentence),
            scope: CounterScope::parse(&form.scope).unwrap_or(counter.scope),
            offset: counter.offset,
            goal: counter.goal,
        }),
        Block::Form(current_form) => {
            let rule = |value: &str, fallback: FieldRule| FieldRule::parse(value).unwrap_or(fallback);
            let letter = current_form.letter.as_ref().map(|_| Letter {
                subject: text(&form.letter_subject),
                subject_editable: form.letter_subject_editable.is_some(),
                opening: text(&form.letter_opening),
                body: text(&form.letter_body),
                body_editable: form.letter_body_editable.is_some(),
                closing: text(&form.letter_closing),
                sign_off: text(&form.letter_sign_off),
            });
            let defaults = current_form.fields;
            Block::Form(FormBlock {
                call_to_action: text(&form.call_to_action),
                targets: form.targets.lines().map(str::trim).filter(|t| !t.is_empty()).map(String::from).collect(),
                recipients: form.recipients.split_whitespace().map(String::from).collect(),
                district_targets: form.district_targets.is_some(),
                delivery: Delivery::parse(&form.delivery).unwrap_or(current_form.delivery),
                verify_sender: form.verify_sender.is_some(),
                letter,
                fields: InfoFields {
                    first_name: rule(&form.first_name, defaults.first_name),
                    last_name: rule(&form.last_name, defaults.last_name),
                    postal_code: rule(&form.postal_code, defaults.postal_code),
                    country: rule(&form.country, defaults.country),
                },
                default_country: optional(&form.default_country).map(|c| c.to_ascii_uppercase()),
                consent: optional(&form.consent),
                submit_label: text(&form.submit_label),
            })
        }
        Block::Scripts(_) => Block::Scripts(ScriptsBlock { html: form.html.replace("\r\n", "\n") }),
        Block::ThankYou(_) => {
            let share = [
                (&form.share_email, ShareChannel::Email),
                (&form.share_facebook, ShareChannel::Facebook),
                (&form.share_x, ShareChannel::X),
                (&form.share_whatsapp, ShareChannel::Whatsapp),
                (&form.share_copy, ShareChannel::Copy),
            ]
            .into_iter()
            .filter(|(ticked, _)| ticked.is_some())
            .map(|(_, channel)| channel)
            .collect();
            Block::ThankYou(ThankYouBlock {
                heading: text(&form.heading),
                body: text(&form.body),
                share,
                show_counter: form.show_counter.is_some(),
                email_subject: optional(&form.email_subject),
                email_body: optional(&form.email_body),
            })
        }
    };
    if errors.is_empty() { Ok(block) } else { Err(errors) }
}

async fn update_block(
    State(state): State<AppState>,
    organiser: Organiser,
    Path((slug, index)): Path<(String, usize)>,
    CsrfForm(form): CsrfForm<BlockForm>,
) -> Result<Response, AdminError> {
    let page = load_page(&state, &slug).await?;
    let current = page.spec.blocks.get(index).ok_or(AdminError::NotFound)?;
    if matches!(current, Block::Scripts(_)) && !organiser.user.role.can_edit_scripts() {
        return Err(AdminError::Forbidden);
    }
    let block = match block_from_form(current, &form, index) {
        Ok(block) => block,
        Err(errors) => {
            return render_editor(
                &state,
                &organiser,
                &page,
                EditorState { spec: None, errors, notice: None, preview: None },
            )
            .await;
        }
    };
    if form.preview.is_some() {
        // Show the rendered Markdown beside the form; nothing is saved.
        let markdown = match &block {
            Block::CampaignSection(section) => section.body.clone(),
            Block::ThankYou(thanks) => thanks.body.clone(),
            _ => String::new(),
        };
        let mut spec = page.spec.clone();
        spec.blocks[index] = block;
        let shown = EditorState {
            spec: Some(spec),
            errors: Vec::new(),
            notice: Some("Preview only: not saved yet.".into()),
            preview: Some((index, render_markdown(&markdown))),
        };
        return render_editor(&state, &organiser, &page, shown).await;
    }
    run_edit(&state, &organiser, &slug, PageEdit::ReplaceBlock { index, block }, &format!("block-{index}")).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AddBlockForm {
    kind: String,
}

async fn add_block(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<AddBlockForm>,
) -> Result<Response, AdminError> {
    let kind =
        BlockKind::parse(&form.kind).ok_or_else(|| AdminError::BadRequest(format!("block kind {:?}", form.kind)))?;
    run_edit(&state, &organiser, &slug, PageEdit::AddBlock(kind), "blocks").await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MoveForm {
    direction: String,
}

async fn move_block(
    State(state): State<AppState>,
    organiser: Organiser,
    Path((slug, index)): Path<(String, usize)>,
    CsrfForm(form): CsrfForm<MoveForm>,
) -> Result<Response, AdminError> {
    let up = form.direction == "up";
    let target = if up { index.saturating_sub(1) } else { index + 1 };
    run_edit(&state, &organiser, &slug, PageEdit::MoveBlock { index, up }, &format!("block-{target}")).await
}

async fn remove_block(
    State(state): State<AppState>,
    organiser: Organiser,
    Path((slug, index)): Path<(String, usize)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AdminError> {
    run_edit(&state, &organiser, &slug, PageEdit::RemoveBlock { index }, "blocks").await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StatusForm {
    status: String,
}

async fn change_status(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<StatusForm>,
) -> Result<Response, AdminError> {
    let status =
        PageStatus::parse(&form.status).ok_or_else(|| AdminError::BadRequest(format!("status {:?}", form.status)))?;
    run_edit(&state, &organiser, &slug, PageEdit::Status(status), "status").await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CounterForm {
    offset: String,
    goal: String,
    reason: String,
}

async fn change_counter(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<CounterForm>,
) -> Result<Response, AdminError> {
    let page = load_page(&state, &slug).await?;
    let number_error = |field: &str| SpecError { path: field.into(), message: "must be a whole number".into() };
    let offset = form.offset.trim().parse::<i64>().map_err(|_| number_error("offset"));
    let goal = match form.goal.trim() {
        "" => Ok(None),
        goal => goal.parse::<i64>().map(Some).map_err(|_| number_error("goal")),
    };
    let result = match (offset, goal) {
        (Ok(offset), Ok(goal)) => {
            page_edits::set_counter(&state.db, &organiser.user, &slug, offset, goal, &form.reason).await
        }
        (offset, goal) => Err(EditError::Invalid([offset.err(), goal.err()].into_iter().flatten().collect())),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/admin/pages/{slug}#counter")).into_response()),
        Err(EditError::Invalid(errors)) => {
            render_editor(&state, &organiser, &page, EditorState { spec: None, errors, notice: None, preview: None })
                .await
        }
        Err(error) => Err(edit_error(error)),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CopyForm {
    slug: String,
    locale: String,
}

async fn copy_page(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<CopyForm>,
) -> Result<Response, AdminError> {
    let locale = Locale::parse(&form.locale);
    match page_edits::copy_page(&state.db, &organiser.user, &slug, form.slug.trim(), locale).await {
        Ok(page) => Ok(Redirect::to(&format!("/admin/pages/{}", page.spec.slug)).into_response()),
        Err(EditError::Invalid(errors)) => {
            let page = load_page(&state, &slug).await?;
            render_editor(&state, &organiser, &page, EditorState { spec: None, errors, notice: None, preview: None })
                .await
        }
        Err(error) => Err(edit_error(error)),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DeliveryForm {
    delivery: String,
}

/// Pauses or resumes the page's outgoing email, or cancels what has not left yet (when the
/// target has already conceded, say).
async fn change_delivery(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(slug): Path<String>,
    CsrfForm(form): CsrfForm<DeliveryForm>,
) -> Result<Response, AdminError> {
    organiser.require(organiser.user.role.can_edit_pages())?;
    let page = load_page(&state, &slug).await?;
    match form.delivery.as_str() {
        "pause" => db::outbox::set_paused(&state.db, page.id, true).await?,
        "resume" => db::outbox::set_paused(&state.db, page.id, false).await?,
        "cancel" => {
            let cancelled = db::outbox::cancel_pending(&state.db, page.id).await?;
            tracing::info!(by = organiser.user.id, page = %slug, cancelled, "queued emails cancelled");
        }
        "digest" => {
            let letters = crate::services::digests::send_now(&state.db, &state.site, page.id).await?;
            tracing::info!(by = organiser.user.id, page = %slug, letters, "digests sent ahead of time");
        }
        other => return Err(AdminError::BadRequest(format!("delivery {other:?}"))),
    }
    Ok(Redirect::to(&format!("/admin/pages/{slug}#delivery")).into_response())
}

async fn preview(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(slug): Path<String>,
) -> Result<Response, AdminError> {
    let page = load_page(&state, &slug).await?;
    crate::web::page::preview_page(&state, &page, organiser.jar.clone())
        .await
        .map_err(|e| AdminError::Unexpected(e.to_string()))
}

#[derive(Template)]
#[template(path = "admin/history.html")]
struct HistoryPage {
    nav: Nav,
    slug: String,
    title: String,
    revisions: Vec<Revision>,
    can_restore: bool,
}

async fn show_history(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(slug): Path<String>,
) -> Result<Response, AdminError> {
    let page = load_page(&state, &slug).await?;
    let revisions = db::pages::revisions(&state.db, page.id).await?;
    organiser.render(HistoryPage {
        nav: organiser.nav(),
        slug,
        title: page.spec.title.clone(),
        revisions,
        can_restore: organiser.user.role.can_edit_pages(),
    })
}

async fn restore(
    State(state): State<AppState>,
    organiser: Organiser,
    Path((slug, revision)): Path<(String, i64)>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AdminError> {
    run_edit(&state, &organiser, &slug, PageEdit::Restore { revision }, "blocks").await
}
