//! Durations as people and Prometheus type them ("15s", "500ms", "1m30s", "0s"), and as
//! Go prints them in a metrics `window` ("15.01s", "1m0.5s"), which reads the same way.

use std::time::Duration;

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Parses a sequence of `<number><unit>` terms (units ns, us, ms, s, m, h, d; the number
/// may have a fraction), or a bare `0`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = |why: &str| format!("invalid duration {text:?}: {why} (e.g. 15s, 500ms, 1m, 0s)");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err(invalid("empty"));
    }
    let mut total_nanos: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => NANOS_PER_SECOND,
            "m" => 60 * NANOS_PER_SECOND,
            "h" => 3_600 * NANOS_PER_SECOND,
            "d" => 86_400 * NANOS_PER_SECOND,
            "" => return Err(invalid("missing unit")),
            _ => return Err(invalid("unknown unit")),
        };
        total_nanos += term_nanos(number, unit_nanos).ok_or_else(|| invalid("bad number"))?;
        rest = after;
    }
    let seconds = u64::try_from(total_nanos / NANOS_PER_SECOND).map_err(|_| invalid("too long"))?;
    Ok(Duration::new(
        seconds,
        (total_nanos % NANOS_PER_SECOND) as u32,
    ))
}

/// [`parse_duration`], refusing zero: for intervals and timeouts.
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err("must be longer than 0s".to_owned()),
        duration => Ok(duration),
    }
}

/// `number` (digits with an optional fraction) times `unit_nanos`, exactly to the nanosecond.
fn term_nanos(number: &str, unit_nanos: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let parse = |digits: &str| -> Option<u128> {
        if digits.is_empty() {
            Some(0)
        } else if digits.bytes().all(|b| b.is_ascii_digit()) && digits.len() <= 20 {
            digits.parse().ok()
        } else {
            None
        }
    };
    let fraction = &fraction[..fraction.len().min(18)];
    let whole_nanos = parse(whole)?.checked_mul(unit_nanos)?;
    let fraction_nanos = parse(fraction)? * unit_nanos / 10u128.pow(fraction.len() as u32);
    whole_nanos.checked_add(fraction_nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_spellings() {
        assert_eq!(parse_duration("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(
            parse_duration("100000h"),
            Ok(Duration::from_secs(360_000_000))
        );
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["", "15", "s", "1x", "1.2.3s", "-1s", "1 s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
