//! Airflow's own secrets-backend configuration, read as the amazon provider's backend reads
//! it: `AIRFLOW__SECRETS__BACKEND` (which backend) and `AIRFLOW__SECRETS__BACKEND_KWARGS`
//! (its arguments, the JSON of `airflow.cfg`'s `backend_kwargs`). A user pastes what their
//! Airflow uses, and the function writes exactly the names Airflow reads
//! (`SecretsManagerBackend.__init__`, `_get_secret`, `build_path`).

use crate::config::ConfigError;
use crate::connection::Aliases;
use crate::ids::{ConnId, Region};
use crate::pull::RoleArn;
use regex_lite::Regex;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

pub const BACKEND: &str = "AIRFLOW__SECRETS__BACKEND";
pub const KWARGS: &str = "AIRFLOW__SECRETS__BACKEND_KWARGS";
const SECRETS_MANAGER: &str =
    "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend";
const PARAMETER_STORE: &str =
    "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend";
pub const DEFAULT_PREFIX: &str = "airflow/connections";
pub const DEFAULT_SEP: &str = "/";
/// Airflow 3's multi-team mode: `<prefix><sep><team>--<conn_id>` is tried first.
pub const TEAM_SEP: &str = "--";

/// `connections_lookup_pattern`: a conn id Airflow would never look up is refused.
#[derive(Clone)]
pub struct LookupPattern {
    pub source: String,
    regex: Regex,
}

impl LookupPattern {
    /// Python's `re.match(pattern, conn_id, re.IGNORECASE)`: anchored at the start only.
    fn new(source: &str) -> Result<Self, String> {
        Regex::new(&format!("(?i)^(?:{source})"))
            .map(|regex| Self { source: source.to_owned(), regex })
            .map_err(|e| format!("connections_lookup_pattern {source:?} is not a regular expression this function can read: {e}"))
    }

    pub fn matches(&self, conn_id: &ConnId) -> bool {
        self.regex.is_match(conn_id.as_str())
    }
}

impl fmt::Debug for LookupPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl PartialEq for LookupPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for LookupPattern {}

/// How Airflow names a connection's secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// As the backend keeps it: trailing separator characters stripped; `""` for none.
    pub prefix: String,
    pub sep: String,
    pub lookup: Option<LookupPattern>,
}

impl Naming {
    /// `prefix.rstrip(sep)` when a prefix is given (Python's `rstrip` takes a set of
    /// characters, hence the closure).
    pub fn new(prefix: &str, sep: &str, lookup: Option<LookupPattern>) -> Self {
        let prefix = prefix.trim_end_matches(|c| sep.contains(c)).to_owned();
        Self {
            prefix,
            sep: sep.to_owned(),
            lookup,
        }
    }

    /// The name Airflow looks up: `<prefix><sep><conn_id>`, or the conn id alone without a
    /// prefix; for a team's task `<prefix><sep><team>--<conn_id>` first.
    pub fn secret_name(&self, conn_id: &ConnId, team: Option<&str>) -> String {
        let id = match team {
            Some(team) => format!("{team}{TEAM_SEP}{conn_id}"),
            None => conn_id.to_string(),
        };
        if self.prefix.is_empty() {
            id
        } else {
            format!("{}{}{id}", self.prefix, self.sep)
        }
    }
}

/// The backend's settings that decide where and how connections are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AirflowBackend {
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
        match var(BACKEND).as_deref().map(str::trim) {
            None | Some(SECRETS_MANAGER) => {}
            Some(PARAMETER_STORE) => {
                return Err(bad(
                    BACKEND,
                    "the Parameter Store backend is not supported yet: this function writes \
                     Secrets Manager secrets, which that backend never reads",
                ));
            }
            Some(other) => {
                return Err(bad(
                    BACKEND,
                    format!(
                        "{other:?} is not an AWS secrets backend this function can write for; use {SECRETS_MANAGER}"
                    ),
                ));
            }
        }
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
        let sep = agree(
            "CONNECTIONS_SEP",
            lookup("CONNECTIONS_SEP").filter(|v| !v.is_empty()),
            "sep",
            text(&kwargs, "sep")?,
        )?
        .unwrap_or_else(|| DEFAULT_SEP.to_owned());
        // An empty prefix is a setting of its own (no prefix), so it is not "unset".
        let legacy_prefix = lookup("CONNECTIONS_PREFIX")
            .filter(|v| !v.trim().is_empty())
            .map(|p| Naming::new(&p, &sep, None).prefix);
        let kwarg_prefix =
            text(&kwargs, "connections_prefix")?.map(|p| Naming::new(p, &sep, None).prefix);
        let prefix = agree(
            "CONNECTIONS_PREFIX",
            legacy_prefix,
            "connections_prefix",
            kwarg_prefix.as_deref(),
        )?
        .unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
        let lookup_pattern = text(&kwargs, "connections_lookup_pattern")?
            .map(LookupPattern::new)
            .transpose()
            .map_err(|e| bad(KWARGS, e))?;
        let extra_words: BTreeMap<String, Vec<String>> = match kwargs.get("extra_conn_words") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(words) => serde_json::from_value(words.clone()).map_err(|_| {
                bad(KWARGS, "extra_conn_words is not an object of lists of key names, such as {\"login\": [\"usr\"]}")
            })?,
        };
        let aliases = Aliases::with_extra_words(&extra_words).map_err(|e| bad(KWARGS, e))?;
        let region = text(&kwargs, "region_name")?
            .map(|r| Region::try_from(r.to_owned()))
            .transpose()
            .map_err(|e| bad(KWARGS, format!("region_name: {e}")))?;
        let role_arn = text(&kwargs, "role_arn")?
            .map(|r| RoleArn::try_from(r.to_owned()))
            .transpose()
            .map_err(|e| bad(KWARGS, format!("role_arn: {e}")))?;
        const USED: &[&str] = &[
            "connections_prefix",
            "sep",
            "connections_lookup_pattern",
            "extra_conn_words",
            "region_name",
            "role_arn",
        ];
        for key in kwargs.keys().filter(|k| !USED.contains(&k.as_str())) {
            tracing::debug!(key = %key, "backend_kwargs: not used by this function");
        }
        Ok(Self {
            naming: Naming::new(&prefix, &sep, lookup_pattern),
            aliases,
            region,
            role_arn,
        })
    }
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
                read(&[(BACKEND, PARAMETER_STORE)]),
                BACKEND,
                "not supported yet",
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
