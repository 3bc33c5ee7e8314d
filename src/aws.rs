//! The AWS side of a run: the adapters behind the two seams, built once per process from
//! one `SdkConfig` and shared by every invocation.

use crate::backend::{AirflowBackend, StoreKind};
use crate::ecr::{Ecr, EcrError, PullCheckError, RegionToken};
use crate::parameters::Parameters;
use crate::pull::{ImageRef, RoleArn};
use crate::roles::{self, RoleError, Roles};
use crate::secrets::Secrets;
use crate::store::Store;
use crate::target::Region;
use crate::tokens::{RoleCredentials, TokenSource};
use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use futures::future::BoxFuture;
use std::sync::Arc;

/// Where a run gets tokens and keeps connections.
#[derive(Debug, Clone)]
pub struct Aws {
    pub tokens: Arc<dyn TokenSource>,
    pub store: Arc<dyn Store>,
}

impl Aws {
    /// The store is the one Airflow's backend reads, where it reads: its `region_name`,
    /// and as its `role_arn`.
    pub async fn new(sdk: &SdkConfig, backend: Option<&AirflowBackend>) -> Self {
        let mut config = sdk.to_builder();
        if let Some(region) = backend.and_then(|b| b.region.as_ref()) {
            config.set_region(Some(aws_config::Region::new(region.as_str().to_owned())));
        }
        if let Some(role) = backend.and_then(|b| b.role_arn.as_ref()) {
            // The client's identity cache keeps the assumed credentials until they near
            // expiry: one AssumeRole for a run, however many values it writes.
            let provider = AssumeRoleProvider::builder(role.as_str())
                .session_name(roles::session_name(
                    std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(),
                ))
                .configure(sdk)
                .build()
                .await;
            config.set_credentials_provider(Some(SharedCredentialsProvider::new(provider)));
        }
        let config = config.build();
        let store: Arc<dyn Store> = match backend.map_or(StoreKind::SecretsManager, |b| b.store) {
            StoreKind::SecretsManager => {
                Arc::new(Secrets::new(aws_sdk_secretsmanager::Client::new(&config)))
            }
            StoreKind::ParameterStore => {
                Arc::new(Parameters::new(aws_sdk_ssm::Client::new(&config)))
            }
        };
        Self {
            tokens: Arc::new(EcrTokens {
                ecr: Ecr::new(sdk),
                roles: Roles::new(sdk),
            }),
            store,
        }
    }
}

/// Tokens from Amazon ECR, pull roles from AWS STS.
#[derive(Debug, Clone)]
pub struct EcrTokens {
    pub ecr: Ecr,
    pub roles: Roles,
}

impl TokenSource for EcrTokens {
    fn assume<'a>(
        &'a self,
        role: &'a RoleArn,
    ) -> BoxFuture<'a, Result<RoleCredentials, RoleError>> {
        Box::pin(self.roles.assume(role))
    }

    fn token<'a>(
        &'a self,
        region: &'a Region,
        as_role: Option<&'a RoleCredentials>,
    ) -> BoxFuture<'a, Result<RegionToken, EcrError>> {
        Box::pin(self.ecr.token(region, as_role))
    }

    fn check_pull<'a>(
        &'a self,
        region: &'a Region,
        as_role: Option<&'a RoleCredentials>,
        registry_id: &'a str,
        image: &'a ImageRef,
    ) -> BoxFuture<'a, Result<(), PullCheckError>> {
        Box::pin(self.ecr.check_pull(region, as_role, registry_id, image))
    }
}
