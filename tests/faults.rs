//! Faults moto cannot make, injected with aws-smithy-mocks. Each case checks the outcome,
//! what happened to every secret, and that the password never showed.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use airflow_ecr_refresher::handler::RunError;
use aws_smithy_mocks::mock;
use common::mock::*;
use refresher_core::report::{Action, Report};
use serde_json::json;

/// Runs `existing,new` (one update, one create) with `fault` on operation `op`; also
/// returns how many attempts reached `op`.
async fn run_with_fault(
    op: &str,
    fault: &Fault,
    store: &Store,
) -> (Result<Report, RunError>, String, usize) {
    let token = token_rule((op == "GetAuthorizationToken").then_some(fault));
    let [read, get, put, create, describe, stage] = store.rules(op, fault);
    let app = app(
        &[&token],
        &[&read, &get, &put, &create, &describe, &stage],
        "existing,new",
    );
    let (result, output) = invoke(&app, json!({})).await;
    let attempts = match op {
        "GetAuthorizationToken" => token.num_calls(),
        "BatchGetSecretValue" => read.num_calls(),
        "GetSecretValue" => get.num_calls(),
        "PutSecretValue" => put.num_calls(),
        _ => create.num_calls(),
    };
    (result, output, attempts)
}

const OPERATIONS: [&str; 4] = [
    "GetAuthorizationToken",
    "BatchGetSecretValue",
    "PutSecretValue",
    "CreateSecret",
];

#[tokio::test]
async fn throttling_and_5xx_on_every_call_are_retried_then_succeed() {
    for op in OPERATIONS {
        for fault in [
            Fault::aws(400, "ThrottlingException", "Rate exceeded", 2),
            Fault {
                status: 503,
                body: None,
                times: 2,
            },
            Fault::aws(500, "InternalServiceError", "oops", 2),
        ] {
            let store = store();
            let (result, output, attempts) = run_with_fault(op, &fault, &store).await;
            let report = result.unwrap_or_else(|e| panic!("{op} {}: {e}", fault.status));
            assert_eq!(
                attempts, 3,
                "{op} {}: two faults, then the retry that worked",
                fault.status
            );
            let actions: Vec<_> = report.connections.iter().map(|r| r.action).collect();
            assert_eq!(
                actions,
                [Action::Updated, Action::Created],
                "{op} {}",
                fault.status
            );
            assert_refreshed(&store);
            assert_no_secret(&output);
        }
    }
}

#[tokio::test]
async fn persistent_throttling_fails_the_run_cleanly_and_leaves_secrets_alone() {
    for op in OPERATIONS {
        let store = store();
        let before = store.snapshot();
        let fault = Fault::aws(400, "ThrottlingException", "Rate exceeded", 100);
        let (result, output, attempts) = run_with_fault(op, &fault, &store).await;
        assert_eq!(attempts, 4, "{op}: 4 attempts, then it gives up");
        if op == "BatchGetSecretValue" {
            // The batch fails as a whole, so each secret is read on its own instead.
            let report = result.unwrap_or_else(|e| panic!("{op}: {e}"));
            assert_eq!(report.connections.len(), 2);
            assert_refreshed(&store);
            assert_no_secret(&output);
            continue;
        }
        let message = failure(&result);
        assert!(
            message.contains(&format!("{op} failed with ThrottlingException")),
            "{op}: {message}"
        );
        match op {
            // A failed write fails only its own connection.
            "PutSecretValue" => {
                assert!(
                    message.starts_with("1 of 2 connections failed: existing"),
                    "{message}"
                );
                assert_eq!(store.get(EXISTING), before.get(EXISTING).cloned());
            }
            "CreateSecret" => {
                assert!(
                    message.starts_with("1 of 2 connections failed: new"),
                    "{message}"
                );
                assert_eq!(store.get(NEW), None);
            }
            _ => {
                assert!(
                    message.starts_with("2 of 2 connections failed"),
                    "{op}: {message}"
                );
                assert_eq!(store.snapshot(), before, "{op}: nothing written");
            }
        }
        assert_no_secret(&output);
    }
}

#[tokio::test]
async fn reads_throttled_both_ways_fail_every_connection_and_write_nothing() {
    let store = store();
    let before = store.snapshot();
    let fault = Fault::aws(400, "ThrottlingException", "Rate exceeded", 100);
    let (token, read, get, put, create) = (
        token_rule(None),
        store.read_rule(Some(&fault)),
        store.get_rule(Some(&fault)),
        store.put_rule(None),
        store.create_rule(None),
    );
    let app = app(&[&token], &[&read, &get, &put, &create], "existing,new");
    let (result, output) = invoke(&app, json!({})).await;
    let message = failure(&result);
    assert!(
        message.starts_with("2 of 2 connections failed"),
        "{message}"
    );
    assert!(
        message.contains("secretsmanager:GetSecretValue failed with ThrottlingException"),
        "{message}"
    );
    assert_eq!(
        (read.num_calls(), get.num_calls()),
        (4, 8),
        "4 attempts each"
    );
    assert_eq!(store.snapshot(), before, "nothing written");
    assert_no_secret(&output);
}

#[tokio::test]
async fn access_denied_names_the_connection_and_the_missing_permission() {
    for (op, permission, failed_conn) in [
        (
            "GetAuthorizationToken",
            "ecr:GetAuthorizationToken",
            "existing (airflow/connections/existing)",
        ),
        (
            "PutSecretValue",
            "secretsmanager:PutSecretValue",
            "existing (airflow/connections/existing)",
        ),
        (
            "CreateSecret",
            "secretsmanager:CreateSecret",
            "new (airflow/connections/new)",
        ),
    ] {
        let store = store();
        let denied = format!(
            "User: arn:aws:sts::123456789012:assumed-role/refresher/fn is not authorized to perform: {permission}"
        );
        let fault = Fault::aws(400, "AccessDeniedException", &denied, 100);
        let (result, output, attempts) = run_with_fault(op, &fault, &store).await;
        let message = failure(&result);
        assert_eq!(attempts, 1, "{op}: AccessDenied is not retried");
        assert!(message.contains(failed_conn), "{op}: {message}");
        assert!(
            message.contains(&format!("{permission} failed with AccessDeniedException")),
            "{message}"
        );
        assert!(
            message.contains(&format!("grant {permission} to the function's role")),
            "{message}"
        );
        assert_no_secret(&output);
    }
}

#[tokio::test]
async fn an_sdk_retried_write_carries_the_same_request_token() {
    let store = store();
    let sent = Sent::default();
    let token = token_rule(None);
    let [read, get, put, create, describe, stage] = store.rules(
        "PutSecretValue",
        &Fault {
            status: 503,
            body: None,
            times: 1,
        },
    );
    let app = app_sent(
        &[&token],
        &[&read, &get, &put, &create, &describe, &stage],
        "existing",
        &sent,
    );
    let (result, output) = invoke(&app, json!({})).await;
    result.unwrap();
    let tokens: Vec<String> = sent
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|body| body.contains("ClientRequestToken"))
        .map(|body| {
            serde_json::from_str::<serde_json::Value>(body).unwrap()["ClientRequestToken"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(tokens.len(), 2, "one failed attempt, one retry");
    assert_eq!(
        tokens[0], tokens[1],
        "the retry carries the same ClientRequestToken"
    );
    assert_eq!(store.tokens(), [tokens[0].clone()]);
    assert_no_secret(&output);
}

#[tokio::test]
async fn a_malformed_token_fails_its_region_and_is_never_echoed() {
    use aws_sdk_ecr::operation::get_authorization_token::GetAuthorizationTokenOutput;
    use aws_sdk_ecr::types::AuthorizationData;
    const BAD: &str = "bm90LWEtdXNlci1wYXNzd29yZC1wYWly"; // base64 of text without a colon
    let bad = mock!(aws_sdk_ecr::Client::get_authorization_token).then_output(|| {
        GetAuthorizationTokenOutput::builder()
            .authorization_data(
                AuthorizationData::builder()
                    .authorization_token(BAD)
                    .proxy_endpoint(format!("https://{HOST}"))
                    .build(),
            )
            .build()
    });
    let store = store();
    let before = store.snapshot();
    let (read, put, create) = (
        store.read_rule(None),
        store.put_rule(None),
        store.create_rule(None),
    );
    let app = app(&[&bad], &[&read, &put, &create], "existing,new");
    let (result, output) = invoke(&app, json!({})).await;
    let message = failure(&result);
    assert!(message.contains("ECR in us-east-1 returned an unusable token: the ECR authorization token is not of the form user:password"), "{message}");
    assert_eq!(store.snapshot(), before);
    assert!(!output.contains(BAD), "the token leaked:\n{output}");
}
