//! The deploy-time refresh against the local moto server: CloudFormation's Create and
//! Update refresh the configured connections and answer SUCCESS; a connection that cannot
//! be refreshed fails the deploy, named in the reason, and the others are still written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cloudformation::*;
use common::fake_aws::FakeAws;
use common::*;
use std::collections::HashMap;
use std::time::Duration;

/// The function as the template configures it, its AWS the local moto.
fn deploy(
    kind: &str,
    prefix: &str,
    connections: &str,
) -> (common::fake_aws::Outcome, serde_json::Value) {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let runtime = FakeAws::invoking(
        HashMap::new(),
        &request(kind).to_string(),
        Duration::from_secs(60),
    );
    let world = bucket();
    let outcome = invoke(
        &runtime,
        &world,
        &[
            ("AWS_ENDPOINT_URL", endpoint.as_str()),
            ("AWS_ENDPOINT_URL_STS", endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            (
                "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
                prefix,
            ),
            ("CONNECTIONS", connections),
        ],
    );
    let mut responses = responses(&world);
    assert_eq!(responses.len(), 1, "one answer: {}", outcome.output);
    assert!(!outcome.output.contains(SIGNATURE));
    (outcome, responses.remove(0).1)
}

#[tokio::test]
async fn create_and_update_refresh_the_connections_and_answer_success() {
    let client = secrets().await;
    let prefix = unique_prefix("deploy");
    let name = format!("{prefix}/docker_ecr");
    let (_, body) = deploy("Create", &prefix, "docker_ecr");
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["Refreshed"], 1);
    assert_eq!(
        body["PhysicalResourceId"],
        "airflow-ecr-refresher-DeployRefresh"
    );
    let written = json(&get(&client, &name).await.unwrap());
    assert_eq!(written["password"], MOTO_PASSWORD);
    assert_eq!(written["host"], OWN_HOST);

    let (outcome, body) = deploy("Update", &prefix, "docker_ecr");
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(
        body["PhysicalResourceId"],
        "airflow-ecr-refresher-DeployRefresh"
    );
    assert_eq!(
        version_count(&client, &name).await,
        2,
        "the update wrote again"
    );
    // The refresh counted in the metrics like any other.
    assert!(
        outcome.output.contains("\"ConnectionsRefreshed\":1"),
        "{}",
        outcome.output
    );
}

#[tokio::test]
async fn a_failing_connection_fails_the_deploy_naming_it_and_the_others_are_written() {
    let client = secrets().await;
    let prefix = unique_prefix("deploy-fail");
    let postgres = r#"{"conn_type":"postgres","host":"db.example.com","login":"app","password":"Pg-Sentinel"}"#;
    create(&client, &format!("{prefix}/warehouse"), postgres).await;
    let (outcome, body) = deploy("Create", &prefix, "docker_ecr,warehouse");
    assert_eq!(body["Status"], "FAILED", "{body}");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("1 of 2 connections failed: warehouse ("),
        "{reason}"
    );
    assert!(
        reason.contains("The others were done: docker_ecr"),
        "{reason}"
    );
    assert_eq!(
        get(&client, &format!("{prefix}/warehouse")).await.unwrap(),
        postgres,
        "the refused value is left as it was"
    );
    assert_eq!(
        json(&get(&client, &format!("{prefix}/docker_ecr")).await.unwrap())["password"],
        MOTO_PASSWORD
    );
    assert!(!outcome.output.contains("Pg-Sentinel") && !reason.contains("Pg-Sentinel"));
    // Answered, so Lambda does not call it a function error (and never retries it).
    assert!(
        outcome.answer.contains("\"Status\":\"FAILED\""),
        "{}",
        outcome.answer
    );
}

#[tokio::test]
async fn delete_leaves_the_connections_as_they_are() {
    let client = secrets().await;
    let prefix = unique_prefix("deploy-delete");
    let name = format!("{prefix}/docker_ecr");
    create(&client, &name, OLD_CONNECTION).await;
    let (_, body) = deploy("Delete", &prefix, "docker_ecr");
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(get(&client, &name).await.unwrap(), OLD_CONNECTION);
    assert_eq!(version_count(&client, &name).await, 1);
}
