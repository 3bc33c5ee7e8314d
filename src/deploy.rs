//! The deploy-time refresh: the template's custom resource invokes this function on stack
//! create and update, and the deploy fails (and rolls back) when the refresh fails, with
//! the run's own message. `Delete` changes nothing. CloudFormation is answered in every
//! case, before the invocation's deadline, at the pre-signed `ResponseURL`.

use crate::app::{App, RunError};
use crate::custom_resource::{self, CustomResourceRequest, RequestType, Response, Status};
use crate::metrics;
use crate::stop::DEADLINE_MARGIN;
use refresher_core::request::Request;
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant};

/// Kept back from the refresh for answering CloudFormation: up to three tries of the
/// PUT, each given what is left of this.
pub const ANSWER_RESERVE: Duration = Duration::from_secs(6);

/// Answers one CloudFormation request, returning what it was told (never the URL). `left` is the invocation's time before its
/// deadline's margin (`None`: no usable deadline). An `Err` means CloudFormation could not
/// be answered at all; a failed refresh is an `Ok` answered FAILED, so that Lambda never
/// retries it (the deploy's failure is the signal, and the metrics count the failures).
pub async fn answer(
    app: &App,
    event: &Value,
    left: Option<Duration>,
) -> Result<Response, RunError> {
    let started = Instant::now();
    let request = custom_resource::parse(event).map_err(RunError::CloudFormation)?;
    let CustomResourceRequest {
        response_url,
        asks,
        echo,
    } = request;
    let (status, reason, data) = match asks {
        Err(problem) => (
            Status::Failed,
            format!("malformed CloudFormation request: {problem}; nothing was written"),
            Map::new(),
        ),
        Ok(RequestType::Delete) => (
            Status::Success,
            "nothing to delete: the connections stay as they are".to_owned(),
            Map::new(),
        ),
        Ok(RequestType::Create | RequestType::Update) => {
            let result = app
                .run_within(Request::default(), left, ANSWER_RESERVE)
                .await;
            metrics::emit(app, &result);
            match result {
                Ok(report) => {
                    let count = report.connections.len();
                    let data = Map::from_iter([("Refreshed".to_owned(), json!(count))]);
                    let reason = format!("refreshed {count} connections");
                    (Status::Success, reason, data)
                }
                Err(err) => (Status::Failed, err.to_string(), Map::new()),
            }
        }
    };
    let response = Response::new(&echo, status, reason, data);
    let logical = echo.logical_resource_id.as_str();
    tracing::info!(
        logical_resource_id = logical, status = ?response.status, reason = %response.reason,
        "answering CloudFormation"
    );
    let answer_by = left.map(|l| l.saturating_sub(started.elapsed()) + DEADLINE_MARGIN / 2);
    send(response_url.expose(), response.clone().body(), answer_by).await?;
    Ok(response)
}

/// PUTs the document, retrying a failure that may pass (a connection, a 5xx) while time
/// is left. No Content-Type: the pre-signed URL was not signed with one (AWS's own
/// `cfn-response` module sends it empty).
async fn send(url: &str, body: String, within: Option<Duration>) -> Result<(), RunError> {
    let fail =
        |why: String| RunError::CloudFormation(format!("could not answer CloudFormation: {why}"));
    let client = refresher_aws::https::shared().map_err(fail)?;
    let started = Instant::now();
    let mut last = String::new();
    for attempt in 1..=3 {
        let left = within.map(|w| w.saturating_sub(started.elapsed()));
        if left.is_some_and(|l| l < Duration::from_millis(200)) {
            break;
        }
        let mut put = client.put(url).body(body.clone());
        if let Some(left) = left {
            put = put.timeout(left);
        }
        match put.send().await {
            Ok(answer) if answer.status().is_success() => return Ok(()),
            Ok(answer) if answer.status().is_client_error() => {
                // Expired or refused: a second try is refused the same.
                return Err(fail(format!(
                    "the ResponseURL answered {}",
                    answer.status()
                )));
            }
            Ok(answer) => last = format!("the ResponseURL answered {}", answer.status()),
            Err(e) => last = refresher_aws::https::describe(e),
        }
        tracing::warn!(attempt, error = %last, "answering CloudFormation failed; trying again");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(fail(last))
}
