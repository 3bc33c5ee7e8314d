//! The real binary against a local endpoint that answers a call with HTTP 200 and a body
//! the SDK cannot deserialize, holding a secret: an ECR token, a secret's value, a
//! decrypted parameter, an assumed role's keys. A proxy, a VPC endpoint fault or a future
//! API change can answer so. The secret must appear nowhere: not in stdout, stderr, the
//! error or the report, at the default log level or at TRACE with JSON logs.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::fake_aws::{FakeAws, KEYS, Outcome, run_command, run_lambda};
use std::collections::HashMap;

const MARKER: &str = "Leak-Marker-6c1d";
const MARKER2: &str = "Leak-Marker-Session-93b7";

/// `AWS:fresh-password`, as GetAuthorizationToken encodes it (Amazon ECR API Reference,
/// `AuthorizationData`).
const TOKEN: &str = "QVdTOmZyZXNoLXBhc3N3b3Jk";
const GOOD_TOKEN: &str = r#"{"authorizationData":[{"authorizationToken":"QVdTOmZyZXNoLXBhc3N3b3Jk","expiresAt":4102444800,"proxyEndpoint":"https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}]}"#;
/// A Docker connection holding the marker as its password, as Airflow stores it.
fn stored_connection() -> String {
    format!(
        r#"{{"conn_type":"docker","host":"h.example.com","login":"AWS","password":"{MARKER}"}}"#
    )
}

/// The default level, and the loudest level, filter and format.
const LEVELS: &[&[(&str, &str)]] = &[
    &[],
    &[
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ("AWS_LAMBDA_LOG_FORMAT", "json"),
        ("RUST_LOG", "trace"),
    ],
    &[(
        "RUST_LOG",
        "trace,aws_config=trace,aws_smithy_runtime=trace",
    )],
];

/// Runs the binary against `fake` at every level, as a command and as a Lambda function:
/// nothing it prints or answers holds a marker, and it says that `operation`'s answer
/// could not be read. Each outcome is returned for the caller's own checks.
fn assert_no_leak(fake: &FakeAws, operation: &str, vars: &[(&str, &str)]) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for level in LEVELS {
        let mut vars = vars.to_vec();
        vars.extend_from_slice(level);
        for lambda in [false, true] {
            if lambda {
                // A fresh Runtime API: one invocation.
                fake.asked.lock().unwrap().clear();
            }
            let before = fake.asked(operation);
            let outcome = if lambda {
                run_lambda(fake, &vars)
            } else {
                run_command(fake, &vars)
            };
            let Outcome { output, answer, .. } = &outcome;
            let how = format!("{level:?}, lambda: {lambda}");
            assert!(
                fake.asked(operation) > before,
                "{how}: {operation} was never asked: {output}"
            );
            // The loud levels really were on.
            assert!(
                level.is_empty() || output.contains("run started"),
                "{how}: no debug events:\n{output}"
            );
            for marker in [MARKER, MARKER2] {
                assert!(
                    !output.contains(marker),
                    "{how} printed {marker}:\n{output}"
                );
                assert!(
                    !answer.contains(marker),
                    "{how} answered {marker}:\n{answer}"
                );
            }
            assert!(
                output.contains("the answer could not be read (") && output.contains("HTTP 200"),
                "{how}: the failure is not named:\n{output}"
            );
            outcomes.push(outcome);
        }
    }
    outcomes
}

/// A failed run: exit status 1 as a command, `RefreshFailed` as a function, and its
/// answer names the failed call.
fn assert_failed(outcome: &Outcome, says: &str) {
    let Outcome {
        code,
        output,
        answer,
    } = outcome;
    match code {
        Some(code) => assert_eq!(*code, 1, "{output}"),
        None => assert!(
            answer.contains("\"errorType\":\"RefreshFailed\""),
            "{answer}"
        ),
    }
    assert!(answer.contains(says), "{answer}");
}

#[test]
fn an_unreadable_ecr_token_is_never_printed() {
    let body = format!(
        r#"{{"authorizationData":[{{"authorizationToken":"{MARKER}","expiresAt":"not-a-date","proxyEndpoint":"https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}}]}}"#
    );
    let fake = FakeAws::start(HashMap::from([("GetAuthorizationToken", (200, body))]));
    for outcome in assert_no_leak(
        &fake,
        "GetAuthorizationToken",
        &[KEYS[0], KEYS[1], ("CONNECTIONS", "docker_ecr")],
    ) {
        assert_failed(
            &outcome,
            "ecr:GetAuthorizationToken failed: the answer could not be read",
        );
    }
}

#[test]
fn an_unreadable_batch_of_secrets_is_never_printed() {
    // Cut off inside the secret's value; the secrets are then read one by one, and the
    // run goes on (the one-by-one read is answered in AWS's shape, API Reference,
    // `GetSecretValue`).
    let batch = format!(
        r#"{{"SecretValues":[{{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/connections/docker_ecr-AbCdEf","Name":"airflow/connections/docker_ecr","SecretString":"{}"#,
        stored_connection().replace('"', "\\\"")
    );
    let one = serde_json::json!({
        "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/connections/docker_ecr-AbCdEf",
        "Name": "airflow/connections/docker_ecr",
        "VersionId": "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE",
        "SecretString": stored_connection(),
        "VersionStages": ["AWSCURRENT"],
        "CreatedDate": 1_700_000_000
    })
    .to_string();
    const DESCRIBED: &str = r#"{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/connections/docker_ecr-AbCdEf","Name":"airflow/connections/docker_ecr","VersionIdsToStages":{"EXAMPLE2-90ab-cdef-fedc-ba987EXAMPLE":["AWSCURRENT"],"EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE":["AWSPREVIOUS"]}}"#;
    let put = r#"{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/connections/docker_ecr-AbCdEf","Name":"airflow/connections/docker_ecr","VersionId":"EXAMPLE2-90ab-cdef-fedc-ba987EXAMPLE","VersionStages":["AWSCURRENT"]}"#;
    let fake = FakeAws::start(HashMap::from([
        ("GetAuthorizationToken", (200, GOOD_TOKEN.to_owned())),
        ("BatchGetSecretValue", (200, batch)),
        ("GetSecretValue", (200, one)),
        ("PutSecretValue", (200, put.to_owned())),
        // After the write, which version it replaced (API Reference, DescribeSecret,
        // VersionIdsToStages): the one read.
        ("DescribeSecret", (200, DESCRIBED.to_owned())),
    ]));
    for outcome in assert_no_leak(
        &fake,
        "BatchGetSecretValue",
        &[KEYS[0], KEYS[1], ("CONNECTIONS", "docker_ecr")],
    ) {
        let Outcome {
            code,
            output,
            answer,
        } = &outcome;
        assert!(matches!(code, None | Some(0)), "{output}");
        assert!(
            answer.contains("\"updated\""),
            "the secret is still refreshed: {answer}"
        );
        assert!(
            !output.contains(TOKEN) && !answer.contains(TOKEN),
            "{output}"
        );
    }
}

#[test]
fn an_unreadable_parameter_is_never_printed() {
    let body = format!(
        r#"{{"Parameters":[{{"Name":"/airflow/connections/docker_ecr","Type":"SecureString","Value":"{MARKER}","Version":"not-a-number"}}],"InvalidParameters":[]}}"#
    );
    let fake = FakeAws::start(HashMap::from([
        ("GetAuthorizationToken", (200, GOOD_TOKEN.to_owned())),
        ("GetParameters", (200, body)),
    ]));
    let vars = [
        KEYS[0],
        KEYS[1],
        ("CONNECTIONS", "docker_ecr"),
        (
            "AIRFLOW__SECRETS__BACKEND",
            "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend",
        ),
    ];
    for outcome in assert_no_leak(&fake, "GetParameters", &vars) {
        assert_failed(
            &outcome,
            "ssm:GetParameters failed: the answer could not be read",
        );
        assert!(!outcome.output.contains(TOKEN), "{}", outcome.output);
    }
}

/// AWS STS answers in XML (STS API Reference, `AssumeRole`, "Examples"); this one is cut
/// off after the role's keys.
fn unreadable_assume_role() -> String {
    format!(
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
         <Credentials><AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>\
         <SecretAccessKey>{MARKER}</SecretAccessKey><SessionToken>{MARKER2}</SessionToken>\
         <Expiration>not-a-date</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws"
    )
}

#[test]
fn an_unreadable_pull_role_answer_is_never_printed() {
    let fake = FakeAws::start(HashMap::from([
        ("AssumeRole", (200, unreadable_assume_role())),
        ("GetAuthorizationToken", (200, GOOD_TOKEN.to_owned())),
    ]));
    let connections =
        r#"[{"conn_id":"docker_ecr","pull_role_arn":"arn:aws:iam::123456789012:role/puller"}]"#;
    for outcome in assert_no_leak(
        &fake,
        "AssumeRole",
        &[KEYS[0], KEYS[1], ("CONNECTIONS", connections)],
    ) {
        assert_failed(
            &outcome,
            "sts:AssumeRole failed: the answer could not be read",
        );
    }
}

#[test]
fn an_unreadable_answer_for_the_store_role_is_never_printed() {
    // The store's calls are signed as the backend's role_arn: the failure surfaces inside the
    // store call, as the credentials that could not be loaded.
    let fake = FakeAws::start(HashMap::from([
        ("AssumeRole", (200, unreadable_assume_role())),
        ("GetAuthorizationToken", (200, GOOD_TOKEN.to_owned())),
    ]));
    let vars = [
        KEYS[0],
        KEYS[1],
        ("CONNECTIONS", "docker_ecr"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__ROLE_ARN",
            "arn:aws:iam::123456789012:role/store",
        ),
    ];
    for outcome in assert_no_leak(&fake, "AssumeRole", &vars) {
        assert_failed(
            &outcome,
            "sts:AssumeRole failed: the answer could not be read",
        );
    }
}

#[test]
fn an_unreadable_answer_for_the_function_s_own_web_identity_is_never_printed() {
    // Outside Lambda (EKS, CI) the function's own credentials may come from a web
    // identity token; aws-config logs the failed AssumeRoleWithWebIdentity call itself.
    let token = std::env::temp_dir().join(format!("aer-leaks-token-{}", std::process::id()));
    std::fs::write(&token, "web-identity-token").unwrap();
    let body = unreadable_assume_role()
        .replace("AssumeRoleResponse", "AssumeRoleWithWebIdentityResponse")
        .replace("AssumeRoleResult", "AssumeRoleWithWebIdentityResult");
    let fake = FakeAws::start(HashMap::from([("AssumeRoleWithWebIdentity", (200, body))]));
    let vars = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap()),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web"),
        ("AWS_ROLE_SESSION_NAME", "refresher"),
        ("CONNECTIONS", "docker_ecr"),
    ];
    for outcome in assert_no_leak(&fake, "AssumeRoleWithWebIdentity", &vars) {
        let Outcome {
            code,
            output,
            answer,
        } = &outcome;
        match code {
            Some(code) => assert_eq!(*code, 1, "{output}"),
            None => assert!(
                answer.contains("\"errorType\":\"InvalidConfiguration\""),
                "{answer}"
            ),
        }
        assert!(
            answer.contains("AWS credentials could not be loaded: an error occurred while loading \
                             credentials: sts:AssumeRoleWithWebIdentity failed: the answer could not be read"),
            "{answer}"
        );
    }
}
