//! What an invocation asks for. `{}`, `null` and an EventBridge event refresh the
//! configured connections; any other object is a manual request. Every key beside an
//! EventBridge envelope's own, and every key in its `detail`, is honoured or refused,
//! never ignored, so that a typo such as `"dryrun"` (or a `"dry_run"` added to a copied
//! scheduled event, or sent in a custom event's `detail`) can never turn into a real
//! refresh. A key given twice, or given as `null`, is refused too: the payload is read
//! from its text (`Payload`), before a parse could keep the last duplicate.

use crate::strict_json;
use crate::target::TargetSpec;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// What one invocation asks for; the default refreshes the configured connections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Refresh these instead of the configured connections.
    #[serde(default)]
    pub connections: Option<Vec<TargetSpec>>,
    /// Report what would be written, write nothing.
    #[serde(default)]
    pub dry_run: bool,
}

impl Request {
    /// The keys of a request, which an EventBridge event's `detail` may hold too: from the
    /// struct itself, so the parser and the messages cannot disagree.
    pub fn keys() -> &'static [&'static str] {
        strict_json::fields_of::<Self>()
    }

    /// What a request looks like, every key shown: `{"connections": [{"conn_id": "...", ...}],
    /// "dry_run": true}`.
    pub fn expected() -> String {
        let entry: Vec<String> = TargetSpec::keys()
            .iter()
            .map(|key| format!("{key:?}: \"...\""))
            .collect();
        let keys: Vec<String> = Self::keys()
            .iter()
            .map(|&key| match key {
                "connections" => format!("{key:?}: [{{{}}}]", entry.join(", ")),
                "dry_run" => format!("{key:?}: true"),
                other => format!("{other:?}: ..."),
            })
            .collect();
        format!("{{{}}}", keys.join(", "))
    }
}

/// A refused request: what is wrong with it. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid manual request: {0}. Expected {expected} (all but conn_id optional); nothing was \
     written",
    expected = Request::expected()
)]
pub struct RequestError(pub String);

/// The keys of an EventBridge event envelope ("Amazon EventBridge events" in the
/// EventBridge user guide). A scheduled rule sends exactly these, with `"detail": {}`.
const ENVELOPE_KEYS: &[&str] = &[
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
];

/// Every EventBridge event carries these two.
fn is_eventbridge(map: &Map<String, Value>) -> bool {
    map.contains_key("detail-type") && map.contains_key("source")
}

/// What the Lambda handler receives. The real runtime hands over the payload's text
/// (`Box<RawValue>`: it accepts any valid JSON, at any depth, so every refusal is this
/// function's `InvalidRequest`, never the runtime's own deserialization error); tests
/// may hand a `Value`.
pub trait Payload {
    /// Reads the payload as a request, refusing what it cannot honour.
    fn into_request(self) -> Result<Request, RequestError>;
}

impl Payload for Box<RawValue> {
    fn into_request(self) -> Result<Request, RequestError> {
        Request::from_json(self.get())
    }
}

impl Payload for Value {
    fn into_request(self) -> Result<Request, RequestError> {
        Request::from_event(self)
    }
}

impl Request {
    /// The payload as sent: duplicate keys at any depth are refused, and so is nesting
    /// beyond serde_json's limit of 128.
    pub fn from_json(text: &str) -> Result<Self, RequestError> {
        Self::from_event(strict_json::parse(text).map_err(RequestError)?)
    }

    /// An event already parsed: `null`, `{}` and an EventBridge event refresh the configured
    /// connections; any other object is a manual request.
    pub fn from_event(event: Value) -> Result<Self, RequestError> {
        let mut map = match event {
            Value::Null => return Ok(Self::default()),
            Value::Object(map) => map,
            other => {
                return Err(RequestError(format!(
                    "the event is {}, not a JSON object",
                    kind_of(&other)
                )));
            }
        };
        if is_eventbridge(&map) {
            let detail = map.remove("detail");
            map.retain(|key, _| !ENVELOPE_KEYS.contains(&key.as_str()));
            merge_detail(&mut map, detail)?;
        }
        for (key, value) in &map {
            strict_json::no_nulls(value, key).map_err(RequestError)?;
        }
        let request: Self =
            serde_json::from_value(Value::Object(map)).map_err(|e| RequestError(e.to_string()))?;
        if request.connections.as_ref().is_some_and(Vec::is_empty) {
            return Err(RequestError("\"connections\" is an empty list".into()));
        }
        Ok(request)
    }
}

/// An EventBridge event's `detail` is a request like any other (a custom event can say
/// `{"dry_run": true}` there); anything else in it is refused rather than set aside, and
/// so is a key given both there and beside the envelope.
fn merge_detail(
    request: &mut Map<String, Value>,
    detail: Option<Value>,
) -> Result<(), RequestError> {
    let detail = match detail {
        None => return Ok(()),
        Some(Value::Object(detail)) => detail,
        Some(Value::Null) => {
            return Err(RequestError(
                "detail is null: leave the key out, or give it a value".into(),
            ));
        }
        Some(other) => {
            return Err(RequestError(format!(
                "the event's \"detail\" is {}, not a JSON object",
                kind_of(&other)
            )));
        }
    };
    for (key, value) in detail {
        if !Request::keys().contains(&key.as_str()) {
            return Err(RequestError(format!(
                "the event's \"detail\" holds {key:?}, which this function does not read: a \
                 detail may hold only {} (a scheduled event's is {{}})",
                strict_json::braced(Request::keys())
            )));
        }
        strict_json::no_nulls(&value, &format!("detail.{key}")).map_err(RequestError)?;
        if request.contains_key(&key) {
            return Err(RequestError(format!(
                "{key:?} is given both in the event's \"detail\" and beside it; give it once"
            )));
        }
        request.insert(key, value);
    }
    Ok(())
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
