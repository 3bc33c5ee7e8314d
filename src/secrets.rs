//! AWS Secrets Manager: read many secrets in batches, create or update one.

use crate::aws_error::AwsError;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::types::Tag;
use futures::future::join_all;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;

/// `BatchGetSecretValue` takes at most 20 secret ids a call.
const BATCH: usize = 20;
pub const MANAGED_BY_TAG: (&str, &str) = ("managed-by", "airflow-ecr-refresher");
const DESCRIPTION: &str = "Airflow Docker connection to Amazon ECR, refreshed by airflow-ecr-refresher. \
                           Host, login and password are overwritten on every refresh; other fields are kept.";

/// A secret's current value, as far as a refresh cares.
#[derive(Debug, Clone)]
pub enum Current {
    Missing,
    Text {
        value: SecretString,
        version_id: String,
    },
    /// `SecretBinary`: Airflow never reads it, and we will not overwrite it.
    Binary,
}

/// What to write and how to make the write idempotent.
#[derive(Debug)]
pub struct Write<'a> {
    pub name: &'a str,
    pub value: &'a SecretString,
    /// The same token for the same write: a retry never makes a second version.
    pub request_token: String,
}

#[derive(Debug, Clone)]
pub struct Secrets {
    client: Client,
}

impl Secrets {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Reads every name, 20 a call, the calls concurrently: one result per name, in order.
    pub async fn read(&self, names: &[String]) -> Vec<Result<Current, AwsError>> {
        let batches = join_all(names.chunks(BATCH).map(|chunk| self.read_batch(chunk))).await;
        batches.into_iter().flatten().collect()
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
                    error = %AwsError::from_sdk(action, &e),
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
                },
                None => Current::Binary,
            };
            found.insert(name, Ok(current));
        }
        for error in output.errors() {
            let Some(id) = error.secret_id() else {
                continue;
            };
            let result = match error.error_code() {
                Some("ResourceNotFoundException") => Ok(Current::Missing),
                code => Err(AwsError::new(
                    "secretsmanager:GetSecretValue",
                    code,
                    error.message(),
                )),
            };
            found.insert(id, result);
        }
        names
            .iter()
            .map(|name| {
                found.remove(name.as_str()).unwrap_or_else(|| {
                    Err(AwsError::new(
                        action,
                        None,
                        Some("the secret was neither returned nor reported as an error"),
                    ))
                })
            })
            .collect()
    }

    async fn read_one(&self, name: &str) -> Result<Current, AwsError> {
        let action = "secretsmanager:GetSecretValue";
        match self.client.get_secret_value().secret_id(name).send().await {
            Ok(out) => Ok(match out.secret_string() {
                Some(text) => Current::Text {
                    value: SecretString::from(text.to_owned()),
                    version_id: out.version_id().unwrap_or_default().to_owned(),
                },
                None => Current::Binary,
            }),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(Current::Missing)
            }
            Err(e) => Err(AwsError::from_sdk(action, &e)),
        }
    }

    /// Whether the secret carries this function's `managed-by` tag. Asked only of a secret
    /// whose value is not a Docker connection, to tell a handed-over secret from someone
    /// else's connection.
    pub async fn is_managed(&self, name: &str) -> Result<bool, AwsError> {
        let described = self
            .client
            .describe_secret()
            .secret_id(name)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("secretsmanager:DescribeSecret", &e))?;
        Ok(described
            .tags()
            .iter()
            .any(|t| t.key() == Some(MANAGED_BY_TAG.0) && t.value() == Some(MANAGED_BY_TAG.1)))
    }

    pub async fn put(&self, write: &Write<'_>) -> Result<(), AwsError> {
        self.client
            .put_secret_value()
            .secret_id(write.name)
            .secret_string(write.value.expose_secret())
            .client_request_token(&write.request_token)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("secretsmanager:PutSecretValue", &e))
    }

    pub async fn create(
        &self,
        write: &Write<'_>,
        kms_key_id: Option<&str>,
    ) -> Result<(), AwsError> {
        self.client
            .create_secret()
            .name(write.name)
            .secret_string(write.value.expose_secret())
            .client_request_token(&write.request_token)
            .description(DESCRIPTION)
            .tags(
                Tag::builder()
                    .key(MANAGED_BY_TAG.0)
                    .value(MANAGED_BY_TAG.1)
                    .build(),
            )
            .set_kms_key_id(kms_key_id.map(str::to_owned))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("secretsmanager:CreateSecret", &e))
    }
}
