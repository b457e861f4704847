//! The S3 file store, the SQS batch queue and the SES mailer against the moto server that
//! `scripts/test.sh` starts on loopback, each test on its own bucket, queue and tables.

use std::io::Write as _;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::Value;
use tokio::io::AsyncReadExt;
use tranche_aws::dynamodb::{KEPT_AFTER_EXPIRY_DAYS, TTL_ATTRIBUTE};
use tranche_domain::collection::BatchRequest;
use tranche_domain::creditor::CreditorId;
use tranche_domain::group_commit::{Unit, commit_in_groups};
use tranche_domain::plan::{PlanId, Scheme, SelfServiceToken, SigningToken};
use tranche_domain::ports::{
    Attachment, Email, FileStore, IdempotencyRecord, IdempotencyStore, Mailer, PlanStore,
    TransactionalStore, Write,
};
use tranche_domain::secrets::random_reference;
use tranche_tests::moto::{MotoAccount, SENDER};

/// Bytes that differ from part to part, so a part written twice or out of order shows.
fn patterned(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u64).wrapping_mul(2_654_435_761).to_le_bytes()[1])
        .collect()
}

#[tokio::test]
async fn a_file_larger_than_a_part_is_uploaded_in_parts_and_reads_back_whole() {
    let Some(account) = MotoAccount::new("a_file_larger_than_a_part").await else {
        return;
    };
    let files = account.ports.files.clone().with_part_size(5 * 1024 * 1024);
    let content = patterned(12 * 1024 * 1024 + 123);
    let mut source = tempfile::NamedTempFile::new().unwrap();
    source.write_all(&content).unwrap();
    source.flush().unwrap();

    files
        .put_file_from_path(
            "batches/2027-03-01/acme-1.xml",
            "application/xml",
            source.path(),
        )
        .await
        .unwrap();

    let head = files
        .client()
        .head_object()
        .bucket(files.bucket())
        .key("batches/2027-03-01/acme-1.xml")
        .send()
        .await
        .unwrap();
    let etag = head
        .e_tag()
        .unwrap_or_default()
        .trim_matches('"')
        .to_owned();
    assert!(
        etag.ends_with("-3"),
        "three parts of at most 5 MiB make the object, so its ETag ends in -3: {etag}"
    );
    assert_eq!(head.content_type(), Some("application/xml"));
    let read = files
        .get_file("batches/2027-03-01/acme-1.xml")
        .await
        .unwrap()
        .expect("the file exists");
    assert!(read == content, "the file reads back byte for byte");
}

#[tokio::test]
async fn a_file_is_read_as_a_stream_in_small_pieces() {
    let Some(account) = MotoAccount::new("a_file_is_read_as_a_stream").await else {
        return;
    };
    let files = &account.ports.files;
    let content = patterned(3 * 1024 * 1024 + 7);
    files
        .put_file("inbound/camt054.xml", "application/xml", &content)
        .await
        .unwrap();

    let mut stream = files
        .open_stream("inbound/camt054.xml")
        .await
        .unwrap()
        .expect("the file exists");
    let mut read = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut largest_piece = 0;
    loop {
        let n = stream.read(&mut buffer).await.unwrap();
        if n == 0 {
            break;
        }
        largest_piece = largest_piece.max(n);
        read.extend_from_slice(&buffer[..n]);
    }

    assert!(read == content, "the stream yields the whole file");
    assert!(largest_piece <= 64 * 1024);
    assert!(
        files
            .open_stream("inbound/missing.xml")
            .await
            .unwrap()
            .is_none(),
        "a missing file has no stream"
    );
}

#[tokio::test]
async fn small_files_round_trip_list_by_prefix_in_order_and_a_missing_one_is_none() {
    let Some(account) = MotoAccount::new("small_files_round_trip").await else {
        return;
    };
    let files = &account.ports.files;
    for key in ["mandates/mnd_b.pdf", "mandates/mnd_a.pdf", "batches/x.xml"] {
        files
            .put_file(key, "application/pdf", key.as_bytes())
            .await
            .unwrap();
    }
    let small = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(small.path(), b"<Document/>").unwrap();
    files
        .put_file_from_path("batches/y.xml", "application/xml", small.path())
        .await
        .unwrap();

    assert_eq!(
        files.list_files("mandates/").await.unwrap(),
        vec!["mandates/mnd_a.pdf", "mandates/mnd_b.pdf"]
    );
    assert_eq!(
        files.get_file("batches/y.xml").await.unwrap().as_deref(),
        Some(&b"<Document/>"[..])
    );
    assert_eq!(files.get_file("mandates/none.pdf").await.unwrap(), None);
}

#[tokio::test]
async fn a_bank_file_key_from_an_s3_notification_decodes_to_the_stored_key() {
    let Some(account) = MotoAccount::new("a_bank_file_key_from_an_s3_notification").await else {
        return;
    };
    let files = &account.ports.files;
    let sqs = aws_sdk_sqs::Client::new(&account.config);
    account.announce_inbound_files(&account.queue_url).await;
    let key = "inbound/2027-03-01/pain.002 Bank+Antwort ä.xml";

    files
        .put_file(key, "application/xml", b"<Document/>")
        .await
        .unwrap();

    let mut keys = Vec::new();
    for _ in 0..5 {
        let messages = sqs
            .receive_message()
            .queue_url(&account.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        for message in messages {
            let body: Value = serde_json::from_str(message.body().unwrap()).unwrap();
            for record in body["Records"].as_array().into_iter().flatten() {
                keys.push(record["s3"]["object"]["key"].as_str().unwrap().to_owned());
            }
        }
        if !keys.is_empty() {
            break;
        }
    }
    assert_eq!(keys.len(), 1, "one notification for one object: {keys:?}");
    assert_ne!(keys[0], key, "the notification carries the key encoded");
    let decoded = tranche_return_processor::decode_object_key(&keys[0]).unwrap();
    assert_eq!(decoded, key);
    assert_eq!(
        files.get_file(&decoded).await.unwrap().as_deref(),
        Some(&b"<Document/>"[..])
    );
}

#[tokio::test]
async fn a_batch_request_sent_to_the_queue_is_received_as_sent_and_deleted_once_handled() {
    let Some(account) = MotoAccount::new("a_batch_request_sent_to_the_queue").await else {
        return;
    };
    let queue = account.ports.batch_queue.clone().expect("a queue");
    let request = BatchRequest {
        creditor_id: CreditorId::parse("acme").unwrap(),
        scheme: Scheme::B2b,
        collection_date: "2027-03-01".parse().unwrap(),
    };

    queue.send(&request).await.unwrap();
    let received = queue.receive(10, 1).await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].request, request);
    queue.delete(&received[0].receipt_handle).await.unwrap();

    assert!(
        queue.receive(10, 0).await.unwrap().is_empty(),
        "a deleted message does not come back"
    );
}

fn email(attachments: Vec<Attachment>) -> Email {
    Email {
        from: "someone-else@tranche.example".to_owned(),
        to: vec!["Jana Novak <jana.novak@example.org>".to_owned()],
        subject: "Ihr Ratenplan: Lastschrift am 01.03.2027 über 166,67 €".to_owned(),
        text_body: "Guten Tag Frau Novák,\nam 01.03.2027 buchen wir 166,67 € ab.".to_owned(),
        html_body: Some("<p>Guten Tag Frau Novák</p>".to_owned()),
        attachments,
    }
}

/// moto's record of the e-mails SES sent: `(simple, raw)`.
async fn sent_mail(account: &MotoAccount) -> (Vec<Value>, Vec<Value>) {
    let data = account.data().await;
    let list = |kind: &str| -> Vec<Value> {
        match &data["ses"][kind] {
            Value::Object(by_id) => by_id.values().cloned().collect(),
            Value::Array(items) => items.clone(),
            _ => Vec::new(),
        }
    };
    (list("Message"), list("RawMessage"))
}

#[tokio::test]
async fn an_email_without_attachments_goes_as_simple_content_from_the_sender_identity() {
    let Some(account) = MotoAccount::new("an_email_without_attachments").await else {
        return;
    };
    let mut text_only = email(Vec::new());
    text_only.html_body = None;
    let message_id = account.ports.mailer.send(&text_only).await.unwrap();
    let with_html = account.ports.mailer.send(&email(Vec::new())).await.unwrap();

    let (simple, _) = sent_mail(&account).await;
    let find = |id: &str| {
        simple
            .iter()
            .find(|m| m["id"].as_str() == Some(id))
            .unwrap_or_else(|| panic!("moto recorded message {id}: {simple:?}"))
            .clone()
    };
    let sent = find(&message_id);
    // moto keeps one body per message, the HTML one when there is one.
    assert_eq!(
        find(&with_html)["body"].as_str(),
        Some("<p>Guten Tag Frau Novák</p>")
    );
    assert_eq!(sent["source"].as_str(), Some(SENDER));
    assert_eq!(
        sent["subject"].as_str(),
        Some("Ihr Ratenplan: Lastschrift am 01.03.2027 über 166,67 €")
    );
    assert!(
        sent["body"].to_string().contains("buchen wir 166,67"),
        "{sent}"
    );
    assert!(
        sent["destinations"]
            .to_string()
            .contains("jana.novak@example.org"),
        "{sent}"
    );
}

#[tokio::test]
async fn an_email_with_a_pdf_goes_as_raw_mime_carrying_the_attachment_byte_for_byte() {
    let Some(account) = MotoAccount::new("an_email_with_a_pdf").await else {
        return;
    };
    let pdf = patterned(20_000);
    let attachment = Attachment {
        filename: "mandate-TR-ABC123.pdf".to_owned(),
        content_type: "application/pdf".to_owned(),
        bytes: pdf.clone(),
    };
    let message_id = account
        .ports
        .mailer
        .send(&email(vec![attachment]))
        .await
        .unwrap();

    let (_, raw) = sent_mail(&account).await;
    let sent = raw
        .iter()
        .find(|m| m["id"].as_str() == Some(message_id.as_str()))
        .unwrap_or_else(|| panic!("moto recorded raw message {message_id}: {raw:?}"));
    let data = sent["raw_data"].as_str().expect("the raw MIME text");
    let message = MessageParser::default()
        .parse(data.as_bytes())
        .expect("the raw message is MIME");
    assert_eq!(
        message.subject(),
        Some("Ihr Ratenplan: Lastschrift am 01.03.2027 über 166,67 €")
    );
    assert_eq!(
        message
            .from()
            .and_then(|f| f.first())
            .and_then(|a| a.address()),
        Some("noreply@tranche.example")
    );
    let attached = message.attachments().next().expect("one attachment");
    assert_eq!(attached.attachment_name(), Some("mandate-TR-ABC123.pdf"));
    assert!(
        attached.contents() == pdf.as_slice(),
        "the PDF arrives intact"
    );
}

#[tokio::test]
async fn an_email_with_a_header_injection_in_an_address_is_refused_before_sending() {
    let Some(account) = MotoAccount::new("an_email_with_a_header_injection").await else {
        return;
    };
    let mut bad = email(Vec::new());
    bad.to = vec!["jana@example.org\r\nBcc: all@example.org".to_owned()];

    assert!(account.ports.mailer.send(&bad).await.is_err());
    let (simple, raw) = sent_mail(&account).await;
    assert!(
        !simple
            .iter()
            .chain(&raw)
            .any(|m| m.to_string().contains("all@example.org")),
        "nothing reached SES"
    );
}

/// One unit of a group commit: the signing tokens of one plan, two DynamoDB items.
struct TokensOfOnePlan(Vec<Write>);

impl Unit for TokensOfOnePlan {
    fn writes(&self) -> &[Write] {
        &self.0
    }

    fn writes_mut(&mut self) -> &mut Vec<Write> {
        &mut self.0
    }
}

fn token_hash(plan: usize, seq: usize, run: &str) -> String {
    format!("{run}-{plan:03}-{seq}")
}

#[tokio::test]
async fn a_group_commit_larger_than_one_dynamodb_transaction_is_split_and_stores_every_unit() {
    let Some(account) = MotoAccount::new("group_commit_split").await else {
        return;
    };
    let store = &account.ports.store;
    let run = random_reference(8);
    let units: Vec<TokensOfOnePlan> = (0..60)
        .map(|plan| {
            TokensOfOnePlan(
                (0..2)
                    .map(|seq| {
                        Write::InsertSigningToken(SigningToken {
                            token_hash: token_hash(plan, seq, &run),
                            plan_id: PlanId(format!("pln_{run}_{plan}")),
                            expires_at: Utc::now() + chrono::Duration::days(1),
                            used_at: None,
                            mandate_id: None,
                        })
                    })
                    .collect(),
            )
        })
        .collect();
    let every_write: Vec<Write> = units.iter().flat_map(|u| u.0.clone()).collect();
    assert!(
        !store.fits_in_one_commit(&every_write),
        "120 items are more than one DynamoDB transaction holds"
    );
    let before = store.request_counts().snapshot();

    let outcome = commit_in_groups(store, units, 250).await.unwrap();

    let used = store.request_counts().snapshot().since(&before);
    assert_eq!(outcome.committed.len(), 60);
    assert!(outcome.refused.is_empty());
    assert_eq!(used.transact_write_items, 2, "{used:?}");
    assert_eq!(used.items_written, 120, "{used:?}");
    for plan in 0..60 {
        for seq in 0..2 {
            let stored = store
                .get_signing_token(&token_hash(plan, seq, &run))
                .await
                .unwrap();
            assert!(stored.is_some(), "token {seq} of plan {plan}");
        }
    }
}

/// The raw item under `pk` in the keys table, as DynamoDB holds it.
async fn raw_key_item(
    account: &MotoAccount,
    pk: &str,
) -> std::collections::HashMap<String, AttributeValue> {
    account
        .ports
        .store
        .client()
        .get_item()
        .table_name(&account.tables.keys)
        .key("pk", AttributeValue::S(pk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_else(|| panic!("no item {pk}"))
}

fn ttl_of(item: &std::collections::HashMap<String, AttributeValue>) -> Option<i64> {
    match item.get(TTL_ATTRIBUTE)? {
        AttributeValue::N(seconds) => Some(seconds.parse().expect("whole epoch seconds")),
        other => panic!("ttl is not a Number: {other:?}"),
    }
}

#[tokio::test]
async fn links_that_expire_carry_the_keys_tables_ttl_and_idempotency_keys_do_not() {
    let Some(account) = MotoAccount::new("links_carry_a_ttl").await else {
        return;
    };
    let store = &account.ports.store;
    let run = random_reference(8);
    let expires_at: chrono::DateTime<Utc> = "2027-02-03T10:00:00Z".parse().unwrap();
    let kept_until = (expires_at + chrono::Duration::days(KEPT_AFTER_EXPIRY_DAYS)).timestamp();
    let plan_id = PlanId(format!("pln_{run}"));
    store
        .commit(&[Write::InsertSigningToken(SigningToken {
            token_hash: format!("{run}-signing"),
            plan_id: plan_id.clone(),
            expires_at,
            used_at: None,
            mandate_id: None,
        })])
        .await
        .unwrap();
    store
        .insert_self_service_token(&SelfServiceToken {
            token_hash: format!("{run}-self-service"),
            plan_id: plan_id.clone(),
            expires_at,
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    let creditor = tranche_tests::fixtures::unique_creditor_id();
    let mut mandate = tranche_tests::fixtures::mandate(
        &tranche_tests::fixtures::unique_mandate_id(),
        &creditor,
        &plan_id,
    );
    mandate.download_token_hash = Some(format!("{run}-download"));
    mandate.download_expires_at = Some(expires_at);
    store
        .commit(&[Write::InsertMandate(mandate.clone())])
        .await
        .unwrap();
    store
        .claim_idempotency_key(&IdempotencyRecord {
            key: format!("POST /v1/plans:{run}"),
            request_hash: "0".repeat(64),
            response: None,
            created_at: Utc::now(),
        })
        .await
        .unwrap();

    for pk in [
        format!("token#{run}-signing"),
        format!("self-service#{run}-self-service"),
        format!("mandate-download#{run}-download"),
    ] {
        let item = raw_key_item(&account, &pk).await;
        assert_eq!(
            ttl_of(&item),
            Some(kept_until),
            "{pk}: deleted by DynamoDB {KEPT_AFTER_EXPIRY_DAYS} days after its link expires"
        );
    }
    let reference = raw_key_item(
        &account,
        &format!(
            "mandate-reference#{}#{}",
            creditor.as_str(),
            mandate.reference
        ),
    )
    .await;
    assert_eq!(
        ttl_of(&reference),
        None,
        "a mandate reference never expires"
    );
    let idempotency = raw_key_item(&account, &format!("idempotency#POST /v1/plans:{run}")).await;
    assert_eq!(
        ttl_of(&idempotency),
        None,
        "an idempotency key is kept, as the embedded store keeps it"
    );
    let ttl = store
        .client()
        .describe_time_to_live()
        .table_name(&account.tables.keys)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .expect("a time-to-live description");
    assert_eq!(ttl.attribute_name(), Some(TTL_ATTRIBUTE));
}
