//! Organiser-written rich text: Markdown rendered to HTML, then sanitised, so that a page's
//! text can never carry a script (scripts have their own, admin-only block).

use pulldown_cmark::{Options, Parser, html};

/// Renders Markdown to HTML that is safe to place in a page as it is.
pub fn render_markdown(markdown: &str) -> String {
    let options = Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES | Options::ENABLE_SMART_PUNCTUATION;
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options));
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer"))
        .url_schemes(["http", "https", "mailto", "tel"].into_iter().collect())
        .clean(&unsafe_html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_html() {
        let html = render_markdown("Read **this** and [that](https://example.org).");
        assert!(html.contains("<strong>this</strong>"));
        assert!(html.contains(r#"<a href="https://example.org" rel="noopener noreferrer">that</a>"#));
    }

    #[test]
    fn scripts_and_event_handlers_are_removed() {
        let html =
            render_markdown("<script>alert(1)</script><img src=x onerror=alert(2)>\n\n[click](javascript:alert(3))");
        assert!(html.contains("click"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("onerror"));
        assert!(!html.contains("javascript:"));
    }
}
