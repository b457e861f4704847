//! Bank reports made to order for end-to-end tests: pain.002, camt.054 and camt.053 files
//! that speak of collections the test created, as a bank would write them.

use chrono::NaiveDate;

/// One transaction a report speaks of.
#[derive(Debug, Clone)]
pub struct Reported {
    pub end_to_end_id: String,
    pub amount: String,
    pub reason: String,
    /// The collection date (pain.002 `ReqdColltnDt`, camt `IntrBkSttlmDt`).
    pub date: NaiveDate,
    pub mandate_reference: String,
}

impl Reported {
    /// `collection` (as `GET /v1/collections` answers it) reported failed with `reason`.
    pub fn of(collection: &serde_json::Value, reason: &str) -> Self {
        let text = |field: &str| {
            collection[field]
                .as_str()
                .unwrap_or_else(|| panic!("collection without {field}: {collection}"))
                .to_owned()
        };
        Self {
            end_to_end_id: text("end_to_end_id"),
            amount: text("amount"),
            reason: reason.to_owned(),
            date: text("collection_date").parse().expect("a collection date"),
            mandate_reference: text("mandate_reference"),
        }
    }
}

/// A pain.002.001.10 that rejects `rejected` transactions of message `original_message_id`
/// (`PART` at group level, `RJCT` per transaction).
pub fn pain002_rejects(
    report_id: &str,
    original_message_id: &str,
    rejected: &[Reported],
) -> String {
    let mut transactions = String::new();
    for (index, r) in rejected.iter().enumerate() {
        transactions.push_str(&format!(
            r#"
      <TxInfAndSts>
        <StsId>STS-{index}</StsId>
        <OrgnlEndToEndId>{e2e}</OrgnlEndToEndId>
        <TxSts>RJCT</TxSts>
        <StsRsnInf>
          <Rsn><Cd>{reason}</Cd></Rsn>
          <AddtlInf>Rejected by the debtor bank</AddtlInf>
        </StsRsnInf>
        <OrgnlTxRef>
          <Amt><InstdAmt Ccy="EUR">{amount}</InstdAmt></Amt>
          <ReqdColltnDt>{date}</ReqdColltnDt>
          <MndtRltdInf><MndtId>{mandate}</MndtId></MndtRltdInf>
        </OrgnlTxRef>
      </TxInfAndSts>"#,
            e2e = r.end_to_end_id,
            reason = r.reason,
            amount = r.amount,
            date = r.date,
            mandate = r.mandate_reference,
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">
  <CstmrPmtStsRpt>
    <GrpHdr>
      <MsgId>{report_id}</MsgId>
      <CreDtTm>2027-02-02T08:00:00</CreDtTm>
    </GrpHdr>
    <OrgnlGrpInfAndSts>
      <OrgnlMsgId>{original_message_id}</OrgnlMsgId>
      <OrgnlMsgNmId>pain.008.001.08</OrgnlMsgNmId>
      <GrpSts>PART</GrpSts>
    </OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>{original_message_id}-1</OrgnlPmtInfId>
      <PmtInfSts>PART</PmtInfSts>{transactions}
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>
"#
    )
}

/// A pain.002.001.10 whose group status is `status` (`RJCT` with `reason`, or `ACCP`) for the
/// whole original message.
pub fn pain002_whole_file(
    report_id: &str,
    original_message_id: &str,
    status: &str,
    reason: Option<&str>,
) -> String {
    let reason = reason
        .map(|code| format!("\n      <StsRsnInf><Rsn><Cd>{code}</Cd></Rsn></StsRsnInf>"))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">
  <CstmrPmtStsRpt>
    <GrpHdr>
      <MsgId>{report_id}</MsgId>
      <CreDtTm>2027-02-02T08:00:00</CreDtTm>
    </GrpHdr>
    <OrgnlGrpInfAndSts>
      <OrgnlMsgId>{original_message_id}</OrgnlMsgId>
      <OrgnlMsgNmId>pain.008.001.08</OrgnlMsgNmId>
      <GrpSts>{status}</GrpSts>{reason}
    </OrgnlGrpInfAndSts>
  </CstmrPmtStsRpt>
</Document>
"#
    )
}

fn camt_transaction(r: &Reported) -> String {
    format!(
        r#"
          <TxDtls>
            <Refs>
              <EndToEndId>{e2e}</EndToEndId>
              <MndtId>{mandate}</MndtId>
            </Refs>
            <AmtDtls><InstdAmt><Amt Ccy="EUR">{amount}</Amt></InstdAmt></AmtDtls>
            <RltdDts><IntrBkSttlmDt>{date}</IntrBkSttlmDt></RltdDts>
            <RtrInf>
              <Rsn><Cd>{reason}</Cd></Rsn>
              <AddtlInf>Return</AddtlInf>
            </RtrInf>
          </TxDtls>"#,
        e2e = r.end_to_end_id,
        mandate = r.mandate_reference,
        amount = r.amount,
        date = r.date,
        reason = r.reason,
    )
}

fn camt_entry(returns: &[Reported], booked: NaiveDate) -> String {
    let total: i64 = returns
        .iter()
        .map(|r| {
            let (euros, cents) = r.amount.split_once('.').unwrap_or((&r.amount, "00"));
            euros.parse::<i64>().unwrap_or(0) * 100 + cents.parse::<i64>().unwrap_or(0)
        })
        .sum();
    let details: String = returns.iter().map(camt_transaction).collect();
    format!(
        r#"
      <Ntry>
        <Amt Ccy="EUR">{}.{:02}</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>{booked}</Dt></BookgDt>
        <ValDt><Dt>{booked}</Dt></ValDt>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>IDDT</Cd><SubFmlyCd>UPDD</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>{details}
        </NtryDtls>
      </Ntry>"#,
        total / 100,
        total % 100
    )
}

/// A camt.054.001.08 with one debit entry per return.
pub fn camt054_returns(report_id: &str, returns: &[Reported], booked: NaiveDate) -> String {
    let entries: String = returns
        .iter()
        .map(|r| camt_entry(std::slice::from_ref(r), booked))
        .collect();
    camt054_document(report_id, booked, &entries)
}

fn camt054_document(report_id: &str, booked: NaiveDate, entries: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr>
      <MsgId>{report_id}</MsgId>
      <CreDtTm>{booked}T18:00:00</CreDtTm>
    </GrpHdr>
    <Ntfctn>
      <Id>{report_id}-1</Id>
      <CreDtTm>{booked}T18:00:00</CreDtTm>
      <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>{entries}
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>
"#
    )
}

/// A camt.054.001.08 with runs of `batch_booked` entries of one return each, alternating with
/// one batch-booked entry of `batch_booked` returns: how a bank reports many returns at once.
pub fn camt054_mixed(
    report_id: &str,
    returns: &[Reported],
    booked: NaiveDate,
    batch_booked: usize,
) -> String {
    let mut entries = String::new();
    for run in returns.chunks(2 * batch_booked.max(1)) {
        let (singles, batch) = run.split_at(batch_booked.min(run.len()));
        for r in singles {
            entries.push_str(&camt_entry(std::slice::from_ref(r), booked));
        }
        if !batch.is_empty() {
            entries.push_str(&camt_entry(batch, booked));
        }
    }
    camt054_document(report_id, booked, &entries)
}

/// A camt.053.001.08 statement with a credit entry (a collection) and one batch-booked debit
/// entry holding all `returns`.
pub fn camt053_batch_booked(report_id: &str, returns: &[Reported], booked: NaiveDate) -> String {
    let entry = camt_entry(returns, booked);
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr>
      <MsgId>{report_id}</MsgId>
      <CreDtTm>{booked}T18:00:00</CreDtTm>
    </GrpHdr>
    <Stmt>
      <Id>{report_id}-1</Id>
      <CreDtTm>{booked}T18:00:00</CreDtTm>
      <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>
      <Ntry>
        <Amt Ccy="EUR">500.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>{booked}</Dt></BookgDt>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>IDDT</Cd><SubFmlyCd>ESDD</SubFmlyCd></Fmly></Domn></BkTxCd>
      </Ntry>{entry}
    </Stmt>
  </BkToCstmrStmt>
</Document>
"#
    )
}
