//! The mailer as an outbox folder: every e-mail Tranche would send through SES is written as an
//! `.eml` file instead, which any mail client opens, so a local run shows exactly what the
//! debtor and the creditor would receive.
//!
//! The MIME is built with `mail-builder` (Stalwart Labs), a crate made for exactly this: RFC 2047
//! encoded words for non-ASCII subjects and display names, RFC 2231 file names, folded header
//! lines, and the body encoding (7bit, quoted-printable or base64) chosen per part. Each of those
//! is a small rule that is easy to get subtly wrong by hand, and a wrong one only shows in some
//! other mail client.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use tranche_domain::ports::{Clock, Email, MailError, Mailbox, Mailer};
use tranche_domain::secrets::random_id;

use crate::files::{
    FolderSyncs, on_blocking_pool, write_all_atomically, write_atomically_sharing_sync,
};

/// The right-hand side of every Message-ID. The outbox never hands a message to another
/// server, so the reserved `.invalid` domain says so rather than borrowing a real one.
const MESSAGE_ID_DOMAIN: &str = "outbox.tranche.invalid";

/// [`Mailer`] that writes each e-mail as an RFC 5322 file into a folder.
///
/// File names are `<UTC time>-<message id>.eml` (`20270301T081502.123456Z-msg_….eml`), so a
/// plain sort of the folder is the order the e-mails were sent in. The time, and the `Date`
/// header, come from the injected clock: under `tranche daily --today 2027-03-01` the outbox
/// shows the e-mails of that morning.
///
/// The message is `text/plain`, or `multipart/alternative` with an HTML body, wrapped in
/// `multipart/mixed` when it has attachments; binary attachments (a mandate PDF) are base64,
/// text ones take the lightest encoding that keeps them intact.
#[derive(Clone)]
pub struct OutboxMailer {
    folder: PathBuf,
    clock: Arc<dyn Clock>,
    /// E-mails written at the same time (the failure notices of a bank file) share the flushes
    /// of the folder that make their renames durable.
    syncs: Arc<FolderSyncs>,
}

impl std::fmt::Debug for OutboxMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxMailer")
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

impl OutboxMailer {
    /// Writes e-mails into `folder`, creating it when it does not exist.
    pub fn open(folder: &Path, clock: Arc<dyn Clock>) -> Result<Self, MailError> {
        std::fs::create_dir_all(folder).map_err(|e| {
            MailError(format!(
                "could not create the outbox folder {}: {e}",
                folder.display()
            ))
        })?;
        Ok(Self {
            folder: folder.to_owned(),
            clock,
            syncs: Arc::default(),
        })
    }

    /// The folder the `.eml` files are in.
    pub fn folder(&self) -> &Path {
        &self.folder
    }
}

/// Runs a write of `what` into the outbox on the blocking pool ([`on_blocking_pool`]).
async fn write_on_pool(
    what: &str,
    write: impl FnOnce() -> std::io::Result<()> + Send + 'static,
) -> Result<(), MailError> {
    match on_blocking_pool("outbox", write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(MailError(format!(
            "{what} could not be written to the outbox: {e}"
        ))),
        Err(cancelled) => Err(MailError(cancelled.to_string())),
    }
}

/// `text` parsed ([`Mailbox::parse`]) as mail-builder's address.
fn mailbox(text: &str) -> Result<Address<'static>, MailError> {
    let Mailbox { name, address } = Mailbox::parse(text)?;
    Ok(Address::new_address(name, address))
}

/// Renders the whole message, headers and body, as the bytes of an `.eml` file.
fn render(email: &Email, message_id: &str, date: DateTime<Utc>) -> Result<Vec<u8>, MailError> {
    let recipients = email
        .checked_recipients()?
        .into_iter()
        .map(|m| Address::new_address(m.name, m.address))
        .collect::<Vec<_>>();

    let mut message = MessageBuilder::new()
        .message_id(message_id.to_owned())
        .date(date.timestamp())
        .from(mailbox(&email.from)?)
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

/// The file name an e-mail is written under: sortable by time, then by message id.
fn file_name(sent_at: DateTime<Utc>, message_id: &str) -> String {
    let local_part = message_id.split('@').next().unwrap_or(message_id);
    format!("{}-{local_part}.eml", sent_at.format("%Y%m%dT%H%M%S%.6fZ"))
}

#[async_trait]
impl Mailer for OutboxMailer {
    /// Writes the e-mail atomically (a crash leaves no half message) and answers its Message-ID
    /// without the angle brackets.
    async fn send(&self, email: &Email) -> Result<String, MailError> {
        let sent_at = self.clock.now();
        let message_id = format!("{}@{MESSAGE_ID_DOMAIN}", random_id("msg"));
        let bytes = render(email, &message_id, sent_at)?;
        let path = self.folder.join(file_name(sent_at, &message_id));

        let syncs = Arc::clone(&self.syncs);
        write_on_pool("the e-mail", move || {
            write_atomically_sharing_sync(&path, &bytes, &syncs)
        })
        .await?;
        tracing::info!(
            message_id = %message_id,
            attachments = email.attachments.len(),
            "e-mail written to the outbox"
        );
        Ok(message_id)
    }

    /// Writes the e-mails as [`OutboxMailer::send`] writes one, with one flush of the disk for
    /// all of them ([`write_all_atomically`]): a bank file's hundred thousand failure notices
    /// cost their writes, not a hundred thousand flushes. An e-mail that cannot be rendered is
    /// refused alone; when the files cannot be written, every e-mail of the call is refused.
    async fn send_all(&self, emails: &[Email]) -> Vec<Result<String, MailError>> {
        let sent_at = self.clock.now();
        let mut outcomes: Vec<Result<String, MailError>> = Vec::with_capacity(emails.len());
        let mut files: Vec<(String, Vec<u8>)> = Vec::with_capacity(emails.len());
        for email in emails {
            let message_id = format!("{}@{MESSAGE_ID_DOMAIN}", random_id("msg"));
            match render(email, &message_id, sent_at) {
                Ok(bytes) => {
                    files.push((file_name(sent_at, &message_id), bytes));
                    outcomes.push(Ok(message_id));
                }
                Err(e) => outcomes.push(Err(e)),
            }
        }
        if files.is_empty() {
            return outcomes;
        }
        let folder = self.folder.clone();
        let syncs = Arc::clone(&self.syncs);
        let written = write_on_pool("the e-mails", move || {
            write_all_atomically(&folder, &files, &syncs)
        })
        .await;
        if let Err(failure) = written {
            return outcomes
                .into_iter()
                .map(|o| o.and(Err(MailError(failure.0.clone()))))
                .collect();
        }
        tracing::info!(
            emails = outcomes.iter().filter(|o| o.is_ok()).count(),
            "e-mails written to the outbox"
        );
        outcomes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use mail_parser::{MessageParser, MimeHeaders};
    use tranche_domain::ports::{Attachment, Clock};

    /// A clock stopped at one instant, so the file name and `Date` header are known.
    struct StoppedClock(DateTime<Utc>);

    impl Clock for StoppedClock {
        fn now(&self) -> DateTime<Utc> {
            self.0
        }

        fn today(&self) -> NaiveDate {
            self.0.date_naive()
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn mailer_at(instant: &str) -> (tempfile::TempDir, OutboxMailer) {
        let folder = tempfile::tempdir().unwrap();
        let clock = Arc::new(StoppedClock(at(instant)));
        let mailer = OutboxMailer::open(&folder.path().join("outbox"), clock).unwrap();
        (folder, mailer)
    }

    fn pdf_bytes() -> Vec<u8> {
        let mut bytes = b"%PDF-1.7\n".to_vec();
        bytes.extend((0..=255u8).cycle().take(3000));
        bytes
    }

    fn full_email() -> Email {
        Email {
            from: "Müller & Söhne GmbH <billing@mueller.example>".to_owned(),
            to: vec![
                "Zoë Débiteur <zoe@debtor.example>".to_owned(),
                "accounts@debtor.example".to_owned(),
            ],
            subject: "Ihr Ratenplan über 1.000,00 € – Lastschriftmandat".to_owned(),
            text_body: "Guten Tag,\n\nIhre erste Rate wird am 01.03.2027 eingezogen.\n".to_owned(),
            html_body: Some(
                "<p>Guten Tag,</p><p>Ihre erste Rate: <b>01.03.2027</b></p>".to_owned(),
            ),
            attachments: vec![Attachment {
                filename: "Mandat-Müller.pdf".to_owned(),
                content_type: "application/pdf".to_owned(),
                bytes: pdf_bytes(),
            }],
        }
    }

    fn read_only_file(mailer: &OutboxMailer) -> (String, Vec<u8>) {
        let mut entries: Vec<_> = std::fs::read_dir(mailer.folder())
            .unwrap()
            .map(|entry| entry.unwrap())
            .collect();
        assert_eq!(entries.len(), 1, "exactly one file in the outbox");
        let entry = entries.remove(0);
        let name = entry.file_name().into_string().unwrap();
        (name, std::fs::read(entry.path()).unwrap())
    }

    #[tokio::test]
    async fn an_email_with_html_and_an_attachment_parses_back_to_what_was_sent() {
        let (_folder, mailer) = mailer_at("2027-03-01T08:15:02.123456Z");
        let email = full_email();

        let message_id = mailer.send(&email).await.unwrap();

        let (_, raw) = read_only_file(&mailer);
        let parsed = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.message_id(), Some(message_id.as_str()));
        assert_eq!(parsed.subject(), Some(email.subject.as_str()));
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some("Müller & Söhne GmbH"));
        assert_eq!(from.address(), Some("billing@mueller.example"));
        let to: Vec<_> = parsed
            .to()
            .unwrap()
            .iter()
            .map(|a| a.address().unwrap())
            .collect();
        assert_eq!(to, ["zoe@debtor.example", "accounts@debtor.example"]);
        assert_eq!(
            parsed.date().unwrap().to_timestamp(),
            at("2027-03-01T08:15:02Z").timestamp()
        );
        assert_eq!(
            parsed.body_text(0).unwrap().replace("\r\n", "\n"),
            email.text_body
        );
        assert_eq!(parsed.body_html(0).as_deref(), email.html_body.as_deref());
        let attachment = parsed.attachment(0).unwrap();
        assert_eq!(attachment.attachment_name(), Some("Mandat-Müller.pdf"));
        assert_eq!(attachment.content_type().unwrap().ctype(), "application");
        assert_eq!(attachment.content_type().unwrap().subtype(), Some("pdf"));
        assert_eq!(attachment.contents(), pdf_bytes().as_slice());
    }

    #[tokio::test]
    async fn the_raw_message_is_mime_with_encoded_words_and_a_base64_attachment() {
        let (_folder, mailer) = mailer_at("2027-03-01T08:15:02Z");

        mailer.send(&full_email()).await.unwrap();

        let (_, raw) = read_only_file(&mailer);
        let text = String::from_utf8(raw).expect("an .eml file is ASCII");
        assert!(text.is_ascii());
        assert!(text.contains("MIME-Version: 1.0\r\n"));
        assert!(text.contains("Date: Mon, 1 Mar 2027 08:15:02 +0000\r\n"));
        assert!(text.contains("Message-ID: <msg_"));
        assert!(text.contains("Subject: =?utf-8?"));
        assert!(text.contains("Content-Type: multipart/mixed"));
        assert!(text.contains("Content-Type: multipart/alternative"));
        assert!(text.contains("Content-Type: application/pdf"));
        assert!(text.contains("Content-Transfer-Encoding: base64"));
        assert!(
            text.lines().all(|line| line.len() <= 998),
            "no line longer than RFC 5322 allows"
        );
    }

    #[tokio::test]
    async fn a_text_only_email_is_a_single_text_part() {
        let (_folder, mailer) = mailer_at("2027-03-01T08:15:02Z");
        let email = Email {
            from: "billing@acme.example".to_owned(),
            to: vec!["debtor@example.org".to_owned()],
            subject: "Plain subject".to_owned(),
            text_body: "Hello.\n".to_owned(),
            html_body: None,
            attachments: vec![],
        };

        mailer.send(&email).await.unwrap();

        let (_, raw) = read_only_file(&mailer);
        let parsed = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.subject(), Some("Plain subject"));
        assert_eq!(parsed.content_type().unwrap().ctype(), "text");
        assert_eq!(parsed.content_type().unwrap().subtype(), Some("plain"));
        assert_eq!(parsed.attachment_count(), 0);
    }

    #[tokio::test]
    async fn file_names_sort_by_the_clock_time_and_carry_the_message_id() {
        let (_folder, mailer) = mailer_at("2027-03-01T08:15:02.5Z");

        let message_id = mailer.send(&full_email()).await.unwrap();

        let (name, _) = read_only_file(&mailer);
        let local_part = message_id.split('@').next().unwrap();
        assert_eq!(name, format!("20270301T081502.500000Z-{local_part}.eml"));
        assert!(
            file_name(at("2027-03-01T08:15:02.5Z"), "msg_z@x")
                < file_name(at("2027-03-01T10:00:00Z"), "msg_a@x")
        );
        assert!(
            file_name(at("2027-03-01T10:00:00Z"), "msg_a@x")
                < file_name(at("2027-03-01T10:00:00Z"), "msg_b@x")
        );
    }

    #[tokio::test]
    async fn every_message_gets_its_own_id_and_file() {
        let (_folder, mailer) = mailer_at("2027-03-01T08:15:02Z");

        let first = mailer.send(&full_email()).await.unwrap();
        let second = mailer.send(&full_email()).await.unwrap();

        assert_ne!(first, second);
        assert_eq!(std::fs::read_dir(mailer.folder()).unwrap().count(), 2);
    }

    #[tokio::test]
    async fn header_injection_and_missing_recipients_are_refused_without_a_file() {
        let (_folder, mailer) = mailer_at("2027-03-01T08:15:02Z");
        let mut injected_subject = full_email();
        injected_subject.subject = "Hello\r\nBcc: victim@example.org".to_owned();
        let mut injected_address = full_email();
        injected_address.to = vec!["a@example.org\r\nBcc: victim@example.org".to_owned()];
        let mut not_an_address = full_email();
        not_an_address.to = vec!["Just A Name".to_owned()];
        let mut no_recipient = full_email();
        no_recipient.to.clear();

        for email in [
            injected_subject,
            injected_address,
            not_an_address,
            no_recipient,
        ] {
            assert!(mailer.send(&email).await.is_err());
        }
        assert_eq!(std::fs::read_dir(mailer.folder()).unwrap().count(), 0);
    }

    #[test]
    fn mailboxes_split_into_display_name_and_address() {
        let named = mailbox("\"Acme GmbH\" <billing@acme.example>").unwrap();
        let bare = mailbox(" billing@acme.example ").unwrap();

        assert_eq!(named.unwrap_address().name.as_deref(), Some("Acme GmbH"));
        assert_eq!(named.unwrap_address().email, "billing@acme.example");
        assert_eq!(bare.unwrap_address().name, None);
        assert_eq!(bare.unwrap_address().email, "billing@acme.example");
    }

    fn numbered_email(index: usize) -> Email {
        Email {
            subject: format!("Notice {index}"),
            text_body: format!("Body {index}\n"),
            html_body: None,
            attachments: Vec::new(),
            ..full_email()
        }
    }

    #[tokio::test]
    async fn send_all_writes_every_email_and_answers_their_ids_in_order() {
        let (_folder, mailer) = mailer_at("2027-03-01T08:15:02Z");
        let emails: Vec<Email> = (0..50).map(numbered_email).collect();

        let outcomes = mailer.send_all(&emails).await;

        let ids: Vec<String> = outcomes.into_iter().map(Result::unwrap).collect();
        let mut files = 0;
        for entry in std::fs::read_dir(mailer.folder()).unwrap() {
            let raw = std::fs::read(entry.unwrap().path()).unwrap();
            let parsed = MessageParser::default().parse(&raw).unwrap();
            let index: usize = parsed
                .subject()
                .unwrap()
                .trim_start_matches("Notice ")
                .parse()
                .unwrap();
            assert_eq!(parsed.message_id(), Some(ids[index].as_str()));
            assert_eq!(
                parsed.body_text(0).unwrap().replace("\r\n", "\n"),
                format!("Body {index}\n")
            );
            files += 1;
        }
        assert_eq!(
            files,
            emails.len(),
            "one file per e-mail, no temporary left"
        );
    }

    #[tokio::test]
    async fn send_all_refuses_every_email_when_the_outbox_cannot_be_written() {
        let (_folder, mailer) = mailer_at("2027-03-01T08:15:02Z");
        std::fs::remove_dir(mailer.folder()).unwrap();
        std::fs::write(mailer.folder(), b"not a folder").unwrap();
        let emails: Vec<Email> = (0..3).map(numbered_email).collect();

        let outcomes = mailer.send_all(&emails).await;

        assert_eq!(outcomes.len(), 3);
        for outcome in outcomes {
            let reason = outcome.unwrap_err().0;
            assert!(
                reason.contains("could not be written to the outbox"),
                "{reason}"
            );
        }
        assert_eq!(std::fs::read(mailer.folder()).unwrap(), b"not a folder");
    }
}
