//! `GET /api/v1/usage`: `snapshot`'s views over HTTP, answered from the scraper's shared
//! reading (the one `/metrics` serves), so that asking costs the API server nothing
//! beyond the reads Prometheus already causes.
//!
//! Parameters, each at most once unless said otherwise:
//!
//! - `group_by` — `container` (the default: one row per container), `namespace`,
//!   `node` or `pod`: exact sums as `snapshot --group-by` makes them.
//! - `namespace` (repeatable), `node` (repeatable) — only those containers, before
//!   grouping; with `nodes=true`, `node` picks node rows.
//! - `nodes` — `true` for one row per node (NodeMetrics) instead.
//! - `format` — `json` (the default) or `csv`, as `snapshot -o json` and `-o csv`.
//!
//! With `--resources` the rows carry requests, limits, capacity and allocatable as
//! `snapshot --resources` prints them. A request this cannot answer gets a JSON object
//! with an `error` message: 400 for a bad parameter, 503 while the metrics API cannot
//! be read.

use std::collections::BTreeSet;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;

use crate::exposition::scraper::Reading;
use crate::reading::views::{self, GroupBy, OutputFormat, Rows};

/// A parsed query.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct UsageQuery {
    pub group_by: Option<GroupBy>,
    pub namespaces: BTreeSet<String>,
    pub nodes: BTreeSet<String>,
    pub node_rows: bool,
    pub csv: bool,
}

/// Why a request was not answered.
#[derive(Debug, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message }).to_string() + "\n";
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

impl UsageQuery {
    /// Parses a query string (`group_by=namespace&namespace=a&namespace=b`).
    pub fn parse(query: &str) -> Result<UsageQuery, ApiError> {
        let mut parsed = UsageQuery::default();
        let mut seen = BTreeSet::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(key)?;
            let value = decode(value)?;
            let repeatable = key == "namespace" || key == "node";
            if !repeatable && !seen.insert(key.clone()) {
                return Err(ApiError::bad_request(format!("{key} is given twice")));
            }
            match key.as_str() {
                "group_by" => {
                    parsed.group_by = match value.as_str() {
                        "container" => None,
                        "namespace" => Some(GroupBy::Namespace),
                        "node" => Some(GroupBy::Node),
                        "pod" => Some(GroupBy::Pod),
                        other => {
                            return Err(ApiError::bad_request(format!(
                                "group_by must be container, namespace, node or pod, not {other:?}"
                            )))
                        }
                    }
                }
                "namespace" => {
                    parsed.namespaces.insert(value);
                }
                "node" => {
                    parsed.nodes.insert(value);
                }
                "nodes" => {
                    parsed.node_rows = match value.as_str() {
                        "true" => true,
                        "false" => false,
                        other => {
                            return Err(ApiError::bad_request(format!(
                                "nodes must be true or false, not {other:?}"
                            )))
                        }
                    }
                }
                "format" => {
                    parsed.csv = match value.as_str() {
                        "json" => false,
                        "csv" => true,
                        other => {
                            return Err(ApiError::bad_request(format!(
                                "format must be json or csv, not {other:?}"
                            )))
                        }
                    }
                }
                other => return Err(ApiError::bad_request(unknown(other))),
            }
        }
        if parsed.node_rows && seen.contains("group_by") {
            return Err(ApiError::bad_request(
                "nodes=true lists nodes; group_by sums containers: ask for one of them",
            ));
        }
        if parsed.node_rows && !parsed.namespaces.is_empty() {
            return Err(ApiError::bad_request(
                "namespace filters containers; node rows have no namespace",
            ));
        }
        Ok(parsed)
    }

    /// The answer from `reading`: the body and its content type. `reads_nodes` is
    /// whether this exporter reads NodeMetrics at all.
    pub fn answer(
        &self,
        reading: &Reading,
        reads_nodes: bool,
    ) -> Result<(String, &'static str), ApiError> {
        if self.node_rows && !reads_nodes {
            return Err(ApiError::bad_request(
                "this exporter does not read nodes (--namespaces without --node-metrics, \
                 or a shard other than 0)",
            ));
        }
        let usage = &reading.usage;
        let requirements = reading.resources.as_deref();
        let unreadable = match self.node_rows {
            true => usage.nodes.is_none(),
            false => usage.containers.is_none(),
        };
        if unreadable {
            return Err(ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "the metrics API could not be read; see kube_metrics_server_up and \
                          the exporter's log"
                    .to_owned(),
            });
        }
        let wanted = |set: &BTreeSet<String>, value: &str| set.is_empty() || set.contains(value);
        let rows = match self.node_rows {
            true => {
                let mut rows = views::node_rows(usage, requirements);
                rows.retain(|row| wanted(&self.nodes, &row.node));
                Rows::Nodes(rows)
            }
            false => {
                let mut rows = views::container_rows(usage, requirements);
                rows.retain(|row| {
                    wanted(&self.namespaces, &row.namespace) && wanted(&self.nodes, &row.node)
                });
                Rows::Containers(rows)
            }
        };
        let (format, content_type) = match self.csv {
            true => (OutputFormat::Csv, "text/csv; charset=utf-8"),
            false => (OutputFormat::Json, "application/json"),
        };
        let body = views::render(&rows, format, self.group_by, requirements.is_some());
        Ok((body, content_type))
    }
}

fn unknown(parameter: &str) -> String {
    format!("unknown parameter {parameter:?}; known: group_by, namespace, node, nodes, format")
}

fn decode(text: &str) -> Result<String, ApiError> {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|decoded| decoded.into_owned())
        .map_err(|_| ApiError::bad_request("the query is not UTF-8"))
}

/// A response with the body and content type of an answer, never cached.
pub fn respond(answer: Result<(String, &'static str), ApiError>) -> Response {
    match answer {
        Ok((body, content_type)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            body,
        )
            .into_response(),
        Err(error) => error.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_parse() {
        let query =
            UsageQuery::parse("group_by=namespace&namespace=a&namespace=b%2Dc&format=csv").unwrap();
        assert_eq!(query.group_by, Some(GroupBy::Namespace));
        assert_eq!(
            query.namespaces,
            BTreeSet::from(["a".to_owned(), "b-c".to_owned()])
        );
        assert!(query.csv);
        assert_eq!(UsageQuery::parse("").unwrap(), UsageQuery::default());
        assert_eq!(
            UsageQuery::parse("group_by=container").unwrap(),
            UsageQuery::default()
        );
        let nodes = UsageQuery::parse("nodes=true&node=n1&node=n2").unwrap();
        assert!(nodes.node_rows);
        assert_eq!(nodes.nodes.len(), 2);
    }

    #[test]
    fn bad_queries_say_why() {
        for (query, says) in [
            ("group_by=cluster", "group_by must be"),
            ("format=xml", "format must be"),
            ("nodes=yes", "nodes must be"),
            ("limit=3", "unknown parameter \"limit\""),
            ("format=csv&format=json", "format is given twice"),
            ("nodes=true&group_by=node", "ask for one of them"),
            ("nodes=true&namespace=a", "node rows have no namespace"),
            ("namespace=%FF", "not UTF-8"),
        ] {
            let error = UsageQuery::parse(query).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{query}");
            assert!(error.message.contains(says), "{query}: {}", error.message);
        }
    }
}
