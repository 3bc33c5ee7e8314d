//! What the function refuses to do, against moto server: other people's connections,
//! hosts that are not ECR registries, oversized values, dry runs that write. Each case
//! checks the refusal and that the secret is byte for byte what it was.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use airflow_ecr_refresher::handler::{App, RunError, handle};
use common::*;
use lambda_runtime::{Context, LambdaEvent};
use refresher_core::connection::ConnectionError;
use refresher_core::failure::TargetFailure;
use refresher_core::report::{Action, Report};
use serde_json::{Value, json};

async fn invoke(app: &App, event: Value) -> Result<Report, RunError> {
    handle(app, LambdaEvent::new(event, Context::default())).await
}

#[tokio::test]
async fn other_connection_types_are_never_turned_into_a_docker_login() {
    let prefix = unique_prefix("others");
    let client = secrets().await;
    let others = [
        ("db", "postgresql://app:dbpass@db.example.com:5432/app"),
        (
            "aws_default",
            r#"{"conn_type":"aws","login":"AKIAEXAMPLE","password":"wJalrXUtnFEMI","extra":{"region_name":"eu-west-1"}}"#,
        ),
        (
            "untyped",
            r#"{"host":"db.example.com","login":"app","password":"dbpass"}"#,
        ),
    ];
    for (id, value) in others {
        create(&client, &format!("{prefix}/{id}"), value).await;
    }
    create(&client, &format!("{prefix}/docker"), OLD_CONNECTION).await;
    let app = app(&[
        ("CONNECTIONS", "db,aws_default,untyped,docker"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
    ])
    .await;

    for dry_run in [true, false] {
        let err = invoke(&app, json!({"dry_run": dry_run})).await.unwrap_err();
        let causes = failures(&err);
        let not_docker = |t: &str| TargetFailure::Value(ConnectionError::NotDocker(t.into()));
        assert_eq!(
            causes,
            [
                ("db".to_owned(), not_docker("postgresql")),
                ("aws_default".to_owned(), not_docker("aws")),
                (
                    "untyped".to_owned(),
                    TargetFailure::Value(ConnectionError::Untyped)
                ),
            ],
            "dry run: {dry_run}"
        );
        // What the user reads names the type and the way out.
        let message = err.to_string();
        assert!(
            message.contains(r#"a "postgresql" connection, not a Docker one"#),
            "{message}"
        );
        assert!(
            message.contains("managed-by=airflow-ecr-refresher"),
            "{message}"
        );
        let RunError::Refresh(e) = &err else {
            unreachable!()
        };
        let expected = if dry_run {
            Action::WouldUpdate
        } else {
            Action::Updated
        };
        assert_eq!(
            e.refreshed.iter().map(|r| r.action).collect::<Vec<_>>(),
            [expected]
        );
    }
    for (id, value) in others {
        let name = format!("{prefix}/{id}");
        assert_eq!(
            get(&client, &name).await.as_deref(),
            Some(value),
            "{id} untouched"
        );
        assert_eq!(
            version_count(&client, &name).await,
            1,
            "{id}: no new version"
        );
    }
    assert_eq!(
        json(&get(&client, &format!("{prefix}/docker")).await.unwrap())["password"],
        MOTO_PASSWORD
    );
}

#[tokio::test]
async fn a_secret_handed_over_with_the_managed_by_tag_becomes_a_docker_connection() {
    let prefix = unique_prefix("handed-over");
    let client = secrets().await;
    let name = format!("{prefix}/ecr");
    client
        .create_secret()
        .name(&name)
        .secret_string(r#"{"conn_type":"generic","note":"fill me"}"#)
        .tags(
            aws_sdk_secretsmanager::types::Tag::builder()
                .key("managed-by")
                .value("airflow-ecr-refresher")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let app = app(&[
        ("CONNECTIONS", "ecr"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
    ])
    .await;
    let report = invoke(&app, json!({})).await.unwrap();
    assert_eq!(report.connections[0].action, Action::Updated);
    assert_eq!(
        json(&get(&client, &name).await.unwrap()),
        json!({"conn_type": "docker", "note": "fill me", "host": OWN_HOST, "login": "AWS", "password": MOTO_PASSWORD})
    );
}

#[tokio::test]
async fn a_secret_created_without_a_value_gets_its_first_value() {
    // Terraform's aws_secretsmanager_secret without a version, CloudFormation and the
    // console all make these. moto fails the whole BatchGetSecretValue for one, so this
    // also proves the one-by-one fallback keeps its batch neighbour working.
    let prefix = unique_prefix("valueless");
    let client = secrets().await;
    let empty = format!("{prefix}/empty");
    client.create_secret().name(&empty).send().await.unwrap();
    create(&client, &format!("{prefix}/neighbour"), OLD_CONNECTION).await;
    let app = app(&[
        ("CONNECTIONS", "empty,neighbour"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
    ])
    .await;
    let report = invoke(&app, json!({})).await.unwrap();
    let actions: Vec<_> = report.connections.iter().map(|r| r.action).collect();
    assert_eq!(actions, [Action::Updated, Action::Updated]);
    assert_eq!(
        json(&get(&client, &empty).await.unwrap()),
        json!({"conn_type": "docker", "host": OWN_HOST, "login": "AWS",
               "password": MOTO_PASSWORD, "extra": {"reauth": true}})
    );
    // A second run finds the value and updates it like any other.
    let report = invoke(&app, json!({})).await.unwrap();
    assert_eq!(report.connections[0].action, Action::Updated);
}

#[tokio::test]
async fn a_value_over_the_size_limit_is_refused_before_it_is_sent() {
    let prefix = unique_prefix("size");
    let client = secrets().await;
    let name = format!("{prefix}/big");
    // Fits today (65,525 bytes); with the longer ECR login it would not.
    let filler = 65_525 - r#"{"conn_type":"docker","note":""}"#.len();
    let existing = format!(
        r#"{{"conn_type":"docker","note":"{}"}}"#,
        "x".repeat(filler)
    );
    assert_eq!(existing.len(), 65_525);
    create(&client, &name, &existing).await;
    let app = app(&[
        ("CONNECTIONS", "big"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
    ])
    .await;
    for dry_run in [true, false] {
        let err = invoke(&app, json!({"dry_run": dry_run})).await.unwrap_err();
        let causes = failures(&err);
        assert!(
            matches!(causes[0].1, TargetFailure::TooLarge { limit: 65_536, .. }),
            "{err}"
        );
    }
    assert_eq!(
        get(&client, &name).await.as_deref(),
        Some(existing.as_str())
    );
}

#[tokio::test]
async fn a_dry_run_inside_a_scheduled_event_writes_nothing() {
    let prefix = unique_prefix("scheduled-dry");
    let client = secrets().await;
    let name = format!("{prefix}/good");
    create(&client, &name, OLD_CONNECTION).await;
    let app = app(&[
        ("CONNECTIONS", "good"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
    ])
    .await;
    let mut event: Value = serde_json::from_str(include_str!("../events/scheduled.json")).unwrap();
    event["dry_run"] = json!(true);
    let report = invoke(&app, event.clone()).await.unwrap();
    assert_eq!(report.connections[0].action, Action::WouldUpdate);
    event["dryrun"] = json!(true);
    assert!(matches!(
        invoke(&app, event).await,
        Err(RunError::Request(_))
    ));
    assert_eq!(get(&client, &name).await.as_deref(), Some(OLD_CONNECTION));
    assert_eq!(version_count(&client, &name).await, 1);
}

#[tokio::test]
async fn a_foreign_registry_is_refused_before_any_call() {
    let prefix = unique_prefix("foreign");
    let client = secrets().await;
    let app = app(&[(
        "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
        &prefix,
    )])
    .await;
    for host in [
        "evil.example.com",
        "docker.io",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.com",
        "public.ecr.aws",
    ] {
        let event = json!({"connections": [{"conn_id": "c", "registry": host}]});
        let err = invoke(&app, event).await.unwrap_err();
        assert!(matches!(err, RunError::Request(_)), "{host}: {err}");
        assert!(err.to_string().contains(host), "{err}");
    }
    assert_eq!(
        get(&client, &format!("{prefix}/c")).await,
        None,
        "nothing written"
    );
}

#[tokio::test]
async fn ports_and_the_users_numbers_come_out_as_airflow_needs_them() {
    let prefix = unique_prefix("ports");
    let client = secrets().await;
    let json_name = format!("{prefix}/j");
    let uri_name = format!("{prefix}/u");
    create(&client, &json_name,
        r#"{"conn_type":"docker","host":"old.example.com","port":5000,"big":123456789012345678901234567890,"extra":{"f":1.5e3,"y":1e400}}"#).await;
    create(
        &client,
        &uri_name,
        "docker://https://u:p@old.example.com:443?reauth=false",
    )
    .await;
    let app = app(&[
        ("CONNECTIONS", "j,u"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
    ])
    .await;
    invoke(&app, json!({})).await.unwrap();
    let stored = get(&client, &json_name).await.unwrap();
    assert_eq!(
        stored,
        format!(
            r#"{{"conn_type":"docker","host":"{OWN_HOST}","big":123456789012345678901234567890,"extra":{{"f":1.5e3,"y":1e400}},"login":"AWS","password":"{MOTO_PASSWORD}"}}"#
        )
    );
    assert_eq!(
        get(&client, &uri_name).await.unwrap(),
        format!("docker://AWS:{MOTO_PASSWORD}@{OWN_HOST}?reauth=false")
    );
}

#[tokio::test]
async fn kms_key_id_reaches_create_secret() {
    let prefix = unique_prefix("kms");
    let app = app(&[
        ("CONNECTIONS", "k"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
        ("KMS_KEY_ID", "alias/airflow-connections"),
    ])
    .await;
    invoke(&app, json!({})).await.unwrap();
    let described = secrets()
        .await
        .describe_secret()
        .secret_id(format!("{prefix}/k"))
        .send()
        .await
        .unwrap();
    assert_eq!(described.kms_key_id(), Some("alias/airflow-connections"));
}
