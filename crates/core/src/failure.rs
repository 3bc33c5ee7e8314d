//! Why one connection was not refreshed: kept typed all the way to the report, where its
//! Display is the message users read.

use crate::action::Action;
use crate::aws_error::AwsError;
use crate::connection::ConnectionError;
use crate::destination::HostConflict;
use crate::expiry::ShortLogin;
use crate::login::{LoginError, PullCheckError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetFailure {
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error(transparent)]
    Host(#[from] HostConflict),
    #[error("reading the secret: {0}")]
    Read(AwsError),
    #[error("reading the secret's tags: {0}")]
    Tags(AwsError),
    #[error(
        "the secret holds SecretBinary, which Airflow never reads, so it was left untouched \
         (store the connection as a SecretString)"
    )]
    Binary,
    /// A Docker connection (or one handed over) in a plain-text parameter.
    #[error(
        "the parameter is a {0} parameter, which would store the password unencrypted, so it \
         was left untouched (delete it and the function creates a SecureString, or recreate \
         it as a SecureString)"
    )]
    Unencrypted(String),
    /// Anything else in a plain-text parameter: judged by whose it is, never advised away.
    #[error(
        "the parameter is a {kind} parameter holding {holds}, not a Docker connection: check \
         the conn_id (this function never turns another connection into a Docker login); it \
         was left untouched"
    )]
    NotDockerParameter { kind: String, holds: String },
    #[error("{0}, so the secret was left untouched")]
    Value(#[from] ConnectionError),
    #[error(
        "the new value would be {bytes} bytes, over the store's limit of {limit}, so the \
         secret was left untouched (its other fields are too large)"
    )]
    TooLarge { bytes: usize, limit: usize },
    #[error("writing the secret: {0}")]
    Write(AwsError),
    /// Another writer's version landed between this run's read and its write and was
    /// replaced by it; theirs was made current again, and re-planning on it failed.
    #[error(
        "another writer changed the secret between this run's read and its write; their \
         version was put back as current, and then: {0}"
    )]
    Raced(Box<TargetFailure>),
    #[error(
        "other writers changed the secret twice while this run was writing it; their \
         version was put back as current each time and the connection was left to the next run"
    )]
    RacedTwice,
    #[error(
        "another writer changed the secret between this run's read and its write, and \
         putting their version ({theirs}) back as current failed: {source}; this run's value \
         is current, theirs is the previous version"
    )]
    NotRestored { theirs: String, source: AwsError },
    #[error(
        "the secret was written ({}), but asking which version the write replaced failed: \
         {source}; if another writer changed it at that moment, their value is the previous \
         version", .action.as_str()
    )]
    Unchecked { action: Action, source: AwsError },
    #[error("{source} ({})", .action.written_note())]
    PullCheck {
        action: Action,
        source: PullCheckError,
    },
    /// Written all the same, like a failed pull check.
    #[error(transparent)]
    ExpiresBeforeNextRun(#[from] Box<ShortLogin>),
}
