//! Targets and the district table, as organisers edit and import them.

use crate::db::targets::Target;
use crate::domain::email::EmailAddress;
use crate::domain::slug::Slug;

/// Field and problem, for each thing wrong with a target.
pub fn problems(target: &Target) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    if Slug::parse(&target.key).is_err() {
        problems.push(("key", "must be lower-case letters, digits and dashes, like prime-minister".into()));
    }
    if target.name.trim().is_empty() {
        problems.push(("name", "cannot be empty".into()));
    }
    if EmailAddress::parse(&target.email).is_err() {
        problems.push(("email", format!("{:?} is not an email address", target.email)));
    }
    if let Some(language) = target.language.as_deref().filter(|l| !l.is_empty()) {
        if crate::domain::locale::Locale::parse(language).is_none() {
            problems.push(("language", "must be en or fr".into()));
        }
    }
    for (field, value) in [
        ("name", Some(&target.name)),
        ("title", target.title.as_ref()),
        ("salutation", target.salutation.as_ref()),
        ("organisation", target.organisation.as_ref()),
        ("district", target.district.as_ref()),
        ("party", target.party.as_ref()),
    ] {
        if value.is_some_and(|v| v.chars().count() > 200) {
            problems.push((field, "must be 200 characters or fewer".into()));
        }
    }
    problems
}

/// Empty optional fields as absent, and text trimmed.
pub fn tidy(mut target: Target) -> Target {
    let tidy = |value: Option<String>| value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    target.key = target.key.trim().to_string();
    target.name = target.name.trim().to_string();
    target.email = target.email.trim().to_string();
    target.title = tidy(target.title);
    target.salutation = tidy(target.salutation);
    target.organisation = tidy(target.organisation);
    target.district = tidy(target.district);
    target.party = tidy(target.party);
    target.language = tidy(target.language);
    target
}

/// Reads the district table's CSV (columns `postal_code`, `district`): every row, or the
/// line numbers and problems of the bad ones.
pub fn read_districts(reader: impl std::io::Read) -> Result<Vec<(String, String)>, Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Row {
        postal_code: String,
        district: String,
    }
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (n, row) in csv::Reader::from_reader(reader).deserialize::<Row>().enumerate() {
        let line = n + 2;
        match row {
            Ok(row) => {
                let key = crate::db::districts::postal_key(&row.postal_code);
                if key.len() < 3 {
                    problems.push(format!("row {line}: postal_code {:?} needs at least 3 characters", row.postal_code));
                } else if row.district.trim().is_empty() {
                    problems.push(format!("row {line}: district is empty"));
                } else {
                    rows.push((key, row.district.trim().to_string()));
                }
            }
            Err(error) => problems.push(format!("row {line}: {error}")),
        }
    }
    if problems.is_empty() { Ok(rows) } else { Err(problems) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_district_table_is_read_with_prefixes_and_full_codes() {
        let csv = "postal_code,district\nK1A 0B1,Ottawa Centre\nk2p,Ottawa Centre\nM5V,Spadina\n";
        let rows = read_districts(csv.as_bytes()).unwrap();
        assert_eq!(rows[0], ("K1A0B1".into(), "Ottawa Centre".into()));
        assert_eq!(rows[1].0, "K2P");
        let bad = read_districts("postal_code,district\nK1,Ottawa\nK2P,\n".as_bytes()).unwrap_err();
        assert_eq!(bad.len(), 2);
        assert!(bad[0].starts_with("row 2"));
    }

    #[test]
    fn targets_need_a_key_a_name_and_an_address() {
        let target = Target {
            key: "Prime Minister".into(),
            name: " ".into(),
            title: None,
            salutation: None,
            email: "not-an-address".into(),
            organisation: None,
            district: None,
            party: None,
            language: Some("de".into()),
        };
        let fields: Vec<&str> = problems(&target).into_iter().map(|(field, _)| field).collect();
        assert_eq!(fields, ["key", "name", "email", "language"]);
    }
}
