//! SEPA identifiers, parsed once at the edge: IBAN, BIC and the creditor identifier.
//!
//! Each is a newtype whose only constructor checks it, so a value of the type is valid by
//! construction. They serialize as their electronic form (no spaces, upper case) and
//! deserialize through the same checks.
//!
//! Error messages are written for the person who typed the value: they say what is wrong and
//! how to fix it, and they never repeat the whole identifier, so an error that ends up in a log
//! line carries no account number.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a text is not a valid identifier; the message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdentifierError(pub String);

fn invalid(message: impl Into<String>) -> IdentifierError {
    IdentifierError(message.into())
}

/// An IBAN of a SEPA country, checked by `iban_validate` (mod-97 check digits and the country's
/// BBAN format). Spaces and lower case are accepted on input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Iban(String);

impl Iban {
    /// Parses an IBAN as a person types or pastes it: spaces anywhere and lower case letters
    /// are accepted, and the electronic form is kept.
    ///
    /// An IBAN of a country outside the SEPA scheme is refused even when it is well formed,
    /// because a SEPA direct debit cannot reach that account. The checks run from the coarse
    /// to the fine (characters, country, length, check digits, the country's format), so the
    /// message names the first thing a person would have to correct.
    pub fn parse(text: &str) -> Result<Self, IdentifierError> {
        let electronic: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if electronic.is_empty() {
            return Err(invalid("enter an IBAN"));
        }
        if let Some(c) = electronic.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return Err(invalid(format!(
                "an IBAN has only letters and digits; remove the '{c}'"
            )));
        }

        let bytes = electronic.as_bytes();
        let starts_well = bytes.len() >= 4
            && bytes[..2].iter().all(u8::is_ascii_alphabetic)
            && bytes[2..4].iter().all(u8::is_ascii_digit);
        if !starts_well {
            return Err(invalid(
                "an IBAN starts with the two letters of its country and two check digits, \
                 as in DE44",
            ));
        }
        let country = &electronic[..2];
        let length = iban_length(country)?;
        if electronic.len() != length {
            return Err(invalid(format!(
                "an IBAN from {country} has {length} characters, but this one has {}",
                electronic.len()
            )));
        }

        match electronic.parse::<iban::Iban>() {
            Ok(parsed) => Ok(Iban(iban::IbanLike::electronic_str(&parsed).to_owned())),
            Err(iban::ParseIbanError::InvalidBaseIban {
                source: iban::ParseBaseIbanError::InvalidChecksum,
            }) => Err(invalid(
                "the check digits do not match the rest of the IBAN; look for a mistyped or \
                 swapped character",
            )),
            Err(iban::ParseIbanError::InvalidBban(_)) => Err(invalid(format!(
                "the account number inside the IBAN does not have the form used in {country}; \
                 look for a letter where a digit belongs, or the other way round"
            ))),
            Err(_) => Err(invalid("this is not a valid IBAN")),
        }
    }

    /// The electronic form, `DE44500105175407324931`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ISO country code of the account, `DE`.
    pub fn country(&self) -> &str {
        &self.0[..2]
    }

    /// The paper form in groups of four, `DE44 5001 0517 5407 3249 31`.
    pub fn to_paper(&self) -> String {
        let mut paper = String::with_capacity(self.0.len() + self.0.len() / 4);
        for (position, c) in self.0.chars().enumerate() {
            if position > 0 && position % 4 == 0 {
                paper.push(' ');
            }
            paper.push(c);
        }
        paper
    }

    /// The IBAN with all but its country, check digits and last four characters hidden
    /// (`DE89…3000`), for e-mails that name the account without showing it.
    pub fn masked(&self) -> String {
        let tail = &self.0[self.0.len() - 4..];
        format!("{}…{}", &self.0[..4], tail)
    }

    /// The bank's code inside the IBAN, where the country's IBAN format has one (`37040044` for
    /// a German IBAN); the country code and the whole BBAN stand in for it elsewhere.
    pub fn bank_code(&self) -> String {
        match self.0.parse::<iban::Iban>() {
            Ok(parsed) => match parsed.bank_identifier() {
                Some(bank) => format!("{}{bank}", self.country()),
                None => self.0[..2].to_owned() + &self.0[4..],
            },
            Err(_) => self.0.clone(),
        }
    }
}

/// The length of an IBAN from `country`, or why no IBAN from there can be debited.
fn iban_length(country: &str) -> Result<usize, IdentifierError> {
    if let Some((_, length)) = SEPA_IBAN_COUNTRIES
        .iter()
        .find(|(code, _)| *code == country)
    {
        return Ok(*length);
    }
    if let Some((_, parent)) = SEPA_TERRITORIES.iter().find(|(code, _)| *code == country) {
        return Err(invalid(format!(
            "accounts in {country} have IBANs that start with {parent}; enter that IBAN"
        )));
    }
    if is_iso_country(country) {
        return Err(invalid(format!(
            "{country} is not in the SEPA direct debit scheme, so an account there cannot be \
             debited; give an account in a SEPA country"
        )));
    }
    Err(invalid(format!(
        "{country} is not a country code; an IBAN starts with the two letters of its country"
    )))
}

/// A business identifier code (ISO 9362): 8 or 11 characters, `[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}`
/// plus an optional `[A-Z0-9]{3}` branch, with a real ISO country code.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bic(String);

impl Bic {
    /// Parses a BIC, accepting lower case and surrounding spaces, which are normalised away.
    ///
    /// A BIC is not needed for SEPA payments inside the EEA, so a well-formed BIC is all we ask
    /// for; whether the bank exists is not checked, as no directory of banks is at hand. The
    /// country code must be an assigned ISO code, which catches most typing errors in it.
    pub fn parse(text: &str) -> Result<Self, IdentifierError> {
        let bic = text.trim().to_ascii_uppercase();
        if bic.is_empty() {
            return Err(invalid("enter a BIC"));
        }
        if let Some(c) = bic.chars().find(|c| !c.is_ascii_alphanumeric()) {
            return Err(invalid(format!(
                "a BIC has only letters and digits; remove the '{c}'"
            )));
        }
        if bic.len() != 8 && bic.len() != 11 {
            return Err(invalid(format!(
                "a BIC has 8 or 11 characters, but this one has {}",
                bic.len()
            )));
        }
        if !bic[..4].bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(invalid(
                "a BIC starts with four letters, the code of the bank, as in DEUTDEFF",
            ));
        }
        let country = &bic[4..6];
        if !is_iso_country(country) {
            return Err(invalid(format!(
                "characters 5 and 6 of a BIC are the bank's country, and {country} is not a \
                 country code"
            )));
        }
        Ok(Bic(bic))
    }

    /// The BIC in upper case, 8 or 11 characters, as it goes into pain.008.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A SEPA creditor identifier (AT-02): country, two check digits, a three-character creditor
/// business code (`ZZZ` when unused) and the national identifier. The check digits are ISO 7064
/// MOD 97-10 over national identifier + country + "00"; the business code is not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CreditorIdentifier(String);

impl CreditorIdentifier {
    /// Parses a creditor identifier, accepting lower case and spaces, which are normalised away.
    ///
    /// The form is the one the German banks' schema allows (letters, digits and
    /// `+ ? / - : ( ) . , '`, 8 to 35 characters), the country must be in the SEPA scheme, and
    /// the check digits must match. A wrong check digit is reported without the right one, so
    /// that a mistyped identifier is looked up again instead of "corrected" into someone
    /// else's. Only identifiers we send are checked this way; those in bank reports are not.
    pub fn parse(text: &str) -> Result<Self, IdentifierError> {
        let identifier: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if identifier.is_empty() {
            return Err(invalid("enter your creditor identifier"));
        }
        if let Some(c) = identifier.chars().find(|c| !is_identifier_character(*c)) {
            return Err(invalid(format!(
                "a creditor identifier has only letters, digits and + ? / - : ( ) . , '; \
                 remove the '{c}'"
            )));
        }
        if !(8..=35).contains(&identifier.len()) {
            return Err(invalid(format!(
                "a creditor identifier has 8 to 35 characters, but this one has {}",
                identifier.len()
            )));
        }

        let bytes = identifier.as_bytes();
        if !bytes[..2].iter().all(u8::is_ascii_alphabetic) {
            return Err(invalid(
                "a creditor identifier starts with the two letters of the country that issued \
                 it, as in DE98ZZZ09999999999",
            ));
        }
        let country = &identifier[..2];
        if !is_iso_country(country) {
            return Err(invalid(format!(
                "{country} is not a country code; a creditor identifier starts with the two \
                 letters of the country that issued it"
            )));
        }
        if !is_sepa_country(country) {
            return Err(invalid(format!(
                "{country} is not in the SEPA direct debit scheme, and creditor identifiers are \
                 issued only in SEPA countries"
            )));
        }
        if !bytes[2..4].iter().all(u8::is_ascii_digit) {
            return Err(invalid(
                "characters 3 and 4 of a creditor identifier are its check digits, which are \
                 digits",
            ));
        }
        if identifier[2..4] != check_digits(&identifier[7..], country) {
            return Err(invalid(
                "the check digits do not match the identifier; check it against the letter \
                 from your bank or central bank that gave it to you",
            ));
        }
        Ok(CreditorIdentifier(identifier))
    }

    /// The identifier in upper case without spaces, as it goes into pain.008.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identifier without its business code, which is what identifies the creditor
    /// (together with the mandate reference it identifies a mandate).
    pub fn without_business_code(&self) -> String {
        format!("{}{}", &self.0[..4], &self.0[7..])
    }
}

/// The characters the creditor identifier pattern allows after upper-casing.
fn is_identifier_character(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || "+?/-:().,'".contains(c)
}

/// ISO 7064 MOD 97-10 check digits of a creditor identifier, as two digits: over the national
/// identifier (its characters other than letters and digits left out), then the country and
/// "00", with A = 10 ... Z = 35.
fn check_digits(national_identifier: &str, country: &str) -> String {
    let remainder = national_identifier
        .chars()
        .chain(country.chars())
        .chain("00".chars())
        .filter_map(|c| c.to_digit(36))
        .fold(0, |remainder, value| {
            let shift = if value < 10 { 10 } else { 100 };
            (remainder * shift + value) % 97
        });
    format!("{:02}", 98 - remainder)
}

/// Whether `code` is the ISO 3166 alpha-2 code of a country in the SEPA direct debit scheme.
///
/// This is the geographical scope of the SEPA schemes as the European Payments Council lists
/// it ("EPC List of SEPA Scheme Countries", EPC409-09), brought up to May 2025: the 27 EU
/// states, Iceland, Liechtenstein and Norway, Andorra, Monaco, San Marino, Switzerland, the
/// United Kingdom and Vatican City, Gibraltar and the Crown Dependencies (Guernsey, Isle of
/// Man, Jersey), the outermost regions and other territories that the EPC counts with France
/// and Finland, and the countries the EPC added since: Albania and Montenegro (November 2024),
/// Moldova and North Macedonia (March 2025) and Serbia (May 2025). Kosovo had applied and is
/// not in. A country being in scope does not mean every bank there has joined the direct debit
/// scheme; a bank that has not rejects the collection.
pub fn is_sepa_country(code: &str) -> bool {
    SEPA_IBAN_COUNTRIES
        .iter()
        .any(|(country, _)| *country == code)
        || SEPA_TERRITORIES
            .iter()
            .any(|(territory, _)| *territory == code)
}

/// Whether `code` is an ISO 3166-1 alpha-2 country code.
///
/// Only officially assigned codes count: the 249 of them, unchanged since South Sudan's `SS` in
/// 2011. The user-assigned `XK` that some banks use for Kosovo does not.
pub fn is_iso_country(code: &str) -> bool {
    ISO_COUNTRIES.binary_search(&code).is_ok()
}

/// The SEPA countries that have IBANs of their own, with the length of their IBANs (SWIFT's IBAN
/// Registry, as built into `iban_validate` 5.0.1). Knowing the length lets the error say
/// "22 characters, not 21" instead of "invalid".
const SEPA_IBAN_COUNTRIES: [(&str, usize); 42] = [
    ("AD", 24),
    ("AL", 28),
    ("AT", 20),
    ("BE", 16),
    ("BG", 22),
    ("CH", 21),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("EE", 20),
    ("ES", 24),
    ("FI", 18),
    ("FR", 27),
    ("GB", 22),
    ("GI", 23),
    ("GR", 27),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IS", 26),
    ("IT", 27),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MT", 31),
    ("NL", 18),
    ("NO", 15),
    ("PL", 28),
    ("PT", 25),
    ("RO", 24),
    ("RS", 22),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("VA", 22),
];

/// The SEPA territories with an ISO code of their own whose accounts have the IBANs of another
/// SEPA country: the Åland Islands (Finland), the French overseas departments and collectivities
/// in scope, and the Crown Dependencies (United Kingdom).
const SEPA_TERRITORIES: [(&str, &str); 12] = [
    ("AX", "FI"),
    ("BL", "FR"),
    ("GF", "FR"),
    ("GG", "GB"),
    ("GP", "FR"),
    ("IM", "GB"),
    ("JE", "GB"),
    ("MF", "FR"),
    ("MQ", "FR"),
    ("PM", "FR"),
    ("RE", "FR"),
    ("YT", "FR"),
];

/// Every officially assigned ISO 3166-1 alpha-2 code, sorted for the binary search.
const ISO_COUNTRIES: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

macro_rules! string_serde {
    ($ty:ty) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                <$ty>::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_serde!(Iban);
string_serde!(Bic);
string_serde!(CreditorIdentifier);

#[cfg(test)]
mod tests {
    use super::*;

    /// The example IBAN of each SEPA country with IBANs of its own, from SWIFT's IBAN Registry.
    const REGISTRY_EXAMPLES: [&str; 42] = [
        "AD1200012030200359100100",
        "AL47212110090000000235698741",
        "AT611904300234573201",
        "BE68539007547034",
        "BG80BNBG96611020345678",
        "CH9300762011623852957",
        "CY17002001280000001200527600",
        "CZ6508000000192000145399",
        "DE89370400440532013000",
        "DK5000400440116243",
        "EE382200221020145685",
        "ES9121000418450200051332",
        "FI2112345600000785",
        "FR1420041010050500013M02606",
        "GB29NWBK60161331926819",
        "GI75NWBK000000007099453",
        "GR1601101250000000012300695",
        "HR1210010051863000160",
        "HU42117730161111101800000000",
        "IE29AIBK93115212345678",
        "IS140159260076545510730339",
        "IT60X0542811101000000123456",
        "LI21088100002324013AA",
        "LT121000011101001000",
        "LU280019400644750000",
        "LV80BANK0000435195001",
        "MC5811222000010123456789030",
        "MD24AG000225100013104168",
        "ME25505000012345678951",
        "MK07250120000058984",
        "MT84MALT011000012345MTLCAST001S",
        "NL91ABNA0417164300",
        "NO9386011117947",
        "PL61109010140000071219812874",
        "PT50000201231234567890154",
        "RO49AAAA1B31007593840000",
        "RS35260005601001611379",
        "SE4550000000058398257466",
        "SI56263300012039086",
        "SK3112000000198742637541",
        "SM86U0322509800000000270100",
        "VA59001123000012345678",
    ];

    fn message<T: fmt::Debug>(result: Result<T, IdentifierError>) -> String {
        result.unwrap_err().0
    }

    #[test]
    fn an_iban_in_paper_form_is_stored_in_electronic_form() {
        let iban = Iban::parse("DE44 5001 0517 5407 3249 31").unwrap();

        assert_eq!(iban.as_str(), "DE44500105175407324931");
        assert_eq!(iban.country(), "DE");
    }

    #[test]
    fn an_iban_in_lower_case_with_stray_spaces_is_accepted_and_upper_cased() {
        let iban = Iban::parse("  fr14 2004 10100505 0001 3m02 606 ").unwrap();

        assert_eq!(iban.as_str(), "FR1420041010050500013M02606");
    }

    #[test]
    fn the_paper_form_groups_the_iban_in_fours() {
        let iban = Iban::parse("DE44500105175407324931").unwrap();

        assert_eq!(iban.to_paper(), "DE44 5001 0517 5407 3249 31");
        assert_eq!(Iban::parse(&iban.to_paper()).unwrap(), iban);
    }

    #[test]
    fn the_registry_example_iban_of_every_sepa_iban_country_is_accepted() {
        for example in REGISTRY_EXAMPLES {
            assert!(
                Iban::parse(example).is_ok(),
                "{example}: {:?}",
                Iban::parse(example)
            );
        }

        let covered: Vec<&str> = REGISTRY_EXAMPLES
            .iter()
            .map(|example| &example[..2])
            .collect();
        let countries: Vec<&str> = SEPA_IBAN_COUNTRIES.iter().map(|(code, _)| *code).collect();
        assert_eq!(covered, countries);
    }

    #[test]
    fn an_iban_with_a_wrong_check_digit_is_refused_without_echoing_it() {
        let error = message(Iban::parse("DE45500105175407324931"));

        assert!(error.contains("check digits do not match"), "{error}");
        assert!(!error.contains("500105175407324931"), "{error}");
    }

    #[test]
    fn an_iban_with_two_swapped_digits_is_refused() {
        let error = message(Iban::parse("DE44500105175407324913"));

        assert!(error.contains("check digits do not match"), "{error}");
    }

    #[test]
    fn an_iban_of_the_wrong_length_for_its_country_says_how_long_it_should_be() {
        let error = message(Iban::parse("DE4450010517540732493"));

        assert_eq!(
            error,
            "an IBAN from DE has 22 characters, but this one has 21"
        );
    }

    #[test]
    fn an_iban_with_a_letter_where_its_country_wants_a_digit_is_refused() {
        // Valid check digits, but German account numbers are all digits.
        let error = message(Iban::parse("DE64500105175407324A31"));

        assert!(
            error.contains("does not have the form used in DE"),
            "{error}"
        );
    }

    #[test]
    fn an_iban_from_outside_sepa_is_refused_even_when_well_formed() {
        // Brazil's registry example, with correct check digits.
        let brazil = message(Iban::parse("BR1800360305000010009795493C1"));
        let united_states = message(Iban::parse("US64SVBKUS6S3300958879"));

        assert!(
            brazil.contains("BR is not in the SEPA direct debit scheme"),
            "{brazil}"
        );
        assert!(united_states.contains("US is not in the SEPA direct debit scheme"));
    }

    #[test]
    fn an_iban_with_a_made_up_country_is_refused() {
        let error = message(Iban::parse("QQ44500105175407324931"));

        assert!(error.contains("QQ is not a country code"), "{error}");
    }

    #[test]
    fn an_iban_for_a_crown_dependency_must_use_the_british_code() {
        let error = message(Iban::parse("JE29NWBK60161331926819"));

        assert!(error.contains("start with GB"), "{error}");
    }

    #[test]
    fn an_iban_with_punctuation_or_nothing_in_it_is_refused() {
        assert!(message(Iban::parse("DE44-5001-0517")).contains("remove the '-'"));
        assert_eq!(message(Iban::parse("   ")), "enter an IBAN");
        assert!(message(Iban::parse("4450010517")).contains("starts with the two letters"));
    }

    #[test]
    fn a_bic_of_8_or_11_characters_is_accepted() {
        assert_eq!(Bic::parse("DEUTDEFF").unwrap().as_str(), "DEUTDEFF");
        assert_eq!(Bic::parse("DEUTDEFF500").unwrap().as_str(), "DEUTDEFF500");
        assert_eq!(Bic::parse("NEDSZAJJXXX").unwrap().as_str(), "NEDSZAJJXXX");
    }

    #[test]
    fn a_bic_in_lower_case_with_surrounding_spaces_is_normalised() {
        assert_eq!(
            Bic::parse("  deutdeff500 ").unwrap().as_str(),
            "DEUTDEFF500"
        );
    }

    #[test]
    fn a_bic_of_9_characters_is_refused() {
        let error = message(Bic::parse("DEUTDEFF5"));

        assert_eq!(error, "a BIC has 8 or 11 characters, but this one has 9");
    }

    #[test]
    fn a_bic_with_a_country_code_that_does_not_exist_is_refused() {
        let error = message(Bic::parse("DEUTQQFF"));

        assert!(error.contains("QQ is not a country code"), "{error}");
        assert!(Bic::parse("DEUT1EFF").is_err());
    }

    #[test]
    fn a_bic_whose_bank_code_has_a_digit_or_whose_inside_has_a_space_is_refused() {
        assert!(message(Bic::parse("DEU1DEFF")).contains("starts with four letters"));
        assert!(message(Bic::parse("DEUT DEFF")).contains("remove the ' '"));
    }

    #[test]
    fn the_worked_creditor_identifier_examples_are_accepted() {
        for identifier in [
            "DE98ZZZ09999999999",
            "FR72ZZZ123456",
            "BE68ZZZ0123456789",
            "NL79ZZZ999999990000",
            "AT61ZZZ01234567890",
            "NL42ZZZ123456780001",
            "NL51ZZZ405365330000",
            "IE84ZZZ123456",
        ] {
            let parsed = CreditorIdentifier::parse(identifier);

            assert_eq!(parsed.map(|ci| ci.0), Ok(identifier.to_owned()));
        }
    }

    #[test]
    fn creditor_identifiers_with_wrong_check_digits_are_refused_without_the_right_ones() {
        for identifier in ["NL98ZZZ123456780001", "IE03ZZZ123456"] {
            let error = message(CreditorIdentifier::parse(identifier));

            assert!(error.contains("check digits do not match"), "{error}");
            assert!(!error.contains("42") && !error.contains("84"), "{error}");
        }
    }

    #[test]
    fn the_business_code_does_not_enter_the_check_digits() {
        let identifier = CreditorIdentifier::parse("DE98ABC09999999999").unwrap();

        assert_eq!(identifier.without_business_code(), "DE9809999999999");
    }

    #[test]
    fn a_creditor_identifier_in_lower_case_with_spaces_is_normalised() {
        let identifier = CreditorIdentifier::parse(" de98 zzz 0999 9999 999 ").unwrap();

        assert_eq!(identifier.as_str(), "DE98ZZZ09999999999");
    }

    #[test]
    fn creditor_identifiers_that_break_the_pattern_say_what_is_wrong() {
        assert_eq!(
            message(CreditorIdentifier::parse("")),
            "enter your creditor identifier"
        );
        assert!(message(CreditorIdentifier::parse("DE98ZZZ0999_999")).contains("remove the '_'"));
        assert!(message(CreditorIdentifier::parse("DE98ZZZ")).contains("8 to 35 characters"));
        assert!(message(CreditorIdentifier::parse("D198ZZZ09999999999")).contains("two letters"));
        assert!(message(CreditorIdentifier::parse("DEX8ZZZ09999999999")).contains("digits"));
        assert!(message(CreditorIdentifier::parse("QQ98ZZZ09999999999")).contains("QQ is not"));
        assert!(
            message(CreditorIdentifier::parse("US98ZZZ09999999999"))
                .contains("US is not in the SEPA direct debit scheme")
        );
    }

    #[test]
    fn the_sepa_scheme_countries_include_the_newcomers_and_the_territories() {
        for code in [
            "DE", "FR", "GB", "CH", "VA", "AL", "MD", "ME", "MK", "RS", "GG", "JE", "GF",
        ] {
            assert!(is_sepa_country(code), "{code}");
        }
        for code in ["US", "XK", "BA", "TR", "UA", "NC", "FO", "de", "", "DEU"] {
            assert!(!is_sepa_country(code), "{code}");
        }
    }

    #[test]
    fn every_sepa_country_is_an_iso_country_and_every_territory_points_to_an_iban_country() {
        for (code, _) in SEPA_IBAN_COUNTRIES {
            assert!(is_iso_country(code), "{code}");
        }
        for (territory, parent) in SEPA_TERRITORIES {
            assert!(is_iso_country(territory), "{territory}");
            assert!(
                SEPA_IBAN_COUNTRIES.iter().any(|(code, _)| *code == parent),
                "{parent}"
            );
        }
    }

    #[test]
    fn the_iso_country_list_is_sorted_and_knows_real_codes_only() {
        assert!(ISO_COUNTRIES.windows(2).all(|pair| pair[0] < pair[1]));
        for code in ["AD", "DE", "US", "ZW", "AX", "SS", "BQ"] {
            assert!(is_iso_country(code), "{code}");
        }
        for code in ["XK", "UK", "EU", "QQ", "de", "", "D"] {
            assert!(!is_iso_country(code), "{code}");
        }
    }

    #[test]
    fn identifiers_serialize_as_their_electronic_form_and_deserialize_through_the_checks() {
        let iban = Iban::parse("DE44 5001 0517 5407 3249 31").unwrap();
        let bic = Bic::parse("deutdeff").unwrap();
        let identifier = CreditorIdentifier::parse("DE98ZZZ09999999999").unwrap();

        let json = serde_json::to_string(&(&iban, &bic, &identifier)).unwrap();
        assert_eq!(
            json,
            r#"["DE44500105175407324931","DEUTDEFF","DE98ZZZ09999999999"]"#
        );
        let back: (Iban, Bic, CreditorIdentifier) = serde_json::from_str(&json).unwrap();
        assert_eq!(back, (iban, bic, identifier));
    }

    #[test]
    fn deserializing_an_invalid_identifier_fails_with_its_message() {
        let error = serde_json::from_str::<Iban>(r#""DE45500105175407324931""#).unwrap_err();
        assert!(
            error.to_string().contains("check digits do not match"),
            "{error}"
        );

        assert!(serde_json::from_str::<Bic>(r#""DEUTDEFF5""#).is_err());
        assert!(serde_json::from_str::<CreditorIdentifier>(r#""NL98ZZZ123456780001""#).is_err());
    }
}

#[cfg(test)]
mod bank_code_tests {
    use super::*;

    #[test]
    fn the_bank_code_is_the_part_of_the_iban_that_names_the_bank() {
        let iban = Iban::parse("DE89370400440532013000").unwrap();
        assert_eq!(iban.bank_code(), "DE37040044");
        let same_bank = Iban::parse("DE62370400440532013001").unwrap();
        assert_eq!(same_bank.bank_code(), iban.bank_code());
    }

    #[test]
    fn a_masked_iban_shows_only_its_start_and_end() {
        let iban = Iban::parse("DE89370400440532013000").unwrap();
        assert_eq!(iban.masked(), "DE89…3000");
    }
}
