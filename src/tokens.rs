//! The tokens a run needs: one per (pull role, region), each role assumed once, all
//! concurrently. A role that cannot be assumed fails only the connections that use it.

use crate::ecr::{Ecr, EcrError, RegionToken};
use crate::pull::RoleArn;
use crate::roles::{RoleError, Roles};
use crate::target::{Region, Target};
use aws_credential_types::Credentials;
use futures::future::join_all;
use std::collections::{BTreeSet, HashMap};

/// A token, and the credentials it was fetched with (a pull role's, or none for the
/// function's own): a pull check must ask as the same principal.
#[derive(Debug, Clone)]
pub struct Token {
    pub token: RegionToken,
    pub credentials: Option<Credentials>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenFailure {
    #[error(transparent)]
    Role(#[from] RoleError),
    #[error(transparent)]
    Ecr(#[from] EcrError),
}

type Key = (Option<RoleArn>, Region);

/// Every token a run needs, by (role, region).
#[derive(Debug)]
pub struct Tokens(HashMap<Key, Result<Token, TokenFailure>>);

impl Tokens {
    pub async fn fetch(ecr: &Ecr, roles: &Roles, targets: &[Target]) -> Self {
        let wanted: BTreeSet<Key> = targets.iter().map(key).collect();
        let distinct_roles: BTreeSet<RoleArn> =
            wanted.iter().filter_map(|(r, _)| r.clone()).collect();
        let assumed: HashMap<RoleArn, Result<Credentials, RoleError>> =
            join_all(distinct_roles.into_iter().map(|role| async move {
                let assumed = roles.assume(&role).await;
                (role, assumed)
            }))
            .await
            .into_iter()
            .collect();
        let fetched = join_all(wanted.into_iter().map(|(role, region)| {
            // A pull role's token is only ever fetched with that role's credentials.
            let credentials = match &role {
                None => Ok(None),
                Some(r) => match assumed.get(r) {
                    Some(Ok(creds)) => Ok(Some(creds.clone())),
                    Some(Err(e)) => Err(TokenFailure::Role(e.clone())),
                    None => Err(TokenFailure::Role(RoleError::not_assumed(r))),
                },
            };
            async move {
                let result = match credentials {
                    Ok(credentials) => ecr
                        .token(&region, credentials.as_ref())
                        .await
                        .map(|token| Token { token, credentials })
                        .map_err(TokenFailure::Ecr),
                    Err(e) => Err(e),
                };
                ((role, region), result)
            }
        }))
        .await;
        Self(fetched.into_iter().collect())
    }

    pub fn get(&self, target: &Target) -> Result<&Token, TokenFailure> {
        match self.0.get(&key(target)) {
            Some(result) => result.as_ref().map_err(Clone::clone),
            // Every target's key was fetched above; this cannot be reached.
            None => Err(TokenFailure::Ecr(EcrError::NoData {
                region: target.region.clone(),
            })),
        }
    }
}

fn key(target: &Target) -> Key {
    (target.pull_role_arn.clone(), target.region.clone())
}
