//! The deploy-time refresh without a working AWS: what CloudFormation is told when there
//! is nothing to do (Delete), nothing it can do (a malformed request), and when the store
//! hangs. The binary runs under Lambda's Runtime API; its HTTPS goes through an egress
//! proxy to CloudFormation's bucket (`common/cloudformation.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cloudformation::*;
use common::fake_aws::{FakeAws, KEYS};
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const VARS: &[(&str, &str)] = &[
    KEYS[0],
    KEYS[1],
    ("CONNECTIONS", "docker_ecr"),
    ("RUST_LOG", "trace"),
    ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
];

/// Nothing of the URL beyond its host is ever printed, nor in the function's answer.
fn assert_url_kept(outcome: &common::fake_aws::Outcome) {
    for text in [&outcome.output, &outcome.answer] {
        assert!(!text.contains(SIGNATURE), "{text}");
        assert!(!text.contains("X-Amz-Algorithm"), "{text}");
        assert!(!text.contains("DeployRefresh%7C"), "{text}");
    }
}

/// Only the Runtime API was asked: no AWS call, so nothing written.
fn assert_no_aws_call(fake: &FakeAws, what: &str) {
    let asked = fake.asked.lock().unwrap().clone();
    let aws: Vec<&String> = asked
        .iter()
        .filter(|a| *a != "next" && !a.starts_with("answer:"))
        .collect();
    assert!(aws.is_empty(), "{what}: {aws:?}");
}

#[test]
fn delete_succeeds_and_changes_nothing() {
    let event = request("Delete").to_string();
    let fake = FakeAws::invoking(HashMap::new(), &event, Duration::from_secs(60));
    let world = bucket();
    let outcome = invoke(&fake, &world, VARS);
    let responses = responses(&world);
    assert_eq!(responses.len(), 1, "{}", outcome.output);
    let (seen, body) = &responses[0];
    assert_eq!(
        (seen.method.as_str(), seen.host.as_str()),
        ("PUT", BUCKET_HOST)
    );
    assert_eq!(
        seen.header("content-type"),
        None,
        "the URL was signed without one"
    );
    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(
        body["PhysicalResourceId"],
        "airflow-ecr-refresher-DeployRefresh"
    );
    assert_eq!(body["RequestId"], "5d478078-13e9-baf0-464a-7ef285ecc786");
    assert_no_aws_call(&fake, "Delete called AWS");
    assert!(
        outcome.answer.contains("\"Status\":\"SUCCESS\""),
        "{}",
        outcome.answer
    );
    assert_url_kept(&outcome);
}

#[test]
fn a_malformed_request_is_answered_failed_and_nothing_is_written() {
    let mut event = request("Create");
    event["RequestType"] = "Upsert".into();
    let fake = FakeAws::invoking(HashMap::new(), &event.to_string(), Duration::from_secs(60));
    let world = bucket();
    let outcome = invoke(&fake, &world, VARS);
    let responses = responses(&world);
    assert_eq!(responses.len(), 1, "{}", outcome.output);
    let body = &responses[0].1;
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(
        body["Reason"],
        "malformed CloudFormation request: RequestType \"Upsert\" is not Create, Update or \
         Delete; nothing was written"
    );
    assert_no_aws_call(&fake, "a malformed request called AWS");
    assert_url_kept(&outcome);
}

#[test]
fn a_request_without_a_response_url_is_a_function_error_naming_why() {
    let mut event = request("Create");
    event["ResponseURL"] = format!("http://{BUCKET_HOST}/x?{SIGNATURE}").into();
    let fake = FakeAws::invoking(HashMap::new(), &event.to_string(), Duration::from_secs(60));
    let world = bucket();
    let outcome = invoke(&fake, &world, VARS);
    assert!(world.seen().is_empty());
    assert!(
        outcome.answer.contains("without an https ResponseURL"),
        "{}",
        outcome.answer
    );
    assert_url_kept(&outcome);
}

#[test]
fn a_hung_store_is_answered_failed_before_the_deadline() {
    let deadline_in = Duration::from_secs(14);
    let fake = FakeAws::invoking(
        HashMap::from([
            // The token comes, the store never answers.
            (
                "GetAuthorizationToken",
                (
                    200,
                    format!(
                        r#"{{"authorizationData":[{{"authorizationToken":"QVdTOnNlY3JldA==","expiresAt":{},"proxyEndpoint":"https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}}]}}"#,
                        SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .unwrap()
                            .as_secs()
                            + 43_200
                    ),
                ),
            ),
            ("BatchGetSecretValue", (0, String::new())),
        ]),
        &request("Update").to_string(),
        deadline_in,
    );
    let world = bucket();
    // So many that the reason naming each is longer than CloudFormation takes.
    let ids: Vec<String> = (0..120).map(|i| format!("docker_ecr_{i:03}")).collect();
    let connections = ids.join(",");
    let mut vars = VARS.to_vec();
    vars.push(("CONNECTIONS", &connections));
    let asked_at = SystemTime::now();
    let outcome = invoke(&fake, &world, &vars);
    let responses = responses(&world);
    assert_eq!(responses.len(), 1, "{}", outcome.output);
    let (seen, body) = &responses[0];
    assert_eq!(body["Status"], "FAILED");
    let reason = body["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("stopped 7.5s before the Lambda timeout"),
        "{reason}"
    );
    assert!(
        reason.contains("docker_ecr"),
        "the reason names the connection: {reason}"
    );
    // The deadline counts from when the function asked for the invocation, just after
    // `asked_at`: the answer arrived before it.
    let took = seen.at.duration_since(asked_at).unwrap();
    assert!(took < deadline_in, "answered after {took:?}");
    assert_url_kept(&outcome);
}

#[test]
fn a_refused_answer_is_a_function_error_and_a_failing_one_is_tried_again() {
    use common::tls_world::TlsWorld;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let event = request("Delete").to_string();
    // An expired URL: S3 refuses it, and would refuse it again.
    let fake = FakeAws::invoking(HashMap::new(), &event, Duration::from_secs(60));
    let expired = TlsWorld::start(&["*.s3.amazonaws.com"], |_| (403, vec![], String::new()));
    let outcome = invoke(&fake, &expired, VARS);
    assert_eq!(expired.seen().len(), 1);
    assert!(
        outcome
            .answer
            .contains("could not answer CloudFormation: the ResponseURL answered 403 Forbidden"),
        "{}",
        outcome.answer
    );
    assert!(
        outcome.answer.contains("CloudFormationNotAnswered"),
        "{}",
        outcome.answer
    );
    assert_url_kept(&outcome);
    // S3 failing once (503): the second try lands.
    let fake = FakeAws::invoking(HashMap::new(), &event, Duration::from_secs(60));
    let tries = AtomicUsize::new(0);
    let flaky = TlsWorld::start(&["*.s3.amazonaws.com"], move |_| {
        let status = if tries.fetch_add(1, Ordering::SeqCst) == 0 {
            503
        } else {
            200
        };
        (status, vec![], String::new())
    });
    let outcome = invoke(&fake, &flaky, VARS);
    assert_eq!(flaky.seen().len(), 2, "{}", outcome.output);
    assert!(
        outcome.answer.contains("\"Status\":\"SUCCESS\""),
        "{}",
        outcome.answer
    );
    assert_url_kept(&outcome);
}
