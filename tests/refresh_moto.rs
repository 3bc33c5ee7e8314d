//! The refresh end to end against moto server: real SDK calls, real secrets.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use airflow_ecr_refresher::handler::{RunError, handle};
use common::*;
use lambda_runtime::{Context, LambdaEvent};
use refresher_core::connection::airflow_view;
use refresher_core::report::Action;
use refresher_core::store::Write;
use serde_json::{Value, json};

async fn invoke(
    app: &airflow_ecr_refresher::handler::App,
    event: Value,
) -> Result<refresher_core::report::Report, RunError> {
    handle(app, LambdaEvent::new(event, Context::default())).await
}

#[tokio::test]
async fn creates_a_json_secret_airflow_resolves() {
    let prefix = unique_prefix("create-json");
    let app = app(&[
        ("CONNECTIONS", "docker_ecr"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
    ])
    .await;
    let report = invoke(&app, json!({})).await.unwrap();

    let name = format!("{prefix}/docker_ecr");
    let row = &report.connections[0];
    assert_eq!(
        (row.conn_id.as_str(), row.secret_name.as_str()),
        ("docker_ecr", name.as_str())
    );
    assert_eq!(row.action, Action::Created);
    assert_eq!(row.registry, OWN_HOST);
    assert!(row.expires_at.is_some());

    let stored = get(&secrets().await, &name).await.unwrap();
    assert_eq!(
        json(&stored),
        json!({"conn_type": "docker", "host": OWN_HOST, "login": "AWS",
               "password": MOTO_PASSWORD, "extra": {"reauth": true}})
    );
}

#[tokio::test]
async fn created_secrets_carry_description_and_managed_by_tag() {
    let prefix = unique_prefix("tags");
    let app = app(&[
        ("CONNECTIONS", "c"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
    ])
    .await;
    invoke(&app, json!({})).await.unwrap();
    let described = secrets()
        .await
        .describe_secret()
        .secret_id(format!("{prefix}/c"))
        .send()
        .await
        .unwrap();
    assert!(
        described
            .description()
            .unwrap_or_default()
            .contains("airflow-ecr-refresher")
    );
    let tags: Vec<_> = described
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(tags, [("managed-by", "airflow-ecr-refresher")]);
}

#[tokio::test]
async fn creates_a_uri_secret_when_configured() {
    let prefix = unique_prefix("create-uri");
    let app = app(&[
        ("CONNECTIONS", "docker_ecr"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
        ("SECRET_FORMAT", "uri"),
    ])
    .await;
    invoke(&app, json!({})).await.unwrap();
    let stored = get(&secrets().await, &format!("{prefix}/docker_ecr"))
        .await
        .unwrap();
    assert_eq!(
        stored,
        format!("docker://AWS:{MOTO_PASSWORD}@{OWN_HOST}?reauth=true")
    );
}

#[tokio::test]
async fn updates_keep_format_extras_and_other_keys() {
    let prefix = unique_prefix("update");
    let client = secrets().await;
    let json_name = format!("{prefix}/as_json");
    let uri_name = format!("{prefix}/as_uri");
    create(&client, &json_name,
        r#"{"conn_type":"docker","user":"old","host":"old.example.com","password":"old","extra":{"reauth":false,"email":"ops@example.com"},"owner":"data-team"}"#).await;
    create(
        &client,
        &uri_name,
        "docker://old:old@old.example.com?reauth=false&email=ops%40example.com",
    )
    .await;

    let app = app(&[
        ("CONNECTIONS", "as_json,as_uri"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
        ("SECRET_FORMAT", "json"),
    ])
    .await;
    let report = invoke(&app, json!({})).await.unwrap();
    assert!(
        report
            .connections
            .iter()
            .all(|r| r.action == Action::Updated)
    );

    let stored = get(&client, &json_name).await.unwrap();
    assert_eq!(
        stored,
        format!(
            r#"{{"conn_type":"docker","user":"AWS","host":"{OWN_HOST}","password":"{MOTO_PASSWORD}","extra":{{"reauth":false,"email":"ops@example.com"}},"owner":"data-team"}}"#
        )
    );
    let stored = get(&client, &uri_name).await.unwrap();
    assert_eq!(
        stored,
        format!("docker://AWS:{MOTO_PASSWORD}@{OWN_HOST}?reauth=false&email=ops%40example.com")
    );
}

#[tokio::test]
async fn several_regions_and_another_accounts_registry() {
    let prefix = unique_prefix("regions");
    let connections = json!([
        {"conn_id": "own"},
        {"conn_id": "eu", "region": "eu-west-1"},
        {"conn_id": "shared", "registry": "210987654321"},
        {"conn_id": "shared_eu", "registry": "210987654321.dkr.ecr.eu-west-1.amazonaws.com"}
    ])
    .to_string();
    let app = app(&[
        ("CONNECTIONS", &connections),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
    ])
    .await;
    let report = invoke(&app, json!({})).await.unwrap();
    let hosts: Vec<_> = report
        .connections
        .iter()
        .map(|r| (r.conn_id.as_str(), r.registry.as_str()))
        .collect();
    assert_eq!(
        hosts,
        [
            ("own", OWN_HOST),
            ("eu", "123456789012.dkr.ecr.eu-west-1.amazonaws.com"),
            ("shared", "210987654321.dkr.ecr.us-east-1.amazonaws.com"),
            ("shared_eu", "210987654321.dkr.ecr.eu-west-1.amazonaws.com"),
        ]
    );
    let client = secrets().await;
    for (conn_id, host) in hosts {
        let view =
            airflow_view(&get(&client, &format!("{prefix}/{conn_id}")).await.unwrap()).unwrap();
        assert_eq!(view.host.as_deref(), Some(host), "{conn_id}");
        assert_eq!(view.password.as_deref(), Some(MOTO_PASSWORD));
    }
}

#[tokio::test]
async fn custom_prefix_and_separator_name_the_secret_like_the_backend() {
    let base = unique_prefix("sep").replace('/', "_");
    let app = app(&[
        ("CONNECTIONS", "docker_ecr"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &format!("{base}_"),
        ),
        ("AIRFLOW__SECRETS__BACKEND_KWARG__SEP", "_"),
    ])
    .await;
    let report = invoke(&app, json!({})).await.unwrap();
    let name = format!("{base}_docker_ecr");
    assert_eq!(report.connections[0].secret_name, name);
    assert!(get(&secrets().await, &name).await.is_some());
}

#[tokio::test]
async fn dry_run_reports_and_writes_nothing() {
    let prefix = unique_prefix("dry");
    let client = secrets().await;
    let existing = format!("{prefix}/existing");
    create(&client, &existing, OLD_CONNECTION).await;
    let app = app(&[
        ("CONNECTIONS", "existing,new"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
    ])
    .await;

    let report = invoke(&app, json!({"dry_run": true})).await.unwrap();
    let actions: Vec<_> = report.connections.iter().map(|r| r.action).collect();
    assert_eq!(actions, [Action::WouldUpdate, Action::WouldCreate]);
    assert!(get(&client, &existing).await.unwrap().contains("\"old\""));
    assert_eq!(version_count(&client, &existing).await, 1);
    assert_eq!(get(&client, &format!("{prefix}/new")).await, None);
}

#[tokio::test]
async fn manual_request_refreshes_only_the_named_connections() {
    let prefix = unique_prefix("manual");
    let app = app(&[
        ("CONNECTIONS", "configured"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
    ])
    .await;
    let report = invoke(
        &app,
        json!({"connections": [{"conn_id": "asked", "region": "eu-west-1"}]}),
    )
    .await
    .unwrap();
    assert_eq!(report.connections.len(), 1);
    let client = secrets().await;
    assert!(get(&client, &format!("{prefix}/asked")).await.is_some());
    assert_eq!(get(&client, &format!("{prefix}/configured")).await, None);
}

#[tokio::test]
async fn a_non_connection_secret_fails_alone_and_is_left_untouched() {
    let prefix = unique_prefix("notconn");
    let client = secrets().await;
    let other = format!("{prefix}/api_key");
    create(&client, &other, r#"{"token":"abc"}"#).await;
    let binary = format!("{prefix}/binary");
    client
        .create_secret()
        .name(&binary)
        .secret_binary(aws_smithy_types::Blob::new(b"\x00\x01".to_vec()))
        .send()
        .await
        .unwrap();
    let app = app(&[
        ("CONNECTIONS", "api_key,binary,good"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
    ])
    .await;

    let err = invoke(&app, json!({})).await.unwrap_err();
    let RunError::Refresh(failed) = &err else {
        panic!("{err}")
    };
    let ids: Vec<_> = failed.failed.iter().map(|f| f.conn_id.as_str()).collect();
    assert_eq!(ids, ["api_key", "binary"]);
    let message = err.to_string();
    assert!(message.contains("2 of 3 connections failed"), "{message}");
    assert!(
        message.contains("api_key") && message.contains("none of Airflow's connection keys"),
        "{message}"
    );
    assert!(message.contains("SecretBinary"), "{message}");

    assert_eq!(get(&client, &other).await.unwrap(), r#"{"token":"abc"}"#);
    assert_eq!(version_count(&client, &other).await, 1);
    assert_eq!(version_count(&client, &binary).await, 1);
    assert!(
        get(&client, &format!("{prefix}/good")).await.is_some(),
        "the good one is still written"
    );
}

#[tokio::test]
async fn malformed_requests_write_nothing() {
    let prefix = unique_prefix("malformed");
    let app = app(&[
        ("CONNECTIONS", "configured"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
    ])
    .await;
    for event in [
        json!({"dryrun": true}),
        json!({"connections": [{"conn_id": "ok"}, {"conn_id": ""}]}),
        json!({"connections": [{"conn_id": "ok", "region": "narnia"}]}),
        json!({"connections": [{"conn_id": "ok"}, {"conn_id": "ok"}]}),
        json!({"connections": {"conn_id": "ok"}}),
    ] {
        let err = invoke(&app, event.clone()).await.unwrap_err();
        assert!(
            matches!(err, RunError::Request(_) | RunError::Target(_)),
            "{event}: {err}"
        );
    }
    let listed = secrets()
        .await
        .list_secrets()
        .filters(
            aws_sdk_secretsmanager::types::Filter::builder()
                .key(aws_sdk_secretsmanager::types::FilterNameStringType::Name)
                .values(&prefix)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(listed.secret_list().is_empty(), "nothing may be written");
}

#[tokio::test]
async fn a_retried_write_makes_no_second_version() {
    let prefix = unique_prefix("retry");
    let client = secrets().await;
    let name = format!("{prefix}/c");
    create(&client, &name, OLD_CONNECTION).await;
    let app = app(&[
        ("CONNECTIONS", "c"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
    ])
    .await;
    let value =
        secrecy::SecretString::from(r#"{"conn_type":"docker","password":"new"}"#.to_owned());
    let write = Write {
        name: &name,
        value: &value,
        request_token: &"a".repeat(64),
    };

    app.aws.store.update(&write).await.unwrap();
    // The same write again, as after a lost response: Secrets Manager sees the same token.
    app.aws.store.update(&write).await.unwrap();
    assert_eq!(
        version_count(&client, &name).await,
        2,
        "the original and one new version"
    );
}

#[tokio::test]
async fn a_write_after_someone_else_changed_the_secret_still_lands() {
    let prefix = unique_prefix("race");
    let client = secrets().await;
    let name = format!("{prefix}/c");
    let original = OLD_CONNECTION;
    create(&client, &name, original).await;
    let app = app(&[
        ("CONNECTIONS", "c"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
    ])
    .await;
    invoke(&app, json!({})).await.unwrap();

    // Someone restores the old value from a backup. The next run renders exactly the value
    // of the first run; only the base version differs, and that must keep the write from
    // being taken as a retry of the first one.
    client
        .put_secret_value()
        .secret_id(&name)
        .secret_string(original)
        .send()
        .await
        .unwrap();
    invoke(&app, json!({})).await.unwrap();
    let stored = json(&get(&client, &name).await.unwrap());
    assert_eq!(stored["password"], MOTO_PASSWORD);
}

#[tokio::test]
async fn no_connections_configured_or_asked_is_an_error() {
    let app = app(&[]).await;
    let err = invoke(&app, json!({})).await.unwrap_err();
    assert_eq!(err, RunError::NothingToRefresh);
}

#[tokio::test]
async fn two_invocations_racing_on_the_same_secrets_both_leave_valid_secrets() {
    let prefix = unique_prefix("race2");
    let client = secrets().await;
    let existing = format!("{prefix}/existing");
    create(
        &client,
        &existing,
        "docker://old:old@old.example.com?reauth=false",
    )
    .await;
    // Real ECR hands each invocation a different password; different formats make the two
    // runs' new values differ the same way, so their CreateSecret calls truly collide.
    let vars = |format| {
        [
            ("CONNECTIONS", "existing,new_a,new_b"),
            (
                "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
                prefix.as_str(),
            ),
            ("SECRET_FORMAT", format),
        ]
    };
    let (first, second) = (app(&vars("json")).await, app(&vars("uri")).await);
    for round in 0..3 {
        let (a, b) = tokio::join!(invoke(&first, json!({})), invoke(&second, json!({})));
        for result in [a, b] {
            let report = result.unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert_eq!(report.connections.len(), 3);
        }
        for id in ["existing", "new_a", "new_b"] {
            let value = get(&client, &format!("{prefix}/{id}")).await.unwrap();
            let view = airflow_view(&value).unwrap();
            assert_eq!(view.password.as_deref(), Some(MOTO_PASSWORD), "{id}");
            assert_eq!(view.host.as_deref(), Some(OWN_HOST), "{id}");
        }
        assert!(
            get(&client, &existing)
                .await
                .unwrap()
                .ends_with("?reauth=false")
        );
    }
}
