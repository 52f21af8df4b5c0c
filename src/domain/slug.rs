//! Slugs: the readable names of pages and campaigns in URLs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Lowercase ASCII letters, digits and single hyphens, 1 to 80 characters, starting and
/// ending with a letter or digit: safe in a URL path without escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "\"{0}\" is not a valid slug: use 1 to 80 lowercase letters, digits and single hyphens, like \"save-the-forest\""
)]
pub struct InvalidSlug(pub String);

impl Slug {
    pub const MAX_LEN: usize = 80;

    pub fn parse(input: &str) -> Result<Self, InvalidSlug> {
        let valid = !input.is_empty()
            && input.len() <= Self::MAX_LEN
            && input.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !input.starts_with('-')
            && !input.ends_with('-')
            && !input.contains("--");
        if valid { Ok(Self(input.to_string())) } else { Err(InvalidSlug(input.to_string())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Slug {
    type Error = InvalidSlug;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Slug> for String {
    fn from(slug: Slug) -> Self {
        slug.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_slugs_are_accepted() {
        assert_eq!(Slug::parse("dont-abandon-refugees").unwrap().as_str(), "dont-abandon-refugees");
        assert!(Slug::parse("c2").is_ok());
    }

    #[test]
    fn slugs_that_need_escaping_or_look_odd_are_refused() {
        for bad in ["", "Upper", "with space", "-lead", "trail-", "double--hyphen", "é", "a/b", &"a".repeat(81)] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }
}
