//! Which connections to refresh: a conn id, the ECR region its token comes from, and the
//! registry its host names. Parsed strictly: a typo in a deploy parameter must fail loudly,
//! not write a secret Airflow never reads.

pub use crate::ids::{ConnId, Region, Team};
use crate::naming::{Naming, TEAM_SEP};
pub use crate::pull::{ImageRef, RoleArn};
pub use crate::registry::{Registry, RegistryHost};
use serde::Deserialize;

/// One connection as configured, before the function's region fills the gaps.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub conn_id: ConnId,
    #[serde(default)]
    pub region: Option<Region>,
    #[serde(default)]
    pub registry: Option<Registry>,
    /// Fetch the token as this role, so it carries the role's pull rights.
    #[serde(default)]
    pub pull_role_arn: Option<RoleArn>,
    /// After fetching the token, check that this image can be pulled with it.
    #[serde(default)]
    pub check_image: Option<ImageRef>,
    /// Airflow 3 multi-team: write the team-scoped secret its tasks look up first.
    #[serde(default)]
    pub team: Option<Team>,
}

/// A connection with its region settled: what the rest of the run works from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub conn_id: ConnId,
    /// The secret Airflow reads for it.
    pub secret_name: String,
    pub region: Region,
    pub registry: Option<Registry>,
    pub pull_role_arn: Option<RoleArn>,
    pub check_image: Option<ImageRef>,
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
        "invalid registry {0:?}: expected a 12-digit account id or an Amazon ECR private \
         registry host, <account>.dkr.ecr.<region>.amazonaws.com (or dkr.ecr-fips, the \
         dual-stack <account>.dkr-ecr.<region>.on.aws, or the same in another partition's \
         domain); the ECR password is only ever written for an ECR registry"
    )]
    Registry(String),
    #[error(
        "invalid registry {0:?}: that is Amazon ECR Public, a different API, and public images \
         pull without logging in, so no connection is needed for it"
    )]
    PublicRegistry(String),
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
    #[error(
        "conn_id {conn_id:?}: region {region} is in the {partition} partition, but the function \
         runs in {function_region} ({function_partition}); one role's credentials never work \
         across partitions, so deploy a copy of the function in {partition}"
    )]
    Partition {
        conn_id: String,
        region: String,
        partition: &'static str,
        function_region: String,
        function_partition: &'static str,
    },
    #[error(
        "invalid pull_role_arn {0:?}: expected an IAM role ARN such as \
         \"arn:aws:iam::123456789012:role/airflow-workers\""
    )]
    RoleArn(String),
    #[error(
        "invalid check_image {0:?}: expected <repository>:<tag> or \
         <repository>@sha256:<digest>, in the connection's own registry (no registry host)"
    )]
    ImageRef(String),
    #[error(
        "conn_id {conn_id:?}: pull_role_arn {role} is in the {partition} partition, but the \
         function runs in {function_partition}; a role can only be assumed in its own partition"
    )]
    RolePartition {
        conn_id: String,
        role: String,
        partition: String,
        function_partition: &'static str,
    },
    #[error(
        "invalid team {0:?}: 1 to 50 letters, digits, '_' or '-', without \"--\" (it \
         separates the team from the conn id in a team-scoped secret name)"
    )]
    Team(String),
    #[error(
        "conn_id {0:?} contains \"--\", which Airflow refuses in multi-team mode (it separates the \
         team from the conn id in a team-scoped secret name)"
    )]
    TeamConnId(String),
    #[error(
        "conn_id {0:?} has a team, but the backend has no connections_prefix, and Airflow only \
         looks up team-scoped secrets under a prefix"
    )]
    TeamWithoutPrefix(String),
    #[error(
        "conn_id {conn_id:?} does not match connections_lookup_pattern {pattern:?}, so Airflow \
         would never look it up: fix the conn id or the pattern"
    )]
    LookupPattern { conn_id: String, pattern: String },
    /// The pattern needs more backtracking on this id than the engine allows.
    #[error("{0}")]
    LookupPatternGaveUp(String),
    #[error("conn_id {0:?} is listed more than once; each connection is one secret")]
    Duplicate(String),
}

impl TargetSpec {
    pub fn new(conn_id: ConnId) -> Self {
        Self {
            conn_id,
            region: None,
            registry: None,
            pull_role_arn: None,
            check_image: None,
            team: None,
        }
    }

    /// Settles the region (the one given, else the one in the registry host, else the
    /// function's own) and the secret name; refuses what Airflow would never read and a
    /// region in another partition than the function's.
    pub fn resolve(
        &self,
        function_region: &Region,
        naming: &Naming,
    ) -> Result<Target, TargetError> {
        if let Some(pattern) = &naming.lookup
            && !pattern
                .matches(&self.conn_id)
                .map_err(TargetError::LookupPatternGaveUp)?
        {
            return Err(TargetError::LookupPattern {
                conn_id: self.conn_id.to_string(),
                pattern: pattern.source.clone(),
            });
        }
        if self.team.is_some() {
            if self.conn_id.as_str().contains(TEAM_SEP) {
                return Err(TargetError::TeamConnId(self.conn_id.to_string()));
            }
            if naming.prefix.is_empty() {
                return Err(TargetError::TeamWithoutPrefix(self.conn_id.to_string()));
            }
        }
        let host_region = self.registry.as_ref().and_then(Registry::host_region);
        let region = match (&self.region, host_region) {
            (Some(given), Some(host)) if given != host => {
                return Err(TargetError::RegionMismatch {
                    conn_id: self.conn_id.to_string(),
                    host: self
                        .registry
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    host_region: host.to_string(),
                    region: given.to_string(),
                });
            }
            (Some(given), _) => given.clone(),
            (None, Some(host)) => host.clone(),
            (None, None) => function_region.clone(),
        };
        if region.partition() != function_region.partition() {
            return Err(TargetError::Partition {
                conn_id: self.conn_id.to_string(),
                region: region.to_string(),
                partition: region.partition(),
                function_region: function_region.to_string(),
                function_partition: function_region.partition(),
            });
        }
        if let Some(role) = &self.pull_role_arn
            && role.partition() != function_region.partition()
        {
            return Err(TargetError::RolePartition {
                conn_id: self.conn_id.to_string(),
                role: role.to_string(),
                partition: role.partition().to_owned(),
                function_partition: function_region.partition(),
            });
        }
        Ok(Target {
            conn_id: self.conn_id.clone(),
            secret_name: naming.secret_name(&self.conn_id, self.team.as_ref().map(Team::as_str)),
            region,
            registry: self.registry.clone(),
            pull_role_arn: self.pull_role_arn.clone(),
            check_image: self.check_image.clone(),
        })
    }
}

/// Resolves every spec and refuses the same conn id twice (two writes to one secret).
pub fn resolve_all(
    specs: &[TargetSpec],
    default_region: &Region,
    naming: &Naming,
) -> Result<Vec<Target>, TargetError> {
    let mut seen = std::collections::HashSet::new();
    specs
        .iter()
        .map(|spec| {
            if !seen.insert(spec.conn_id.as_str()) {
                return Err(TargetError::Duplicate(spec.conn_id.to_string()));
            }
            spec.resolve(default_region, naming)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(s: &str) -> Region {
        Region::try_from(s.to_owned()).unwrap()
    }

    #[test]
    fn region_comes_from_spec_then_host_then_default() {
        let default = region("us-east-1");
        let spec: TargetSpec = serde_json::from_str(r#"{"conn_id":"a"}"#).unwrap();
        assert_eq!(spec.resolve(&default, &naming()).unwrap().region, default);

        let spec: TargetSpec = serde_json::from_str(
            r#"{"conn_id":"a","registry":"210987654321.dkr.ecr.eu-west-1.amazonaws.com"}"#,
        )
        .unwrap();
        assert_eq!(
            spec.resolve(&default, &naming()).unwrap().region,
            region("eu-west-1")
        );

        let spec: TargetSpec = serde_json::from_str(
            r#"{"conn_id":"a","region":"us-west-2","registry":"210987654321.dkr.ecr.eu-west-1.amazonaws.com"}"#,
        )
        .unwrap();
        assert!(matches!(
            spec.resolve(&default, &naming()),
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
    fn a_dual_stack_host_takes_its_token_from_its_own_region() {
        let spec: TargetSpec = serde_json::from_str(
            r#"{"conn_id":"a","registry":"210987654321.dkr-ecr.ap-south-1.on.aws"}"#,
        )
        .unwrap();
        let target = spec.resolve(&region("us-east-1"), &naming()).unwrap();
        assert_eq!(target.region, region("ap-south-1"));
        assert_eq!(
            target.registry.unwrap().to_string(),
            "210987654321.dkr-ecr.ap-south-1.on.aws",
            "the host stays as given"
        );
    }

    #[test]
    fn another_partition_is_refused_naming_both() {
        for (conn_region, function_region, partitions) in [
            ("cn-north-1", "us-east-1", ("aws-cn", "aws")),
            ("us-east-1", "us-gov-west-1", ("aws", "aws-us-gov")),
            ("eu-west-1", "eusc-de-east-1", ("aws", "aws-eusc")),
        ] {
            let mut spec = TargetSpec::new(ConnId::try_from("a".to_owned()).unwrap());
            spec.region = Some(region(conn_region));
            let err = spec
                .resolve(&region(function_region), &naming())
                .unwrap_err();
            assert_eq!(
                err,
                TargetError::Partition {
                    conn_id: "a".into(),
                    region: conn_region.into(),
                    partition: partitions.0,
                    function_region: function_region.into(),
                    function_partition: partitions.1,
                }
            );
        }
        // The same partition, another region: fine.
        let mut spec = TargetSpec::new(ConnId::try_from("a".to_owned()).unwrap());
        spec.region = Some(region("cn-northwest-1"));
        assert!(spec.resolve(&region("cn-north-1"), &naming()).is_ok());
    }

    #[test]
    fn duplicates_are_refused() {
        let a = TargetSpec::new(ConnId::try_from("a".to_owned()).unwrap());
        let err = resolve_all(&[a.clone(), a], &region("us-east-1"), &naming()).unwrap_err();
        assert_eq!(err, TargetError::Duplicate("a".into()));
    }

    fn naming() -> Naming {
        Naming::new("airflow/connections", "/", None)
    }

    #[test]
    fn secret_names_match_the_airflow_backend() {
        let id = ConnId::try_from("docker_ecr".to_owned()).unwrap();
        let name = |prefix: &str, sep: &str, team: Option<&str>| {
            Naming::new(prefix, sep, None).secret_name(&id, team)
        };
        assert_eq!(
            name("airflow/connections", "/", None),
            "airflow/connections/docker_ecr"
        );
        assert_eq!(
            name("airflow/connections/", "/", None),
            "airflow/connections/docker_ecr"
        );
        assert_eq!(name("team-a", "_", None), "team-a_docker_ecr");
        assert_eq!(
            name("", "/", None),
            "docker_ecr",
            "no prefix: the conn id alone"
        );
        assert_eq!(
            name("airflow/connections", "/", Some("ml")),
            "airflow/connections/ml--docker_ecr"
        );
    }

    #[test]
    fn teams_and_lookup_patterns_refuse_what_airflow_would_never_read() {
        let spec = |json: &str| serde_json::from_str::<TargetSpec>(json).unwrap();
        let east = region("us-east-1");
        let team = spec(r#"{"conn_id":"ecr","team":"ml"}"#);
        assert_eq!(
            team.resolve(&east, &naming()).unwrap().secret_name,
            "airflow/connections/ml--ecr"
        );
        assert_eq!(
            spec(r#"{"conn_id":"a--b","team":"ml"}"#).resolve(&east, &naming()),
            Err(TargetError::TeamConnId("a--b".into()))
        );
        assert_eq!(
            team.resolve(&east, &Naming::new("", "/", None)),
            Err(TargetError::TeamWithoutPrefix("ecr".into()))
        );
        assert!(serde_json::from_str::<TargetSpec>(r#"{"conn_id":"a","team":"m--l"}"#).is_err());
        let pattern = crate::backend::AirflowBackend::from_lookup(|k| {
            (k == "AIRFLOW__SECRETS__BACKEND_KWARGS")
                .then(|| r#"{"connections_lookup_pattern": "docker_"}"#.to_owned())
        })
        .unwrap()
        .naming;
        assert!(
            spec(r#"{"conn_id":"DOCKER_ecr"}"#)
                .resolve(&east, &pattern)
                .is_ok(),
            "case-insensitive"
        );
        assert_eq!(
            spec(r#"{"conn_id":"ecr_docker_"}"#).resolve(&east, &pattern),
            Err(TargetError::LookupPattern {
                conn_id: "ecr_docker_".into(),
                pattern: "docker_".into()
            }),
            "re.match anchors at the start"
        );
        // A pattern that backtracks without end fails this connection with an error.
        let catastrophic = Naming::new(
            "",
            "/",
            Some(crate::naming::LookupPattern::new(r"(a|a)*\1b").unwrap()),
        );
        let long = spec(&format!(r#"{{"conn_id":"{}"}}"#, "a".repeat(250)));
        assert!(matches!(
            long.resolve(&east, &catastrophic),
            Err(TargetError::LookupPatternGaveUp(e)) if e.contains("backtrack")
        ));
    }
}
