//! Airflow's own secrets-backend configuration, read as the amazon provider's backend reads
//! it: `AIRFLOW__SECRETS__BACKEND` (which backend) and `AIRFLOW__SECRETS__BACKEND_KWARGS`
//! (its arguments, the JSON of `airflow.cfg`'s `backend_kwargs`). A user pastes what their
//! Airflow uses, and the function writes exactly the names Airflow reads
//! (`SecretsManagerBackend.__init__` and `SystemsManagerParameterStoreBackend.__init__`).

use crate::config::ConfigError;
use crate::connection::Aliases;
use crate::ids::Region;
use crate::naming::{LookupPattern, Naming};
use crate::pull::RoleArn;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const BACKEND: &str = "AIRFLOW__SECRETS__BACKEND";
pub const KWARGS: &str = "AIRFLOW__SECRETS__BACKEND_KWARGS";
const SECRETS_MANAGER: &str =
    "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend";
const PARAMETER_STORE: &str =
    "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend";
pub const DEFAULT_PREFIX: &str = "airflow/connections";
const DEFAULT_PARAMETER_PREFIX: &str = "/airflow/connections";
pub const DEFAULT_SEP: &str = "/";
/// What the template scoped its IAM statements to: beside the kwargs they must agree.
const SECRETS_REGION: &str = "SECRETS_REGION";
const SECRETS_ROLE_ARN: &str = "SECRETS_ROLE_ARN";

/// Which AWS store Airflow's backend reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    SecretsManager,
    ParameterStore,
}

/// The backend's settings that decide where and how connections are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AirflowBackend {
    pub store: StoreKind,
    pub naming: Naming,
    pub aliases: Aliases,
    /// `region_name`: where Airflow reads the secrets, when not the function's region.
    pub region: Option<Region>,
    /// `role_arn`: the role Airflow assumes to read them; the function writes as it.
    pub role_arn: Option<RoleArn>,
}

fn bad(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

fn text<'a>(kwargs: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ConfigError> {
    match kwargs.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(bad(KWARGS, format!("{key} is {other}, not text"))),
    }
}

/// `CONNECTIONS_PREFIX` and `CONNECTIONS_SEP` keep working; beside the kwargs they must agree.
fn agree(
    variable: &'static str,
    legacy: Option<String>,
    kwarg: &str,
    from_kwargs: Option<&str>,
) -> Result<Option<String>, ConfigError> {
    match (legacy, from_kwargs) {
        (Some(old), Some(new)) if old != new => Err(bad(
            variable,
            format!(
                "{old:?} disagrees with {kwarg} {new:?} in {KWARGS}: set one, or make them agree"
            ),
        )),
        (legacy, from_kwargs) => Ok(from_kwargs.map(str::to_owned).or(legacy)),
    }
}

impl AirflowBackend {
    /// Reads the backend's settings through `lookup`; `CONNECTIONS_PREFIX` and
    /// `CONNECTIONS_SEP` are the function's older spellings of the same two settings.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let store = match var(BACKEND).as_deref().map(str::trim) {
            None | Some(SECRETS_MANAGER) => StoreKind::SecretsManager,
            Some(PARAMETER_STORE) => StoreKind::ParameterStore,
            Some(other) => {
                return Err(bad(
                    BACKEND,
                    format!(
                        "{other:?} is not an AWS secrets backend this function can write for; \
                         use {SECRETS_MANAGER} or {PARAMETER_STORE}"
                    ),
                ));
            }
        };
        let kwargs: Map<String, Value> = match var(KWARGS) {
            None => Map::new(),
            Some(raw) => serde_json::from_str(&raw).map_err(|e| {
                bad(
                    KWARGS,
                    format!("not a JSON object as in airflow.cfg's backend_kwargs: {e}"),
                )
            })?,
        };
        if kwargs.get("connections_prefix") == Some(&Value::Null) {
            return Err(bad(
                KWARGS,
                "connections_prefix is null, which turns the backend's connection lookups off: \
                 Airflow reads no connection there, so there is nothing to write",
            ));
        }
        let legacy_sep = lookup("CONNECTIONS_SEP").filter(|v| !v.is_empty());
        let sep = match store {
            StoreKind::SecretsManager => {
                agree("CONNECTIONS_SEP", legacy_sep, "sep", text(&kwargs, "sep")?)?
                    .unwrap_or_else(|| DEFAULT_SEP.to_owned())
            }
            // The Parameter Store backend takes no `sep`: its separator is always `/`.
            StoreKind::ParameterStore => match legacy_sep {
                Some(sep) if sep != DEFAULT_SEP => {
                    return Err(bad(
                        "CONNECTIONS_SEP",
                        format!(
                            "{sep:?}: the Parameter Store backend always separates with \"/\"; \
                             unset CONNECTIONS_SEP"
                        ),
                    ));
                }
                _ => DEFAULT_SEP.to_owned(),
            },
        };
        let naming = |prefix: &str, lookup: Option<LookupPattern>| match store {
            StoreKind::SecretsManager => Naming::new(prefix, &sep, lookup),
            StoreKind::ParameterStore => Naming::parameter_store(prefix, lookup),
        };
        // An empty prefix is a setting of its own (no prefix), so it is not "unset".
        let legacy_prefix = var("CONNECTIONS_PREFIX").map(|p| naming(&p, None).prefix);
        let kwarg_prefix = text(&kwargs, "connections_prefix")?.map(|p| naming(p, None).prefix);
        let prefix = agree(
            "CONNECTIONS_PREFIX",
            legacy_prefix,
            "connections_prefix",
            kwarg_prefix.as_deref(),
        )?
        .unwrap_or_else(|| match store {
            StoreKind::SecretsManager => DEFAULT_PREFIX.to_owned(),
            StoreKind::ParameterStore => DEFAULT_PARAMETER_PREFIX.to_owned(),
        });
        let lookup_pattern = text(&kwargs, "connections_lookup_pattern")?
            .map(LookupPattern::new)
            .transpose()
            .map_err(|e| bad(KWARGS, e))?;
        let aliases = match store {
            StoreKind::SecretsManager => {
                let words: BTreeMap<String, Vec<String>> = match kwargs.get("extra_conn_words") {
                    None | Some(Value::Null) => BTreeMap::new(),
                    Some(words) => serde_json::from_value(words.clone()).map_err(|_| {
                        bad(KWARGS, "extra_conn_words is not an object of lists of key names, such as {\"login\": [\"usr\"]}")
                    })?,
                };
                Aliases::with_extra_words(&words).map_err(|e| bad(KWARGS, e))?
            }
            StoreKind::ParameterStore => Aliases::from_json_only(),
        };
        let region = setting(
            &lookup,
            &kwargs,
            SECRETS_REGION,
            "region_name",
            Region::try_from,
        )?;
        let role_arn = setting(
            &lookup,
            &kwargs,
            SECRETS_ROLE_ARN,
            "role_arn",
            RoleArn::try_from,
        )?;
        let used: &[&str] = match store {
            StoreKind::SecretsManager => &[
                "connections_prefix",
                "sep",
                "connections_lookup_pattern",
                "extra_conn_words",
                "region_name",
                "role_arn",
            ],
            StoreKind::ParameterStore => &[
                "connections_prefix",
                "connections_lookup_pattern",
                "region_name",
                "role_arn",
            ],
        };
        for key in kwargs.keys().filter(|k| !used.contains(&k.as_str())) {
            tracing::debug!(key = %key, "backend_kwargs: not used by this backend or function");
        }
        Ok(Self {
            store,
            naming: naming(&prefix, lookup_pattern),
            aliases,
            region,
            role_arn,
        })
    }
}

impl AirflowBackend {
    /// The secrets' `region_name` and `role_arn` must be in the function's partition, as a
    /// connection's region and `pull_role_arn` must (`target.rs`): its credentials are only
    /// valid there, so anything else fails every write, later and less clearly.
    pub fn check_partition(&self, function_region: &Region) -> Result<(), ConfigError> {
        let function_partition = function_region.partition();
        let fix = format!(
            "but the function runs in {function_region} ({function_partition}), and credentials \
             never work across partitions: deploy the function in that partition"
        );
        if let Some(region) = &self.region
            && region.partition() != function_partition
        {
            return Err(bad(
                SECRETS_REGION,
                format!(
                    "region_name {region} (SECRETS_REGION or region_name in {KWARGS}) is in the {} \
                     partition, {fix}",
                    region.partition()
                ),
            ));
        }
        if let Some(role) = &self.role_arn
            && role.partition() != function_partition
        {
            return Err(bad(
                SECRETS_ROLE_ARN,
                format!(
                    "role_arn {role} (SECRETS_ROLE_ARN or role_arn in {KWARGS}) is in the {} \
                     partition, {fix}",
                    role.partition()
                ),
            ));
        }
        Ok(())
    }
}

/// A kwarg the template also passes as its own variable (what it scoped IAM to): the two
/// must agree, and either alone is the setting.
fn setting<T, E: std::fmt::Display>(
    lookup: &impl Fn(&str) -> Option<String>,
    kwargs: &Map<String, Value>,
    variable: &'static str,
    kwarg: &str,
    parse: impl Fn(String) -> Result<T, E>,
) -> Result<Option<T>, ConfigError> {
    let legacy = lookup(variable).filter(|v| !v.trim().is_empty());
    let from_kwargs = text(kwargs, kwarg)?;
    let source = if from_kwargs.is_some() {
        KWARGS
    } else {
        variable
    };
    agree(variable, legacy, kwarg, from_kwargs)?
        .map(|value| parse(value).map_err(|e| bad(source, format!("{kwarg}: {e}"))))
        .transpose()
}

#[cfg(test)]
mod tests;
