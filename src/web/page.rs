//! The page at `/`: cluster totals, namespaces, top pods and nodes, drawn in the browser
//! from `/api/v1/usage` and refreshed every 15 s. Its HTML, script and style are files
//! in `page/`, embedded in the binary: nothing is fetched from elsewhere (clusters are
//! often air-gapped), and there is no build step. The Content-Security-Policy lets the
//! page load only those files and the API, from this exporter.
//!
//! `/?refresh=SECONDS` refreshes at another interval, `/?filter=TEXT` opens with the
//! namespace filter filled in.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

pub const SCRIPT_PATH: &str = "/static/page.js";
pub const STYLE_PATH: &str = "/static/page.css";

const HTML: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/page.js");
const STYLE: &str = include_str!("page/page.css");

/// Only this exporter's own script, style and API; no frames, forms or plugins.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The page, linking to the metrics at `telemetry_path`.
pub fn html(telemetry_path: &str) -> Response {
    let body = HTML
        .replace("{{telemetry_path}}", &escape(telemetry_path))
        .replace("{{version}}", env!("CARGO_PKG_VERSION"));
    embedded("text/html; charset=utf-8", body)
}

pub async fn script() -> Response {
    embedded("text/javascript; charset=utf-8", SCRIPT.to_owned())
}

pub async fn style() -> Response {
    embedded("text/css; charset=utf-8", STYLE.to_owned())
}

fn embedded(content_type: &'static str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

/// Text safe inside HTML elements and quoted attributes.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_its_own_files() {
        let page = HTML.to_lowercase();
        for external in ["http://", "https://", "//cdn", "@import"] {
            assert!(!page.contains(external), "the page refers to {external}");
            assert!(
                !SCRIPT.contains(external),
                "the script refers to {external}"
            );
            assert!(!STYLE.contains(external), "the style refers to {external}");
        }
        assert!(HTML.contains(SCRIPT_PATH) && HTML.contains(STYLE_PATH));
        assert!(!page.contains("<script>") && !page.contains("style="));
    }

    #[test]
    fn the_telemetry_path_is_escaped() {
        assert_eq!(
            escape("/m?a=1&b=\"<x>\""),
            "/m?a=1&amp;b=&quot;&lt;x&gt;&quot;"
        );
    }
}
