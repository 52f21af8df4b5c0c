//! Merge fields: `{first_name}` and friends in organisers' templates, filled per message.

/// Replaces each `{name}` of `fields` in `template`; unknown fields are left as written,
/// so a typo shows in the message instead of vanishing.
pub fn merge(template: &str, fields: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}').map(|end| (&after[..end], end)) {
            Some((name, end)) if fields.iter().any(|(field, _)| *field == name) => {
                let value = fields.iter().find(|(field, _)| *field == name).map(|(_, v)| *v).unwrap_or_default();
                out.push_str(value);
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_fields_are_filled_and_unknown_ones_kept() {
        let fields = [("first_name", "Ana"), ("target_salutation", "Dear Minister")];
        assert_eq!(
            merge("{target_salutation},\n\nFrom {first_name} {unknown}", &fields),
            "Dear Minister,\n\nFrom Ana {unknown}"
        );
        assert_eq!(merge("no braces", &fields), "no braces");
        assert_eq!(merge("{first_name", &fields), "{first_name");
    }

    #[test]
    fn values_are_not_merged_again() {
        assert_eq!(merge("{first_name}", &[("first_name", "{first_name}")]), "{first_name}");
    }
}
