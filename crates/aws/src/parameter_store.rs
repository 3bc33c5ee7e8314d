//! AWS Systems Manager Parameter Store as a `Store`: read many parameters ten a call,
//! paced, create or overwrite one, always as a `SecureString`, and put another writer's
//! value back.

use crate::batch::{ReadQuota, read_in_batches, system_time};
use crate::sdk_error::from_sdk;
use async_trait::async_trait;
use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::{
    ParameterHistory, ParameterStringFilter, ParameterTier, ParameterType, ResourceTypeForTagging,
    Tag,
};
use futures::future::join_all;
use refresher_core::aws_error::{AwsError, ErrorKind};
use refresher_core::store::{Current, Landed, MANAGED_BY_TAG, Replaced, Store, Write};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;

/// `GetParameters` takes at most 10 names a call (API Reference, `GetParameters`). Its
/// default throughput, 40 calls a second per account and region, is shared with
/// `GetParameter` and so with Airflow's own lookups ("AWS Systems Manager endpoints and
/// quotas", <https://docs.aws.amazon.com/general/latest/gr/ssm.html>): a run takes a quarter,
/// plus one re-read per write (3 a second) once it writes.
const READS: ReadQuota = ReadQuota {
    batch: 10,
    calls_per_second: 10,
};
/// Parameter Store's default throughput is shared by `PutParameter` and the reads of every
/// application in the account and region ("AWS Systems Manager endpoints and quotas",
/// <https://docs.aws.amazon.com/general/latest/gr/ssm.html>, and "Changing Parameter Store
/// throughput", <https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-throughput.html>).
/// A run takes a small share of it, so Airflow's own reads are not throttled by a refresh.
const WRITES_PER_SECOND: usize = 3;
/// A standard parameter's value is at most 4 KB, an advanced one's 8 KB (API Reference,
/// `PutParameter`, `Value`). New parameters are standard: the function never picks the
/// paid advanced tier on a user's behalf; an advanced one keeps its tier and its limit.
const STANDARD_LIMIT: usize = 4_096;
const ADVANCED_LIMIT: usize = 8_192;
/// `DescribeParameters` pages followed for one name before giving up.
const MAX_DESCRIBE_PAGES: usize = 10;
/// `GetParameterHistory` pages (50 versions each) followed: a parameter keeps 100 versions.
const MAX_HISTORY_PAGES: usize = 4;
const NO_KEY: &str = "the parameter's KMS key was not found, so it was not overwritten \
                      (without its key, PutParameter would re-encrypt it with alias/aws/ssm)";
const DESCRIPTION: &str =
    "Airflow Docker connection to Amazon ECR, refreshed by airflow-ecr-refresher";

/// AWS Systems Manager Parameter Store as a `Store`: connections as `SecureString` parameters.
#[derive(Debug, Clone)]
pub struct Parameters {
    client: Client,
}

impl Parameters {
    /// Wraps `client`, adding retries of `PutParameter`'s `TooManyUpdates`.
    pub fn new(client: Client) -> Self {
        Self {
            client: crate::ssm_retries::with_retries(&client),
        }
    }

    /// One call; if it fails as a whole and holds more than one name (one parameter's KMS
    /// key can do that), each name is read on its own, so one never fails the others.
    async fn read_batch(&self, names: &[String]) -> Vec<Result<Current, AwsError>> {
        let output = match self
            .client
            .get_parameters()
            .set_names(Some(names.to_vec()))
            .with_decryption(true)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if names.len() > 1 => {
                tracing::warn!(
                    parameters = names.len(),
                    error = %read_error(&e),
                    "batch read failed as a whole; reading its parameters one by one"
                );
                let one_by_one = names
                    .iter()
                    .map(|name| self.read_batch(std::slice::from_ref(name)));
                return join_all(one_by_one).await.into_iter().flatten().collect();
            }
            Err(e) => return vec![Err(read_error(&e))],
        };
        let mut found: HashMap<&str, Current> = HashMap::new();
        for parameter in output.parameters() {
            let Some(name) = parameter.name() else {
                continue;
            };
            let current = match (parameter.r#type(), parameter.value()) {
                (Some(ParameterType::SecureString), Some(value)) => Current::Text {
                    value: SecretString::from(value.to_owned()),
                    version_id: parameter.version().to_string(),
                    // GetParameters' `LastModifiedDate`: when this version was written.
                    written_at: parameter.last_modified_date().and_then(system_time),
                },
                (kind, value) => Current::Unencrypted {
                    kind: kind.map_or("untyped", |k| k.as_str()).to_owned(),
                    value: value.map(|v| SecretString::from(v.to_owned())),
                },
            };
            found.insert(name, current);
        }
        // `InvalidParameters` lists the names that do not exist.
        names
            .iter()
            .map(|name| Ok(found.remove(name.as_str()).unwrap_or(Current::Missing)))
            .collect()
    }

    /// The KMS key that encrypts an existing parameter. `PutParameter` without `KeyId`
    /// re-encrypts with the account's default key (`alias/aws/ssm`), so an overwrite
    /// passes the parameter's own key: a user's key choice is theirs to keep.
    /// `GetParameters` does not return it; `DescribeParameters` does, "on a best-effort
    /// basis": a page may hold none of the matches and a `NextToken` (API Reference,
    /// `DescribeParameters`), so pages are followed. Not found, the write is refused
    /// rather than made with the wrong key.
    /// Its tier comes with it (`ParameterMetadata.Tier`): an advanced parameter may hold 8 KB.
    async fn key_of(&self, name: &str) -> Result<(String, Option<ParameterTier>), AwsError> {
        const ACTION: &str = "ssm:DescribeParameters";
        let filter = ParameterStringFilter::builder()
            .key("Name")
            .option("Equals")
            .values(name)
            .build()
            .map_err(|e| AwsError::request(ACTION, &e))?;
        let mut next_token = None;
        for _ in 0..MAX_DESCRIBE_PAGES {
            let page = self
                .client
                .describe_parameters()
                .parameter_filters(filter.clone())
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|e| from_sdk(ACTION, &e))?;
            if let Some(found) = page.parameters().iter().find(|p| p.name() == Some(name)) {
                let key = found
                    .key_id()
                    .map(str::to_owned)
                    .ok_or_else(|| AwsError::new(ACTION, ErrorKind::Other, None, Some(NO_KEY)))?;
                return Ok((key, found.tier().cloned()));
            }
            next_token = page.next_token().map(str::to_owned);
            if next_token.is_none() {
                break;
            }
        }
        Err(AwsError::new(ACTION, ErrorKind::Other, None, Some(NO_KEY)))
    }

    /// `PutParameter` takes no request token: a create that a retry finds already made is
    /// `ParameterAlreadyExists`, which the writer re-reads and compares, and an overwrite
    /// with the same value is harmless. An advanced parameter is overwritten as one, so
    /// the account's default tier never decides its limit.
    async fn put(
        &self,
        write: &Write<'_>,
        kms_key_id: Option<&str>,
        create: bool,
        tier: Option<ParameterTier>,
    ) -> Result<i64, AwsError> {
        let advanced = tier == Some(ParameterTier::Advanced);
        let (limit, tier_name) = if advanced {
            (ADVANCED_LIMIT, "an advanced")
        } else {
            (STANDARD_LIMIT, "a standard")
        };
        let bytes = write.value.expose_secret().len();
        if bytes > limit {
            let problem = format!(
                "the new value would be {bytes} bytes, over the {limit}-byte limit of {tier_name} \
                 parameter, so it was not written (its other fields are too large; the function \
                 never moves a parameter to the paid advanced tier)"
            );
            return Err(AwsError::new(
                "ssm:PutParameter",
                ErrorKind::Other,
                None,
                Some(&problem),
            ));
        }
        let mut request = self
            .client
            .put_parameter()
            .name(write.name)
            .value(write.value.expose_secret())
            .r#type(ParameterType::SecureString)
            .set_key_id(kms_key_id.map(str::to_owned))
            .set_tier(advanced.then_some(ParameterTier::Advanced))
            .overwrite(!create);
        if create {
            // Tags only on create: PutParameter refuses them with Overwrite.
            let tag = Tag::builder()
                .key(MANAGED_BY_TAG.0)
                .value(MANAGED_BY_TAG.1)
                .build()
                .map_err(|e| AwsError::request("ssm:PutParameter", &e))?;
            request = request.description(DESCRIPTION).tags(tag);
        }
        let e = match request.send().await {
            Ok(out) => return Ok(out.version()),
            Err(e) => e,
        };
        let service = e.as_service_error();
        let kind = if service.is_some_and(|s| s.is_parameter_already_exists()) {
            Some(ErrorKind::Exists)
        } else if service.is_some_and(|s| s.is_invalid_key_id()) {
            Some(ErrorKind::Kms)
        } else if service.is_some_and(|s| s.is_too_many_updates()) {
            Some(ErrorKind::Throttled)
        } else {
            None
        };
        Err(from_sdk("ssm:PutParameter", &e).typed(kind))
    }

    /// Every version still kept, each with its value, type and key.
    async fn history(&self, name: &str) -> Result<Vec<ParameterHistory>, AwsError> {
        let mut versions = Vec::new();
        let mut next_token = None;
        for _ in 0..MAX_HISTORY_PAGES {
            let page = self
                .client
                .get_parameter_history()
                .name(name)
                .with_decryption(true)
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|e| from_sdk("ssm:GetParameterHistory", &e))?;
            versions.extend(page.parameters().iter().cloned());
            next_token = page
                .next_token()
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if next_token.is_none() {
                break;
            }
        }
        Ok(versions)
    }
}

/// The version after `version`, as Parameter Store numbers them (1, 2, ...).
fn next_version(version: &str) -> String {
    version
        .parse::<i64>()
        .map_or_else(|_| String::new(), |v| (v + 1).to_string())
}

/// What the overwrite that made `version` replaced: the version before it.
fn replaced_by(version: i64) -> Replaced {
    match version {
        ..=1 => Replaced::Nothing,
        v => Replaced::Version((v - 1).to_string()),
    }
}

fn read_error(
    e: &aws_smithy_runtime_api::client::result::SdkError<
        aws_sdk_ssm::operation::get_parameters::GetParametersError,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> AwsError {
    let kms = e.as_service_error().is_some_and(|s| s.is_invalid_key_id());
    from_sdk("ssm:GetParameters", e).typed(kms.then_some(ErrorKind::Kms))
}

#[async_trait]
impl Store for Parameters {
    async fn read(&self, names: &[String]) -> Vec<Result<Current, AwsError>> {
        read_in_batches(names, READS, |chunk| self.read_batch(chunk)).await
    }

    /// `GetParameters` with one name: the same throughput as `GetParameter`, and no further
    /// grant.
    async fn reread(&self, name: &str) -> Result<Current, AwsError> {
        let mut read = self
            .read_batch(std::slice::from_ref(&name.to_owned()))
            .await;
        read.pop().unwrap_or(Ok(Current::Missing))
    }

    async fn is_managed(&self, name: &str) -> Result<bool, AwsError> {
        let tags = self
            .client
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .send()
            .await
            .map_err(|e| from_sdk("ssm:ListTagsForResource", &e))?;
        Ok(tags
            .tag_list()
            .iter()
            .any(|t| t.key() == MANAGED_BY_TAG.0 && t.value() == MANAGED_BY_TAG.1))
    }

    async fn create(&self, write: &Write<'_>, kms_key_id: Option<&str>) -> Result<(), AwsError> {
        self.put(write, kms_key_id, true, None).await.map(|_| ())
    }

    /// `PutParameter` answers with the new version; versions count up by one per write, so
    /// the one before it is the one replaced (API Reference, `PutParameter`, `Version`).
    async fn update(&self, write: &Write<'_>) -> Result<Landed, AwsError> {
        let (key, tier) = self.key_of(write.name).await?;
        let version = self.put(write, Some(&key), false, tier).await?;
        Ok(Landed {
            version: version.to_string(),
            replaced: replaced_by(version),
        })
    }

    /// Airflow reads a parameter's latest version, so their value goes back as a new one,
    /// with their type, key and tier, and only while ours is still the latest.
    async fn restore(&self, name: &str, theirs: &str, ours: &str) -> Result<(), AwsError> {
        const ACTION: &str = "ssm:GetParameterHistory";
        let versions = self.history(name).await?;
        let latest = versions.iter().map(ParameterHistory::version).max();
        if latest.map(|v| v.to_string()).as_deref() != Some(ours) {
            return Ok(()); // a later write is current
        }
        let Some(their) = versions.iter().find(|p| p.version().to_string() == theirs) else {
            let gone = "their version is no longer in the parameter's history";
            return Err(AwsError::new(ACTION, ErrorKind::Other, None, Some(gone)));
        };
        let kind = their
            .r#type()
            .cloned()
            .unwrap_or(ParameterType::SecureString);
        let key = (kind == ParameterType::SecureString)
            .then(|| their.key_id().map(str::to_owned))
            .flatten();
        let put = self
            .client
            .put_parameter()
            .name(name)
            .value(their.value().unwrap_or_default())
            .r#type(kind)
            .set_key_id(key)
            .set_tier(their.tier().cloned())
            .overwrite(true)
            .send()
            .await
            .map_err(|e| from_sdk("ssm:PutParameter", &e))?;
        if put.version().to_string() != next_version(ours) {
            let again = "another write landed while their value was being put back";
            return Err(AwsError::new(
                "ssm:PutParameter",
                ErrorKind::Other,
                None,
                Some(again),
            ));
        }
        Ok(())
    }

    fn writes_per_second(&self) -> usize {
        WRITES_PER_SECOND
    }

    /// The largest any parameter holds; `put` holds each to its own tier's limit.
    fn value_limit(&self) -> usize {
        ADVANCED_LIMIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overwrite_replaced_the_version_before_its_own() {
        assert_eq!(replaced_by(5), Replaced::Version("4".into()));
        assert_eq!(replaced_by(1), Replaced::Nothing);
        assert_eq!(next_version("4"), "5");
        assert_eq!(next_version("x"), "", "never equal to a real version");
    }
}
