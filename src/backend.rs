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
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<AirflowBackend, ConfigError> {
        AirflowBackend::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    fn kwargs(json: &str) -> Result<AirflowBackend, ConfigError> {
        read(&[(KWARGS, json)])
    }

    #[test]
    fn defaults_are_the_backends_own() {
        let b = read(&[]).unwrap();
        assert_eq!(
            (b.naming.prefix.as_str(), b.naming.sep.as_str()),
            ("airflow/connections", "/")
        );
        assert!(b.region.is_none() && b.role_arn.is_none() && b.naming.lookup.is_none());
        assert_eq!(read(&[(BACKEND, SECRETS_MANAGER)]).unwrap(), b);
    }

    #[test]
    fn backend_kwargs_are_read_as_airflow_reads_them() {
        let b = kwargs(
            r#"{"connections_prefix": "platform/conns_", "sep": "_", "connections_lookup_pattern": "^ecr",
                "extra_conn_words": {"user": ["usr"]}, "region_name": "eu-west-1",
                "role_arn": "arn:aws:iam::123456789012:role/airflow-secrets",
                "variables_prefix": null, "profile_name": "x", "endpoint_url": "http://h"}"#,
        )
        .unwrap();
        assert_eq!(b.naming.prefix, "platform/conns", "rstrip(sep)");
        assert_eq!(b.naming.sep, "_");
        assert_eq!(b.naming.lookup.map(|p| p.source).as_deref(), Some("^ecr"));
        assert!(b.aliases.login.contains(&"usr".to_owned()));
        assert_eq!(
            b.region.map(|r| r.to_string()).as_deref(),
            Some("eu-west-1")
        );
        assert!(b.role_arn.is_some());
        assert_eq!(
            kwargs(r#"{"connections_prefix": ""}"#)
                .unwrap()
                .naming
                .prefix,
            "",
            "no prefix"
        );
    }

    #[test]
    fn parameter_store_is_read_as_its_backend_reads_it() {
        let b = read(&[(BACKEND, PARAMETER_STORE)]).unwrap();
        assert_eq!(b.store, StoreKind::ParameterStore);
        assert_eq!(b.naming.prefix, "/airflow/connections", "its own default");
        assert_eq!(b.aliases, Aliases::from_json_only(), "no key aliases");
        // `sep` and `extra_conn_words` are not its arguments: Airflow ignores them, and so
        // does the function, so the names and keys stay the ones Airflow reads.
        let b = read(&[
            (BACKEND, PARAMETER_STORE),
            (
                KWARGS,
                r#"{"connections_prefix": "platform/conns/", "sep": "_",
                    "extra_conn_words": {"login": ["usr"]}}"#,
            ),
            ("CONNECTIONS_PREFIX", "/platform/conns"),
        ])
        .unwrap();
        assert_eq!(
            (b.naming.prefix.as_str(), b.naming.sep.as_str()),
            ("/platform/conns", "/")
        );
        assert_eq!(b.aliases, Aliases::from_json_only());
        assert!(read(&[(BACKEND, PARAMETER_STORE), ("CONNECTIONS_SEP", "/")]).is_ok());
    }

    #[test]
    fn what_cannot_work_is_refused_naming_the_setting() {
        let cases = [
            (
                kwargs(r#"{"connections_prefix": null}"#),
                KWARGS,
                "turns the backend's connection lookups off",
            ),
            (kwargs("not json"), KWARGS, "not a JSON object"),
            (kwargs(r#"{"sep": 1}"#), KWARGS, "sep is 1, not text"),
            (
                kwargs(r#"{"connections_lookup_pattern": "(?<=x)"}"#),
                KWARGS,
                "not a regular expression",
            ),
            (
                kwargs(r#"{"extra_conn_words": {"passwd": ["p"]}}"#),
                KWARGS,
                "\"passwd\"",
            ),
            (
                kwargs(r#"{"region_name": "nowhere"}"#),
                KWARGS,
                "region_name",
            ),
            (kwargs(r#"{"role_arn": "admin"}"#), KWARGS, "role_arn"),
            (
                read(&[(BACKEND, PARAMETER_STORE), ("CONNECTIONS_SEP", "_")]),
                "CONNECTIONS_SEP",
                "always separates with \"/\"",
            ),
            (
                read(&[
                    ("SECRETS_REGION", "eu-west-1"),
                    (KWARGS, r#"{"region_name": "us-east-1"}"#),
                ]),
                "SECRETS_REGION",
                "\"eu-west-1\" disagrees with region_name \"us-east-1\"",
            ),
            (
                read(&[
                    ("SECRETS_ROLE_ARN", "arn:aws:iam::123456789012:role/a"),
                    (
                        KWARGS,
                        r#"{"role_arn": "arn:aws:iam::123456789012:role/b"}"#,
                    ),
                ]),
                "SECRETS_ROLE_ARN",
                "disagrees with role_arn",
            ),
            (
                read(&[("SECRETS_REGION", "nowhere")]),
                "SECRETS_REGION",
                "region_name",
            ),
            (
                read(&[(
                    BACKEND,
                    "airflow.secrets.local_filesystem.LocalFilesystemBackend",
                )]),
                BACKEND,
                "not an AWS secrets backend",
            ),
            (
                read(&[
                    ("CONNECTIONS_PREFIX", "a/b"),
                    (KWARGS, r#"{"connections_prefix": "c/d"}"#),
                ]),
                "CONNECTIONS_PREFIX",
                "\"a/b\" disagrees with connections_prefix \"c/d\"",
            ),
            (
                read(&[("CONNECTIONS_SEP", "_"), (KWARGS, r#"{"sep": "/"}"#)]),
                "CONNECTIONS_SEP",
                "disagrees with sep",
            ),
        ];
        for (result, variable, says) in cases {
            let err = result.unwrap_err();
            assert_eq!(err.variable, variable, "{err}");
            assert!(err.problem.contains(says), "{err}");
        }
        // The template's IAM scope alone is the setting; agreeing with the kwargs is fine.
        let scoped = read(&[
            ("SECRETS_REGION", "eu-west-1"),
            ("SECRETS_ROLE_ARN", "arn:aws:iam::123456789012:role/a"),
        ])
        .unwrap();
        assert_eq!(
            scoped.region.map(|r| r.to_string()).as_deref(),
            Some("eu-west-1")
        );
        assert!(scoped.role_arn.is_some());
        assert!(
            read(&[
                ("SECRETS_REGION", "eu-west-1"),
                (KWARGS, r#"{"region_name": "eu-west-1"}"#)
            ])
            .is_ok()
        );
        // The same prefix spelled with its separator agrees.
        assert!(
            read(&[
                ("CONNECTIONS_PREFIX", "a/b/"),
                (KWARGS, r#"{"connections_prefix": "a/b"}"#)
            ])
            .is_ok()
        );
    }
}
