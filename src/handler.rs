//! The Lambda handler: event in, report or a typed function error out, answered before
//! the invocation's deadline, with the run's metrics.

pub use crate::app::{App, RunError};
use crate::custom_resource::{self, Response};
use crate::deploy;
use crate::metrics;
pub use crate::stop::DEADLINE_MARGIN;
use lambda_runtime::{Diagnostic, LambdaEvent};
use refresher_core::report::{Report, StopReason};
use refresher_core::request::Payload;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

impl From<RunError> for Diagnostic {
    fn from(err: RunError) -> Self {
        let error_type = match &err {
            RunError::Config(_) | RunError::Credentials(_) => "InvalidConfiguration",
            RunError::Request(_) | RunError::Target(_) => "InvalidRequest",
            RunError::NothingToRefresh => "NothingToRefresh",
            RunError::Refresh(_) => "RefreshFailed",
            RunError::Stopped(s) => match s.reason {
                StopReason::Deadline(_) => "DeadlineReached",
                StopReason::Signal(_) => "Stopped",
            },
            RunError::CloudFormation(_) => "CloudFormationNotAnswered",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}

/// 2020-01-01 in Unix milliseconds: any real deadline is later.
const PLAUSIBLE_DEADLINE_MS: u64 = 1_577_836_800_000;

/// How long this invocation may run before it must answer. `None` when the runtime gave no
/// usable deadline: `Context::default()` has 0, and cargo-lambda's emulator sends its
/// timeout as a duration (600000) instead of a time. The SDK's own timeouts still apply.
fn time_left(deadline_ms: u64, now: SystemTime) -> Option<Duration> {
    if deadline_ms < PLAUSIBLE_DEADLINE_MS {
        return None;
    }
    let now_ms = now.duration_since(UNIX_EPOCH).ok()?.as_millis() as u64;
    Some(Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(DEADLINE_MARGIN))
}

/// What the runtime answers: a refresh's report, or what CloudFormation was told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Report(Report),
    CloudFormation(Response),
}

/// The runtime calls this with the payload's text (`main.rs`): CloudFormation's custom
/// resource requests (`deploy.rs`), or a refresh request for `handle`.
pub async fn dispatch(app: &App, event: LambdaEvent<Box<RawValue>>) -> Result<Answer, RunError> {
    if let Ok(value) = serde_json::from_str::<Value>(event.payload.get())
        && custom_resource::is_custom_resource(&value)
    {
        let left = time_left(event.context.deadline, SystemTime::now());
        return deploy::answer(app, &value, left)
            .await
            .map(Answer::CloudFormation);
    }
    handle(app, event).await.map(Answer::Report)
}

/// One refresh request, so that a key given twice is refused here rather than dropped by
/// the runtime's parse.
pub async fn handle<P: Payload>(app: &App, event: LambdaEvent<P>) -> Result<Report, RunError> {
    let (payload, context) = event.into_parts();
    let request = payload.into_request()?;
    let dry_run = request.dry_run;
    let left = time_left(context.deadline, SystemTime::now());
    tracing::debug!(deadline_ms = context.deadline, time_left = ?left, "invocation");
    let result = app.run_until(request, left).await;
    if !dry_run {
        metrics::emit(app, &result);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_keeps_a_margin_before_the_deadline() {
        let now_ms = PLAUSIBLE_DEADLINE_MS + 1_000_000;
        let now = UNIX_EPOCH + Duration::from_millis(now_ms);
        assert_eq!(
            time_left(now_ms + 10_000, now),
            Some(Duration::from_millis(8_500))
        );
        assert_eq!(time_left(now_ms + 500, now), Some(Duration::ZERO));
        assert_eq!(time_left(0, now), None);
        assert_eq!(time_left(600_000, now), None, "a duration, not a time");
    }

    #[test]
    fn a_refused_payload_of_any_shape_is_an_invalid_request() {
        use refresher_core::request::Payload;
        use serde_json::value::RawValue;
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        for text in [deep.as_str(), r#"{"dry_run": true, "dry_run": false}"#] {
            // The runtime's side: any valid JSON becomes the handler's payload.
            let raw: Box<RawValue> = serde_json::from_str(text).unwrap();
            let d: Diagnostic = RunError::from(raw.into_request().unwrap_err()).into();
            assert_eq!(d.error_type, "InvalidRequest", "{}", d.error_message);
        }
    }

    #[test]
    fn errors_map_to_distinct_lambda_error_types() {
        let d: Diagnostic = RunError::NothingToRefresh.into();
        assert_eq!(d.error_type, "NothingToRefresh");
        assert!(d.error_message.contains("set CONNECTIONS"));
    }
}
