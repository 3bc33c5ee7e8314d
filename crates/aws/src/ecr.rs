//! Amazon ECR: one authorization token per region (and pull role), and a pull check made
//! as the token's principal.

use crate::sdk_error::from_sdk;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_ecr::types::ImageIdentifier;
use refresher_core::aws_error::ErrorKind;
use refresher_core::ids::Region;
use refresher_core::login::{Login, LoginError, PullCheckError, RoleCredentials};
use refresher_core::pull::{ImageId, ImageRef};
use secrecy::{ExposeSecret, SecretString};
use std::time::SystemTime;

const ACTION: &str = "ecr:GetAuthorizationToken";
const PULL: &str = "ecr:BatchGetImage";

/// Every manifest type a pull may meet, so no image fails the check for its format. The
/// API Reference (`BatchGetImage`, `acceptedMediaTypes`) lists only the single-manifest
/// types, but ECR stores manifest lists and OCI indexes (ECR user guide, "Pushing a
/// multi-architecture image") and AWS's own containerd resolver for ECR asks for exactly
/// these (awslabs/amazon-ecr-containerd-resolver, `ecr/base.go`).
const MEDIA_TYPES: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v1+json",
];

/// ECR clients for any region, sharing one configuration and HTTP client.
#[derive(Debug, Clone)]
pub struct Ecr {
    config: aws_sdk_ecr::Config,
    /// The function's own credentials, to learn when they expire.
    own: Option<SharedCredentialsProvider>,
}

impl Ecr {
    /// From a client configuration whose region each call replaces, and the function's
    /// own credentials (`SdkConfig::credentials_provider`): a token fetched without a pull
    /// role is signed with them, and reported to expire no later than they do.
    pub fn new(config: aws_sdk_ecr::Config, own: Option<SharedCredentialsProvider>) -> Self {
        Self { config, own }
    }

    /// A client for `region`, signing with `as_role` (a pull role's session, or the
    /// function's own credentials as resolved for this call) when given.
    fn client(&self, region: &Region, as_role: Option<&RoleCredentials>) -> aws_sdk_ecr::Client {
        let mut conf = self
            .config
            .to_builder()
            .region(aws_config::Region::new(region.as_str().to_owned()));
        if let Some(role) = as_role {
            conf = conf.credentials_provider(Credentials::new(
                &role.access_key_id,
                role.secret_access_key.expose_secret(),
                role.session_token
                    .as_ref()
                    .map(|t| t.expose_secret().to_owned()),
                role.expires,
                "refresher-session",
            ));
        }
        aws_sdk_ecr::Client::from_conf(conf.build())
    }

    /// The function's own credentials as the SDK resolves them now, when they say when
    /// they expire. Lambda's (environment variables) never do; a profile's assumed role,
    /// SSO or web identity session does.
    async fn own_credentials(&self) -> Option<RoleCredentials> {
        let credentials = self.own.as_ref()?.provide_credentials().await.ok()?;
        let expires = credentials.expiry()?;
        Some(RoleCredentials {
            access_key_id: credentials.access_key_id().to_owned(),
            secret_access_key: SecretString::from(credentials.secret_access_key().to_owned()),
            session_token: credentials
                .session_token()
                .map(|t| SecretString::from(t.to_owned())),
            expires: Some(expires),
        })
    }

    /// A region's login, as `as_role` or as the function.
    pub async fn login(
        &self,
        region: &Region,
        as_role: Option<&RoleCredentials>,
    ) -> Result<Login, LoginError> {
        // Signed with exactly the credentials whose expiry is reported: the SDK's identity
        // cache could otherwise sign with older ones.
        let own = match as_role {
            Some(_) => None,
            None => self.own_credentials().await,
        };
        let signer = as_role.or(own.as_ref());
        let output = self
            .client(region, signer)
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| LoginError::Call {
                region: region.clone(),
                source: from_sdk(ACTION, &e),
            })?;
        let data = output
            .authorization_data()
            .first()
            .ok_or_else(|| LoginError::NoData {
                region: region.clone(),
            })?;
        let expires_at = data
            .expires_at()
            .and_then(|t| SystemTime::try_from(*t).ok());
        Login::from_authorization(
            data.authorization_token().unwrap_or_default(),
            data.proxy_endpoint().unwrap_or_default(),
            expires_at,
            signer,
        )
        .map_err(|source| LoginError::Token {
            region: region.clone(),
            source,
        })
    }
}

impl Ecr {
    /// Asks ECR, as the token's principal, for `image`'s manifest in `registry_id`: what a
    /// `docker pull` does first. `BatchGetImage` answers a missing tag with a failure entry
    /// and a missing repository with `RepositoryNotFoundException`.
    pub async fn check_pull(
        &self,
        region: &Region,
        as_role: Option<&RoleCredentials>,
        registry_id: &str,
        image: &ImageRef,
    ) -> Result<(), PullCheckError> {
        let id = match &image.id {
            ImageId::Tag(tag) => ImageIdentifier::builder().image_tag(tag),
            ImageId::Digest(digest) => ImageIdentifier::builder().image_digest(digest),
        };
        let shown = image.to_string();
        let output = self
            .client(region, as_role)
            .batch_get_image()
            .registry_id(registry_id)
            .repository_name(&image.repository)
            .image_ids(id.build())
            .set_accepted_media_types(Some(MEDIA_TYPES.iter().map(|m| (*m).to_owned()).collect()))
            .send()
            .await
            .map_err(|e| {
                let source = from_sdk(PULL, &e);
                let service = e.as_service_error();
                if service.is_some_and(|s| s.is_repository_not_found_exception()) {
                    PullCheckError::Missing {
                        image: shown.clone(),
                        reason: "no such repository".into(),
                    }
                } else if source.kind == ErrorKind::AccessDenied {
                    PullCheckError::Denied {
                        image: shown.clone(),
                        source,
                    }
                } else {
                    PullCheckError::Call {
                        image: shown.clone(),
                        source,
                    }
                }
            })?;
        if let Some(failure) = output.failures().first() {
            let reason = match (failure.failure_code(), failure.failure_reason()) {
                (Some(code), Some(reason)) => format!("{}: {reason}", code.as_str()),
                (Some(code), None) => code.as_str().to_owned(),
                (None, reason) => reason.unwrap_or("no reason given").to_owned(),
            };
            return Err(PullCheckError::Missing {
                image: shown,
                reason,
            });
        }
        if output.images().is_empty() {
            return Err(PullCheckError::Missing {
                image: shown,
                reason: "no image returned".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecr::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
    use futures::FutureExt;
    use refresher_core::partition;

    fn sdk_ecr_endpoint(region: &str) -> String {
        let params = Params::builder().region(region).build().unwrap();
        let endpoint = DefaultResolver::new()
            .resolve_endpoint(&params)
            .now_or_never()
            .unwrap()
            .unwrap();
        endpoint.url().to_owned()
    }

    /// The core's partition table, which knows no SDK, against the SDK's own resolver.
    #[test]
    fn the_table_agrees_with_the_sdk_endpoint_resolver() {
        // The SDK's ECR endpoint is `api.ecr.<region>.<dns suffix of its partition>`.
        let probes = [
            "xx-nowhere-1",
            "us-gov-future-9",
            "cn-south-7",
            "eusc-de-west-2",
        ];
        for region in partition::known_regions().chain(probes) {
            assert_eq!(
                sdk_ecr_endpoint(region),
                format!(
                    "https://api.ecr.{region}.{}",
                    partition::of(region).dns_suffix
                ),
                "{region}"
            );
        }
    }
}
