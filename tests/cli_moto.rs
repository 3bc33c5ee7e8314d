//! The real binary as a one-shot command against the local moto server: what it prints at
//! any log level, and its exit status.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::binary::{run, text};
use common::*;

/// moto's token, as GetAuthorizationToken returns it: base64 of `AWS:<password>`.
const MOTO_TOKEN: &str = "QVdTOjEyMzQ1Njc4OTAxMi1hdXRoLXRva2Vu";

fn moto_vars<'a>(prefix: &'a str, endpoint: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            prefix,
        ),
    ]
}

#[tokio::test]
async fn no_log_level_filter_or_format_prints_the_token_or_a_password() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let client = secrets().await; // fails with how to start moto when it is not running
    let prefix = unique_prefix("trace");
    // One secret to update (PutSecretValue) and one to create (CreateSecret).
    let old_password = "Old-Password-Sentinel";
    let old = OLD_CONNECTION.replace("\"old\"", &format!("\"{old_password}\""));
    create(&client, &format!("{prefix}/old"), &old).await;
    for extra in LOUDEST {
        let mut vars = moto_vars(&prefix, &endpoint);
        vars.push(("CONNECTIONS", "old,new"));
        vars.extend_from_slice(extra);
        assert_prints_no_secret(&vars, old_password);
    }
    assert_eq!(
        json(&get(&client, &format!("{prefix}/new")).await.unwrap())["password"],
        MOTO_PASSWORD
    );
}

/// Every level, filter and format, and the SDK's own switches that print bodies.
const LOUDEST: &[&[(&str, &str)]] = &[
    &[("RUST_LOG", "trace")],
    &[(
        "RUST_LOG",
        "aws_smithy_runtime::client::orchestrator::http=trace,aws_sigv4=trace,trace",
    )],
    &[
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ("AWS_LAMBDA_LOG_FORMAT", "json"),
    ],
    &[
        ("RUST_LOG", "trace"),
        ("LOG_SENSITIVE_BODIES", "true"),
        ("LOG_SIGNABLE_BODY", "true"),
    ],
];

fn assert_prints_no_secret(vars: &[(&str, &str)], old_password: &str) {
    let out = run(vars);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{vars:?}: {stderr}");
    let all = format!("{stdout}{stderr}");
    // The logs really were on: our own DEBUG events are there. The SDK's never print
    // (src/logging.rs): at DEBUG and TRACE they hold whole responses.
    assert!(
        all.contains("run started"),
        "{vars:?}: debug events missing"
    );
    assert!(
        !all.contains("beginning attempt"),
        "{vars:?}: SDK events printed"
    );
    for secret in [MOTO_TOKEN, MOTO_PASSWORD, old_password] {
        assert!(!all.contains(secret), "{vars:?} printed {secret}");
    }
}

#[tokio::test]
async fn parameter_store_calls_print_no_secret_either() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let ssm = aws_sdk_ssm::Client::new(&sdk().await);
    let prefix = format!("/{}", unique_prefix("trace-ssm"));
    // One parameter to overwrite, one to create, both read back with decryption.
    let old_password = "Old-Parameter-Sentinel";
    ssm.put_parameter()
        .name(format!("{prefix}/old"))
        .value(OLD_CONNECTION.replace("\"old\"", &format!("\"{old_password}\"")))
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    for extra in LOUDEST {
        let mut vars = moto_vars(&prefix, &endpoint);
        vars.push(("CONNECTIONS", "old,new"));
        vars.push((
            "AIRFLOW__SECRETS__BACKEND",
            "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend",
        ));
        vars.extend_from_slice(extra);
        assert_prints_no_secret(&vars, old_password);
    }
}

#[tokio::test]
async fn the_cli_exits_non_zero_when_a_connection_fails() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let client = secrets().await;
    let prefix = unique_prefix("cli-exit");
    create(
        &client,
        &format!("{prefix}/db"),
        "postgresql://app:dbpass@db:5432/app",
    )
    .await;
    let mut vars = moto_vars(&prefix, &endpoint);
    vars.push(("CONNECTIONS", "db,fine"));
    let out = run(&vars);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("error: 1 of 2 connections failed: db"),
        "{stderr}"
    );
    assert!(stderr.contains("The others were done: fine"), "{stderr}");
}
