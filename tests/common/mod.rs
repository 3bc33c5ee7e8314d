//! Shared set-up for tests against the local AWS (moto server) that `make test` starts.
#![allow(dead_code)]
// each test crate uses a different part
// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod binary;
pub mod cloudformation;
pub mod fake_aws;
pub mod intercepted;
pub mod memory;
pub mod mock;
pub mod mock_app;
pub mod tls_world;

use airflow_ecr_refresher::handler::App;
use aws_config::SdkConfig;
use aws_sdk_secretsmanager::Client;
use refresher_core::config::Settings;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};

/// moto's ECR password: its token decodes to `AWS:123456789012-auth-token`.
pub const MOTO_PASSWORD: &str = "123456789012-auth-token";
pub const OWN_HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
/// An existing connection with an expired login.
pub const OLD_CONNECTION: &str =
    r#"{"conn_type":"docker","host":"h.example.com","login":"AWS","password":"old"}"#;

pub async fn sdk() -> SdkConfig {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok_and(|u| u.starts_with("http://127.0.0.1")),
        "AWS_ENDPOINT_URL must point at the local moto server: run the tests with `make test` \
         (or scripts/with-moto.sh cargo test --features local-aws-tests)"
    );
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A prefix no other test uses, so tests can share one moto server.
pub fn unique_prefix(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!(
        "test/{name}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn settings(vars: &[(&str, &str)]) -> Settings {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|k| vars.get(k).cloned()).expect("valid test settings")
}

pub async fn app(vars: &[(&str, &str)]) -> App {
    App::new(&sdk().await, Ok(settings(vars))).await
}

pub async fn secrets() -> Client {
    Client::new(&sdk().await)
}

pub async fn get(client: &Client, name: &str) -> Option<String> {
    match client.get_secret_value().secret_id(name).send().await {
        Ok(out) => out.secret_string().map(str::to_owned),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            None
        }
        Err(e) => panic!("reading {name}: {e:?}"),
    }
}

pub async fn create(client: &Client, name: &str, value: &str) {
    client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create test secret");
}

pub async fn version_count(client: &Client, name: &str) -> usize {
    client
        .list_secret_version_ids()
        .secret_id(name)
        .include_deprecated(true)
        .send()
        .await
        .expect("list versions")
        .versions()
        .len()
}

pub fn json(value: &str) -> serde_json::Value {
    serde_json::from_str(value).expect("secret is JSON")
}

/// Each failed connection of a run and its typed cause, in configured order.
pub fn failures(
    err: &airflow_ecr_refresher::app::RunError,
) -> Vec<(String, refresher_core::failure::TargetFailure)> {
    match err {
        airflow_ecr_refresher::app::RunError::Refresh(e) => e
            .failed
            .iter()
            .map(|f| (f.conn_id.clone(), f.cause.clone()))
            .collect(),
        other => panic!("expected a refresh failure, got {other}"),
    }
}

/// A Lambda context whose deadline is `left` from now.
pub fn deadline_in(left: std::time::Duration) -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    context.deadline = (now + left).as_millis() as u64;
    context
}
