//! Names checked once, at the edge: an Airflow connection id and an AWS region.

use crate::partition;
use serde::Deserialize;
use std::fmt;

/// What separates a team from a conn id in a team-scoped secret name.
pub const TEAM_SEP: &str = "--";

/// What is wrong with a connection entry (or one of its values), for the user to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// An invalid conn id.
    #[error(
        "invalid conn_id {0:?}: use 1 to 250 letters, digits, '_', '.' or '-' (Airflow's own rule)"
    )]
    ConnId(String),
    /// An invalid region name.
    #[error("invalid region {0:?}: expected an AWS region name such as \"eu-west-1\"")]
    Region(String),
    /// Neither an account id nor an ECR private registry host.
    #[error(
        "invalid registry {0:?}: expected a 12-digit account id or an Amazon ECR private \
         registry host, <account>.dkr.ecr.<region>.amazonaws.com (or dkr.ecr-fips, the \
         dual-stack <account>.dkr-ecr.<region>.on.aws, or the same in another partition's \
         domain); the ECR password is only ever written for an ECR registry"
    )]
    Registry(String),
    /// An ECR Public registry, which needs no connection.
    #[error(
        "invalid registry {0:?}: that is Amazon ECR Public, a different API, and public images \
         pull without logging in, so no connection is needed for it"
    )]
    PublicRegistry(String),
    /// The registry host names another region than the one configured.
    #[error(
        "conn_id {conn_id:?}: registry {host:?} is in {host_region}, but region is {region}; \
         an ECR token only works in its own region, so drop one or make them agree"
    )]
    RegionMismatch {
        /// The conn id of the entry at fault.
        conn_id: String,
        /// The configured registry host.
        host: String,
        /// The region the host names.
        host_region: String,
        /// The region configured.
        region: String,
    },
    /// The region is in another partition than the function.
    #[error(
        "conn_id {conn_id:?}: region {region} is in the {partition} partition, but the function \
         runs in {function_region} ({function_partition}); one role's credentials never work \
         across partitions, so deploy a copy of the function in {partition}"
    )]
    Partition {
        /// The conn id of the entry at fault.
        conn_id: String,
        /// The region configured.
        region: String,
        /// That region's partition.
        partition: &'static str,
        /// The function's own region.
        function_region: String,
        /// The function's partition.
        function_partition: &'static str,
    },
    /// An invalid `pull_role_arn`.
    #[error(
        "invalid pull_role_arn {0:?}: expected an IAM role ARN such as \
         \"arn:aws:iam::123456789012:role/airflow-workers\""
    )]
    RoleArn(String),
    /// An invalid `check_image`.
    #[error(
        "invalid check_image {0:?}: expected <repository>:<tag> or \
         <repository>@sha256:<digest>, in the connection's own registry (no registry host)"
    )]
    ImageRef(String),
    /// The pull role is in another partition than the function.
    #[error(
        "conn_id {conn_id:?}: pull_role_arn {role} is in the {partition} partition, but the \
         function runs in {function_partition}; a role can only be assumed in its own partition"
    )]
    RolePartition {
        /// The conn id of the entry at fault.
        conn_id: String,
        /// The role's ARN.
        role: String,
        /// The partition named in the role's ARN.
        partition: String,
        /// The function's partition.
        function_partition: &'static str,
    },
    /// An invalid team name.
    #[error(
        "invalid team {0:?}: 1 to 50 letters, digits, '_' or '-', without \"--\" (it \
         separates the team from the conn id in a team-scoped secret name)"
    )]
    Team(String),
    /// A conn id Airflow refuses in multi-team mode.
    #[error(
        "conn_id {0:?} contains \"--\", which Airflow refuses in multi-team mode (it separates the \
         team from the conn id in a team-scoped secret name)"
    )]
    TeamConnId(String),
    /// A team given while Airflow is not in multi-team mode.
    #[error(
        "conn_id {0:?} has a team, but AIRFLOW__CORE__MULTI_TEAM is off, and Airflow passes a \
         task's team (and so looks up team-scoped secrets) only in multi-team mode: drop the \
         team, or set AIRFLOW__CORE__MULTI_TEAM as your Airflow has it"
    )]
    TeamOutsideMultiTeam(String),
    /// A team given with the workers' backend settings, which never see a team.
    #[error(
        "conn_id {0:?} has a team, but the backend settings are the workers' own \
         (AIRFLOW__WORKERS__SECRETS_BACKEND): a worker asks that backend without a team, and a \
         task's team reaches only the API server's [secrets] backend; refresh team connections \
         with the [secrets] settings (AIRFLOW__SECRETS__BACKEND and its kwargs) instead"
    )]
    TeamWithWorkersBackend(String),
    /// A team given with no `connections_prefix`.
    #[error(
        "conn_id {0:?} has a team, but the backend has no connections_prefix, and Airflow's \
         Secrets Manager backend only looks up team-scoped secrets under a prefix"
    )]
    TeamWithoutPrefix(String),
    /// A conn id Airflow would never look up.
    #[error(
        "conn_id {conn_id:?} does not match connections_lookup_pattern {pattern:?}, so Airflow \
         would never look it up: fix the conn id or the pattern"
    )]
    LookupPattern {
        /// The conn id of the entry at fault.
        conn_id: String,
        /// The `connections_lookup_pattern` it does not match.
        pattern: String,
    },
    /// The pattern needs more backtracking on this id than the engine allows.
    #[error("{0}")]
    LookupPatternGaveUp(String),
    /// Two entries name the same secret.
    #[error(
        "entry {first} {first_spec} and entry {second} {second_spec} both name secret \
         {secret_name}: list each secret once"
    )]
    Duplicate {
        /// The first entry's position in the list, from 1.
        first: usize,
        /// The first entry's conn id and team, as `{conn_id: a, team: x}`.
        first_spec: String,
        /// The second entry's position in the list, from 1.
        second: usize,
        /// The second entry's conn id and team, as `{conn_id: a, team: x}`.
        second_spec: String,
        /// The secret both name.
        secret_name: String,
    },
}

/// An Airflow connection id, limited to what both Airflow (`[\w.-]`, 250 chars) and a
/// Secrets Manager name accept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct ConnId(String);

/// An AWS region name such as `eu-west-1`, `us-gov-west-1` or `eusc-de-east-1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Region(String);

impl ConnId {
    /// The conn id as text.
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
    /// The region name, such as `eu-west-1`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The partition (`aws`, `aws-cn`, ...) whose credentials work in this region.
    pub fn partition(&self) -> &'static str {
        partition::of(&self.0).id
    }
}

impl TryFrom<String> for Region {
    type Error = TargetError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if partition::is_region_name(&value) {
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

/// An Airflow 3 team name, as it appears in a team-scoped secret name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Team(String);

impl Team {
    /// The team name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Team {
    type Error = TargetError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let valid = !value.is_empty()
            && value.len() <= 50
            && !value.contains(TEAM_SEP)
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if valid {
            Ok(Self(value))
        } else {
            Err(TargetError::Team(value))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names_of_every_partition_are_accepted() {
        for ok in partition::known_regions().chain(["eusc-de-east-1", "ap-future-9"]) {
            assert!(Region::try_from(ok.to_owned()).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "nowhere",
            "us-east",
            "US-EAST-1",
            "us-east-1a",
            "eu_west_1",
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
}
