//! The tokens a run needs: one per (pull role, region), each role assumed once, all
//! concurrently. A role that cannot be assumed fails only the connections that use it.
//! The token source is a seam: ECR and STS behind it in production (`aws.rs`), an
//! in-memory one in the flow tests (`memory.rs`).

use crate::ecr::{EcrError, PullCheckError, RegionToken};
use crate::pull::{ImageRef, RoleArn};
use crate::roles::RoleError;
use crate::target::{Region, Target};
use futures::future::{BoxFuture, join_all};
use secrecy::SecretString;
use std::collections::{BTreeSet, HashMap};
use std::time::SystemTime;

/// A pull role's temporary credentials, free of SDK types. Debug never shows the secret.
#[derive(Debug, Clone)]
pub struct RoleCredentials {
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
    pub expires: Option<SystemTime>,
}

/// Where tokens come from, and who can pull with them.
pub trait TokenSource: std::fmt::Debug + Send + Sync {
    fn assume<'a>(&'a self, role: &'a RoleArn)
    -> BoxFuture<'a, Result<RoleCredentials, RoleError>>;

    /// A region's token, fetched as the role when given, else as the function.
    fn token<'a>(
        &'a self,
        region: &'a Region,
        as_role: Option<&'a RoleCredentials>,
    ) -> BoxFuture<'a, Result<RegionToken, EcrError>>;

    /// Whether the token's principal may pull `image` from `registry_id`.
    fn check_pull<'a>(
        &'a self,
        region: &'a Region,
        as_role: Option<&'a RoleCredentials>,
        registry_id: &'a str,
        image: &'a ImageRef,
    ) -> BoxFuture<'a, Result<(), PullCheckError>>;
}

/// A token, and the role credentials it was fetched with (none for the function's own):
/// a pull check must ask as the same principal.
#[derive(Debug, Clone)]
pub struct Token {
    pub token: RegionToken,
    pub credentials: Option<RoleCredentials>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenFailure {
    #[error(transparent)]
    Role(#[from] RoleError),
    #[error(transparent)]
    Ecr(#[from] EcrError),
}

type Key = (Option<RoleArn>, Region);

/// Every token a run needs, by (role, region), and the roles assumed for them.
#[derive(Debug, Default)]
pub struct Tokens {
    tokens: HashMap<Key, Result<Token, TokenFailure>>,
    roles: HashMap<RoleArn, Result<RoleCredentials, RoleError>>,
}

impl Tokens {
    pub async fn fetch(source: &dyn TokenSource, targets: &[Target]) -> Self {
        let mut tokens = Self::default();
        tokens.fetch_more(source, targets).await;
        tokens
    }

    /// Fetches what `targets` need that is not here yet (an existing connection that keeps
    /// its own registry may need another region's token): still one `AssumeRole` per role
    /// and one token per (role, region) in a run.
    pub async fn fetch_more<'t>(
        &mut self,
        source: &dyn TokenSource,
        targets: impl IntoIterator<Item = &'t Target>,
    ) {
        let wanted: BTreeSet<Key> = targets
            .into_iter()
            .map(key)
            .filter(|k| !self.tokens.contains_key(k))
            .collect();
        let new_roles: BTreeSet<RoleArn> = wanted
            .iter()
            .filter_map(|(r, _)| r.clone())
            .filter(|r| !self.roles.contains_key(r))
            .collect();
        let assumed = join_all(new_roles.into_iter().map(|role| async move {
            let assumed = source.assume(&role).await;
            (role, assumed)
        }))
        .await;
        self.roles.extend(assumed);
        let roles = &self.roles;
        let fetched = join_all(wanted.into_iter().map(|(role, region)| {
            // A pull role's token is only ever fetched with that role's credentials.
            let credentials = match &role {
                None => Ok(None),
                Some(r) => match roles.get(r) {
                    Some(Ok(creds)) => Ok(Some(creds.clone())),
                    Some(Err(e)) => Err(TokenFailure::Role(e.clone())),
                    None => Err(TokenFailure::Role(RoleError::not_assumed(r))),
                },
            };
            async move {
                let result = match credentials {
                    Ok(credentials) => source
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
        self.tokens.extend(fetched);
    }

    pub fn get(&self, target: &Target) -> Result<&Token, TokenFailure> {
        match self.tokens.get(&key(target)) {
            Some(result) => result.as_ref().map_err(Clone::clone),
            // Every target's key is fetched before it is asked for; this cannot be reached.
            None => Err(TokenFailure::Ecr(EcrError::NoData {
                region: target.region.clone(),
            })),
        }
    }
}

fn key(target: &Target) -> Key {
    (target.pull_role_arn.clone(), target.region.clone())
}
