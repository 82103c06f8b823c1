//! Kubernetes `Status` objects for failures (400 BadRequest, 404 NotFound, 405
//! MethodNotAllowed, 410 Expired), and the JSON responses every handler returns.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// A failed request, as Kubernetes reports it.
#[derive(Debug, Clone)]
pub(crate) struct Status {
    message: String,
    reason: &'static str,
    code: u16,
    details: Option<Box<Details>>,
}

#[derive(Debug, Clone, Default, Serialize)]
struct Details {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'static str>,
    kind: &'static str,
}

#[derive(Serialize)]
struct Empty {}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(8))?;
        map.serialize_entry("kind", "Status")?;
        map.serialize_entry("apiVersion", "v1")?;
        map.serialize_entry("metadata", &Empty {})?;
        map.serialize_entry("status", "Failure")?;
        map.serialize_entry("message", &self.message)?;
        map.serialize_entry("reason", self.reason)?;
        match &self.details {
            Some(details) => map.serialize_entry("details", details)?,
            None => map.serialize_entry("details", &Empty {})?,
        }
        map.serialize_entry("code", &self.code)?;
        map.end()
    }
}

impl Status {
    fn failure(code: u16, reason: &'static str, message: String) -> Self {
        Status {
            message,
            reason,
            code,
            details: None,
        }
    }

    /// A path this server does not serve.
    pub(crate) fn unknown_path() -> Self {
        Self::failure(
            404,
            "NotFound",
            "the server could not find the requested resource".to_owned(),
        )
    }

    /// No object called `name` of `resource` (e.g. "pods") in `group` ("" for core).
    pub(crate) fn not_found(group: &'static str, resource: &'static str, name: &str) -> Self {
        let qualified = if group.is_empty() {
            resource.to_owned()
        } else {
            format!("{resource}.{group}")
        };
        Status {
            details: Some(Box::new(Details {
                name: name.to_owned(),
                group: (!group.is_empty()).then_some(group),
                kind: resource,
            })),
            ..Self::failure(404, "NotFound", format!("{qualified} \"{name}\" not found"))
        }
    }

    /// A watch from a resourceVersion the change log no longer reaches.
    pub(crate) fn expired(requested: u64, oldest: u64) -> Self {
        Self::failure(
            410,
            "Expired",
            format!("too old resource version: {requested} ({oldest})"),
        )
    }

    /// A watch that fell further behind than the change log reaches.
    pub(crate) fn fell_behind() -> Self {
        Self::failure(
            410,
            "Expired",
            "the watch fell too far behind the changes; list again".to_owned(),
        )
    }

    pub(crate) fn bad_request(message: String) -> Self {
        Self::failure(400, "BadRequest", message)
    }

    pub(crate) fn method_not_allowed() -> Self {
        Self::failure(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".to_owned(),
        )
    }
}

impl IntoResponse for Status {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).expect("serializing to memory cannot fail");
        let mut response = json_response(body);
        *response.status_mut() = code;
        response
    }
}

/// A 200 response with a JSON body.
pub(crate) fn json_response(body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A 200 response with `value` as JSON.
pub(crate) fn json_value(value: &impl Serialize) -> Response {
    json_response(serde_json::to_vec(value).expect("serializing to memory cannot fail"))
}
