//! AWS Secrets Manager as a `Store`: read many secrets in paced batches, create or update
//! one, tell which version an update replaced, and put another writer's version back.

use crate::batch::{ReadQuota, read_in_batches, system_time};
use crate::sdk_error::from_sdk;
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::types::Tag;
use futures::future::join_all;
use refresher_core::aws_error::{AwsError, ErrorKind};
use refresher_core::store::{Current, Landed, MANAGED_BY_TAG, Replaced, Store, Write};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;

/// `BatchGetSecretValue` takes at most 20 secret ids a call (API Reference,
/// `BatchGetSecretValue`), 100 calls a second per account and region (AWS Secrets Manager
/// User Guide, "Quotas"); a run takes half, so another reader of the account's secrets in
/// the same second is not throttled by a refresh of a large fleet.
const READS: ReadQuota = ReadQuota {
    batch: 20,
    calls_per_second: 50,
};
/// The labels Secrets Manager moves on every `PutSecretValue` without `VersionStages`: the
/// new version becomes `AWSCURRENT`, the one it replaced `AWSPREVIOUS` (API Reference,
/// `PutSecretValue`).
const CURRENT: &str = "AWSCURRENT";
const PREVIOUS: &str = "AWSPREVIOUS";
/// 50 `PutSecretValue` (and `CreateSecret`) a second per account and region, not
/// adjustable (AWS Secrets Manager User Guide, "Quotas").
const WRITES_PER_SECOND: usize = 50;
/// `SecretString` is at most 65,536 bytes (API Reference, `PutSecretValue`).
const VALUE_LIMIT: usize = 65_536;
const DESCRIPTION: &str = "Airflow Docker connection to Amazon ECR, refreshed by airflow-ecr-refresher. \
                           Host, login and password are overwritten on every refresh; other fields are kept.";

/// AWS Secrets Manager as a `Store`: connections as secrets.
#[derive(Debug, Clone)]
pub struct Secrets {
    client: Client,
}

impl Secrets {
    /// Wraps `client`, which decides region, credentials and retries.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// One batch call; if the call fails as a whole (one odd secret can do that), each of
    /// its secrets is read on its own, so one secret never fails the others.
    async fn read_batch(&self, names: &[String]) -> Vec<Result<Current, AwsError>> {
        let action = "secretsmanager:BatchGetSecretValue";
        let output = match self
            .client
            .batch_get_secret_value()
            .set_secret_id_list(Some(names.to_vec()))
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) => {
                tracing::warn!(
                    secrets = names.len(),
                    error = %from_sdk(action, &e),
                    "batch read failed as a whole; reading its secrets one by one"
                );
                return join_all(names.iter().map(|name| self.read_one(name))).await;
            }
        };
        let mut found: HashMap<&str, Result<Current, AwsError>> = HashMap::new();
        for entry in output.secret_values() {
            let Some(name) = entry.name() else { continue };
            let current = match entry.secret_string() {
                Some(text) => Current::Text {
                    value: SecretString::from(text.to_owned()),
                    version_id: entry.version_id().unwrap_or_default().to_owned(),
                    // The version's `CreatedDate`: when it was written.
                    written_at: entry.created_date().and_then(system_time),
                },
                None => Current::Binary,
            };
            found.insert(name, Ok(current));
        }
        for error in output.errors() {
            let Some(id) = error.secret_id() else {
                continue;
            };
            let code = error.error_code();
            let result = match code {
                Some("ResourceNotFoundException") => Ok(Current::Missing),
                _ => {
                    let kind = match code {
                        Some("DecryptionFailure") => Some(ErrorKind::Kms),
                        Some("InvalidRequestException") => self.pending_deletion(id).await,
                        _ => None,
                    };
                    let action = "secretsmanager:GetSecretValue";
                    Err(AwsError::from_code(action, code, error.message()).typed(kind))
                }
            };
            found.insert(id, result);
        }
        names
            .iter()
            .map(|name| {
                found.remove(name.as_str()).unwrap_or_else(|| {
                    Err(AwsError::new(
                        action,
                        ErrorKind::Other,
                        None,
                        Some("the secret was neither returned nor reported as an error"),
                    ))
                })
            })
            .collect()
    }

    async fn read_one(&self, name: &str) -> Result<Current, AwsError> {
        let action = "secretsmanager:GetSecretValue";
        // AWSCURRENT is what a read without a stage returns, and what Airflow reads (API
        // Reference, GetSecretValue); named, so a version it was just moved back to is read
        // even where the default lags behind the label (moto 5.2.5).
        let read = self.client.get_secret_value().secret_id(name);
        match read.version_stage(CURRENT).send().await {
            Ok(out) => Ok(match out.secret_string() {
                Some(text) => Current::Text {
                    value: SecretString::from(text.to_owned()),
                    version_id: out.version_id().unwrap_or_default().to_owned(),
                    written_at: out.created_date().and_then(system_time),
                },
                None => Current::Binary,
            }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(Current::Missing)
            }
            Err(e) => {
                let service = e.as_service_error();
                let kind = if service.is_some_and(|s| s.is_decryption_failure()) {
                    Some(ErrorKind::Kms)
                } else if service.is_some_and(|s| s.is_invalid_request_exception()) {
                    self.pending_deletion(name).await
                } else {
                    None
                };
                Err(from_sdk(action, &e).typed(kind))
            }
        }
    }

    /// A secret's metadata: its tags, its versions' labels, whether it is being deleted.
    async fn describe(&self, name: &str) -> Result<DescribeSecretOutput, AwsError> {
        let described = self.client.describe_secret().secret_id(name).send().await;
        described.map_err(|e| from_sdk("secretsmanager:DescribeSecret", &e))
    }

    /// `InvalidRequestException` covers several refusals; a secret scheduled for deletion
    /// is the one with a fix, and `DescribeSecret` says so by its `DeletedDate`.
    /// Reads and writes both answer it for such a secret (API Reference, GetSecretValue,
    /// BatchGetSecretValue `Errors`, PutSecretValue).
    async fn pending_deletion(&self, name: &str) -> Option<ErrorKind> {
        self.describe(name)
            .await
            .is_ok_and(|d| d.deleted_date().is_some())
            .then_some(ErrorKind::PendingDeletion)
    }

    /// Each version's staging labels.
    async fn stages(&self, name: &str) -> Result<HashMap<String, Vec<String>>, AwsError> {
        Ok(self
            .describe(name)
            .await?
            .version_ids_to_stages()
            .cloned()
            .unwrap_or_default())
    }
}

fn has_label(stages: &HashMap<String, Vec<String>>, version: &str, label: &str) -> bool {
    stages
        .get(version)
        .is_some_and(|labels| labels.iter().any(|l| l == label))
}

/// What the write that made version `ours` replaced, from every version's labels just after.
fn replaced_by(stages: &HashMap<String, Vec<String>>, ours: &str) -> Replaced {
    if !has_label(stages, ours, CURRENT) {
        return Replaced::Superseded;
    }
    let previous = stages
        .iter()
        .find(|(_, labels)| labels.iter().any(|l| l == PREVIOUS));
    match previous {
        Some((version, _)) => Replaced::Version(version.clone()),
        None => Replaced::Nothing,
    }
}

#[async_trait]
impl Store for Secrets {
    async fn read(&self, names: &[String]) -> Vec<Result<Current, AwsError>> {
        read_in_batches(names, READS, |chunk| self.read_batch(chunk)).await
    }

    /// `GetSecretValue`: its quota (10,000 a second, shared with `DescribeSecret`) is far
    /// above the write pace, where a one-name batch read would spend `BatchGetSecretValue`'s.
    async fn reread(&self, name: &str) -> Result<Current, AwsError> {
        self.read_one(name).await
    }

    async fn is_managed(&self, name: &str) -> Result<bool, AwsError> {
        Ok(self
            .describe(name)
            .await?
            .tags()
            .iter()
            .any(|t| t.key() == Some(MANAGED_BY_TAG.0) && t.value() == Some(MANAGED_BY_TAG.1)))
    }

    async fn create(&self, write: &Write<'_>, kms_key_id: Option<&str>) -> Result<(), AwsError> {
        let result = self
            .client
            .create_secret()
            .name(write.name)
            .secret_string(write.value.expose_secret())
            .client_request_token(write.request_token)
            .description(DESCRIPTION)
            .tags(
                Tag::builder()
                    .key(MANAGED_BY_TAG.0)
                    .value(MANAGED_BY_TAG.1)
                    .build(),
            )
            .set_kms_key_id(kms_key_id.map(str::to_owned))
            .send()
            .await;
        let Err(e) = result else { return Ok(()) };
        let service = e.as_service_error();
        let kind = if service.is_some_and(|s| s.is_resource_exists_exception()) {
            Some(ErrorKind::Exists)
        } else if service.is_some_and(|s| s.is_encryption_failure() || s.is_decryption_failure()) {
            Some(ErrorKind::Kms)
        } else {
            None
        };
        Err(from_sdk("secretsmanager:CreateSecret", &e).typed(kind))
    }

    /// The new version, and the one it replaced: `PutSecretValue` answers only with the
    /// new one, so `DescribeSecret` tells which now carries `AWSPREVIOUS` (its
    /// `VersionIdsToStages`).
    async fn update(&self, write: &Write<'_>) -> Result<Landed, AwsError> {
        let result = self
            .client
            .put_secret_value()
            .secret_id(write.name)
            .secret_string(write.value.expose_secret())
            .client_request_token(write.request_token)
            .send()
            .await;
        let e = match result {
            Ok(out) => {
                // The version id is the request token (API Reference, `ClientRequestToken`).
                let version = out.version_id().unwrap_or(write.request_token).to_owned();
                let replaced = match self.stages(write.name).await {
                    Ok(stages) => replaced_by(&stages, &version),
                    Err(e) => Replaced::Unchecked(e),
                };
                return Ok(Landed { version, replaced });
            }
            Err(e) => e,
        };
        let service = e.as_service_error();
        let kind =
            if service.is_some_and(|s| s.is_encryption_failure() || s.is_decryption_failure()) {
                Some(ErrorKind::Kms)
            } else if service.is_some_and(|s| s.is_invalid_request_exception()) {
                self.pending_deletion(write.name).await
            } else {
                None
            };
        Err(from_sdk("secretsmanager:PutSecretValue", &e).typed(kind))
    }

    /// Moves `AWSCURRENT` back to their version; Secrets Manager moves `AWSPREVIOUS` to ours
    /// (API Reference, `UpdateSecretVersionStage`). Naming ours as the version to take the
    /// label from makes the move conditional: it fails if ours no longer carries it.
    async fn restore(&self, name: &str, theirs: &str, ours: &str) -> Result<(), AwsError> {
        let result = self
            .client
            .update_secret_version_stage()
            .secret_id(name)
            .version_stage(CURRENT)
            .move_to_version_id(theirs)
            .remove_from_version_id(ours)
            .send()
            .await;
        let Err(e) = result else { return Ok(()) };
        let error = from_sdk("secretsmanager:UpdateSecretVersionStage", &e);
        // Refused because a later write took the label from ours: that write is current.
        match self.stages(name).await {
            Ok(stages) if !has_label(&stages, ours, CURRENT) => Ok(()),
            _ => Err(error),
        }
    }

    fn writes_per_second(&self) -> usize {
        WRITES_PER_SECOND
    }

    fn value_limit(&self) -> usize {
        VALUE_LIMIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages(entries: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
        entries
            .iter()
            .map(|(v, labels)| {
                (
                    v.to_string(),
                    labels.iter().map(|l| l.to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn the_version_a_write_replaced_is_the_one_labelled_awsprevious_after_it() {
        let after = stages(&[("ours", &[CURRENT]), ("read", &[PREVIOUS]), ("old", &[])]);
        assert_eq!(
            replaced_by(&after, "ours"),
            Replaced::Version("read".into())
        );
        let first = stages(&[("ours", &[CURRENT])]);
        assert_eq!(replaced_by(&first, "ours"), Replaced::Nothing);
        let followed = stages(&[("later", &[CURRENT]), ("ours", &[PREVIOUS])]);
        assert_eq!(replaced_by(&followed, "ours"), Replaced::Superseded);
    }
}
