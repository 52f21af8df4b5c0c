//! The action counter: real actions plus the organiser's offset, towards an optional goal.

use serde::Serialize;

use crate::domain::locale::Locale;

/// What a counter shows. `actions` are the stored, counted actions in the counter's scope;
/// `offset` is what the organiser adds (paper signatures, an earlier platform).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ActionCounter {
    pub actions: i64,
    pub offset: i64,
    pub goal: Option<i64>,
}

impl ActionCounter {
    /// The number shown to the public.
    pub fn count(&self) -> i64 {
        self.actions.saturating_add(self.offset)
    }

    /// How far the count is towards the goal, from 0 to 100.
    pub fn percent_of_goal(&self) -> Option<i64> {
        self.goal.filter(|goal| *goal > 0).map(|goal| (self.count().max(0).saturating_mul(100) / goal).min(100))
    }
}

/// Formats a whole number the way readers of `locale` write it: `12,345` or `12 345`
/// (with a narrow no-break space, so the number never wraps).
pub fn format_number(n: i64, locale: Locale) -> String {
    let separator = match locale {
        Locale::En => ",",
        Locale::Fr => "\u{202f}",
    };
    let digits = n.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push_str(separator);
        }
        grouped.push(digit);
    }
    if n < 0 { format!("-{grouped}") } else { grouped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_adds_the_offset_to_the_actions() {
        let counter = ActionCounter { actions: 15, offset: 785, goal: Some(1000) };
        assert_eq!(counter.count(), 800);
        assert_eq!(counter.percent_of_goal(), Some(80));
    }

    #[test]
    fn progress_stops_at_the_goal_and_needs_one() {
        assert_eq!(ActionCounter { actions: 5000, offset: 0, goal: Some(1000) }.percent_of_goal(), Some(100));
        assert_eq!(ActionCounter { actions: 5, offset: 0, goal: None }.percent_of_goal(), None);
    }

    #[test]
    fn numbers_are_grouped_per_locale() {
        assert_eq!(format_number(785, Locale::En), "785");
        assert_eq!(format_number(1234567, Locale::En), "1,234,567");
        assert_eq!(format_number(12345, Locale::Fr), "12\u{202f}345");
        assert_eq!(format_number(-1000, Locale::En), "-1,000");
    }
}
