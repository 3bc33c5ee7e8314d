//! How Airflow's AWS secrets backends name a connection's value: the prefix, the
//! separator, the lookup pattern and Airflow 3's team names (amazon provider,
//! `SecretsManagerBackend._get_secret` and `SystemsManagerParameterStoreBackend._get_secret`).

mod python_re;

use crate::ids::ConnId;
use fancy_regex::{Regex, RegexBuilder};
use std::fmt;

pub use crate::ids::TEAM_SEP;

/// Longer patterns are refused: far beyond any real one, and it bounds the program size.
const MAX_PATTERN_CHARS: usize = 4096;

/// Backtracking steps per conn id before fancy-regex gives up (its own default). Only
/// look-around, backreferences, atomic groups and possessive repeats backtrack (the rest
/// runs on regex-automata in linear time). Ids have at most 250 characters, so even a
/// quadratic search (`(\w+)-\1$`, some 60,000 steps) stays well inside, while a
/// catastrophic pattern (`(a|a)*\1b`) needs exponentially many, in Python as here: Airflow
/// would hang looking that id up. This bounds each match to a fraction of a second, and
/// the request is refused before any AWS call, naming the conn id, as for an id the
/// pattern does not match (bad input: nothing is written).
const BACKTRACK_LIMIT: usize = 1_000_000;

/// `connections_lookup_pattern`: a conn id Airflow would never look up is refused.
#[derive(Clone)]
pub struct LookupPattern {
    /// The pattern as configured, in Python's syntax.
    pub source: String,
    regex: Regex,
}

impl LookupPattern {
    /// Python's `re.match(pattern, conn_id, re.IGNORECASE)`, as the amazon provider's
    /// backends apply it (`_get_secret`), to the conn id alone: anchored at the start only.
    /// Read by Python's rules (`python_re`); what Python refuses, or what cannot be carried
    /// over with the same meaning, is refused here with the reason.
    pub fn new(source: &str) -> Result<Self, String> {
        let refuse = |why: String| {
            format!(
                "connections_lookup_pattern {source:?} is not a pattern this function can apply \
                 as Airflow does (Python's re.match): {why}"
            )
        };
        if source.chars().count() > MAX_PATTERN_CHARS {
            return Err(refuse(format!(
                "longer than {MAX_PATTERN_CHARS} characters"
            )));
        }
        let translated = python_re::translate(source).map_err(refuse)?;
        let regex = RegexBuilder::new(&format!(r"\A(?:{translated})"))
            .backtrack_limit(BACKTRACK_LIMIT)
            .build()
            .map_err(|e| refuse(e.to_string()))?;
        Ok(Self {
            source: source.to_owned(),
            regex,
        })
    }

    /// Whether Airflow would look `conn_id` up; an error when the pattern needs more
    /// backtracking than [`BACKTRACK_LIMIT`] allows on this id.
    pub fn matches(&self, conn_id: &ConnId) -> Result<bool, String> {
        self.regex.is_match(conn_id.as_str()).map_err(|e| {
            format!(
                "connections_lookup_pattern {:?} could not be applied to conn_id {:?}: {e} \
                 (the pattern backtracks exponentially, in Airflow too: simplify it)",
                self.source,
                conn_id.as_str()
            )
        })
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
    /// `sep`: what joins the prefix and the conn id; always `/` for Parameter Store.
    pub sep: String,
    /// `connections_lookup_pattern`: only conn ids it matches are looked up; `None`: all are.
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

    fn id(s: &str) -> ConnId {
        ConnId::try_from(s.to_owned()).unwrap()
    }

    #[test]
    fn mwaa_lookup_pattern_skips_aws_default_only() {
        let p = LookupPattern::new("^(?!aws_default$).*$").unwrap();
        assert_eq!(p.matches(&id("docker_ecr")), Ok(true));
        assert_eq!(p.matches(&id("AWS_DEFAULT")), Ok(false), "re.IGNORECASE");
        assert_eq!(p.matches(&id("aws_default_2")), Ok(true));
    }

    #[test]
    fn what_python_refuses_is_refused_naming_pattern_and_reason() {
        for (pattern, why) in [
            ("docker)|(.*", "unbalanced parenthesis"),
            ("(?<=a|bc)x", "look-behind requires fixed-width pattern"),
            (r"\p{L}", r"bad escape \p"),
        ] {
            let err = LookupPattern::new(pattern).err().unwrap();
            assert!(
                err.contains(&format!("{pattern:?}")) && err.contains(why),
                "{err}"
            );
        }
    }

    #[test]
    fn an_overlong_pattern_is_refused_before_it_is_compiled() {
        let long = "a?".repeat(MAX_PATTERN_CHARS / 2) + "b";
        let err = LookupPattern::new(&long).err().unwrap();
        assert!(err.contains("longer than 4096 characters"), "{err}");
        assert!(LookupPattern::new(&"a?".repeat(MAX_PATTERN_CHARS / 2)).is_ok());
    }

    #[test]
    fn groups_nest_twenty_deep_and_no_deeper() {
        let nest = |inner: &str| format!("{}{inner}{}", "(?:(?=".repeat(10), ")*)".repeat(10));
        let twenty = LookupPattern::new(&nest("a")).unwrap();
        assert_eq!(twenty.matches(&id("a")), Ok(true));
        let err = LookupPattern::new(&nest("(a)")).err().unwrap();
        assert!(err.contains("nested more than 20 deep"), "{err}");
    }

    #[test]
    fn a_pattern_that_backtracks_without_end_fails_that_id_quickly() {
        let p = LookupPattern::new(r"(a|a)*\1b").unwrap();
        let long = id(&"a".repeat(250));
        let start = std::time::Instant::now();
        let err = p.matches(&long).unwrap_err();
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        assert!(
            err.contains("backtrack") && err.contains(&"a".repeat(250)),
            "{err}"
        );
        assert_eq!(p.matches(&id("aab")), Ok(true), "short ids still match");
        // A quadratic search on the longest id is answered, not cut off.
        let halves = id(&format!("{}-{}", "a".repeat(124), "a".repeat(125)));
        assert_eq!(
            LookupPattern::new(r"(\w+)-\1$").unwrap().matches(&halves),
            Ok(false)
        );
    }

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
