//! A supporter's email address: checked, and normalised so that one person is one address.

use crate::domain::field::{Field, FieldError};

/// A syntactically valid email address with a domain that can receive mail, lowercased so
/// that `Ana@Example.org` and `ana@example.org` are the same supporter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(FieldError::Required);
        }
        let max = Field::Email.max_len();
        if trimmed.chars().count() > max {
            return Err(FieldError::TooLong { max });
        }
        let address = trimmed.to_lowercase();
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Err(FieldError::InvalidEmail);
        };
        let plain = !address.chars().any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\"\\".contains(c));
        let routable = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain.split('.').all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
        if !plain || local.is_empty() || !routable || !email_address::EmailAddress::is_valid(&address) {
            return Err(FieldError::InvalidEmail);
        }
        Ok(Self(address))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lowercased() {
        let email = EmailAddress::parse("  Ana.Silva+Refugees@Example.ORG ").unwrap();
        assert_eq!(email.as_str(), "ana.silva+refugees@example.org");
    }

    #[test]
    fn addresses_that_cannot_receive_mail_are_refused() {
        for bad in [
            "ana",
            "ana@",
            "@example.org",
            "ana@localhost",
            "ana@example.",
            "ana@@example.org",
            "Ana <ana@example.org>",
            "ana @example.org",
            "ana@[127.0.0.1]",
            "ana@exa..mple.org",
            "ana@-x.org",
        ] {
            assert_eq!(EmailAddress::parse(bad), Err(FieldError::InvalidEmail), "{bad}");
        }
    }

    #[test]
    fn empty_and_overlong_addresses_get_their_own_errors() {
        assert_eq!(EmailAddress::parse("   "), Err(FieldError::Required));
        let long = format!("{}@example.org", "a".repeat(250));
        assert_eq!(EmailAddress::parse(&long), Err(FieldError::TooLong { max: 254 }));
    }
}
