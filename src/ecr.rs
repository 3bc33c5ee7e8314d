//! Amazon ECR: one authorization token per region.

use crate::aws_error::AwsError;
use crate::target::Region;
use crate::token::{self, RegistryLogin, TokenError};
use aws_config::SdkConfig;
use std::time::SystemTime;

const ACTION: &str = "ecr:GetAuthorizationToken";

/// A region's token: its login, its own registry host and when it expires.
#[derive(Debug, Clone)]
pub struct RegionToken {
    pub endpoint_host: String,
    pub login: RegistryLogin,
    pub expires_at: Option<SystemTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcrError {
    #[error("getting the ECR token for {region}: {source}")]
    Call { region: Region, source: AwsError },
    #[error("ECR in {region} returned no authorization data")]
    NoData { region: Region },
    #[error("ECR in {region} returned an unusable token: {source}")]
    Token { region: Region, source: TokenError },
}

/// ECR clients for any region, sharing one configuration and HTTP client.
#[derive(Debug, Clone)]
pub struct Ecr {
    config: aws_sdk_ecr::Config,
}

impl Ecr {
    pub fn new(config: &SdkConfig) -> Self {
        Self::from_conf(aws_sdk_ecr::Config::from(config))
    }

    /// From a client configuration whose region each call replaces.
    pub fn from_conf(config: aws_sdk_ecr::Config) -> Self {
        Self { config }
    }

    fn client(&self, region: &Region) -> aws_sdk_ecr::Client {
        let conf = self
            .config
            .to_builder()
            .region(aws_config::Region::new(region.as_str().to_owned()))
            .build();
        aws_sdk_ecr::Client::from_conf(conf)
    }

    pub async fn token(&self, region: &Region) -> Result<RegionToken, EcrError> {
        let output = self
            .client(region)
            .get_authorization_token()
            .send()
            .await
            .map_err(|e| EcrError::Call {
                region: region.clone(),
                source: AwsError::from_sdk(ACTION, &e),
            })?;
        let data = output
            .authorization_data()
            .first()
            .ok_or_else(|| EcrError::NoData {
                region: region.clone(),
            })?;
        let bad = |source| EcrError::Token {
            region: region.clone(),
            source,
        };
        let login =
            token::decode_authorization_token(data.authorization_token().unwrap_or_default())
                .map_err(bad)?;
        let endpoint_host =
            token::host_from_endpoint(data.proxy_endpoint().unwrap_or_default()).map_err(bad)?;
        let expires_at = data
            .expires_at()
            .and_then(|t| SystemTime::try_from(*t).ok());
        Ok(RegionToken {
            endpoint_host,
            login,
            expires_at,
        })
    }
}
