//! A registry login, the one type from ECR's answer to the connection: the host Docker
//! logs in to, the user and password, when it stops working and as whom it was fetched.
//! Also the logins a run needs: one per (pull role, region), each role assumed once, all
//! concurrently; a role that cannot be assumed fails only the connections that use it.

use crate::aws_error::{AwsError, ErrorKind};
use crate::ids::Region;
use crate::pull::{ImageRef, RoleArn};
use crate::registry::Registry;
use crate::target::Target;
use async_trait::async_trait;
use base64::Engine;
use futures::future::join_all;
use secrecy::{ExposeSecret, SecretString};
use std::collections::{BTreeSet, HashMap};
use std::time::SystemTime;

/// A pull role's temporary credentials, free of SDK types. Debug never shows the secret.
#[derive(Debug, Clone)]
pub struct RoleCredentials {
    /// The session's access key id.
    pub access_key_id: String,
    /// The session's secret key; Debug never shows it.
    pub secret_access_key: SecretString,
    /// The token temporary keys need; `None` for long-term keys.
    pub session_token: Option<SecretString>,
    /// When the session ends; `None` when the provider does not say.
    pub expires: Option<SystemTime>,
}

/// What ends a login first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ends {
    /// The token's own `expiresAt`.
    Token,
    /// The credentials that fetched it (a pull role's session, or the function's own).
    Credentials,
}

/// A Docker login to one ECR registry.
#[derive(Debug, Clone)]
pub struct Login {
    /// The bare registry host: Docker matches credentials to images by host.
    pub host: String,
    /// The Docker user name (ECR's is `AWS`).
    pub username: String,
    /// The registry password: the ECR token.
    pub password: SecretString,
    /// When it stops working, as far as is known, and what ends it.
    pub expires: Option<(SystemTime, Ends)>,
    /// The pull role's credentials it was fetched with (`None`: the function's own): a
    /// pull check asks as the same principal.
    pub principal: Option<RoleCredentials>,
}

/// What is wrong with a token. Never carries any part of the token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token is not base64.
    #[error("the ECR authorization token is not valid base64")]
    NotBase64,
    /// The decoded token is not UTF-8.
    #[error("the ECR authorization token does not decode to UTF-8 text")]
    NotText,
    /// The decoded token has no `:`.
    #[error("the ECR authorization token is not of the form user:password")]
    NoSeparator,
    /// The user or password is empty.
    #[error("the ECR authorization token has an empty user or password")]
    Empty,
    /// The proxy endpoint has no usable host.
    #[error("ECR returned a proxy endpoint that is not an https URL with a host")]
    BadEndpoint,
}

/// Why a region's login could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// `GetAuthorizationToken` failed.
    #[error("getting the ECR token for {region}: {source}")]
    Call {
        /// The region asked.
        region: Region,
        /// Why the call failed.
        source: AwsError,
    },
    /// ECR answered without authorization data.
    #[error("ECR in {region} returned no authorization data")]
    NoData {
        /// The region asked.
        region: Region,
    },
    /// ECR's token could not be read.
    #[error("ECR in {region} returned an unusable token: {source}")]
    Token {
        /// The region asked.
        region: Region,
        /// What is wrong with the token.
        source: TokenError,
    },
    /// A `pull_role_arn` could not be assumed.
    #[error(
        "assuming pull_role_arn {role}: {source}. The role's trust policy must allow the \
         function's role to sts:AssumeRole, and the function's role needs sts:AssumeRole on it \
         (template parameter PullRoleArns)"
    )]
    Role {
        /// The role's ARN.
        role: String,
        /// Why `AssumeRole` failed.
        source: AwsError,
    },
}

/// Why pulling the `check_image` with the login would fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PullCheckError {
    /// The login's principal may not pull the image.
    #[error(
        "the token's principal may not pull {image} ({source}): allow it ecr:BatchGetImage, \
         ecr:GetDownloadUrlForLayer and ecr:BatchCheckLayerAvailability (template parameter \
         PullRepositoryArns), and for another account's registry its repository policy too"
    )]
    Denied {
        /// The `check_image` checked.
        image: String,
        /// The refusal.
        source: AwsError,
    },
    /// The image or its repository does not exist.
    #[error("{image} is not in the registry ({reason}): push it, or fix check_image")]
    Missing {
        /// The `check_image` checked.
        image: String,
        /// ECR's failure code and reason, or what was missing.
        reason: String,
    },
    /// The check itself failed.
    #[error("checking that {image} can be pulled: {source}")]
    Call {
        /// The `check_image` checked.
        image: String,
        /// Why the call failed.
        source: AwsError,
    },
}

/// Where logins come from (ECR, and STS for pull roles), and who can pull with them.
#[async_trait]
pub trait Logins: std::fmt::Debug + Send + Sync {
    /// Assumes a pull role, with the function's own credentials.
    async fn assume(&self, role: &RoleArn) -> Result<RoleCredentials, LoginError>;
    /// A region's login, fetched as the role when given, else as the function.
    async fn login(
        &self,
        region: &Region,
        as_role: Option<&RoleCredentials>,
    ) -> Result<Login, LoginError>;
    /// Whether the login's principal may pull `image` from `registry_id`.
    async fn check_pull(
        &self,
        region: &Region,
        as_role: Option<&RoleCredentials>,
        registry_id: &str,
        image: &ImageRef,
    ) -> Result<(), PullCheckError>;
}

impl Login {
    /// From `GetAuthorizationToken`'s authorization data (`base64("user:password")`, split
    /// on the first colon as Docker does, and the `proxyEndpoint`), fetched with `signer`'s
    /// credentials: the login is taken to end when the token or they expire, whichever is
    /// first. AWS documents only the token's `expiresAt`; field reports say a token dies
    /// with its credentials (docs/configuration.md, "How long a login lasts").
    pub fn from_authorization(
        token: &str,
        proxy_endpoint: &str,
        expires_at: Option<SystemTime>,
        signer: Option<&RoleCredentials>,
    ) -> Result<Self, TokenError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .map_err(|_| TokenError::NotBase64)?;
        let text = SecretString::from(String::from_utf8(bytes).map_err(|_| TokenError::NotText)?);
        let (user, password) = text
            .expose_secret()
            .split_once(':')
            .ok_or(TokenError::NoSeparator)?;
        if user.is_empty() || password.is_empty() {
            return Err(TokenError::Empty);
        }
        let credentials = signer.and_then(|c| c.expires);
        let expires = match (expires_at, credentials) {
            (Some(token), Some(credentials)) if credentials < token => {
                Some((credentials, Ends::Credentials))
            }
            (Some(token), _) => Some((token, Ends::Token)),
            (None, Some(credentials)) => Some((credentials, Ends::Credentials)),
            (None, None) => None,
        };
        Ok(Self {
            host: host_from_endpoint(proxy_endpoint)?,
            username: user.to_owned(),
            password: SecretString::from(password.to_owned()),
            expires,
            principal: None,
        })
    }

    /// The same login for the host a connection logs in to: the token's own registry,
    /// another account's registry in the same region and partition (same token), or a
    /// host given in full.
    pub fn for_registry(&self, registry: Option<&Registry>) -> Self {
        let host = match registry {
            None => self.host.clone(),
            Some(Registry::Host(host)) => host.as_str().to_owned(),
            Some(Registry::Account(account)) => match self.host.split_once('.') {
                Some((_, rest)) => format!("{account}.{rest}"),
                None => self.host.clone(),
            },
        };
        Self {
            host,
            ..self.clone()
        }
    }

    /// The account whose registry the login's host is.
    pub fn registry_id(&self) -> &str {
        self.host.split('.').next().unwrap_or_default()
    }
}

/// The bare registry host of a `proxyEndpoint` (`https://<acct>.dkr.ecr.<region>.<domain>`):
/// no scheme, port or path is kept.
fn host_from_endpoint(endpoint: &str) -> Result<String, TokenError> {
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .unwrap_or(endpoint);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.split(':').next().unwrap_or_default();
    if host.is_empty() || !host.contains('.') {
        return Err(TokenError::BadEndpoint);
    }
    Ok(host.to_ascii_lowercase())
}

type Key = (Option<RoleArn>, Region);

/// Every login a run needs, by (role, region), and the roles assumed for them.
#[derive(Debug, Default)]
pub(crate) struct RunLogins {
    logins: HashMap<Key, Result<Login, LoginError>>,
    roles: HashMap<RoleArn, Result<RoleCredentials, LoginError>>,
}

impl RunLogins {
    /// Fetches every login `targets` need: each role assumed once, all concurrently.
    pub(crate) async fn fetch(source: &dyn Logins, targets: &[Target]) -> Self {
        let mut logins = Self::default();
        logins.fetch_more(source, targets).await;
        logins
    }

    /// Fetches what `targets` need that is not here yet (an existing connection that keeps
    /// its own registry may need another region's login): still one `AssumeRole` per role
    /// and one token per (role, region) in a run.
    pub(crate) async fn fetch_more<'t>(
        &mut self,
        source: &dyn Logins,
        targets: impl IntoIterator<Item = &'t Target>,
    ) {
        let wanted: BTreeSet<Key> = targets
            .into_iter()
            .map(key)
            .filter(|k| !self.logins.contains_key(k))
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
            // A pull role's login is only ever fetched with that role's credentials.
            let credentials = match &role {
                None => Ok(None),
                Some(r) => match roles.get(r) {
                    Some(Ok(creds)) => Ok(Some(creds.clone())),
                    Some(Err(e)) => Err(e.clone()),
                    None => Err(not_assumed(r)),
                },
            };
            async move {
                let result = match credentials {
                    Ok(principal) => source
                        .login(&region, principal.as_ref())
                        .await
                        .map(|login| Login { principal, ..login }),
                    Err(e) => Err(e),
                };
                ((role, region), result)
            }
        }))
        .await;
        self.logins.extend(fetched);
    }

    /// The login for `target`'s role and region, for its own registry host.
    pub(crate) fn get(&self, target: &Target) -> Result<Login, LoginError> {
        match self.logins.get(&key(target)) {
            Some(Ok(login)) => Ok(login.for_registry(target.registry.as_ref())),
            Some(Err(e)) => Err(e.clone()),
            // Every target's key is fetched before it is asked for.
            None => Err(LoginError::NoData {
                region: target.region.clone(),
            }),
        }
    }
}

/// A role the run did not assume: never fall back to the function's own credentials.
fn not_assumed(role: &RoleArn) -> LoginError {
    LoginError::Role {
        role: role.to_string(),
        source: AwsError::new(
            "sts:AssumeRole",
            ErrorKind::Other,
            None,
            Some("the role was not assumed in this run"),
        ),
    }
}

fn key(target: &Target) -> Key {
    (target.pull_role_arn.clone(), target.region.clone())
}

#[cfg(test)]
mod tests;
