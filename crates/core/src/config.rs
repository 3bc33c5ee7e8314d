//! The function's configuration, read once from the environment the deploy template sets.

pub mod backend;
mod error;

use crate::connection::SecretFormat;
use crate::schedule::{self, Schedule};
use crate::strict_json;
use crate::target::{ConnId, TargetSpec};
use backend::AirflowBackend;
pub use error::ConfigError;
use std::collections::BTreeMap;

/// The function's configuration, read once per process from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The connections a scheduled run refreshes.
    pub connections: Vec<TargetSpec>,
    /// Where and how Airflow's backend reads connections: names, key aliases, region, role.
    pub backend: AirflowBackend,
    /// The format of secrets this function creates.
    pub format: SecretFormat,
    /// `KMS_KEY_ID`: the key for values this function creates; `None` for the store's default.
    pub kms_key_id: Option<String>,
    /// The schedule that runs the function, when known: a login that would expire before
    /// the next run fails its connection.
    pub schedule: Option<Schedule>,
    /// `CHECK_LOGIN`: log in to each registry with the written login, as Docker does, for
    /// every connection whose entry does not say (`check_login`).
    pub check_login: bool,
}

impl Settings {
    /// Every variable of the process environment (a name or value that is not UTF-8 counts
    /// as unset), so Airflow's per-key `..._KWARG__<KEY>` variables are found by scanning.
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars = std::env::vars_os()
            .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        Self::from_vars(&vars)
    }

    /// Reads settings from a snapshot of the environment, every variable in `vars`.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        Self::read(
            |name| vars.get(name).cloned(),
            AirflowBackend::from_vars(vars),
        )
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment. A
    /// lookup cannot list variables, so Airflow's per-key kwargs are not seen: use `from_vars`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let backend = AirflowBackend::from_lookup(&lookup);
        Self::read(lookup, backend)
    }

    fn read(
        lookup: impl Fn(&str) -> Option<String>,
        backend: Result<AirflowBackend, ConfigError>,
    ) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let connections = match var("CONNECTIONS") {
            Some(raw) => parse_connections("CONNECTIONS", &raw)?,
            None => Vec::new(),
        };
        let backend = backend?;
        let format = match var("SECRET_FORMAT") {
            Some(raw) => raw
                .parse()
                .map_err(|problem| ConfigError::new("SECRET_FORMAT", problem))?,
            None => SecretFormat::default(),
        };
        let schedule = var(schedule::VARIABLE)
            .map(|raw| raw.parse())
            .transpose()
            .map_err(|problem| ConfigError::new(schedule::VARIABLE, problem))?;
        // `true` or `false` in any case: what the template's AllowedValues pass.
        let check_login = var("CHECK_LOGIN")
            .map(|raw| {
                let raw = raw.trim();
                raw.to_ascii_lowercase().parse::<bool>().map_err(|_| {
                    ConfigError::new(
                        "CHECK_LOGIN",
                        format!("{raw:?} is not \"true\" or \"false\""),
                    )
                })
            })
            .transpose()?
            .unwrap_or(false);
        Ok(Self {
            connections,
            backend,
            format,
            schedule,
            check_login,
            kms_key_id: var("KMS_KEY_ID")
                .map(|v| v.trim().to_owned())
                .map(|id| {
                    if is_kms_key_id(&id) {
                        Ok(id)
                    } else {
                        Err(ConfigError::new(
                            "KMS_KEY_ID",
                            format!(
                                "{id:?} is not a KMS key: use a key id (1234abcd-12ab-34cd-56ef-1234567890ab \
                                 or mrk-...), a key ARN, an alias name (alias/...) or an alias ARN"
                            ),
                        ))
                    }
                })
                .transpose()?,
        })
    }
}

/// The four ways to name a KMS key (AWS KMS API Reference, `KeyId` in `DescribeKey`).
fn is_kms_key_id(id: &str) -> bool {
    let is_hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let is_key = |s: &str| {
        let groups: Vec<&str> = s.split('-').collect();
        let uuid = groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(g, n)| is_hex(g, n));
        uuid || s.strip_prefix("mrk-").is_some_and(|h| is_hex(h, 32))
    };
    let is_alias = |s: &str| {
        s.strip_prefix("alias/").is_some_and(|name| {
            !name.is_empty()
                && name.len() <= 250
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
        })
    };
    if let Some(arn) = id.strip_prefix("arn:") {
        // arn:<partition>:kms:<region>:<account>:key/<id> or ...:alias/<name>
        let parts: Vec<&str> = arn.splitn(5, ':').collect();
        let [partition, service, region, account, resource] = parts[..] else {
            return false;
        };
        return partition.starts_with("aws")
            && service == "kms"
            && crate::partition::is_region_name(region)
            && crate::registry::is_account_id(account)
            && (resource.strip_prefix("key/").is_some_and(is_key) || is_alias(resource));
    }
    is_key(id) || is_alias(id)
}

/// `CONNECTIONS` (or the CLI's `--connections`, named by `source`) is either `a,b,c` or a
/// JSON array of objects with `TargetSpec::keys()`.
pub fn parse_connections(source: &'static str, raw: &str) -> Result<Vec<TargetSpec>, ConfigError> {
    let raw = raw.trim();
    if raw.starts_with('[') {
        // Read as strictly as an event: a key given twice or as null is refused.
        let bad = |e: String| {
            ConfigError::new(
                source,
                format!(
                    "not a valid JSON array of {} objects: {e}",
                    TargetSpec::keys_text()
                ),
            )
        };
        let value = strict_json::parse(raw).map_err(bad)?;
        strict_json::no_nulls(&value, source).map_err(bad)?;
        return serde_json::from_value(value).map_err(|e| bad(e.to_string()));
    }
    raw.split(',')
        .map(str::trim)
        .map(|id| {
            ConnId::try_from(id.to_owned())
                .map(TargetSpec::new)
                .map_err(|e| ConfigError::new(source, e.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{Region, Registry};
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_match_the_airflow_backend() {
        let s = settings(&[("CONNECTIONS", "docker_ecr")]).unwrap();
        assert_eq!(s.backend.naming.prefix, "airflow/connections");
        assert_eq!(s.backend.naming.sep, "/");
        assert_eq!(s.format, SecretFormat::Json);
        assert_eq!(s.kms_key_id, None);
        assert_eq!(s.schedule, None);
        assert!(!s.check_login);
        assert_eq!(s.connections.len(), 1);
    }

    #[test]
    fn check_login_is_true_or_false_and_nothing_else() {
        assert!(settings(&[("CHECK_LOGIN", "true")]).unwrap().check_login);
        assert!(settings(&[("CHECK_LOGIN", " TRUE ")]).unwrap().check_login);
        assert!(!settings(&[("CHECK_LOGIN", "false")]).unwrap().check_login);
        for bad in ["yes", "1", "on"] {
            let err = settings(&[("CHECK_LOGIN", bad)]).unwrap_err();
            assert_eq!(err.variable, "CHECK_LOGIN");
            assert!(
                err.problem.contains("is not \"true\" or \"false\""),
                "{err}"
            );
        }
        let s = settings(&[(
            "CONNECTIONS",
            r#"[{"conn_id":"a","check_login":true},{"conn_id":"b"}]"#,
        )])
        .unwrap();
        assert_eq!(s.connections[0].check_login, Some(true));
        assert_eq!(s.connections[1].check_login, None);
    }

    #[test]
    fn comma_list_and_json_array_are_both_accepted() {
        let s = settings(&[("CONNECTIONS", " a, b ,c ")]).unwrap();
        let ids: Vec<_> = s
            .connections
            .iter()
            .map(|c| c.conn_id.to_string())
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);

        let s = settings(&[(
            "CONNECTIONS",
            r#"[{"conn_id":"ecr_eu","region":"eu-west-1","registry":"210987654321"},{"conn_id":"own"}]"#,
        )])
        .unwrap();
        assert_eq!(
            s.connections[0].region,
            Some(Region::try_from("eu-west-1".to_owned()).unwrap())
        );
        assert_eq!(
            s.connections[0].registry,
            Some(Registry::Account("210987654321".into()))
        );
        assert_eq!(s.connections[1].region, None);
    }

    #[test]
    fn invalid_values_name_the_variable_and_the_problem() {
        let err = settings(&[("CONNECTIONS", "a,,b")]).unwrap_err();
        assert_eq!(err.variable, "CONNECTIONS");
        assert!(err.to_string().contains("invalid conn_id \"\""), "{err}");

        let err = settings(&[("CONNECTIONS", r#"[{"conn_id":"a","region":"mars"}]"#)]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid configuration: CONNECTIONS:"),
            "{err}"
        );
        assert!(err.to_string().contains("invalid region \"mars\""), "{err}");

        let err = settings(&[("SECRET_FORMAT", "yaml")]).unwrap_err();
        assert_eq!(err.variable, "SECRET_FORMAT");

        let err = settings(&[("SCHEDULE_EXPRESSION", "cron(0 */6 * * ? *)")]).unwrap_err();
        assert_eq!(err.variable, "SCHEDULE_EXPRESSION");
        assert!(err.to_string().contains("not a rate expression"), "{err}");
        let s = settings(&[("SCHEDULE_EXPRESSION", "rate(6 hours)")]).unwrap();
        assert_eq!(
            s.schedule.map(|s| s.period),
            Some(std::time::Duration::from_secs(21_600))
        );

        // The template passes its prefix and separator as Airflow's per-key variables.
        let prefix = "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX";
        let err = settings(&[(prefix, "airflow connections")]).unwrap_err();
        assert_eq!(err.variable, prefix);
        assert!(err.problem.contains("cannot hold"), "{err}");
        let sep = "AIRFLOW__SECRETS__BACKEND_KWARG__SEP";
        let err = settings(&[(sep, ":")]).unwrap_err();
        assert_eq!(err.variable, sep);
        // The function's own spellings of old are refused, naming what replaces each.
        for (retired, instead) in [
            (
                "CONNECTIONS_PREFIX",
                "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            ),
            ("CONNECTIONS_SEP", "AIRFLOW__SECRETS__BACKEND_KWARG__SEP"),
            (
                "SECRETS_REGION",
                "AIRFLOW__SECRETS__BACKEND_KWARG__REGION_NAME",
            ),
            (
                "SECRETS_ROLE_ARN",
                "AIRFLOW__SECRETS__BACKEND_KWARG__ROLE_ARN",
            ),
        ] {
            let err = settings(&[(retired, "x")]).unwrap_err();
            assert_eq!(err.variable, retired);
            assert!(err.problem.contains("no longer read"), "{err}");
            assert!(err.problem.contains(instead), "{err}");
        }
    }

    #[test]
    fn a_connections_array_refuses_a_key_given_twice_or_null() {
        for (raw, says) in [
            (
                r#"[{"conn_id":"a","region":"eu-west-1","region":"us-east-1"}]"#,
                r#"the key "region" is given twice in [0]; give it once"#,
            ),
            (
                r#"[{"conn_id":"a","registry":null}]"#,
                "CONNECTIONS[0].registry is null",
            ),
            (r#"[{"conn_id":"a"},null]"#, "CONNECTIONS[1] is null"),
        ] {
            let err = settings(&[("CONNECTIONS", raw)]).unwrap_err();
            assert_eq!(err.variable, "CONNECTIONS");
            assert!(err.problem.contains(says), "{raw}: {err}");
        }
        let deep = format!("[{}]", "[".repeat(200) + &"]".repeat(200));
        let err = settings(&[("CONNECTIONS", &deep)]).unwrap_err();
        assert!(err.problem.contains("recursion limit exceeded"), "{err}");
    }

    #[test]
    fn kms_key_ids_take_the_four_documented_forms() {
        for ok in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "alias/airflow",
            "alias/aws/secretsmanager",
            "arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws-cn:kms:cn-north-1:111122223333:alias/airflow",
        ] {
            assert!(settings(&[("KMS_KEY_ID", ok)]).is_ok(), "{ok}");
        }
        for bad in [
            "garbage key!",
            "alias/",
            "1234abcd",
            "arn:aws:kms:us-east-2:111122223333:key/garbage",
            "arn:aws:s3:::bucket",
            "alias/has space",
        ] {
            let err = settings(&[("KMS_KEY_ID", bad)]).unwrap_err();
            assert_eq!(err.variable, "KMS_KEY_ID");
            assert!(
                err.to_string()
                    .contains(&format!("{bad:?} is not a KMS key")),
                "{err}"
            );
        }
    }

    #[test]
    fn unset_connections_means_only_manual_requests_have_work() {
        let s = settings(&[("KMS_KEY_ID", "alias/airflow")]).unwrap();
        assert!(s.connections.is_empty());
        assert_eq!(s.kms_key_id.as_deref(), Some("alias/airflow"));
    }
}
