//! The resource metrics API (`metrics.k8s.io`): which version the server offers, and one
//! list each of PodMetrics and NodeMetrics per read. metrics-server neither pages nor
//! watches these lists, so a read is one request per resource.
//!
//! Bodies are decoded straight into the typed structs below (no `serde_json::Value`),
//! and every field that a broken server could omit has a default, so one malformed item
//! costs that item, not the read.

use std::borrow::Cow;
use std::sync::Mutex;

use bytes::Bytes;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::protobuf;
pub use crate::config::ContentType;
use crate::connect::{describe_error, is_timeout, BoundedClient};
use crate::huge_pages;
use crate::spare_buffers::SpareBuffers;

pub const GROUP: &str = "metrics.k8s.io";

/// 512 MiB: about eight times the pod metrics of a 150,000-pod cluster.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 512 << 20;

/// Versions we can read, most preferred first: v1 is GA from Kubernetes 1.37.
const KNOWN_VERSIONS: [&str; 2] = ["v1", "v1beta1"];

/// A PodMetricsList, borrowing its strings from the response body.
#[derive(Debug, Deserialize, Default)]
pub struct PodMetricsList<'a> {
    #[serde(borrow, default)]
    pub items: Option<Vec<PodMetrics<'a>>>,
}

#[derive(Debug, Deserialize, Default)]
pub struct PodMetrics<'a> {
    #[serde(borrow, default)]
    pub metadata: Option<ObjectName<'a>>,
    #[serde(borrow, default)]
    pub timestamp: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub window: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub containers: Option<Vec<ContainerMetrics<'a>>>,
    /// The timestamp and window as numbers, where a reader left the texts out to format
    /// them only when asked ([`ListBody::for_each_pod`] of a protobuf body).
    #[serde(skip)]
    pub sample_time: Option<SampleTime>,
}

/// When metrics-server sampled a pod, as protobuf carries it: the end of the window in
/// Unix seconds (`None` for the zero time, which JSON writes as `null`) and its length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SampleTime {
    pub seconds: Option<i64>,
    pub window_nanos: i64,
}

impl SampleTime {
    /// The timestamp and window as metrics-server's JSON writes them.
    pub fn texts(self) -> (Option<String>, String) {
        (
            self.seconds.map(protobuf::rfc3339),
            protobuf::go_duration(self.window_nanos),
        )
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct ContainerMetrics<'a> {
    #[serde(borrow, default)]
    pub name: Text<'a>,
    #[serde(borrow, default)]
    pub usage: Option<RawUsage<'a>>,
}

#[derive(Debug, Deserialize, Default)]
pub struct NodeMetricsList<'a> {
    #[serde(borrow, default)]
    pub items: Option<Vec<NodeMetrics<'a>>>,
}

#[derive(Debug, Deserialize, Default)]
pub struct NodeMetrics<'a> {
    #[serde(borrow, default)]
    pub metadata: Option<ObjectName<'a>>,
    #[serde(borrow, default)]
    pub timestamp: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub window: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub usage: Option<RawUsage<'a>>,
}

#[derive(Debug, Deserialize, Default)]
pub struct ObjectName<'a> {
    #[serde(borrow, default)]
    pub name: Text<'a>,
    #[serde(borrow, default)]
    pub namespace: Text<'a>,
}

/// Raw quantity strings, parsed later so that one bad value skips one series.
#[derive(Debug, Deserialize, Default)]
pub struct RawUsage<'a> {
    #[serde(borrow, default)]
    pub cpu: Option<Text<'a>>,
    #[serde(borrow, default)]
    pub memory: Option<Text<'a>>,
}

/// A JSON string borrowed from the body unless it had escapes to undo. Anything else
/// where a string belongs is tolerated, so that one odd value costs one series, not
/// the whole list: a number becomes its text (Kubernetes accepts unquoted quantities),
/// null becomes empty, and an array or object becomes empty (an invalid quantity, a
/// skipped name).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> serde::de::Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Borrowed(text)))
    }

    fn visit_str<E>(self, text: &str) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E>(self, text: String) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(text)))
    }

    fn visit_i64<E>(self, number: i64) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(number.to_string())))
    }

    fn visit_u64<E>(self, number: u64) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(number.to_string())))
    }

    fn visit_f64<E>(self, number: f64) -> Result<Text<'de>, E> {
        Ok(Text(Cow::Owned(number.to_string())))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Text<'de>, E> {
        Ok(Text::default())
    }

    fn visit_unit<E>(self) -> Result<Text<'de>, E> {
        Ok(Text::default())
    }

    fn visit_none<E>(self) -> Result<Text<'de>, E> {
        Ok(Text::default())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Text<'de>, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Text::default())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Text<'de>, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Text::default())
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'a> PodMetricsList<'a> {
    pub fn decode(body: &'a [u8]) -> Result<Self, ReadError> {
        serde_json::from_slice(body).map_err(|e| ReadError::Decode(e.to_string()))
    }
}

impl PodMetricsList<'_> {
    /// Decodes a PodMetricsList body one pod at a time, handing each to `each` and
    /// dropping it, so that a large list is never held decoded beside its body.
    pub fn for_each_pod<'b>(
        body: &'b [u8],
        each: impl FnMut(PodMetrics<'b>),
    ) -> Result<(), ReadError> {
        use serde::de::DeserializeSeed;
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        PodStream(each)
            .deserialize(&mut deserializer)
            .and_then(|()| deserializer.end())
            .map_err(|e| ReadError::Decode(e.to_string()))
    }
}

/// The list object, with `items` streamed to a closure and the rest skipped.
struct PodStream<F>(F);

impl<'de, F: FnMut(PodMetrics<'de>)> serde::de::DeserializeSeed<'de> for PodStream<F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, F: FnMut(PodMetrics<'de>)> serde::de::Visitor<'de> for PodStream<F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a PodMetricsList object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Text<'de>>()? {
            if &*key == "items" {
                map.next_value_seed(PodItems(&mut self.0))?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The `items` array (or null), each pod handed on as soon as it is decoded.
struct PodItems<'f, F>(&'f mut F);

impl<'de, F: FnMut(PodMetrics<'de>)> serde::de::DeserializeSeed<'de> for PodItems<'_, F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, F: FnMut(PodMetrics<'de>)> serde::de::Visitor<'de> for PodItems<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of PodMetrics")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(pod) = seq.next_element::<PodMetrics<'de>>()? {
            (self.0)(pod);
        }
        Ok(())
    }
}

impl<'a> NodeMetricsList<'a> {
    pub fn decode(body: &'a [u8]) -> Result<Self, ReadError> {
        serde_json::from_slice(body).map_err(|e| ReadError::Decode(e.to_string()))
    }
}

/// A list body as the server sent it, in whichever encoding it chose.
#[derive(Debug, Clone)]
pub struct ListBody {
    pub bytes: Bytes,
    pub encoding: ContentType,
    /// The path it was read from, under which its buffer is kept for the next read of
    /// the same list ([`MetricsApi::keep_body`]).
    pub path: String,
}

/// One PodMetrics of a protobuf list body, not decoded yet (see [`ListBody::pod_items`]).
#[derive(Debug, Clone, Copy)]
pub struct PodItem<'b>(&'b [u8]);

impl<'b> PodItem<'b> {
    /// The pod, without its timestamp and window, as [`ListBody::for_each_pod`] gives it.
    pub fn decode(self) -> Result<PodMetrics<'b>, ReadError> {
        protobuf::decode_pod_usage(self.0).map_err(|e| ReadError::Decode(e.to_string()))
    }
}

impl ContentType {
    /// The `Accept` header that asks for this encoding; protobuf falls back to JSON
    /// where a server (or an aggregated API in front of it) does not speak it.
    fn accept(self) -> &'static str {
        match self {
            ContentType::Protobuf => "application/vnd.kubernetes.protobuf, application/json",
            ContentType::Json => "application/json",
        }
    }

    /// The encoding a response's `Content-Type` names.
    fn of_response(content_type: Option<&str>) -> Self {
        let media = content_type
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default();
        if media.trim().eq_ignore_ascii_case(protobuf::CONTENT_TYPE) {
            ContentType::Protobuf
        } else {
            ContentType::Json
        }
    }
}

impl ListBody {
    /// Decodes a PodMetricsList one pod at a time, handing each to `each`: a large
    /// list is never held decoded beside its body. From protobuf, timestamps and windows
    /// come as numbers ([`PodMetrics::sample_time`]), not text, which costs two strings
    /// a pod to write.
    pub fn for_each_pod<'b>(&'b self, each: impl FnMut(PodMetrics<'b>)) -> Result<(), ReadError> {
        match self.encoding {
            ContentType::Json => PodMetricsList::for_each_pod(&self.bytes, each),
            ContentType::Protobuf => protobuf::for_each_pod_usage(&self.bytes, each)
                .map_err(|e| ReadError::Decode(e.to_string())),
        }
    }

    /// A protobuf PodMetricsList's items, each still encoded, so that they can be
    /// decoded in parts, on several threads; `None` for a JSON body.
    pub fn pod_items(&self) -> Option<Result<Vec<PodItem<'_>>, ReadError>> {
        match self.encoding {
            ContentType::Json => None,
            ContentType::Protobuf => Some(
                protobuf::pod_items(&self.bytes)
                    .map(|items| items.into_iter().map(PodItem).collect())
                    .map_err(|e| ReadError::Decode(e.to_string())),
            ),
        }
    }

    /// A protobuf PodMetricsList cut in two near its middle, without walking its items:
    /// its fields and the offset of the cut, a guess that decoding the first half with
    /// [`ListBody::for_each_pod_in`] confirms (see [`protobuf::pod_list_cut`]); `None`
    /// for a JSON body.
    pub fn pod_list_cut(&self) -> Option<(&[u8], usize)> {
        match self.encoding {
            ContentType::Json => None,
            ContentType::Protobuf => protobuf::pod_list_cut(&self.bytes),
        }
    }

    /// Decodes the pods of a run of a protobuf PodMetricsList's fields, as
    /// [`ListBody::for_each_pod`] does; fails if a field runs past the run's end.
    pub fn for_each_pod_in<'b>(
        fields: &'b [u8],
        each: impl FnMut(PodMetrics<'b>),
    ) -> Result<(), ReadError> {
        protobuf::for_each_pod_usage_in(fields, each).map_err(|e| ReadError::Decode(e.to_string()))
    }

    /// The whole PodMetricsList with every field, for readers that need every pod at
    /// once.
    pub fn pods(&self) -> Result<PodMetricsList<'_>, ReadError> {
        let mut items = Vec::new();
        let push = |pod| items.push(pod);
        match self.encoding {
            ContentType::Json => PodMetricsList::for_each_pod(&self.bytes, push),
            ContentType::Protobuf => protobuf::for_each_pod(&self.bytes, push)
                .map_err(|e| ReadError::Decode(e.to_string())),
        }?;
        Ok(PodMetricsList { items: Some(items) })
    }

    /// The NodeMetricsList.
    pub fn nodes(&self) -> Result<NodeMetricsList<'_>, ReadError> {
        match self.encoding {
            ContentType::Json => NodeMetricsList::decode(&self.bytes),
            ContentType::Protobuf => protobuf::node_items(&self.bytes)
                .map(|items| NodeMetricsList { items: Some(items) })
                .map_err(|e| ReadError::Decode(e.to_string())),
        }
    }
}

/// Which list a read was for; also the `resource` label of the read self-metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricsList {
    Pods,
    Nodes,
}

impl MetricsList {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricsList::Pods => "pods",
            MetricsList::Nodes => "nodes",
        }
    }
}

/// Why a read failed. `reason()` is the bounded label value for the error counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The server does not serve metrics.k8s.io (metrics-server not installed).
    NotServed,
    Timeout,
    /// Could not connect or the connection broke.
    Transport(String),
    /// The server answered with an HTTP error status.
    Status {
        code: u16,
        message: String,
    },
    /// The body was not a metrics list.
    Decode(String),
    /// The body was larger than `--metrics.max-response-size`.
    TooLarge {
        limit: usize,
    },
    /// The read failed inside the exporter (a bug), not at the server.
    Internal(String),
}

impl ReadError {
    pub fn reason(&self) -> &'static str {
        match self {
            ReadError::NotServed => "not_served",
            ReadError::Timeout => "timeout",
            ReadError::Transport(_) => "transport",
            ReadError::Status { code: 401, .. } => "unauthorized",
            ReadError::Status { code: 403, .. } => "forbidden",
            ReadError::Status { code: 404, .. } => "not_found",
            ReadError::Status { code: 429, .. } => "too_many_requests",
            ReadError::Status { code: 503, .. } => "unavailable",
            ReadError::Status { code, .. } if *code >= 500 => "server_error",
            ReadError::Status { .. } => "client_error",
            ReadError::Decode(_) => "decode",
            ReadError::TooLarge { .. } => "too_large",
            ReadError::Internal(_) => "internal",
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotServed => write!(f, "{GROUP} is not served by this API server"),
            ReadError::Timeout => f.write_str("timed out"),
            ReadError::Transport(e) => write!(f, "transport error: {e}"),
            ReadError::Status { code, message } => write!(f, "HTTP {code}: {message}"),
            ReadError::Decode(e) => write!(f, "invalid response: {e}"),
            ReadError::Internal(e) => write!(f, "internal error: {e}"),
            ReadError::TooLarge { limit } => {
                write!(
                    f,
                    "response larger than {limit} bytes (--metrics.max-response-size)"
                )
            }
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads the metrics lists with a bounded client. The served version is discovered
/// once, and again on later reads for as long as it is missing.
pub struct MetricsApi {
    client: BoundedClient,
    max_response_bytes: usize,
    /// Who we are, for the log line that explains a 403.
    identity: String,
    encoding: ContentType,
    version: Mutex<Option<&'static str>>,
    /// `--selector`, sent as `labelSelector` with the PodMetrics lists.
    label_selector: Option<String>,
    /// The last read's large bodies by path, for the next read of each to fill
    /// ([`MetricsApi::keep_body`]).
    spare_bodies: SpareBuffers<String, u8>,
}

impl MetricsApi {
    /// Refuses response bodies larger than `bytes` (a broken or hostile server must
    /// not make the exporter allocate without bound).
    pub fn with_max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Asks for the lists in `encoding` (`--metrics.content-type`; protobuf by default).
    pub fn with_content_type(mut self, encoding: ContentType) -> Self {
        self.encoding = encoding;
        self
    }

    /// Names who we are (user and context) in the error a 403 produces.
    pub fn with_identity(mut self, identity: String) -> Self {
        self.identity = identity;
        self
    }

    /// Lists only the PodMetrics of pods `selector` selects (metrics-server filters by
    /// the pods' labels).
    pub fn with_label_selector(mut self, selector: Option<String>) -> Self {
        self.label_selector = selector;
        self
    }

    pub fn new(client: BoundedClient) -> Self {
        MetricsApi {
            client,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            identity: "this exporter's identity".to_owned(),
            encoding: ContentType::Protobuf,
            version: Mutex::new(None),
            label_selector: None,
            spare_bodies: SpareBuffers::default(),
        }
    }

    /// The served version, asking the server if it is not known yet.
    pub async fn discover(&self) -> Result<&'static str, ReadError> {
        if let Some(version) = *self.version.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(version);
        }
        let group: ApiGroup =
            self.get_json(&format!("/apis/{GROUP}"))
                .await
                .map_err(|e| match e {
                    ReadError::Status { code: 404, .. } => ReadError::NotServed,
                    other => other,
                })?;
        let version = KNOWN_VERSIONS
            .into_iter()
            .find(|known| group.versions.iter().any(|v| v.version == *known))
            .ok_or(ReadError::NotServed)?;
        *self.version.lock().unwrap_or_else(|e| e.into_inner()) = Some(version);
        Ok(version)
    }

    /// The PodMetricsList body of one namespace, or of all with `None`.
    pub async fn list_pods(&self, namespace: Option<&str>) -> Result<ListBody, ReadError> {
        let version = self.discover().await?;
        let path = match namespace {
            Some(namespace) => format!("/apis/{GROUP}/{version}/namespaces/{namespace}/pods"),
            None => format!("/apis/{GROUP}/{version}/pods"),
        };
        let path = match &self.label_selector {
            Some(selector) => format!(
                "{path}?labelSelector={}",
                percent_encoding::utf8_percent_encode(selector, percent_encoding::NON_ALPHANUMERIC)
            ),
            None => path,
        };
        self.get(&path, self.encoding).await
    }

    /// Keeps the buffer of a body that has been decoded, for a later read to fill
    /// (a large one, and only where nothing else holds it).
    pub fn keep_body(&self, body: ListBody) {
        self.spare_bodies.keep_bytes(body.path, body.bytes);
    }

    /// How many bodies' buffers are kept for the next read.
    pub fn spare_bodies(&self) -> usize {
        self.spare_bodies.len()
    }

    /// The NodeMetricsList body.
    pub async fn list_nodes(&self) -> Result<ListBody, ReadError> {
        let version = self.discover().await?;
        self.get(&format!("/apis/{GROUP}/{version}/nodes"), self.encoding)
            .await
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ReadError> {
        let body = self.get(path, ContentType::Json).await?;
        serde_json::from_slice(&body.bytes).map_err(|e| ReadError::Decode(e.to_string()))
    }

    /// One GET, bounded as a whole (headers and body) by the read timeout.
    async fn get(&self, path: &str, encoding: ContentType) -> Result<ListBody, ReadError> {
        self.client
            .within(self.get_unbounded(path, encoding))
            .await
            .unwrap_or(Err(ReadError::Timeout))
    }

    async fn get_unbounded(
        &self,
        path: &str,
        encoding: ContentType,
    ) -> Result<ListBody, ReadError> {
        let request = http::Request::get(path)
            .header(http::header::ACCEPT, encoding.accept())
            .body(kube::client::Body::empty())
            .map_err(|e| ReadError::Transport(e.to_string()))?;
        let response = self
            .client
            .client()
            .send(request)
            .await
            .map_err(transport_error)?;
        let status = response.status();
        let content_type = response.headers().get(http::header::CONTENT_TYPE);
        let encoding = ContentType::of_response(content_type.and_then(|v| v.to_str().ok()));
        let length = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        let body = collect(
            response.into_body(),
            length,
            self.max_response_bytes,
            |room| self.spare_bodies.take(path, room),
        )
        .await?;
        if !status.is_success() {
            let mut message = status_message(&body);
            if status == http::StatusCode::FORBIDDEN {
                message = format!(
                    "{message}; {} needs get and list on {}",
                    self.identity,
                    permission_for(path)
                );
            }
            return Err(ReadError::Status {
                code: status.as_u16(),
                message,
            });
        }
        Ok(ListBody {
            bytes: body,
            encoding,
            path: path.to_owned(),
        })
    }
}

/// Reads a body into one buffer, from `buffer` with room for `length` when the server
/// said it (and only once that is within `limit`): a large list is held once, not once
/// in chunks and again joined.
async fn collect(
    mut body: kube::client::Body,
    length: Option<usize>,
    limit: usize,
    buffer: impl FnOnce(usize) -> Vec<u8>,
) -> Result<Bytes, ReadError> {
    let too_large = || ReadError::TooLarge { limit };
    if length.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let mut buffer = buffer(length.unwrap_or(0));
    huge_pages::advise(&mut buffer);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(transport_error)?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > limit {
                return Err(too_large());
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buffer))
}

fn transport_error(error: kube::Error) -> ReadError {
    if is_timeout(&error) {
        ReadError::Timeout
    } else {
        ReadError::Transport(describe_error(&error))
    }
}

/// The RBAC rule a metrics path needs, in words.
fn permission_for(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [.., "namespaces", namespace, "pods"] => {
            format!("pods in API group {GROUP}, in namespace {namespace}")
        }
        [.., "pods"] => format!("pods in API group {GROUP}, cluster-wide"),
        [.., "nodes"] => format!("nodes in API group {GROUP}, cluster-wide"),
        _ => format!("the API group {GROUP}"),
    }
}

/// The `message` of a Kubernetes Status body (JSON or protobuf), else the start of the
/// body itself.
fn status_message(body: &[u8]) -> String {
    if let Some(message) = protobuf::status_message(body) {
        return message;
    }
    #[derive(Deserialize)]
    struct Status {
        message: String,
    }
    match serde_json::from_slice::<Status>(body) {
        Ok(status) => status.message,
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)])
            .trim()
            .to_owned(),
    }
}

#[derive(Deserialize)]
struct ApiGroup {
    #[serde(default)]
    versions: Vec<GroupVersion>,
}

#[derive(Deserialize)]
struct GroupVersion {
    version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_length_over_the_limit_is_refused_before_any_room_is_made() {
        let body = kube::client::Body::from(vec![1, 2, 3]);
        let read = collect(body, Some(1 << 40), 1 << 20, |room| {
            panic!("room for {room} bytes asked for")
        })
        .await;
        assert!(matches!(read, Err(ReadError::TooLarge { limit }) if limit == 1 << 20));
    }

    #[tokio::test]
    async fn a_body_is_read_into_the_buffer_given() {
        let body = kube::client::Body::from(vec![1, 2, 3]);
        let read = collect(body, Some(3), 1 << 20, |room| {
            let mut buffer = Vec::with_capacity(room);
            buffer.extend_from_slice(b"stale");
            buffer.clear();
            buffer
        })
        .await;
        assert_eq!(&read.unwrap()[..], [1, 2, 3]);
    }

    #[test]
    fn decodes_metrics_server_documents() {
        let pods = PodMetricsList::decode(
            br#"{"kind":"PodMetricsList","apiVersion":"metrics.k8s.io/v1beta1","metadata":{},
            "items":[{"metadata":{"name":"etcd","namespace":"kube-system","creationTimestamp":"2018-08-20T03:19:05Z"},
            "timestamp":"2018-08-20T03:19:00Z","window":"1m0s",
            "containers":[{"name":"etcd-container","usage":{"cpu":"7m","memory":"125448Ki"}}]}]}"#,
        )
        .unwrap();
        let pod = &pods.items.unwrap()[0];
        assert_eq!(&*pod.metadata.as_ref().unwrap().namespace, "kube-system");
        assert_eq!(pod.window.as_deref(), Some("1m0s"));
        let usage = pod.containers.as_ref().unwrap()[0].usage.as_ref().unwrap();
        assert_eq!(usage.cpu.as_deref(), Some("7m"));
        assert_eq!(usage.memory.as_deref(), Some("125448Ki"));
        assert!(
            matches!(usage.cpu, Some(Text(Cow::Borrowed(_)))),
            "no copy of plain strings"
        );
    }

    #[test]
    fn pods_stream_one_at_a_time() {
        let body = br#"{"kind":"PodMetricsList","metadata":{"x":[1,{"y":2}]},"items":[
            {"metadata":{"name":"a","namespace":"n"},"containers":[]},
            {"metadata":{"name":"b","namespace":"n"}}],"apiVersion":"metrics.k8s.io/v1beta1"}"#;
        let mut names = Vec::new();
        PodMetricsList::for_each_pod(body, |pod| {
            names.push(pod.metadata.unwrap().name.0.into_owned())
        })
        .unwrap();
        assert_eq!(names, ["a", "b"]);
        assert!(PodMetricsList::for_each_pod(br#"{"items":null}"#, |_| panic!()).is_ok());
        for bad in [
            &b"[1,2]"[..],
            b"{\"items\":[{}",
            b"{} trailing",
            b"{\"items\":7}",
        ] {
            assert!(
                PodMetricsList::for_each_pod(bad, |_| {}).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn missing_and_null_fields_cost_only_themselves() {
        let pods = PodMetricsList::decode(
            br#"{"items":[{"metadata":{"name":"a"},"timestamp":null,"containers":null},
                         {"metadata":{"name":"b","namespace":"x"},"containers":[{"name":"c","usage":null}]},
                         {}]}"#,
        )
        .unwrap();
        let items = pods.items.unwrap();
        assert_eq!(items.len(), 3);
        assert!(items[0].containers.is_none());
        assert!(items[1].containers.as_ref().unwrap()[0].usage.is_none());
        let nodes = NodeMetricsList::decode(br#"{"items":null}"#).unwrap();
        assert!(nodes.items.is_none());
        let odd = PodMetricsList::decode(
            br#"{"items":[{"metadata":{"name":null,"namespace":7},
                "containers":[{"name":["x"],"usage":{"cpu":5,"memory":{"a":1}}}]}]}"#,
        )
        .unwrap();
        let pod = &odd.items.unwrap()[0];
        let meta = pod.metadata.as_ref().unwrap();
        assert_eq!((&*meta.name, &*meta.namespace), ("", "7"));
        let container = &pod.containers.as_ref().unwrap()[0];
        let usage = container.usage.as_ref().unwrap();
        assert_eq!(usage.cpu.as_deref(), Some("5"));
        assert_eq!(usage.memory.as_deref(), Some(""));
        let nodes = NodeMetricsList::decode(br#"{"items":null}"#).unwrap();
        assert!(nodes.items.is_none());
        assert!(PodMetricsList::decode(b"{\"items\": [").is_err());
    }

    #[test]
    fn error_reasons_are_bounded_labels() {
        let status = |code| ReadError::Status {
            code,
            message: String::new(),
        };
        assert_eq!(status(401).reason(), "unauthorized");
        assert_eq!(status(403).reason(), "forbidden");
        assert_eq!(status(404).reason(), "not_found");
        assert_eq!(status(503).reason(), "unavailable");
        assert_eq!(status(502).reason(), "server_error");
        assert_eq!(status(418).reason(), "client_error");
        assert_eq!(ReadError::Timeout.reason(), "timeout");
    }

    #[test]
    fn a_403_names_the_missing_permission() {
        assert_eq!(
            permission_for("/apis/metrics.k8s.io/v1beta1/pods"),
            "pods in API group metrics.k8s.io, cluster-wide"
        );
        assert_eq!(
            permission_for("/apis/metrics.k8s.io/v1/namespaces/team-a/pods"),
            "pods in API group metrics.k8s.io, in namespace team-a"
        );
        assert_eq!(
            permission_for("/apis/metrics.k8s.io/v1beta1/nodes"),
            "nodes in API group metrics.k8s.io, cluster-wide"
        );
    }

    #[test]
    fn status_message_prefers_the_kubernetes_status() {
        assert_eq!(
            status_message(br#"{"kind":"Status","message":"pods is forbidden"}"#),
            "pods is forbidden"
        );
        assert_eq!(status_message(b"upstream down\n"), "upstream down");
    }
}
