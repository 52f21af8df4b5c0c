//! Postal codes: normalised, and checked against the country's format where we know it.

use crate::domain::field::{Field, FieldError};

/// A postal code in its country's usual written form (`K1A 0B1` for Canada).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostalCode(String);

impl PostalCode {
    /// `country` is an ISO 3166-1 alpha-2 code; Canada and the United States are checked
    /// strictly, other countries loosely (letters, digits, spaces and hyphens).
    pub fn parse(input: &str, country: Option<&str>) -> Result<Self, FieldError> {
        let folded: String = input.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_uppercase();
        if folded.is_empty() {
            return Err(FieldError::Required);
        }
        let max = Field::PostalCode.max_len();
        if folded.chars().count() > max {
            return Err(FieldError::TooLong { max });
        }
        match country {
            Some("CA") => canadian(&folded),
            Some("US") => american(&folded),
            _ => {
                let plausible = folded.len() >= 2
                    && folded.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
                    && folded.chars().any(|c| c.is_ascii_alphanumeric());
                if plausible { Ok(Self(folded)) } else { Err(FieldError::InvalidPostalCode) }
            }
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `A1A 1A1`, where the letters D, F, I, O, Q and U never appear and W and Z never lead.
fn canadian(folded: &str) -> Result<PostalCode, FieldError> {
    let compact: Vec<char> = folded.chars().filter(|c| *c != ' ').collect();
    let letter = |c: char| c.is_ascii_uppercase() && !"DFIOQU".contains(c);
    let valid = compact.len() == 6
        && letter(compact[0])
        && !"WZ".contains(compact[0])
        && compact[1].is_ascii_digit()
        && letter(compact[2])
        && compact[3].is_ascii_digit()
        && letter(compact[4])
        && compact[5].is_ascii_digit();
    if !valid {
        return Err(FieldError::InvalidPostalCode);
    }
    let (area, local) = compact.split_at(3);
    Ok(PostalCode(format!("{} {}", area.iter().collect::<String>(), local.iter().collect::<String>())))
}

/// `12345` or `12345-6789`.
fn american(folded: &str) -> Result<PostalCode, FieldError> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let valid = match folded.split_once('-') {
        Some((zip, plus4)) => digits(zip, 5) && digits(plus4, 4),
        None => digits(folded, 5),
    };
    if valid { Ok(PostalCode(folded.to_string())) } else { Err(FieldError::InvalidPostalCode) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canadian_codes_take_their_written_form() {
        assert_eq!(PostalCode::parse(" k1a0b1 ", Some("CA")).unwrap().as_str(), "K1A 0B1");
        assert_eq!(PostalCode::parse("H2X  1Y4", Some("CA")).unwrap().as_str(), "H2X 1Y4");
    }

    #[test]
    fn impossible_canadian_codes_are_refused() {
        for bad in ["K1A0B", "D1A 0B1", "W1A 0B1", "K1A 0BB", "12345"] {
            assert_eq!(PostalCode::parse(bad, Some("CA")), Err(FieldError::InvalidPostalCode), "{bad}");
        }
    }

    #[test]
    fn american_and_other_codes() {
        assert!(PostalCode::parse("20500-0003", Some("US")).is_ok());
        assert_eq!(PostalCode::parse("2050", Some("US")), Err(FieldError::InvalidPostalCode));
        assert_eq!(PostalCode::parse("75007", Some("FR")).unwrap().as_str(), "75007");
        assert_eq!(PostalCode::parse("<b>", None), Err(FieldError::InvalidPostalCode));
        assert_eq!(PostalCode::parse("", None), Err(FieldError::Required));
    }
}
