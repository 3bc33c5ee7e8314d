//! Which connections to refresh: a conn id, the ECR region its token comes from, and the
//! registry its host names. Parsed strictly: a typo in a deploy parameter must fail loudly,
//! not write a secret Airflow never reads.

pub use crate::ids::{ConnId, Region, TEAM_SEP, TargetError, Team};
use crate::naming::Naming;
pub use crate::pull::{ImageRef, RoleArn};
pub use crate::registry::{Registry, RegistryHost};
use serde::Deserialize;
use std::collections::HashMap;

/// One connection as configured, before the function's region fills the gaps.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// The Airflow conn id.
    pub conn_id: ConnId,
    /// The region whose ECR token the connection gets; `None`: the registry host's, else
    /// the function's.
    #[serde(default)]
    pub region: Option<Region>,
    /// The registry to log in to, an account id or a host; `None`: the token's own account's.
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
    /// Log in to the registry with the written login, as Docker does; `None`: the run's
    /// `CHECK_LOGIN`.
    #[serde(default)]
    pub check_login: Option<bool>,
}

impl TargetSpec {
    /// The keys of a connection entry (`CONNECTIONS`, `--connections`, an event's
    /// `connections`), from the struct itself: the one list the parser, the CLI's help and the
    /// error messages use.
    pub fn keys() -> &'static [&'static str] {
        crate::strict_json::fields_of::<Self>()
    }

    /// `{"conn_id", "region", ...}`, as help and errors show the keys.
    pub fn keys_text() -> String {
        crate::strict_json::braced(Self::keys())
    }
}

/// A connection with its region settled: what the rest of the run works from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The Airflow conn id.
    pub conn_id: ConnId,
    /// The secret Airflow reads for it.
    pub secret_name: String,
    /// The region whose ECR token the connection gets.
    pub region: Region,
    /// `region` was configured, not the function's own: an existing connection's registry
    /// is only kept when it is in that region.
    pub region_given: bool,
    /// The registry to log in to, as configured; `None`: the token's own account's.
    pub registry: Option<Registry>,
    /// The role the token is fetched as; `None`: the function's own.
    pub pull_role_arn: Option<RoleArn>,
    /// An image to try pulling with the token.
    pub check_image: Option<ImageRef>,
    /// The entry's `check_login`; `None`: the run's.
    pub check_login: Option<bool>,
}

impl TargetSpec {
    /// `{conn_id: a, team: x}`: what names the secret, for a message.
    fn describe(&self) -> String {
        match &self.team {
            Some(team) => format!("{{conn_id: {}, team: {}}}", self.conn_id, team.as_str()),
            None => format!("{{conn_id: {}}}", self.conn_id),
        }
    }

    /// An entry for `conn_id` with nothing else set.
    pub fn new(conn_id: ConnId) -> Self {
        Self {
            conn_id,
            region: None,
            registry: None,
            pull_role_arn: None,
            check_image: None,
            team: None,
            check_login: None,
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
        // In multi-team mode Airflow refuses a conn id containing `--` in every lookup, with a
        // team or without; outside it such an id is ordinary (amazon provider 9.39.0,
        // `_names_a_team_namespace`, apache/airflow#71078). A team implies that mode (below).
        if naming.multi_team == Some(true) && self.conn_id.as_str().contains(TEAM_SEP) {
            return Err(TargetError::TeamConnId(self.conn_id.to_string()));
        }
        if self.team.is_some() && naming.multi_team == Some(false) {
            return Err(TargetError::TeamOutsideMultiTeam(self.conn_id.to_string()));
        }
        // Airflow 3.3's worker passes no team to its own backend (task-sdk `_get_connection`);
        // the Execution API looks a team up with the server's `[secrets]` backend.
        if self.team.is_some() && naming.workers_backend {
            return Err(TargetError::TeamWithWorkersBackend(
                self.conn_id.to_string(),
            ));
        }
        if self.team.is_some() {
            if self.conn_id.as_str().contains(TEAM_SEP) {
                return Err(TargetError::TeamConnId(self.conn_id.to_string()));
            }
            if !naming.reads_team_names() {
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
            region_given: self.region.is_some(),
            registry: self.registry.clone(),
            pull_role_arn: self.pull_role_arn.clone(),
            check_image: self.check_image.clone(),
            check_login: self.check_login,
        })
    }
}

/// Resolves every spec and refuses two that name one secret (two writes to it), judged
/// by the secret name: one conn id for two teams is two secrets, and a team's conn id
/// beside the same `<team>--<conn_id>` spelt out is one.
pub fn resolve_all(
    specs: &[TargetSpec],
    default_region: &Region,
    naming: &Naming,
) -> Result<Vec<Target>, TargetError> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let target = spec.resolve(default_region, naming)?;
            if let Some(&first) = seen.get(&target.secret_name) {
                return Err(TargetError::Duplicate {
                    first: first + 1,
                    first_spec: specs[first].describe(),
                    second: i + 1,
                    second_spec: spec.describe(),
                    secret_name: target.secret_name,
                });
            }
            seen.insert(target.secret_name.clone(), i);
            Ok(target)
        })
        .collect()
}

#[cfg(test)]
mod tests;
