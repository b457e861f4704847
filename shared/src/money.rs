//! Money: amounts in euro, exact to the cent.
//!
//! An [`Amount`] is a `rust_decimal::Decimal` with exactly two fraction digits, strictly positive
//! and at most 999 999 999.99, the range the pain.008 `InstdAmt` field allows. Arithmetic on plans
//! is done in integer cents ([`Amount::cents`]) so that a split never loses or invents a cent.
//! JSON carries amounts as strings (`"166.67"`): a JSON number is refused, because a float has
//! no business near money.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest amount one SEPA direct debit may carry, in cents (999 999 999.99 EUR).
pub const MAX_AMOUNT_CENTS: i64 = 99_999_999_999;

/// A strictly positive euro amount with two fraction digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

/// Why a text or number is not an [`Amount`]; the message says what a valid amount looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("is not a decimal number; write it as a string like \"166.67\"")]
    NotANumber,
    #[error("has more than two decimals; amounts are in euro and cents, like \"166.67\"")]
    TooManyDecimals,
    #[error("must be greater than zero")]
    NotPositive,
    #[error("must be at most 999999999.99, the largest amount a SEPA direct debit can carry")]
    TooLarge,
}

impl Amount {
    /// Builds an amount from a number of cents.
    pub fn from_cents(cents: i64) -> Result<Self, AmountError> {
        if cents <= 0 {
            return Err(AmountError::NotPositive);
        }
        if cents > MAX_AMOUNT_CENTS {
            return Err(AmountError::TooLarge);
        }
        Ok(Self(cents))
    }

    /// Parses the text form (`"166.67"`, `"12"`, `"12.5"`). No sign, no thousands separator,
    /// no exponent, a dot as the decimal point.
    pub fn parse(text: &str) -> Result<Self, AmountError> {
        let text = text.trim();
        let well_formed = !text.is_empty()
            && text.chars().all(|c| c.is_ascii_digit() || c == '.')
            && text.matches('.').count() <= 1
            && !text.starts_with('.')
            && !text.ends_with('.');
        if !well_formed {
            return Err(AmountError::NotANumber);
        }
        let decimal = Decimal::from_str(text).map_err(|_| AmountError::NotANumber)?;
        Self::from_decimal(decimal)
    }

    /// Converts a decimal, refusing more than two significant fraction digits
    /// (`12.500` is fine, `12.505` is not).
    pub fn from_decimal(decimal: Decimal) -> Result<Self, AmountError> {
        let normalized = decimal.normalize();
        if normalized.scale() > 2 {
            return Err(AmountError::TooManyDecimals);
        }
        if normalized <= Decimal::ZERO {
            return Err(AmountError::NotPositive);
        }
        let cents = (normalized * Decimal::ONE_HUNDRED)
            .trunc()
            .to_string()
            .parse::<i64>()
            .map_err(|_| AmountError::TooLarge)?;
        Self::from_cents(cents)
    }

    /// The amount in cents.
    pub fn cents(self) -> i64 {
        self.0
    }

    /// The amount as a decimal with scale 2 (`166.70`, never `166.7`).
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    /// Adds two amounts; `None` past the SEPA maximum.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        Amount::from_cents(self.0.checked_add(other.0)?).ok()
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl FromStr for Amount {
    type Err = AmountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Amount::parse(s)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Amount::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The only currency Tranche collects in: SEPA direct debits are in euro.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    #[serde(rename = "EUR")]
    Eur,
}

impl Currency {
    /// Parses an ISO 4217 code; anything but `EUR` is refused.
    pub fn parse(code: &str) -> Option<Currency> {
        (code == "EUR").then_some(Currency::Eur)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    #[test]
    fn text_with_up_to_two_decimals_is_an_amount() {
        assert_eq!(Amount::parse("166.67").unwrap().cents(), 16667);
        assert_eq!(Amount::parse("12").unwrap().cents(), 1200);
        assert_eq!(Amount::parse("12.5").unwrap().to_string(), "12.50");
        assert_eq!(Amount::parse("0.01").unwrap().cents(), 1);
        assert_eq!(
            Amount::parse("999999999.99").unwrap().cents(),
            MAX_AMOUNT_CENTS
        );
    }

    #[test]
    fn zero_negative_and_malformed_text_is_refused_with_the_reason() {
        assert_eq!(Amount::parse("0"), Err(AmountError::NotPositive));
        assert_eq!(Amount::parse("0.00"), Err(AmountError::NotPositive));
        assert_eq!(Amount::parse("-5"), Err(AmountError::NotANumber));
        assert_eq!(Amount::parse("1.234"), Err(AmountError::TooManyDecimals));
        assert_eq!(Amount::parse("abc"), Err(AmountError::NotANumber));
        assert_eq!(Amount::parse("1,5"), Err(AmountError::NotANumber));
        assert_eq!(Amount::parse("1e3"), Err(AmountError::NotANumber));
        assert_eq!(Amount::parse(""), Err(AmountError::NotANumber));
        assert_eq!(Amount::parse("1000000000.00"), Err(AmountError::TooLarge));
    }

    #[test]
    fn trailing_zeros_beyond_cents_are_harmless() {
        assert_eq!(Amount::from_decimal(dec!(12.500)).unwrap().cents(), 1250);
    }

    #[test]
    fn json_carries_amounts_as_strings_and_refuses_numbers() {
        let amount: Amount = serde_json::from_str("\"10.10\"").unwrap();
        assert_eq!(serde_json::to_string(&amount).unwrap(), "\"10.10\"");
        assert!(serde_json::from_str::<Amount>("10.1").is_err());
    }

    proptest! {
        #[test]
        fn text_form_round_trips(cents in 1i64..=MAX_AMOUNT_CENTS) {
            let amount = Amount::from_cents(cents).unwrap();
            prop_assert_eq!(Amount::parse(&amount.to_string()).unwrap(), amount);
            prop_assert_eq!(amount.to_decimal().scale(), 2);
        }
    }
}
