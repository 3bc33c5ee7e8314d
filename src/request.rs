//! What an invocation asks for. EventBridge events and `{}` refresh the configured
//! connections; any other object is a manual request, parsed strictly so that a typo such
//! as `"dryrun"` is refused rather than taken as a real refresh.

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
     \"registry\": \"...\"}}], \"dry_run\": true}} (both keys optional); nothing was written"
)]
pub struct RequestError(pub String);

/// EventBridge (and CloudWatch Events) envelopes always carry these two keys.
fn is_eventbridge(map: &serde_json::Map<String, Value>) -> bool {
    map.contains_key("detail-type") && map.contains_key("source")
}

impl Request {
    pub fn from_event(event: Value) -> Result<Self, RequestError> {
        match event {
            Value::Object(map) if !map.is_empty() && !is_eventbridge(&map) => {
                let request: Self = serde_json::from_value(Value::Object(map))
                    .map_err(|e| RequestError(e.to_string()))?;
                if request.connections.as_ref().is_some_and(Vec::is_empty) {
                    return Err(RequestError("\"connections\" is an empty list".into()));
                }
                Ok(request)
            }
            _ => Ok(Self::default()),
        }
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
