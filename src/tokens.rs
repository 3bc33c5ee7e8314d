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

/// What ends a login first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ends {
    /// The token's own `expiresAt`.
    Token,
    /// The credentials that fetched it (a pull role's session, or the function's own).
    Credentials,
}

impl Token {
    /// When the login stops working, as far as is known: the token's `expiresAt`, or the
    /// expiry of the credentials that fetched it when that comes first. AWS documents
    /// only the former; field reports say a token dies with its credentials, so the
    /// earlier is reported (README, "How long a login lasts").
    pub fn expires(&self) -> Option<(SystemTime, Ends)> {
        let role = self.credentials.as_ref().and_then(|c| c.expires);
        let credentials = role.into_iter().chain(self.token.credentials_expire).min();
        match (self.token.expires_at, credentials) {
            (Some(token), Some(credentials)) if credentials < token => {
                Some((credentials, Ends::Credentials))
            }
            (Some(token), _) => Some((token, Ends::Token)),
            (None, Some(credentials)) => Some((credentials, Ends::Credentials)),
            (None, None) => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::RegistryLogin;
    use std::time::{Duration, UNIX_EPOCH};

    fn token(expires_at: Option<u64>, signer: Option<u64>, role: Option<u64>) -> Token {
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        Token {
            token: RegionToken {
                endpoint_host: "h".into(),
                login: RegistryLogin {
                    username: "AWS".into(),
                    password: SecretString::from("p".to_owned()),
                },
                expires_at: expires_at.map(at),
                credentials_expire: signer.map(at),
            },
            credentials: role.map(|s| RoleCredentials {
                access_key_id: "ASIA".into(),
                secret_access_key: SecretString::from("s".to_owned()),
                session_token: None,
                expires: Some(at(s)),
            }),
        }
    }

    #[test]
    fn a_login_lasts_until_the_token_or_its_credentials_expire_whichever_is_first() {
        let at = |s: u64| Some((UNIX_EPOCH + Duration::from_secs(s), Ends::Token));
        let by_credentials =
            |s: u64| Some((UNIX_EPOCH + Duration::from_secs(s), Ends::Credentials));
        // A pull role's one-hour session ends before the 12-hour token.
        assert_eq!(
            token(Some(43_200), None, Some(3600)).expires(),
            by_credentials(3600)
        );
        assert_eq!(
            token(Some(43_200), Some(3600), None).expires(),
            by_credentials(3600)
        );
        assert_eq!(
            token(Some(43_200), Some(7200), Some(3600)).expires(),
            by_credentials(3600)
        );
        // Credentials that outlive the token, or say nothing, leave the token's expiry.
        assert_eq!(
            token(Some(43_200), Some(50_000), None).expires(),
            at(43_200)
        );
        assert_eq!(token(Some(43_200), None, None).expires(), at(43_200));
        assert_eq!(
            token(None, None, Some(3600)).expires(),
            by_credentials(3600)
        );
        assert_eq!(token(None, None, None).expires(), None);
    }
}
