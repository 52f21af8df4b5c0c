//! A letter to a decision-maker: the parts a supporter may edit, the parts locked by the
//! organiser, and the signature. Locked parts always come from the page, never from a POST.

use serde::{Deserialize, Serialize};

use crate::domain::field::{Field, FieldErrors, bounded};
use crate::domain::text::{clean_line, clean_text};

fn yes() -> bool {
    true
}

/// The letter as the organiser wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Letter {
    /// The suggested subject line.
    pub subject: String,
    #[serde(default = "yes")]
    pub subject_editable: bool,
    /// Locked text before the supporter's part, typically the salutation.
    #[serde(default)]
    pub opening: String,
    /// The suggested message the supporter starts from.
    pub body: String,
    #[serde(default = "yes")]
    pub body_editable: bool,
    /// Locked text after the supporter's part, typically the core demand.
    #[serde(default)]
    pub closing: String,
    /// Locked words before the signature, such as "Sincerely,".
    #[serde(default)]
    pub sign_off: String,
}

/// The subject and body as the supporter left them, within what the page allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterEdits {
    pub subject: String,
    pub body: String,
}

/// The letter exactly as it will be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposedLetter {
    pub subject: String,
    pub body: String,
}

impl Letter {
    /// Takes the supporter's subject and body where the page lets them edit those, and the
    /// organiser's text where it does not; records what is wrong in `errors`.
    pub fn accept_edits(
        &self,
        subject: Option<&str>,
        body: Option<&str>,
        errors: &mut FieldErrors,
    ) -> Option<LetterEdits> {
        let subject = if self.subject_editable {
            errors
                .check(Field::Subject, bounded(Field::Subject, clean_line(subject.unwrap_or_default()), true))
                .flatten()
        } else {
            Some(self.subject.clone())
        };
        let body = if self.body_editable {
            errors.check(Field::Message, bounded(Field::Message, clean_text(body.unwrap_or_default()), true)).flatten()
        } else {
            Some(self.body.clone())
        };
        Some(LetterEdits { subject: subject?, body: body? })
    }

    /// Puts the locked parts around the supporter's text and signs it with `signature`
    /// (the supporter's name, then their postal code, each on a line).
    pub fn compose(&self, edits: &LetterEdits, signature: &[&str]) -> ComposedLetter {
        let signature: Vec<&str> = signature.iter().copied().filter(|line| !line.is_empty()).collect();
        let sign = [self.sign_off.trim(), &signature.join("\n")]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        let body = [self.opening.trim(), edits.body.trim(), self.closing.trim(), sign.as_str()]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("\n\n");
        ComposedLetter { subject: edits.subject.clone(), body }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::field::FieldError;

    fn letter(editable: bool) -> Letter {
        Letter {
            subject: "Protect people seeking safety".into(),
            subject_editable: editable,
            opening: "Dear Minister,".into(),
            body: "Please act now.".into(),
            body_editable: editable,
            closing: "Withdraw from the agreement.".into(),
            sign_off: "Sincerely,".into(),
        }
    }

    #[test]
    fn locked_parts_surround_the_supporters_words_and_the_signature_ends_it() {
        let mut errors = FieldErrors::default();
        let edits = letter(true).accept_edits(Some(" My subject "), Some("My own words.\r\n"), &mut errors).unwrap();
        let composed = letter(true).compose(&edits, &["Ana Silva", "K1A 0B1"]);
        assert_eq!(composed.subject, "My subject");
        assert_eq!(
            composed.body,
            "Dear Minister,\n\nMy own words.\n\nWithdraw from the agreement.\n\nSincerely,\nAna Silva\nK1A 0B1"
        );
    }

    #[test]
    fn a_locked_letter_ignores_what_the_post_says() {
        let mut errors = FieldErrors::default();
        let edits = letter(false).accept_edits(Some("Forged"), Some("Forged body"), &mut errors).unwrap();
        assert_eq!(
            edits,
            LetterEdits { subject: "Protect people seeking safety".into(), body: "Please act now.".into() }
        );
        assert!(errors.is_empty());
    }

    #[test]
    fn an_editable_letter_needs_a_subject_and_a_message_of_bounded_length() {
        let mut errors = FieldErrors::default();
        assert!(letter(true).accept_edits(Some(""), Some(&"x".repeat(5001)), &mut errors).is_none());
        assert_eq!(errors.get(Field::Subject), Some(&FieldError::Required));
        assert_eq!(errors.get(Field::Message), Some(&FieldError::TooLong { max: 5000 }));
    }
}
