//! A quantity parses exactly or is an error: whatever the bytes, the parser accepts
//! exactly Kubernetes' grammar (checked against a recognizer written apart), and an
//! accepted value is the `f64` nearest to the exact decimal (checked in big rationals),
//! or `OutOfRange` exactly when that nearest is beyond `f64::MAX`.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use metrics_server_prom::quantity::{self, QuantityError};
use metrics_server_prom_fuzz::{exact, is_nearest, overflows};

#[derive(Arbitrary, Debug)]
enum Input {
    /// Any text.
    Text(String),
    /// Text that follows the grammar, so that values are exercised, not only errors.
    Built {
        sign: Option<bool>,
        whole: Vec<u8>,
        fraction: Option<Vec<u8>>,
        suffix: Suffix,
    },
}

#[derive(Arbitrary, Debug)]
enum Suffix {
    None,
    Named(u8),
    Exponent {
        upper: bool,
        sign: Option<bool>,
        value: i16,
        zeros: u8,
    },
}

const NAMED: [&str; 15] = [
    "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
];

fn digits(bytes: &[u8]) -> String {
    bytes.iter().map(|b| char::from(b'0' + b % 10)).collect()
}

impl Input {
    fn text(&self) -> String {
        match self {
            Input::Text(text) => text.clone(),
            Input::Built {
                sign,
                whole,
                fraction,
                suffix,
            } => {
                let mut text = String::new();
                match sign {
                    Some(true) => text.push('-'),
                    Some(false) => text.push('+'),
                    None => {}
                }
                text += &digits(whole);
                if let Some(fraction) = fraction {
                    text.push('.');
                    text += &digits(fraction);
                }
                if whole.is_empty() && fraction.as_ref().is_none_or(|f| f.is_empty()) {
                    text.push('1');
                }
                match suffix {
                    Suffix::None => {}
                    Suffix::Named(i) => text += NAMED[usize::from(*i) % NAMED.len()],
                    Suffix::Exponent {
                        upper,
                        sign,
                        value,
                        zeros,
                    } => {
                        text.push(if *upper { 'E' } else { 'e' });
                        match sign {
                            Some(true) => text.push('-'),
                            Some(false) => text.push('+'),
                            None => {}
                        }
                        text += &"0".repeat(usize::from(*zeros % 20));
                        text += &value.unsigned_abs().to_string();
                    }
                }
                text
            }
        }
    }
}

/// What the grammar says `text` is: sign, mantissa digits, power of ten (with the
/// fraction compensated; `None` when it does not fit an i64), power of two.
struct Expected {
    negative: bool,
    digits: String,
    exp10: Option<i64>,
    exp2: u32,
}

fn recognize(text: &str) -> Option<Expected> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let whole: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let mut rest = &rest[whole.len()..];
    let mut fraction = String::new();
    if let Some(after) = rest.strip_prefix('.') {
        fraction = after.chars().take_while(char::is_ascii_digit).collect();
        rest = &after[fraction.len()..];
    }
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let (exp10, exp2): (Option<i64>, u32) = match rest {
        "" => (Some(0), 0),
        "n" => (Some(-9), 0),
        "u" => (Some(-6), 0),
        "m" => (Some(-3), 0),
        "k" => (Some(3), 0),
        "M" => (Some(6), 0),
        "G" => (Some(9), 0),
        "T" => (Some(12), 0),
        "P" => (Some(15), 0),
        "E" => (Some(18), 0),
        "Ki" => (Some(0), 10),
        "Mi" => (Some(0), 20),
        "Gi" => (Some(0), 30),
        "Ti" => (Some(0), 40),
        "Pi" => (Some(0), 50),
        "Ei" => (Some(0), 60),
        _ => {
            let exponent = rest.strip_prefix(['e', 'E'])?;
            let (negative, digits) = match exponent.as_bytes().first()? {
                b'-' => (true, &exponent[1..]),
                b'+' => (false, &exponent[1..]),
                _ => (false, exponent),
            };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let magnitude = digits.parse::<i64>().ok();
            (magnitude.map(|m| if negative { -m } else { m }), 0)
        }
    };
    Some(Expected {
        negative,
        exp10: exp10.and_then(|e| e.checked_sub(fraction.len() as i64)),
        digits: whole + &fraction,
        exp2,
    })
}

fuzz_target!(|input: Input| {
    let text = input.text();
    let parsed = quantity::parse(&text);
    let Some(expected) = recognize(&text) else {
        assert!(
            parsed.is_err(),
            "{text:?} is outside the grammar but parsed as {parsed:?}"
        );
        return;
    };
    if matches!(input, Input::Built { .. }) {
        assert!(
            !matches!(
                parsed,
                Err(QuantityError::InvalidSuffix(_)
                    | QuantityError::MissingNumber
                    | QuantityError::Empty)
            ),
            "{text:?}: {parsed:?}"
        );
    }
    let zero = expected.digits.bytes().all(|b| b == b'0');
    // Past these bounds the value is certainly 0 or certainly out of range.
    let feasible = expected.exp10.filter(|e| (-6000..=400).contains(e));
    match parsed {
        Ok(value) => {
            assert!(value.is_finite(), "{text:?} gave {value}");
            assert_eq!(
                value.is_sign_negative(),
                expected.negative,
                "{text:?} gave {value}"
            );
            match feasible {
                Some(exp10) => {
                    let r = exact(&expected.digits, exp10, expected.exp2);
                    assert!(
                        is_nearest(&r, value.abs()),
                        "{text:?} gave {value:e}, not the nearest f64"
                    );
                }
                None => assert!(
                    value == 0.0 && (zero || expected.exp10.is_none_or(|e| e < 0)),
                    "{text:?} gave {value:e}"
                ),
            }
        }
        Err(error) => {
            assert_eq!(
                error,
                QuantityError::OutOfRange,
                "{text:?} is in the grammar"
            );
            assert!(!zero, "{text:?} is zero, never out of range");
            match feasible {
                Some(exp10) => assert!(
                    overflows(&exact(&expected.digits, exp10, expected.exp2)),
                    "{text:?} is within range"
                ),
                None => assert!(
                    expected.exp10.is_none_or(|e| e > 0),
                    "{text:?} is tiny, so 0"
                ),
            }
        }
    }
});
