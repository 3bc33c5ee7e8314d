//! Why one connection was not refreshed: kept typed all the way to the report, where its
//! Display is the message users read.

use crate::action::Action;
use crate::aws_error::AwsError;
use crate::connection::ConnectionError;
use crate::destination::HostConflict;
use crate::expiry::ShortLogin;
use crate::login::{LoginError, PullCheckError};
use crate::login_check::LoginCheckError;

/// Why one connection was not refreshed; its Display is the message users read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetFailure {
    /// No login could be had for the connection's region or role.
    #[error(transparent)]
    Login(#[from] LoginError),
    /// The existing connection's registry can neither be kept nor replaced.
    #[error(transparent)]
    Host(#[from] HostConflict),
    /// Reading the current value failed.
    #[error("reading the secret: {0}")]
    Read(AwsError),
    /// Reading the value's tags failed.
    #[error("reading the secret's tags: {0}")]
    Tags(AwsError),
    /// The secret holds `SecretBinary`.
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
    NotDockerParameter {
        /// The parameter type, `String` or `StringList`.
        kind: String,
        /// What the value is, such as another connection type.
        holds: String,
    },
    /// The current value is no connection this function may update.
    #[error("{0}, so the secret was left untouched")]
    Value(#[from] ConnectionError),
    /// The new value would exceed the store's size limit.
    #[error(
        "the new value would be {bytes} bytes, over the store's limit of {limit}, so the \
         secret was left untouched (its other fields are too large)"
    )]
    TooLarge {
        /// The size of the new value, in bytes.
        bytes: usize,
        /// The store's limit, in bytes.
        limit: usize,
    },
    /// Writing the new value failed.
    #[error("writing the secret: {0}")]
    Write(AwsError),
    /// Another writer's version landed between this run's read and its write and was
    /// replaced by it; theirs was made current again, and re-planning on it failed.
    #[error(
        "another writer changed the secret between this run's read and its write; their \
         version was put back as current, and then: {0}"
    )]
    Raced(Box<TargetFailure>),
    /// Other writers got in twice; the connection is left to the next run.
    #[error(
        "other writers changed the secret twice while this run was writing it; their \
         version was put back as current each time and the connection was left to the next run"
    )]
    RacedTwice,
    /// Another writer's version could not be made current again.
    #[error(
        "another writer changed the secret between this run's read and its write, and \
         putting their version ({theirs}) back as current failed: {source}; this run's value \
         is current, theirs is the previous version"
    )]
    NotRestored {
        /// The other writer's version id.
        theirs: String,
        /// Why restoring it failed.
        source: AwsError,
    },
    /// Written, but which version the write replaced is unknown.
    #[error(
        "the secret was written ({}), but asking which version the write replaced failed: \
         {source}; if another writer changed it at that moment, their value is the previous \
         version", .action.as_str()
    )]
    Unchecked {
        /// What the write did.
        action: Action,
        /// Why asking for the replaced version failed.
        source: AwsError,
    },
    /// The `check_image` pull check failed; the value was written (or would be) all the same.
    #[error("{source} ({})", .action.written_note())]
    PullCheck {
        /// What was done to the value before the check.
        action: Action,
        /// Why the pull would fail.
        source: PullCheckError,
    },
    /// The registry did not accept the fresh login (`check_login`); the value was written
    /// (or would be) all the same.
    #[error("{source} ({})", .action.written_note())]
    LoginCheck {
        /// What was done to the value before the check.
        action: Action,
        /// Why the registry did not accept it.
        source: LoginCheckError,
    },
    /// Written all the same, like a failed pull check.
    #[error(transparent)]
    ExpiresBeforeNextRun(#[from] Box<ShortLogin>),
}
