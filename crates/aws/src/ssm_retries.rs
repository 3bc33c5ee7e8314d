//! `PutParameter`'s `TooManyUpdates` ("There are concurrent updates for a resource that
//! supports one update at a time", Systems Manager API Reference, PutParameter, Errors) is
//! a modeled error the SDK does not retry. It clears once the other update is done, so it
//! is retried like throttling: with backoff, within the client's attempts.

use aws_sdk_ssm::operation::put_parameter::PutParameterError;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};

/// Retries a `TooManyUpdates` answer; every other answer is left to the SDK's classifiers.
#[derive(Debug, Clone, Copy, Default)]
pub struct TooManyUpdates;

impl ClassifyRetry for TooManyUpdates {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let too_many = matches!(ctx.output_or_error(), Some(Err(e))
            if OrchestratorError::as_operation_error(e)
                .and_then(|e| e.downcast_ref::<PutParameterError>())
                .is_some_and(PutParameterError::is_too_many_updates));
        if too_many {
            RetryAction::throttling_error()
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "TooManyUpdates"
    }
}

/// `client` with `TooManyUpdates` retried.
pub fn with_retries(client: &aws_sdk_ssm::Client) -> aws_sdk_ssm::Client {
    let config = client
        .config()
        .to_builder()
        .retry_classifier(TooManyUpdates)
        .build();
    aws_sdk_ssm::Client::from_conf(config)
}
