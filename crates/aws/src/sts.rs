//! AWS STS: the pull roles a run assumes, each once, with the SDK's standard assume-role
//! provider. The ECR token is then fetched with the role's credentials, so it carries the
//! role's pull rights.

use crate::sdk_error::from_sdk;
use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use refresher_core::aws_error::{AwsError, ErrorKind};
use refresher_core::login::{LoginError, RoleCredentials};
use refresher_core::pull::RoleArn;
use secrecy::SecretString;

const ACTION: &str = "sts:AssumeRole";

/// AWS STS: assumes pull roles as the function, one session named after it.
#[derive(Debug, Clone)]
pub struct Sts {
    /// The function's own configuration: its credentials assume the roles.
    sdk: SdkConfig,
    session_name: String,
}

/// `[\w+=,.@-]{2,64}` (AWS STS API Reference, `AssumeRole`, `RoleSessionName`): the
/// function's name, so CloudTrail says who pulled.
pub(crate) fn session_name(function_name: Option<String>) -> String {
    function_name
        .filter(|n| n.len() >= 2)
        .map(|n| n.chars().take(64).collect())
        .unwrap_or_else(|| "airflow-ecr-refresher".to_owned())
}

impl Sts {
    /// Assumes roles with `sdk`'s credentials, in sessions named after the Lambda function.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            sdk: sdk.clone(),
            session_name: session_name(std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok()),
        }
    }

    /// Assumes `role`: its temporary credentials, or why it could not be assumed.
    pub(crate) async fn assume(&self, role: &RoleArn) -> Result<RoleCredentials, LoginError> {
        let failed = |source| LoginError::Role {
            role: role.to_string(),
            source,
        };
        let sdk = &self.sdk;
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
            return from_sdk(ACTION, sdk);
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
