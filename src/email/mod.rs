//! Mail transports: a directory of `.eml` files (the default, so the demo works offline) or
//! SMTP (STARTTLS, TLS, or plain to a relay on the same machine), and building messages.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Config, MailTransport, SmtpSecurity};
use crate::db::outbox::OutgoingMail;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The message itself is wrong (an address that cannot be parsed): retrying won't help.
    #[error("the message cannot be sent as it is: {0}")]
    Permanent(String),
    /// The server refused or could not be reached: worth retrying later.
    #[error("sending failed: {0}")]
    Transient(String),
    #[error("the mail transport cannot be set up: {0}")]
    Setup(String),
}

#[derive(Clone)]
pub enum Mailer {
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Mailer {
    pub fn from_config(config: &Config) -> Result<Self, MailError> {
        let mail = &config.mail;
        match mail.transport {
            MailTransport::File => {
                let dir = config.outbox_dir();
                std::fs::create_dir_all(&dir).map_err(|e| MailError::Setup(format!("{}: {e}", dir.display())))?;
                Ok(Mailer::File(AsyncFileTransport::new(dir)))
            }
            MailTransport::Smtp => {
                let builder = match mail.smtp_security {
                    SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&mail.smtp_host)
                        .map_err(|e| MailError::Setup(e.to_string()))?,
                    SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&mail.smtp_host)
                        .map_err(|e| MailError::Setup(e.to_string()))?,
                    SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&mail.smtp_host),
                };
                let mut builder = builder.port(mail.smtp_port).timeout(Some(Duration::from_secs(30)));
                if let (Some(user), Some(password)) = (&mail.smtp_username, &mail.smtp_password) {
                    builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
                }
                Ok(Mailer::Smtp(builder.build()))
            }
        }
    }

    pub async fn send(&self, message: Message) -> Result<(), MailError> {
        match self {
            Mailer::File(transport) => {
                transport.send(message).await.map(|_| ()).map_err(|e| MailError::Transient(e.to_string()))
            }
            Mailer::Smtp(transport) => transport.send(message).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() { MailError::Permanent(e.to_string()) } else { MailError::Transient(e.to_string()) }
            }),
        }
    }
}

/// The organisation's sender details.
pub struct Sender<'a> {
    pub address: &'a str,
    pub name: &'a str,
}

fn mailbox(name: Option<&str>, address: &str) -> Result<Mailbox, MailError> {
    let address = address.parse().map_err(|e| MailError::Permanent(format!("{address:?}: {e}")))?;
    Ok(Mailbox::new(name.map(String::from), address))
}

/// The message for an outbox row. Always From the organisation's address (SPF, DKIM and
/// DMARC pass); the supporter, if any, in Reply-To. The Message-ID is derived from the
/// outbox id, so a receiver can recognise a message sent twice.
pub fn build_message(
    mail: &OutgoingMail,
    sender: &Sender<'_>,
    unsubscribe_url: Option<&str>,
) -> Result<Message, MailError> {
    let from_name = mail.from_name.as_deref().unwrap_or(sender.name);
    let domain = sender.address.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost");
    let mut builder = Message::builder()
        .from(mailbox(Some(from_name), sender.address)?)
        .to(mailbox(mail.to_name.as_deref(), &mail.to_address)?)
        .subject(mail.subject.clone())
        .message_id(Some(format!("<outbox-{}-{}@{domain}>", mail.id, mail.created_at.timestamp())))
        .date(mail.created_at.into())
        .header(ContentType::TEXT_PLAIN);
    if let Some(reply_to) = &mail.reply_to_address {
        builder = builder.reply_to(mailbox(mail.reply_to_name.as_deref(), reply_to)?);
    }
    let mut body = mail.body.clone();
    if let Some(url) = unsubscribe_url {
        body = body.replace(crate::services::compose::UNSUBSCRIBE_FIELD, url);
        builder = builder
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{url}>")))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    builder.body(body).map_err(|e| MailError::Permanent(e.to_string()))
}
