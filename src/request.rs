//! What an invocation asks for. `{}`, `null` and an EventBridge event refresh the
//! configured connections; any other object is a manual request. Every key beside an
//! EventBridge envelope's own is honoured or refused, never ignored, so that a typo such
//! as `"dryrun"` (or a `"dry_run"` added to a copied scheduled event) can never turn into
//! a real refresh.

use crate::target::TargetSpec;
use serde::Deserialize;
use serde_json::Value;

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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid manual request: {0}. Expected {{\"connections\": [{{\"conn_id\": \"...\", \"region\": \"...\", \
     \"registry\": \"...\", \"pull_role_arn\": \"...\", \"check_image\": \"...\"}}], \"dry_run\": true}} \
     (all but conn_id optional); nothing was written"
)]
pub struct RequestError(pub String);

/// The keys of an EventBridge event envelope ("Amazon EventBridge events" in the
/// EventBridge user guide). A scheduled rule sends exactly these.
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
fn is_eventbridge(map: &serde_json::Map<String, Value>) -> bool {
    map.contains_key("detail-type") && map.contains_key("source")
}

impl Request {
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
            map.retain(|key, _| !ENVELOPE_KEYS.contains(&key.as_str()));
        }
        let request: Self =
            serde_json::from_value(Value::Object(map)).map_err(|e| RequestError(e.to_string()))?;
        if request.connections.as_ref().is_some_and(Vec::is_empty) {
            return Err(RequestError("\"connections\" is an empty list".into()));
        }
        Ok(request)
    }
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
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scheduled_events_and_empty_input_refresh_the_configured_connections() {
        let scheduled = json!({
            "version": "0", "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
            "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-28T00:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/refresh"], "detail": {}
        });
        assert_eq!(Request::from_event(scheduled), Ok(Request::default()));
        assert_eq!(Request::from_event(json!({})), Ok(Request::default()));
        assert_eq!(Request::from_event(Value::Null), Ok(Request::default()));
    }

    #[test]
    fn manual_requests_choose_connections_and_dry_run() {
        let r = Request::from_event(
            json!({"connections": [{"conn_id": "a", "region": "eu-west-1"}], "dry_run": true}),
        )
        .unwrap();
        assert!(r.dry_run);
        assert_eq!(r.connections.unwrap()[0].conn_id.as_str(), "a");
        assert!(
            Request::from_event(json!({"dry_run": true}))
                .unwrap()
                .dry_run
        );
    }

    #[test]
    fn keys_beside_an_eventbridge_envelope_are_honoured_or_refused() {
        let mut scheduled = json!({
            "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-28T00:00:00Z", "region": "us-east-1",
            "resources": [], "detail": {}, "dry_run": true
        });
        let r = Request::from_event(scheduled.clone()).unwrap();
        assert!(r.dry_run, "a dry run inside a scheduled event is a dry run");
        scheduled["connections"] = json!([{"conn_id": "only_this"}]);
        let r = Request::from_event(scheduled).unwrap();
        assert_eq!(r.connections.unwrap()[0].conn_id.as_str(), "only_this");
        for (event, expected) in [
            (
                json!({"detail-type": "x", "source": "y", "dryrun": true, "connections": "garbage"}),
                "unknown field `dryrun`",
            ),
            (
                json!({"detail-type": "x", "source": "y", "dry_run": "yes"}),
                "expected a boolean",
            ),
        ] {
            let err = Request::from_event(event).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn every_sample_event_in_the_repository_is_a_valid_request() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let event: Value = serde_json::from_str(&text).unwrap();
            let request = Request::from_event(event);
            assert!(request.is_ok(), "{}: {request:?}", path.display());
            seen += 1;
        }
        assert!(seen >= 4, "events/ holds the samples the README names");
        let pull: Value = serde_json::from_str(include_str!("../events/pull-check.json")).unwrap();
        let pull = Request::from_event(pull).unwrap();
        let shared = &pull.connections.unwrap()[1];
        assert!(shared.pull_role_arn.is_some() && shared.check_image.is_some());
    }

    #[test]
    fn payloads_that_are_not_objects_are_refused() {
        for (event, kind) in [
            (json!([1]), "an array"),
            (json!("refresh"), "a string"),
            (json!(1), "a number"),
            (json!(true), "a boolean"),
        ] {
            let err = Request::from_event(event).unwrap_err().to_string();
            assert!(
                err.contains(&format!("the event is {kind}, not a JSON object")),
                "{err}"
            );
        }
    }

    #[test]
    fn envelope_keys_without_an_envelope_are_unknown() {
        let err = Request::from_event(json!({"detail": {}, "dry_run": true})).unwrap_err();
        assert!(err.to_string().contains("unknown field `detail`"), "{err}");
    }

    #[test]
    fn malformed_requests_say_what_is_wrong() {
        let cases = [
            (json!({"dryrun": true}), "unknown field `dryrun`"),
            (
                json!({"dry_run": "yes"}),
                "invalid type: string \"yes\", expected a boolean",
            ),
            (
                json!({"connections": "a"}),
                "invalid type: string \"a\", expected a sequence",
            ),
            (
                json!({"connections": []}),
                "\"connections\" is an empty list",
            ),
            (
                json!({"connections": [{"conn_id": ""}]}),
                "invalid conn_id \"\"",
            ),
            (
                json!({"connections": [{"conn_id": "a b"}]}),
                "invalid conn_id \"a b\"",
            ),
            (
                json!({"connections": [{"conn_id": "a", "region": "europe"}]}),
                "invalid region \"europe\"",
            ),
            (
                json!({"connections": [{"region": "eu-west-1"}]}),
                "missing field `conn_id`",
            ),
        ];
        for (event, expected) in cases {
            let err = Request::from_event(event.clone()).unwrap_err().to_string();
            assert!(err.contains(expected), "{event}: {err}");
            assert!(err.starts_with("invalid manual request: "), "{err}");
        }
    }
}
