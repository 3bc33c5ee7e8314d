//! Names checked once, at the edge: an Airflow connection id and an AWS region.

use crate::naming::TEAM_SEP;
use crate::partition;
use crate::target::TargetError;
use serde::Deserialize;
use std::fmt;

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
