//! One shape for every failed AWS call: the action that failed, what kind of failure it
//! was (taken from the SDK's typed errors), and what the user should do next.

use std::fmt;

/// What went wrong, as far as the run and the user's next step care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// IAM refused the call.
    AccessDenied,
    /// A KMS key refused the caller (Secrets Manager's `EncryptionFailure`,
    /// `DecryptionFailure`, or `AccessDeniedException` "Access to KMS is not allowed").
    Kms,
    /// Throttled past the SDK's retries.
    Throttled,
    /// The resource already exists (`CreateSecret` on a taken name).
    Exists,
    /// The secret is scheduled for deletion.
    PendingDeletion,
    /// No answer: a refused or broken connection, or a timeout.
    Transport,
    /// Anything else: the message says what.
    Other,
}

/// One failed AWS call, free of SDK types: what failed, its kind, and AWS's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// The IAM action that failed, e.g. `secretsmanager:PutSecretValue`.
    pub action: &'static str,
    /// What kind of failure it was: decides how the run reacts and which hint the message gives.
    pub kind: ErrorKind,
    /// The AWS error code, when the service answered.
    pub code: Option<String>,
    /// The service's message, or what the SDK reported; `no message` when there was none.
    pub message: String,
}

/// The common error codes every AWS API may answer (AWS API references, "Common Errors");
/// the SDKs model them on no operation, so the code is all there is.
fn common_kind(code: &str, message: &str) -> ErrorKind {
    match code {
        // Secrets Manager has no code of its own for a refusing KMS key.
        "AccessDeniedException" if message.contains("KMS") => ErrorKind::Kms,
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => {
            ErrorKind::AccessDenied
        }
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" => ErrorKind::Throttled,
        _ => ErrorKind::Other,
    }
}

impl AwsError {
    /// An error of a kind already known; without a `message`, it says `no message`.
    pub fn new(
        action: &'static str,
        kind: ErrorKind,
        code: Option<&str>,
        message: Option<&str>,
    ) -> Self {
        Self {
            action,
            kind,
            code: code.map(str::to_owned),
            message: message.unwrap_or("no message").to_owned(),
        }
    }

    /// A request the SDK's builder refused before sending it.
    pub fn request(action: &'static str, problem: &impl fmt::Display) -> Self {
        Self::new(action, ErrorKind::Other, None, Some(&problem.to_string()))
    }

    /// An error the service answered with `code` and `message` (an SDK service error, or an
    /// entry of a batch call's `Errors`): the kind comes from AWS's common error codes, and
    /// `typed` refines it.
    pub fn from_code(action: &'static str, code: Option<&str>, message: Option<&str>) -> Self {
        let kind = common_kind(code.unwrap_or_default(), message.unwrap_or_default());
        Self::new(action, kind, code, message)
    }

    /// The kind the operation's typed error names, when it names one.
    pub fn typed(mut self, kind: Option<ErrorKind>) -> Self {
        if let Some(kind) = kind {
            self.kind = kind;
        }
        self
    }

    fn hint(&self) -> Option<String> {
        match self.kind {
            ErrorKind::Kms if self.action.starts_with("ssm:") => Some(
                "the KMS key that encrypts the parameter refuses the function's role: allow the \
                 role kms:Encrypt, kms:GenerateDataKey and kms:Decrypt in that key's policy, and \
                 give the key's ARN to the template (KmsKeyArn, ExtraKmsKeyArns)"
                    .into(),
            ),
            ErrorKind::Kms => Some(
                "the KMS key that encrypts the secret refuses the function's role: allow the \
                 role kms:GenerateDataKey and kms:Decrypt in that key's policy, and give the key's \
                 ARN to the template (KmsKeyArn for the key of secrets this function creates, \
                 ExtraKmsKeyArns for the keys of existing secrets)"
                    .into(),
            ),
            ErrorKind::AccessDenied => {
                Some(format!("grant {} to the function's role", self.action))
            }
            ErrorKind::PendingDeletion => Some(
                "the secret is scheduled for deletion: restore it with `aws secretsmanager \
                 restore-secret`, or remove the connection from the configuration"
                    .into(),
            ),
            _ => None,
        }
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
        let e = AwsError::from_code(
            "secretsmanager:PutSecretValue",
            Some("AccessDeniedException"),
            Some("User is not authorized"),
        );
        assert_eq!(e.kind, ErrorKind::AccessDenied);
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
            // EncryptionFailure and DecryptionFailure are typed errors of the operations.
            let e = AwsError::from_code("secretsmanager:PutSecretValue", Some(code), Some(message))
                .typed((code != "AccessDeniedException").then_some(ErrorKind::Kms));
            assert_eq!(e.kind, ErrorKind::Kms, "{code}");
            let text = e.to_string();
            assert!(
                text.contains("key's policy") && text.contains("KmsKeyArn"),
                "{text}"
            );
            assert!(!text.contains("grant secretsmanager"), "{text}");
        }
        let iam = AwsError::from_code(
            "secretsmanager:PutSecretValue",
            Some("AccessDeniedException"),
            Some("no"),
        );
        assert_eq!(iam.kind, ErrorKind::AccessDenied);
    }

    #[test]
    fn pending_deletion_says_how_to_recover() {
        let e = AwsError::new(
            "secretsmanager:PutSecretValue",
            ErrorKind::PendingDeletion,
            Some("InvalidRequestException"),
            Some(
                "You can't perform this operation on the secret because it was marked for deletion.",
            ),
        );
        assert!(e.to_string().contains("restore-secret"), "{e}");
    }
}
