//! The interface's own words (labels, errors, buttons) in each page language. Organisers'
//! words come from the page; these are the platform's.

use crate::domain::field::{Field, FieldError};
use crate::domain::locale::Locale;

/// Every string of the interface, for one language.
pub struct UiText {
    pub skip_to_content: &'static str,
    pub skip_to_form: &'static str,
    pub your_information: &'static str,
    pub optional: &'static str,
    pub addressed_to: &'static str,
    pub your_letter: &'static str,
    pub subject: &'static str,
    pub message: &'static str,
    pub message_hint: &'static str,
    pub locked_hint: &'static str,
    pub signature_hint: &'static str,
    pub country_choose: &'static str,
    pub error_summary_title: &'static str,
    pub error_prefix: &'static str,
    pub form_expired: &'static str,
    pub already_taken: &'static str,
    pub goal: &'static str,
    pub share_heading: &'static str,
    pub share_email: &'static str,
    pub share_facebook: &'static str,
    pub share_x: &'static str,
    pub share_whatsapp: &'static str,
    pub copy_link: &'static str,
    pub link_copied: &'static str,
    pub page_link: &'static str,
    pub thanks_heading: &'static str,
    pub back_to_page: &'static str,
    pub closed_heading: &'static str,
    pub honeypot_label: &'static str,
    pub pages_heading: &'static str,
    pub no_pages: &'static str,
    pub powered_by: &'static str,
    pub sending: &'static str,
    pub unsubscribe_heading: &'static str,
    pub unsubscribe_question: &'static str,
    pub unsubscribe_button: &'static str,
    pub unsubscribe_done: &'static str,
    pub review_targets: &'static str,
    pub your_representative: &'static str,
    pub find_representative: &'static str,
    pub confirm_heading: &'static str,
    pub confirm_question: &'static str,
    pub confirm_button: &'static str,
    pub confirm_expired: &'static str,
    pub confirm_invalid: &'static str,
    pub check_email_heading: &'static str,
    pub check_email_body: &'static str,
}

const EN: UiText = UiText {
    skip_to_content: "Skip to content",
    skip_to_form: "Take action",
    your_information: "Your information",
    optional: "(optional)",
    addressed_to: "To:",
    your_letter: "Your message",
    subject: "Subject",
    message: "Your message",
    message_hint: "Make it your own: a personal message carries more weight.",
    locked_hint: "This part of the message is set by the organisers.",
    signature_hint: "Your name and postal code are added as your signature.",
    country_choose: "Choose your country",
    error_summary_title: "There is a problem",
    error_prefix: "Error:",
    form_expired: "This form had expired, so nothing was sent. Please check your details and send it again.",
    already_taken: "You have already taken this action with this email address. Thank you! Each person is counted once.",
    goal: "Goal:",
    share_heading: "Share this action",
    share_email: "Email",
    share_facebook: "Facebook",
    share_x: "X",
    share_whatsapp: "WhatsApp",
    copy_link: "Copy link",
    link_copied: "Link copied",
    page_link: "Link to this page",
    thanks_heading: "Thank you!",
    back_to_page: "Back to the campaign",
    closed_heading: "This action is closed",
    honeypot_label: "Leave this field empty",
    pages_heading: "Take action",
    no_pages: "There are no public action pages yet.",
    powered_by: "Powered by Undersigned",
    sending: "Sending…",
    unsubscribe_heading: "Unsubscribe",
    unsubscribe_question: "Stop receiving our emails? Your action still counts.",
    unsubscribe_button: "Unsubscribe me",
    unsubscribe_done: "Done: you will not receive our emails any more. Your action still counts.",
    review_targets: "Your message will go to the people below. Check them, then send.",
    your_representative: "Your message goes to:",
    find_representative: "Enter your postal code to see who your message goes to.",
    confirm_heading: "Confirm your action",
    confirm_question: "Press the button to confirm that you want to take this action. Only then is it counted and your message sent.",
    confirm_button: "Confirm my action",
    confirm_expired: "This confirmation link has expired, so nothing was sent or counted. You can take the action again from the page.",
    confirm_invalid: "This confirmation link is not valid: it may have been used already, or replaced by a newer one. Check your latest email from us.",
    check_email_heading: "Check your email",
    check_email_body: "One last step: we have sent you an email with a link. Open it and press the button to confirm your action. Until then it is not counted and nothing is sent.",
};

const FR: UiText = UiText {
    skip_to_content: "Aller au contenu",
    skip_to_form: "Agir",
    your_information: "Vos coordonnées",
    optional: "(facultatif)",
    addressed_to: "Destinataire :",
    your_letter: "Votre message",
    subject: "Objet",
    message: "Votre message",
    message_hint: "Personnalisez-le : un message personnel a plus de poids.",
    locked_hint: "Cette partie du message est fixée par les organisateurs.",
    signature_hint: "Votre nom et votre code postal sont ajoutés comme signature.",
    country_choose: "Choisissez votre pays",
    error_summary_title: "Il y a un problème",
    error_prefix: "Erreur :",
    form_expired: "Ce formulaire avait expiré : rien n'a été envoyé. Veuillez vérifier vos informations et l'envoyer de nouveau.",
    already_taken: "Vous avez déjà participé à cette action avec cette adresse courriel. Merci! Chaque personne est comptée une seule fois.",
    goal: "Objectif :",
    share_heading: "Partagez cette action",
    share_email: "Courriel",
    share_facebook: "Facebook",
    share_x: "X",
    share_whatsapp: "WhatsApp",
    copy_link: "Copier le lien",
    link_copied: "Lien copié",
    page_link: "Lien vers cette page",
    thanks_heading: "Merci!",
    back_to_page: "Retour à la campagne",
    closed_heading: "Cette action est terminée",
    honeypot_label: "Laissez ce champ vide",
    pages_heading: "Agir",
    no_pages: "Il n'y a pas encore de page d'action publique.",
    powered_by: "Propulsé par Undersigned",
    sending: "Envoi…",
    unsubscribe_heading: "Désabonnement",
    unsubscribe_question: "Ne plus recevoir nos courriels? Votre action compte toujours.",
    unsubscribe_button: "Me désabonner",
    unsubscribe_done: "C'est fait : vous ne recevrez plus nos courriels. Votre action compte toujours.",
    review_targets: "Votre message sera envoyé aux personnes ci-dessous. Vérifiez, puis envoyez.",
    your_representative: "Votre message sera envoyé à :",
    find_representative: "Entrez votre code postal pour voir à qui votre message sera envoyé.",
    confirm_heading: "Confirmez votre action",
    confirm_question: "Appuyez sur le bouton pour confirmer que vous voulez agir. C'est seulement alors que votre action est comptée et votre message envoyé.",
    confirm_button: "Confirmer mon action",
    confirm_expired: "Ce lien de confirmation a expiré : rien n'a été envoyé ni compté. Vous pouvez agir de nouveau depuis la page.",
    confirm_invalid: "Ce lien de confirmation n'est pas valide : il a peut-être déjà servi, ou a été remplacé par un plus récent. Consultez notre dernier courriel.",
    check_email_heading: "Consultez vos courriels",
    check_email_body: "Une dernière étape : nous vous avons envoyé un courriel avec un lien. Ouvrez-le et appuyez sur le bouton pour confirmer votre action. D'ici là, elle n'est pas comptée et rien n'est envoyé.",
};

pub fn text(locale: Locale) -> &'static UiText {
    match locale {
        Locale::En => &EN,
        Locale::Fr => &FR,
    }
}

/// The label of a form field.
pub fn field_label(locale: Locale, field: Field) -> &'static str {
    match (locale, field) {
        (Locale::En, Field::FirstName) => "First name",
        (Locale::En, Field::LastName) => "Last name",
        (Locale::En, Field::Email) => "Email",
        (Locale::En, Field::PostalCode) => "Postal code",
        (Locale::En, Field::Country) => "Country",
        (Locale::En, Field::Subject) => "Subject",
        (Locale::En, Field::Message) => "Your message",
        (Locale::Fr, Field::FirstName) => "Prénom",
        (Locale::Fr, Field::LastName) => "Nom",
        (Locale::Fr, Field::Email) => "Courriel",
        (Locale::Fr, Field::PostalCode) => "Code postal",
        (Locale::Fr, Field::Country) => "Pays",
        (Locale::Fr, Field::Subject) => "Objet",
        (Locale::Fr, Field::Message) => "Votre message",
    }
}

/// What to tell a person when a field is empty but required.
fn required_message(locale: Locale, field: Field) -> &'static str {
    match (locale, field) {
        (Locale::En, Field::FirstName) => "Enter your first name",
        (Locale::En, Field::LastName) => "Enter your last name",
        (Locale::En, Field::Email) => "Enter your email address",
        (Locale::En, Field::PostalCode) => "Enter your postal code",
        (Locale::En, Field::Country) => "Choose your country",
        (Locale::En, Field::Subject) => "Enter a subject for your message",
        (Locale::En, Field::Message) => "Write your message",
        (Locale::Fr, Field::FirstName) => "Entrez votre prénom",
        (Locale::Fr, Field::LastName) => "Entrez votre nom",
        (Locale::Fr, Field::Email) => "Entrez votre adresse courriel",
        (Locale::Fr, Field::PostalCode) => "Entrez votre code postal",
        (Locale::Fr, Field::Country) => "Choisissez votre pays",
        (Locale::Fr, Field::Subject) => "Entrez un objet pour votre message",
        (Locale::Fr, Field::Message) => "Écrivez votre message",
    }
}

/// The specific message shown beside a field and in the error summary.
pub fn field_error(locale: Locale, field: Field, error: &FieldError, postal_example: &str) -> String {
    match (locale, error) {
        (_, FieldError::Required) => required_message(locale, field).to_string(),
        (Locale::En, FieldError::TooLong { max }) => {
            format!("{} must be {max} characters or fewer", field_label(locale, field))
        }
        (Locale::Fr, FieldError::TooLong { max }) => {
            format!("{} : {max} caractères au maximum", field_label(locale, field))
        }
        (Locale::En, FieldError::TooShort { min }) => {
            format!("{} must be at least {min} characters", field_label(locale, field))
        }
        (Locale::Fr, FieldError::TooShort { min }) => {
            format!("{} : {min} caractères au minimum", field_label(locale, field))
        }
        (Locale::En, FieldError::InvalidEmail) => {
            "Enter an email address in the right format, like name@example.org".into()
        }
        (Locale::Fr, FieldError::InvalidEmail) => {
            "Entrez une adresse courriel au bon format, comme nom@exemple.org".into()
        }
        (Locale::En, FieldError::InvalidPostalCode) => {
            format!("Enter a valid postal code, like {postal_example}")
        }
        (Locale::Fr, FieldError::InvalidPostalCode) => {
            format!("Entrez un code postal valide, comme {postal_example}")
        }
        (Locale::En, FieldError::UnknownDistrict) => {
            "We could not find the representative for this postal code. Check it, or try the postal code of your home address.".into()
        }
        (Locale::Fr, FieldError::UnknownDistrict) => {
            "Nous n'avons pas trouvé de représentant pour ce code postal. Vérifiez-le, ou essayez celui de votre domicile.".into()
        }
        (Locale::En, FieldError::AmbiguousDistrict) => {
            "This area has more than one representative: enter your full postal code so that we find yours.".into()
        }
        (Locale::Fr, FieldError::AmbiguousDistrict) => {
            "Ce secteur compte plus d'un représentant : entrez votre code postal complet pour que nous trouvions le vôtre.".into()
        }
        (Locale::En, FieldError::NoTargetInDistrict) => {
            "We know your district but have no contact for its representative yet, so the message cannot be sent. Please try again later.".into()
        }
        (Locale::Fr, FieldError::NoTargetInDistrict) => {
            "Nous connaissons votre circonscription mais pas encore les coordonnées de son représentant : le message ne peut pas être envoyé. Veuillez réessayer plus tard.".into()
        }
        (Locale::En, FieldError::UnknownCountry) => "Choose a country from the list".into(),
        (Locale::Fr, FieldError::UnknownCountry) => "Choisissez un pays dans la liste".into(),
    }
}

/// An example postal code for error messages, in the country's format.
pub fn postal_example(country: Option<&str>) -> &'static str {
    match country {
        Some("US") => "20500",
        Some("FR") => "75007",
        _ => "K1A 0B1",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field_and_the_limit_in_the_page_language() {
        assert_eq!(
            field_error(Locale::En, Field::FirstName, &FieldError::TooLong { max: 100 }, ""),
            "First name must be 100 characters or fewer"
        );
        assert_eq!(field_error(Locale::Fr, Field::Email, &FieldError::Required, ""), "Entrez votre adresse courriel");
        assert!(
            field_error(Locale::Fr, Field::PostalCode, &FieldError::InvalidPostalCode, "K1A 0B1").contains("K1A 0B1")
        );
    }
}
