//! Faults in a secret's own state, in the shapes AWS answers with, injected with
//! aws-smithy-mocks: scheduled for deletion, not a connection, created without a value.
//! Each case checks the outcome, every secret after, and that no password showed.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aws_smithy_mocks::mock;
use common::mock::*;
use refresher_core::report::Action;
use serde_json::json;

#[tokio::test]
async fn a_secret_pending_deletion_fails_alone_and_the_others_are_refreshed() {
    let deleted = "airflow/connections/deleted";
    let store = Store::with(&[
        (EXISTING, Stored::Text(OLD_VALUE.into())),
        (deleted, Stored::Text(OLD_VALUE.into())),
    ]);
    // Real AWS refuses writes to a secret scheduled for deletion; moto does not.
    let pending = mock!(aws_sdk_secretsmanager::Client::put_secret_value)
        .match_requests(move |req| req.secret_id() == Some(deleted))
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"InvalidRequestException","message":"You can't perform this operation on the secret because it was marked for deletion."}"#.into()),
        )
        .repeatedly()
        .build();
    let (token, read, get, put, create, stages) = (
        token_rule(None),
        store.read_rule(None),
        store.get_rule(None),
        store.put_rule(None),
        store.create_rule(None),
        store.describe_rule(),
    );
    // DescribeSecret tells a secret scheduled for deletion by its DeletedDate (AWS Secrets
    // Manager API Reference, DescribeSecret), which is how the function knows the fix.
    let described = mock!(aws_sdk_secretsmanager::Client::describe_secret)
        .match_requests(move |req| req.secret_id() == Some(deleted))
        .sequence()
        .output(|| {
            aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput::builder()
                .name("airflow/connections/deleted")
                .deleted_date(aws_smithy_types::DateTime::from_secs(1_800_000_000))
                .build()
        })
        .repeatedly()
        .build();
    let app = app(
        &[&token],
        &[&pending, &described, &read, &get, &put, &create, &stages],
        "existing,deleted,new",
    );
    let (result, output) = invoke(&app, json!({})).await;
    let message = failure(&result);
    assert!(
        message.starts_with("1 of 3 connections failed: deleted (airflow/connections/deleted)"),
        "{message}"
    );
    assert!(message.contains("restore-secret"), "{message}");
    assert!(
        message.contains("The others were done: existing, new"),
        "{message}"
    );
    assert_eq!(store.text(deleted), OLD_VALUE);
    assert_refreshed(&store);
    assert_no_secret(&output);
}

#[tokio::test]
async fn a_secret_pending_deletion_is_named_on_read_with_the_way_to_restore_it() {
    // AWS refuses the read too, as an `Errors` entry of BatchGetSecretValue and from
    // GetSecretValue: InvalidRequestException, not ResourceNotFoundException.
    let deleted = "airflow/connections/deleted";
    let store = Store::with(&[
        (EXISTING, Stored::Text(OLD_VALUE.into())),
        (deleted, Stored::Deleted),
    ]);
    let rules = [
        token_rule(None),
        store.read_rule(None),
        store.get_rule(None),
        store.put_rule(None),
        store.create_rule(None),
        store.describe_rule(),
    ];
    let app = app(
        &[&rules[0]],
        &rules[1..].iter().collect::<Vec<_>>(),
        "existing,deleted,new",
    );
    let (result, output) = invoke(&app, json!({})).await;
    let message = failure(&result);
    assert!(
        message.starts_with(
            "1 of 3 connections failed: deleted (airflow/connections/deleted): reading the secret"
        ),
        "{message}"
    );
    assert!(message.contains("restore-secret"), "{message}");
    assert_eq!(store.get(deleted), Some(Stored::Deleted));
    assert_refreshed(&store);
    assert_no_secret(&output);
}

#[tokio::test]
async fn unusable_secrets_fail_alone_and_stay_exactly_as_they_were() {
    let cases = [
        ("binary", Stored::Binary, "SecretBinary"),
        ("empty", Stored::Text(String::new()), "the secret is empty"),
        ("blank", Stored::Text("  \n".into()), "the secret is empty"),
        (
            "plain",
            Stored::Text("just-a-password".into()),
            "neither JSON nor a connection URI",
        ),
        (
            "apikey",
            Stored::Text(r#"{"api_key":"k"}"#.into()),
            "none of Airflow's connection keys",
        ),
        (
            "broken",
            Stored::Text(r#"{"host": "h", "#.into()),
            "not valid JSON",
        ),
        (
            "array",
            Stored::Text("[1,2]".into()),
            "neither JSON nor a connection URI",
        ),
    ];
    let names: Vec<String> = cases
        .iter()
        .map(|(id, _, _)| format!("airflow/connections/{id}"))
        .collect();
    let entries: Vec<(&str, Stored)> = names
        .iter()
        .zip(&cases)
        .map(|(n, (_, v, _))| (n.as_str(), v.clone()))
        .collect();
    let store = Store::with(&entries);
    let before = store.snapshot();
    let ids: Vec<&str> = cases.iter().map(|(id, _, _)| *id).chain(["new"]).collect();
    let (token, read, put, create) = (
        token_rule(None),
        store.read_rule(None),
        store.put_rule(None),
        store.create_rule(None),
    );
    let app = app(&[&token], &[&read, &put, &create], &ids.join(","));
    let (result, output) = invoke(&app, json!({})).await;
    let message = failure(&result);
    assert!(
        message.starts_with(&format!(
            "{} of {} connections failed",
            cases.len(),
            ids.len()
        )),
        "{message}"
    );
    for (id, _, reason) in cases {
        let part = message
            .split("; ")
            .find(|p| p.contains(&format!("{id} (airflow/connections/{id})")))
            .unwrap_or_else(|| panic!("{id} missing: {message}"));
        assert!(part.contains(reason), "{id}: {part}");
        assert!(part.contains("left untouched"), "{id}: {part}");
    }
    for (name, value) in &before {
        assert_eq!(store.get(name).as_ref(), Some(value), "{name} untouched");
    }
    assert!(store.text(NEW).contains(PASSWORD));
    assert_no_secret(&output);
}

#[tokio::test]
async fn a_secret_without_a_value_gets_one_in_the_shape_aws_answers() {
    // AWS answers a secret with no AWSCURRENT version with a per-secret
    // ResourceNotFoundException in BatchGetSecretValue's Errors (API reference,
    // BatchGetSecretValue and APIErrorType), and CreateSecret on its name with
    // ResourceExistsException (API reference, CreateSecret). moto fails the whole batch
    // instead, which tests/safety_moto.rs covers.
    let empty = "airflow/connections/existing";
    let store = Store::with(&[(empty, Stored::Valueless)]);
    let (token, read, get, put, create, describe) = (
        token_rule(None),
        store.read_rule(None),
        store.get_rule(None),
        store.put_rule(None),
        store.create_rule(None),
        store.describe_rule(),
    );
    let app = app(
        &[&token],
        &[&read, &get, &put, &create, &describe],
        "existing",
    );
    let (result, output) = invoke(&app, json!({})).await;
    let report = result.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.connections[0].action, Action::Updated);
    assert_eq!((create.num_calls(), put.num_calls()), (1, 1));
    let value: serde_json::Value = serde_json::from_str(&store.text(empty)).unwrap();
    assert_eq!(value["password"], PASSWORD);
    assert_no_secret(&output);
}

#[tokio::test]
async fn a_value_written_between_the_read_and_the_write_is_put_back_as_current() {
    // Secrets Manager has no conditional write. PutSecretValue moves AWSPREVIOUS to the
    // version it replaced (API Reference, PutSecretValue); DescribeSecret names it
    // (VersionIdsToStages); UpdateSecretVersionStage moves AWSCURRENT back, only from the
    // version named in RemoveFromVersionId (API Reference, UpdateSecretVersionStage).
    let postgres = "postgresql://app:pw@db.example.com:5432/app";
    let store = store();
    store.write_before_put(EXISTING, postgres);
    let (token, read, get, put, create, describe, stage) = (
        token_rule(None),
        store.read_rule(None),
        store.get_rule(None),
        store.put_rule(None),
        store.create_rule(None),
        store.describe_rule(),
        store.stage_rule(),
    );
    let app = app(
        &[&token],
        &[&read, &get, &put, &create, &describe, &stage],
        "existing,new",
    );
    let (result, output) = invoke(&app, json!({})).await;
    let message = failure(&result);
    assert!(
        message.starts_with("1 of 2 connections failed: existing (airflow/connections/existing)"),
        "{message}"
    );
    assert!(
        message.contains("another writer changed the secret"),
        "{message}"
    );
    assert!(message.contains("postgresql"), "{message}");
    assert_eq!(store.text(EXISTING), postgres, "theirs is current again");
    assert_eq!((put.num_calls(), stage.num_calls()), (1, 1));
    assert!(store.text(NEW).contains(PASSWORD));
    assert_no_secret(&output);
}
