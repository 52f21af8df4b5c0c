//! Countries, by ISO 3166-1 alpha-2 code, with their names in each interface language.

use crate::domain::country_table::COUNTRIES;
use crate::domain::field::FieldError;
use crate::domain::locale::Locale;

/// A country code known to ISO 3166-1, in upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Country(&'static str);

impl Country {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let code = input.trim().to_ascii_uppercase();
        if code.is_empty() {
            return Err(FieldError::Required);
        }
        COUNTRIES
            .binary_search_by(|(c, _, _)| (*c).cmp(code.as_str()))
            .map(|index| Country(COUNTRIES[index].0))
            .map_err(|_| FieldError::UnknownCountry)
    }

    pub fn code(self) -> &'static str {
        self.0
    }

    pub fn name(self, locale: Locale) -> &'static str {
        let index = COUNTRIES.binary_search_by(|(c, _, _)| (*c).cmp(self.0)).unwrap_or(0);
        let (_, en, fr) = COUNTRIES[index];
        match locale {
            Locale::En => en,
            Locale::Fr => fr,
        }
    }

    /// Every country, sorted by its name in `locale`, for a select list.
    pub fn all_by_name(locale: Locale) -> Vec<Country> {
        let mut all: Vec<Country> = COUNTRIES.iter().map(|(code, _, _)| Country(code)).collect();
        all.sort_by_cached_key(|country| sort_key(country.name(locale)));
        all
    }
}

/// Sorting key that puts "Égypte" with the E's rather than after "Zimbabwe".
fn sort_key(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'À' | 'Á' | 'Â' | 'Ä' | 'Å' | 'à' | 'á' | 'â' | 'ä' | 'å' => 'a',
            'Ç' | 'ç' => 'c',
            'É' | 'È' | 'Ê' | 'Ë' | 'é' | 'è' | 'ê' | 'ë' => 'e',
            'Î' | 'Ï' | 'î' | 'ï' | 'í' => 'i',
            'Ô' | 'Ö' | 'ô' | 'ö' | 'ó' => 'o',
            'Ü' | 'Û' | 'ü' | 'û' | 'ú' => 'u',
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_so_lookups_work() {
        assert!(COUNTRIES.windows(2).all(|pair| pair[0].0 < pair[1].0));
        assert!(COUNTRIES.len() > 240);
    }

    #[test]
    fn codes_are_case_insensitive_and_have_both_names() {
        let canada = Country::parse(" ca ").unwrap();
        assert_eq!(canada.code(), "CA");
        assert_eq!(Country::parse("DE").unwrap().name(Locale::Fr), "Allemagne");
        assert_eq!(Country::parse("XX"), Err(FieldError::UnknownCountry));
        assert_eq!(Country::parse(""), Err(FieldError::Required));
    }

    #[test]
    fn french_names_sort_with_their_accents_folded() {
        let names: Vec<&str> = Country::all_by_name(Locale::Fr).iter().map(|c| c.name(Locale::Fr)).collect();
        let egypt = names.iter().position(|n| *n == "Égypte").unwrap();
        let spain = names.iter().position(|n| *n == "Espagne").unwrap();
        assert!(egypt < spain);
    }
}
