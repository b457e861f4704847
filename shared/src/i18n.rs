//! Every text a debtor or creditor reads, in English, German, French and Dutch, and the
//! formatting of amounts and dates for each language.
//!
//! The texts are one [`Texts`] struct per language, so a missing translation is a compile error,
//! not a blank on a page. Placeholders are written `{name}` and filled with [`fill`]; the doc
//! comment of each field names its placeholders. Texts are plain text: whoever puts them in
//! HTML escapes them (and the values filled in).

use chrono::{Datelike, NaiveDate};

use crate::creditor::Language;
use crate::money::Amount;

/// The texts of one language. Field docs give the English meaning and the placeholders.
#[derive(Debug)]
pub struct Texts {
    // --- the signing page ---
    /// "Sign your direct debit mandate"
    pub page_title: &'static str,
    /// "{creditor} has agreed a payment plan with you. Check it, enter your bank details and
    /// sign the mandate: the instalments are then collected from your account on their dates."
    pub intro: &'static str,
    /// "Language" (label of the language switcher)
    pub language_label: &'static str,
    /// "Your payment plan"
    pub plan_heading: &'static str,
    /// "No." (column: instalment number)
    pub column_number: &'static str,
    /// "Due date"
    pub column_due_date: &'static str,
    /// "Amount"
    pub column_amount: &'static str,
    /// "Down payment" (the kind of the first instalment when there is one)
    pub down_payment: &'static str,
    /// "Total"
    pub total: &'static str,
    /// "Invoices paid by this plan"
    pub invoices: &'static str,
    /// "SEPA Direct Debit Mandate"
    pub mandate_heading: &'static str,
    /// "Creditor"
    pub creditor_label: &'static str,
    /// "Creditor identifier"
    pub creditor_identifier_label: &'static str,
    /// "Mandate reference"
    pub mandate_reference_label: &'static str,
    /// "Type of payment"
    pub payment_type_label: &'static str,
    /// "Recurrent payment"
    pub payment_type_recurrent: &'static str,
    /// "Scheme"
    pub scheme_label: &'static str,
    /// "SEPA Core Direct Debit"
    pub scheme_core: &'static str,
    /// "SEPA Business-to-Business Direct Debit"
    pub scheme_b2b: &'static str,
    /// The Core authorisation, EPC wording: "By signing this mandate form, you authorise (A)
    /// {creditor} to send instructions to your bank to debit your account and (B) your bank to
    /// debit your account in accordance with the instructions from {creditor}."
    pub core_authorisation: &'static str,
    /// The Core refund right, EPC wording: "As part of your rights, you are entitled to a refund
    /// from your bank under the terms and conditions of your agreement with your bank. A refund
    /// must be claimed within 8 weeks starting from the date on which your account was debited.
    /// Your rights are explained in a statement that you can obtain from your bank."
    pub core_rights: &'static str,
    /// The B2B authorisation, EPC wording: "By signing this mandate form, you authorise (A)
    /// {creditor} to send instructions to your bank to debit your account and (B) your bank to
    /// debit your account in accordance with the instructions from {creditor}."
    pub b2b_authorisation: &'static str,
    /// The B2B absence of refund, EPC wording: "This mandate is only intended for
    /// business-to-business transactions. You are not entitled to a refund from your bank after
    /// your account has been debited, but you are entitled to request your bank not to debit
    /// your account up until the day on which the payment is due."
    pub b2b_rights: &'static str,
    /// "You will be told the amount and date of each collection at least {days} days before it."
    pub pre_notification: &'static str,
    /// "Your details"
    pub form_heading: &'static str,
    /// "Account holder" (the debtor's full name)
    pub field_name: &'static str,
    /// "Street"
    pub field_street: &'static str,
    /// "House number (optional)"
    pub field_building: &'static str,
    /// "Postcode"
    pub field_postcode: &'static str,
    /// "Town"
    pub field_town: &'static str,
    /// "Country"
    pub field_country: &'static str,
    /// "IBAN"
    pub field_iban: &'static str,
    /// "Spaces and lower case are fine."
    pub field_iban_hint: &'static str,
    /// "BIC (optional)"
    pub field_bic: &'static str,
    /// "I authorise this SEPA Direct Debit mandate and agree to the payment plan above."
    pub field_accept: &'static str,
    /// "Type your full name to sign"
    pub field_signature_name: &'static str,
    /// "Code from the e-mail"
    pub field_code: &'static str,
    /// "Sign the mandate"
    pub submit_sign: &'static str,
    /// "Send me the code"
    pub submit_send_code: &'static str,
    /// "We sent a 6-digit code to {email}. Enter it below to sign. It is valid for {minutes}
    /// minutes."
    pub code_sent: &'static str,
    /// "Please correct the fields marked below."
    pub error_summary: &'static str,
    /// "Please fill in this field."
    pub error_required: &'static str,
    /// "This is too long: at most {max} characters."
    pub error_too_long: &'static str,
    /// "This IBAN is not valid. Check it against your bank card or statement."
    pub error_iban_invalid: &'static str,
    /// "This account is outside the SEPA area and cannot be debited."
    pub error_iban_not_sepa: &'static str,
    /// "This is not a valid BIC: 8 or 11 letters and digits, e.g. COBADEFFXXX."
    pub error_bic: &'static str,
    /// "Choose a country."
    pub error_country: &'static str,
    /// "Please tick the box to agree to the mandate."
    pub error_accept: &'static str,
    /// "The typed name must match the account holder's name."
    pub error_signature_name: &'static str,
    /// "The code is not correct. {left} tries left."
    pub error_code_wrong: &'static str,
    /// "The code has expired. Ask for a new one."
    pub error_code_expired: &'static str,
    /// "Too many wrong codes. Ask for a new one."
    pub error_code_locked: &'static str,
    /// "The plan changed while you were signing. Please check it again."
    pub error_document_changed: &'static str,
    // --- after signing, and links that do not work ---
    /// "Mandate signed"
    pub confirmed_title: &'static str,
    /// "Thank you, {name}. Your mandate {reference} is signed. {creditor} will collect the
    /// instalments from your account {iban} on the dates above. A copy has been sent to
    /// {email}."
    pub confirmed_text: &'static str,
    /// "Download the mandate (PDF)"
    pub download_document: &'static str,
    /// "This link does not work"
    pub link_unknown_title: &'static str,
    /// "The link is unknown or incomplete. Check that you copied all of it, or ask the sender
    /// for a new one."
    pub link_unknown_text: &'static str,
    /// "This link has already been used"
    pub link_used_title: &'static str,
    /// "The mandate behind this link is signed. There is nothing more to do here."
    pub link_used_text: &'static str,
    /// "This link has expired"
    pub link_expired_title: &'static str,
    /// "Links to sign a mandate are valid for a limited time. Ask the sender for a new one."
    pub link_expired_text: &'static str,
    // --- e-mails ---
    /// Subject to the debtor: "Your direct debit mandate {reference} for {creditor}"
    pub mail_confirmation_subject: &'static str,
    /// Body to the debtor, several lines: "Dear {name},\n\nthank you for signing the SEPA direct
    /// debit mandate {reference} for {creditor}. The mandate is attached as a PDF.\n\n{creditor}
    /// will collect these instalments from your account {iban}:\n\n{schedule}\n\nYou will be
    /// told again at least {days} days before each collection.\n\n{creditor}"
    pub mail_confirmation_body: &'static str,
    /// Subject to the creditor: "Mandate {reference} signed by {debtor}"
    pub mail_creditor_subject: &'static str,
    /// Body to the creditor: "{debtor} signed the SEPA direct debit mandate {reference} for the
    /// plan {plan} ({total}, {count} instalments from {first_date}). The mandate is attached."
    pub mail_creditor_body: &'static str,
    /// Subject of the e-mail code: "{code} is your code to sign the mandate for {creditor}"
    pub mail_code_subject: &'static str,
    /// Body of the e-mail code: "Your code to sign the SEPA direct debit mandate for {creditor}
    /// is {code}. It is valid for {minutes} minutes. If you did not ask for it, ignore this
    /// e-mail."
    pub mail_code_body: &'static str,
    /// Subject of a pre-notification: "Direct debit of {amount} on {date} for {creditor}"
    pub mail_prenotification_subject: &'static str,
    /// Body of a pre-notification: "Dear {name},\n\n{creditor} will collect {amount} from your
    /// account {iban} on {date}: instalment {seq} of {count} of your payment plan, under the
    /// SEPA direct debit mandate {reference} (creditor identifier {creditor_identifier}).\n\n
    /// {creditor}"
    pub mail_prenotification_body: &'static str,
    /// Subject to the creditor: "Mandate {reference} expires on {date}"
    pub mail_expiry_warning_subject: &'static str,
    /// Body to the creditor: "The SEPA direct debit mandate {reference} of {debtor} has had no
    /// collection for almost 36 months and expires on {date}. A collection before then keeps it
    /// alive; after it, the debtor must sign a new mandate."
    pub mail_expiry_warning_body: &'static str,
    /// Subject to the debtor: "Please sign a new direct debit mandate for {creditor}"
    pub mail_resign_subject: &'static str,
    /// Body to the debtor: "Dear {name},\n\nyour SEPA direct debit mandate {reference} for your
    /// payment plan with {creditor} needs to be renewed. To keep paying your instalments by
    /// direct debit, please sign a new mandate here:\n\n{link}\n\nThe link works for {days}
    /// days.\n\n{creditor}"
    pub mail_resign_body: &'static str,
    /// Subject to the debtor: "Direct debit of {amount} for {creditor} did not go through"
    pub mail_failed_subject: &'static str,
    /// Body to the debtor: "Dear {name},\n\nthe direct debit of {amount} due on {date} for
    /// {creditor} did not go through ({reason}).\n\n{next}\n\n{creditor}"
    pub mail_failed_body: &'static str,
    /// "We will try again on {date}; you will be told the amount and date beforehand. Please
    /// make sure the money is in your account."
    pub mail_failed_retry: &'static str,
    /// "Your mandate can no longer be used. You will receive a link to sign a new one."
    pub mail_failed_new_mandate: &'static str,
    /// "{creditor} will contact you about how to go on. You can also reply to this e-mail."
    pub mail_failed_contact: &'static str,
    /// Subject to the creditor: "Plan {plan} of {debtor} is in default"
    pub mail_defaulted_subject: &'static str,
    /// Body to the creditor: "The payment plan {plan} of {debtor} has been in dunning since
    /// {date} without being resolved and is now in default. {open} is still open."
    pub mail_defaulted_body: &'static str,
    // --- the mandate document (PDF) ---
    /// "Debtor"
    pub debtor_label: &'static str,
    /// "Address"
    pub address_label: &'static str,
    /// "Signed"
    pub signed_label: &'static str,
    /// "Signed electronically on {date} at {time} UTC by {name}, {method}."
    pub signed_line: &'static str,
    /// "by typing the name and ticking the consent box"
    pub method_click: &'static str,
    /// "confirmed with a code sent to {email}"
    pub method_email_code: &'static str,
    /// "Document fingerprint (SHA-256)"
    pub document_fingerprint_label: &'static str,
    // --- failures on our side ---
    /// "Something went wrong on our side"
    pub unavailable_title: &'static str,
    /// "Nothing was signed or changed. Please try again in a few minutes."
    pub unavailable_text: &'static str,
}

/// The texts in `language`.
pub fn texts(language: Language) -> &'static Texts {
    match language {
        Language::En => &EN,
        Language::De => &DE,
        Language::Fr => &FR,
        Language::Nl => &NL,
    }
}

/// Replaces each `{name}` in `template` by its value.
///
/// The template is read once from left to right: a value is copied as it is and never scanned
/// for placeholders itself, so a debtor's name that happens to contain `{iban}` stays text. A
/// placeholder with no value, and a brace that opens no placeholder, are kept as they are.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut filled = String::with_capacity(template.len());
    let mut rest = template;

    while let Some(open) = rest.find('{') {
        filled.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(['{', '}']) {
            Some(close) if after[close..].starts_with('}') => {
                let name = &after[..close];
                match values.iter().find(|(key, _)| *key == name) {
                    Some((_, value)) => filled.push_str(value),
                    None => filled.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            _ => {
                filled.push('{');
                rest = after;
            }
        }
    }

    filled.push_str(rest);
    filled
}

/// An amount as a reader of `language` writes it: en `€1,000.00`, de `1.000,00 €`,
/// fr `1 000,00 €` (a no-break space as thousands separator), nl `€ 1.000,00`.
///
/// The spaces are no-break spaces (U+00A0), so an amount never breaks across two lines: before
/// the euro sign in German and French, after it in Dutch, and between the groups of digits in
/// French. French typography would prefer the narrow no-break space (U+202F) between the
/// groups; the wider one is used because every font and e-mail client has it.
pub fn format_amount(amount: Amount, language: Language) -> String {
    let cents = amount.cents().unsigned_abs();
    let (thousands, decimal) = match language {
        Language::En => (',', '.'),
        Language::De | Language::Nl => ('.', ','),
        Language::Fr => (NO_BREAK_SPACE, ','),
    };
    let number = format!(
        "{}{decimal}{:02}",
        group_digits(cents / 100, thousands),
        cents % 100
    );

    match language {
        Language::En => format!("€{number}"),
        Language::De | Language::Fr => format!("{number}{NO_BREAK_SPACE}€"),
        Language::Nl => format!("€{NO_BREAK_SPACE}{number}"),
    }
}

/// The space that keeps a number and its unit, or two groups of digits, on one line.
const NO_BREAK_SPACE: char = '\u{a0}';

/// `1234567` as `1,234,567` with `separator` between groups of three digits.
fn group_digits(number: u64, separator: char) -> String {
    let digits = number.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 * 2);
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            grouped.push(separator);
        }
        grouped.push(digit);
    }
    grouped
}

/// A date in words: en `1 February 2027`, de `1. Februar 2027`, fr `1 février 2027` (and
/// `1er` for the first), nl `1 februari 2027`.
pub fn format_date(date: NaiveDate, language: Language) -> String {
    let day = date.day();
    let month = MONTHS[language_index(language)][date.month0() as usize];
    let year = date.year();

    match language {
        Language::En | Language::Nl => format!("{day} {month} {year}"),
        Language::De => format!("{day}. {month} {year}"),
        Language::Fr if day == 1 => format!("1er {month} {year}"),
        Language::Fr => format!("{day} {month} {year}"),
    }
}

/// The month names, January first, in the order of [`language_index`].
const MONTHS: [[&str; 12]; 4] = [
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    [
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ],
    [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ],
];

/// The position of `language` in the per-language tables of this module: en, de, fr, nl.
fn language_index(language: Language) -> usize {
    match language {
        Language::En => 0,
        Language::De => 1,
        Language::Fr => 2,
        Language::Nl => 3,
    }
}

/// The page language: the `lang` query parameter when it names a supported language, else the
/// debtor's language, else the first supported language of an `Accept-Language` header (by
/// q-value), else English.
///
/// Language tags are compared without regard to case and by their primary subtag, so `lang=DE`
/// and `de-AT` both mean German. In the header, a range with `q=0` is one the reader does not
/// accept, equal q-values keep the order of the header, and the wildcard `*` names no language
/// in particular. Anything malformed (a tag that is not a BCP 47 tag, a q-value that is not
/// one) is skipped, never an error: the page must render whatever the browser sent.
pub fn negotiate(
    lang_parameter: Option<&str>,
    debtor_language: Option<Language>,
    accept_language: Option<&str>,
) -> Language {
    lang_parameter
        .and_then(language_of_tag)
        .or(debtor_language)
        .or_else(|| accept_language.and_then(preferred_language))
        .unwrap_or(Language::En)
}

/// The supported language a BCP 47 language tag (`de`, `de-AT`, `NL-be`) belongs to.
fn language_of_tag(tag: &str) -> Option<Language> {
    let mut subtags = tag.trim().split('-');
    let primary = subtags.next()?;
    let primary_well_formed =
        (2..=8).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic());
    let rest_well_formed =
        subtags.all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !primary_well_formed || !rest_well_formed {
        return None;
    }
    Language::parse(&primary.to_ascii_lowercase())
}

/// The supported language an `Accept-Language` header weighs highest, if any.
fn preferred_language(header: &str) -> Option<Language> {
    let mut best: Option<(u16, Language)> = None;

    for item in header.split(',') {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or_default();
        // A weight is the only parameter HTTP defines here; anything else makes the entry
        // malformed.
        let quality = parts.try_fold(1000, |_, parameter| match parameter.split_once('=') {
            Some((key, value)) if key.trim().eq_ignore_ascii_case("q") => {
                parse_quality(value.trim())
            }
            _ => None,
        });
        let Some(quality) = quality.filter(|q| *q > 0) else {
            continue;
        };
        let Some(language) = language_of_tag(range) else {
            continue;
        };
        if best.is_none_or(|(best_quality, _)| quality > best_quality) {
            best = Some((quality, language));
        }
    }

    best.map(|(_, language)| language)
}

/// A q-value (`1`, `0.8`, `0.125`) in thousandths, as HTTP defines it: `0` or `1`, then at most
/// three decimals, and no more than 1.
fn parse_quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let whole: u16 = match whole {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0, |value, digit| value * 10 + u16::from(digit - b'0'));
    let quality = whole + thousandths;
    (quality <= 1000).then_some(quality)
}

/// The name of a SEPA country (an ISO code for which `identifiers::is_sepa_country` holds) in
/// `language`; `None` for other codes.
///
/// The code is matched exactly, upper case, as [`crate::identifiers::is_sepa_country`] does.
pub fn country_name(code: &str, language: Language) -> Option<&'static str> {
    SEPA_COUNTRY_NAMES
        .iter()
        .find(|(country, _)| *country == code)
        .map(|(_, names)| names[language_index(language)])
}

/// The ISO codes of the SEPA countries and territories, in alphabetical order of the code:
/// the choices of a country field.
pub fn sepa_countries() -> impl Iterator<Item = &'static str> {
    SEPA_COUNTRY_NAMES.iter().map(|(code, _)| *code)
}

/// The name of every country and territory in the SEPA scheme, by ISO code, in the order of
/// [`language_index`]. The list is [`crate::identifiers::is_sepa_country`]'s, which a test
/// holds it to; the names are the short forms each language uses in addresses.
const SEPA_COUNTRY_NAMES: [(&str, [&str; 4]); 54] = [
    ("AD", ["Andorra", "Andorra", "Andorre", "Andorra"]),
    ("AL", ["Albania", "Albanien", "Albanie", "Albanië"]),
    ("AT", ["Austria", "Österreich", "Autriche", "Oostenrijk"]),
    (
        "AX",
        ["Åland Islands", "Ålandinseln", "Îles Åland", "Åland"],
    ),
    ("BE", ["Belgium", "Belgien", "Belgique", "België"]),
    ("BG", ["Bulgaria", "Bulgarien", "Bulgarie", "Bulgarije"]),
    (
        "BL",
        [
            "Saint Barthélemy",
            "Saint-Barthélemy",
            "Saint-Barthélemy",
            "Saint-Barthélemy",
        ],
    ),
    ("CH", ["Switzerland", "Schweiz", "Suisse", "Zwitserland"]),
    ("CY", ["Cyprus", "Zypern", "Chypre", "Cyprus"]),
    ("CZ", ["Czechia", "Tschechien", "Tchéquie", "Tsjechië"]),
    ("DE", ["Germany", "Deutschland", "Allemagne", "Duitsland"]),
    ("DK", ["Denmark", "Dänemark", "Danemark", "Denemarken"]),
    ("EE", ["Estonia", "Estland", "Estonie", "Estland"]),
    ("ES", ["Spain", "Spanien", "Espagne", "Spanje"]),
    ("FI", ["Finland", "Finnland", "Finlande", "Finland"]),
    ("FR", ["France", "Frankreich", "France", "Frankrijk"]),
    (
        "GB",
        [
            "United Kingdom",
            "Vereinigtes Königreich",
            "Royaume-Uni",
            "Verenigd Koninkrijk",
        ],
    ),
    (
        "GF",
        [
            "French Guiana",
            "Französisch-Guayana",
            "Guyane",
            "Frans-Guyana",
        ],
    ),
    ("GG", ["Guernsey", "Guernsey", "Guernesey", "Guernsey"]),
    ("GI", ["Gibraltar", "Gibraltar", "Gibraltar", "Gibraltar"]),
    (
        "GP",
        ["Guadeloupe", "Guadeloupe", "Guadeloupe", "Guadeloupe"],
    ),
    ("GR", ["Greece", "Griechenland", "Grèce", "Griekenland"]),
    ("HR", ["Croatia", "Kroatien", "Croatie", "Kroatië"]),
    ("HU", ["Hungary", "Ungarn", "Hongrie", "Hongarije"]),
    ("IE", ["Ireland", "Irland", "Irlande", "Ierland"]),
    (
        "IM",
        ["Isle of Man", "Isle of Man", "Île de Man", "Isle of Man"],
    ),
    ("IS", ["Iceland", "Island", "Islande", "IJsland"]),
    ("IT", ["Italy", "Italien", "Italie", "Italië"]),
    ("JE", ["Jersey", "Jersey", "Jersey", "Jersey"]),
    (
        "LI",
        [
            "Liechtenstein",
            "Liechtenstein",
            "Liechtenstein",
            "Liechtenstein",
        ],
    ),
    ("LT", ["Lithuania", "Litauen", "Lituanie", "Litouwen"]),
    ("LU", ["Luxembourg", "Luxemburg", "Luxembourg", "Luxemburg"]),
    ("LV", ["Latvia", "Lettland", "Lettonie", "Letland"]),
    ("MC", ["Monaco", "Monaco", "Monaco", "Monaco"]),
    ("MD", ["Moldova", "Moldau", "Moldavie", "Moldavië"]),
    (
        "ME",
        ["Montenegro", "Montenegro", "Monténégro", "Montenegro"],
    ),
    (
        "MF",
        [
            "Saint Martin (French part)",
            "Saint-Martin (französischer Teil)",
            "Saint-Martin (partie française)",
            "Saint-Martin (Franse deel)",
        ],
    ),
    (
        "MK",
        [
            "North Macedonia",
            "Nordmazedonien",
            "Macédoine du Nord",
            "Noord-Macedonië",
        ],
    ),
    (
        "MQ",
        ["Martinique", "Martinique", "Martinique", "Martinique"],
    ),
    ("MT", ["Malta", "Malta", "Malte", "Malta"]),
    (
        "NL",
        ["Netherlands", "Niederlande", "Pays-Bas", "Nederland"],
    ),
    ("NO", ["Norway", "Norwegen", "Norvège", "Noorwegen"]),
    ("PL", ["Poland", "Polen", "Pologne", "Polen"]),
    (
        "PM",
        [
            "Saint Pierre and Miquelon",
            "Saint-Pierre und Miquelon",
            "Saint-Pierre-et-Miquelon",
            "Saint-Pierre en Miquelon",
        ],
    ),
    ("PT", ["Portugal", "Portugal", "Portugal", "Portugal"]),
    ("RE", ["Réunion", "Réunion", "La Réunion", "Réunion"]),
    ("RO", ["Romania", "Rumänien", "Roumanie", "Roemenië"]),
    ("RS", ["Serbia", "Serbien", "Serbie", "Servië"]),
    ("SE", ["Sweden", "Schweden", "Suède", "Zweden"]),
    ("SI", ["Slovenia", "Slowenien", "Slovénie", "Slovenië"]),
    ("SK", ["Slovakia", "Slowakei", "Slovaquie", "Slowakije"]),
    (
        "SM",
        ["San Marino", "San Marino", "Saint-Marin", "San Marino"],
    ),
    (
        "VA",
        ["Vatican City", "Vatikanstadt", "Vatican", "Vaticaanstad"],
    ),
    ("YT", ["Mayotte", "Mayotte", "Mayotte", "Mayotte"]),
];

/// English, the fallback when nothing better is known.
static EN: Texts = Texts {
    page_title: "Sign your direct debit mandate",
    intro: "{creditor} has agreed a payment plan with you. Check it, enter your bank details and \
        sign the mandate: the instalments are then collected from your account on their dates.",
    language_label: "Language",
    plan_heading: "Your payment plan",
    column_number: "No.",
    column_due_date: "Due date",
    column_amount: "Amount",
    down_payment: "Down payment",
    total: "Total",
    invoices: "Invoices paid by this plan",
    mandate_heading: "SEPA Direct Debit Mandate",
    creditor_label: "Creditor",
    creditor_identifier_label: "Creditor identifier",
    mandate_reference_label: "Mandate reference",
    payment_type_label: "Type of payment",
    payment_type_recurrent: "Recurrent payment",
    scheme_label: "Scheme",
    scheme_core: "SEPA Core Direct Debit",
    scheme_b2b: "SEPA Business-to-Business Direct Debit",
    core_authorisation: "By signing this mandate form, you authorise (A) {creditor} to send \
        instructions to your bank to debit your account and (B) your bank to debit your account \
        in accordance with the instructions from {creditor}.",
    core_rights: "As part of your rights, you are entitled to a refund from your bank under the \
        terms and conditions of your agreement with your bank. A refund must be claimed within \
        8 weeks starting from the date on which your account was debited. Your rights are \
        explained in a statement that you can obtain from your bank.",
    b2b_authorisation: "By signing this mandate form, you authorise (A) {creditor} to send \
        instructions to your bank to debit your account and (B) your bank to debit your account \
        in accordance with the instructions from {creditor}.",
    b2b_rights: "This mandate is only intended for business-to-business transactions. You are \
        not entitled to a refund from your bank after your account has been debited, but you \
        are entitled to request your bank not to debit your account up until the day on which \
        the payment is due.",
    pre_notification: "You will be told the amount and date of each collection at least {days} \
        days before it.",
    form_heading: "Your details",
    field_name: "Account holder",
    field_street: "Street",
    field_building: "House number (optional)",
    field_postcode: "Postcode",
    field_town: "Town",
    field_country: "Country",
    field_iban: "IBAN",
    field_iban_hint: "Spaces and lower case are fine.",
    field_bic: "BIC (optional)",
    field_accept: "I authorise this SEPA Direct Debit mandate and agree to the payment plan \
        above.",
    field_signature_name: "Type your full name to sign",
    field_code: "Code from the e-mail",
    submit_sign: "Sign the mandate",
    submit_send_code: "Send me the code",
    code_sent: "We sent a 6-digit code to {email}. Enter it below to sign. It is valid for \
        {minutes} minutes.",
    error_summary: "Please correct the fields marked below.",
    error_required: "Please fill in this field.",
    error_too_long: "This is too long: at most {max} characters.",
    error_iban_invalid: "This IBAN is not valid. Check it against your bank card or statement.",
    error_iban_not_sepa: "This account is outside the SEPA area and cannot be debited.",
    error_bic: "This is not a valid BIC: 8 or 11 letters and digits, e.g. COBADEFFXXX.",
    error_country: "Choose a country.",
    error_accept: "Please tick the box to agree to the mandate.",
    error_signature_name: "The typed name must match the account holder's name.",
    error_code_wrong: "The code is not correct. {left} tries left.",
    error_code_expired: "The code has expired. Ask for a new one.",
    error_code_locked: "Too many wrong codes. Ask for a new one.",
    error_document_changed: "The plan changed while you were signing. Please check it again.",
    confirmed_title: "Mandate signed",
    confirmed_text: "Thank you, {name}. Your mandate {reference} is signed. {creditor} will \
        collect the instalments from your account {iban} on the dates above. A copy has been \
        sent to {email}.",
    download_document: "Download the mandate (PDF)",
    link_unknown_title: "This link does not work",
    link_unknown_text: "The link is unknown or incomplete. Check that you copied all of it, or \
        ask the sender for a new one.",
    link_used_title: "This link has already been used",
    link_used_text: "The mandate behind this link is signed. There is nothing more to do here.",
    link_expired_title: "This link has expired",
    link_expired_text: "Links to sign a mandate are valid for a limited time. Ask the sender for \
        a new one.",
    mail_confirmation_subject: "Your direct debit mandate {reference} for {creditor}",
    mail_confirmation_body: "Dear {name},\n\n\
        Thank you for signing the SEPA direct debit mandate {reference} for {creditor}. The \
        mandate is attached as a PDF.\n\n\
        {creditor} will collect these instalments from your account {iban}:\n\n\
        {schedule}\n\n\
        You will be told again at least {days} days before each collection.\n\n\
        {creditor}",
    mail_creditor_subject: "Mandate {reference} signed by {debtor}",
    mail_creditor_body: "{debtor} signed the SEPA direct debit mandate {reference} for the plan \
        {plan} ({total}, {count} instalments from {first_date}). The mandate is attached.",
    mail_code_subject: "{code} is your code to sign the mandate for {creditor}",
    mail_code_body: "Your code to sign the SEPA direct debit mandate for {creditor} is {code}. \
        It is valid for {minutes} minutes. If you did not ask for it, ignore this e-mail.",
    mail_prenotification_subject: "Direct debit of {amount} on {date} for {creditor}",
    mail_prenotification_body: "Dear {name},\n\n{creditor} will collect {amount} from your account {iban} on {date}: instalment {seq} of {count} of your payment plan, under the SEPA direct debit mandate {reference} (creditor identifier {creditor_identifier}).\n\n{creditor}",
    mail_expiry_warning_subject: "Mandate {reference} expires on {date}",
    mail_expiry_warning_body: "The SEPA direct debit mandate {reference} of {debtor} has had no collection for almost 36 months and expires on {date}. A collection before then keeps it alive; after it, the debtor must sign a new mandate.",
    mail_resign_subject: "Please sign a new direct debit mandate for {creditor}",
    mail_resign_body: "Dear {name},\n\nyour SEPA direct debit mandate {reference} for your payment plan with {creditor} needs to be renewed. To keep paying your instalments by direct debit, please sign a new mandate here:\n\n{link}\n\nThe link works for {days} days.\n\n{creditor}",
    mail_failed_subject: "Direct debit of {amount} for {creditor} did not go through",
    mail_failed_body: "Dear {name},\n\nthe direct debit of {amount} due on {date} for {creditor} did not go through ({reason}).\n\n{next}\n\n{creditor}",
    mail_failed_retry: "We will try again on {date}; you will be told the amount and date beforehand. Please make sure the money is in your account.",
    mail_failed_new_mandate: "Your mandate can no longer be used. You will receive a link to sign a new one.",
    mail_failed_contact: "{creditor} will contact you about how to go on. You can also reply to this e-mail.",
    mail_defaulted_subject: "Plan {plan} of {debtor} is in default",
    mail_defaulted_body: "The payment plan {plan} of {debtor} has been in dunning since {date} without being resolved and is now in default. {open} is still open.",
    debtor_label: "Debtor",
    address_label: "Address",
    signed_label: "Signed",
    signed_line: "Signed electronically on {date} at {time} UTC by {name}, {method}.",
    method_click: "by typing the name and ticking the consent box",
    method_email_code: "confirmed with a code sent to {email}",
    document_fingerprint_label: "Document fingerprint (SHA-256)",
    unavailable_title: "Something went wrong on our side",
    unavailable_text: "Nothing was signed or changed. Please try again in a few minutes.",
};

/// German. The mandate texts are the wording of the German banks' SEPA-Lastschriftmandat and
/// SEPA-Firmenlastschrift-Mandat forms, with the "Ich/Wir" forms those forms give, since either
/// a person or a company may sign.
static DE: Texts = Texts {
    page_title: "Ihr Lastschriftmandat unterschreiben",
    intro: "{creditor} hat mit Ihnen einen Zahlungsplan vereinbart. Prüfen Sie ihn, geben Sie \
        Ihre Bankverbindung ein und unterschreiben Sie das Mandat: Die Raten werden dann zu \
        ihren Terminen von Ihrem Konto eingezogen.",
    language_label: "Sprache",
    plan_heading: "Ihr Zahlungsplan",
    column_number: "Nr.",
    column_due_date: "Fällig am",
    column_amount: "Betrag",
    down_payment: "Anzahlung",
    total: "Gesamt",
    invoices: "Mit diesem Plan bezahlte Rechnungen",
    mandate_heading: "SEPA-Lastschriftmandat",
    creditor_label: "Zahlungsempfänger",
    creditor_identifier_label: "Gläubiger-Identifikationsnummer",
    mandate_reference_label: "Mandatsreferenz",
    payment_type_label: "Zahlungsart",
    payment_type_recurrent: "Wiederkehrende Zahlung",
    scheme_label: "Verfahren",
    scheme_core: "SEPA-Basislastschrift",
    scheme_b2b: "SEPA-Firmenlastschrift",
    core_authorisation: "Ich ermächtige/Wir ermächtigen {creditor}, Zahlungen von meinem/unserem \
        Konto mittels Lastschrift einzuziehen. Zugleich weise ich mein/weisen wir unser \
        Kreditinstitut an, die von {creditor} auf mein/unser Konto gezogenen Lastschriften \
        einzulösen.",
    core_rights: "Hinweis: Ich kann/Wir können innerhalb von acht Wochen, beginnend mit dem \
        Belastungsdatum, die Erstattung des belasteten Betrages verlangen. Es gelten dabei die \
        mit meinem/unserem Kreditinstitut vereinbarten Bedingungen.",
    b2b_authorisation: "Ich ermächtige/Wir ermächtigen {creditor}, Zahlungen von meinem/unserem \
        Konto mittels Lastschrift einzuziehen. Zugleich weise ich mein/weisen wir unser \
        Kreditinstitut an, die von {creditor} auf mein/unser Konto gezogenen Lastschriften \
        einzulösen.",
    b2b_rights: "Hinweis: Dieses Lastschriftmandat dient nur dem Einzug von Lastschriften, die \
        auf Konten von Unternehmen gezogen sind. Ich bin/Wir sind nicht berechtigt, nach der \
        erfolgten Einlösung eine Erstattung des belasteten Betrages zu verlangen. Ich bin/Wir \
        sind berechtigt, mein/unser Kreditinstitut bis zum Fälligkeitstag anzuweisen, \
        Lastschriften nicht einzulösen.",
    pre_notification: "Betrag und Datum jedes Einzugs werden Ihnen mindestens {days} Tage vorher \
        mitgeteilt.",
    form_heading: "Ihre Angaben",
    field_name: "Kontoinhaber",
    field_street: "Straße",
    field_building: "Hausnummer (optional)",
    field_postcode: "Postleitzahl",
    field_town: "Ort",
    field_country: "Land",
    field_iban: "IBAN",
    field_iban_hint: "Leerzeichen und Kleinbuchstaben sind kein Problem.",
    field_bic: "BIC (optional)",
    field_accept: "Ich erteile dieses SEPA-Lastschriftmandat und bin mit dem obigen \
        Zahlungsplan einverstanden.",
    field_signature_name: "Geben Sie zum Unterschreiben Ihren vollständigen Namen ein",
    field_code: "Code aus der E-Mail",
    submit_sign: "Mandat unterschreiben",
    submit_send_code: "Code zusenden",
    code_sent: "Wir haben einen 6-stelligen Code an {email} gesendet. Geben Sie ihn unten ein, \
        um zu unterschreiben. Er ist {minutes} Minuten gültig.",
    error_summary: "Bitte korrigieren Sie die unten markierten Felder.",
    error_required: "Bitte füllen Sie dieses Feld aus.",
    error_too_long: "Das ist zu lang: höchstens {max} Zeichen.",
    error_iban_invalid: "Diese IBAN ist ungültig. Bitte vergleichen Sie sie mit Ihrer Bankkarte \
        oder Ihrem Kontoauszug.",
    error_iban_not_sepa: "Dieses Konto liegt außerhalb des SEPA-Raums und kann nicht belastet \
        werden.",
    error_bic: "Das ist keine gültige BIC: 8 oder 11 Buchstaben und Ziffern, z. B. COBADEFFXXX.",
    error_country: "Wählen Sie ein Land.",
    error_accept: "Bitte setzen Sie das Häkchen, um dem Mandat zuzustimmen.",
    error_signature_name: "Der eingegebene Name muss mit dem Namen des Kontoinhabers \
        übereinstimmen.",
    error_code_wrong: "Der Code ist nicht richtig. Verbleibende Versuche: {left}.",
    error_code_expired: "Der Code ist abgelaufen. Fordern Sie einen neuen an.",
    error_code_locked: "Zu viele falsche Codes. Fordern Sie einen neuen an.",
    error_document_changed: "Der Plan wurde geändert, während Sie unterschrieben haben. Bitte \
        prüfen Sie ihn noch einmal.",
    confirmed_title: "Mandat unterschrieben",
    confirmed_text: "Vielen Dank, {name}. Ihr Mandat {reference} ist unterschrieben. {creditor} \
        zieht die Raten zu den oben genannten Terminen von Ihrem Konto {iban} ein. Eine Kopie \
        wurde an {email} gesendet.",
    download_document: "Mandat herunterladen (PDF)",
    link_unknown_title: "Dieser Link funktioniert nicht",
    link_unknown_text: "Der Link ist unbekannt oder unvollständig. Prüfen Sie, ob Sie ihn \
        vollständig kopiert haben, oder bitten Sie den Absender um einen neuen.",
    link_used_title: "Dieser Link wurde bereits verwendet",
    link_used_text: "Das Mandat zu diesem Link ist unterschrieben. Hier ist nichts mehr zu tun.",
    link_expired_title: "Dieser Link ist abgelaufen",
    link_expired_text: "Links zum Unterschreiben eines Mandats sind nur begrenzte Zeit gültig. \
        Bitten Sie den Absender um einen neuen.",
    mail_confirmation_subject: "Ihr Lastschriftmandat {reference} für {creditor}",
    mail_confirmation_body: "Guten Tag {name},\n\n\
        vielen Dank, dass Sie das SEPA-Lastschriftmandat {reference} für {creditor} \
        unterschrieben haben. Das Mandat finden Sie als PDF im Anhang.\n\n\
        {creditor} zieht diese Raten von Ihrem Konto {iban} ein:\n\n\
        {schedule}\n\n\
        Vor jedem Einzug werden Sie mindestens {days} Tage vorher noch einmal benachrichtigt.\n\n\
        {creditor}",
    mail_creditor_subject: "Mandat {reference} von {debtor} unterschrieben",
    mail_creditor_body: "{debtor} hat das SEPA-Lastschriftmandat {reference} für den Plan \
        {plan} ({total}, {count} Raten ab {first_date}) unterschrieben. Das Mandat ist \
        beigefügt.",
    mail_code_subject: "{code} ist Ihr Code zum Unterschreiben des Mandats für {creditor}",
    mail_code_body: "Ihr Code zum Unterschreiben des SEPA-Lastschriftmandats für {creditor} \
        lautet {code}. Er ist {minutes} Minuten gültig. Wenn Sie ihn nicht angefordert haben, \
        ignorieren Sie diese E-Mail bitte.",
    mail_prenotification_subject: "Lastschrift über {amount} am {date} für {creditor}",
    mail_prenotification_body: "Guten Tag {name},\n\n{creditor} zieht am {date} {amount} von Ihrem Konto {iban} ein: Rate {seq} von {count} Ihres Zahlungsplans, mit dem SEPA-Lastschriftmandat {reference} (Gläubiger-Identifikationsnummer {creditor_identifier}).\n\n{creditor}",
    mail_expiry_warning_subject: "Mandat {reference} verfällt am {date}",
    mail_expiry_warning_body: "Das SEPA-Lastschriftmandat {reference} von {debtor} wurde seit fast 36 Monaten nicht genutzt und verfällt am {date}. Ein Einzug vorher hält es gültig; danach muss der Zahlungspflichtige ein neues Mandat unterschreiben.",
    mail_resign_subject: "Bitte unterschreiben Sie ein neues Lastschriftmandat für {creditor}",
    mail_resign_body: "Guten Tag {name},\n\nIhr SEPA-Lastschriftmandat {reference} für Ihren Zahlungsplan bei {creditor} muss erneuert werden. Damit Ihre Raten weiter per Lastschrift eingezogen werden können, unterschreiben Sie bitte hier ein neues Mandat:\n\n{link}\n\nDer Link ist {days} Tage gültig.\n\n{creditor}",
    mail_failed_subject: "Lastschrift über {amount} für {creditor} nicht eingelöst",
    mail_failed_body: "Guten Tag {name},\n\ndie Lastschrift über {amount} zum {date} für {creditor} wurde nicht eingelöst ({reason}).\n\n{next}\n\n{creditor}",
    mail_failed_retry: "Wir versuchen es am {date} erneut; Betrag und Datum erfahren Sie vorher. Bitte sorgen Sie für ausreichende Deckung auf Ihrem Konto.",
    mail_failed_new_mandate: "Ihr Mandat kann nicht mehr genutzt werden. Sie erhalten einen Link, um ein neues zu unterschreiben.",
    mail_failed_contact: "{creditor} meldet sich bei Ihnen, wie es weitergeht. Sie können auch auf diese E-Mail antworten.",
    mail_defaulted_subject: "Plan {plan} von {debtor} ist in Verzug",
    mail_defaulted_body: "Der Zahlungsplan {plan} von {debtor} ist seit dem {date} im Mahnverfahren, ohne dass er geklärt wurde, und nun in Verzug. Offen sind noch {open}.",
    debtor_label: "Zahlungspflichtiger",
    address_label: "Anschrift",
    signed_label: "Unterschrieben",
    signed_line: "Elektronisch unterschrieben am {date} um {time} UTC von {name}, {method}.",
    method_click: "durch Eingabe des Namens und Ankreuzen des Zustimmungsfelds",
    method_email_code: "bestätigt mit einem an {email} gesendeten Code",
    document_fingerprint_label: "Fingerabdruck des Dokuments (SHA-256)",
    unavailable_title: "Bei uns ist etwas schiefgelaufen",
    unavailable_text: "Es wurde nichts unterschrieben oder geändert. Bitte versuchen Sie es in ein paar Minuten noch einmal.",
};

/// French. The Core mandate texts are the wording French banks print on their mandate forms;
/// the B2B refund text renders the EPC wording in the same terms. A no-break space stands before
/// a colon, as French typography wants.
static FR: Texts = Texts {
    page_title: "Signez votre mandat de prélèvement",
    intro: "{creditor} a convenu avec vous d'un échéancier de paiement. Vérifiez-le, saisissez \
        vos coordonnées bancaires et signez le mandat\u{a0}: les échéances seront ensuite \
        prélevées sur votre compte aux dates prévues.",
    language_label: "Langue",
    plan_heading: "Votre échéancier",
    column_number: "N°",
    column_due_date: "Échéance",
    column_amount: "Montant",
    down_payment: "Acompte",
    total: "Total",
    invoices: "Factures réglées par cet échéancier",
    mandate_heading: "Mandat de prélèvement SEPA",
    creditor_label: "Créancier",
    creditor_identifier_label: "Identifiant créancier SEPA",
    mandate_reference_label: "Référence unique du mandat",
    payment_type_label: "Type de paiement",
    payment_type_recurrent: "Paiement récurrent",
    scheme_label: "Type de prélèvement",
    scheme_core: "Prélèvement SEPA Core",
    scheme_b2b: "Prélèvement SEPA interentreprises (B2B)",
    core_authorisation: "En signant ce formulaire de mandat, vous autorisez (A) {creditor} à \
        envoyer des instructions à votre banque pour débiter votre compte, et (B) votre banque \
        à débiter votre compte conformément aux instructions de {creditor}.",
    core_rights: "Vous bénéficiez du droit d'être remboursé par votre banque selon les \
        conditions décrites dans la convention que vous avez passée avec elle. Une demande de \
        remboursement doit être présentée dans les 8 semaines suivant la date de débit de votre \
        compte pour un prélèvement autorisé. Vos droits concernant le présent mandat sont \
        expliqués dans un document que vous pouvez obtenir auprès de votre banque.",
    b2b_authorisation: "En signant ce formulaire de mandat, vous autorisez (A) {creditor} à \
        envoyer des instructions à votre banque pour débiter votre compte, et (B) votre banque \
        à débiter votre compte conformément aux instructions de {creditor}.",
    b2b_rights: "Ce mandat est destiné uniquement aux transactions entre entreprises. Vous \
        n'avez pas le droit d'être remboursé par votre banque une fois que votre compte a été \
        débité, mais vous avez le droit de demander à votre banque de ne pas débiter votre \
        compte jusqu'au jour où le paiement est dû.",
    pre_notification: "Le montant et la date de chaque prélèvement vous seront communiqués au \
        moins {days} jours à l'avance.",
    form_heading: "Vos coordonnées",
    field_name: "Titulaire du compte",
    field_street: "Rue",
    field_building: "Numéro (facultatif)",
    field_postcode: "Code postal",
    field_town: "Ville",
    field_country: "Pays",
    field_iban: "IBAN",
    field_iban_hint: "Les espaces et les minuscules sont acceptés.",
    field_bic: "BIC (facultatif)",
    field_accept: "J'autorise ce mandat de prélèvement SEPA et j'accepte l'échéancier \
        ci-dessus.",
    field_signature_name: "Saisissez votre nom complet pour signer",
    field_code: "Code reçu par e-mail",
    submit_sign: "Signer le mandat",
    submit_send_code: "M'envoyer le code",
    code_sent: "Nous avons envoyé un code à 6 chiffres à {email}. Saisissez-le ci-dessous pour \
        signer. Il est valable {minutes} minutes.",
    error_summary: "Veuillez corriger les champs signalés ci-dessous.",
    error_required: "Veuillez remplir ce champ.",
    error_too_long: "Ce texte est trop long\u{a0}: {max} caractères au maximum.",
    error_iban_invalid: "Cet IBAN n'est pas valide. Vérifiez-le sur votre carte bancaire ou \
        votre relevé de compte.",
    error_iban_not_sepa: "Ce compte est situé hors de la zone SEPA et ne peut pas être débité.",
    error_bic: "Ce BIC n'est pas valide\u{a0}: 8 ou 11 lettres et chiffres, par exemple \
        COBADEFFXXX.",
    error_country: "Choisissez un pays.",
    error_accept: "Veuillez cocher la case pour accepter le mandat.",
    error_signature_name: "Le nom saisi doit correspondre à celui du titulaire du compte.",
    error_code_wrong: "Le code n'est pas correct. Essais restants\u{a0}: {left}.",
    error_code_expired: "Le code a expiré. Demandez-en un nouveau.",
    error_code_locked: "Trop de codes erronés. Demandez-en un nouveau.",
    error_document_changed: "L'échéancier a été modifié pendant que vous signiez. Veuillez le \
        vérifier à nouveau.",
    confirmed_title: "Mandat signé",
    confirmed_text: "Merci, {name}. Votre mandat {reference} est signé. {creditor} prélèvera \
        les échéances sur votre compte {iban} aux dates indiquées ci-dessus. Une copie a été \
        envoyée à {email}.",
    download_document: "Télécharger le mandat (PDF)",
    link_unknown_title: "Ce lien ne fonctionne pas",
    link_unknown_text: "Ce lien est inconnu ou incomplet. Vérifiez que vous l'avez copié en \
        entier, ou demandez-en un nouveau à l'expéditeur.",
    link_used_title: "Ce lien a déjà été utilisé",
    link_used_text: "Le mandat de ce lien est signé. Il n'y a plus rien à faire ici.",
    link_expired_title: "Ce lien a expiré",
    link_expired_text: "Les liens de signature d'un mandat sont valables pour une durée \
        limitée. Demandez-en un nouveau à l'expéditeur.",
    mail_confirmation_subject: "Votre mandat de prélèvement {reference} pour {creditor}",
    mail_confirmation_body: "Bonjour {name},\n\n\
        Merci d'avoir signé le mandat de prélèvement SEPA {reference} pour {creditor}. Vous \
        trouverez le mandat en pièce jointe au format PDF.\n\n\
        {creditor} prélèvera les échéances suivantes sur votre compte {iban}\u{a0}:\n\n\
        {schedule}\n\n\
        Vous recevrez un nouvel avis au moins {days} jours avant chaque prélèvement.\n\n\
        {creditor}",
    mail_creditor_subject: "Mandat {reference} signé par {debtor}",
    mail_creditor_body: "{debtor} a signé le mandat de prélèvement SEPA {reference} pour \
        l'échéancier {plan} ({total}, {count} échéances à partir du {first_date}). Le mandat \
        est joint.",
    mail_code_subject: "{code} est votre code pour signer le mandat de {creditor}",
    mail_code_body: "Votre code pour signer le mandat de prélèvement SEPA de {creditor} est \
        {code}. Il est valable {minutes} minutes. Si vous ne l'avez pas demandé, ignorez cet \
        e-mail.",
    mail_prenotification_subject: "Prélèvement de {amount} le {date} pour {creditor}",
    mail_prenotification_body: "Bonjour {name},\n\n{creditor} prélèvera {amount} sur votre compte {iban} le {date} : échéance {seq} sur {count} de votre plan de paiement, au titre du mandat de prélèvement SEPA {reference} (identifiant créancier {creditor_identifier}).\n\n{creditor}",
    mail_expiry_warning_subject: "Le mandat {reference} expire le {date}",
    mail_expiry_warning_body: "Le mandat de prélèvement SEPA {reference} de {debtor} n’a servi à aucun prélèvement depuis près de 36 mois et expire le {date}. Un prélèvement avant cette date le maintient ; ensuite, le débiteur devra signer un nouveau mandat.",
    mail_resign_subject: "Veuillez signer un nouveau mandat de prélèvement pour {creditor}",
    mail_resign_body: "Bonjour {name},\n\nvotre mandat de prélèvement SEPA {reference} pour votre plan de paiement avec {creditor} doit être renouvelé. Pour continuer à payer vos échéances par prélèvement, veuillez signer un nouveau mandat ici :\n\n{link}\n\nLe lien est valable {days} jours.\n\n{creditor}",
    mail_failed_subject: "Le prélèvement de {amount} pour {creditor} n\u{2019}a pas abouti",
    mail_failed_body: "Bonjour {name},\n\nle prélèvement de {amount} prévu le {date} pour {creditor} n\u{2019}a pas abouti ({reason}).\n\n{next}\n\n{creditor}",
    mail_failed_retry: "Nous essaierons à nouveau le {date} ; vous serez informé du montant et de la date auparavant. Veuillez vous assurer que votre compte est approvisionné.",
    mail_failed_new_mandate: "Votre mandat ne peut plus être utilisé. Vous recevrez un lien pour en signer un nouveau.",
    mail_failed_contact: "{creditor} vous contactera pour convenir de la suite. Vous pouvez aussi répondre à cet e-mail.",
    mail_defaulted_subject: "Le plan {plan} de {debtor} est en défaut",
    mail_defaulted_body: "Le plan de paiement {plan} de {debtor} est en recouvrement depuis le {date} sans avoir été régularisé et est désormais en défaut. Il reste {open} à payer.",
    debtor_label: "Débiteur",
    address_label: "Adresse",
    signed_label: "Signé",
    signed_line: "Signé électroniquement le {date} à {time} UTC par {name}, {method}.",
    method_click: "en saisissant le nom et en cochant la case de consentement",
    method_email_code: "confirmé par un code envoyé à {email}",
    document_fingerprint_label: "Empreinte du document (SHA-256)",
    unavailable_title: "Un problème est survenu de notre côté",
    unavailable_text: "Rien n’a été signé ni modifié. Veuillez réessayer dans quelques minutes.",
};

/// Dutch. The Core mandate texts are the wording of the Dutch model form for a "doorlopende
/// machtiging"; the B2B texts render the EPC wording in the terms Dutch banks use for a
/// "bedrijfsincasso".
static NL: Texts = Texts {
    page_title: "Onderteken uw incassomachtiging",
    intro: "{creditor} heeft een betalingsregeling met u afgesproken. Controleer deze, vul uw \
        bankgegevens in en onderteken de machtiging: de termijnen worden dan op hun vervaldatum \
        van uw rekening afgeschreven.",
    language_label: "Taal",
    plan_heading: "Uw betalingsregeling",
    column_number: "Nr.",
    column_due_date: "Vervaldatum",
    column_amount: "Bedrag",
    down_payment: "Aanbetaling",
    total: "Totaal",
    invoices: "Facturen die met deze regeling worden betaald",
    mandate_heading: "SEPA-incassomachtiging",
    creditor_label: "Incassant",
    creditor_identifier_label: "Incassant-ID",
    mandate_reference_label: "Kenmerk machtiging",
    payment_type_label: "Soort betaling",
    payment_type_recurrent: "Doorlopende betaling",
    scheme_label: "Soort incasso",
    scheme_core: "Standaard Europese incasso",
    scheme_b2b: "Zakelijke Europese incasso",
    core_authorisation: "Door ondertekening van dit formulier geeft u toestemming aan {creditor} \
        om doorlopende incasso-opdrachten te sturen naar uw bank om een bedrag van uw rekening \
        af te schrijven en aan uw bank om doorlopend een bedrag van uw rekening af te schrijven \
        overeenkomstig de opdracht van {creditor}.",
    core_rights: "Als u het niet eens bent met deze afschrijving kunt u deze laten terugboeken. \
        Neem hiervoor binnen 8 weken na afschrijving contact op met uw bank. Vraag uw bank naar \
        de voorwaarden.",
    b2b_authorisation: "Door ondertekening van dit formulier geeft u toestemming aan {creditor} \
        om doorlopende bedrijfsincasso-opdrachten te sturen naar uw bank om een bedrag van uw \
        rekening af te schrijven en aan uw bank om doorlopend een bedrag van uw rekening af te \
        schrijven overeenkomstig de opdracht van {creditor}.",
    b2b_rights: "Deze machtiging is uitsluitend bedoeld voor incasso's tussen bedrijven. Na \
        afschrijving heeft u geen recht om het bedrag te laten terugboeken. U heeft wel het \
        recht om uw bank te vragen het bedrag niet van uw rekening af te schrijven. Dit kan tot \
        en met de dag waarop de afschrijving zou plaatsvinden.",
    pre_notification: "Het bedrag en de datum van elke afschrijving worden u ten minste {days} \
        dagen vooraf meegedeeld.",
    form_heading: "Uw gegevens",
    field_name: "Rekeninghouder",
    field_street: "Straat",
    field_building: "Huisnummer (optioneel)",
    field_postcode: "Postcode",
    field_town: "Plaats",
    field_country: "Land",
    field_iban: "IBAN",
    field_iban_hint: "Spaties en kleine letters zijn geen probleem.",
    field_bic: "BIC (optioneel)",
    field_accept: "Ik geef toestemming voor deze SEPA-incassomachtiging en ga akkoord met de \
        betalingsregeling hierboven.",
    field_signature_name: "Typ uw volledige naam om te ondertekenen",
    field_code: "Code uit de e-mail",
    submit_sign: "Machtiging ondertekenen",
    submit_send_code: "Stuur mij de code",
    code_sent: "We hebben een code van 6 cijfers gestuurd naar {email}. Vul deze hieronder in om \
        te ondertekenen. De code is {minutes} minuten geldig.",
    error_summary: "Corrigeer de velden die hieronder zijn gemarkeerd.",
    error_required: "Vul dit veld in.",
    error_too_long: "Dit is te lang: maximaal {max} tekens.",
    error_iban_invalid: "Dit IBAN is niet geldig. Vergelijk het met uw bankpas of \
        rekeningafschrift.",
    error_iban_not_sepa: "Deze rekening valt buiten het SEPA-gebied; er kan niet van worden \
        afgeschreven.",
    error_bic: "Dit is geen geldige BIC: 8 of 11 letters en cijfers, bijvoorbeeld COBADEFFXXX.",
    error_country: "Kies een land.",
    error_accept: "Vink het vakje aan om akkoord te gaan met de machtiging.",
    error_signature_name: "De ingetypte naam moet overeenkomen met de naam van de \
        rekeninghouder.",
    error_code_wrong: "De code is niet juist. Resterende pogingen: {left}.",
    error_code_expired: "De code is verlopen. Vraag een nieuwe aan.",
    error_code_locked: "Te veel onjuiste codes. Vraag een nieuwe aan.",
    error_document_changed: "De regeling is gewijzigd terwijl u aan het ondertekenen was. \
        Controleer deze opnieuw.",
    confirmed_title: "Machtiging ondertekend",
    confirmed_text: "Bedankt, {name}. Uw machtiging {reference} is ondertekend. {creditor} \
        schrijft de termijnen op de data hierboven af van uw rekening {iban}. Er is een kopie \
        gestuurd naar {email}.",
    download_document: "Machtiging downloaden (pdf)",
    link_unknown_title: "Deze link werkt niet",
    link_unknown_text: "De link is onbekend of onvolledig. Controleer of u de hele link hebt \
        gekopieerd, of vraag de afzender om een nieuwe.",
    link_used_title: "Deze link is al gebruikt",
    link_used_text: "De machtiging achter deze link is ondertekend. U hoeft hier niets meer te \
        doen.",
    link_expired_title: "Deze link is verlopen",
    link_expired_text: "Links om een machtiging te ondertekenen zijn beperkte tijd geldig. Vraag \
        de afzender om een nieuwe.",
    mail_confirmation_subject: "Uw incassomachtiging {reference} voor {creditor}",
    mail_confirmation_body: "Beste {name},\n\n\
        Bedankt voor het ondertekenen van de SEPA-incassomachtiging {reference} voor \
        {creditor}. De machtiging is als pdf bijgevoegd.\n\n\
        {creditor} schrijft deze termijnen af van uw rekening {iban}:\n\n\
        {schedule}\n\n\
        U krijgt ten minste {days} dagen voor elke afschrijving opnieuw bericht.\n\n\
        {creditor}",
    mail_creditor_subject: "Machtiging {reference} ondertekend door {debtor}",
    mail_creditor_body: "{debtor} heeft de SEPA-incassomachtiging {reference} ondertekend voor \
        de regeling {plan} ({total}, {count} termijnen vanaf {first_date}). De machtiging is \
        bijgevoegd.",
    mail_code_subject: "{code} is uw code om de machtiging voor {creditor} te ondertekenen",
    mail_code_body: "Uw code om de SEPA-incassomachtiging voor {creditor} te ondertekenen is \
        {code}. De code is {minutes} minuten geldig. Hebt u deze code niet aangevraagd? Dan \
        kunt u deze e-mail negeren.",
    mail_prenotification_subject: "Incasso van {amount} op {date} voor {creditor}",
    mail_prenotification_body: "Beste {name},\n\n{creditor} schrijft op {date} {amount} af van uw rekening {iban}: termijn {seq} van {count} van uw betalingsregeling, met de SEPA-incassomachtiging {reference} (incassant-ID {creditor_identifier}).\n\n{creditor}",
    mail_expiry_warning_subject: "Machtiging {reference} vervalt op {date}",
    mail_expiry_warning_body: "De SEPA-incassomachtiging {reference} van {debtor} is bijna 36 maanden niet gebruikt en vervalt op {date}. Een incasso vóór die datum houdt haar geldig; daarna moet de debiteur een nieuwe machtiging ondertekenen.",
    mail_resign_subject: "Onderteken a.u.b. een nieuwe incassomachtiging voor {creditor}",
    mail_resign_body: "Beste {name},\n\nuw SEPA-incassomachtiging {reference} voor uw betalingsregeling met {creditor} moet worden vernieuwd. Onderteken hier een nieuwe machtiging om uw termijnen per incasso te blijven betalen:\n\n{link}\n\nDe link is {days} dagen geldig.\n\n{creditor}",
    mail_failed_subject: "Incasso van {amount} voor {creditor} is niet gelukt",
    mail_failed_body: "Beste {name},\n\nde incasso van {amount} op {date} voor {creditor} is niet gelukt ({reason}).\n\n{next}\n\n{creditor}",
    mail_failed_retry: "We proberen het opnieuw op {date}; u hoort vooraf het bedrag en de datum. Zorg dat er voldoende saldo op uw rekening staat.",
    mail_failed_new_mandate: "Uw machtiging kan niet meer worden gebruikt. U ontvangt een link om een nieuwe te ondertekenen.",
    mail_failed_contact: "{creditor} neemt contact met u op over hoe het verder gaat. U kunt ook op deze e-mail antwoorden.",
    mail_defaulted_subject: "Regeling {plan} van {debtor} is in verzuim",
    mail_defaulted_body: "De betalingsregeling {plan} van {debtor} is sinds {date} in de aanmaanprocedure zonder dat die is opgelost, en is nu in verzuim. Er staat nog {open} open.",
    debtor_label: "Betaler",
    address_label: "Adres",
    signed_label: "Ondertekend",
    signed_line: "Elektronisch ondertekend op {date} om {time} UTC door {name}, {method}.",
    method_click: "door de naam in te typen en het vakje voor toestemming aan te vinken",
    method_email_code: "bevestigd met een code die naar {email} is gestuurd",
    document_fingerprint_label: "Vingerafdruk van het document (SHA-256)",
    unavailable_title: "Er ging bij ons iets mis",
    unavailable_text: "Er is niets ondertekend of gewijzigd. Probeer het over een paar minuten opnieuw.",
};

/// The texts of plan changes and debtor self-service, in one language: the e-mails that carry a
/// new calendar and the self-service page. Kept apart from [`Texts`] (signing and collection)
/// so each set reads as one piece. Field docs give the English meaning and the placeholders.
#[derive(Debug)]
pub struct PlanTexts {
    /// Subject to the debtor: "Your payment plan with {creditor} has changed"
    pub mail_changed_subject: &'static str,
    /// Body to the debtor: "Dear {name},\n\nyour payment plan with {creditor} has changed:
    /// {change}{reason}\n\nThe instalments still to pay:\n{calendar}\n\nEach direct debit is
    /// announced to you again before it is collected.\n\n{creditor}"
    pub mail_changed_body: &'static str,
    /// " Reason: {reason}"
    pub reason_line: &'static str,
    /// "nothing more to pay"
    pub calendar_empty: &'static str,
    /// "your payments are paused from {from}."
    pub change_pause: &'static str,
    /// "your payments are paused from {from} until {until}."
    pub change_pause_until: &'static str,
    /// "The instalments that fall in the pause move to the end of the plan."
    pub change_pause_append: &'static str,
    /// "your payments start again."
    pub change_resume: &'static str,
    /// "instalment {seq} moves to the end of the plan."
    pub change_skip: &'static str,
    /// "what is left is spread over a new calendar."
    pub change_reschedule: &'static str,
    /// "a payment of {amount} received on {date} is deducted."
    pub change_payment: &'static str,
    /// "The plan ends earlier."
    pub change_payment_shorten: &'static str,
    /// "The remaining instalments are lower."
    pub change_payment_lower: &'static str,
    /// "what is left is collected at once, in one direct debit."
    pub change_payoff: &'static str,
    /// "the plan is cancelled: nothing more is collected."
    pub change_cancel: &'static str,
    /// Added to pre-notifications and dunning e-mails: "Need a pause, to skip an instalment or
    /// smaller instalments? Ask here: {link}"
    pub mail_self_service_line: &'static str,
    /// Subject to the creditor: "{debtor} changed plan {plan}"
    pub mail_creditor_changed_subject: &'static str,
    /// Body to the creditor: "{debtor} changed the payment plan {plan} through self-service,
    /// within your limits: {change}\n\nThe instalments still to collect:\n{calendar}"
    pub mail_creditor_changed_body: &'static str,
    /// Subject to the creditor: "{debtor} asks to change plan {plan}"
    pub mail_creditor_request_subject: &'static str,
    /// Body to the creditor: "{debtor} asks through self-service to change the payment plan
    /// {plan}: {change}\n\nThis goes beyond your self-service limits ({why}). Accept or refuse it
    /// by closing the task {task} with the outcome \"accept\" or \"refuse\"."
    pub mail_creditor_request_body: &'static str,
    /// Subject to the debtor: "{creditor} accepted your request"
    pub mail_request_accepted_subject: &'static str,
    /// Body to the debtor: "Dear {name},\n\n{creditor} accepted your request: {change}\n\nThe
    /// instalments still to pay:\n{calendar}\n\n{creditor}"
    pub mail_request_accepted_body: &'static str,
    /// Subject to the debtor: "{creditor} did not accept your request"
    pub mail_request_refused_subject: &'static str,
    /// Body to the debtor: "Dear {name},\n\n{creditor} did not accept your request ({change})
    /// Your plan stays as it was:\n{calendar}\n\nPlease contact {creditor} to find another
    /// way.\n\n{creditor}"
    pub mail_request_refused_body: &'static str,
    /// Page title: "Your payment plan with {creditor}"
    pub page_title: &'static str,
    /// "Here you can ask to pause your payments, to skip one instalment, or to spread what is
    /// left over more instalments."
    pub page_intro: &'static str,
    /// "Instalments still to pay"
    pub calendar_heading: &'static str,
    /// "What would you like to do?"
    pub choose_heading: &'static str,
    /// "Pause my payments"
    pub option_pause: &'static str,
    /// "For how many months"
    pub field_pause_months: &'static str,
    /// "Skip one instalment: it moves to the end of the plan"
    pub option_skip: &'static str,
    /// "Which instalment"
    pub field_skip_seq: &'static str,
    /// "Spread what is left over more instalments"
    pub option_spread: &'static str,
    /// "Number of instalments"
    pub field_spread_count: &'static str,
    /// "Changes within these limits apply at once: at most {count} instalments, at least
    /// {min} each, the plan ending at most {months} months later than now, {changes} changes
    /// per plan. Beyond them, {creditor} decides."
    pub limits: &'static str,
    /// "Send my request"
    pub submit: &'static str,
    /// "Choose what you would like to do."
    pub error_choose: &'static str,
    /// "Enter a whole number from {min} to {max}."
    pub error_number: &'static str,
    /// "Choose an instalment that is not yet collected."
    pub error_instalment: &'static str,
    /// "Done: your plan has changed"
    pub applied_title: &'static str,
    /// "The new calendar is below and on its way to you by e-mail. Each direct debit is
    /// announced again before it is collected."
    pub applied_text: &'static str,
    /// "Your request was sent to {creditor}"
    pub pending_title: &'static str,
    /// "It goes beyond what can change at once, so {creditor} decides. You will get an e-mail
    /// with the answer."
    pub pending_text: &'static str,
    /// "This plan cannot be changed here"
    pub closed_title: &'static str,
    /// "Please contact {creditor} directly."
    pub closed_text: &'static str,
    /// "This link does not work"
    pub link_unknown_title: &'static str,
    /// "It is unknown or has expired. The link in your latest e-mail from {creditor} works."
    pub link_unknown_text: &'static str,
}

/// The plan-change and self-service texts in `language`.
pub fn plan_texts(language: Language) -> &'static PlanTexts {
    match language {
        Language::En => &PLAN_EN,
        Language::De => &PLAN_DE,
        Language::Fr => &PLAN_FR,
        Language::Nl => &PLAN_NL,
    }
}

static PLAN_EN: PlanTexts = PlanTexts {
    mail_changed_subject: "Your payment plan with {creditor} has changed",
    mail_changed_body: "Dear {name},\n\nyour payment plan with {creditor} has changed: {change}{reason}\n\nThe instalments still to pay:\n{calendar}\n\nEach direct debit is announced to you again before it is collected.\n\n{creditor}",
    reason_line: " Reason: {reason}",
    calendar_empty: "nothing more to pay",
    change_pause: "your payments are paused from {from}.",
    change_pause_until: "your payments are paused from {from} until {until}.",
    change_pause_append: "The instalments that fall in the pause move to the end of the plan.",
    change_resume: "your payments start again.",
    change_skip: "instalment {seq} moves to the end of the plan.",
    change_reschedule: "what is left is spread over a new calendar.",
    change_payment: "a payment of {amount} received on {date} is deducted.",
    change_payment_shorten: "The plan ends earlier.",
    change_payment_lower: "The remaining instalments are lower.",
    change_payoff: "what is left is collected at once, in one direct debit.",
    change_cancel: "the plan is cancelled: nothing more is collected.",
    mail_self_service_line: "Need a pause, to skip an instalment or smaller instalments? Ask here: {link}",
    mail_creditor_changed_subject: "{debtor} changed plan {plan}",
    mail_creditor_changed_body: "{debtor} changed the payment plan {plan} through self-service, within your limits: {change}\n\nThe instalments still to collect:\n{calendar}",
    mail_creditor_request_subject: "{debtor} asks to change plan {plan}",
    mail_creditor_request_body: "{debtor} asks through self-service to change the payment plan {plan}: {change}\n\nThis goes beyond your self-service limits ({why}). Accept or refuse it by closing the task {task} with the outcome \"accept\" or \"refuse\".",
    mail_request_accepted_subject: "{creditor} accepted your request",
    mail_request_accepted_body: "Dear {name},\n\n{creditor} accepted your request: {change}\n\nThe instalments still to pay:\n{calendar}\n\n{creditor}",
    mail_request_refused_subject: "{creditor} did not accept your request",
    mail_request_refused_body: "Dear {name},\n\n{creditor} did not accept your request ({change}) Your plan stays as it was:\n{calendar}\n\nPlease contact {creditor} to find another way.\n\n{creditor}",
    page_title: "Your payment plan with {creditor}",
    page_intro: "Here you can ask to pause your payments, to skip one instalment, or to spread what is left over more instalments.",
    calendar_heading: "Instalments still to pay",
    choose_heading: "What would you like to do?",
    option_pause: "Pause my payments",
    field_pause_months: "For how many months",
    option_skip: "Skip one instalment: it moves to the end of the plan",
    field_skip_seq: "Which instalment",
    option_spread: "Spread what is left over more instalments",
    field_spread_count: "Number of instalments",
    limits: "Changes within these limits apply at once: at most {count} instalments, at least {min} each, the plan ending at most {months} months later than now, {changes} changes per plan. Beyond them, {creditor} decides.",
    submit: "Send my request",
    error_choose: "Choose what you would like to do.",
    error_number: "Enter a whole number from {min} to {max}.",
    error_instalment: "Choose an instalment that is not yet collected.",
    applied_title: "Done: your plan has changed",
    applied_text: "The new calendar is below and on its way to you by e-mail. Each direct debit is announced again before it is collected.",
    pending_title: "Your request was sent to {creditor}",
    pending_text: "It goes beyond what can change at once, so {creditor} decides. You will get an e-mail with the answer.",
    closed_title: "This plan cannot be changed here",
    closed_text: "Please contact {creditor} directly.",
    link_unknown_title: "This link does not work",
    link_unknown_text: "It is unknown or has expired. The link in your latest e-mail about your plan works.",
};

static PLAN_DE: PlanTexts = PlanTexts {
    mail_changed_subject: "Ihr Zahlungsplan mit {creditor} wurde geändert",
    mail_changed_body: "Guten Tag {name},\n\nIhr Zahlungsplan mit {creditor} wurde geändert: {change}{reason}\n\nDie noch offenen Raten:\n{calendar}\n\nJede Lastschrift wird Ihnen vor dem Einzug erneut angekündigt.\n\n{creditor}",
    reason_line: " Grund: {reason}",
    calendar_empty: "nichts mehr offen",
    change_pause: "Ihre Zahlungen ruhen ab dem {from}.",
    change_pause_until: "Ihre Zahlungen ruhen vom {from} bis zum {until}.",
    change_pause_append: "Die Raten in der Pause werden ans Ende des Plans verschoben.",
    change_resume: "Ihre Zahlungen laufen wieder.",
    change_skip: "Rate {seq} wird ans Ende des Plans verschoben.",
    change_reschedule: "der offene Betrag wird auf einen neuen Zahlungsplan verteilt.",
    change_payment: "eine am {date} erhaltene Zahlung von {amount} wird angerechnet.",
    change_payment_shorten: "Der Plan endet früher.",
    change_payment_lower: "Die übrigen Raten werden kleiner.",
    change_payoff: "der offene Betrag wird auf einmal, mit einer Lastschrift, eingezogen.",
    change_cancel: "der Plan ist beendet: es wird nichts mehr eingezogen.",
    mail_self_service_line: "Brauchen Sie eine Pause, möchten Sie eine Rate verschieben oder kleinere Raten? Hier können Sie es beantragen: {link}",
    mail_creditor_changed_subject: "{debtor} hat Plan {plan} geändert",
    mail_creditor_changed_body: "{debtor} hat den Zahlungsplan {plan} per Selbstbedienung im Rahmen Ihrer Grenzen geändert: {change}\n\nDie noch offenen Raten:\n{calendar}",
    mail_creditor_request_subject: "{debtor} bittet um eine Änderung von Plan {plan}",
    mail_creditor_request_body: "{debtor} bittet per Selbstbedienung um eine Änderung des Zahlungsplans {plan}: {change}\n\nDas geht über Ihre Grenzen für die Selbstbedienung hinaus ({why}). Nehmen Sie an oder lehnen Sie ab, indem Sie die Aufgabe {task} mit dem Ergebnis \"accept\" oder \"refuse\" schließen.",
    mail_request_accepted_subject: "{creditor} hat Ihre Anfrage angenommen",
    mail_request_accepted_body: "Guten Tag {name},\n\n{creditor} hat Ihre Anfrage angenommen: {change}\n\nDie noch offenen Raten:\n{calendar}\n\n{creditor}",
    mail_request_refused_subject: "{creditor} hat Ihre Anfrage nicht angenommen",
    mail_request_refused_body: "Guten Tag {name},\n\n{creditor} hat Ihre Anfrage nicht angenommen ({change}) Ihr Plan bleibt, wie er war:\n{calendar}\n\nBitte wenden Sie sich an {creditor}, um eine andere Lösung zu finden.\n\n{creditor}",
    page_title: "Ihr Zahlungsplan mit {creditor}",
    page_intro: "Hier können Sie eine Zahlungspause beantragen, eine Rate ans Ende verschieben oder den offenen Betrag auf mehr Raten verteilen.",
    calendar_heading: "Noch offene Raten",
    choose_heading: "Was möchten Sie tun?",
    option_pause: "Meine Zahlungen pausieren",
    field_pause_months: "Für wie viele Monate",
    option_skip: "Eine Rate aussetzen: sie wird ans Ende des Plans verschoben",
    field_skip_seq: "Welche Rate",
    option_spread: "Den offenen Betrag auf mehr Raten verteilen",
    field_spread_count: "Anzahl der Raten",
    limits: "Änderungen in diesen Grenzen gelten sofort: höchstens {count} Raten, jede mindestens {min}, Planende höchstens {months} Monate später als jetzt, {changes} Änderungen je Plan. Darüber hinaus entscheidet {creditor}.",
    submit: "Anfrage senden",
    error_choose: "Wählen Sie, was Sie tun möchten.",
    error_number: "Geben Sie eine ganze Zahl von {min} bis {max} ein.",
    error_instalment: "Wählen Sie eine Rate, die noch nicht eingezogen ist.",
    applied_title: "Erledigt: Ihr Plan wurde geändert",
    applied_text: "Der neue Zahlungsplan steht unten und kommt per E-Mail. Jede Lastschrift wird vor dem Einzug erneut angekündigt.",
    pending_title: "Ihre Anfrage wurde an {creditor} gesendet",
    pending_text: "Sie geht über das hinaus, was sofort geändert werden kann, daher entscheidet {creditor}. Sie erhalten die Antwort per E-Mail.",
    closed_title: "Dieser Plan kann hier nicht geändert werden",
    closed_text: "Bitte wenden Sie sich direkt an {creditor}.",
    link_unknown_title: "Dieser Link funktioniert nicht",
    link_unknown_text: "Er ist unbekannt oder abgelaufen. Der Link in Ihrer neuesten E-Mail zu Ihrem Plan funktioniert.",
};

static PLAN_FR: PlanTexts = PlanTexts {
    mail_changed_subject: "Votre plan de paiement avec {creditor} a changé",
    mail_changed_body: "Bonjour {name},\n\nvotre plan de paiement avec {creditor} a changé : {change}{reason}\n\nLes échéances restant à payer :\n{calendar}\n\nChaque prélèvement vous est annoncé à nouveau avant d'être effectué.\n\n{creditor}",
    reason_line: " Motif : {reason}",
    calendar_empty: "plus rien à payer",
    change_pause: "vos paiements sont suspendus à partir du {from}.",
    change_pause_until: "vos paiements sont suspendus du {from} au {until}.",
    change_pause_append: "Les échéances de la pause sont reportées à la fin du plan.",
    change_resume: "vos paiements reprennent.",
    change_skip: "l'échéance {seq} est reportée à la fin du plan.",
    change_reschedule: "le reste est réparti sur un nouveau calendrier.",
    change_payment: "un paiement de {amount} reçu le {date} est déduit.",
    change_payment_shorten: "Le plan se termine plus tôt.",
    change_payment_lower: "Les échéances restantes sont plus basses.",
    change_payoff: "le reste est prélevé en une seule fois.",
    change_cancel: "le plan est annulé : plus rien n'est prélevé.",
    mail_self_service_line: "Besoin d'une pause, de reporter une échéance ou d'échéances plus petites ? Demandez-le ici : {link}",
    mail_creditor_changed_subject: "{debtor} a modifié le plan {plan}",
    mail_creditor_changed_body: "{debtor} a modifié le plan de paiement {plan} en libre-service, dans vos limites : {change}\n\nLes échéances restant à prélever :\n{calendar}",
    mail_creditor_request_subject: "{debtor} demande à modifier le plan {plan}",
    mail_creditor_request_body: "{debtor} demande en libre-service à modifier le plan de paiement {plan} : {change}\n\nCela dépasse vos limites de libre-service ({why}). Acceptez ou refusez en clôturant la tâche {task} avec le résultat \"accept\" ou \"refuse\".",
    mail_request_accepted_subject: "{creditor} a accepté votre demande",
    mail_request_accepted_body: "Bonjour {name},\n\n{creditor} a accepté votre demande : {change}\n\nLes échéances restant à payer :\n{calendar}\n\n{creditor}",
    mail_request_refused_subject: "{creditor} n'a pas accepté votre demande",
    mail_request_refused_body: "Bonjour {name},\n\n{creditor} n'a pas accepté votre demande ({change}) Votre plan reste tel quel :\n{calendar}\n\nVeuillez contacter {creditor} pour trouver une autre solution.\n\n{creditor}",
    page_title: "Votre plan de paiement avec {creditor}",
    page_intro: "Ici, vous pouvez demander une pause de vos paiements, le report d'une échéance, ou la répartition du reste sur plus d'échéances.",
    calendar_heading: "Échéances restant à payer",
    choose_heading: "Que souhaitez-vous faire ?",
    option_pause: "Suspendre mes paiements",
    field_pause_months: "Pendant combien de mois",
    option_skip: "Reporter une échéance à la fin du plan",
    field_skip_seq: "Quelle échéance",
    option_spread: "Répartir le reste sur plus d'échéances",
    field_spread_count: "Nombre d'échéances",
    limits: "Les changements dans ces limites s'appliquent tout de suite : au plus {count} échéances, d'au moins {min} chacune, un plan finissant au plus {months} mois plus tard qu'aujourd'hui, {changes} changements par plan. Au-delà, {creditor} décide.",
    submit: "Envoyer ma demande",
    error_choose: "Choisissez ce que vous souhaitez faire.",
    error_number: "Saisissez un nombre entier de {min} à {max}.",
    error_instalment: "Choisissez une échéance qui n'est pas encore prélevée.",
    applied_title: "C'est fait : votre plan a changé",
    applied_text: "Le nouveau calendrier figure ci-dessous et vous est envoyé par e-mail. Chaque prélèvement est annoncé à nouveau avant d'être effectué.",
    pending_title: "Votre demande a été envoyée à {creditor}",
    pending_text: "Elle dépasse ce qui peut changer tout de suite, c'est donc {creditor} qui décide. Vous recevrez la réponse par e-mail.",
    closed_title: "Ce plan ne peut pas être modifié ici",
    closed_text: "Veuillez contacter directement {creditor}.",
    link_unknown_title: "Ce lien ne fonctionne pas",
    link_unknown_text: "Il est inconnu ou a expiré. Le lien de votre dernier e-mail concernant votre plan fonctionne.",
};

static PLAN_NL: PlanTexts = PlanTexts {
    mail_changed_subject: "Uw betalingsregeling met {creditor} is gewijzigd",
    mail_changed_body: "Beste {name},\n\nuw betalingsregeling met {creditor} is gewijzigd: {change}{reason}\n\nDe termijnen die nog openstaan:\n{calendar}\n\nElke incasso wordt u opnieuw aangekondigd voordat hij wordt uitgevoerd.\n\n{creditor}",
    reason_line: " Reden: {reason}",
    calendar_empty: "niets meer te betalen",
    change_pause: "uw betalingen worden gepauzeerd vanaf {from}.",
    change_pause_until: "uw betalingen worden gepauzeerd van {from} tot {until}.",
    change_pause_append: "De termijnen in de pauze gaan naar het einde van de regeling.",
    change_resume: "uw betalingen gaan weer door.",
    change_skip: "termijn {seq} gaat naar het einde van de regeling.",
    change_reschedule: "het resterende bedrag wordt over een nieuwe planning verdeeld.",
    change_payment: "een betaling van {amount} ontvangen op {date} wordt verrekend.",
    change_payment_shorten: "De regeling eindigt eerder.",
    change_payment_lower: "De resterende termijnen worden lager.",
    change_payoff: "het resterende bedrag wordt in één keer geïncasseerd.",
    change_cancel: "de regeling is geannuleerd: er wordt niets meer geïncasseerd.",
    mail_self_service_line: "Een pauze nodig, een termijn overslaan of kleinere termijnen? Vraag het hier aan: {link}",
    mail_creditor_changed_subject: "{debtor} heeft regeling {plan} gewijzigd",
    mail_creditor_changed_body: "{debtor} heeft de betalingsregeling {plan} via selfservice gewijzigd, binnen uw grenzen: {change}\n\nDe termijnen die nog openstaan:\n{calendar}",
    mail_creditor_request_subject: "{debtor} vraagt regeling {plan} te wijzigen",
    mail_creditor_request_body: "{debtor} vraagt via selfservice de betalingsregeling {plan} te wijzigen: {change}\n\nDit gaat verder dan uw selfservicegrenzen ({why}). Aanvaard of weiger het door de taak {task} te sluiten met de uitkomst \"accept\" of \"refuse\".",
    mail_request_accepted_subject: "{creditor} heeft uw verzoek aanvaard",
    mail_request_accepted_body: "Beste {name},\n\n{creditor} heeft uw verzoek aanvaard: {change}\n\nDe termijnen die nog openstaan:\n{calendar}\n\n{creditor}",
    mail_request_refused_subject: "{creditor} heeft uw verzoek niet aanvaard",
    mail_request_refused_body: "Beste {name},\n\n{creditor} heeft uw verzoek niet aanvaard ({change}) Uw regeling blijft zoals ze was:\n{calendar}\n\nNeem contact op met {creditor} om een andere oplossing te vinden.\n\n{creditor}",
    page_title: "Uw betalingsregeling met {creditor}",
    page_intro: "Hier kunt u vragen om uw betalingen te pauzeren, één termijn over te slaan of het resterende bedrag over meer termijnen te verdelen.",
    calendar_heading: "Termijnen die nog openstaan",
    choose_heading: "Wat wilt u doen?",
    option_pause: "Mijn betalingen pauzeren",
    field_pause_months: "Voor hoeveel maanden",
    option_skip: "Eén termijn overslaan: hij gaat naar het einde van de regeling",
    field_skip_seq: "Welke termijn",
    option_spread: "Het resterende bedrag over meer termijnen verdelen",
    field_spread_count: "Aantal termijnen",
    limits: "Wijzigingen binnen deze grenzen gelden meteen: hoogstens {count} termijnen, elk minstens {min}, de regeling eindigt hoogstens {months} maanden later dan nu, {changes} wijzigingen per regeling. Daarbuiten beslist {creditor}.",
    submit: "Verzoek versturen",
    error_choose: "Kies wat u wilt doen.",
    error_number: "Vul een geheel getal van {min} tot {max} in.",
    error_instalment: "Kies een termijn die nog niet geïncasseerd is.",
    applied_title: "Klaar: uw regeling is gewijzigd",
    applied_text: "De nieuwe planning staat hieronder en komt per e-mail. Elke incasso wordt opnieuw aangekondigd voordat hij wordt uitgevoerd.",
    pending_title: "Uw verzoek is naar {creditor} gestuurd",
    pending_text: "Het gaat verder dan wat meteen kan veranderen, dus {creditor} beslist. U krijgt het antwoord per e-mail.",
    closed_title: "Deze regeling kan hier niet worden gewijzigd",
    closed_text: "Neem rechtstreeks contact op met {creditor}.",
    link_unknown_title: "Deze link werkt niet",
    link_unknown_text: "Hij is onbekend of verlopen. De link in uw laatste e-mail over uw regeling werkt.",
};

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::NaiveDate;
    use proptest::prelude::*;

    use super::*;
    use crate::identifiers::is_sepa_country;
    use crate::money::MAX_AMOUNT_CENTS;

    /// Every field of `texts` with its name. The destructuring names each field without `..`,
    /// so a field added to [`Texts`] does not compile until it is listed here and checked too.
    fn fields(texts: &Texts) -> Vec<(&'static str, &'static str)> {
        let Texts {
            page_title,
            intro,
            language_label,
            plan_heading,
            column_number,
            column_due_date,
            column_amount,
            down_payment,
            total,
            invoices,
            mandate_heading,
            creditor_label,
            creditor_identifier_label,
            mandate_reference_label,
            payment_type_label,
            payment_type_recurrent,
            scheme_label,
            scheme_core,
            scheme_b2b,
            core_authorisation,
            core_rights,
            b2b_authorisation,
            b2b_rights,
            pre_notification,
            form_heading,
            field_name,
            field_street,
            field_building,
            field_postcode,
            field_town,
            field_country,
            field_iban,
            field_iban_hint,
            field_bic,
            field_accept,
            field_signature_name,
            field_code,
            submit_sign,
            submit_send_code,
            code_sent,
            error_summary,
            error_required,
            error_too_long,
            error_iban_invalid,
            error_iban_not_sepa,
            error_bic,
            error_country,
            error_accept,
            error_signature_name,
            error_code_wrong,
            error_code_expired,
            error_code_locked,
            error_document_changed,
            confirmed_title,
            confirmed_text,
            download_document,
            link_unknown_title,
            link_unknown_text,
            link_used_title,
            link_used_text,
            link_expired_title,
            link_expired_text,
            mail_confirmation_subject,
            mail_confirmation_body,
            mail_creditor_subject,
            mail_creditor_body,
            mail_code_subject,
            mail_code_body,
            mail_prenotification_subject,
            mail_prenotification_body,
            mail_expiry_warning_subject,
            mail_expiry_warning_body,
            mail_resign_subject,
            mail_resign_body,
            mail_failed_subject,
            mail_failed_body,
            mail_failed_retry,
            mail_failed_new_mandate,
            mail_failed_contact,
            mail_defaulted_subject,
            mail_defaulted_body,
            debtor_label,
            address_label,
            signed_label,
            signed_line,
            method_click,
            method_email_code,
            document_fingerprint_label,
            unavailable_title,
            unavailable_text,
        } = *texts;
        vec![
            ("page_title", page_title),
            ("intro", intro),
            ("language_label", language_label),
            ("plan_heading", plan_heading),
            ("column_number", column_number),
            ("column_due_date", column_due_date),
            ("column_amount", column_amount),
            ("down_payment", down_payment),
            ("total", total),
            ("invoices", invoices),
            ("mandate_heading", mandate_heading),
            ("creditor_label", creditor_label),
            ("creditor_identifier_label", creditor_identifier_label),
            ("mandate_reference_label", mandate_reference_label),
            ("payment_type_label", payment_type_label),
            ("payment_type_recurrent", payment_type_recurrent),
            ("scheme_label", scheme_label),
            ("scheme_core", scheme_core),
            ("scheme_b2b", scheme_b2b),
            ("core_authorisation", core_authorisation),
            ("core_rights", core_rights),
            ("b2b_authorisation", b2b_authorisation),
            ("b2b_rights", b2b_rights),
            ("pre_notification", pre_notification),
            ("form_heading", form_heading),
            ("field_name", field_name),
            ("field_street", field_street),
            ("field_building", field_building),
            ("field_postcode", field_postcode),
            ("field_town", field_town),
            ("field_country", field_country),
            ("field_iban", field_iban),
            ("field_iban_hint", field_iban_hint),
            ("field_bic", field_bic),
            ("field_accept", field_accept),
            ("field_signature_name", field_signature_name),
            ("field_code", field_code),
            ("submit_sign", submit_sign),
            ("submit_send_code", submit_send_code),
            ("code_sent", code_sent),
            ("error_summary", error_summary),
            ("error_required", error_required),
            ("error_too_long", error_too_long),
            ("error_iban_invalid", error_iban_invalid),
            ("error_iban_not_sepa", error_iban_not_sepa),
            ("error_bic", error_bic),
            ("error_country", error_country),
            ("error_accept", error_accept),
            ("error_signature_name", error_signature_name),
            ("error_code_wrong", error_code_wrong),
            ("error_code_expired", error_code_expired),
            ("error_code_locked", error_code_locked),
            ("error_document_changed", error_document_changed),
            ("confirmed_title", confirmed_title),
            ("confirmed_text", confirmed_text),
            ("download_document", download_document),
            ("link_unknown_title", link_unknown_title),
            ("link_unknown_text", link_unknown_text),
            ("link_used_title", link_used_title),
            ("link_used_text", link_used_text),
            ("link_expired_title", link_expired_title),
            ("link_expired_text", link_expired_text),
            ("mail_confirmation_subject", mail_confirmation_subject),
            ("mail_confirmation_body", mail_confirmation_body),
            ("mail_creditor_subject", mail_creditor_subject),
            ("mail_creditor_body", mail_creditor_body),
            ("mail_code_subject", mail_code_subject),
            ("mail_code_body", mail_code_body),
            ("mail_prenotification_subject", mail_prenotification_subject),
            ("mail_prenotification_body", mail_prenotification_body),
            ("mail_expiry_warning_subject", mail_expiry_warning_subject),
            ("mail_expiry_warning_body", mail_expiry_warning_body),
            ("mail_resign_subject", mail_resign_subject),
            ("mail_resign_body", mail_resign_body),
            ("mail_failed_subject", mail_failed_subject),
            ("mail_failed_body", mail_failed_body),
            ("mail_failed_retry", mail_failed_retry),
            ("mail_failed_new_mandate", mail_failed_new_mandate),
            ("mail_failed_contact", mail_failed_contact),
            ("mail_defaulted_subject", mail_defaulted_subject),
            ("mail_defaulted_body", mail_defaulted_body),
            ("debtor_label", debtor_label),
            ("address_label", address_label),
            ("signed_label", signed_label),
            ("signed_line", signed_line),
            ("method_click", method_click),
            ("method_email_code", method_email_code),
            ("document_fingerprint_label", document_fingerprint_label),
            ("unavailable_title", unavailable_title),
            ("unavailable_text", unavailable_text),
        ]
    }

    /// The names of the `{name}` placeholders in `text`.
    fn placeholders(text: &str) -> BTreeSet<&str> {
        let mut names = BTreeSet::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            match after.find(['{', '}']) {
                Some(close) if after[close..].starts_with('}') => {
                    names.insert(&after[..close]);
                    rest = &after[close + 1..];
                }
                _ => rest = after,
            }
        }
        names
    }

    fn cents(cents: i64) -> Amount {
        Amount::from_cents(cents).unwrap()
    }

    fn date(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn plan_fields(t: &PlanTexts) -> Vec<(&'static str, &'static str)> {
        vec![
            ("mail_changed_subject", t.mail_changed_subject),
            ("mail_changed_body", t.mail_changed_body),
            ("reason_line", t.reason_line),
            ("calendar_empty", t.calendar_empty),
            ("change_pause", t.change_pause),
            ("change_pause_until", t.change_pause_until),
            ("change_pause_append", t.change_pause_append),
            ("change_resume", t.change_resume),
            ("change_skip", t.change_skip),
            ("change_reschedule", t.change_reschedule),
            ("change_payment", t.change_payment),
            ("change_payment_shorten", t.change_payment_shorten),
            ("change_payment_lower", t.change_payment_lower),
            ("change_payoff", t.change_payoff),
            ("change_cancel", t.change_cancel),
            ("mail_self_service_line", t.mail_self_service_line),
            (
                "mail_creditor_changed_subject",
                t.mail_creditor_changed_subject,
            ),
            ("mail_creditor_changed_body", t.mail_creditor_changed_body),
            (
                "mail_creditor_request_subject",
                t.mail_creditor_request_subject,
            ),
            ("mail_creditor_request_body", t.mail_creditor_request_body),
            (
                "mail_request_accepted_subject",
                t.mail_request_accepted_subject,
            ),
            ("mail_request_accepted_body", t.mail_request_accepted_body),
            (
                "mail_request_refused_subject",
                t.mail_request_refused_subject,
            ),
            ("mail_request_refused_body", t.mail_request_refused_body),
            ("page_title", t.page_title),
            ("page_intro", t.page_intro),
            ("calendar_heading", t.calendar_heading),
            ("choose_heading", t.choose_heading),
            ("option_pause", t.option_pause),
            ("field_pause_months", t.field_pause_months),
            ("option_skip", t.option_skip),
            ("field_skip_seq", t.field_skip_seq),
            ("option_spread", t.option_spread),
            ("field_spread_count", t.field_spread_count),
            ("limits", t.limits),
            ("submit", t.submit),
            ("error_choose", t.error_choose),
            ("error_number", t.error_number),
            ("error_instalment", t.error_instalment),
            ("applied_title", t.applied_title),
            ("applied_text", t.applied_text),
            ("pending_title", t.pending_title),
            ("pending_text", t.pending_text),
            ("closed_title", t.closed_title),
            ("closed_text", t.closed_text),
            ("link_unknown_title", t.link_unknown_title),
            ("link_unknown_text", t.link_unknown_text),
        ]
    }

    #[test]
    fn plan_texts_have_the_english_placeholders_in_every_language_and_none_is_empty() {
        let english = plan_fields(plan_texts(Language::En));
        for language in Language::ALL {
            let translated = plan_fields(plan_texts(language));
            assert_eq!(translated.len(), english.len());
            for ((name, text), (_, original)) in translated.iter().zip(&english) {
                assert_eq!(
                    placeholders(text),
                    placeholders(original),
                    "{language:?} {name}"
                );
                assert!(!text.trim().is_empty(), "{language:?} {name}");
            }
        }
    }

    #[test]
    fn every_language_has_exactly_the_placeholders_of_the_english_text() {
        let english = fields(texts(Language::En));

        for language in Language::ALL {
            for ((name, translated), (_, original)) in fields(texts(language)).iter().zip(&english)
            {
                assert_eq!(
                    placeholders(translated),
                    placeholders(original),
                    "{language:?} {name}: {translated}"
                );
            }
        }
    }

    #[test]
    fn placeholders_are_only_well_formed_names() {
        for language in Language::ALL {
            for (name, text) in fields(texts(language)) {
                for placeholder in placeholders(text) {
                    let well_formed = !placeholder.is_empty()
                        && placeholder
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b == b'_');
                    assert!(well_formed, "{language:?} {name}: {{{placeholder}}}");
                }
                let braces = text.matches(['{', '}']).count();
                assert_eq!(braces, 2 * text.matches('{').count(), "{language:?} {name}");
            }
        }
    }

    #[test]
    fn no_text_is_empty_or_padded() {
        for language in Language::ALL {
            for (name, text) in fields(texts(language)) {
                assert!(!text.trim().is_empty(), "{language:?} {name} is empty");
                assert_eq!(
                    text,
                    text.trim(),
                    "{language:?} {name} has outer whitespace"
                );
                assert!(
                    !text.contains("  "),
                    "{language:?} {name} has a double space"
                );
            }
        }
    }

    #[test]
    fn each_language_has_its_own_texts() {
        let titles: BTreeSet<_> = Language::ALL
            .iter()
            .map(|language| texts(*language).page_title)
            .collect();

        assert_eq!(titles.len(), Language::ALL.len());
        assert_eq!(
            texts(Language::De).mandate_heading,
            "SEPA-Lastschriftmandat"
        );
        assert_eq!(
            texts(Language::Fr).mandate_heading,
            "Mandat de prélèvement SEPA"
        );
    }

    #[test]
    fn the_b2b_texts_of_every_language_differ_from_the_core_refund_right() {
        for language in Language::ALL {
            let texts = texts(language);

            assert_ne!(texts.b2b_rights, texts.core_rights, "{language:?}");
        }
    }

    #[test]
    fn the_core_refund_right_names_the_eight_weeks_in_every_language() {
        let eight_weeks = ["8 weeks", "acht Wochen", "8 semaines", "8 weken"];

        for (language, words) in Language::ALL.into_iter().zip(eight_weeks) {
            assert!(texts(language).core_rights.contains(words), "{language:?}");
        }
    }

    #[test]
    fn the_e_mail_bodies_keep_their_lines_in_every_language() {
        for language in Language::ALL {
            let body = texts(language).mail_confirmation_body;

            assert!(body.contains("\n\n{schedule}\n\n"), "{language:?}");
            assert!(body.ends_with("\n\n{creditor}"), "{language:?}");
            assert_eq!(body.matches("\n\n").count(), 5, "{language:?}");
        }
    }

    #[test]
    fn fill_replaces_each_placeholder_by_its_value() {
        let filled = fill(
            "{creditor} collects {amount} for {creditor}.",
            &[("creditor", "ACME"), ("amount", "€10.00")],
        );

        assert_eq!(filled, "ACME collects €10.00 for ACME.");
    }

    #[test]
    fn fill_does_not_scan_the_values_it_puts_in() {
        let filled = fill(
            "Dear {name}, your IBAN is {iban}.",
            &[("name", "{iban}"), ("iban", "DE44")],
        );

        assert_eq!(filled, "Dear {iban}, your IBAN is DE44.");
    }

    #[test]
    fn fill_leaves_unknown_placeholders_and_stray_braces_as_they_are() {
        assert_eq!(fill("{a} {unknown} {", &[("a", "1")]), "1 {unknown} {");
        assert_eq!(fill("{{a}} }{a}{", &[("a", "1")]), "{1} }1{");
        assert_eq!(fill("{}", &[("a", "1")]), "{}");
        assert_eq!(fill("no placeholder", &[]), "no placeholder");
        assert_eq!(fill("", &[("a", "1")]), "");
    }

    #[test]
    fn fill_keeps_text_outside_ascii() {
        let filled = fill(
            "Grüße, {name} — {date}",
            &[("name", "Zoë"), ("date", "1er août")],
        );

        assert_eq!(filled, "Grüße, Zoë — 1er août");
    }

    #[test]
    fn amounts_are_written_as_each_language_writes_them() {
        let cases = [
            (1, ["€0.01", "0,01\u{a0}€", "0,01\u{a0}€", "€\u{a0}0,01"]),
            (100, ["€1.00", "1,00\u{a0}€", "1,00\u{a0}€", "€\u{a0}1,00"]),
            (
                99_999,
                ["€999.99", "999,99\u{a0}€", "999,99\u{a0}€", "€\u{a0}999,99"],
            ),
            (
                100_000,
                [
                    "€1,000.00",
                    "1.000,00\u{a0}€",
                    "1\u{a0}000,00\u{a0}€",
                    "€\u{a0}1.000,00",
                ],
            ),
            (
                123_456_789,
                [
                    "€1,234,567.89",
                    "1.234.567,89\u{a0}€",
                    "1\u{a0}234\u{a0}567,89\u{a0}€",
                    "€\u{a0}1.234.567,89",
                ],
            ),
            (
                MAX_AMOUNT_CENTS,
                [
                    "€999,999,999.99",
                    "999.999.999,99\u{a0}€",
                    "999\u{a0}999\u{a0}999,99\u{a0}€",
                    "€\u{a0}999.999.999,99",
                ],
            ),
        ];

        for (amount, expected) in cases {
            for (language, expected) in Language::ALL.into_iter().zip(expected) {
                assert_eq!(
                    format_amount(cents(amount), language),
                    expected,
                    "{language:?}"
                );
            }
        }
    }

    #[test]
    fn dates_are_written_in_words_in_each_language() {
        let first = date(2027, 2, 1);
        let second = date(2027, 2, 2);

        assert_eq!(format_date(first, Language::En), "1 February 2027");
        assert_eq!(format_date(first, Language::De), "1. Februar 2027");
        assert_eq!(format_date(first, Language::Fr), "1er février 2027");
        assert_eq!(format_date(first, Language::Nl), "1 februari 2027");
        assert_eq!(format_date(second, Language::Fr), "2 février 2027");
        assert_eq!(
            format_date(date(2026, 3, 31), Language::De),
            "31. März 2026"
        );
        assert_eq!(format_date(date(2026, 8, 11), Language::Fr), "11 août 2026");
        assert_eq!(
            format_date(date(2026, 12, 21), Language::Fr),
            "21 décembre 2026"
        );
        assert_eq!(format_date(date(2026, 5, 10), Language::Nl), "10 mei 2026");
        assert_eq!(
            format_date(date(2026, 10, 3), Language::En),
            "3 October 2026"
        );
    }

    #[test]
    fn every_month_has_a_distinct_name_in_every_language() {
        for language in Language::ALL {
            let names: BTreeSet<_> = (1..=12)
                .map(|month| format_date(date(2026, month, 15), language))
                .collect();

            assert_eq!(names.len(), 12, "{language:?}");
        }
    }

    #[test]
    fn the_lang_parameter_wins_over_everything_else() {
        let chosen = negotiate(Some("fr"), Some(Language::De), Some("nl"));

        assert_eq!(chosen, Language::Fr);
        assert_eq!(negotiate(Some("NL"), None, None), Language::Nl);
        assert_eq!(negotiate(Some(" de-AT "), None, None), Language::De);
    }

    #[test]
    fn an_unsupported_lang_parameter_falls_back_to_the_debtor_language() {
        assert_eq!(
            negotiate(Some("es"), Some(Language::De), Some("fr")),
            Language::De
        );
        assert_eq!(negotiate(Some(""), Some(Language::Nl), None), Language::Nl);
        assert_eq!(
            negotiate(Some("<script>"), Some(Language::Fr), None),
            Language::Fr
        );
    }

    #[test]
    fn the_debtor_language_wins_over_the_browser() {
        assert_eq!(
            negotiate(None, Some(Language::Nl), Some("de, fr")),
            Language::Nl
        );
    }

    #[test]
    fn accept_language_is_read_by_q_value() {
        let cases = [
            ("de", Language::De),
            ("es, nl;q=0.8, en;q=0.5", Language::Nl),
            ("en;q=0.5, fr;q=0.9", Language::Fr),
            ("fr;q=0.1, de;q=0.100", Language::Fr),
            ("en;q=0.7,de;q=0.701", Language::De),
            ("de-AT;q=0.8, de-CH;q=0.2, en-GB;q=0.5", Language::De),
            ("nl-BE", Language::Nl),
            ("FR-ca", Language::Fr),
            ("es-ES, es;q=0.9, fr;q=0.3", Language::Fr),
            ("de;q=0, nl;q=0.1", Language::Nl),
            ("fr;Q=1.000", Language::Fr),
            (" de ; q=0.5 ", Language::De),
        ];

        for (header, expected) in cases {
            assert_eq!(negotiate(None, None, Some(header)), expected, "{header}");
        }
    }

    #[test]
    fn equal_q_values_keep_the_order_of_the_header() {
        assert_eq!(negotiate(None, None, Some("nl, de, fr")), Language::Nl);
        assert_eq!(
            negotiate(None, None, Some("fr;q=0.5, de;q=0.5")),
            Language::Fr
        );
        assert_eq!(negotiate(None, None, Some("de;q=1, nl")), Language::De);
    }

    #[test]
    fn a_language_with_q_zero_is_not_acceptable() {
        assert_eq!(negotiate(None, None, Some("de;q=0")), Language::En);
        assert_eq!(negotiate(None, None, Some("fr;q=0.000, es")), Language::En);
    }

    #[test]
    fn malformed_or_unsupported_accept_language_falls_back_to_english() {
        let headers = [
            "",
            "*",
            "es, it;q=0.9",
            "de;q=2",
            "de;q=1.5",
            "de;q=0.5.5",
            "de;q=-0.5",
            "de;q=0.1234",
            "de;q=",
            "de;q",
            "de;level=1",
            "de;level=1;q=0.5",
            "de;q=0.5;q",
            "d e",
            "de_DE",
            "deutsch-de-verylongsubtag",
            ";;;,,,",
            "\u{e9}\u{e8}",
            "fr-",
            "-fr",
        ];

        for header in headers {
            assert_eq!(
                negotiate(None, None, Some(header)),
                Language::En,
                "{header:?}"
            );
        }
        assert_eq!(negotiate(None, None, None), Language::En);
    }

    #[test]
    fn a_malformed_entry_does_not_hide_the_valid_ones() {
        let header = "de;q=abc, garbage!!, *;q=0.9, nl;q=0.4, fr;q=0.3";

        assert_eq!(negotiate(None, None, Some(header)), Language::Nl);
    }

    #[test]
    fn every_sepa_country_has_a_name_in_every_language_and_no_other_code_does() {
        let letters = b'A'..=b'Z';
        for first in letters.clone() {
            for second in letters.clone() {
                let code = String::from_utf8(vec![first, second]).unwrap();
                for language in Language::ALL {
                    let name = country_name(&code, language);

                    assert_eq!(
                        name.is_some(),
                        is_sepa_country(&code),
                        "{code} {language:?}"
                    );
                    assert!(name.is_none_or(|name| !name.trim().is_empty()), "{code}");
                }
            }
        }
    }

    #[test]
    fn the_sepa_countries_are_listed_once_in_code_order() {
        let codes: Vec<_> = sepa_countries().collect();

        assert!(codes.windows(2).all(|pair| pair[0] < pair[1]), "{codes:?}");
        assert!(codes.iter().all(|code| is_sepa_country(code)));
        assert_eq!(codes.len(), 54);
    }

    #[test]
    fn country_names_are_in_the_language_asked_for() {
        assert_eq!(country_name("DE", Language::En), Some("Germany"));
        assert_eq!(country_name("DE", Language::De), Some("Deutschland"));
        assert_eq!(country_name("NL", Language::Fr), Some("Pays-Bas"));
        assert_eq!(country_name("BE", Language::Nl), Some("België"));
        assert_eq!(country_name("de", Language::En), None);
        assert_eq!(country_name("US", Language::En), None);
        assert_eq!(country_name("XK", Language::De), None);
    }

    proptest! {
        #[test]
        fn a_formatted_amount_keeps_every_digit_of_the_amount(amount in 1..=MAX_AMOUNT_CENTS) {
            let amount = cents(amount);
            let plain = amount.to_string().replace('.', "");

            for language in Language::ALL {
                let digits: String = format_amount(amount, language)
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                prop_assert_eq!(&digits, &plain);
            }
        }

        #[test]
        fn english_amounts_read_back_as_the_same_amount(amount in 1..=MAX_AMOUNT_CENTS) {
            let amount = cents(amount);
            let formatted = format_amount(amount, Language::En);
            let read_back = Amount::parse(&formatted.replace(['€', ','], "")).unwrap();

            prop_assert_eq!(read_back, amount);
        }

        #[test]
        fn fill_with_no_values_returns_the_template(template in "[a-z{} ]{0,40}") {
            prop_assert_eq!(fill(&template, &[]), template);
        }
    }
}
