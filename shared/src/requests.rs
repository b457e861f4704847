//! The operator's JSON requests, checked field by field ("parse, don't validate").
//!
//! A request body is read as a JSON value and every field is checked, collecting one
//! [`FieldError`] per wrong field, so the operator fixes them all in one go. Unknown fields are
//! refused (a typo must not silently drop a setting), amounts must be JSON strings, dates
//! `YYYY-MM-DD`. The result is a value of a domain type that is valid by construction.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::creditor::{
    Branding, ComplianceMode, DunningPolicy, FirstSequence, Language, PostalAddress,
};
use crate::error::FieldError;
use crate::identifiers::{Bic, CreditorIdentifier, Iban, is_iso_country};
use crate::mandate::SigningMethod;
use crate::money::{Amount, Currency};
use crate::pain008::Pain008Version;
use crate::plan::{Debtor, DebtorType, Invoice, PlanKind, Scheme};
use crate::schedule::{DownPaymentTerms, Frequency, Rounding, ScheduleTerms, Split};

/// Longest name a pain.008 carries for a party.
pub const MAX_NAME_CHARS: usize = 70;
/// Longest SEPA identifier (mandate reference, EndToEndId, invoice reference in remittance).
pub const MAX_IDENTIFIER_CHARS: usize = 35;

/// A creditor as `PUT /v1/creditors/{id}` describes it, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditorRequest {
    pub name: String,
    pub creditor_identifier: CreditorIdentifier,
    pub iban: Iban,
    pub bic: Option<Bic>,
    pub address: PostalAddress,
    pub email: String,
    pub language: Language,
    pub pre_notification_days: Option<u32>,
    pub lead_days: Option<u32>,
    pub branding: Branding,
    pub compliance_mode: Option<ComplianceMode>,
    pub signing_method: Option<SigningMethod>,
    pub mandate_reference_prefix: Option<String>,
    pub first_sequence: Option<FirstSequence>,
    pub pain008_version: Option<Pain008Version>,
    pub max_transactions_per_file: Option<u32>,
    pub settlement_days: Option<u32>,
    pub dunning: Option<DunningPolicy>,
    pub self_service: Option<crate::creditor::SelfServiceLimits>,
}

/// A plan request of `POST /v1/plans` and `POST /v1/plans/preview`, checked for shape and
/// range. What needs the creditor or today's date (the earliest due date, the compliance
/// mode) is checked by the use case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRequest {
    pub creditor_id: String,
    pub kind: PlanKind,
    pub debtor: Debtor,
    pub currency: Currency,
    pub invoices: Vec<Invoice>,
    pub schedule: ScheduleTerms,
    pub scheme: Scheme,
    pub mandate_id: Option<String>,
}

/// Collects field errors while a body is read.
#[derive(Debug, Default)]
pub struct Reader {
    errors: Vec<FieldError>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Reader {
    pub fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// The collected errors, or `value` when there are none.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Vec<FieldError>> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ if self.errors.is_empty() => Err(vec![FieldError::new("", "the request is invalid")]),
            _ => Err(self.errors),
        }
    }

    /// The object at `path`, after refusing keys not in `known`.
    pub fn object<'v>(
        &mut self,
        value: &'v Value,
        path: &str,
        known: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Value::Object(map) = value else {
            let field = if path.is_empty() { "body" } else { path };
            self.error(
                field,
                format!("must be a JSON object, not {}", describe(value)),
            );
            return None;
        };
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                self.error(
                    join(path, key),
                    format!(
                        "is not a known field; the known fields are: {}",
                        known.join(", ")
                    ),
                );
            }
        }
        Some(map)
    }

    fn present<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
        map.get(key).filter(|v| !v.is_null())
    }

    /// A string field, trimmed; `None` (and an error when `required`) when absent.
    pub fn string(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        required: bool,
    ) -> Option<String> {
        let field = join(path, key);
        match Self::present(map, key) {
            None if required => {
                self.error(field, "is required");
                None
            }
            None => None,
            Some(Value::String(text)) => Some(text.trim().to_owned()),
            Some(other) => {
                self.error(field, format!("must be a string, not {}", describe(other)));
                None
            }
        }
    }

    /// A text of 1 to `max` characters.
    pub fn text(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        required: bool,
        max: usize,
    ) -> Option<String> {
        let text = self.string(map, path, key, required)?;
        let field = join(path, key);
        if text.is_empty() {
            if required {
                self.error(field, "must not be empty");
            }
            return None;
        }
        if text.chars().count() > max {
            self.error(field, format!("must be at most {max} characters"));
            return None;
        }
        if text.chars().any(char::is_control) {
            self.error(
                field,
                "must not contain control characters such as line breaks",
            );
            return None;
        }
        Some(text)
    }

    /// An amount, which must be a JSON string so that no float ever carries money.
    pub fn amount(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        required: bool,
    ) -> Option<Amount> {
        let field = join(path, key);
        match Self::present(map, key) {
            None if required => {
                self.error(field, "is required, as a string like \"250.00\"");
                None
            }
            None => None,
            Some(Value::Number(n)) => {
                self.error(
                    field,
                    format!(
                        "must be a string like \"{n}\", not a JSON number: amounts travel as \
                         strings so they are never rounded by a float"
                    ),
                );
                None
            }
            Some(Value::String(text)) => match Amount::parse(text) {
                Ok(amount) => Some(amount),
                Err(e) => {
                    self.error(field, e.to_string());
                    None
                }
            },
            Some(other) => {
                self.error(
                    field,
                    format!("must be a string like \"250.00\", not {}", describe(other)),
                );
                None
            }
        }
    }

    /// A calendar date, `YYYY-MM-DD`.
    pub fn date(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        required: bool,
    ) -> Option<NaiveDate> {
        let text = self.string(map, path, key, required)?;
        let parsed = (text.len() == 10)
            .then(|| NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok())
            .flatten();
        if parsed.is_none() {
            self.error(
                join(path, key),
                format!("\"{text}\" is not a date; write it as YYYY-MM-DD"),
            );
        }
        parsed
    }

    /// One of a fixed set of names.
    pub fn choice<T>(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        required: bool,
        choices: &[(&str, T)],
    ) -> Option<T>
    where
        T: Copy,
    {
        let text = self.string(map, path, key, required)?;
        let found = choices
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, v)| *v);
        if found.is_none() {
            let names: Vec<String> = choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
            self.error(
                join(path, key),
                format!("\"{text}\" is not allowed; use one of {}", names.join(", ")),
            );
        }
        found
    }

    /// A whole number in `range`.
    pub fn whole_number(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        required: bool,
        range: std::ops::RangeInclusive<u32>,
    ) -> Option<u32> {
        let field = join(path, key);
        let value = match Self::present(map, key) {
            None if required => {
                self.error(field, "is required");
                return None;
            }
            None => return None,
            Some(value) => value,
        };
        let number = value.as_u64().and_then(|n| u32::try_from(n).ok());
        match number {
            Some(n) if range.contains(&n) => Some(n),
            _ => {
                self.error(
                    field,
                    format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        }
    }

    /// An identifier (IBAN, BIC, creditor identifier) through its checked constructor.
    pub fn identifier<T>(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        required: bool,
        parse: impl FnOnce(&str) -> Result<T, crate::identifiers::IdentifierError>,
    ) -> Option<T> {
        let text = self.string(map, path, key, required)?;
        match parse(&text) {
            Ok(value) => Some(value),
            Err(e) => {
                self.error(join(path, key), e.to_string());
                None
            }
        }
    }

    pub fn email(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        required: bool,
    ) -> Option<String> {
        let text = self.string(map, path, key, required)?;
        if is_plausible_email(&text) {
            Some(text)
        } else {
            self.error(
                join(path, key),
                "is not an e-mail address like name@example.com",
            );
            None
        }
    }

    pub fn address(&mut self, value: &Value, path: &str) -> Option<PostalAddress> {
        let map = self.object(
            value,
            path,
            &["street", "building", "postcode", "town", "country"],
        )?;
        let street = self.text(map, path, "street", true, 70);
        let building = self.text(map, path, "building", false, 16);
        let postcode = self.text(map, path, "postcode", true, 16);
        let town = self.text(map, path, "town", true, 35);
        let country = self.string(map, path, "country", true).and_then(|c| {
            let code = c.to_ascii_uppercase();
            if is_iso_country(&code) {
                Some(code)
            } else {
                self.error(
                    join(path, "country"),
                    format!("\"{c}\" is not an ISO 3166 country code like \"DE\""),
                );
                None
            }
        });
        Some(PostalAddress {
            street: street?,
            building,
            postcode: postcode?,
            town: town?,
            country: country?,
        })
    }
}

/// A deliberately simple check: one `@`, something before it, a dotted domain after it, no
/// spaces. Whether the mailbox exists is for the mail server to say.
pub fn is_plausible_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && text.len() <= 254
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Whether `text` uses only the SEPA identifier characters and the EPC slash rules
/// (no leading or trailing `/`, no `//`).
pub fn is_sepa_identifier(text: &str) -> bool {
    !text.is_empty()
        && text.chars().count() <= MAX_IDENTIFIER_CHARS
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+?/-:().,' ".contains(c))
        && !text.starts_with('/')
        && !text.ends_with('/')
        && !text.contains("//")
}

const LANGUAGES: [(&str, Language); 4] = [
    ("en", Language::En),
    ("de", Language::De),
    ("fr", Language::Fr),
    ("nl", Language::Nl),
];

/// Checks a `PUT /v1/creditors/{id}` body.
pub fn parse_creditor(body: &Value) -> Result<CreditorRequest, Vec<FieldError>> {
    let mut r = Reader::default();
    let Some(map) = r.object(
        body,
        "",
        &[
            "name",
            "creditor_identifier",
            "iban",
            "bic",
            "address",
            "email",
            "language",
            "pre_notification_days",
            "lead_days",
            "branding",
            "compliance_mode",
            "signing_method",
            "mandate_reference_prefix",
            "first_sequence",
            "pain008_version",
            "max_transactions_per_file",
            "settlement_days",
            "dunning",
            "self_service",
        ],
    ) else {
        return r.finish(None);
    };

    let name = r.text(map, "", "name", true, MAX_NAME_CHARS);
    let creditor_identifier = r.identifier(
        map,
        "",
        "creditor_identifier",
        true,
        CreditorIdentifier::parse,
    );
    let iban = r.identifier(map, "", "iban", true, Iban::parse);
    let bic = r.identifier(map, "", "bic", false, Bic::parse);
    let address = match map.get("address") {
        Some(value) => r.address(value, "address"),
        None => {
            r.error(
                "address",
                "is required: {street, building?, postcode, town, country}",
            );
            None
        }
    };
    let email = r.email(map, "", "email", true);
    let language = r.choice(map, "", "language", true, &LANGUAGES);
    let pre_notification_days = r.whole_number(map, "", "pre_notification_days", false, 1..=60);
    let lead_days = r.whole_number(map, "", "lead_days", false, 1..=10);
    let branding = match map.get("branding").filter(|v| !v.is_null()) {
        None => Some(Branding::default()),
        Some(value) => parse_branding(&mut r, value),
    };
    let compliance_mode = r.choice(
        map,
        "",
        "compliance_mode",
        false,
        &[
            ("inform", ComplianceMode::Inform),
            ("refuse", ComplianceMode::Refuse),
        ],
    );
    let signing_method = r.choice(
        map,
        "",
        "signing_method",
        false,
        &[
            ("click", SigningMethod::Click),
            ("email_code", SigningMethod::EmailCode),
        ],
    );
    let mandate_reference_prefix = r.string(map, "", "mandate_reference_prefix", false);
    if let Some(prefix) = &mandate_reference_prefix
        && (prefix.chars().count() > crate::creditor::MAX_MANDATE_REFERENCE_PREFIX_CHARS
            || !is_sepa_identifier(prefix)
            || prefix.contains(' '))
    {
        r.error(
            "mandate_reference_prefix",
            "must be 1 to 20 characters of A-Z a-z 0-9 + ? / - : ( ) . , ' without spaces, not \
             starting with /",
        );
    }
    let first_sequence = r.choice(
        map,
        "",
        "first_sequence",
        false,
        &[
            ("FRST", FirstSequence::First),
            ("RCUR", FirstSequence::Recurrent),
        ],
    );
    let pain008_version = r.choice(
        map,
        "",
        "pain008_version",
        false,
        &[
            ("pain.008.001.08", Pain008Version::V08),
            ("pain.008.001.02", Pain008Version::V02),
            ("pain.008.001.08-gbic5", Pain008Version::Gbic5),
        ],
    );
    let max_transactions_per_file =
        r.whole_number(map, "", "max_transactions_per_file", false, 1..=1_000_000);
    let settlement_days = r.whole_number(map, "", "settlement_days", false, 1..=10);
    let dunning = match map.get("dunning").filter(|v| !v.is_null()) {
        None => None,
        Some(value) => r
            .object(
                value,
                "dunning",
                &[
                    "retry_after_days",
                    "max_representations",
                    "default_after_days",
                ],
            )
            .map(|dunning| {
                let defaults = DunningPolicy::default();
                DunningPolicy {
                    retry_after_days: r
                        .whole_number(dunning, "dunning", "retry_after_days", false, 1..=60)
                        .unwrap_or(defaults.retry_after_days),
                    max_representations: r
                        .whole_number(dunning, "dunning", "max_representations", false, 0..=5)
                        .unwrap_or(defaults.max_representations),
                    default_after_days: r
                        .whole_number(dunning, "dunning", "default_after_days", false, 1..=365)
                        .unwrap_or(defaults.default_after_days),
                }
            }),
    };

    let self_service = match map.get("self_service").filter(|v| !v.is_null()) {
        None => None,
        Some(value) => r
            .object(
                value,
                "self_service",
                &[
                    "max_count",
                    "min_instalment",
                    "max_extension_months",
                    "max_changes_per_plan",
                ],
            )
            .map(|limits| {
                let defaults = crate::creditor::SelfServiceLimits::default();
                crate::creditor::SelfServiceLimits {
                    max_count: r
                        .whole_number(
                            limits,
                            "self_service",
                            "max_count",
                            false,
                            1..=crate::schedule::MAX_INSTALMENTS,
                        )
                        .unwrap_or(defaults.max_count),
                    min_instalment: r
                        .amount(limits, "self_service", "min_instalment", false)
                        .unwrap_or(defaults.min_instalment),
                    max_extension_months: r
                        .whole_number(
                            limits,
                            "self_service",
                            "max_extension_months",
                            false,
                            0..=60,
                        )
                        .unwrap_or(defaults.max_extension_months),
                    max_changes_per_plan: r
                        .whole_number(
                            limits,
                            "self_service",
                            "max_changes_per_plan",
                            false,
                            0..=50,
                        )
                        .unwrap_or(defaults.max_changes_per_plan),
                }
            }),
    };

    let request = (|| {
        Some(CreditorRequest {
            name: name?,
            creditor_identifier: creditor_identifier?,
            iban: iban?,
            bic,
            address: address?,
            email: email?,
            language: language?,
            pre_notification_days,
            lead_days,
            branding: branding?,
            compliance_mode,
            signing_method,
            mandate_reference_prefix,
            first_sequence,
            pain008_version,
            max_transactions_per_file,
            settlement_days,
            dunning,
            self_service,
        })
    })();
    r.finish(request)
}

fn parse_branding(r: &mut Reader, value: &Value) -> Option<Branding> {
    let map = r.object(value, "branding", &["logo_url", "color"])?;
    let logo_url = r.text(map, "branding", "logo_url", false, 2048);
    if let Some(url) = &logo_url
        && (!url.starts_with("https://")
            || url.len() <= "https://".len()
            || url.contains(['"', '<', '>', ' ']))
    {
        r.error("branding.logo_url", "must be an https:// URL of an image");
    }
    let color = r.string(map, "branding", "color", false);
    if let Some(color) = &color {
        let hex = color.strip_prefix('#').unwrap_or("");
        if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            r.error(
                "branding.color",
                format!("\"{color}\" is not a colour like \"#0A7E4F\""),
            );
        }
    }
    Some(Branding { logo_url, color })
}

/// Checks a plan request body.
pub fn parse_plan(body: &Value) -> Result<PlanRequest, Vec<FieldError>> {
    let mut r = Reader::default();
    let Some(map) = r.object(
        body,
        "",
        &[
            "creditor_id",
            "kind",
            "debtor",
            "currency",
            "total",
            "invoices",
            "count",
            "instalment_amount",
            "frequency",
            "start_date",
            "down_payment",
            "rounding",
            "scheme",
            "mandate_id",
        ],
    ) else {
        return r.finish(None);
    };

    let creditor_id = r.string(map, "", "creditor_id", true);
    let kind = r.choice(
        map,
        "",
        "kind",
        true,
        &[
            ("repayment", PlanKind::Repayment),
            ("instalment", PlanKind::Instalment),
        ],
    );
    let debtor = match map.get("debtor") {
        Some(value) => parse_debtor(&mut r, value),
        None => {
            r.error(
                "debtor",
                "is required: {name, email, language, type, address?}",
            );
            None
        }
    };
    let currency = match r.string(map, "", "currency", false) {
        None => Some(Currency::Eur),
        Some(code) => {
            let currency = Currency::parse(&code);
            if currency.is_none() {
                r.error(
                    "currency",
                    format!(
                        "\"{code}\" is not collectable: SEPA direct debits are in \"EUR\" only"
                    ),
                );
            }
            currency
        }
    };
    let total = r.amount(map, "", "total", true);
    let invoices = parse_invoices(&mut r, map.get("invoices"));
    let count = r.whole_number(
        map,
        "",
        "count",
        false,
        1..=crate::schedule::MAX_INSTALMENTS,
    );
    let instalment_amount = r.amount(map, "", "instalment_amount", false);
    let has = |key: &str| map.get(key).is_some_and(|v| !v.is_null());
    let split = match (has("count"), has("instalment_amount")) {
        (true, true) => {
            r.error("count", "give either count or instalment_amount, not both");
            None
        }
        (false, false) => {
            r.error("count", "is required unless instalment_amount is given");
            None
        }
        (true, false) => count.map(Split::Count),
        (false, true) => instalment_amount.map(Split::InstalmentAmount),
    };
    let frequency_choices: Vec<(&str, Frequency)> =
        Frequency::ALL.iter().map(|f| (f.as_str(), *f)).collect();
    let frequency = r.choice(map, "", "frequency", true, &frequency_choices);
    let start_date = r.date(map, "", "start_date", true);
    let down_payment = match map.get("down_payment").filter(|v| !v.is_null()) {
        None => Some(None),
        Some(value) => parse_down_payment(&mut r, value).map(Some),
    };
    let rounding = r
        .choice(
            map,
            "",
            "rounding",
            false,
            &[("first", Rounding::First), ("last", Rounding::Last)],
        )
        .unwrap_or_default();
    let scheme = r
        .choice(
            map,
            "",
            "scheme",
            false,
            &[("CORE", Scheme::Core), ("B2B", Scheme::B2b)],
        )
        .unwrap_or(Scheme::Core);
    let mandate_id = r.string(map, "", "mandate_id", false);
    if let Some(id) = &mandate_id
        && !is_sepa_identifier(id)
    {
        r.error(
            "mandate_id",
            "must be 1 to 35 characters of A-Z a-z 0-9 + ? / - : ( ) . , ' and space",
        );
    }

    if let (Some(debtor), Scheme::B2b) = (&debtor, scheme)
        && debtor.debtor_type == DebtorType::Consumer
    {
        r.error(
            "scheme",
            "B2B is only for business debtors; use \"CORE\" for a consumer, or set debtor.type \
             to \"business\"",
        );
    }
    if let (Some(total), Some(Split::InstalmentAmount(amount))) = (total, split)
        && amount > total
    {
        r.error(
            "instalment_amount",
            format!("must not be more than the total {total}"),
        );
    }
    if let (Some(total), Some(Some(down))) = (total, down_payment)
        && down.amount >= total
    {
        r.error(
            "down_payment.amount",
            format!("must be below the total {total}; the rest is paid in instalments"),
        );
    }
    if let (Some(total), Some(invoices)) = (total, &invoices)
        && !invoices.is_empty()
    {
        let sum: i64 = invoices.iter().map(|i| i.amount.cents()).sum();
        if sum != total.cents() {
            let sum = Amount::from_cents(sum)
                .map(|a| a.to_string())
                .unwrap_or_default();
            r.error(
                "invoices",
                format!(
                    "add up to {sum} but the total is {total}; the plan pays exactly its invoices"
                ),
            );
        }
    }

    let request = (|| {
        Some(PlanRequest {
            creditor_id: creditor_id?,
            kind: kind?,
            debtor: debtor?,
            currency: currency?,
            invoices: invoices?,
            schedule: ScheduleTerms {
                total: total?,
                split: split?,
                frequency: frequency?,
                start_date: start_date?,
                down_payment: down_payment?,
                rounding,
            },
            scheme,
            mandate_id,
        })
    })();
    r.finish(request)
}

fn parse_debtor(r: &mut Reader, value: &Value) -> Option<Debtor> {
    let map = r.object(
        value,
        "debtor",
        &["name", "email", "language", "type", "address"],
    )?;
    let name = r.text(map, "debtor", "name", true, MAX_NAME_CHARS);
    let email = r.email(map, "debtor", "email", true);
    let language = r.choice(map, "debtor", "language", true, &LANGUAGES);
    let debtor_type = r.choice(
        map,
        "debtor",
        "type",
        true,
        &[
            ("consumer", DebtorType::Consumer),
            ("business", DebtorType::Business),
        ],
    );
    let address = match map.get("address").filter(|v| !v.is_null()) {
        None => Some(None),
        Some(value) => r.address(value, "debtor.address").map(Some),
    };
    Some(Debtor {
        name: name?,
        email: email?,
        language: language?,
        debtor_type: debtor_type?,
        address: address?,
    })
}

fn parse_invoices(r: &mut Reader, value: Option<&Value>) -> Option<Vec<Invoice>> {
    let items = match value {
        None | Some(Value::Null) => return Some(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            r.error(
                "invoices",
                format!(
                    "must be an array of {{reference, amount}}, not {}",
                    describe(other)
                ),
            );
            return None;
        }
    };
    let mut invoices = Vec::with_capacity(items.len());
    let mut complete = true;
    for (i, item) in items.iter().enumerate() {
        let path = format!("invoices[{i}]");
        let Some(map) = r.object(item, &path, &["reference", "amount"]) else {
            complete = false;
            continue;
        };
        let reference = r.text(map, &path, "reference", true, MAX_IDENTIFIER_CHARS);
        let amount = r.amount(map, &path, "amount", true);
        if let Some(reference) = &reference
            && invoices
                .iter()
                .any(|inv: &Invoice| &inv.reference == reference)
        {
            r.error(
                join(&path, "reference"),
                "appears twice; each invoice is listed once",
            );
        }
        match (reference, amount) {
            (Some(reference), Some(amount)) => invoices.push(Invoice { reference, amount }),
            _ => complete = false,
        }
    }
    complete.then_some(invoices)
}

fn parse_down_payment(r: &mut Reader, value: &Value) -> Option<DownPaymentTerms> {
    let map = r.object(value, "down_payment", &["amount", "date"])?;
    let amount = r.amount(map, "down_payment", "amount", true);
    let date = r.date(map, "down_payment", "date", false);
    let date_ok = map.get("date").is_none_or(Value::is_null) || date.is_some();
    date_ok.then_some(())?;
    Some(DownPaymentTerms {
        amount: amount?,
        date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan() -> Value {
        json!({
            "creditor_id": "acme",
            "kind": "instalment",
            "debtor": {"name": "Ana Silva", "email": "ana@example.org", "language": "en", "type": "consumer"},
            "total": "1200.00",
            "count": 12,
            "frequency": "monthly",
            "start_date": "2027-03-01"
        })
    }

    fn fields(result: Result<PlanRequest, Vec<FieldError>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_minimal_plan_request_gets_the_documented_defaults() {
        let request = parse_plan(&plan()).unwrap();

        assert_eq!(request.currency, Currency::Eur);
        assert_eq!(request.scheme, Scheme::Core);
        assert_eq!(request.schedule.rounding, Rounding::Last);
        assert_eq!(request.schedule.split, Split::Count(12));
        assert!(request.invoices.is_empty());
        assert_eq!(request.schedule.down_payment, None);
    }

    #[test]
    fn unknown_fields_are_named_with_their_full_path() {
        let mut body = plan();
        body["debtor"]["emial"] = json!("x@example.org");
        body["invoices"] = json!([{"reference": "A", "amount": "1200.00", "due": "soon"}]);

        assert_eq!(
            fields(parse_plan(&body)),
            ["debtor.emial", "invoices[0].due"]
        );
    }

    #[test]
    fn an_amount_sent_as_a_json_number_is_refused_with_the_string_form_to_use() {
        let mut body = plan();
        body["total"] = json!(1200.5);

        let errors = parse_plan(&body).unwrap_err();

        assert_eq!(errors[0].field, "total");
        assert!(
            errors[0].message.contains("\"1200.5\""),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn every_wrong_field_is_reported_not_just_the_first() {
        let mut body = plan();
        body["total"] = json!("12,00");
        body["frequency"] = json!("daily");
        body["start_date"] = json!("01.03.2027");
        body["debtor"]["type"] = json!("person");

        assert_eq!(
            fields(parse_plan(&body)),
            ["debtor.type", "total", "frequency", "start_date"]
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        assert_eq!(fields(parse_plan(&json!([1, 2]))), ["body"]);
    }

    #[test]
    fn null_counts_as_absent_for_optional_fields() {
        let mut body = plan();
        body["down_payment"] = Value::Null;
        body["invoices"] = Value::Null;

        assert!(parse_plan(&body).is_ok());
    }

    #[test]
    fn a_down_payment_with_a_bad_date_is_refused_at_that_date() {
        let mut body = plan();
        body["down_payment"] = json!({"amount": "200.00", "date": "tomorrow"});

        assert_eq!(fields(parse_plan(&body)), ["down_payment.date"]);
    }

    #[test]
    fn sepa_identifiers_follow_the_character_set_and_slash_rules() {
        assert!(is_sepa_identifier("MNDT-2027/0001"));
        assert!(!is_sepa_identifier("/MNDT"));
        assert!(!is_sepa_identifier("MNDT//1"));
        assert!(!is_sepa_identifier("MÜLLER-1"));
        assert!(!is_sepa_identifier(&"A".repeat(36)));
    }

    #[test]
    fn plausible_emails_pass_and_obvious_typos_do_not() {
        assert!(is_plausible_email("ana.silva+plans@example.org"));
        for bad in [
            "ana",
            "ana@",
            "@example.org",
            "ana@example",
            "ana silva@example.org",
            "a@b@c.de",
        ] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }
}
