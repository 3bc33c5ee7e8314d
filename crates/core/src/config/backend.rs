//! Airflow's own secrets-backend configuration, read as the amazon provider's backend reads
//! it: `AIRFLOW__SECRETS__BACKEND` (which backend) and `AIRFLOW__SECRETS__BACKEND_KWARGS`
//! (its arguments, the JSON of `airflow.cfg`'s `backend_kwargs`), or on Airflow 3 the
//! workers' own pair and the per-key variables (`source.rs` picks them as Airflow does). A
//! user pastes what their Airflow uses, and the function writes exactly the names Airflow
//! reads (`SecretsManagerBackend.__init__` and `SystemsManagerParameterStoreBackend.__init__`).

use crate::config::error::ConfigError;
use crate::connection::Aliases;
use crate::ids::Region;
use crate::naming::{LookupPattern, Naming};
use crate::pull::RoleArn;
use serde_json::Value;
use source::{Kwargs, USED, bad};
use std::collections::BTreeMap;

mod source;
pub use source::{BACKEND, KWARGS, MULTI_TEAM, Section, WORKERS_BACKEND, WORKERS_KWARGS};
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

/// `CONNECTIONS_PREFIX` and `CONNECTIONS_SEP` keep working; beside the kwargs they must agree.
/// `source` is the variable the kwarg came from.
fn agree(
    variable: &'static str,
    legacy: Option<String>,
    kwarg: &str,
    from_kwargs: Option<&str>,
    source: &'static str,
) -> Result<Option<String>, ConfigError> {
    match (legacy, from_kwargs) {
        (Some(old), Some(new)) if old != new => Err(bad(
            variable,
            format!(
                "{old:?} disagrees with {kwarg} {new:?} in {source}: set one, or make them agree"
            ),
        )),
        (legacy, from_kwargs) => Ok(from_kwargs.map(str::to_owned).or(legacy)),
    }
}

/// Characters Secrets Manager allows in a secret name.
fn is_secret_name_text(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
}

impl AirflowBackend {
    /// Reads the backend's settings from every variable of the environment (`vars`), so the
    /// per-key `..._KWARG__<KEY>` variables are found as Airflow finds them, by scanning.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        Self::read(&|name| vars.get(name).cloned(), &|prefix| {
            vars.range(prefix.to_owned()..)
                .take_while(|(name, _)| name.starts_with(prefix))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()
        })
    }

    /// Reads them through `lookup`, which cannot list variables: no per-key variable is seen.
    /// For tests and callers that set only whole variables; `from_vars` reads everything.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(&lookup, &|_| Vec::new())
    }

    /// `get` reads one variable, `list` every variable whose name starts with a prefix.
    /// `CONNECTIONS_PREFIX` and `CONNECTIONS_SEP` are the function's older spellings of the
    /// same two settings.
    fn read(
        get: &dyn Fn(&str) -> Option<String>,
        list: &dyn Fn(&str) -> Vec<(String, String)>,
    ) -> Result<Self, ConfigError> {
        let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let (class, kwargs) = source::select(get, list)?;
        let section = kwargs.section;
        let store = match class.as_deref().map(str::trim) {
            None | Some(SECRETS_MANAGER) => StoreKind::SecretsManager,
            Some(PARAMETER_STORE) => StoreKind::ParameterStore,
            Some(other) => {
                return Err(bad(
                    section.backend(),
                    format!(
                        "{other:?} is not an AWS secrets backend this function can write for; \
                         use {SECRETS_MANAGER} or {PARAMETER_STORE}"
                    ),
                ));
            }
        };
        // Only the JSON can say null: a per-key value is a string, even "null".
        if kwargs.values.get("connections_prefix") == Some(&Value::Null) {
            return Err(bad(
                section.kwargs(),
                "connections_prefix is null, which turns the backend's connection lookups off: \
                 Airflow reads no connection there, so there is nothing to write",
            ));
        }
        let legacy_sep = get("CONNECTIONS_SEP").filter(|v| !v.is_empty());
        let sep = match store {
            StoreKind::SecretsManager => agree(
                "CONNECTIONS_SEP",
                legacy_sep,
                "sep",
                kwargs.text("sep")?,
                kwargs.source("sep"),
            )?
            .unwrap_or_else(|| DEFAULT_SEP.to_owned()),
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
        let kwarg_prefix = kwargs
            .text("connections_prefix")?
            .map(|p| naming(p, None).prefix);
        let prefix = agree(
            "CONNECTIONS_PREFIX",
            legacy_prefix,
            "connections_prefix",
            kwarg_prefix.as_deref(),
            kwargs.source("connections_prefix"),
        )?
        .unwrap_or_else(|| match store {
            StoreKind::SecretsManager => DEFAULT_PREFIX.to_owned(),
            StoreKind::ParameterStore => DEFAULT_PARAMETER_PREFIX.to_owned(),
        });
        for (what, text, key, legacy) in [
            (
                "prefix",
                &prefix,
                "connections_prefix",
                "CONNECTIONS_PREFIX",
            ),
            ("separator", &sep, "sep", "CONNECTIONS_SEP"),
        ] {
            if !is_secret_name_text(text) {
                let variable = if kwargs.values.contains_key(key) {
                    kwargs.source(key)
                } else {
                    legacy
                };
                return Err(bad(
                    variable,
                    format!(
                        "the {what} {text:?} has characters a secret name cannot hold (allowed: \
                         letters, digits, /_+=.@-)"
                    ),
                ));
            }
        }
        let lookup_pattern = kwargs
            .text("connections_lookup_pattern")?
            .map(LookupPattern::new)
            .transpose()
            .map_err(|e| bad(kwargs.source("connections_lookup_pattern"), e))?;
        let aliases = match store {
            StoreKind::SecretsManager => extra_conn_words(&kwargs)?,
            StoreKind::ParameterStore => Aliases::from_json_only(),
        };
        let region = setting(
            get,
            &kwargs,
            SECRETS_REGION,
            "region_name",
            Region::try_from,
        )?;
        let role_arn = setting(
            get,
            &kwargs,
            SECRETS_ROLE_ARN,
            "role_arn",
            RoleArn::try_from,
        )?;
        let used: &[&str] = match store {
            StoreKind::SecretsManager => &USED,
            StoreKind::ParameterStore => &[
                "connections_prefix",
                "connections_lookup_pattern",
                "region_name",
                "role_arn",
            ],
        };
        for key in kwargs.values.keys().filter(|k| !used.contains(&k.as_str())) {
            tracing::debug!(key = %key, "backend_kwargs: not used by this backend or function");
        }
        let mut naming = naming(&prefix, lookup_pattern);
        naming.multi_team = source::multi_team(get)?;
        naming.workers_backend = section == Section::Workers;
        Ok(Self {
            store,
            naming,
            aliases,
            region,
            role_arn,
        })
    }
}

/// `extra_conn_words`: a JSON object of lists. A per-key variable gives a raw string, which
/// Airflow's backend cannot use (it calls `.items()` on it) unless empty (`"" or {}`).
fn extra_conn_words(kwargs: &Kwargs) -> Result<Aliases, ConfigError> {
    let source = kwargs.source("extra_conn_words");
    let words: BTreeMap<String, Vec<String>> = match kwargs.values.get("extra_conn_words") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::String(s)) if s.is_empty() => BTreeMap::new(),
        Some(_) if kwargs.is_per_key("extra_conn_words") => {
            return Err(bad(
                source,
                format!(
                    "a per-key value is a raw string, never JSON, and Airflow's backend cannot \
                     use a string as extra_conn_words: put it in {} instead",
                    kwargs.section.kwargs()
                ),
            ));
        }
        Some(words) => serde_json::from_value(words.clone()).map_err(|_| {
            bad(
                source,
                "extra_conn_words is not an object of lists of key names, such as \
                 {\"login\": [\"usr\"]}",
            )
        })?,
    };
    Aliases::with_extra_words(&words).map_err(|e| bad(source, e))
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
    get: &dyn Fn(&str) -> Option<String>,
    kwargs: &Kwargs,
    variable: &'static str,
    kwarg: &str,
    parse: impl Fn(String) -> Result<T, E>,
) -> Result<Option<T>, ConfigError> {
    let legacy = get(variable).filter(|v| !v.trim().is_empty());
    let from_kwargs = kwargs.text(kwarg)?;
    let source = if from_kwargs.is_some() {
        kwargs.source(kwarg)
    } else {
        variable
    };
    agree(variable, legacy, kwarg, from_kwargs, kwargs.source(kwarg))?
        .map(|value| parse(value).map_err(|e| bad(source, format!("{kwarg}: {e}"))))
        .transpose()
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_workers;
