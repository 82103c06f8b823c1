//! `Accept` and `Accept-Encoding`, whatever their bytes, give one of the formats and
//! encodings served: OpenMetrics only when the scraper named it, gzip only when it named
//! gzip or `*`; and a header naming only one of them with a positive weight gets it.
#![no_main]

use arbitrary::Arbitrary;
use axum::http::{header, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use metrics_server_prom::exposition::negotiate::{Format, Wanted};

#[derive(Arbitrary, Debug)]
struct Input {
    accept: Option<Vec<u8>>,
    accept_encoding: Option<Vec<u8>>,
}

fuzz_target!(|input: Input| {
    let mut headers = HeaderMap::new();
    let mut set = |name, value: &Option<Vec<u8>>| -> Option<String> {
        let value = HeaderValue::from_bytes(value.as_ref()?).ok()?;
        let text = value.to_str().ok().map(str::to_ascii_lowercase);
        headers.insert(name, value);
        text
    };
    let accept = set(header::ACCEPT, &input.accept);
    let accept_encoding = set(header::ACCEPT_ENCODING, &input.accept_encoding);
    let wanted = Wanted::from_headers(&headers);
    assert_eq!(wanted, Wanted::from_headers(&headers));
    assert!(!wanted.format.content_type().is_empty());

    let accept = accept.unwrap_or_default();
    if wanted.format == Format::OpenMetrics {
        assert!(
            accept.contains("application/openmetrics-text"),
            "{accept:?}"
        );
    }
    if accept.trim() == "application/openmetrics-text" {
        assert_eq!(wanted.format, Format::OpenMetrics);
    }
    if ["text/plain", "*/*", ""].contains(&accept.trim()) {
        assert_eq!(wanted.format, Format::Text);
    }
    let encoding = accept_encoding.unwrap_or_default();
    if wanted.gzip {
        assert!(
            encoding.contains("gzip") || encoding.contains('*'),
            "{encoding:?}"
        );
    }
    if ["gzip", "*", "gzip, deflate", "deflate, gzip"].contains(&encoding.trim()) {
        assert!(wanted.gzip, "{encoding:?}");
    }
    if encoding.trim().is_empty() || encoding.trim() == "identity" {
        assert!(!wanted.gzip);
    }
});
