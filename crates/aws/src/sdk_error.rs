//! What a failed SDK call may say about itself. An `SdkError` keeps the raw HTTP response,
//! and an answer the SDK cannot parse is kept whole: formatting the error (`Debug`,
//! `DisplayErrorContext`) would print an ECR token, a secret's value or STS keys. So the
//! text is built only from parts that cannot hold a response body: fixed descriptions,
//! the HTTP status and request id, and the sources of error types known to carry none.

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::error::operation::BuildError;
use refresher_core::aws_error::{AwsError, ErrorKind};
use std::error::Error;

/// The kind and the text of an SDK error that has no AWS error code.
pub(crate) fn describe<E>(err: &SdkError<E, HttpResponse>) -> (ErrorKind, String)
where
    E: ProvideErrorMetadata + Error + 'static,
{
    match err {
        // A 200 the SDK could not deserialize lands here too, as an "unhandled" error.
        SdkError::ServiceError(service) => (
            ErrorKind::Other,
            unreadable("unparseable response", service.raw()),
        ),
        SdkError::ResponseError(response) => (
            ErrorKind::Transport,
            unreadable("incomplete or malformed response", response.raw()),
        ),
        SdkError::TimeoutError(_) => (ErrorKind::Transport, "no answer in time".into()),
        SdkError::DispatchFailure(dispatch) => {
            let text = dispatch
                .as_connector_error()
                .map_or_else(|| NOT_SENT.to_owned(), not_sent);
            (ErrorKind::Transport, text)
        }
        SdkError::ConstructionFailure(_) => {
            // Its own fields' names and the SDK's words; nothing from any answer.
            let text = match err.source().and_then(|s| s.downcast_ref::<BuildError>()) {
                Some(build) => format!("the request could not be built: {build}"),
                None => "the request could not be built".into(),
            };
            (ErrorKind::Other, text)
        }
        _ => (ErrorKind::Other, "the call failed".into()),
    }
}

const NOT_SENT: &str = "the request could not be sent";

/// An answer that came but could not be read: what is known about it without its body.
fn unreadable(what: &str, response: &HttpResponse) -> String {
    let status = response.status().as_u16();
    let id = ["x-amzn-requestid", "x-amz-request-id"]
        .iter()
        .find_map(|h| response.headers().get(*h))
        // AWS's ids are letters, digits and dashes; anything else is not shown.
        .filter(|id| id.len() <= 128 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    match id {
        Some(id) => {
            format!("the answer could not be read ({what}, HTTP {status}, request id {id})")
        }
        None => format!("the answer could not be read ({what}, HTTP {status})"),
    }
}

/// A request that got no answer. The HTTP client makes its I/O and timeout errors from
/// hyper's, which hold no response, so their causes are shown. Any other kind may wrap
/// an identity provider's failure (assuming a role, instance metadata), whose own chain
/// keeps the raw answer: only vetted parts of it are shown.
fn not_sent(connector: &ConnectorError) -> String {
    if connector.is_io() || connector.is_timeout() {
        let mut text = NOT_SENT.to_owned();
        let mut source = connector.source();
        while let Some(e) = source {
            let part = e.to_string();
            // Some errors repeat their source in their own text.
            if !text.ends_with(&part) {
                text = format!("{text}: {part}");
            }
            source = e.source();
        }
        return text;
    }
    match find::<CredentialsError>(connector) {
        Some(credentials) => format!("{NOT_SENT}: {}", credentials_error(credentials)),
        None => NOT_SENT.to_owned(),
    }
}

/// A credentials provider's failure: its own text, one of a few fixed sentences, and the
/// STS call behind it when there is one, described as any other call. Other providers'
/// causes (instance metadata, a container endpoint, a process) may hold their raw answer,
/// so they are not shown.
pub(crate) fn credentials_error(err: &CredentialsError) -> String {
    if let Some(sts) = find::<SdkError<AssumeRoleError, HttpResponse>>(err) {
        return format!("{err}: {}", from_sdk("sts:AssumeRole", sts));
    }
    if let Some(sts) = find::<SdkError<AssumeRoleWithWebIdentityError, HttpResponse>>(err) {
        let action = "sts:AssumeRoleWithWebIdentity";
        return format!("{err}: {}", from_sdk(action, sts));
    }
    err.to_string()
}

/// The first error of type `T` in `err`'s source chain, `err` included.
fn find<'a, T: Error + 'static>(err: &'a (dyn Error + 'static)) -> Option<&'a T> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// An `AwsError` from an SDK error: the service's code and message, or what kind of
/// failure it was (`describe`), never the response itself. The adapter that knows the
/// operation refines the kind with `AwsError::typed`.
pub fn from_sdk<E>(action: &'static str, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + Error + 'static,
{
    match (err, err.code()) {
        // The code and message AWS's error body names (a modeled error's `message`).
        (SdkError::ServiceError(_), Some(code)) => {
            AwsError::from_code(action, Some(code), err.message())
        }
        _ => {
            let (kind, message) = describe(err);
            AwsError::new(action, kind, None, Some(&message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::from_sdk;
    use aws_credential_types::provider::error::CredentialsError;
    use aws_sdk_ecr::operation::get_authorization_token::GetAuthorizationTokenError;
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use refresher_core::aws_error::{AwsError, ErrorKind};

    const MARKER: &str = "Marker-Secret-9f3a";

    fn response(status: u16, body: &str) -> HttpResponse {
        let mut response = HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.to_owned()),
        );
        response
            .headers_mut()
            .insert("x-amzn-RequestId", "6f1f0e6c-1b2a-4c3d-9e8f-0a1b2c3d4e5f");
        response
    }

    fn says_nothing_of_the_body(err: &AwsError) -> String {
        let text = err.to_string();
        assert!(!text.contains(MARKER), "{text}");
        assert!(!format!("{err:?}").contains(MARKER), "{err:?}");
        text
    }

    /// The real SDK, deserializing a 200 it cannot read: the token is in the body.
    #[tokio::test]
    async fn an_unparseable_answer_is_described_without_its_body() {
        let body = format!(
            r#"{{"authorizationData":[{{"authorizationToken":"{MARKER}","expiresAt":"not-a-date"}}]}}"#
        );
        let rule = mock!(aws_sdk_ecr::Client::get_authorization_token)
            .then_http_response(move || response(200, &body));
        let client = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, [&rule]);
        let err = client.get_authorization_token().send().await.unwrap_err();
        // What used to be printed holds it.
        let context = aws_smithy_types::error::display::DisplayErrorContext(&err);
        assert!(context.to_string().contains(MARKER));

        let err = from_sdk("ecr:GetAuthorizationToken", &err);
        let text = says_nothing_of_the_body(&err);
        assert_eq!(
            text,
            "ecr:GetAuthorizationToken failed: the answer could not be read (unparseable \
             response, HTTP 200, request id 6f1f0e6c-1b2a-4c3d-9e8f-0a1b2c3d4e5f)"
        );
        assert_eq!(err.code, None);
    }

    #[test]
    fn a_response_error_is_described_without_its_body() {
        let err: SdkError<GetAuthorizationTokenError, HttpResponse> = SdkError::response_error(
            std::io::Error::other(format!("cut off in {MARKER}")),
            response(
                200,
                &format!(r#"{{"authorizationData":[{{"authorizationToken":"{MARKER}"#),
            ),
        );
        let err = from_sdk("ecr:GetAuthorizationToken", &err);
        assert_eq!(err.kind, ErrorKind::Transport);
        let text = says_nothing_of_the_body(&err);
        assert!(
            text.contains("could not be read (incomplete or malformed response, HTTP 200"),
            "{text}"
        );
    }

    /// A store call signed with an assumed role (the backend's role_arn) whose AssumeRole answer
    /// was unreadable: the role's keys are in the STS body, deep in the dispatch failure.
    #[test]
    fn an_identity_failure_is_described_without_the_sts_body() {
        let body = format!(
            "<AssumeRoleResponse><AssumeRoleResult><Credentials><SecretAccessKey>{MARKER}\
             </SecretAccessKey><SessionToken>{MARKER}"
        );
        let sts: SdkError<AssumeRoleError, HttpResponse> = SdkError::service_error(
            AssumeRoleError::unhandled(format!("bad xml near {MARKER}")),
            response(200, &body),
        );
        let credentials = CredentialsError::provider_error(sts);
        let err: SdkError<GetAuthorizationTokenError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(credentials.into(), None));
        let err = from_sdk("ecr:GetAuthorizationToken", &err);
        let text = says_nothing_of_the_body(&err);
        assert!(
            text.contains(
                "the request could not be sent: an error occurred while loading credentials: \
                 sts:AssumeRole failed: the answer could not be read (unparseable response, HTTP 200"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_refused_connection_still_says_why() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err: SdkError<GetAuthorizationTokenError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io(refused.into()));
        let err = from_sdk("ecr:GetAuthorizationToken", &err);
        assert_eq!(err.kind, ErrorKind::Transport);
        assert_eq!(
            err.to_string(),
            "ecr:GetAuthorizationToken failed: the request could not be sent: connection refused"
        );
    }

    #[test]
    fn a_service_error_keeps_its_code_and_message() {
        let err: SdkError<GetAuthorizationTokenError, HttpResponse> = SdkError::service_error(
            GetAuthorizationTokenError::generic(
                aws_smithy_types::error::ErrorMetadata::builder()
                    .code("AccessDeniedException")
                    .message("User is not authorized")
                    .build(),
            ),
            response(400, "{}"),
        );
        let err = from_sdk("ecr:GetAuthorizationToken", &err);
        assert_eq!(err.kind, ErrorKind::AccessDenied);
        assert!(
            err.to_string()
                .contains("with AccessDeniedException: User is not authorized"),
            "{err}"
        );
    }
}
