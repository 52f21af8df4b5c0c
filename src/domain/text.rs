//! Normalisation of text typed by people, before it is checked or stored.

/// One line of text: trimmed, inner runs of white space folded to one space, control
/// characters removed.
pub(crate) fn clean_line(input: &str) -> String {
    input
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Several lines of text: line endings unified to `\n`, control characters other than
/// newline and tab removed, trailing white space of each line and of the whole trimmed.
pub(crate) fn clean_text(input: &str) -> String {
    let unified = input.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<String> = unified
        .split('\n')
        .map(|line| line.chars().filter(|c| !c.is_control() || *c == '\t').collect::<String>().trim_end().to_string())
        .collect();
    lines.join("\n").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_trimmed_and_folded() {
        assert_eq!(clean_line("  Ana \t  Maria\u{0}  "), "Ana Maria");
        assert_eq!(clean_line(" \n "), "");
    }

    #[test]
    fn text_keeps_paragraphs_but_loses_control_characters() {
        assert_eq!(clean_text("Dear MP,\r\n\r\nPlease act.\u{7}  \r\n"), "Dear MP,\n\nPlease act.");
    }
}
