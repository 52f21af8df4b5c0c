//! Composing the emails an action sends: one letter per target, with the target's merge
//! fields, From the organisation with the supporter in Reply-To; and the thank-you email to
//! the supporter, in the page's language, with an unsubscribe link.

use crate::db::outbox::{MailKind, NewMail};
use crate::db::targets::Target;
use crate::domain::action::ActionDraft;
use crate::domain::locale::Locale;
use crate::domain::merge::merge;
use crate::domain::page::PageSpec;
use crate::services::actions::Site;

/// Filled in when the message is sent, once the action has its id.
pub const UNSUBSCRIBE_FIELD: &str = "{unsubscribe_url}";

fn default_thanks(locale: Locale) -> (&'static str, &'static str) {
    match locale {
        Locale::En => (
            "Thank you for taking action: {page_title}",
            "Dear {first_name},\n\nThank you for taking action on \u{201c}{page_title}\u{201d}. Your voice counts.\n\nOne more thing makes a big difference: share the action with two friends.\n{page_url}",
        ),
        Locale::Fr => (
            "Merci d'avoir agi : {page_title}",
            "Bonjour {first_name},\n\nMerci d'avoir agi pour \u{ab} {page_title} \u{bb}. Votre voix compte.\n\nUne chose fait une grande différence : partagez l'action avec deux personnes de votre entourage.\n{page_url}",
        ),
    }
}

fn unsubscribe_footer(locale: Locale) -> &'static str {
    match locale {
        Locale::En => {
            "\n\n--\nYou receive this email because you took action at {page_url}\nTo stop receiving our emails: {unsubscribe_url}"
        }
        Locale::Fr => {
            "\n\n--\nVous recevez ce courriel parce que vous avez agi sur {page_url}\nPour ne plus recevoir nos courriels : {unsubscribe_url}"
        }
    }
}

pub fn mails_for(site: &Site, page: &PageSpec, draft: &ActionDraft, targets: &[Target]) -> Vec<NewMail> {
    let first_name = draft.first_name.clone().unwrap_or_default();
    let last_name = draft.last_name.clone().unwrap_or_default();
    let full_name = [first_name.as_str(), last_name.as_str()]
        .iter()
        .filter(|n| !n.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let postal_code = draft.postal_code.as_ref().map(|p| p.as_str().to_string()).unwrap_or_default();
    let page_url = format!("{}/page/{}", site.public_url, page.slug);
    let supporter = [
        ("first_name", first_name.as_str()),
        ("last_name", last_name.as_str()),
        ("postal_code", postal_code.as_str()),
        ("page_title", page.title.as_str()),
        ("page_url", page_url.as_str()),
    ];
    let mut mails = Vec::with_capacity(targets.len() + 1);
    if let Some(letter) = &draft.letter {
        for target in targets {
            let salutation = target.salutation.clone().unwrap_or_else(|| target.name.clone());
            let mut fields = supporter.to_vec();
            fields.extend([
                ("target_name", target.name.as_str()),
                ("target_title", target.title.as_deref().unwrap_or_default()),
                ("target_salutation", salutation.as_str()),
            ]);
            let sender = if full_name.is_empty() { draft.email.as_str().to_string() } else { full_name.clone() };
            mails.push(NewMail {
                kind: MailKind::Target,
                to_address: target.email.clone(),
                to_name: Some(target.name.clone()),
                from_name: Some(format!("{sender} via {}", site.from_name)),
                reply_to_address: Some(draft.email.as_str().to_string()),
                reply_to_name: (!full_name.is_empty()).then(|| full_name.clone()),
                subject: merge(&letter.subject, &fields),
                body: merge(&letter.body, &fields),
            });
        }
    }
    let thanks = page.thank_you();
    let (default_subject, default_body) = default_thanks(page.locale);
    let subject = thanks.and_then(|t| t.email_subject.clone()).unwrap_or_else(|| default_subject.to_string());
    let body = thanks.and_then(|t| t.email_body.clone()).unwrap_or_else(|| default_body.to_string());
    // The unsubscribe placeholder survives the merge, to be filled at sending time.
    let body = merge(&format!("{body}{}", unsubscribe_footer(page.locale)), &supporter);
    mails.push(NewMail {
        kind: MailKind::Thanks,
        to_address: draft.email.as_str().to_string(),
        to_name: (!full_name.is_empty()).then(|| full_name.clone()),
        from_name: None,
        reply_to_address: None,
        reply_to_name: None,
        subject: merge(&subject, &supporter),
        body,
    });
    mails
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::page::{PageFormat, PageSpec};

    #[test]
    fn each_target_gets_its_own_letter_from_the_organisation_and_the_supporter_a_thank_you() {
        let page = PageSpec::from_text(crate::services::demo::DEMO_PAGES[0].1, PageFormat::Toml).unwrap();
        let submission = crate::domain::action::Submission {
            first_name: "Ana".into(),
            last_name: "Silva".into(),
            email: "ana@example.org".into(),
            postal_code: "K1A0B1".into(),
            subject: Some("To {target_salutation}".into()),
            message: Some("Hello {target_name}".into()),
            ..Default::default()
        };
        let draft = ActionDraft::parse(&submission, page.form().unwrap()).unwrap();
        let target = |key: &str, name: &str| Target {
            key: key.into(),
            name: name.into(),
            title: None,
            salutation: Some(format!("Dear {name}")),
            email: format!("{key}@example.gc.ca"),
            organisation: None,
            district: None,
            party: None,
            language: None,
        };
        let site = Site { public_url: "https://act.example.org".into(), from_name: "Amnesty".into() };
        let mails = mails_for(&site, &page, &draft, &[target("pm", "Prime Minister"), target("imm", "Minister")]);
        assert_eq!(mails.len(), 3);
        assert_eq!(mails[0].subject, "To Dear Prime Minister");
        assert!(mails[1].body.contains("Hello Minister"));
        assert_eq!(mails[0].from_name.as_deref(), Some("Ana Silva via Amnesty"));
        assert_eq!(mails[0].reply_to_address.as_deref(), Some("ana@example.org"));
        let thanks = &mails[2];
        assert_eq!((thanks.kind, thanks.to_address.as_str()), (MailKind::Thanks, "ana@example.org"));
        assert!(
            thanks.body.contains("Dear Ana,")
                && thanks.body.contains("https://act.example.org/page/dont-abandon-refugees")
        );
        assert!(thanks.body.ends_with("To stop receiving our emails: {unsubscribe_url}"));
    }
}
