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

    /// IAM refused the call (not a KMS key: see `is_kms`).
    pub fn is_access_denied(&self) -> bool {
        self.code
            .as_deref()
            .is_some_and(|c| c.contains("AccessDenied") || c == "UnauthorizedOperation")
            && !self.is_kms()
    }

    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// Secrets Manager reports a KMS key that refuses the caller as `EncryptionFailure`,
    /// `DecryptionFailure`, or `AccessDeniedException` with "Access to KMS is not allowed"
    /// (AWS Secrets Manager API Reference, the errors of `CreateSecret`, `PutSecretValue`
    /// and `GetSecretValue`).
    pub fn is_kms(&self) -> bool {
        match self.code.as_deref() {
            Some("EncryptionFailure" | "DecryptionFailure") => true,
            Some(code) if code.starts_with("KMS") => true,
            Some(code) if code.contains("AccessDenied") => self.message.contains("KMS"),
            _ => false,
        }
    }

    fn hint(&self) -> Option<String> {
        if self.is_kms() {
            return Some(
                "the KMS key that encrypts the secret refuses the function's role: allow the \
                 role kms:GenerateDataKey and kms:Decrypt in that key's policy, and give the key's \
                 ARN to the template (KmsKeyArn for the key of secrets this function creates, \
                 ExtraKmsKeyArns for the keys of existing secrets)"
                    .into(),
            );
        }
        let code = self.code.as_deref()?;
        if self.is_access_denied() {
            return Some(format!("grant {} to the function's role", self.action));
        }
        if code == "InvalidRequestException" && self.message.contains("delet") {
            return Some(
                "the secret is scheduled for deletion: restore it with `aws secretsmanager \
                 restore-secret`, or remove the connection from the configuration"
                    .into(),
            );
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
    fn a_refusing_kms_key_names_the_key_policy_not_secrets_manager() {
        for (code, message) in [
            ("AccessDeniedException", "Access to KMS is not allowed"),
            ("EncryptionFailure", "Unable to encrypt"),
            ("DecryptionFailure", "Unable to decrypt"),
        ] {
            let e = AwsError::new("secretsmanager:PutSecretValue", Some(code), Some(message));
            assert!(e.is_kms(), "{code}");
            let text = e.to_string();
            assert!(
                text.contains("key's policy") && text.contains("KmsKeyArn"),
                "{text}"
            );
            assert!(!text.contains("grant secretsmanager"), "{text}");
        }
        let iam = AwsError::new(
            "secretsmanager:PutSecretValue",
            Some("AccessDeniedException"),
            Some("no"),
        );
        assert!(!iam.is_kms());
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
