//! One shape for every failed AWS call, with the action that failed and, where we know it,
//! what the user should do next.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The IAM action that failed, e.g. `secretsmanager:PutSecretValue`.
    pub action: &'static str,
    /// The AWS error code, when the service answered.
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn new(action: &'static str, code: Option<&str>, message: Option<&str>) -> Self {
        Self {
            action,
            code: code.map(str::to_owned),
            message: message.unwrap_or("no message").to_owned(),
        }
    }

    /// From an SDK error: the service's code and message, or the transport failure.
    pub fn from_sdk<E, R>(action: &'static str, err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        match err.code() {
            Some(code) => Self::new(action, Some(code), err.message()),
            None => Self {
                action,
                code: None,
                message: DisplayErrorContext(err).to_string(),
            },
        }
    }

    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    fn hint(&self) -> Option<String> {
        let code = self.code.as_deref()?;
        if code.contains("AccessDenied") || code == "UnauthorizedOperation" {
            return Some(format!("grant {} to the function's role", self.action));
        }
        if code == "InvalidRequestException" && self.message.contains("delet") {
            return Some(
                "the secret is scheduled for deletion: restore it with `aws secretsmanager \
                 restore-secret`, or remove the connection from the configuration"
                    .into(),
            );
        }
        if code.contains("KMS") || code == "DecryptionFailure" {
            return Some("check that the function's role may use the secret's KMS key".into());
        }
        None
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed", self.action)?;
        match &self.code {
            Some(code) => write!(f, " with {code}: {}", self.message)?,
            None => write!(f, ": {}", self.message)?,
        }
        if let Some(hint) = self.hint() {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AwsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_names_the_missing_permission() {
        let e = AwsError::new(
            "secretsmanager:PutSecretValue",
            Some("AccessDeniedException"),
            Some("User is not authorized"),
        );
        assert_eq!(
            e.to_string(),
            "secretsmanager:PutSecretValue failed with AccessDeniedException: User is not authorized \
             (grant secretsmanager:PutSecretValue to the function's role)"
        );
    }

    #[test]
    fn pending_deletion_says_how_to_recover() {
        let e = AwsError::new(
            "secretsmanager:PutSecretValue",
            Some("InvalidRequestException"),
            Some(
                "You can't perform this operation on the secret because it was marked for deletion.",
            ),
        );
        assert!(e.to_string().contains("restore-secret"), "{e}");
    }
}
