//! The fields of the action form and what can be wrong with what a supporter typed.

use serde::{Deserialize, Serialize};

/// A field a supporter fills in. `name()` is the form field name of the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    FirstName,
    LastName,
    Email,
    PostalCode,
    Country,
    Subject,
    Message,
}

impl Field {
    /// The name of the field in the HTML form and in the POST body.
    pub fn name(self) -> &'static str {
        match self {
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Email => "email",
            Field::PostalCode => "postal_code",
            Field::Country => "country",
            Field::Subject => "subject",
            Field::Message => "message",
        }
    }

    /// The most characters a value of this field may have.
    pub fn max_len(self) -> usize {
        match self {
            Field::FirstName | Field::LastName => 100,
            Field::Email => 254,
            Field::PostalCode => 16,
            Field::Country => 2,
            Field::Subject => 200,
            Field::Message => 5000,
        }
    }
}

/// Whether a "your information" field is asked for on a page, and whether it must be filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldRule {
    Required,
    Optional,
    Hidden,
}

impl FieldRule {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldRule::Required => "required",
            FieldRule::Optional => "optional",
            FieldRule::Hidden => "hidden",
        }
    }

    pub fn parse(input: &str) -> Option<Self> {
        [FieldRule::Required, FieldRule::Optional, FieldRule::Hidden].into_iter().find(|r| r.as_str() == input)
    }

    pub fn is_shown(self) -> bool {
        self != FieldRule::Hidden
    }
}

/// What is wrong with one field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldError {
    Required,
    TooLong {
        max: usize,
    },
    TooShort {
        min: usize,
    },
    InvalidEmail,
    InvalidPostalCode,
    UnknownCountry,
    /// A valid postal code that the district table does not know.
    UnknownDistrict,
    /// A postal code prefix that spans several districts: the full code is needed.
    AmbiguousDistrict,
    /// The district is known but no target represents it yet.
    NoTargetInDistrict,
}

/// Every problem found in one submission, in the order the fields appear on the form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(Vec<(Field, FieldError)>);

impl FieldErrors {
    pub fn add(&mut self, field: Field, error: FieldError) {
        if self.get(field).is_none() {
            self.0.push((field, error));
            self.0.sort_by_key(|(field, _)| *field);
        }
    }

    pub fn get(&self, field: Field) -> Option<&FieldError> {
        self.0.iter().find(|(f, _)| *f == field).map(|(_, e)| e)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &(Field, FieldError)> {
        self.0.iter()
    }

    /// Records the error of a parse, if any, and passes the value on.
    pub fn check<T>(&mut self, field: Field, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.add(field, error);
                None
            }
        }
    }
}

/// Checks a cleaned value against a field's length limit and whether it is required;
/// an empty optional value becomes `None`.
pub(crate) fn bounded(field: Field, value: String, required: bool) -> Result<Option<String>, FieldError> {
    if value.is_empty() {
        return if required { Err(FieldError::Required) } else { Ok(None) };
    }
    if value.chars().count() > field.max_len() {
        return Err(FieldError::TooLong { max: field.max_len() });
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_form_order_and_the_first_error_per_field() {
        let mut errors = FieldErrors::default();
        errors.add(Field::Email, FieldError::InvalidEmail);
        errors.add(Field::FirstName, FieldError::Required);
        errors.add(Field::Email, FieldError::Required);
        let order: Vec<Field> = errors.iter().map(|(f, _)| *f).collect();
        assert_eq!(order, vec![Field::FirstName, Field::Email]);
        assert_eq!(errors.get(Field::Email), Some(&FieldError::InvalidEmail));
    }

    #[test]
    fn bounded_refuses_empty_required_and_overlong_values() {
        assert_eq!(bounded(Field::FirstName, String::new(), true), Err(FieldError::Required));
        assert_eq!(bounded(Field::FirstName, String::new(), false), Ok(None));
        assert_eq!(bounded(Field::FirstName, "a".repeat(101), false), Err(FieldError::TooLong { max: 100 }));
        assert_eq!(bounded(Field::FirstName, "é".repeat(100), true), Ok(Some("é".repeat(100))));
    }
}
