//! The AWS adapters behind the core's traits: ECR and STS for `Logins`, Secrets Manager
//! and Parameter Store for `Store`, a registry's `/v2/` over HTTPS for `LoginCheck`, built
//! once per process from one `SdkConfig` and shared by every invocation. Errors leave here
//! as the core's `AwsError`, never with a response body (`sdk_error.rs`).

#![warn(missing_docs)]

pub mod batch;
pub mod ecr;
pub mod https;
pub mod login_check;
pub mod parameter_store;
mod sdk_error;
pub mod secrets_manager;
mod ssm_retries;
pub mod sts;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use ecr::Ecr;
use parameter_store::Parameters;
use refresher_core::config::backend::{AirflowBackend, StoreKind};
use refresher_core::ids::Region;
use refresher_core::login::{Login, LoginError, Logins, PullCheckError, RoleCredentials};
use refresher_core::login_check::LoginCheck;
use refresher_core::pull::{ImageRef, RoleArn};
use refresher_core::store::Store;
use secrets_manager::Secrets;
use std::sync::Arc;
use sts::Sts;

/// Where a run gets logins and keeps connections.
#[derive(Debug, Clone)]
pub struct Aws {
    /// ECR for logins, STS for pull roles.
    pub logins: Arc<dyn Logins>,
    /// The store Airflow's backend reads: Secrets Manager or Parameter Store.
    pub store: Arc<dyn Store>,
    /// Registries' `/v2/`, for `check_login`.
    pub login_check: Arc<dyn LoginCheck>,
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
                .session_name(sts::session_name(
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
            logins: Arc::new(AwsLogins::new(sdk)),
            store,
            login_check: Arc::new(login_check::Registries),
        }
    }
}

/// Whether the SDK finds credentials, checked before any call: one line saying where it
/// looked, or why they could not be loaded.
pub async fn check_credentials(sdk: &SdkConfig) -> Result<(), String> {
    let Some(provider) = sdk.credentials_provider() else {
        return Ok(());
    };
    match provider.provide_credentials().await {
        Ok(_) => Ok(()),
        Err(CredentialsError::CredentialsNotLoaded(_)) => Err(
            "no AWS credentials found: the SDK looked in AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY, the AWS_PROFILE profile in ~/.aws/config and \
             ~/.aws/credentials, web identity (AWS_WEB_IDENTITY_TOKEN_FILE), the ECS \
             container endpoint and EC2 instance metadata; under Lambda they come from \
             the function's role"
                .into(),
        ),
        // Never `e`'s sources as they are: they may hold a provider's raw answer.
        Err(e) => Err(format!(
            "AWS credentials could not be loaded: {}",
            sdk_error::credentials_error(&e)
        )),
    }
}

/// Logins from Amazon ECR, pull roles from AWS STS.
#[derive(Debug, Clone)]
pub struct AwsLogins {
    /// Fetches registry logins and checks pulls.
    pub ecr: Ecr,
    /// Assumes pull roles.
    pub sts: Sts,
}

impl AwsLogins {
    /// Both signing as the function's own credentials from `sdk`.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            ecr: Ecr::new(aws_sdk_ecr::Config::from(sdk), sdk.credentials_provider()),
            sts: Sts::new(sdk),
        }
    }
}

#[async_trait]
impl Logins for AwsLogins {
    async fn assume(&self, role: &RoleArn) -> Result<RoleCredentials, LoginError> {
        self.sts.assume(role).await
    }

    async fn login(
        &self,
        region: &Region,
        as_role: Option<&RoleCredentials>,
    ) -> Result<Login, LoginError> {
        self.ecr.login(region, as_role).await
    }

    async fn check_pull(
        &self,
        region: &Region,
        as_role: Option<&RoleCredentials>,
        registry_id: &str,
        image: &ImageRef,
    ) -> Result<(), PullCheckError> {
        self.ecr
            .check_pull(region, as_role, registry_id, image)
            .await
    }
}
