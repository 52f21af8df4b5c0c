//! An action page as organisers describe it: its settings and its ordered blocks (campaign
//! sections, counter, form, scripts, thank-you step), the checks a page must pass before
//! it is stored, and the TOML and YAML files pages are imported from and exported to.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::country::Country;
use crate::domain::field::FieldRule;
use crate::domain::letter::Letter;
use crate::domain::locale::Locale;
use crate::domain::slug::Slug;

/// Whether the public can see a page and act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageStatus {
    /// Being written; not public.
    Draft,
    /// Public, taking actions.
    Live,
    /// Public, showing its closing message, refusing actions.
    Closed,
}

/// What supporters do on a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PageKind {
    /// Add a name to a petition.
    Petition,
    /// Send a (personalisable) letter to one or more targets.
    Letter,
}

/// Which actions a counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CounterScope {
    #[default]
    Page,
    /// Every page of the campaign, e.g. its English and French pages together.
    Campaign,
}

macro_rules! str_enum {
    ($ty:ty { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$variant => $text),+ }
            }
            pub fn parse(input: &str) -> Option<Self> {
                match input { $($text => Some(<$ty>::$variant),)+ _ => None }
            }
        }
    };
}
str_enum!(PageStatus { Draft => "draft", Live => "live", Closed => "closed" });
str_enum!(PageKind { Petition => "petition", Letter => "letter" });
str_enum!(CounterScope { Page => "page", Campaign => "campaign" });

/// The campaign a page belongs to; pages of one campaign can share a counter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignRef {
    pub slug: Slug,
    pub name: String,
}

/// Everything that makes one action page, as found in a page file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageSpec {
    pub slug: Slug,
    pub locale: Locale,
    #[serde(default = "draft")]
    pub status: PageStatus,
    pub kind: PageKind,
    pub title: String,
    /// The short line under the title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intro: Option<String>,
    /// The text supporters share on social media and by email.
    pub share_text: String,
    /// Shown instead of the form once the page is closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closing_message: Option<String>,
    pub campaign: CampaignRef,
    pub blocks: Vec<Block>,
}

fn draft() -> PageStatus {
    PageStatus::Draft
}

/// One typed block of a page, in the order the organiser placed them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    CampaignSection(CampaignSection),
    Counter(CounterBlock),
    Form(FormBlock),
    Scripts(ScriptsBlock),
    ThankYou(ThankYouBlock),
}

/// Headings, Markdown text, an image and "learn more" links.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    /// Markdown, rendered then sanitised.
    #[serde(default)]
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links_heading: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// An absolute http(s) URL, or a path on this site.
    pub src: String,
    /// Describes the image for people who cannot see it; empty only for decoration.
    pub alt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub label: String,
    pub url: String,
}

/// "{count} people have taken action", with the organiser's offset and goal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterBlock {
    /// Contains `{count}` where the number goes.
    pub sentence: String,
    #[serde(default)]
    pub scope: CounterScope,
    /// Added to the real actions; with the campaign scope, it is the campaign's offset.
    #[serde(default)]
    pub offset: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<i64>,
}

/// The call to action, the targets, the letter and the supporter's information.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormBlock {
    pub call_to_action: String,
    /// Whom the action is addressed to, as shown on the page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// For letters: the keys of the targets (`undersigned targets import`) each supporter's
    /// letter is emailed to, one message per target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    /// For letters: also email the targets of the supporter's own district, found from their
    /// postal code in the district table (`undersigned districts import`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub district_targets: bool,
    /// For letters: each message as it comes, or one digest per target and day.
    #[serde(default, skip_serializing_if = "Delivery::is_immediate")]
    pub delivery: Delivery,
    /// The action counts, and its letters leave, only once the supporter has followed the
    /// link in a confirmation email.
    #[serde(default, skip_serializing_if = "is_false")]
    pub verify_sender: bool,
    /// Required on letter pages, absent on petitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub letter: Option<Letter>,
    #[serde(default)]
    pub fields: InfoFields,
    /// Assumed when the country field is hidden or left empty; checks postal codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_country: Option<String>,
    /// The consent question; its exact wording is stored with every action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<String>,
    pub submit_label: String,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// How a letter page's messages reach their targets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Each message as soon as it is written.
    #[default]
    Immediate,
    /// One email per target and day carrying the day's messages, to spare their inbox.
    DailyDigest,
}

impl Delivery {
    pub fn is_immediate(&self) -> bool {
        *self == Delivery::Immediate
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Immediate => "immediate",
            Delivery::DailyDigest => "daily_digest",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "immediate" => Some(Delivery::Immediate),
            "daily_digest" => Some(Delivery::DailyDigest),
            _ => None,
        }
    }
}

/// Which "your information" fields a page asks for. The email address is always required:
/// it is what makes one action per person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfoFields {
    #[serde(default = "required")]
    pub first_name: FieldRule,
    #[serde(default = "required")]
    pub last_name: FieldRule,
    #[serde(default = "optional")]
    pub postal_code: FieldRule,
    #[serde(default = "hidden")]
    pub country: FieldRule,
}

fn required() -> FieldRule {
    FieldRule::Required
}
fn optional() -> FieldRule {
    FieldRule::Optional
}
fn hidden() -> FieldRule {
    FieldRule::Hidden
}

impl Default for InfoFields {
    fn default() -> Self {
        Self { first_name: required(), last_name: required(), postal_code: optional(), country: hidden() }
    }
}

/// The organiser's own tags (analytics, pixels), placed at the end of the page's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptsBlock {
    pub html: String,
}

/// What a supporter sees after acting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThankYouBlock {
    pub heading: String,
    /// Markdown.
    #[serde(default)]
    pub body: String,
    #[serde(default = "ShareChannel::all")]
    pub share: Vec<ShareChannel>,
    #[serde(default = "yes")]
    pub show_counter: bool,
    /// The thank-you email's subject and body (merge fields: {first_name}, {last_name},
    /// {page_title}, {page_url}, {unsubscribe_url}); the interface's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_body: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShareChannel {
    Email,
    Facebook,
    X,
    Whatsapp,
    Copy,
}

impl ShareChannel {
    pub fn all() -> Vec<ShareChannel> {
        vec![ShareChannel::Email, ShareChannel::Facebook, ShareChannel::X, ShareChannel::Whatsapp, ShareChannel::Copy]
    }
}

/// One problem with a page, with where it is (`blocks[2].links[0].url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The file formats a page can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageFormat {
    Toml,
    Yaml,
}

impl PageFormat {
    /// Guesses the format from a file name's extension.
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "toml" => Some(PageFormat::Toml),
            "yaml" | "yml" => Some(PageFormat::Yaml),
            _ => None,
        }
    }
}

/// Limits on what organisers write, so that a page stays a page.
const TITLE_MAX: usize = 200;
const SHORT_TEXT_MAX: usize = 500;
const LONG_TEXT_MAX: usize = 50_000;
const SCRIPTS_MAX: usize = 100_000;

impl PageSpec {
    /// Reads a page from the text of a file; the page still needs [`PageSpec::validate`].
    pub fn from_text(text: &str, format: PageFormat) -> Result<Self, String> {
        match format {
            PageFormat::Toml => toml::from_str(text).map_err(|e| e.to_string()),
            PageFormat::Yaml => serde_yaml_ng::from_str(text).map_err(|e| e.to_string()),
        }
    }

    /// Writes the page as the text of a file that [`PageSpec::from_text`] reads back.
    pub fn to_text(&self, format: PageFormat) -> Result<String, String> {
        match format {
            PageFormat::Toml => toml::to_string_pretty(self).map_err(|e| e.to_string()),
            PageFormat::Yaml => serde_yaml_ng::to_string(self).map_err(|e| e.to_string()),
        }
    }

    pub fn form(&self) -> Option<&FormBlock> {
        self.blocks.iter().find_map(|b| if let Block::Form(form) = b { Some(form) } else { None })
    }

    pub fn counter(&self) -> Option<&CounterBlock> {
        self.blocks.iter().find_map(|b| if let Block::Counter(c) = b { Some(c) } else { None })
    }

    pub fn counter_mut(&mut self) -> Option<&mut CounterBlock> {
        self.blocks.iter_mut().find_map(|b| if let Block::Counter(c) = b { Some(c) } else { None })
    }

    pub fn thank_you(&self) -> Option<&ThankYouBlock> {
        self.blocks.iter().find_map(|b| if let Block::ThankYou(t) = b { Some(t) } else { None })
    }

    pub fn scripts(&self) -> Option<&ScriptsBlock> {
        self.blocks.iter().find_map(|b| if let Block::Scripts(s) = b { Some(s) } else { None })
    }

    pub fn counter_scope(&self) -> CounterScope {
        self.counter().map(|c| c.scope).unwrap_or_default()
    }

    /// Every problem with the page; an empty list means it can be stored.
    pub fn validate(&self) -> Result<(), Vec<SpecError>> {
        let mut errors = Vec::new();
        let mut err = |path: String, message: &str| errors.push(SpecError { path, message: message.to_string() });

        text_field(&mut err, "title", &self.title, TITLE_MAX, true);
        text_field(&mut err, "share_text", &self.share_text, SHORT_TEXT_MAX, true);
        text_field(&mut err, "campaign.name", &self.campaign.name, TITLE_MAX, true);
        if let Some(intro) = &self.intro {
            text_field(&mut err, "intro", intro, SHORT_TEXT_MAX * 2, false);
        }
        match &self.closing_message {
            Some(message) => text_field(&mut err, "closing_message", message, LONG_TEXT_MAX, true),
            None if self.status == PageStatus::Closed => {
                err("closing_message".into(), "a closed page needs a closing message")
            }
            None => {}
        }

        let count = |pick: fn(&Block) -> bool| self.blocks.iter().filter(|b| pick(b)).count();
        if count(|b| matches!(b, Block::Form(_))) != 1 {
            err("blocks".into(), "a page needs exactly one block of type \"form\"");
        }
        for (kind, n) in [
            ("counter", count(|b| matches!(b, Block::Counter(_)))),
            ("scripts", count(|b| matches!(b, Block::Scripts(_)))),
            ("thank_you", count(|b| matches!(b, Block::ThankYou(_)))),
        ] {
            if n > 1 {
                err("blocks".into(), &format!("a page can have at most one block of type \"{kind}\""));
            }
        }

        for (i, block) in self.blocks.iter().enumerate() {
            let at = |field: &str| format!("blocks[{i}].{field}");
            match block {
                Block::CampaignSection(section) => {
                    if let Some(heading) = &section.heading {
                        text_field(&mut err, &at("heading"), heading, TITLE_MAX, true);
                    }
                    text_field(&mut err, &at("body"), &section.body, LONG_TEXT_MAX, false);
                    if let Some(image) = &section.image {
                        if !is_image_source(&image.src) {
                            err(at("image.src"), "must be an http(s) URL or a path starting with /");
                        }
                        text_field(&mut err, &at("image.alt"), &image.alt, SHORT_TEXT_MAX, false);
                    }
                    for (j, link) in section.links.iter().enumerate() {
                        text_field(&mut err, &at(&format!("links[{j}].label")), &link.label, SHORT_TEXT_MAX, true);
                        if !is_web_url(&link.url) {
                            err(at(&format!("links[{j}].url")), "must be an absolute http:// or https:// URL");
                        }
                    }
                }
                Block::Counter(counter) => {
                    if !counter.sentence.contains("{count}") {
                        err(at("sentence"), "must contain {count} where the number goes");
                    }
                    text_field(&mut err, &at("sentence"), &counter.sentence, SHORT_TEXT_MAX, true);
                    if counter.offset < 0 {
                        err(at("offset"), "cannot be negative");
                    }
                    if counter.goal.is_some_and(|goal| goal <= 0) {
                        err(at("goal"), "must be a positive number");
                    }
                }
                Block::Form(form) => {
                    text_field(&mut err, &at("call_to_action"), &form.call_to_action, TITLE_MAX, true);
                    text_field(&mut err, &at("submit_label"), &form.submit_label, 60, true);
                    for (j, target) in form.targets.iter().enumerate() {
                        text_field(&mut err, &at(&format!("targets[{j}]")), target, TITLE_MAX, true);
                    }
                    for (j, key) in form.recipients.iter().enumerate() {
                        if Slug::parse(key).is_err() {
                            err(at(&format!("recipients[{j}]")), "must be a target's key, like prime-minister");
                        }
                    }
                    if !form.recipients.is_empty() && self.kind == PageKind::Petition {
                        err(at("recipients"), "petitions are not emailed to targets; use kind = \"letter\"");
                    }
                    if form.district_targets && self.kind == PageKind::Petition {
                        err(at("district_targets"), "petitions are not emailed to targets; use kind = \"letter\"");
                    }
                    if form.district_targets && form.fields.postal_code != FieldRule::Required {
                        err(
                            at("district_targets"),
                            "finding the supporter's district needs their postal code: make it required",
                        );
                    }
                    if !form.delivery.is_immediate() && self.kind == PageKind::Petition {
                        err(at("delivery"), "petitions are not emailed to targets; use kind = \"letter\"");
                    }
                    if let Some(consent) = &form.consent {
                        text_field(&mut err, &at("consent"), consent, SHORT_TEXT_MAX * 2, true);
                    }
                    if let Some(code) = &form.default_country {
                        if Country::parse(code).map(|c| c.code() != code).unwrap_or(true) {
                            err(at("default_country"), "must be an upper-case ISO 3166-1 code, like CA");
                        }
                    }
                    match (&form.letter, self.kind) {
                        (None, PageKind::Letter) => err(at("letter"), "a letter page needs a letter"),
                        (Some(_), PageKind::Petition) => {
                            err(at("letter"), "a petition page has no letter; use kind = \"letter\"")
                        }
                        (Some(letter), PageKind::Letter) => {
                            text_field(&mut err, &at("letter.subject"), &letter.subject, 200, true);
                            text_field(&mut err, &at("letter.body"), &letter.body, 5000, !letter.body_editable);
                            for (name, part) in [
                                ("opening", &letter.opening),
                                ("closing", &letter.closing),
                                ("sign_off", &letter.sign_off),
                            ] {
                                text_field(&mut err, &at(&format!("letter.{name}")), part, 5000, false);
                            }
                        }
                        (None, PageKind::Petition) => {}
                    }
                }
                Block::Scripts(scripts) => text_field(&mut err, &at("html"), &scripts.html, SCRIPTS_MAX, false),
                Block::ThankYou(thanks) => {
                    text_field(&mut err, &at("heading"), &thanks.heading, TITLE_MAX, true);
                    text_field(&mut err, &at("body"), &thanks.body, LONG_TEXT_MAX, false);
                    if let Some(subject) = &thanks.email_subject {
                        text_field(&mut err, &at("email_subject"), subject, 200, true);
                    }
                    if let Some(body) = &thanks.email_body {
                        text_field(&mut err, &at("email_body"), body, LONG_TEXT_MAX, true);
                    }
                }
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

fn text_field(err: &mut impl FnMut(String, &str), path: &str, value: &str, max: usize, required: bool) {
    if required && value.trim().is_empty() {
        err(path.to_string(), "cannot be empty");
    } else if value.chars().count() > max {
        err(path.to_string(), &format!("is too long (at most {max} characters)"));
    }
}

fn is_web_url(input: &str) -> bool {
    Url::parse(input).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
}

fn is_image_source(input: &str) -> bool {
    is_web_url(input) || (input.starts_with('/') && !input.starts_with("//"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"
slug = "save-the-forest"
locale = "en"
status = "live"
kind = "letter"
title = "Save the forest"
share_text = "I wrote to the minister."

[campaign]
slug = "forest"
name = "Forest"

[[blocks]]
type = "counter"
sentence = "{count} people have written"
offset = 10
goal = 100

[[blocks]]
type = "campaign_section"
heading = "Why"
body = "The **forest** matters."
links = [{ label = "Report", url = "https://example.org/report" }]

[[blocks]]
type = "form"
call_to_action = "Write to the minister"
targets = ["Minister of Forests"]
submit_label = "Send"
consent = "Keep me informed"

[blocks.letter]
subject = "Save the forest"
body = "Please protect it."
"#;

    #[test]
    fn a_page_file_reads_back_what_it_wrote() {
        let page = PageSpec::from_text(PAGE, PageFormat::Toml).unwrap();
        page.validate().unwrap();
        assert_eq!(page.counter().unwrap().offset, 10);
        assert_eq!(page.form().unwrap().fields, InfoFields::default());
        for format in [PageFormat::Toml, PageFormat::Yaml] {
            let text = page.to_text(format).unwrap();
            assert_eq!(PageSpec::from_text(&text, format).unwrap(), page, "{text}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let error = PageSpec::from_text(&PAGE.replace("status = ", "stauts = "), PageFormat::Toml).unwrap_err();
        assert!(error.contains("stauts"), "{error}");
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let mut page = PageSpec::from_text(PAGE, PageFormat::Toml).unwrap();
        page.status = PageStatus::Closed;
        page.title = " ".into();
        page.blocks.push(Block::Counter(CounterBlock {
            sentence: "no number".into(),
            scope: CounterScope::Page,
            offset: -1,
            goal: Some(0),
        }));
        if let Block::CampaignSection(section) = &mut page.blocks[1] {
            section.links[0].url = "javascript:alert(1)".into();
        }
        let errors: Vec<String> = page.validate().unwrap_err().iter().map(|e| e.to_string()).collect();
        for expected in [
            "title: cannot be empty",
            "closing_message: a closed page needs a closing message",
            "blocks: a page can have at most one block of type \"counter\"",
            "blocks[1].links[0].url: must be an absolute http:// or https:// URL",
            "blocks[3].sentence: must contain {count} where the number goes",
            "blocks[3].offset: cannot be negative",
            "blocks[3].goal: must be a positive number",
        ] {
            assert!(errors.iter().any(|e| e == expected), "missing {expected:?} in {errors:#?}");
        }
    }

    #[test]
    fn a_letter_page_needs_a_letter_and_a_petition_has_none() {
        let mut page = PageSpec::from_text(PAGE, PageFormat::Toml).unwrap();
        page.kind = PageKind::Petition;
        let errors = page.validate().unwrap_err();
        assert_eq!(errors[0].path, "blocks[2].letter");
    }
}
