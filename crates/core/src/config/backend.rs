//! Airflow's own secrets-backend configuration, read as the amazon provider's backend reads
//! it: `AIRFLOW__SECRETS__BACKEND` (which backend) and `AIRFLOW__SECRETS__BACKEND_KWARGS`
//! (its arguments, the JSON of `airflow.cfg`'s `backend_kwargs`), or on Airflow 3 the
//! workers' own pair and the per-key variables (`source.rs` picks them as Airflow does). A
//! user pastes what their Airflow uses, and the function writes exactly the names Airflow
//! reads (`SecretsManagerBackend.__init__` and `SystemsManagerParameterStoreBackend.__init__`).
//! The deploy template passes what its IAM grants are scoped to as the per-key variables of
//! the same kwargs, so each setting has one spelling; where the JSON sets a key the function
//! reads to something else, the function refuses (`Kwargs::agree`).

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
/// The Secrets Manager backend's `connections_prefix` when none is set.
pub const DEFAULT_PREFIX: &str = "airflow/connections";
const DEFAULT_PARAMETER_PREFIX: &str = "/airflow/connections";
/// The Secrets Manager backend's `sep` when none is set; Parameter Store's is always this.
pub const DEFAULT_SEP: &str = "/";
/// The function's own spellings of four kwargs in earlier versions, and the kwarg each was:
/// set, they are refused rather than ignored, as ignoring one would write elsewhere.
const RETIRED: [(&str, &str); 4] = [
    ("CONNECTIONS_PREFIX", "connections_prefix"),
    ("CONNECTIONS_SEP", "sep"),
    ("SECRETS_REGION", "region_name"),
    ("SECRETS_ROLE_ARN", "role_arn"),
];

/// Which AWS store Airflow's backend reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// AWS Secrets Manager (`SecretsManagerBackend`), also when no backend is set.
    SecretsManager,
    /// AWS Systems Manager Parameter Store (`SystemsManagerParameterStoreBackend`).
    ParameterStore,
}

/// The backend's settings that decide where and how connections are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AirflowBackend {
    /// The store the backend reads, so the one the function writes to.
    pub store: StoreKind,
    /// How the backend names a connection's value: prefix, separator, lookup pattern, teams.
    pub naming: Naming,
    /// The JSON keys the backend reads for each connection field.
    pub aliases: Aliases,
    /// `region_name`: where Airflow reads the secrets, when not the function's region.
    pub region: Option<Region>,
    /// `role_arn`: the role Airflow assumes to read them; the function writes as it.
    pub role_arn: Option<RoleArn>,
    /// The variables `region` and `role_arn` came from (a per-key variable or the JSON), to
    /// name when one cannot work.
    pub region_from: &'static str,
    /// The variable `role_arn` came from, as `region_from` for `region`.
    pub role_arn_from: &'static str,
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

    /// Reads them through `lookup`, which cannot list variables: of the per-key variables,
    /// only those of the keys the function reads, spelled upper-case, are seen. For tests and
    /// callers without an environment to scan; `from_vars` reads everything.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::read(&lookup, &|prefix| {
            [Section::Secrets, Section::Workers]
                .into_iter()
                .filter(|section| section.per_key_prefix() == prefix)
                .flat_map(Section::per_key_variables)
                .filter_map(|name| Some((name.to_owned(), lookup(name)?)))
                .collect()
        })
    }

    /// `get` reads one variable, `list` every variable whose name starts with a prefix.
    fn read(
        get: &dyn Fn(&str) -> Option<String>,
        list: &dyn Fn(&str) -> Vec<(String, String)>,
    ) -> Result<Self, ConfigError> {
        for (retired, key) in RETIRED {
            if get(retired).is_some() {
                return Err(bad(
                    retired,
                    format!(
                        "no longer read: one setting has one spelling now, Airflow's own; unset \
                         {retired} and set {key} in {KWARGS}, or {}{}, instead (the deploy \
                         template passes the latter)",
                        Section::Secrets.per_key_prefix(),
                        key.to_uppercase()
                    ),
                ));
            }
        }
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
        let used: &[&str] = match store {
            StoreKind::SecretsManager => &USED,
            StoreKind::ParameterStore => &[
                "connections_prefix",
                "connections_lookup_pattern",
                "region_name",
                "role_arn",
            ],
        };
        // The Parameter Store backend takes no `sep`: its separator is always `/`.
        let sep = match store {
            StoreKind::SecretsManager => kwargs.text("sep")?.unwrap_or(DEFAULT_SEP).to_owned(),
            StoreKind::ParameterStore => DEFAULT_SEP.to_owned(),
        };
        let naming = |prefix: &str, lookup: Option<LookupPattern>| match store {
            StoreKind::SecretsManager => Naming::new(prefix, &sep, lookup),
            StoreKind::ParameterStore => Naming::parameter_store(prefix, lookup),
        };
        for key in used {
            // The same prefix spelled with or without its trailing separator is one prefix.
            kwargs.agree(key, |json, per_key| {
                json == per_key
                    || (*key == "connections_prefix"
                        && naming(json, None).prefix == naming(per_key, None).prefix)
            })?;
        }
        // An empty prefix is a setting of its own (no prefix), so it is not "unset".
        let prefix = match kwargs.text("connections_prefix")? {
            Some(prefix) => naming(prefix, None).prefix,
            None => match store {
                StoreKind::SecretsManager => DEFAULT_PREFIX.to_owned(),
                StoreKind::ParameterStore => DEFAULT_PARAMETER_PREFIX.to_owned(),
            },
        };
        for (what, text, key) in [
            ("prefix", &prefix, "connections_prefix"),
            ("separator", &sep, "sep"),
        ] {
            if !is_secret_name_text(text) {
                return Err(bad(
                    kwargs.source(key),
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
        let region = setting(&kwargs, "region_name", Region::try_from)?;
        let role_arn = setting(&kwargs, "role_arn", RoleArn::try_from)?;
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
            region_from: kwargs.source("region_name"),
            role_arn_from: kwargs.source("role_arn"),
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
                self.region_from,
                format!(
                    "region_name {region} is in the {} partition, {fix}",
                    region.partition()
                ),
            ));
        }
        if let Some(role) = &self.role_arn
            && role.partition() != function_partition
        {
            return Err(bad(
                self.role_arn_from,
                format!(
                    "role_arn {role} is in the {} partition, {fix}",
                    role.partition()
                ),
            ));
        }
        Ok(())
    }
}

/// A kwarg parsed as `parse` parses it, an error naming the variable it came from.
fn setting<T, E: std::fmt::Display>(
    kwargs: &Kwargs,
    kwarg: &str,
    parse: impl Fn(String) -> Result<T, E>,
) -> Result<Option<T>, ConfigError> {
    kwargs
        .text(kwarg)?
        .map(|value| {
            parse(value.to_owned()).map_err(|e| bad(kwargs.source(kwarg), format!("{kwarg}: {e}")))
        })
        .transpose()
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_workers;
