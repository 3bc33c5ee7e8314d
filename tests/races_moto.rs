//! Another writer between the run's re-read and its write, against moto server: the real
//! adapters see what their write replaced, put the other writer's value back as current,
//! and report the connection.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use airflow_ecr_refresher::app::App;
use aws_sdk_ssm::types::ParameterType;
use common::intercepted::{Hook, Intercepted};
use common::*;
use refresher_aws::parameter_store::Parameters;
use refresher_aws::secrets_manager::Secrets;
use refresher_aws::{Aws, AwsLogins};
use refresher_core::connection::ConnectionError;
use refresher_core::failure::TargetFailure;
use refresher_core::report::Action;
use refresher_core::request::Request;
use refresher_core::store::Store;
use serde_json::json;
use std::sync::Arc;

const POSTGRES: &str = "postgresql://app:pw@db.example.com:5432/app";
const THEIR_DOCKER: &str =
    r#"{"conn_type":"docker","login":"AWS","password":"old","extra":{"email":"ml@example.com"}}"#;
const BACKEND: &str =
    "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend";

async fn app(store: Arc<dyn Store>, hook: Hook, vars: &[(&str, &str)]) -> App {
    let sdk = sdk().await;
    let aws = Aws {
        logins: Arc::new(AwsLogins::new(&sdk)),
        store: Arc::new(Intercepted::once(store, hook)),
        login_check: Arc::new(common::memory::MemoryRegistry::default()),
    };
    App::with_aws(aws, Ok(settings(vars)), Some("us-east-1".into()))
}

fn raced_on_postgres() -> TargetFailure {
    TargetFailure::Raced(Box::new(TargetFailure::Value(ConnectionError::NotDocker(
        "postgresql".into(),
    ))))
}

#[tokio::test]
async fn a_secret_written_between_the_re_read_and_the_write_is_current_afterwards() {
    let prefix = unique_prefix("race-sm");
    let name = format!("{prefix}/c");
    let client = secrets().await;
    create(&client, &name, OLD_CONNECTION).await;
    let theirs = (client.clone(), name.clone());
    let hook: Hook = Box::new(move || {
        Box::pin(async move {
            let (client, name) = theirs;
            let put = client
                .put_secret_value()
                .secret_id(name)
                .secret_string(POSTGRES);
            put.send().await.expect("their write");
        })
    });
    let store = Arc::new(Secrets::new(client.clone()));
    let vars = [
        ("CONNECTIONS", "c"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            prefix.as_str(),
        ),
    ];
    let app = app(store, hook, &vars).await;
    let err = app
        .run(Request::from_event(json!({})).unwrap())
        .await
        .unwrap_err();
    assert_eq!(failures(&err), [("c".to_owned(), raced_on_postgres())]);
    // AWSCURRENT, which Airflow reads. moto 5.2.5 moves the label back without moving its
    // default version, so a read without a stage would still show the run's write; on
    // AWS a read without a stage is the AWSCURRENT one (API Reference, GetSecretValue).
    let current = client
        .get_secret_value()
        .secret_id(&name)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .unwrap();
    assert_eq!(current.secret_string(), Some(POSTGRES));
}

async fn ssm_app(prefix: &str, hook: Hook) -> App {
    let kwargs = json!({"connections_prefix": format!("/{prefix}")}).to_string();
    let vars = [
        ("AIRFLOW__SECRETS__BACKEND", BACKEND),
        ("AIRFLOW__SECRETS__BACKEND_KWARGS", kwargs.as_str()),
        ("CONNECTIONS", "c"),
    ];
    let client = aws_sdk_ssm::Client::new(&sdk().await);
    app(Arc::new(Parameters::new(client)), hook, &vars).await
}

fn ssm_writer(client: &aws_sdk_ssm::Client, name: &str, value: &'static str) -> Hook {
    let (client, name) = (client.clone(), name.to_owned());
    Box::new(move || {
        Box::pin(async move {
            let put = client.put_parameter().name(name).value(value);
            let put = put.r#type(ParameterType::SecureString).overwrite(true);
            put.send().await.expect("their write");
        })
    })
}

/// The parameter as it was before the run: version 1.
async fn seed_parameter(client: &aws_sdk_ssm::Client, name: &str) {
    let first = client.put_parameter().name(name).value(OLD_CONNECTION);
    first
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();
}

async fn latest(client: &aws_sdk_ssm::Client, name: &str) -> (String, i64) {
    let got = client.get_parameter().name(name).with_decryption(true);
    let parameter = got.send().await.unwrap().parameter.unwrap();
    (parameter.value.unwrap(), parameter.version)
}

#[tokio::test]
async fn a_parameter_written_between_the_re_read_and_the_write_is_current_afterwards() {
    let prefix = unique_prefix("race-ssm");
    let name = format!("/{prefix}/c");
    let client = aws_sdk_ssm::Client::new(&sdk().await);
    seed_parameter(&client, &name).await;
    let app = ssm_app(&prefix, ssm_writer(&client, &name, POSTGRES)).await;
    let err = app
        .run(Request::from_event(json!({})).unwrap())
        .await
        .unwrap_err();
    assert_eq!(failures(&err), [("c".to_owned(), raced_on_postgres())]);
    // 1 the original, 2 theirs, 3 the run's, 4 theirs again: Airflow reads the latest.
    assert_eq!(latest(&client, &name).await, (POSTGRES.to_owned(), 4));
}

#[tokio::test]
async fn a_docker_change_that_slipped_in_is_kept_and_the_login_written_on_top() {
    let prefix = unique_prefix("race-ssm-docker");
    let name = format!("/{prefix}/c");
    let client = aws_sdk_ssm::Client::new(&sdk().await);
    seed_parameter(&client, &name).await;
    let app = ssm_app(&prefix, ssm_writer(&client, &name, THEIR_DOCKER)).await;
    let report = app
        .run(Request::from_event(json!({})).unwrap())
        .await
        .unwrap();
    assert_eq!(report.connections[0].action, Action::Updated);
    let (value, version) = latest(&client, &name).await;
    let value = json(&value);
    assert_eq!(
        value["extra"]["email"], "ml@example.com",
        "their change kept"
    );
    assert_eq!(value["password"], MOTO_PASSWORD);
    assert_eq!(
        version, 5,
        "theirs, the run's, theirs again, the run's on top"
    );
}
