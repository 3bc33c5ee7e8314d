//! The one seam between a run and where Airflow's connections live: read many, tell a
//! handed-over value from someone else's, create, update. AWS Secrets Manager implements
//! it (`secrets.rs`), an in-memory store serves the flow tests (`memory.rs`); another
//! backend is one more file. Nothing here knows an SDK type.

use crate::aws_error::AwsError;
use futures::future::BoxFuture;
use secrecy::SecretString;

/// A value's current state, as far as a refresh cares.
#[derive(Debug, Clone)]
pub enum Current {
    /// Nothing to read: no such name, or a secret created without a value.
    Missing,
    Text {
        value: SecretString,
        version_id: String,
    },
    /// Binary: Airflow never reads it, and we will not overwrite it.
    Binary,
    /// A Parameter Store `String` or `StringList`: Airflow reads it, but a password written
    /// there would be stored unencrypted, so it is left alone. Its value is kept to tell
    /// whose it is (a mistyped conn id naming someone's database login is no Docker one).
    Unencrypted {
        /// The parameter type, named.
        kind: String,
        value: Option<SecretString>,
    },
}

/// What to write and how to make the write idempotent.
#[derive(Debug)]
pub struct Write<'a> {
    pub name: &'a str,
    pub value: &'a SecretString,
    /// The same token for the same write: a retry never makes a second version.
    pub request_token: &'a str,
}

pub trait Store: std::fmt::Debug + Send + Sync {
    /// One result per name, in the order asked.
    fn read<'a>(&'a self, names: &'a [String]) -> BoxFuture<'a, Vec<Result<Current, AwsError>>>;

    /// Whether the value carries this function's `managed-by` tag.
    fn is_managed<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, AwsError>>;

    /// Creates a new value (tagged, with the KMS key if given); `ErrorKind::Exists` when the
    /// name is taken.
    fn create<'a>(
        &'a self,
        write: &'a Write<'a>,
        kms_key_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), AwsError>>;

    /// A new version of an existing value.
    fn update<'a>(&'a self, write: &'a Write<'a>) -> BoxFuture<'a, Result<(), AwsError>>;

    /// Writes a second the service takes per account and region: a run paces under it.
    fn writes_per_second(&self) -> usize;

    /// The largest value it stores, in bytes.
    fn value_limit(&self) -> usize;
}

/// Reads `names` in calls of at most `batch` names, the calls concurrently: one result per
/// name, in the order asked.
pub async fn read_in_batches<'a, F, Fut>(
    names: &'a [String],
    batch: usize,
    read: F,
) -> Vec<Result<Current, AwsError>>
where
    F: Fn(&'a [String]) -> Fut,
    Fut: std::future::Future<Output = Vec<Result<Current, AwsError>>>,
{
    let batches = futures::future::join_all(names.chunks(batch).map(read)).await;
    batches.into_iter().flatten().collect()
}

/// The tag that marks values this function created, or that a user handed over to it.
pub const MANAGED_BY_TAG: (&str, &str) = ("managed-by", "airflow-ecr-refresher");
