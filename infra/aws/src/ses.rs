//! The mailer on SES v2. E-mails are rendered in Rust (the domain's texts), so SES templates,
//! which moto does not support, are not needed: an e-mail without attachments goes as Simple
//! content (subject, text, optional HTML), one with attachments (the signed mandate PDF) as a
//! Raw MIME message built with mail-builder.

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::DisplayErrorContext;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, RawMessage};
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use tranche_domain::ports::{Email, MailError, Mailbox, Mailer};

/// [`Mailer`] on SES v2. The sender of every e-mail must be a verified identity of the account.
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    /// When set, the `From` of every e-mail (`TRANCHE_MAIL_FROM`): the verified identity.
    from: Option<String>,
}

impl SesMailer {
    pub fn new(client: Client, from: Option<String>) -> Self {
        Self { client, from }
    }

    fn sender<'a>(&'a self, email: &'a Email) -> &'a str {
        self.from.as_deref().unwrap_or(&email.from)
    }
}

/// `text` parsed ([`Mailbox::parse`]) as mail-builder's address.
fn mailbox(text: &str) -> Result<Address<'static>, MailError> {
    let Mailbox { name, address } = Mailbox::parse(text)?;
    Ok(Address::new_address(name, address))
}

fn content(text: &str) -> Result<Content, MailError> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(|e| MailError(format!("the e-mail could not be built: {e}")))
}

/// The whole message as MIME, for Raw content.
fn render_raw(email: &Email, from: &str) -> Result<Vec<u8>, MailError> {
    let recipients = email
        .to
        .iter()
        .map(|to| mailbox(to))
        .collect::<Result<Vec<_>, _>>()?;
    let mut message = MessageBuilder::new()
        .from(mailbox(from)?)
        .to(Address::new_list(recipients))
        .subject(email.subject.clone())
        .text_body(email.text_body.clone());
    if let Some(html) = &email.html_body {
        message = message.html_body(html.clone());
    }
    for attachment in &email.attachments {
        message = message.attachment(
            attachment.content_type.clone(),
            attachment.filename.clone(),
            attachment.bytes.clone(),
        );
    }
    message
        .write_to_vec()
        .map_err(|e| MailError(format!("the e-mail could not be rendered: {e}")))
}

#[async_trait]
impl Mailer for SesMailer {
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        email.checked_recipients()?;
        let from = self.sender(email);
        Mailbox::parse(from)?;

        let content = if email.attachments.is_empty() {
            let mut body = Body::builder().text(content(&email.text_body)?);
            if let Some(html) = &email.html_body {
                body = body.html(content(html)?);
            }
            EmailContent::builder()
                .simple(
                    Message::builder()
                        .subject(content(&email.subject)?)
                        .body(body.build())
                        .build(),
                )
                .build()
        } else {
            let raw = RawMessage::builder()
                .data(Blob::new(render_raw(email, from)?))
                .build()
                .map_err(|e| MailError(format!("the e-mail could not be built: {e}")))?;
            EmailContent::builder().raw(raw).build()
        };
        let sent = self
            .client
            .send_email()
            .from_email_address(from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(email.to.clone()))
                    .build(),
            )
            .content(content)
            .send()
            .await
            .map_err(|e| {
                MailError(format!(
                    "SES refused the e-mail: {}",
                    DisplayErrorContext(&e)
                ))
            })?;
        let message_id = sent.message_id.unwrap_or_default();
        tracing::info!(
            message_id = %message_id,
            attachments = email.attachments.len(),
            "e-mail sent through SES"
        );
        Ok(message_id)
    }
}

/// Verifies `address` as a sender identity (instant under moto; on AWS a mail goes to it).
/// For tests and first set-ups.
pub async fn provision_sender(client: &Client, address: &str) -> Result<(), MailError> {
    let address = mailbox(address)?.unwrap_address().email.to_string();
    match client
        .create_email_identity()
        .email_identity(address)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if format!("{}", DisplayErrorContext(&e)).contains("AlreadyExists") => Ok(()),
        Err(e) => Err(MailError(format!(
            "creating the sender identity: {}",
            DisplayErrorContext(&e)
        ))),
    }
}
