//! The one seam between a run and where Airflow's connections live: read many, tell a
//! handed-over value from someone else's, create, update, and put another writer's value
//! back. AWS Secrets Manager (`secrets_manager.rs`) and Parameter Store (`parameter_store.rs`)
//! implement it (crates/aws), an in-memory one serves the flow tests (tests/common/memory);
//! another backend is one more file. Nothing here knows an SDK type.

use crate::aws_error::AwsError;
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use std::time::SystemTime;

/// A value's current state, as far as a refresh cares.
#[derive(Debug, Clone)]
pub enum Current {
    /// Nothing to read: no such name, or a secret created without a value.
    Missing,
    /// A text value Airflow may read.
    Text {
        /// The value.
        value: SecretString,
        /// Its version id, to tell whether another writer replaced it before ours landed.
        version_id: String,
        /// When this version was written, when the store says: the stored login's stated
        /// expiry is 12 hours later (`login_check.rs`).
        written_at: Option<SystemTime>,
    },
    /// Binary: Airflow never reads it, and we will not overwrite it.
    Binary,
    /// A Parameter Store `String` or `StringList`: Airflow reads it, but a password written
    /// there would be stored unencrypted, so it is left alone. Its value is kept to tell
    /// whose it is (a mistyped conn id naming someone's database login is no Docker one).
    Unencrypted {
        /// The parameter type, named.
        kind: String,
        /// The value, when the parameter has one.
        value: Option<SecretString>,
    },
}

impl Current {
    /// The version a write on top of this value replaces, if it has one.
    pub fn version(&self) -> Option<&str> {
        match self {
            Self::Text { version_id, .. } => Some(version_id),
            _ => None,
        }
    }

    /// Whether two reads found the same thing: the same version, or the same valueless state.
    pub fn same_as(&self, other: &Current) -> bool {
        match (self, other) {
            (Self::Text { version_id: a, .. }, Self::Text { version_id: b, .. }) => a == b,
            (Self::Unencrypted { kind: a, value: x }, Self::Unencrypted { kind: b, value: y }) => {
                let text =
                    |v: &Option<SecretString>| v.as_ref().map(|v| v.expose_secret().to_owned());
                a == b && text(x) == text(y)
            }
            (Self::Missing, Self::Missing) | (Self::Binary, Self::Binary) => true,
            _ => false,
        }
    }
}

/// What to write and how to make the write idempotent.
#[derive(Debug)]
pub struct Write<'a> {
    /// The secret or parameter name.
    pub name: &'a str,
    /// The full value to write.
    pub value: &'a SecretString,
    /// The same token for the same write: a retry never makes a second version.
    pub request_token: &'a str,
}

/// What an update replaced. Neither store has a conditional write, so the writer compares
/// this with the version it read to catch another writer who got in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replaced {
    /// The name had no value.
    Nothing,
    /// This version.
    Version(String),
    /// Another write already followed this one and is current, so what this one replaced
    /// can no longer be told (Secrets Manager keeps only the labels of the last two).
    Superseded,
    /// The write landed, but asking what it replaced failed.
    Unchecked(AwsError),
}

/// An update that landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    /// The version the write made.
    pub version: String,
    /// What the write replaced.
    pub replaced: Replaced,
}

/// Where connections live (Secrets Manager or Parameter Store): read, create, update and
/// restore values.
#[async_trait]
pub trait Store: std::fmt::Debug + Send + Sync {
    /// One result per name, in the order asked, in calls paced under the store's read quota.
    async fn read(&self, names: &[String]) -> Vec<Result<Current, AwsError>>;

    /// One name again, just before its write: the cheapest single read the store has.
    async fn reread(&self, name: &str) -> Result<Current, AwsError>;

    /// Whether the value carries this function's `managed-by` tag.
    async fn is_managed(&self, name: &str) -> Result<bool, AwsError>;

    /// Creates a new value (tagged, with the KMS key if given); `ErrorKind::Exists` when the
    /// name is taken.
    async fn create(&self, write: &Write<'_>, kms_key_id: Option<&str>) -> Result<(), AwsError>;

    /// A new version of an existing value, and the version it replaced.
    async fn update(&self, write: &Write<'_>) -> Result<Landed, AwsError>;

    /// Makes version `theirs` the current value again in place of `ours`, which replaced
    /// it. Nothing to do, and `Ok`, when `ours` is no longer current: a later write is.
    async fn restore(&self, name: &str, theirs: &str, ours: &str) -> Result<(), AwsError>;

    /// Writes a second the service takes per account and region: a run paces under it.
    fn writes_per_second(&self) -> usize;

    /// The largest value it stores, in bytes.
    fn value_limit(&self) -> usize;
}

/// The tag that marks values this function created, or that a user handed over to it.
pub const MANAGED_BY_TAG: (&str, &str) = ("managed-by", "airflow-ecr-refresher");
