//! The Lambda handler: event in, report or a typed function error out, answered before
//! the invocation's deadline, with the run's metrics.

pub use crate::app::{App, RunError};
use crate::metrics;
use crate::report::Report;
use crate::request::Payload;
use lambda_runtime::{Diagnostic, LambdaEvent};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time kept back before the Lambda deadline to return an error instead of being killed.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(1500);

impl From<RunError> for Diagnostic {
    fn from(err: RunError) -> Self {
        let error_type = match &err {
            RunError::Config(_) | RunError::Credentials(_) => "InvalidConfiguration",
            RunError::Request(_) | RunError::Target(_) => "InvalidRequest",
            RunError::NothingToRefresh => "NothingToRefresh",
            RunError::Refresh(_) => "RefreshFailed",
            RunError::Deadline(_) => "DeadlineReached",
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

/// The runtime calls this with the payload's text (`main.rs`), so that a key given twice
/// is refused here rather than dropped by the runtime's parse.
pub async fn handle<P: Payload>(app: &App, event: LambdaEvent<P>) -> Result<Report, RunError> {
    let (payload, context) = event.into_parts();
    let request = payload.into_request()?;
    let dry_run = request.dry_run;
    let work = app.run(request);
    let left = time_left(context.deadline, SystemTime::now());
    tracing::debug!(deadline_ms = context.deadline, time_left = ?left, "invocation");
    let result = match left {
        Some(left) => tokio::time::timeout(left, work)
            .await
            .unwrap_or(Err(RunError::Deadline(DEADLINE_MARGIN))),
        None => work.await,
    };
    if !dry_run {
        emit_metrics(&result);
    }
    result
}

fn emit_metrics(result: &Result<Report, RunError>) {
    let (refreshed, failed) = match result {
        Ok(report) => (report.connections.as_slice(), 0),
        Err(RunError::Refresh(e)) => (e.refreshed.as_slice(), e.failed.len()),
        Err(_) => return,
    };
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into());
    // EMF must be a bare JSON line on stdout, not wrapped by the log formatter.
    println!(
        "{}",
        metrics::record(&function, refreshed, failed, SystemTime::now())
    );
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
        use crate::request::Payload;
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
