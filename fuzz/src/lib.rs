//! What the fuzz targets share: a strict reader of the exposition the exporter writes,
//! exact arithmetic to judge a parsed quantity against, and the two decodings of a watch
//! target's lines.

use std::collections::BTreeMap;

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

/// One sample line of an exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Reads a text (0.0.4) or OpenMetrics exposition strictly: every line is `# HELP`,
/// `# TYPE`, `# EOF` (last, OpenMetrics only) or a sample with well-formed labels;
/// anything else is an error naming the line.
pub fn parse_exposition(text: &str, openmetrics: bool) -> Result<Vec<Sample>, String> {
    let mut samples = Vec::new();
    let mut lines = text.split_terminator('\n').peekable();
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the exposition does not end with a newline".into());
    }
    while let Some(line) = lines.next() {
        if let Some(comment) = line.strip_prefix("# ") {
            match comment.split_once(' ') {
                Some(("HELP" | "TYPE", rest)) => {
                    let name = rest.split(' ').next().unwrap_or_default();
                    if !is_metric_name(name) {
                        return Err(format!("bad metric name in {line:?}"));
                    }
                }
                None if comment == "EOF" && openmetrics && lines.peek().is_none() => {}
                _ => return Err(format!("unexpected comment {line:?}")),
            }
            continue;
        }
        samples.push(parse_sample(line).ok_or_else(|| format!("unparseable line {line:?}"))?);
    }
    if openmetrics && !text.ends_with("# EOF\n") {
        return Err("OpenMetrics exposition without # EOF".into());
    }
    Ok(samples)
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return None;
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = inner.find('=')?;
            let key = &inner[..eq];
            if !is_metric_name(key) || key.contains(':') {
                return None;
            }
            let mut chars = inner[eq + 1..].strip_prefix('"')?.char_indices();
            let mut value = String::new();
            let end = loop {
                let (at, c) = chars.next()?;
                match c {
                    '"' => break at,
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        _ => return None,
                    },
                    '\n' => return None,
                    other => value.push(other),
                }
            };
            if labels.insert(key.to_owned(), value).is_some() {
                return None;
            }
            inner = &inner[eq + 1 + 1 + end + 1..];
            if let Some(after) = inner.strip_prefix(',') {
                inner = after;
            }
        }
    }
    let value = rest.strip_prefix(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        other if other.bytes().all(|b| b"0123456789.eE+-".contains(&b)) => other.parse().ok()?,
        _ => return None,
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `digits × 10^exp10 × 2^exp2`, exactly.
pub fn exact(digits: &str, exp10: i64, exp2: u32) -> BigRational {
    let mantissa: BigInt = if digits.is_empty() {
        BigInt::zero()
    } else {
        digits.parse().expect("digits")
    };
    let ten = BigInt::from(10u8).pow(exp10.unsigned_abs() as u32);
    let two = BigInt::one() << exp2;
    if exp10 >= 0 {
        BigRational::from_integer(mantissa * ten * two)
    } else {
        BigRational::new(mantissa * two, ten)
    }
}

/// `x` exactly; `x` must be finite.
pub fn rational(x: f64) -> BigRational {
    BigRational::from_float(x).expect("finite")
}

/// Whether the non-negative `x` is an `f64` nearest to the non-negative `r`.
pub fn is_nearest(r: &BigRational, x: f64) -> bool {
    let distance = |y: f64| (r - rational(y)).abs();
    let here = distance(x);
    let up = if x == f64::MAX {
        let ulp = BigRational::from_integer(BigInt::one() << 971u32);
        (r - (rational(x) + ulp)).abs()
    } else {
        distance(x.next_up())
    };
    let down_ok = x == 0.0 || here <= distance(x.next_down());
    here <= up && down_ok
}

/// Whether `r` rounds past `f64::MAX` (to infinity, ties to even).
pub fn overflows(r: &BigRational) -> bool {
    let half_ulp = BigRational::from_integer(BigInt::one() << 970u32);
    *r >= rational(f64::MAX) + half_ulp
}

/// One line of a watch target's input as both sides read it: k8s-openapi's `T` (the
/// model) and the exporter's own decoding (`L` for a relist's items, `E` for an event).
pub enum WatchLine<T, L, E> {
    Relist {
        theirs: Vec<T>,
        ours: Vec<L>,
    },
    Event {
        theirs: kube::core::WatchEvent<T>,
        ours: E,
    },
}

/// Reads a watch target's input: lines, one starting with `R` a relist (a JSON array
/// after the `R`), any other a watch event, each re-serialized first as an API server
/// sends it (one JSON document, no key twice: serde's derive refuses a repeated key,
/// k8s-openapi takes the last, neither is wrong). Every line k8s-openapi reads, the
/// exporter must read too (else its watch would fail on it forever): a panic naming
/// `kind` otherwise. Lines both read go to `step`; a line neither reads is skipped; one
/// only the exporter reads ends the input (the model cannot follow it).
pub fn watch_lines<T, L, E>(
    data: &[u8],
    kind: &str,
    decode: impl Fn(&[u8]) -> serde_json::Result<E>,
    mut step: impl FnMut(WatchLine<T, L, E>),
) where
    T: serde::de::DeserializeOwned,
    L: serde::de::DeserializeOwned,
{
    for line in data.split(|b| *b == b'\n') {
        let Some(line) = canonical(line) else {
            continue;
        };
        let read = if let Some(list) = line.strip_prefix(b"R") {
            match (serde_json::from_slice(list), serde_json::from_slice(list)) {
                (Ok(theirs), Ok(ours)) => WatchLine::Relist { theirs, ours },
                (Ok(_), Err(error)) => {
                    panic!("a {kind} list k8s-openapi reads fails ours: {error}")
                }
                (Err(_), Ok(_)) => return,
                (Err(_), Err(_)) => continue,
            }
        } else {
            match (serde_json::from_slice(&line), decode(&line)) {
                (Ok(theirs), Ok(ours)) => WatchLine::Event { theirs, ours },
                (Ok(_), Err(error)) => {
                    panic!("a {kind} event k8s-openapi reads fails ours: {error}")
                }
                (Err(_), Ok(_)) => return,
                (Err(_), Err(_)) => continue,
            }
        };
        step(read);
    }
}

/// The line re-serialized from a JSON value (after the `R` of a relist), or `None`
/// when it is not JSON.
fn canonical(line: &[u8]) -> Option<Vec<u8>> {
    let (prefix, json) = match line.strip_prefix(b"R") {
        Some(json) => (&b"R"[..], json),
        None => (&b""[..], line),
    };
    let value: serde_json::Value = serde_json::from_slice(json).ok()?;
    let mut canonical = prefix.to_vec();
    serde_json::to_writer(&mut canonical, &value).ok()?;
    Some(canonical)
}
