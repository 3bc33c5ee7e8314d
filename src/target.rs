//! Which connections to refresh: a conn id, the ECR region its token comes from, and the
//! registry its host names. Parsed strictly: a typo in a deploy parameter must fail loudly,
//! not write a secret Airflow never reads.

use serde::Deserialize;
use std::fmt;

/// An Airflow connection id, limited to what both Airflow (`[\w.-]`, 250 chars) and a
/// Secrets Manager name accept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct ConnId(String);

/// An AWS region name such as `eu-west-1` or `us-gov-west-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Region(String);

/// The registry a connection logs in to, when it is not the caller's own.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Registry {
    /// Another account's registry in the target's region: `210987654321`.
    Account(String),
    /// A full registry host: `210987654321.dkr.ecr.eu-west-1.amazonaws.com`.
    Host(String),
}

/// One connection as configured, before the function's region fills the gaps.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub conn_id: ConnId,
    #[serde(default)]
    pub region: Option<Region>,
    #[serde(default)]
    pub registry: Option<Registry>,
}

/// A connection with its region settled: what the rest of the run works from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub conn_id: ConnId,
    pub region: Region,
    pub registry: Option<Registry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(
        "invalid conn_id {0:?}: use 1 to 250 letters, digits, '_', '.' or '-' (Airflow's own rule)"
    )]
    ConnId(String),
    #[error("invalid region {0:?}: expected an AWS region name such as \"eu-west-1\"")]
    Region(String),
    #[error(
        "invalid registry {0:?}: expected a 12-digit account id or a registry host such as \
         \"210987654321.dkr.ecr.eu-west-1.amazonaws.com\""
    )]
    Registry(String),
    #[error(
        "conn_id {conn_id:?}: registry {host:?} is in {host_region}, but region is {region}; \
         an ECR token only works in its own region, so drop one or make them agree"
    )]
    RegionMismatch {
        conn_id: String,
        host: String,
        host_region: String,
        region: String,
    },
    #[error("conn_id {0:?} is listed more than once; each connection is one secret")]
    Duplicate(String),
}

impl ConnId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ConnId {
    type Error = TargetError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let valid = !value.is_empty()
            && value.len() <= 250
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if valid {
            Ok(Self(value))
        } else {
            Err(TargetError::ConnId(value))
        }
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Region {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `xx(-word)+-N`: every AWS region so far, partitions included (`cn-north-1`,
/// `us-gov-west-1`, `us-isob-east-1`).
fn is_region_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let lower = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(lower)
        && parts
            .last()
            .is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
}

impl TryFrom<String> for Region {
    type Error = TargetError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if is_region_name(&value) {
            Ok(Self(value))
        } else {
            Err(TargetError::Region(value))
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

impl TryFrom<String> for Registry {
    type Error = TargetError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if is_account_id(&value) {
            return Ok(Self::Account(value));
        }
        // A pasted `https://host` is the same registry; Docker wants the bare host.
        let bare = value.strip_prefix("https://").unwrap_or(&value);
        let bare = bare.strip_suffix('/').unwrap_or(bare).to_ascii_lowercase();
        if bare.contains('.') && is_host_name(&bare) {
            Ok(Self::Host(bare))
        } else {
            Err(TargetError::Registry(value))
        }
    }
}

impl Registry {
    /// The region named in an ECR host (`<account>.dkr.ecr[-fips].<region>.<domain>`).
    pub fn host_region(&self) -> Option<&str> {
        let Self::Host(host) = self else { return None };
        let mut labels = host.split('.');
        let (account, dkr, ecr, region) = (
            labels.next()?,
            labels.next()?,
            labels.next()?,
            labels.next()?,
        );
        let is_ecr = is_account_id(account) && dkr == "dkr" && ecr.starts_with("ecr");
        (is_ecr && is_region_name(region)).then_some(region)
    }
}

impl fmt::Display for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Account(id) => f.write_str(id),
            Self::Host(host) => f.write_str(host),
        }
    }
}

impl TargetSpec {
    pub fn new(conn_id: ConnId) -> Self {
        Self {
            conn_id,
            region: None,
            registry: None,
        }
    }

    /// Settles the region: the one given, else the one in the registry host, else the
    /// function's own.
    pub fn resolve(&self, default_region: &Region) -> Result<Target, TargetError> {
        let host_region = self.registry.as_ref().and_then(Registry::host_region);
        let region = match (&self.region, host_region) {
            (Some(given), Some(host)) if given.as_str() != host => {
                return Err(TargetError::RegionMismatch {
                    conn_id: self.conn_id.to_string(),
                    host: self
                        .registry
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    host_region: host.to_owned(),
                    region: given.to_string(),
                });
            }
            (Some(given), _) => given.clone(),
            (None, Some(host)) => Region(host.to_owned()),
            (None, None) => default_region.clone(),
        };
        Ok(Target {
            conn_id: self.conn_id.clone(),
            region,
            registry: self.registry.clone(),
        })
    }
}

/// Resolves every spec and refuses the same conn id twice (two writes to one secret).
pub fn resolve_all(
    specs: &[TargetSpec],
    default_region: &Region,
) -> Result<Vec<Target>, TargetError> {
    let mut seen = std::collections::HashSet::new();
    specs
        .iter()
        .map(|spec| {
            if !seen.insert(spec.conn_id.as_str()) {
                return Err(TargetError::Duplicate(spec.conn_id.to_string()));
            }
            spec.resolve(default_region)
        })
        .collect()
}

/// The secret Airflow's backend looks up for a conn id: `prefix.rstrip(sep) + sep + conn_id`
/// (Python's `rstrip` takes a set of characters, hence the closure).
pub fn secret_name(prefix: &str, sep: &str, conn_id: &ConnId) -> String {
    let prefix = prefix.trim_end_matches(|c| sep.contains(c));
    format!("{prefix}{sep}{conn_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(s: &str) -> Region {
        Region::try_from(s.to_owned()).unwrap()
    }

    #[test]
    fn region_names_of_every_partition_are_accepted() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "cn-north-1",
            "us-gov-west-1",
            "us-isob-east-1",
            "il-central-1",
        ] {
            assert!(Region::try_from(ok.to_owned()).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "useast1",
            "us-east-1a",
            "eu_west_1",
            "e-west-1",
            "us-east-123",
        ] {
            assert_eq!(
                Region::try_from(bad.to_owned()),
                Err(TargetError::Region(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn conn_ids_follow_airflow_rules() {
        assert!(ConnId::try_from("ecr_eu-1.prod".to_owned()).is_ok());
        for bad in ["", "has space", "a/b", "ä", &"x".repeat(251)] {
            assert!(ConnId::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }

    #[test]
    fn registry_is_an_account_or_a_bare_host() {
        let acct = Registry::try_from("210987654321".to_owned()).unwrap();
        assert_eq!(acct, Registry::Account("210987654321".into()));
        let host =
            Registry::try_from("https://210987654321.dkr.ecr.eu-west-1.amazonaws.com/".to_owned())
                .unwrap();
        assert_eq!(
            host,
            Registry::Host("210987654321.dkr.ecr.eu-west-1.amazonaws.com".into())
        );
        assert_eq!(host.host_region(), Some("eu-west-1"));
        for bad in [
            "12345",
            "not a host",
            "host:443",
            "https://h.example.com/path",
        ] {
            assert!(Registry::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }

    #[test]
    fn region_comes_from_spec_then_host_then_default() {
        let default = region("us-east-1");
        let spec: TargetSpec = serde_json::from_str(r#"{"conn_id":"a"}"#).unwrap();
        assert_eq!(spec.resolve(&default).unwrap().region, default);

        let spec: TargetSpec = serde_json::from_str(
            r#"{"conn_id":"a","registry":"210987654321.dkr.ecr.eu-west-1.amazonaws.com"}"#,
        )
        .unwrap();
        assert_eq!(spec.resolve(&default).unwrap().region, region("eu-west-1"));

        let spec: TargetSpec = serde_json::from_str(
            r#"{"conn_id":"a","region":"us-west-2","registry":"210987654321.dkr.ecr.eu-west-1.amazonaws.com"}"#,
        )
        .unwrap();
        assert!(matches!(
            spec.resolve(&default),
            Err(TargetError::RegionMismatch { .. })
        ));
    }

    #[test]
    fn specs_reject_unknown_keys_and_bad_values_with_the_reason() {
        let err = serde_json::from_str::<TargetSpec>(r#"{"conn_id":"a","regoin":"eu-west-1"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("unknown field `regoin`"), "{err}");
        let err =
            serde_json::from_str::<TargetSpec>(r#"{"conn_id":"a","region":"moon-1"}"#).unwrap_err();
        assert!(
            err.to_string().contains("invalid region \"moon-1\""),
            "{err}"
        );
        let err = serde_json::from_str::<TargetSpec>(r#"{"conn_id":""}"#).unwrap_err();
        assert!(err.to_string().contains("invalid conn_id"), "{err}");
    }

    #[test]
    fn duplicates_are_refused() {
        let a = TargetSpec::new(ConnId::try_from("a".to_owned()).unwrap());
        let err = resolve_all(&[a.clone(), a], &region("us-east-1")).unwrap_err();
        assert_eq!(err, TargetError::Duplicate("a".into()));
    }

    #[test]
    fn secret_name_matches_the_airflow_backend() {
        let id = ConnId::try_from("docker_ecr".to_owned()).unwrap();
        assert_eq!(
            secret_name("airflow/connections", "/", &id),
            "airflow/connections/docker_ecr"
        );
        assert_eq!(
            secret_name("airflow/connections/", "/", &id),
            "airflow/connections/docker_ecr"
        );
        assert_eq!(secret_name("team-a", "_", &id), "team-a_docker_ecr");
    }
}
