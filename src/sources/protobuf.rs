//! The metrics.k8s.io lists in Kubernetes protobuf, as served for
//! `Accept: application/vnd.kubernetes.protobuf`: the `k8s\0` magic, the
//! `runtime.Unknown` envelope, and PodMetricsList / NodeMetricsList inside it
//! (v1beta1 and v1 share one layout). A zero-copy, single-pass decoder into the same
//! types the JSON decoder fills ([`super::metrics_api`]), with the values the JSON form
//! of the same object would have (RFC 3339 timestamps, Go duration text, `null` where
//! Go prints null). The simulated cluster's encoder is its counterpart.
//! Field numbers: k8s.io/metrics `pkg/apis/metrics/{v1beta1,v1}/generated.proto`,
//! apimachinery `pkg/apis/meta/v1`, `pkg/runtime` and `pkg/api/resource`
//! `generated.proto`.

use std::borrow::Cow;
use std::fmt;

use super::metrics_api::{
    ContainerMetrics, NodeMetrics, ObjectName, PodMetrics, RawUsage as Usage, SampleTime, Text,
};

pub const MAGIC: [u8; 4] = *b"k8s\0";
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Why a body could not be decoded. `msg` names the protobuf message whose
/// bytes were bad, so a report points at the layer that broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The body does not start with `k8s\0` (empty, JSON, or an HTML error page).
    NotProtobuf,
    /// A length or value runs past the end of its enclosing message.
    Truncated { msg: &'static str },
    /// Bytes that are not protobuf at all (bad varint, tag or group).
    Malformed {
        msg: &'static str,
        problem: &'static str,
    },
    /// A known field arrived with a wire type its schema does not allow.
    WrongWireType {
        msg: &'static str,
        field: u32,
        wire_type: u8,
        expected: u8,
    },
    /// The envelope names another kind than the list asked for.
    WrongKind {
        expected: &'static str,
        found: String,
    },
    /// The server sent a `Status` (an API error) instead of the list.
    Status {
        code: i32,
        reason: String,
        message: String,
    },
    /// The envelope's raw object is compressed or otherwise encoded.
    ContentEncoding(String),
    /// The envelope's raw object is not protobuf.
    ContentType(String),
    /// The envelope carries no raw object at all.
    MissingObject,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotProtobuf => write!(
                f,
                "response body is empty or not Kubernetes protobuf (no `k8s\\0` prefix); \
                 the server may not serve {CONTENT_TYPE} for this API, try JSON"
            ),
            Self::Truncated { msg } => write!(
                f,
                "protobuf body truncated: a field of {msg} runs past the end of its message \
                 (incomplete response?)"
            ),
            Self::Malformed { msg, problem } => {
                write!(f, "malformed protobuf in {msg}: {problem}")
            }
            Self::WrongWireType {
                msg,
                field,
                wire_type,
                expected,
            } => write!(
                f,
                "field {field} of {msg} has wire type {wire_type}, the schema says {expected}; \
                 is this really a metrics.k8s.io object?"
            ),
            Self::WrongKind { expected, found } if found.is_empty() => write!(
                f,
                "expected a {expected} but the protobuf envelope names no kind"
            ),
            Self::WrongKind { expected, found } => write!(
                f,
                "expected a {expected} but the server sent a {found}; wrong URL or API group?"
            ),
            Self::Status {
                code,
                reason,
                message,
            } => write!(
                f,
                "the API server sent a Status instead of a list: code {code}, reason {reason:?}: {message}"
            ),
            Self::ContentEncoding(e) => write!(
                f,
                "the object is wrapped with contentEncoding {e:?}, which is not supported"
            ),
            Self::ContentType(t) => write!(
                f,
                "the envelope's object has contentType {t:?}, not {CONTENT_TYPE}"
            ),
            Self::MissingObject => write!(
                f,
                "the protobuf envelope (runtime.Unknown) carries no object (field 2 raw is missing)"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

const WT_VARINT: u8 = 0;
const WT_I64: u8 = 1;
const WT_LEN: u8 = 2;
const WT_START_GROUP: u8 = 3;
const WT_END_GROUP: u8 = 4;
const WT_I32: u8 = 5;
const MAX_FIELD: u64 = (1 << 29) - 1;
const MAX_GROUP_DEPTH: u32 = 64;
/// Go's zero `time.Time` (0001-01-01T00:00:00Z) in Unix seconds: metav1.Time
/// treats it as unset, so it is an empty message on the wire and JSON `null`.
const GO_ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// A field's value; fixed-width and group values are skipped, never needed.
#[derive(Clone, Copy)]
enum Value<'b> {
    Varint(u64),
    Bytes(&'b [u8]),
    Skipped(u8),
}

impl Value<'_> {
    fn wire_type(self) -> u8 {
        match self {
            Value::Varint(_) => WT_VARINT,
            Value::Bytes(_) => WT_LEN,
            Value::Skipped(wt) => wt,
        }
    }
}

/// Walks the fields of one message; every read is bounds-checked and consumes
/// at least one byte, so it ends on any input.
struct Fields<'b> {
    rest: &'b [u8],
    msg: &'static str,
}

impl<'b> Fields<'b> {
    fn new(rest: &'b [u8], msg: &'static str) -> Self {
        Self { rest, msg }
    }

    #[cold]
    fn malformed(&self, problem: &'static str) -> DecodeError {
        DecodeError::Malformed {
            msg: self.msg,
            problem,
        }
    }

    #[inline(always)]
    fn varint(&mut self) -> Result<u64, DecodeError> {
        // One-byte fast path: tags, short lengths and small numbers.
        match self.rest.split_first() {
            Some((&b, tail)) if b < 0x80 => {
                self.rest = tail;
                Ok(u64::from(b))
            }
            _ => self.varint_slow(),
        }
    }

    #[inline(never)]
    fn varint_slow(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for (i, &b) in self.rest.iter().take(10).enumerate() {
            // The 10th byte may only carry bit 63.
            if i == 9 && b > 1 {
                return Err(self.malformed("varint longer than 10 bytes or over 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.rest = &self.rest[i + 1..];
                return Ok(v);
            }
        }
        Err(self.truncated())
    }

    #[cold]
    fn truncated(&self) -> DecodeError {
        DecodeError::Truncated { msg: self.msg }
    }

    #[inline(always)]
    fn take(&mut self, n: u64) -> Result<&'b [u8], DecodeError> {
        if n > self.rest.len() as u64 {
            return Err(self.truncated());
        }
        let (head, tail) = self.rest.split_at(n as usize);
        self.rest = tail;
        Ok(head)
    }

    #[inline(always)]
    fn tag(&mut self) -> Result<(u32, u8), DecodeError> {
        let tag = self.varint()?;
        let field = tag >> 3;
        if field == 0 || field > MAX_FIELD {
            return Err(self.malformed("field number 0 or above 2^29-1"));
        }
        Ok((field as u32, (tag & 7) as u8))
    }

    #[inline(always)]
    fn next_field(&mut self) -> Result<Option<(u32, Value<'b>)>, DecodeError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let (field, wt) = self.tag()?;
        let value = match wt {
            WT_VARINT => Value::Varint(self.varint()?),
            WT_LEN => {
                let n = self.varint()?;
                Value::Bytes(self.take(n)?)
            }
            WT_I64 => {
                self.take(8)?;
                Value::Skipped(wt)
            }
            WT_I32 => {
                self.take(4)?;
                Value::Skipped(wt)
            }
            WT_START_GROUP => {
                self.skip_group(field)?;
                Value::Skipped(wt)
            }
            WT_END_GROUP => return Err(self.malformed("end-group without a start-group")),
            _ => return Err(self.malformed("reserved wire type 6 or 7")),
        };
        Ok(Some((field, value)))
    }

    /// Skips a deprecated proto2 group iteratively (no recursion), so deep
    /// nesting costs no stack; depth is still capped as garbage would nest.
    fn skip_group(&mut self, start_field: u32) -> Result<(), DecodeError> {
        let mut depth = 1u32;
        loop {
            if self.rest.is_empty() {
                return Err(self.truncated());
            }
            let (field, wt) = self.tag()?;
            match wt {
                WT_VARINT => {
                    self.varint()?;
                }
                WT_I64 => {
                    self.take(8)?;
                }
                WT_LEN => {
                    let n = self.varint()?;
                    self.take(n)?;
                }
                WT_I32 => {
                    self.take(4)?;
                }
                WT_START_GROUP => {
                    depth += 1;
                    if depth > MAX_GROUP_DEPTH {
                        return Err(self.malformed("groups nested more than 64 deep"));
                    }
                }
                WT_END_GROUP => {
                    depth -= 1;
                    if depth == 0 {
                        return if field == start_field {
                            Ok(())
                        } else {
                            Err(self.malformed("end-group does not match its start-group"))
                        };
                    }
                }
                _ => return Err(self.malformed("reserved wire type 6 or 7")),
            }
        }
    }

    #[inline(always)]
    fn bytes(&self, field: u32, v: Value<'b>) -> Result<&'b [u8], DecodeError> {
        match v {
            Value::Bytes(b) => Ok(b),
            _ => Err(self.wrong(field, v, WT_LEN)),
        }
    }

    fn uint(&self, field: u32, v: Value<'b>) -> Result<u64, DecodeError> {
        match v {
            Value::Varint(n) => Ok(n),
            _ => Err(self.wrong(field, v, WT_VARINT)),
        }
    }

    #[cold]
    fn wrong(&self, field: u32, v: Value<'b>, expected: u8) -> DecodeError {
        DecodeError::WrongWireType {
            msg: self.msg,
            field,
            wire_type: v.wire_type(),
            expected,
        }
    }
}

/// Invalid UTF-8 empties this one string only (costing one series, not the list).
#[inline]
fn text(b: &[u8]) -> Text<'_> {
    if b.is_ascii() {
        // SAFETY: ASCII is UTF-8. Names and quantities are ASCII, and this check, inlined
        // and a word at a time, costs a fraction of the full validation below.
        return Text(Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(b) }));
    }
    Text(Cow::Borrowed(std::str::from_utf8(b).unwrap_or("")))
}

/// Bounded, lossy copy for error messages built from server bytes.
fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(200)]).into_owned()
}

/// Checks the magic and the runtime.Unknown envelope; returns the raw list bytes.
fn open<'b>(body: &'b [u8], expected: &'static str) -> Result<&'b [u8], DecodeError> {
    let rest = body.strip_prefix(&MAGIC).ok_or(DecodeError::NotProtobuf)?;
    let mut unknown = Fields::new(rest, "runtime.Unknown");
    let (mut kind, mut raw): (&[u8], _) = (&[], None);
    let (mut encoding, mut content_type): (&[u8], &[u8]) = (&[], &[]);
    while let Some((field, v)) = unknown.next_field()? {
        match field {
            1 => {
                let mut type_meta = Fields::new(unknown.bytes(field, v)?, "runtime.TypeMeta");
                while let Some((field, v)) = type_meta.next_field()? {
                    match field {
                        1 => {
                            type_meta.bytes(field, v)?;
                        }
                        2 => kind = type_meta.bytes(field, v)?,
                        _ => {}
                    }
                }
            }
            2 => raw = Some(unknown.bytes(field, v)?),
            3 => encoding = unknown.bytes(field, v)?,
            4 => content_type = unknown.bytes(field, v)?,
            _ => {}
        }
    }
    if !encoding.is_empty() {
        return Err(DecodeError::ContentEncoding(lossy(encoding)));
    }
    if kind == b"Status" {
        return Err(status_error(raw.unwrap_or_default()));
    }
    if kind != expected.as_bytes() {
        return Err(DecodeError::WrongKind {
            expected,
            found: lossy(kind),
        });
    }
    if !content_type.is_empty() && content_type != CONTENT_TYPE.as_bytes() {
        return Err(DecodeError::ContentType(lossy(content_type)));
    }
    raw.ok_or(DecodeError::MissingObject)
}

/// The message of a protobuf-encoded Status (what an API server answers an error with
/// when the request asked for protobuf); `None` for any other body.
pub fn status_message(body: &[u8]) -> Option<String> {
    match open(body, "Status") {
        Err(DecodeError::Status { message, .. }) => Some(message),
        _ => None,
    }
}

/// Best effort: a broken Status still reports what could be read.
fn status_error(raw: &[u8]) -> DecodeError {
    let (mut code, mut reason, mut message) = (0, String::new(), String::new());
    let mut status = Fields::new(raw, "meta.v1.Status");
    while let Ok(Some((field, v))) = status.next_field() {
        match (field, v) {
            (3, Value::Bytes(b)) => message = lossy(b),
            (4, Value::Bytes(b)) => reason = lossy(b),
            (6, Value::Varint(n)) => code = n as i32,
            _ => {}
        }
    }
    DecodeError::Status {
        code,
        reason,
        message,
    }
}

/// Calls `each` with every PodMetrics of a PodMetricsList body, one at a time,
/// strings borrowed from `body`. The envelope is checked before the first
/// call; if a later item is malformed, `each` has already seen the items
/// before it and the caller should discard them on `Err`.
pub fn for_each_pod<'b>(
    body: &'b [u8],
    each: impl FnMut(PodMetrics<'b>),
) -> Result<(), DecodeError> {
    for_each_pod_with(body, Times::Text, each)
}

/// [`for_each_pod`] with each pod's timestamp and window as numbers
/// ([`PodMetrics::sample_time`]) rather than text: formatting them would cost a scrape
/// two strings a pod, and a reader can format each distinct pair once.
pub fn for_each_pod_usage<'b>(
    body: &'b [u8],
    each: impl FnMut(PodMetrics<'b>),
) -> Result<(), DecodeError> {
    for_each_pod_with(body, Times::Numbers, each)
}

/// The PodMetrics items of a PodMetricsList body, each still encoded, for decoding
/// with [`decode_pod_usage`] elsewhere (on several threads, say). The envelope and
/// the list's framing are checked; the items are not yet.
pub fn pod_items(body: &[u8]) -> Result<Vec<&[u8]>, DecodeError> {
    let mut list = Fields::new(open(body, "PodMetricsList")?, "PodMetricsList");
    let mut items = Vec::new();
    while let Some((field, v)) = list.next_field()? {
        match field {
            1 => {
                list.bytes(field, v)?;
            }
            2 => items.push(list.bytes(field, v)?),
            _ => {}
        }
    }
    Ok(items)
}

/// A PodMetricsList body cut in two near its middle, at what looks like the start of
/// an item, so that two threads can decode the halves without first walking every
/// item to find them: the list's bytes, and the offset of the cut in them.
///
/// The cut is a guess. Decoding the first half ([`for_each_pod_usage_in`] over
/// `list[..cut]`) tells whether it was right: a walk from the list's start steps only
/// on field boundaries, so it ends exactly at the cut if and only if the cut is one;
/// else a field runs past it and the walk fails. `None` when the body is not a
/// protobuf list or no likely cut is near the middle.
pub fn pod_list_cut(body: &[u8]) -> Option<(&[u8], usize)> {
    let list = open(body, "PodMetricsList").ok()?;
    let middle = list.len() / 2;
    // An item is field 2, length-delimited (tag 0x12), holding a PodMetrics that
    // decodes, with a name (a container's usage entries are field 2 too, but not
    // PodMetrics); three such items in a row, or fewer up to the end, make a cut.
    let item_at = |at: usize| -> Option<usize> {
        if list.get(at) != Some(&0x12) {
            return None;
        }
        let mut fields = Fields::new(&list[at + 1..], "PodMetricsList");
        let length = usize::try_from(fields.varint().ok()?).ok()?;
        let start = list.len() - fields.rest.len();
        let end = start.checked_add(length).filter(|&end| end <= list.len())?;
        let pod = decode_pod(&list[start..end], Times::Numbers).ok()?;
        pod.metadata.filter(|meta| !meta.name.is_empty())?;
        Some(end)
    };
    (middle..list.len().min(middle + 64 * 1024))
        .find(|&cut| {
            let mut at = cut;
            for _ in 0..3 {
                match item_at(at) {
                    Some(end) if end == list.len() => return true,
                    Some(end) => at = end,
                    None => return false,
                }
            }
            true
        })
        .map(|cut| (list, cut))
}

/// Decodes the pods of `fields`, a run of a PodMetricsList's fields (as
/// [`pod_list_cut`] cuts them), as [`for_each_pod_usage`] does; fails if a field runs
/// past its end.
pub fn for_each_pod_usage_in<'b>(
    fields: &'b [u8],
    each: impl FnMut(PodMetrics<'b>),
) -> Result<(), DecodeError> {
    for_each_field_pod(fields, Times::Numbers, each)
}

/// One item of [`pod_items`], decoded as [`for_each_pod_usage`] decodes it.
pub fn decode_pod_usage(item: &[u8]) -> Result<PodMetrics<'_>, DecodeError> {
    decode_pod(item, Times::Numbers)
}

/// Whether a pod's timestamp and window are formatted as text or kept as numbers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Times {
    Text,
    Numbers,
}

fn for_each_pod_with<'b>(
    body: &'b [u8],
    times: Times,
    each: impl FnMut(PodMetrics<'b>),
) -> Result<(), DecodeError> {
    for_each_field_pod(open(body, "PodMetricsList")?, times, each)
}

fn for_each_field_pod<'b>(
    fields: &'b [u8],
    times: Times,
    mut each: impl FnMut(PodMetrics<'b>),
) -> Result<(), DecodeError> {
    let mut list = Fields::new(fields, "PodMetricsList");
    while let Some((field, v)) = list.next_field()? {
        match field {
            1 => {
                list.bytes(field, v)?;
            }
            2 => each(decode_pod(list.bytes(field, v)?, times)?),
            _ => {}
        }
    }
    Ok(())
}

/// Every NodeMetrics of a NodeMetricsList body (node lists are small).
pub fn node_items<'b>(body: &'b [u8]) -> Result<Vec<NodeMetrics<'b>>, DecodeError> {
    let mut list = Fields::new(open(body, "NodeMetricsList")?, "NodeMetricsList");
    let mut nodes = Vec::new();
    while let Some((field, v)) = list.next_field()? {
        match field {
            1 => {
                list.bytes(field, v)?;
            }
            2 => nodes.push(decode_node(list.bytes(field, v)?)?),
            _ => {}
        }
    }
    Ok(nodes)
}

// Absent or empty fields decode to what Go's JSON for the same object shows:
// metadata and window always present (window "0s"), zero time -> None (null),
// no containers / no usage entries -> None (nil slice / map print null).

fn decode_pod(buf: &[u8], times: Times) -> Result<PodMetrics<'_>, DecodeError> {
    let mut meta = ObjectName::default();
    let (mut time, mut window) = (None, 0);
    let mut containers = Vec::new();
    let mut pod = Fields::new(buf, "PodMetrics");
    while let Some((field, v)) = pod.next_field()? {
        match field {
            1 => decode_object_meta(pod.bytes(field, v)?, &mut meta)?,
            2 => time = decode_time(pod.bytes(field, v)?)?,
            3 => window = decode_duration(pod.bytes(field, v)?)?,
            4 => containers.push(decode_container(pod.bytes(field, v)?)?),
            _ => {}
        }
    }
    let sample_time = SampleTime {
        seconds: time,
        window_nanos: window,
    };
    let (timestamp, window, sample_time) = match times {
        Times::Text => {
            let (timestamp, window) = sample_time.texts();
            (
                timestamp.map(|t| Text(Cow::Owned(t))),
                Some(Text(Cow::Owned(window))),
                None,
            )
        }
        Times::Numbers => (None, None, Some(sample_time)),
    };
    Ok(PodMetrics {
        metadata: Some(meta),
        timestamp,
        window,
        containers: (!containers.is_empty()).then_some(containers),
        sample_time,
    })
}

fn decode_node(buf: &[u8]) -> Result<NodeMetrics<'_>, DecodeError> {
    let mut meta = ObjectName::default();
    let (mut time, mut window) = (None, 0);
    let mut usage = None;
    let mut node = Fields::new(buf, "NodeMetrics");
    while let Some((field, v)) = node.next_field()? {
        match field {
            1 => decode_object_meta(node.bytes(field, v)?, &mut meta)?,
            2 => time = decode_time(node.bytes(field, v)?)?,
            3 => window = decode_duration(node.bytes(field, v)?)?,
            4 => decode_usage_entry(node.bytes(field, v)?, &mut usage)?,
            _ => {}
        }
    }
    Ok(NodeMetrics {
        metadata: Some(meta),
        timestamp: time.map(|s| Text(Cow::Owned(rfc3339(s)))),
        window: Some(Text(Cow::Owned(go_duration(window)))),
        usage,
    })
}

/// Merges into `meta`, as a repeated embedded message merges in protobuf.
fn decode_object_meta<'b>(buf: &'b [u8], meta: &mut ObjectName<'b>) -> Result<(), DecodeError> {
    let mut fields = Fields::new(buf, "meta.v1.ObjectMeta");
    while let Some((field, v)) = fields.next_field()? {
        match field {
            1 => meta.name = text(fields.bytes(field, v)?),
            3 => meta.namespace = text(fields.bytes(field, v)?),
            _ => {}
        }
    }
    Ok(())
}

/// Unix seconds, or None for Go's zero time. Nanos are dropped on purpose:
/// metav1.Time's protobuf decoding ignores them too.
fn decode_time(buf: &[u8]) -> Result<Option<i64>, DecodeError> {
    if buf.is_empty() {
        return Ok(None);
    }
    let mut seconds = 0;
    let mut fields = Fields::new(buf, "meta.v1.Time");
    while let Some((field, v)) = fields.next_field()? {
        match field {
            1 => seconds = fields.uint(field, v)? as i64,
            2 => {
                fields.uint(field, v)?;
            }
            _ => {}
        }
    }
    Ok((seconds != GO_ZERO_TIME_UNIX).then_some(seconds))
}

fn decode_duration(buf: &[u8]) -> Result<i64, DecodeError> {
    let mut nanos = 0;
    let mut fields = Fields::new(buf, "meta.v1.Duration");
    while let Some((field, v)) = fields.next_field()? {
        if field == 1 {
            nanos = fields.uint(field, v)? as i64;
        }
    }
    Ok(nanos)
}

fn decode_container(buf: &[u8]) -> Result<ContainerMetrics<'_>, DecodeError> {
    let mut container = ContainerMetrics::default();
    let mut fields = Fields::new(buf, "ContainerMetrics");
    while let Some((field, v)) = fields.next_field()? {
        match field {
            1 => container.name = text(fields.bytes(field, v)?),
            2 => decode_usage_entry(fields.bytes(field, v)?, &mut container.usage)?,
            _ => {}
        }
    }
    Ok(container)
}

/// One `map<string, Quantity>` entry; only cpu and memory are kept, a later
/// duplicate key wins, and any entry at all makes the map non-null.
fn decode_usage_entry<'b>(buf: &'b [u8], usage: &mut Option<Usage<'b>>) -> Result<(), DecodeError> {
    let (mut key, mut quantity): (&[u8], Option<&[u8]>) = (&[], None);
    let mut fields = Fields::new(buf, "ResourceList entry");
    while let Some((field, v)) = fields.next_field()? {
        match field {
            1 => key = fields.bytes(field, v)?,
            2 => quantity = Some(fields.bytes(field, v)?),
            _ => {}
        }
    }
    let usage = usage.get_or_insert_with(Usage::default);
    let slot = match key {
        b"cpu" => &mut usage.cpu,
        b"memory" => &mut usage.memory,
        _ => return Ok(()),
    };
    // A missing value or string is Go's zero Quantity, printed "0".
    let mut value = Text(Cow::Borrowed("0"));
    if let Some(quantity) = quantity {
        let mut fields = Fields::new(quantity, "resource.Quantity");
        while let Some((field, v)) = fields.next_field()? {
            if field == 1 {
                value = text(fields.bytes(field, v)?);
            }
        }
    }
    *slot = Some(value);
    Ok(())
}

/// `2006-01-02T15:04:05Z` as metav1.Time prints it in JSON (UTC, seconds).
pub fn rfc3339(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    let mut out = String::with_capacity(20);
    // Go pads the year to 4 digits and puts a sign before negative years.
    if year < 0 {
        out.push('-');
    }
    let year = year.unsigned_abs();
    if year < 10_000 {
        push_digits(&mut out, (year / 100) as u32);
        push_digits(&mut out, (year % 100) as u32);
    } else {
        out.push_str(&year.to_string());
    }
    for (sep, v) in [
        ('-', month),
        ('-', day),
        ('T', secs / 3600),
        (':', secs / 60 % 60),
        (':', secs % 60),
    ] {
        out.push(sep);
        push_digits(&mut out, v);
    }
    out.push('Z');
    out
}

fn push_digits(out: &mut String, v: u32) {
    out.push(char::from(b'0' + (v / 10 % 10) as u8));
    out.push(char::from(b'0' + (v % 10) as u8));
}

/// Proleptic Gregorian (year, month, day) of a day count from 1970-01-01,
/// counting in 400-year eras that start on March 1st so leap days fall last.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468; // days from 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097); // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11]
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = (if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    }) as u32;
    let year = era * 400 + year_of_era + i64::from(month <= 2);
    (year, month, day)
}

/// Go's `time.Duration.String()`: "0s", "1.5µs", "500ms", "15.01s", "1m0.5s", "1h0m0s".
pub fn go_duration(nanos: i64) -> String {
    let mut buf = [0u8; 32]; // longest is "-2562047h47m16.854775808s", 25 bytes
    let mut w = buf.len();
    let mut u = nanos.unsigned_abs();
    if u == 0 {
        return "0s".to_owned();
    }
    w -= 1;
    buf[w] = b's';
    if u < 1_000_000_000 {
        let prec = if u < 1_000 {
            w -= 1;
            buf[w] = b'n';
            0
        } else if u < 1_000_000 {
            w -= 2;
            buf[w..w + 2].copy_from_slice("µ".as_bytes());
            3
        } else {
            w -= 1;
            buf[w] = b'm';
            6
        };
        (w, u) = fmt_frac(&mut buf, w, u, prec);
        w = fmt_int(&mut buf, w, u);
    } else {
        (w, u) = fmt_frac(&mut buf, w, u, 9);
        w = fmt_int(&mut buf, w, u % 60);
        u /= 60;
        if u > 0 {
            w -= 1;
            buf[w] = b'm';
            w = fmt_int(&mut buf, w, u % 60);
            u /= 60;
            if u > 0 {
                w -= 1;
                buf[w] = b'h';
                w = fmt_int(&mut buf, w, u);
            }
        }
    }
    if nanos < 0 {
        w -= 1;
        buf[w] = b'-';
    }
    String::from_utf8_lossy(&buf[w..]).into_owned()
}

/// Writes the low `prec` decimal digits of `v` as a fraction without trailing
/// zeros (nothing if they are all zero), right to left; returns the rest of `v`.
fn fmt_frac(buf: &mut [u8], mut w: usize, mut v: u64, prec: u32) -> (usize, u64) {
    let mut print = false;
    for _ in 0..prec {
        let digit = (v % 10) as u8;
        print |= digit != 0;
        if print {
            w -= 1;
            buf[w] = b'0' + digit;
        }
        v /= 10;
    }
    if print {
        w -= 1;
        buf[w] = b'.';
    }
    (w, v)
}

fn fmt_int(buf: &mut [u8], mut w: usize, mut v: u64) -> usize {
    loop {
        w -= 1;
        buf[w] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return w;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use simulator::protobuf::{encode_node_list, encode_pod_list, EncodedNode, EncodedPod};

    // ---- a test-only protobuf writer, separate from the encoder above ----
    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = vec![];
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }
    fn key(field: u64, wt: u64) -> Vec<u8> {
        varint(field << 3 | wt)
    }
    fn ld(field: u64, body: &[u8]) -> Vec<u8> {
        [key(field, 2), varint(body.len() as u64), body.to_vec()].concat()
    }
    fn vi(field: u64, v: u64) -> Vec<u8> {
        [key(field, 0), varint(v)].concat()
    }
    /// Unknown fields of every wire type, including nested groups.
    fn junk() -> Vec<u8> {
        [
            vi(90, 300),
            key(91, 1),
            vec![1, 2, 3, 4, 5, 6, 7, 8],
            ld(92, b"zz\xff"),
            key(93, 3),
            vi(1, 5),
            key(94, 3),
            ld(2, b"x"),
            vec![0x0d, 1, 2, 3, 4], // field 1 fixed32 inside the group
            key(94, 4),
            key(93, 4),
            key(95, 5),
            vec![9, 9, 9, 9],
        ]
        .concat()
    }
    fn envelope(kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = [ld(1, b"metrics.k8s.io/v1beta1"), ld(2, kind.as_bytes())].concat();
        [
            MAGIC.to_vec(),
            ld(1, &type_meta),
            ld(2, raw),
            ld(3, b""),
            ld(4, b""),
        ]
        .concat()
    }

    fn t(s: &str) -> Text<'_> {
        Text(Cow::Borrowed(s))
    }

    fn pods(body: &[u8]) -> Result<Vec<PodMetrics<'_>>, DecodeError> {
        let mut out = vec![];
        for_each_pod(body, |p| out.push(p))?;
        Ok(out)
    }

    /// Flattened for comparisons: (ns, name, ts, window, [(container, cpu, mem)]).
    type Flat = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<Vec<(String, Option<String>, Option<String>)>>,
    );
    fn flat(p: &PodMetrics<'_>) -> Flat {
        let meta = p.metadata.as_ref().unwrap();
        let opt = |t: &Option<Text<'_>>| t.as_ref().map(|t| t.0.to_string());
        (
            meta.namespace.0.to_string(),
            meta.name.0.to_string(),
            opt(&p.timestamp),
            opt(&p.window),
            p.containers.as_ref().map(|cs| {
                cs.iter()
                    .map(|c| {
                        let u = c.usage.as_ref();
                        (
                            c.name.0.to_string(),
                            u.and_then(|u| opt(&u.cpu)),
                            u.and_then(|u| opt(&u.memory)),
                        )
                    })
                    .collect()
            }),
        )
    }

    #[test]
    fn pod_round_trip() {
        let body = encode_pod_list(
            "metrics.k8s.io/v1beta1",
            "42",
            [
                EncodedPod {
                    namespace: "kube-system",
                    name: "coredns-ñandú-日本",
                    timestamp_seconds: 1_796_163_872,
                    window_nanos: 15_010_000_000,
                    containers: &[("coredns", "3m", "12Mi"), ("sidecar", "1500m", "")],
                },
                EncodedPod {
                    namespace: "default",
                    name: "empty",
                    timestamp_seconds: 0,
                    window_nanos: 500_000_000,
                    containers: &[],
                },
                EncodedPod {
                    namespace: "",
                    name: "",
                    timestamp_seconds: -1,
                    window_nanos: 0,
                    containers: &[("no-usage", "", "")],
                },
            ],
        );
        let got: Vec<Flat> = pods(&body).unwrap().iter().map(flat).collect();
        let s = |x: &str| x.to_owned();
        assert_eq!(
            got,
            vec![
                (
                    s("kube-system"),
                    s("coredns-ñandú-日本"),
                    Some(s("2026-12-01T22:24:32Z")),
                    Some(s("15.01s")),
                    Some(vec![
                        (s("coredns"), Some(s("3m")), Some(s("12Mi"))),
                        (s("sidecar"), Some(s("1500m")), None),
                    ]),
                ),
                (
                    s("default"),
                    s("empty"),
                    Some(s("1970-01-01T00:00:00Z")),
                    Some(s("500ms")),
                    None,
                ),
                (
                    s(""),
                    s(""),
                    Some(s("1969-12-31T23:59:59Z")),
                    Some(s("0s")),
                    Some(vec![(s("no-usage"), None, None)]),
                ),
            ]
        );
        // A container with no usage entries has a null usage map, as in JSON.
        let all = pods(&body).unwrap();
        assert!(all[2].containers.as_ref().unwrap()[0].usage.is_none());
        // Names are borrowed from the body, not copied.
        assert!(matches!(
            all[0].metadata.as_ref().unwrap().name.0,
            Cow::Borrowed(_)
        ));
        // v1 bodies decode the same way.
        let v1 = encode_pod_list(
            "metrics.k8s.io/v1",
            "",
            [EncodedPod {
                namespace: "a",
                name: "b",
                timestamp_seconds: 1,
                window_nanos: 1,
                containers: &[("c", "1", "1")],
            }],
        );
        assert_eq!(pods(&v1).unwrap().len(), 1);
    }

    #[test]
    fn node_round_trip() {
        let body = encode_node_list(
            "metrics.k8s.io/v1beta1",
            "",
            [
                EncodedNode {
                    name: "node-ü-1",
                    timestamp_seconds: 951_782_400,
                    window_nanos: 60_500_000_000,
                    cpu: "250m",
                    memory: "1024Ki",
                },
                EncodedNode {
                    name: "node-2",
                    timestamp_seconds: 1_709_164_800,
                    window_nanos: 3_600_000_000_000,
                    cpu: "1",
                    memory: "",
                },
                EncodedNode {
                    name: "node-3",
                    timestamp_seconds: GO_ZERO_TIME_UNIX,
                    window_nanos: 1,
                    cpu: "",
                    memory: "",
                },
            ],
        );
        let nodes = node_items(&body).unwrap();
        assert_eq!(nodes.len(), 3);
        let n = &nodes[0];
        let meta = n.metadata.as_ref().unwrap();
        assert_eq!(
            (meta.name.clone(), meta.namespace.clone()),
            (t("node-ü-1"), t(""))
        );
        assert_eq!(n.timestamp, Some(t("2000-02-29T00:00:00Z")));
        assert_eq!(n.window, Some(t("1m0.5s")));
        let u = n.usage.as_ref().unwrap();
        assert_eq!(
            (u.cpu.clone(), u.memory.clone()),
            (Some(t("250m")), Some(t("1024Ki")))
        );
        let n = &nodes[1];
        assert_eq!(n.timestamp, Some(t("2024-02-29T00:00:00Z")));
        assert_eq!(n.window, Some(t("1h0m0s")));
        let u = n.usage.as_ref().unwrap();
        assert_eq!((u.cpu.clone(), u.memory.clone()), (Some(t("1")), None));
        // Go's zero time is null in JSON; no usage entries is a null map.
        assert_eq!(nodes[2].timestamp, None);
        assert_eq!(nodes[2].window, Some(t("1ns")));
        assert!(nodes[2].usage.is_none());
        // A node list is not a pod list and vice versa.
        assert!(matches!(pods(&body), Err(DecodeError::WrongKind { .. })));
        let pod_body = encode_pod_list("metrics.k8s.io/v1beta1", "", []);
        assert!(matches!(
            node_items(&pod_body),
            Err(DecodeError::WrongKind { .. })
        ));
        assert_eq!(pods(&pod_body).unwrap().len(), 0);
    }

    /// The exact bytes kube-apiserver writes for a one-pod list, assembled by
    /// hand from the .proto field numbers and gogo's always-write rules.
    #[test]
    fn hand_assembled_with_unknown_fields() {
        let j = junk();
        let quantity = |s: &[u8]| [j.clone(), ld(1, s), j.clone()].concat();
        let entry = |k: &[u8], q: &[u8]| [ld(2, &quantity(q)), j.clone(), ld(1, k)].concat();
        let container = [
            j.clone(),
            ld(2, &entry(b"memory", b"7Mi")),
            ld(1, b"app"),
            ld(2, &entry(b"gpu", b"1")),
            ld(2, &entry(b"cpu", b"2m")),
            j.clone(),
        ]
        .concat();
        let time = [j.clone(), vi(2, 5), vi(1, 1_796_163_872), j.clone()].concat();
        let meta = [
            ld(2, b"gen-"),
            j.clone(),
            ld(3, b"prod"),
            ld(8, &time),
            ld(1, b"web-0"),
            ld(11, &[ld(1, b"k"), ld(2, b"v")].concat()),
        ]
        .concat();
        let pod = [
            j.clone(),
            ld(4, &container),
            ld(1, &meta),
            ld(3, &[j.clone(), vi(1, 60_000_000_000)].concat()),
            ld(2, &time),
            ld(
                4,
                &[ld(1, b"bad\xffname"), ld(2, &entry(b"cpu", b"\xc3"))].concat(),
            ),
            j.clone(),
        ]
        .concat();
        let raw = [
            ld(1, &[ld(2, b"9"), j.clone()].concat()),
            j.clone(),
            ld(2, &pod),
        ]
        .concat();
        // An empty item, then an invalid-UTF-8 pod name that costs only itself.
        let raw = [raw, ld(2, b""), ld(2, &ld(1, &ld(1, b"\xfe")))].concat();
        let type_meta = [
            j.clone(),
            ld(2, b"PodMetricsList"),
            ld(1, b"metrics.k8s.io/v1"),
        ]
        .concat();
        let body = [
            MAGIC.to_vec(),
            j.clone(),
            ld(2, &raw),
            ld(1, &type_meta),
            ld(4, CONTENT_TYPE.as_bytes()),
            j,
        ]
        .concat();
        let got: Vec<Flat> = pods(&body).unwrap().iter().map(flat).collect();
        let s = |x: &str| x.to_owned();
        assert_eq!(
            got,
            vec![
                (
                    s("prod"),
                    s("web-0"),
                    Some(s("2026-12-01T22:24:32Z")),
                    Some(s("1m0s")),
                    Some(vec![
                        (s("app"), Some(s("2m")), Some(s("7Mi"))),
                        (s(""), Some(s("")), None),
                    ]),
                ),
                (s(""), s(""), None, Some(s("0s")), None),
                (s(""), s(""), None, Some(s("0s")), None),
            ]
        );
    }

    #[test]
    fn rfc3339_cases() {
        for (secs, want) in [
            (0, "1970-01-01T00:00:00Z"),
            (1, "1970-01-01T00:00:01Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (68_256_000, "1972-03-01T00:00:00Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (951_868_800, "2000-03-01T00:00:00Z"),
            (1_709_164_800, "2024-02-29T00:00:00Z"),
            (-2_203_891_200, "1900-03-01T00:00:00Z"),
            (1_796_163_872, "2026-12-01T22:24:32Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
            (253_402_300_800, "10000-01-01T00:00:00Z"),
            (GO_ZERO_TIME_UNIX, "0001-01-01T00:00:00Z"),
            (GO_ZERO_TIME_UNIX - 366 * 86_400, "0000-01-01T00:00:00Z"),
            (
                GO_ZERO_TIME_UNIX - 366 * 86_400 - 1,
                "-0001-12-31T23:59:59Z",
            ),
        ] {
            assert_eq!(rfc3339(secs), want, "{secs}");
        }
        // Extremes must not panic.
        rfc3339(i64::MIN);
        rfc3339(i64::MAX);
    }

    #[test]
    fn go_duration_cases() {
        for (nanos, want) in [
            (0, "0s"),
            (1, "1ns"),
            (999, "999ns"),
            (1_000, "1µs"),
            (1_500, "1.5µs"),
            (1_000_000, "1ms"),
            (500_000_000, "500ms"),
            (999_999_999, "999.999999ms"),
            (1_000_000_000, "1s"),
            (15_000_000_000, "15s"),
            (15_010_000_000, "15.01s"),
            (59_999_999_999, "59.999999999s"),
            (60_000_000_000, "1m0s"),
            (60_500_000_000, "1m0.5s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_000_000_000, "1h2m3s"),
            (-1_500_000_000, "-1.5s"),
            (-1, "-1ns"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(go_duration(nanos), want, "{nanos}");
        }
    }

    fn sample_body() -> Vec<u8> {
        encode_pod_list(
            "metrics.k8s.io/v1beta1",
            "7",
            [
                EncodedPod {
                    namespace: "ns",
                    name: "a",
                    timestamp_seconds: 1_796_163_872,
                    window_nanos: 15_000_000_000,
                    containers: &[("c1", "1m", "1Mi"), ("c2", "2m", "2Mi")],
                },
                EncodedPod {
                    namespace: "ns",
                    name: "b",
                    timestamp_seconds: 1_796_163_873,
                    window_nanos: 10_000_000_000,
                    containers: &[("c", "3m", "")],
                },
            ],
        )
    }

    #[test]
    fn malformed_inputs() {
        use DecodeError::*;
        assert_eq!(pods(b"").unwrap_err(), NotProtobuf);
        assert_eq!(
            pods(b"{\"kind\":\"PodMetricsList\"}").unwrap_err(),
            NotProtobuf
        );
        assert_eq!(pods(b"k8s\x01").unwrap_err(), NotProtobuf);
        assert!(matches!(pods(&MAGIC).unwrap_err(), WrongKind { found, .. } if found.is_empty()));
        // Every truncation fails, except cutting the trailing empty
        // contentEncoding/contentType: all items are complete by then.
        let body = sample_body();
        let full: Vec<Flat> = pods(&body).unwrap().iter().map(flat).collect();
        let raw_end = body.len() - 4;
        for cut in 0..body.len() {
            match pods(&body[..cut]) {
                Err(_) => {}
                Ok(got) => {
                    assert!(cut >= raw_end, "cut at {cut} decoded");
                    assert_eq!(got.iter().map(flat).collect::<Vec<_>>(), full);
                }
            }
            assert!(node_items(&body[..cut]).is_err());
        }
        // A length far past the end (and one that overflows usize on 32-bit).
        let huge = [MAGIC.to_vec(), key(2, 2), varint(u64::MAX)].concat();
        assert_eq!(
            pods(&huge).unwrap_err(),
            Truncated {
                msg: "runtime.Unknown"
            }
        );
        let raw = [key(2, 2), varint(1 << 40), vec![0; 8]].concat();
        assert!(matches!(
            pods(&envelope("PodMetricsList", &raw)),
            Err(Truncated { .. })
        ));
        // 11-byte varint; a 10-byte one whose last byte overflows 64 bits.
        let long = [MAGIC.to_vec(), vec![0x28], vec![0xff; 10], vec![0x01]].concat();
        assert!(matches!(pods(&long), Err(Malformed { .. })));
        let over = [MAGIC.to_vec(), vec![0x28], vec![0xff; 9], vec![0x02]].concat();
        assert!(matches!(pods(&over), Err(Malformed { .. })));
        let max = [MAGIC.to_vec(), vec![0x28], vec![0xff; 9], vec![0x01]].concat();
        assert!(matches!(pods(&max), Err(WrongKind { .. })));
        // Field 0, wire types 6 and 7, stray end-group, unterminated and
        // mismatched groups, groups nested too deep.
        for bad in [
            vec![0x00, 0x00],
            vec![0x0e],
            vec![0x0f],
            key(5, 4),
            key(5, 3),
            [key(5, 3), key(6, 4)].concat(),
            [vec![0x2b; 65], vec![0x2c; 65]].concat(),
        ] {
            let raw = [ld(2, b""), bad.clone()].concat();
            let body = envelope("PodMetricsList", &raw);
            assert!(pods(&body).is_err(), "{bad:?}");
            assert!(pods(&[MAGIC.to_vec(), bad].concat()).is_err());
        }
        // Nested groups within the limit are skipped.
        let ok = [vec![0x2b; 64], vec![0x2c; 64]].concat();
        assert!(pods(&envelope("PodMetricsList", &ok)).is_ok());
        // A known field with the wrong wire type.
        let raw = ld(2, &vi(1, 3));
        assert_eq!(
            pods(&envelope("PodMetricsList", &raw)).unwrap_err(),
            WrongWireType {
                msg: "PodMetrics",
                field: 1,
                wire_type: 0,
                expected: 2
            }
        );
        // Envelope checks.
        let mut gz = envelope("PodMetricsList", b"");
        gz.truncate(gz.len() - 4);
        gz.extend_from_slice(&ld(3, b"gzip"));
        assert_eq!(pods(&gz).unwrap_err(), ContentEncoding("gzip".into()));
        let json = [envelope("PodMetricsList", b""), ld(4, b"application/json")].concat();
        assert_eq!(
            pods(&json).unwrap_err(),
            ContentType("application/json".into())
        );
        let no_raw = [MAGIC.to_vec(), ld(1, &ld(2, b"PodMetricsList"))].concat();
        assert_eq!(pods(&no_raw).unwrap_err(), MissingObject);
        let status = [
            ld(2, b"Failure"),
            ld(3, b"pods is forbidden"),
            ld(4, b"Forbidden"),
            vi(6, 403),
        ];
        let err = pods(&envelope("Status", &status.concat())).unwrap_err();
        assert_eq!(
            err,
            Status {
                code: 403,
                reason: "Forbidden".into(),
                message: "pods is forbidden".into()
            }
        );
        assert!(err.to_string().contains("pods is forbidden"));
        assert!(WrongKind {
            expected: "PodMetricsList",
            found: "Pod".into()
        }
        .to_string()
        .contains("sent a Pod"));
    }

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn mutate(rng: &mut XorShift, mut b: Vec<u8>) -> Vec<u8> {
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(b.len());
            match rng.below(6) {
                0 if !b.is_empty() => b[i] ^= 1 << rng.below(8),
                1 if !b.is_empty() => b[i] = rng.next() as u8,
                2 => b.truncate(i),
                3 => b.insert(i, rng.next() as u8),
                4 if !b.is_empty() => {
                    b.remove(i);
                }
                _ => {
                    let j = i + rng.below(b.len() - i);
                    let chunk = b[i..j].to_vec();
                    b.splice(i..i, chunk);
                }
            }
        }
        b
    }

    /// Never panics, never hangs: every result is Ok or Err.
    fn decode_all(b: &[u8]) {
        let _ = pods(b);
        let _ = node_items(b);
    }

    #[test]
    fn xorshift_fuzz() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let pod = sample_body();
        let node = encode_node_list(
            "metrics.k8s.io/v1",
            "",
            [EncodedNode {
                name: "n",
                timestamp_seconds: 5,
                window_nanos: 5,
                cpu: "1",
                memory: "2",
            }],
        );
        let mut envelope_fields = Fields::new(&pod[4..], "test");
        let raw_pod = loop {
            if let Some((2, Value::Bytes(b))) = envelope_fields.next_field().unwrap() {
                break b.to_vec();
            }
        };
        for i in 0..100_000 {
            let input = match i % 4 {
                0 => mutate(&mut rng, pod.clone()),
                1 => mutate(&mut rng, node.clone()),
                // Random bytes behind a valid envelope reach the item decoders.
                2 => envelope("PodMetricsList", &mutate(&mut rng, raw_pod.clone())),
                _ => {
                    let n = rng.below(64);
                    let mut b: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                    if rng.below(2) == 0 {
                        b.splice(0..0, MAGIC);
                    }
                    b
                }
            };
            decode_all(&input);
        }
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]
            #[test]
            fn random_bytes(b in proptest::collection::vec(any::<u8>(), 0..256)) {
                decode_all(&b);
                decode_all(&[MAGIC.as_slice(), &b].concat());
                decode_all(&envelope("PodMetricsList", &b));
                decode_all(&envelope("NodeMetricsList", &b));
            }

            #[test]
            fn mutated_body(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
                            cut in any::<usize>()) {
                let mut b = sample_body();
                for (i, v) in edits {
                    let i = i % b.len();
                    b[i] = v;
                }
                b.truncate(cut % (b.len() + 1));
                decode_all(&b);
            }
        }
    }
}
