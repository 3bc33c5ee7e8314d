//! AWS STS: the pull roles a run assumes, each once, with the SDK's standard assume-role
//! provider. The ECR token is then fetched with the role's credentials, so it carries the
//! role's pull rights.

use crate::aws_error::{AwsError, ErrorKind};
use crate::pull::RoleArn;
use crate::tokens::RoleCredentials;
use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use secrecy::SecretString;

const ACTION: &str = "sts:AssumeRole";

#[derive(Debug, Clone)]
pub struct Roles {
    /// The function's own configuration: its credentials assume the roles.
    sdk: Option<SdkConfig>,
    session_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "assuming pull_role_arn {role}: {source}. The role's trust policy must allow the \
     function's role to sts:AssumeRole, and the function's role needs sts:AssumeRole on it \
     (template parameter PullRoleArns)"
)]
pub struct RoleError {
    pub role: String,
    pub source: AwsError,
}

impl RoleError {
    /// A role the run did not assume: never fall back to the function's own credentials.
    pub fn not_assumed(role: &RoleArn) -> Self {
        Self {
            role: role.to_string(),
            source: AwsError::new(
                ACTION,
                ErrorKind::Other,
                None,
                Some("the role was not assumed in this run"),
            ),
        }
    }
}

/// `[\w+=,.@-]{2,64}` (AWS STS API Reference, `AssumeRole`, `RoleSessionName`): the
/// function's name, so CloudTrail says who pulled.
pub(crate) fn session_name(function_name: Option<String>) -> String {
    function_name
        .filter(|n| n.len() >= 2)
        .map(|n| n.chars().take(64).collect())
        .unwrap_or_else(|| "airflow-ecr-refresher".to_owned())
}

impl Roles {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            sdk: Some(sdk.clone()),
            session_name: session_name(std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok()),
        }
    }

    /// For clients built without an `SdkConfig`: no role can be assumed.
    pub fn none() -> Self {
        Self {
            sdk: None,
            session_name: session_name(None),
        }
    }

    pub async fn assume(&self, role: &RoleArn) -> Result<RoleCredentials, RoleError> {
        let failed = |source| RoleError {
            role: role.to_string(),
            source,
        };
        let Some(sdk) = &self.sdk else {
            return Err(failed(AwsError::new(
                ACTION,
                ErrorKind::Other,
                None,
                Some("this client has no AWS configuration to assume roles with"),
            )));
        };
        let provider = AssumeRoleProvider::builder(role.as_str())
            .session_name(&self.session_name)
            .configure(sdk)
            .build()
            .await;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| failed(sts_error(&e)))?;
        Ok(RoleCredentials {
            access_key_id: credentials.access_key_id().to_owned(),
            secret_access_key: SecretString::from(credentials.secret_access_key().to_owned()),
            session_token: credentials
                .session_token()
                .map(|t| SecretString::from(t.to_owned())),
            expires: credentials.expiry(),
        })
    }
}

/// The STS error inside the provider's, with its code, so hints and tests can use it.
fn sts_error(err: &CredentialsError) -> AwsError {
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(sdk) = e.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>() {
            return AwsError::from_sdk(ACTION, sdk);
        }
        source = e.source();
    }
    AwsError::new(ACTION, ErrorKind::Other, None, Some(&err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_is_named_after_the_function() {
        assert_eq!(session_name(Some("refresher".into())), "refresher");
        assert_eq!(session_name(None), "airflow-ecr-refresher");
        assert_eq!(session_name(Some("x".repeat(80))).len(), 64);
    }
}
