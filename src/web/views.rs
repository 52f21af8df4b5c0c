//! What templates show, built from the page's blocks: text already localised, Markdown
//! already rendered and sanitised, values and errors already matched to their fields.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::db::targets::Target;
use crate::domain::counter::{ActionCounter, format_number};
use crate::domain::country::Country;
use crate::domain::field::{Field, FieldError, FieldErrors, FieldRule};
use crate::domain::locale::Locale;
use crate::domain::markdown::render_markdown;
use crate::domain::page::{CampaignSection, CounterBlock, FormBlock, Image, Link, PageSpec, ShareChannel};
use crate::domain::slug::Slug;
use crate::web::csrf;
use crate::web::i18n::{UiText, field_error, field_label, postal_example, text};
use crate::web::page::ActionForm;

pub fn markdown_html(markdown: &str) -> String {
    render_markdown(markdown)
}

pub struct SectionView {
    pub heading: Option<String>,
    pub body_html: String,
    pub image: Option<Image>,
    pub links_heading: Option<String>,
    pub links: Vec<Link>,
}

impl SectionView {
    pub fn new(section: &CampaignSection) -> Self {
        Self {
            heading: section.heading.clone(),
            body_html: render_markdown(&section.body),
            image: section.image.clone(),
            links_heading: section.links_heading.clone(),
            links: section.links.clone(),
        }
    }
}

/// The blocks of the page's side column, in the organiser's order.
pub enum AsideView {
    Counter(CounterView),
    Form(Box<FormView>),
    Closed { heading: &'static str, body_html: String },
}

pub struct CounterView {
    /// The sentence around the number.
    pub before: String,
    pub after: String,
    pub count: String,
    pub goal: Option<String>,
    pub percent: i64,
    pub url: String,
    pub lang: &'static str,
}

impl CounterView {
    pub fn new(counter: ActionCounter, block: &CounterBlock, locale: Locale, slug: &Slug) -> Self {
        let (before, after) = block.sentence.split_once("{count}").unwrap_or((block.sentence.as_str(), ""));
        Self {
            before: before.to_string(),
            after: after.to_string(),
            count: format_number(counter.count(), locale),
            goal: counter.goal.map(|goal| format_number(goal, locale)),
            percent: counter.percent_of_goal().unwrap_or(0),
            url: format!("/api/v1/pages/{slug}/counter"),
            lang: locale.as_str(),
        }
    }
}

/// One text input of the form.
pub struct InputView {
    pub name: &'static str,
    pub label: &'static str,
    pub input_type: &'static str,
    pub autocomplete: &'static str,
    pub required: bool,
    pub value: String,
    pub error: Option<String>,
    pub maxlength: usize,
    pub msg_required: String,
    pub msg_invalid: String,
    pub msg_too_long: String,
}

impl InputView {
    fn new(field: Field, locale: Locale, required: bool, value: &str, errors: &FieldErrors, postal: &str) -> Self {
        let (input_type, autocomplete) = match field {
            Field::FirstName => ("text", "given-name"),
            Field::LastName => ("text", "family-name"),
            Field::Email => ("email", "email"),
            Field::PostalCode => ("text", "postal-code"),
            Field::Country => ("text", "country"),
            Field::Subject | Field::Message => ("text", "off"),
        };
        let invalid = match field {
            Field::Email => FieldError::InvalidEmail,
            Field::PostalCode => FieldError::InvalidPostalCode,
            _ => FieldError::Required,
        };
        Self {
            name: field.name(),
            label: field_label(locale, field),
            input_type,
            autocomplete,
            required,
            value: value.to_string(),
            error: errors.get(field).map(|e| field_error(locale, field, e, postal)),
            maxlength: field.max_len(),
            msg_required: field_error(locale, field, &FieldError::Required, postal),
            msg_invalid: field_error(locale, field, &invalid, postal),
            msg_too_long: field_error(locale, field, &FieldError::TooLong { max: field.max_len() }, postal),
        }
    }
}

pub struct CountryOption {
    pub code: &'static str,
    pub name: &'static str,
    pub selected: bool,
}

pub struct SelectView {
    pub label: &'static str,
    pub required: bool,
    pub options: Vec<CountryOption>,
    pub error: Option<String>,
    pub msg_required: String,
}

pub struct LetterView {
    pub subject: Option<InputView>,
    pub locked_subject: String,
    pub opening: String,
    /// The editable message; `None` when the whole body is locked.
    pub body: Option<InputView>,
    pub locked_body: String,
    pub closing: String,
    pub sign_off: String,
}

pub struct FormView {
    pub action: String,
    pub csrf_field: &'static str,
    pub csrf_token: String,
    pub call_to_action: String,
    pub targets: Vec<String>,
    pub notice: Option<&'static str>,
    /// `(field id, message)` for the error summary, in form order.
    pub summary: Vec<(&'static str, String)>,
    pub inputs: Vec<InputView>,
    pub country: Option<SelectView>,
    pub postal_code: Option<InputView>,
    pub letter: Option<LetterView>,
    pub consent: Option<String>,
    pub consent_checked: bool,
    pub submit_label: String,
    pub hidden: Vec<(&'static str, String)>,
    /// Pages that find the supporter's representative from their postal code: where the
    /// script asks, and whom the letter goes to once known.
    pub lookup: Option<LookupView>,
    pub t: &'static UiText,
}

pub struct LookupView {
    pub url: String,
    pub reviewed_keys: String,
    pub targets: Vec<TargetView>,
}

/// A target as the supporter sees it before sending.
pub struct TargetView {
    pub name: String,
    pub detail: String,
}

impl TargetView {
    pub fn new(target: &Target) -> Self {
        let mut detail: Vec<&str> = [target.title.as_deref(), target.district.as_deref(), target.party.as_deref()]
            .into_iter()
            .flatten()
            .filter(|part| !part.is_empty())
            .collect();
        detail.dedup();
        TargetView { name: target.name.clone(), detail: detail.join(", ") }
    }
}

impl FormView {
    pub fn new(
        spec: &PageSpec,
        form: &FormBlock,
        values: &ActionForm,
        errors: &FieldErrors,
        notice: Option<&'static str>,
        review: Option<&[Target]>,
        csrf_token: String,
    ) -> Self {
        let locale = spec.locale;
        let t = text(locale);
        let country_code =
            if values.country.is_empty() { form.default_country.clone() } else { Some(values.country.clone()) };
        let postal = postal_example(country_code.as_deref());
        let input = |field: Field, rule: FieldRule, value: &str| {
            rule.is_shown().then(|| InputView::new(field, locale, rule == FieldRule::Required, value, errors, postal))
        };
        let fields = form.fields;
        let inputs = [
            input(Field::FirstName, fields.first_name, &values.first_name),
            input(Field::LastName, fields.last_name, &values.last_name),
            input(Field::Email, FieldRule::Required, &values.email),
        ]
        .into_iter()
        .flatten()
        .collect();
        let country = fields.country.is_shown().then(|| SelectView {
            label: field_label(locale, Field::Country),
            required: fields.country == FieldRule::Required,
            options: Country::all_by_name(locale)
                .into_iter()
                .map(|c| CountryOption {
                    code: c.code(),
                    name: c.name(locale),
                    selected: country_code.as_deref() == Some(c.code()),
                })
                .collect(),
            error: errors.get(Field::Country).map(|e| field_error(locale, Field::Country, e, postal)),
            msg_required: field_error(locale, Field::Country, &FieldError::Required, postal),
        });
        let letter = form.letter.as_ref().map(|letter| LetterView {
            subject: letter.subject_editable.then(|| {
                InputView::new(
                    Field::Subject,
                    locale,
                    true,
                    values.subject.as_deref().unwrap_or(&letter.subject),
                    errors,
                    postal,
                )
            }),
            locked_subject: letter.subject.clone(),
            opening: letter.opening.clone(),
            body: letter.body_editable.then(|| {
                InputView::new(
                    Field::Message,
                    locale,
                    true,
                    values.message.as_deref().unwrap_or(&letter.body),
                    errors,
                    postal,
                )
            }),
            locked_body: letter.body.clone(),
            closing: letter.closing.clone(),
            sign_off: letter.sign_off.clone(),
        });
        let hidden = [
            ("utm_source", &values.utm_source),
            ("utm_medium", &values.utm_medium),
            ("utm_campaign", &values.utm_campaign),
            ("utm_content", &values.utm_content),
            ("utm_term", &values.utm_term),
            ("referrer", &values.referrer),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
        .collect();
        FormView {
            action: format!("/page/{}#take-action", spec.slug),
            csrf_field: csrf::FIELD_NAME,
            csrf_token,
            call_to_action: form.call_to_action.clone(),
            targets: form.targets.clone(),
            notice,
            summary: errors
                .iter()
                .map(|(field, error)| (field.name(), field_error(locale, *field, error, postal)))
                .collect(),
            inputs,
            country,
            postal_code: input(Field::PostalCode, fields.postal_code, &values.postal_code),
            letter,
            consent: form.consent.clone(),
            consent_checked: values.consent.as_deref().is_some_and(|v| !v.is_empty()),
            submit_label: form.submit_label.clone(),
            hidden,
            lookup: form.district_targets.then(|| LookupView {
                url: format!("/api/v1/pages/{}/targets", spec.slug),
                reviewed_keys: match review {
                    Some(targets) => crate::services::actions::review_keys(targets),
                    None => values.reviewed_targets.clone().unwrap_or_default(),
                },
                targets: review.unwrap_or_default().iter().map(TargetView::new).collect(),
            }),
            t,
        }
    }
}

/// A link that shares the page on one channel.
pub struct ShareLink {
    pub channel: &'static str,
    pub label: &'static str,
    pub href: String,
}

impl ShareLink {
    /// Links for each channel but "copy", which is a button. Shared links carry
    /// `utm_medium=share` and the channel as `utm_source`, so organisers see which works.
    pub fn for_channels(
        channels: &[ShareChannel],
        t: &UiText,
        page_url: &str,
        title: &str,
        share_text: &str,
    ) -> Vec<Self> {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let tagged = |source: &str| format!("{page_url}?utm_source={source}&utm_medium=share");
        channels
            .iter()
            .filter_map(|channel| {
                let (name, label, href) = match channel {
                    ShareChannel::Email => {
                        let body = format!("{share_text}\n\n{}", tagged("email"));
                        ("email", t.share_email, format!("mailto:?subject={}&body={}", enc(title), enc(&body)))
                    }
                    ShareChannel::Facebook => (
                        "facebook",
                        t.share_facebook,
                        format!("https://www.facebook.com/sharer/sharer.php?u={}", enc(&tagged("facebook"))),
                    ),
                    ShareChannel::X => (
                        "x",
                        t.share_x,
                        format!("https://x.com/intent/post?text={}&url={}", enc(share_text), enc(&tagged("x"))),
                    ),
                    ShareChannel::Whatsapp => (
                        "whatsapp",
                        t.share_whatsapp,
                        format!("https://wa.me/?text={}", enc(&format!("{share_text} {}", tagged("whatsapp")))),
                    ),
                    ShareChannel::Copy => return None,
                };
                Some(ShareLink { channel: name, label, href })
            })
            .collect()
    }
}
