//! The batch generator's promise, checked from the outside: scheduled collections made to
//! order, and one check that every one of them is in exactly one complete batch whose file in
//! the file store holds exactly the collections that name it, with the right totals, and that
//! no other file was written.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate, Utc};
use tranche_domain::collection::{Batch, BatchStatus, Collection, CollectionStatus};
use tranche_domain::creditor::CreditorId;
use tranche_domain::money::Amount;
use tranche_domain::pain008::SequenceType;
use tranche_domain::plan::PlanStatus;
use tranche_domain::ports::{Ports, Write};
use tranche_domain::secrets::random_reference;

use crate::fixtures::{
    creditor, plan, unique_mandate_id, unique_mandate_reference, unique_plan_id,
};
use crate::xsd::validate_pain008;

/// `count` scheduled Core collections of `creditor_id` on `date`, each of its own plan, every
/// third a first collection and the others recurrent (so a file has two `PmtInf` blocks), with
/// amounts of 10.00 EUR plus their index in cents.
pub fn scheduled_collections(
    creditor_id: &CreditorId,
    date: NaiveDate,
    count: usize,
) -> Vec<Collection> {
    let debtor_iban = creditor(creditor_id).iban;
    (0..count)
        .map(|index| {
            let plan = plan(&unique_plan_id(), creditor_id, PlanStatus::Active);
            Collection {
                id: Collection::id_for(&plan.id, 1, 1),
                creditor_id: creditor_id.clone(),
                plan_id: plan.id.clone(),
                mandate_id: unique_mandate_id(),
                instalment_seq: 1,
                attempt: 1,
                end_to_end_id: format!("TR{}", random_reference(24)),
                amount: Amount::from_cents(1000 + index as i64).expect("an amount"),
                collection_date: date,
                scheme: plan.scheme,
                sequence_type: if index % 3 == 0 {
                    SequenceType::First
                } else {
                    SequenceType::Recurrent
                },
                amendment: None,
                mandate_reference: unique_mandate_reference(),
                mandate_signed_on: date - Duration::days(30),
                debtor_name: plan.debtor.name.clone(),
                debtor_address: plan.debtor.address.clone(),
                debtor_iban: debtor_iban.clone(),
                debtor_bic: None,
                remittance: format!("Plan {} 1/1 INV-{index}", plan.id),
                status: CollectionStatus::Scheduled,
                batch_id: None,
                status_reason: None,
                r_transaction: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
                event_head: None,
                version: 1,
            }
        })
        .collect()
}

/// Stores `collections`, a hundred per commit (within DynamoDB's transactions).
pub async fn insert_collections(ports: &Ports, collections: &[Collection]) {
    for chunk in collections.chunks(90) {
        let writes: Vec<Write> = chunk.iter().cloned().map(Write::InsertCollection).collect();
        ports
            .transactions
            .commit(&writes)
            .await
            .expect("the collections are stored");
    }
}

/// The text of every `<tag>` element in `xml`, in order.
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let end = after.find(&close).expect("every element is closed");
        found.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    found
}

/// Every batch of `creditor_id`, through the operator's list.
pub async fn batches_of(ports: &Ports, creditor_id: &CreditorId) -> Vec<Batch> {
    let mut batches = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = ports
            .collections
            .list_batches(Some(creditor_id), after.as_deref(), 500)
            .await
            .expect("the batches are listed");
        batches.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return batches,
        }
    }
}

/// Checks the batch generator's promise for `expected`, the collections of one creditor and
/// date: every one is batched in exactly one batch; every batch is complete, holds at most
/// `max` collections and has its own message id; its file, valid against the XSD, holds
/// exactly the EndToEndIds of the collections that name the batch, with the group header's and
/// every block's `NbOfTxs` and `CtrlSum` exact; and the file store holds no other batch file
/// for the creditor and date. Answers the batches.
pub async fn assert_each_collection_in_one_complete_file(
    ports: &Ports,
    creditor_id: &CreditorId,
    date: NaiveDate,
    expected: &[Collection],
    max: u64,
) -> Vec<Batch> {
    let batches = batches_of(ports, creditor_id).await;
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut message_ids = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for batch in &batches {
        assert_eq!(batch.status, BatchStatus::Complete, "{batch:?}");
        assert!(
            message_ids.insert(batch.message_id.clone()),
            "message id {} twice",
            batch.message_id
        );
        keys.insert(batch.file_key.clone());

        // The collections that name the batch.
        let mut members: Vec<Collection> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = ports
                .collections
                .collections_of_batch(&batch.id, after.as_deref(), 500)
                .await
                .expect("the batch's collections are listed");
            members.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert!(
            members.len() as u64 <= max,
            "batch {} holds {} collections, more than {max}",
            batch.id,
            members.len()
        );
        for member in &members {
            assert_eq!(member.status, CollectionStatus::Batched, "{}", member.id);
            if let Some(other) = seen.insert(member.end_to_end_id.clone(), batch.id.clone()) {
                panic!("{} is in {other} and in {}", member.id, batch.id);
            }
        }
        assert_eq!(batch.number_of_transactions, members.len() as u64);
        let sum: i64 = members.iter().map(|c| c.amount.cents()).sum();
        assert_eq!(batch.control_sum.cents(), sum, "{}", batch.id);

        // Its file.
        let xml = ports
            .files
            .get_file(&batch.file_key)
            .await
            .expect("the file store answers")
            .unwrap_or_else(|| panic!("the file of {} is missing", batch.id));
        validate_pain008(&xml, batch.version).unwrap_or_else(|e| panic!("{}: {e}", batch.id));
        let xml = String::from_utf8(xml).expect("UTF-8");
        assert_eq!(elements(&xml, "MsgId"), [batch.message_id.as_str()]);
        let in_file: BTreeSet<&str> = elements(&xml, "EndToEndId").into_iter().collect();
        let named: BTreeSet<&str> = members.iter().map(|c| c.end_to_end_id.as_str()).collect();
        assert_eq!(
            in_file, named,
            "the file of {} holds its collections",
            batch.id
        );
        assert_eq!(
            elements(&xml, "EndToEndId").len(),
            members.len(),
            "each once"
        );
        let counts = elements(&xml, "NbOfTxs");
        let sums = elements(&xml, "CtrlSum");
        assert_eq!(counts[0], members.len().to_string(), "GrpHdr/NbOfTxs");
        assert_eq!(
            sums[0],
            batch.control_sum.to_string(),
            "GrpHdr/CtrlSum of {}",
            batch.id
        );
        let blocks: Vec<&str> = xml.split("<PmtInf>").skip(1).collect();
        assert_eq!(blocks.len(), counts.len() - 1);
        for (index, block) in blocks.iter().enumerate() {
            let sequence = elements(block, "SeqTp")[0];
            let of_block: Vec<&Collection> = members
                .iter()
                .filter(|c| sequence.contains(c.sequence_type.code()))
                .collect();
            assert_eq!(
                counts[index + 1],
                of_block.len().to_string(),
                "PmtInf/NbOfTxs"
            );
            let block_sum: i64 = of_block.iter().map(|c| c.amount.cents()).sum();
            assert_eq!(
                sums[index + 1],
                Amount::from_cents(block_sum).unwrap().to_string(),
                "PmtInf/CtrlSum"
            );
        }
    }

    let all: BTreeSet<&str> = expected.iter().map(|c| c.end_to_end_id.as_str()).collect();
    let batched: BTreeSet<&str> = seen.keys().map(String::as_str).collect();
    assert_eq!(batched, all, "every collection is batched, and no other");
    let unfinished = ports
        .collections
        .unfinished_batches(None, 500)
        .await
        .expect("the unfinished batches are listed");
    assert!(
        unfinished
            .items
            .iter()
            .all(|b| b.creditor_id != *creditor_id),
        "no batch is left unfinished"
    );
    let files: BTreeSet<String> = ports
        .files
        .list_files(&format!("batches/{creditor_id}/{date}/"))
        .await
        .expect("the files are listed")
        .into_iter()
        .collect();
    assert_eq!(files, keys, "one file per batch, and no other");
    batches
}
