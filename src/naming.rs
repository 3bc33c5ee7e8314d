//! How Airflow's AWS secrets backends name a connection's value: the prefix, the
//! separator, the lookup pattern and Airflow 3's team names (amazon provider,
//! `SecretsManagerBackend._get_secret` and `SystemsManagerParameterStoreBackend._get_secret`).

use crate::ids::ConnId;
use regex_lite::Regex;
use std::fmt;

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
    pub fn new(source: &str) -> Result<Self, String> {
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

/// How Airflow names a connection's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    /// As the backend keeps it: trailing separator characters stripped; `""` for none.
    /// Parameter Store's starts with `/`.
    pub prefix: String,
    pub sep: String,
    pub lookup: Option<LookupPattern>,
    /// Parameter Store: every name starts with `/`, even without a prefix.
    rooted: bool,
    /// `[core] multi_team` as the function was told it (`AIRFLOW__CORE__MULTI_TEAM`): when on,
    /// Airflow refuses every conn id containing `--`; `None` when not told.
    pub multi_team: Option<bool>,
    /// Read from `[workers] secrets_backend`'s settings: a worker asks that backend without a
    /// team, so team-scoped names are never looked up with them.
    pub workers_backend: bool,
}

impl Naming {
    /// Secrets Manager: `prefix.rstrip(sep)` when a prefix is given (Python's `rstrip`
    /// takes a set of characters, hence the closure).
    pub fn new(prefix: &str, sep: &str, lookup: Option<LookupPattern>) -> Self {
        let prefix = prefix.trim_end_matches(|c| sep.contains(c)).to_owned();
        Self {
            prefix,
            sep: sep.to_owned(),
            lookup,
            rooted: false,
            multi_team: None,
            workers_backend: false,
        }
    }

    /// Parameter Store: `prefix.rstrip("/")`, the separator always `/`, and a leading `/`
    /// added to every name that lacks one (`_ensure_leading_slash`), so `airflow/connections`
    /// and `/airflow/connections` name the same parameters, and no prefix means `/<conn_id>`.
    pub fn parameter_store(prefix: &str, lookup: Option<LookupPattern>) -> Self {
        let trimmed = prefix.trim_end_matches('/');
        let prefix = if trimmed.is_empty() || trimmed.starts_with('/') {
            trimmed.to_owned()
        } else {
            format!("/{trimmed}")
        };
        Self {
            prefix,
            sep: "/".to_owned(),
            lookup,
            rooted: true,
            multi_team: None,
            workers_backend: false,
        }
    }

    /// Whether Airflow looks up team-scoped names at all: Secrets Manager only under a
    /// prefix (`SecretsManagerBackend._get_secret`: `if path_prefix and team_name`),
    /// Parameter Store always (its `_get_secret` builds `/<team>--<conn_id>` without one).
    pub fn reads_team_names(&self) -> bool {
        self.rooted || !self.prefix.is_empty()
    }

    /// The name Airflow looks up: `<prefix><sep><conn_id>`, or without a prefix the conn
    /// id alone (Secrets Manager) or `/<conn_id>` (Parameter Store); for a team's task
    /// `<prefix><sep><team>--<conn_id>` first.
    pub fn secret_name(&self, conn_id: &ConnId, team: Option<&str>) -> String {
        let id = match team {
            Some(team) => format!("{team}{TEAM_SEP}{conn_id}"),
            None => conn_id.to_string(),
        };
        if self.prefix.is_empty() && !self.rooted {
            id
        } else {
            format!("{}{}{id}", self.prefix, self.sep)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_store_reads_team_names_without_a_prefix() {
        use crate::target::{Region, TargetError, TargetSpec};
        let east = Region::try_from("us-east-1".to_owned()).unwrap();
        let spec: TargetSpec = serde_json::from_str(r#"{"conn_id":"ecr","team":"ml"}"#).unwrap();
        for prefix in ["", "/"] {
            let target = spec.resolve(&east, &Naming::parameter_store(prefix, None));
            assert_eq!(target.unwrap().secret_name, "/ml--ecr", "{prefix:?}");
        }
        assert_eq!(
            spec.resolve(&east, &Naming::new("", "/", None)),
            Err(TargetError::TeamWithoutPrefix("ecr".into())),
            "Secrets Manager tries a team's name only under a prefix"
        );
    }

    #[test]
    fn parameter_store_names_always_start_with_a_slash() {
        let id = ConnId::try_from("ecr".to_owned()).unwrap();
        for prefix in [
            "/airflow/connections",
            "airflow/connections",
            "airflow/connections//",
        ] {
            assert_eq!(
                Naming::parameter_store(prefix, None).secret_name(&id, None),
                "/airflow/connections/ecr",
                "{prefix:?}"
            );
        }
        assert_eq!(
            Naming::parameter_store("", None).secret_name(&id, None),
            "/ecr"
        );
        assert_eq!(
            Naming::parameter_store("/", None).secret_name(&id, None),
            "/ecr"
        );
        assert_eq!(
            Naming::parameter_store("/a", None).secret_name(&id, Some("ml")),
            "/a/ml--ecr"
        );
        // Secrets Manager keeps the bare conn id without a prefix.
        assert_eq!(Naming::new("", "/", None).secret_name(&id, None), "ecr");
    }
}
