//! Kubernetes `resource.Quantity` strings, parsed with exactly Kubernetes' grammar.
//!
//! ```text
//! quantity ::= sign? number suffix
//! number   ::= digits | digits "." | digits "." digits | "." digits
//! suffix   ::= "" | binary | decimal | ("e" | "E") sign? digits
//! binary   ::= Ki | Mi | Gi | Ti | Pi | Ei
//! decimal  ::= n | u | m | k | M | G | T | P | E
//! ```
//!
//! A quantity is held as an integer mantissa times a power of ten and a power of two,
//! and turned into an `f64` by one correctly rounded step, so `123456789n` is the `f64`
//! nearest to 0.123456789 and never an accumulation of rounding errors. Anything outside
//! the grammar (whitespace, unknown or repeated suffixes, `ki`, `1.2.3`) is an error:
//! a value Kubernetes would reject is never guessed at.

use std::fmt;

/// A quantity that matched the grammar: `±mantissa × 10^exp10 × 2^exp2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity<'a> {
    negative: bool,
    /// Digits before the decimal point.
    whole: &'a str,
    /// Digits after the decimal point; part of the mantissa, compensated in `exp10`.
    fraction: &'a str,
    exp10: i64,
    exp2: u32,
}

/// Why a string is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuantityError {
    Empty,
    /// No digits where the number should be (`"Ki"`, `"."`, `"-"`).
    MissingNumber,
    /// Text after the number that is not one suffix (`"5 m"`, `"1ki"`, `"3mm"`).
    InvalidSuffix(String),
    /// Grammatical, but its magnitude does not fit an `f64`.
    OutOfRange,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuantityError::Empty => f.write_str("empty quantity"),
            QuantityError::MissingNumber => f.write_str("quantity has no number"),
            QuantityError::InvalidSuffix(s) => write!(f, "invalid quantity suffix {s:?}"),
            QuantityError::OutOfRange => f.write_str("quantity out of range"),
        }
    }
}

impl std::error::Error for QuantityError {}

/// Parses `text` and returns its value in base units (cores, bytes).
pub fn parse(text: &str) -> Result<f64, QuantityError> {
    if let Some(value) = parse_plain(text.as_bytes()) {
        return Ok(value);
    }
    Quantity::parse(text)?.to_f64()
}

/// The shape metrics-server writes (`123456789n`, `125448Ki`): at most 15 digits, so
/// exact in an `f64`, and one common suffix, scaled by the same single IEEE operation
/// as [`Quantity::to_f64`]; `None` for anything else, which the full grammar reads.
fn parse_plain(text: &[u8]) -> Option<f64> {
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 15 {
        return None;
    }
    let mantissa = text[..digits]
        .iter()
        .fold(0u64, |number, digit| number * 10 + u64::from(digit - b'0'))
        as f64;
    Some(match &text[digits..] {
        b"" => mantissa,
        b"n" => mantissa / 1e9,
        b"u" => mantissa / 1e6,
        b"m" => mantissa / 1e3,
        b"k" => mantissa * 1e3,
        b"Ki" => mantissa * 1024.0,
        b"Mi" => mantissa * 1048576.0,
        b"Gi" => mantissa * 1073741824.0,
        _ => return None,
    })
}

impl<'a> Quantity<'a> {
    pub fn parse(text: &'a str) -> Result<Self, QuantityError> {
        if text.is_empty() {
            return Err(QuantityError::Empty);
        }
        let (negative, rest) = split_sign(text);
        let whole_len = leading_digits(rest);
        let whole = &rest[..whole_len];
        let mut rest = &rest[whole_len..];
        let mut fraction = "";
        if let Some(after_point) = rest.strip_prefix('.') {
            let len = leading_digits(after_point);
            fraction = &after_point[..len];
            rest = &after_point[len..];
        }
        if whole.is_empty() && fraction.is_empty() {
            return Err(QuantityError::MissingNumber);
        }
        let (exp10, exp2) = parse_suffix(rest)?;
        let exp10 = exp10
            .checked_sub(fraction.len() as i64)
            .ok_or(QuantityError::OutOfRange)?;
        Ok(Quantity {
            negative,
            whole,
            fraction,
            exp10,
            exp2,
        })
    }

    /// The value as the nearest `f64`, rounded once.
    pub fn to_f64(&self) -> Result<f64, QuantityError> {
        let magnitude = match self.small_mantissa() {
            Some(mantissa) => scale_exactly(mantissa, self.exp10),
            None => None,
        }
        .unwrap_or_else(|| self.parse_decimal());
        // Multiplying by a power of two is exact, so the single rounding above stands;
        // except below the normal range, where the magnitude was rounded to fewer bits
        // than the scaled value has (`0.000…1Ki`): there the digits are scaled first.
        let value = if self.exp2 > 0 && magnitude < f64::MIN_POSITIVE {
            self.parse_decimal_scaled()
        } else {
            magnitude * 2f64.powi(self.exp2 as i32)
        };
        if !value.is_finite() {
            return Err(QuantityError::OutOfRange);
        }
        Ok(if self.negative { -value } else { value })
    }

    /// The mantissa as an integer when it fits the 53 bits an `f64` holds exactly.
    fn small_mantissa(&self) -> Option<u64> {
        let mut mantissa: u64 = 0;
        for digit in self.whole.bytes().chain(self.fraction.bytes()) {
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(u64::from(digit - b'0'))?;
        }
        (mantissa <= 1 << 53).then_some(mantissa)
    }

    /// The slow path for long mantissas or large exponents: Rust's decimal parser is
    /// correctly rounded for any length.
    fn parse_decimal(&self) -> f64 {
        let text = format!("{}{}e{}", self.whole, self.fraction, self.exp10);
        text.parse().unwrap_or(f64::NAN)
    }

    /// The decimal digits times `2^exp2`, in decimal, then parsed (rounded) once.
    fn parse_decimal_scaled(&self) -> f64 {
        // Little-endian base-10 digits, doubled exp2 (at most 60) times.
        let mut digits: Vec<u8> = self
            .whole
            .bytes()
            .chain(self.fraction.bytes())
            .rev()
            .map(|d| d - b'0')
            .collect();
        for _ in 0..self.exp2 {
            let mut carry = 0;
            for digit in &mut digits {
                let doubled = *digit * 2 + carry;
                *digit = doubled % 10;
                carry = doubled / 10;
            }
            if carry > 0 {
                digits.push(carry);
            }
        }
        let text: String = digits.iter().rev().map(|d| char::from(b'0' + d)).collect();
        format!("{text}e{}", self.exp10).parse().unwrap_or(f64::NAN)
    }
}

/// `mantissa × 10^exp10` in one IEEE operation on exact operands, which rounds
/// correctly; `None` when 10^|exp10| is not exact in an `f64`.
fn scale_exactly(mantissa: u64, exp10: i64) -> Option<f64> {
    let power = *POWERS_OF_TEN.get(exp10.unsigned_abs() as usize)?;
    let mantissa = mantissa as f64;
    Some(if exp10 >= 0 {
        mantissa * power
    } else {
        mantissa / power
    })
}

/// Every power of ten that an `f64` holds exactly.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    }
}

fn leading_digits(text: &str) -> usize {
    text.bytes().take_while(u8::is_ascii_digit).count()
}

/// The suffix as (power of ten, power of two).
fn parse_suffix(suffix: &str) -> Result<(i64, u32), QuantityError> {
    let powers = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        _ => return parse_exponent(suffix).map(|exp10| (exp10, 0)),
    };
    Ok(powers)
}

/// `e3`, `E-2`, `e+10`: the exponent form of the decimal suffix.
fn parse_exponent(suffix: &str) -> Result<i64, QuantityError> {
    let invalid = || QuantityError::InvalidSuffix(suffix.to_owned());
    let exponent = suffix
        .strip_prefix('e')
        .or_else(|| suffix.strip_prefix('E'))
        .ok_or_else(invalid)?;
    if exponent.is_empty() {
        return Err(invalid());
    }
    let (negative, digits) = split_sign(exponent);
    if digits.is_empty() || leading_digits(digits) != digits.len() {
        return Err(invalid());
    }
    let significant = digits.trim_start_matches('0');
    // Past 10^12 no f64 changes, and the cap keeps later sums from overflowing.
    let magnitude = if significant.len() > 12 {
        1 << 40
    } else {
        significant.parse::<i64>().unwrap_or(0)
    };
    Ok(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> f64 {
        parse(text).unwrap_or_else(|e| panic!("{text:?} should parse: {e}"))
    }

    #[test]
    fn metrics_server_cpu_forms() {
        assert_eq!(ok("123456789n"), 0.123456789);
        assert_eq!(ok("1500u"), 0.0015);
        assert_eq!(ok("250m"), 0.25);
        assert_eq!(ok("7m"), 0.007);
        assert_eq!(ok("1"), 1.0);
        assert_eq!(ok("0"), 0.0);
    }

    #[test]
    fn metrics_server_memory_forms() {
        assert_eq!(ok("125448Ki"), 128_458_752.0);
        assert_eq!(ok("1Mi"), 1_048_576.0);
        assert_eq!(ok("1Gi"), 1_073_741_824.0);
        assert_eq!(ok("123456789"), 123_456_789.0);
        assert_eq!(ok("1k"), 1000.0);
    }

    #[test]
    fn every_suffix() {
        let cases = [
            ("3n", 3e-9),
            ("3u", 3e-6),
            ("3m", 3e-3),
            ("3", 3.0),
            ("3k", 3e3),
            ("3M", 3e6),
            ("3G", 3e9),
            ("3T", 3e12),
            ("3P", 3e15),
            ("3E", 3e18),
            ("3Ki", 3.0 * 1024.0),
            ("3Mi", 3.0 * 1024f64.powi(2)),
            ("3Gi", 3.0 * 1024f64.powi(3)),
            ("3Ti", 3.0 * 1024f64.powi(4)),
            ("3Pi", 3.0 * 1024f64.powi(5)),
            ("3Ei", 3.0 * 1024f64.powi(6)),
        ];
        for (text, want) in cases {
            assert_eq!(ok(text), want, "{text}");
        }
    }

    #[test]
    fn signs_and_fractions() {
        assert_eq!(ok("-250m"), -0.25);
        assert_eq!(ok("+250m"), 0.25);
        assert_eq!(ok("1."), 1.0);
        assert_eq!(ok(".5"), 0.5);
        assert_eq!(ok("-.5Ki"), -512.0);
        assert_eq!(ok("1.5Gi"), 1.5 * 1024f64.powi(3));
        assert_eq!(ok("0.1"), 0.1);
        assert_eq!(ok("007"), 7.0);
    }

    #[test]
    fn exponent_forms() {
        assert_eq!(ok("1e3"), 1000.0);
        assert_eq!(ok("1E3"), 1000.0);
        assert_eq!(ok("1e+3"), 1000.0);
        assert_eq!(ok("15e-1"), 1.5);
        assert_eq!(ok("1.5e2"), 150.0);
        assert_eq!(ok("2e0"), 2.0);
        assert_eq!(ok("1e-400"), 0.0);
    }

    /// Found writing the quantity fuzz target's exactness property: a value whose digits
    /// are below the normal range of an `f64` and whose binary suffix lifts it into that
    /// range was rounded twice (to the subnormal's fewer bits, then scaled).
    #[test]
    fn a_binary_suffix_on_a_subnormal_decimal_rounds_once() {
        let tiny = format!("0.{}1", "0".repeat(309));
        // 1e-310 × 1024, exactly 1.024e-307, correctly rounded by Rust's parser.
        let nearest: f64 = "1.024e-307".parse().unwrap();
        assert_eq!(ok(&format!("{tiny}Ki")), nearest);
        assert_eq!(ok(&format!("-{tiny}Ki")), -nearest);
        let ei: f64 = "1.152921504606846976e-292".parse().unwrap();
        assert_eq!(ok(&format!("{tiny}Ei")), ei);
        // 2e-324 alone rounds to zero; times 2^60 it is a normal number.
        let zero_alone = format!("0.{}2", "0".repeat(323));
        assert_eq!(ok(&zero_alone), 0.0);
        let lifted: f64 = "2.305843009213693952e-306".parse().unwrap();
        assert_eq!(ok(&format!("{zero_alone}Ei")), lifted);
    }

    #[test]
    fn exact_beyond_the_fast_path() {
        // 25 significant digits: the correctly rounded slow path.
        let nearest: f64 = "1234567890123456.789012345".parse().unwrap();
        assert_eq!(ok("1234567890123456789012345n"), nearest);
        assert_eq!(ok("1e30"), 1e30);
        assert_eq!(ok("0.000000000000000000000000001"), 1e-27);
        assert_eq!(ok("9007199254740993"), 9007199254740992.0);
    }

    #[test]
    fn rejects_what_kubernetes_rejects() {
        let bad = [
            "", " ", "-", "+", ".", "-.", "Ki", "m", "e3", "1 ", " 1", "1 m", "1mm", "1ki", "1KI",
            "1K", "1kb", "1Ki1", "1.2.3", "1..2", "1e", "1e+", "1e3.5", "1e3m", "1Ki ", "--1",
            "+-1", "1,5", "0x10", "1_000", "NaN", "inf", "1\n", "1i", "1mi", "٣",
        ];
        for text in bad {
            assert!(parse(text).is_err(), "{text:?} must be rejected");
        }
    }

    #[test]
    fn out_of_range_is_an_error_not_infinity() {
        assert_eq!(parse("1e400"), Err(QuantityError::OutOfRange));
        assert_eq!(
            parse("1e99999999999999999999"),
            Err(QuantityError::OutOfRange)
        );
        assert_eq!(ok("1e-99999999999999999999"), 0.0);
        assert_eq!(
            parse("99999999999999999999Ei").map(f64::is_finite),
            Ok(true)
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            parse("5 m").unwrap_err().to_string(),
            "invalid quantity suffix \" m\""
        );
        assert_eq!(parse("Ki"), Err(QuantityError::MissingNumber));
        assert_eq!(parse(""), Err(QuantityError::Empty));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        const DECIMAL: [(&str, i32); 10] = [
            ("n", -9),
            ("u", -6),
            ("m", -3),
            ("", 0),
            ("k", 3),
            ("M", 6),
            ("G", 9),
            ("T", 12),
            ("P", 15),
            ("E", 18),
        ];
        const BINARY: [(&str, i32); 6] = [
            ("Ki", 10),
            ("Mi", 20),
            ("Gi", 30),
            ("Ti", 40),
            ("Pi", 50),
            ("Ei", 60),
        ];

        proptest! {
            /// Any decimal quantity equals Rust's own correctly rounded reading of the
            /// same number written in scientific notation.
            #[test]
            fn decimal_quantities_are_exact(
                mantissa in 0u64..u64::MAX,
                fraction_digits in 0usize..12,
                suffix in 0usize..DECIMAL.len(),
                negative: bool,
            ) {
                let digits = mantissa.to_string();
                let split = digits.len().saturating_sub(fraction_digits);
                let (whole, fraction) = digits.split_at(split);
                let (suffix, power) = DECIMAL[suffix];
                let sign = if negative { "-" } else { "" };
                let text = format!("{sign}{whole}.{fraction}{suffix}");
                let exponent = power - fraction.len() as i32;
                let want: f64 = format!("{sign}{digits}e{exponent}").parse().unwrap();
                prop_assert_eq!(parse(&text).unwrap(), want, "{}", text);
            }

            #[test]
            fn binary_quantities_are_exact(mantissa in 0u64..(1 << 53), suffix in 0usize..BINARY.len()) {
                let (suffix, power) = BINARY[suffix];
                let want = mantissa as f64 * 2f64.powi(power);
                prop_assert_eq!(parse(&format!("{mantissa}{suffix}")).unwrap(), want);
            }

            /// The shape metrics-server writes, read by the short path, equals the
            /// full grammar's reading (longer mantissas fall through to it).
            #[test]
            fn plain_quantities_read_as_the_grammar_does(
                mantissa in 0u64..u64::MAX,
                digits in 1usize..20,
                suffix in proptest::sample::select(vec!["", "n", "u", "m", "k", "Ki", "Mi", "Gi"]),
            ) {
                let number = mantissa.to_string();
                let number = &number[..digits.min(number.len())];
                let text = format!("{number}{suffix}");
                let full = Quantity::parse(&text).unwrap().to_f64().unwrap();
                prop_assert_eq!(parse(&text).unwrap(), full, "{}", text);
                if digits <= 15 {
                    prop_assert!(parse_plain(text.as_bytes()).is_some(), "{}", text);
                }
            }

            #[test]
            fn exponent_quantities_are_exact(mantissa in 0u64..u64::MAX, exponent in -300i32..280) {
                let want: f64 = format!("{mantissa}e{exponent}").parse().unwrap();
                prop_assert_eq!(parse(&format!("{mantissa}E{exponent}")).unwrap(), want);
            }

            /// Whatever the input, the parser answers without panicking, and whatever it
            /// accepts is finite.
            #[test]
            fn never_panics(text in "[-+0-9.eEkKmMuniGTPE ]{0,12}") {
                if let Ok(value) = parse(&text) {
                    prop_assert!(value.is_finite());
                }
            }
        }
    }
}
