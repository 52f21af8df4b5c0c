//! What a supporter submits, and the action it becomes once every field has been checked
//! against the page's form.

use crate::domain::country::Country;
use crate::domain::email::EmailAddress;
use crate::domain::field::{Field, FieldErrors, FieldRule, bounded};
use crate::domain::letter::ComposedLetter;
use crate::domain::page::FormBlock;
use crate::domain::postal_code::PostalCode;
use crate::domain::text::clean_line;

/// The form fields as the supporter sent them.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub postal_code: String,
    pub country: String,
    pub subject: Option<String>,
    pub message: Option<String>,
    pub consent: bool,
    /// On pages that find the supporter's district: the keys of the targets the supporter
    /// was shown (comma-separated), so that nothing goes to someone they have not seen.
    pub reviewed_targets: Option<String>,
}

/// A checked action, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionDraft {
    pub email: EmailAddress,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub postal_code: Option<PostalCode>,
    pub country: Option<Country>,
    pub consent: bool,
    /// The exact question the supporter answered, if the page asked one.
    pub consent_text: Option<String>,
    /// For letters, the subject and body exactly as they will be sent.
    pub letter: Option<ComposedLetter>,
}

impl ActionDraft {
    /// Checks a submission against the page's form; returns every problem at once.
    pub fn parse(submission: &Submission, form: &FormBlock) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let fields = form.fields;
        let name = |field: Field, rule: FieldRule, value: &str| -> Result<Option<String>, _> {
            if rule.is_shown() { bounded(field, clean_line(value), rule == FieldRule::Required) } else { Ok(None) }
        };
        let first_name =
            errors.check(Field::FirstName, name(Field::FirstName, fields.first_name, &submission.first_name)).flatten();
        let last_name =
            errors.check(Field::LastName, name(Field::LastName, fields.last_name, &submission.last_name)).flatten();
        let email = errors.check(Field::Email, EmailAddress::parse(&submission.email));

        let submitted_country = fields.country.is_shown() && !submission.country.trim().is_empty();
        let country = if submitted_country {
            errors.check(Field::Country, Country::parse(&submission.country))
        } else if fields.country == FieldRule::Required {
            errors.add(Field::Country, crate::domain::field::FieldError::Required);
            None
        } else {
            form.default_country.as_deref().and_then(|code| Country::parse(code).ok())
        };

        let postal_code = match fields.postal_code {
            FieldRule::Hidden => None,
            rule if submission.postal_code.trim().is_empty() && rule == FieldRule::Optional => None,
            _ => {
                errors.check(Field::PostalCode, PostalCode::parse(&submission.postal_code, country.map(Country::code)))
            }
        };

        let edits = form.letter.as_ref().map(|letter| {
            letter.accept_edits(submission.subject.as_deref(), submission.message.as_deref(), &mut errors)
        });

        if !errors.is_empty() {
            return Err(errors);
        }
        let Some(email) = email else {
            return Err(errors);
        };
        let full_name =
            [first_name.as_deref(), last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        let letter = match (form.letter.as_ref(), edits.flatten()) {
            (Some(letter), Some(edits)) => Some(letter.compose(
                &edits,
                &[full_name.as_str(), postal_code.as_ref().map(PostalCode::as_str).unwrap_or_default()],
            )),
            _ => None,
        };
        Ok(ActionDraft {
            email,
            first_name,
            last_name,
            postal_code,
            country,
            consent: form.consent.is_some() && submission.consent,
            consent_text: form.consent.clone(),
            letter,
        })
    }
}

/// Where a supporter came from: campaign tags of the link they followed and the referring
/// page. Not typed by them, so it is cut to size rather than refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracking {
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_content: Option<String>,
    pub utm_term: Option<String>,
    pub referrer: Option<String>,
}

impl Tracking {
    const UTM_MAX: usize = 200;
    const REFERRER_MAX: usize = 1000;

    /// Whether the visitor brought no campaign tags and no referrer.
    pub fn is_empty(&self) -> bool {
        [&self.utm_source, &self.utm_medium, &self.utm_campaign, &self.utm_content, &self.utm_term, &self.referrer]
            .iter()
            .all(|value| value.is_none())
    }

    pub fn new(utm: [Option<&str>; 5], referrer: Option<&str>) -> Self {
        let cut = |value: Option<&str>, max: usize| {
            value.map(clean_line).filter(|v| !v.is_empty()).map(|v| v.chars().take(max).collect::<String>())
        };
        let [source, medium, campaign, content, term] = utm.map(|v| cut(v, Self::UTM_MAX));
        Tracking {
            utm_source: source,
            utm_medium: medium,
            utm_campaign: campaign,
            utm_content: content,
            utm_term: term,
            referrer: cut(referrer, Self::REFERRER_MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::field::FieldError;
    use crate::domain::letter::Letter;
    use crate::domain::page::InfoFields;

    fn form() -> FormBlock {
        FormBlock {
            call_to_action: "Write".into(),
            targets: vec!["Government of Canada".into()],
            recipients: vec![],
            district_targets: false,
            delivery: Default::default(),
            verify_sender: false,
            letter: Some(Letter {
                subject: "Subject".into(),
                subject_editable: false,
                opening: "Dear Prime Minister,".into(),
                body: "Suggested".into(),
                body_editable: true,
                closing: String::new(),
                sign_off: "Sincerely,".into(),
            }),
            fields: InfoFields { postal_code: FieldRule::Required, ..InfoFields::default() },
            default_country: Some("CA".into()),
            consent: Some("Keep me informed".into()),
            submit_label: "Send".into(),
        }
    }

    fn submission() -> Submission {
        Submission {
            first_name: " Ana ".into(),
            last_name: "Silva".into(),
            email: "Ana@Example.org".into(),
            postal_code: "k1a0b1".into(),
            country: String::new(),
            subject: Some("Forged subject".into()),
            message: Some("My words".into()),
            consent: true,
            reviewed_targets: None,
        }
    }

    #[test]
    fn a_good_submission_becomes_a_signed_letter() {
        let action = ActionDraft::parse(&submission(), &form()).unwrap();
        assert_eq!(action.email.as_str(), "ana@example.org");
        assert_eq!(action.postal_code.unwrap().as_str(), "K1A 0B1");
        assert_eq!(action.country.unwrap().code(), "CA");
        assert_eq!(action.consent_text.as_deref(), Some("Keep me informed"));
        let letter = action.letter.unwrap();
        assert_eq!(letter.subject, "Subject");
        assert_eq!(letter.body, "Dear Prime Minister,\n\nMy words\n\nSincerely,\nAna Silva\nK1A 0B1");
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let bad = Submission {
            first_name: String::new(),
            email: "nope".into(),
            postal_code: "12345".into(),
            message: Some(" ".into()),
            ..submission()
        };
        let errors = ActionDraft::parse(&bad, &form()).unwrap_err();
        assert_eq!(errors.get(Field::FirstName), Some(&FieldError::Required));
        assert_eq!(errors.get(Field::Email), Some(&FieldError::InvalidEmail));
        assert_eq!(errors.get(Field::PostalCode), Some(&FieldError::InvalidPostalCode));
        assert_eq!(errors.get(Field::Message), Some(&FieldError::Required));
        assert_eq!(errors.get(Field::LastName), None);
    }

    #[test]
    fn hidden_fields_are_ignored_and_unticked_consent_is_kept_as_no() {
        let mut form = form();
        form.fields = InfoFields {
            first_name: FieldRule::Hidden,
            last_name: FieldRule::Hidden,
            postal_code: FieldRule::Hidden,
            country: FieldRule::Hidden,
        };
        let action =
            ActionDraft::parse(&Submission { first_name: "x".repeat(500), consent: false, ..submission() }, &form)
                .unwrap();
        assert_eq!(action.first_name, None);
        assert!(!action.consent);
        assert_eq!(action.consent_text.as_deref(), Some("Keep me informed"));
    }

    #[test]
    fn tracking_is_trimmed_and_cut_to_size() {
        let long = "x".repeat(300);
        let tracking = Tracking::new([Some(" mail "), Some(""), Some(&long), None, None], Some("https://example.org/"));
        assert_eq!(tracking.utm_source.as_deref(), Some("mail"));
        assert_eq!(tracking.utm_medium, None);
        assert_eq!(tracking.utm_campaign.map(|c| c.len()), Some(200));
        assert_eq!(tracking.referrer.as_deref(), Some("https://example.org/"));
    }
}
