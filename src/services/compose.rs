//! Composing the emails an action sends: one letter per target, with the target's merge
//! fields, From the organisation with the supporter in Reply-To; and the thank-you email to
//! the supporter, in the page's language, with an unsubscribe link.

use crate::db::outbox::{MailKind, NewMail, WaitingLetter};
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
                for_digest: !page.form().is_none_or(|form| form.delivery.is_immediate()),
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
        for_digest: false,
    });
    mails
}

/// One email to a target carrying the letters written to them, each with its author.
pub fn digest_mail(site: &Site, page: &PageSpec, to_address: &str, letters: &[WaitingLetter]) -> NewMail {
    let count = letters.len().to_string();
    let (subject, intro, from) = match page.locale {
        Locale::En => (
            "{count} messages from the public: {page_title}",
            "{count} people wrote to you about \u{201c}{page_title}\u{201d}. Their messages follow, each with its author; reply to an author at the address given.",
            "From",
        ),
        Locale::Fr => (
            "{count} messages du public : {page_title}",
            "{count} personnes vous ont écrit au sujet de \u{ab} {page_title} \u{bb}. Leurs messages suivent, chacun avec son auteur; répondez à l'adresse indiquée.",
            "De",
        ),
    };
    let fields = [("count", count.as_str()), ("page_title", page.title.as_str())];
    let mut body = merge(intro, &fields);
    for letter in letters {
        let author = match (&letter.reply_to_name, &letter.reply_to_address) {
            (Some(name), Some(address)) => format!("{name} <{address}>"),
            (None, Some(address)) => address.clone(),
            (Some(name), None) => name.clone(),
            (None, None) => String::new(),
        };
        body.push_str(&format!(
            "\n\n\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\n{from}: {author}\n{}\n{}\n\n{}",
            letter.created_at.format("%Y-%m-%d %H:%M UTC"),
            letter.subject,
            letter.body.trim_end()
        ));
    }
    NewMail {
        kind: MailKind::Digest,
        to_address: to_address.to_string(),
        to_name: None,
        from_name: Some(site.from_name.clone()),
        reply_to_address: None,
        reply_to_name: None,
        subject: merge(subject, &fields),
        body,
        for_digest: false,
    }
}

fn confirm_text(locale: Locale) -> (&'static str, &'static str) {
    match locale {
        Locale::En => (
            "Please confirm your action: {page_title}",
            "Dear {first_name},\n\nYou asked to take action on \u{201c}{page_title}\u{201d}. To confirm that this was you, open this link and press the button on the page:\n\n{confirm_url}\n\nThe link works for {hours} hours. Until you confirm, your message is not sent and your action is not counted. If you did not ask for this, ignore this email: nothing will happen.",
        ),
        Locale::Fr => (
            "Veuillez confirmer votre action : {page_title}",
            "Bonjour {first_name},\n\nVous avez demandé à agir pour \u{ab} {page_title} \u{bb}. Pour confirmer qu'il s'agit bien de vous, ouvrez ce lien et appuyez sur le bouton de la page :\n\n{confirm_url}\n\nLe lien est valable {hours} heures. Tant que vous n'avez pas confirmé, votre message n'est pas envoyé et votre action n'est pas comptée. Si vous n'avez rien demandé, ignorez ce courriel : rien ne se passera.",
        ),
    }
}

/// The email asking the supporter to confirm their action by following `confirm_url`.
pub fn confirmation_mail(page: &PageSpec, draft: &ActionDraft, confirm_url: &str, valid_hours: u64) -> NewMail {
    let (subject, body) = confirm_text(page.locale);
    let hours = valid_hours.to_string();
    let fields = [
        ("first_name", draft.first_name.as_deref().unwrap_or_default()),
        ("page_title", page.title.as_str()),
        ("confirm_url", confirm_url),
        ("hours", hours.as_str()),
    ];
    let full_name =
        [draft.first_name.as_deref(), draft.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    NewMail {
        kind: MailKind::Confirm,
        to_address: draft.email.as_str().to_string(),
        to_name: (!full_name.is_empty()).then_some(full_name),
        from_name: None,
        reply_to_address: None,
        reply_to_name: None,
        subject: merge(subject, &fields),
        body: merge(body, &fields),
        for_digest: false,
    }
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
        let site = Site {
            public_url: "https://act.example.org".into(),
            from_name: "Amnesty".into(),
            signer: crate::signing::Signer::new(b"test key"),
            confirm_link_hours: 72,
        };
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
