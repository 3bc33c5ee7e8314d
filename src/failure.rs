//! Why one connection was not refreshed: kept typed all the way to the report, where its
//! Display is the message users read.

use crate::aws_error::AwsError;
use crate::connection::ConnectionError;
use crate::ecr::PullCheckError;
use crate::expiry::ShortLogin;
use crate::report::Action;
use crate::tokens::TokenFailure;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetFailure {
    #[error(transparent)]
    Token(#[from] TokenFailure),
    #[error("reading the secret: {0}")]
    Read(AwsError),
    #[error("reading the secret's tags: {0}")]
    Tags(AwsError),
    #[error(
        "the secret holds SecretBinary, which Airflow never reads, so it was left untouched \
         (store the connection as a SecretString)"
    )]
    Binary,
    #[error(
        "the parameter is a {0} parameter, which would store the password unencrypted, so it \
         was left untouched (delete it and the function creates a SecureString, or recreate \
         it as a SecureString)"
    )]
    Unencrypted(String),
    #[error("{0}, so the secret was left untouched")]
    Value(#[from] ConnectionError),
    #[error(
        "the new value would be {bytes} bytes, over the store's limit of {limit}, so the \
         secret was left untouched (its other fields are too large)"
    )]
    TooLarge { bytes: usize, limit: usize },
    #[error("writing the secret: {0}")]
    Write(AwsError),
    #[error(
        "{source} (the secret was still written, {}: a fresh token is never worse than an \
         expiring one)", .action.as_str()
    )]
    PullCheck {
        action: Action,
        source: PullCheckError,
    },
    /// Written all the same, like a failed pull check.
    #[error(transparent)]
    ExpiresBeforeNextRun(#[from] Box<ShortLogin>),
}
