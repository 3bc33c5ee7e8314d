//! The whole refresh flow over the in-memory store and token source: no moto, no SDK.
//! Merge rules, idempotency, partial failure, races, pacing, dry run and pull roles.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use airflow_ecr_refresher::app::{App, RunError};
use common::failures;
use common::memory::{MemoryStore, MemoryTokens, Stored};
use refresher_aws::Aws;
use refresher_core::aws_error::{AwsError, ErrorKind};
use refresher_core::config::Settings;
use refresher_core::connection::ConnectionError;
use refresher_core::failure::TargetFailure;
use refresher_core::login::{LoginError, PullCheckError};
use refresher_core::report::{Action, Report};
use refresher_core::request::Request;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const PASSWORD: &str = "fresh+pass/word=";
const DOCKER: &str = r#"{"conn_type":"docker","user":"old","password":"old","extra":{"email":"ops@example.com"},"owner":"data"}"#;

fn setup(per_second: usize) -> (Arc<MemoryStore>, Arc<MemoryTokens>) {
    (
        Arc::new(MemoryStore::new(per_second, 65_536)),
        Arc::new(MemoryTokens::new("123456789012", PASSWORD)),
    )
}

fn app(store: &Arc<MemoryStore>, tokens: &Arc<MemoryTokens>) -> App {
    let aws = Aws {
        logins: tokens.clone(),
        store: store.clone(),
        login_check: Arc::new(common::memory::MemoryRegistry::default()),
    };
    let settings = Settings::from_lookup(|k| {
        (k == "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX").then(|| "p".into())
    });
    App::with_aws(aws, settings, Some("us-east-1".into()))
}

async fn run(app: &App, connections: Value, dry_run: bool) -> Result<Report, RunError> {
    let request = Request::from_event(json!({"connections": connections, "dry_run": dry_run}))
        .expect("a valid request");
    app.run(request).await
}

fn stored(store: &MemoryStore, name: &str) -> Value {
    serde_json::from_str(&store.text(name).expect("a text value")).expect("JSON")
}

#[tokio::test]
async fn an_update_changes_only_the_login_and_a_create_starts_a_docker_connection() {
    let (store, tokens) = setup(50);
    store.put_text("p/old", DOCKER);
    let report = run(
        &app(&store, &tokens),
        json!([{"conn_id": "old"}, {"conn_id": "new"}]),
        false,
    )
    .await
    .unwrap();
    let actions: Vec<_> = report.connections.iter().map(|r| r.action).collect();
    assert_eq!(actions, [Action::Updated, Action::Created]);
    assert_eq!(
        stored(&store, "p/old"),
        json!({"conn_type": "docker", "user": "AWS", "password": PASSWORD,
               "extra": {"email": "ops@example.com"}, "owner": "data", "host": HOST})
    );
    assert_eq!(stored(&store, "p/new")["conn_type"], "docker");
}

#[tokio::test]
async fn each_run_writes_on_the_version_it_read_with_a_token_of_its_own() {
    let (store, tokens) = setup(50);
    let app = app(&store, &tokens);
    store.put_text("p/c", DOCKER);
    for _ in 0..3 {
        run(&app, json!([{"conn_id": "c"}]), false).await.unwrap();
    }
    let tokens: Vec<_> = store
        .writes()
        .into_iter()
        .map(|w| w.request_token)
        .collect();
    assert_eq!(tokens.len(), 3);
    assert!(
        tokens[0] != tokens[1] && tokens[1] != tokens[2],
        "{tokens:?}"
    );
    assert!(matches!(
        store.get("p/c"),
        Some(Stored::Text { version: 4, .. })
    ));
    // A request repeated with its token (a retry after a lost answer) adds no version.
    store.put_text("p/c", DOCKER);
    run(&app, json!([{"conn_id": "c"}]), false).await.unwrap();
    let last = store.writes().pop().unwrap().request_token;
    assert_eq!(last, tokens[0], "same base, same value: same token");
}

#[tokio::test]
async fn one_failing_write_fails_only_its_connection() {
    let (store, tokens) = setup(50);
    let denied = AwsError::new(
        "store:Update",
        ErrorKind::AccessDenied,
        Some("AccessDeniedException"),
        None,
    );
    store.put_text("p/bad", DOCKER);
    store.fail_writes("p/bad", denied.clone());
    let err = run(
        &app(&store, &tokens),
        json!([{"conn_id": "bad"}, {"conn_id": "good"}]),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(
        failures(&err),
        [("bad".to_owned(), TargetFailure::Write(denied))]
    );
    let RunError::Refresh(e) = err else {
        unreachable!()
    };
    assert_eq!(e.refreshed[0].conn_id, "good");
    assert_eq!(store.text("p/bad").as_deref(), Some(DOCKER));
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_recognised_not_written_twice() {
    // Parameter Store's PutParameter takes no request token: a retry of a create that
    // landed answers ParameterAlreadyExists. The re-read finds our own value: done.
    let (store, tokens) = setup(50);
    store.lose_create_answer("p/new");
    let report = run(&app(&store, &tokens), json!([{"conn_id": "new"}]), false)
        .await
        .unwrap();
    assert_eq!(report.connections[0].action, Action::Created);
    assert_eq!(store.writes().len(), 1, "no second write of the same value");
    assert_eq!(stored(&store, "p/new")["password"], PASSWORD);
}

#[tokio::test]
async fn a_name_created_by_someone_else_is_re_read_and_never_overwritten_blind() {
    let (store, tokens) = setup(50);
    store.race_create(
        "p/docker",
        Stored::Text {
            value: DOCKER.into(),
            version: 1,
        },
    );
    store.race_create("p/empty", Stored::Valueless);
    store.race_create(
        "p/theirs",
        Stored::Text {
            value: "postgresql://a:b@db/x".into(),
            version: 1,
        },
    );
    let connections = json!([{"conn_id": "docker"}, {"conn_id": "empty"}, {"conn_id": "theirs"}]);
    let err = run(&app(&store, &tokens), connections, false)
        .await
        .unwrap_err();
    assert_eq!(
        failures(&err),
        [(
            "theirs".to_owned(),
            TargetFailure::Value(ConnectionError::NotDocker("postgresql".into()))
        )]
    );
    let RunError::Refresh(e) = err else {
        unreachable!()
    };
    assert_eq!(
        e.refreshed.iter().map(|r| r.action).collect::<Vec<_>>(),
        [Action::Updated, Action::Updated]
    );
    assert_eq!(
        stored(&store, "p/docker")["owner"],
        "data",
        "their fields kept"
    );
    assert_eq!(
        stored(&store, "p/empty")["password"],
        PASSWORD,
        "first value"
    );
    assert_eq!(
        store.text("p/theirs").as_deref(),
        Some("postgresql://a:b@db/x")
    );
}

#[tokio::test(start_paused = true)]
async fn writes_are_paced_under_the_stores_quota() {
    let (store, tokens) = setup(3);
    let connections: Vec<Value> = (0..7)
        .map(|i| json!({"conn_id": format!("c{i}")}))
        .collect();
    let start = tokio::time::Instant::now();
    run(&app(&store, &tokens), Value::Array(connections), false)
        .await
        .unwrap();
    let mut seconds: Vec<u64> = store
        .writes()
        .iter()
        .map(|w| (w.at - start).as_secs())
        .collect();
    seconds.sort_unstable();
    assert_eq!(seconds, [0, 0, 0, 1, 1, 1, 2]);
    assert!(
        store
            .writes()
            .iter()
            .all(|w| w.at - start < Duration::from_millis(2_500))
    );
}

#[tokio::test]
async fn a_dry_run_plans_every_write_and_makes_none() {
    let (store, tokens) = setup(50);
    store.put_text("p/old", DOCKER);
    store.put_text("p/db", "postgresql://a:b@db/x");
    let err = run(
        &app(&store, &tokens),
        json!([{"conn_id": "old"}, {"conn_id": "new"}, {"conn_id": "db"}]),
        true,
    )
    .await
    .unwrap_err();
    assert!(matches!(
        &failures(&err)[0].1,
        TargetFailure::Value(ConnectionError::NotDocker(_))
    ));
    let RunError::Refresh(e) = err else {
        unreachable!()
    };
    assert_eq!(
        e.refreshed.iter().map(|r| r.action).collect::<Vec<_>>(),
        [Action::WouldUpdate, Action::WouldCreate]
    );
    assert!(store.writes().is_empty());
    assert_eq!(store.text("p/old").as_deref(), Some(DOCKER));
}

#[tokio::test]
async fn pull_roles_are_assumed_once_and_each_check_asks_as_the_tokens_principal() {
    let (store, tokens) = setup(50);
    let mut source = MemoryTokens::new("123456789012", PASSWORD);
    source.images.insert("team/app:v1".into());
    source
        .refused_roles
        .insert("arn:aws:iam::123456789012:role/refused".into());
    let tokens_arc = Arc::new(source);
    let _ = tokens;
    let role = "arn:aws:iam::123456789012:role/puller";
    let connections = json!([
        {"conn_id": "a", "pull_role_arn": role, "check_image": "team/app:v1"},
        {"conn_id": "b", "pull_role_arn": role, "region": "eu-west-1", "check_image": "team/app:v2"},
        {"conn_id": "c", "check_image": "team/app:v1"},
        {"conn_id": "d", "pull_role_arn": "arn:aws:iam::123456789012:role/refused"}
    ]);
    let err = run(&app(&store, &tokens_arc), connections, false)
        .await
        .unwrap_err();
    let mut calls = tokens_arc.calls();
    calls.sort();
    assert_eq!(
        calls,
        [
            "assume arn:aws:iam::123456789012:role/puller",
            "assume arn:aws:iam::123456789012:role/refused",
            "pull team/app:v1 as ASIA-puller",
            "pull team/app:v1 as function",
            "pull team/app:v2 as ASIA-puller",
            "token eu-west-1 as ASIA-puller",
            "token us-east-1 as ASIA-puller",
            "token us-east-1 as function",
        ]
    );
    let failed = failures(&err);
    assert!(matches!(
        &failed[0],
        (id, TargetFailure::PullCheck { action: Action::Created, source: PullCheckError::Missing { .. } }) if id == "b"
    ));
    assert!(matches!(&failed[1], (id, TargetFailure::Login(LoginError::Role { .. })) if id == "d"));
    assert_eq!(
        stored(&store, "p/b")["password"],
        PASSWORD,
        "written despite the failed check"
    );
    assert_eq!(store.get("p/d"), None, "no token, no write");
    let RunError::Refresh(e) = &err else {
        unreachable!()
    };
    let written = e.failed[0].written.as_ref().expect("b was written");
    assert_eq!(
        (written.conn_id.as_str(), written.action),
        ("b", Action::Created)
    );
    assert!(e.failed[1].written.is_none(), "d was not written");
}

#[tokio::test]
async fn a_dry_run_with_a_failing_pull_check_never_says_it_wrote() {
    let (store, _) = setup(50);
    let tokens = Arc::new(MemoryTokens::new("123456789012", PASSWORD));
    let err = run(
        &app(&store, &tokens),
        json!([{"conn_id": "b", "check_image": "team/app:missing"}]),
        true,
    )
    .await
    .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("dry run: nothing was written; it would create"),
        "{message}"
    );
    assert!(!message.contains("still written"), "{message}");
    let RunError::Refresh(e) = &err else {
        unreachable!()
    };
    assert!(e.failed[0].written.is_none());
    assert_eq!(store.get("p/b"), None);
}

#[tokio::test]
async fn a_secrets_role_in_another_partition_fails_the_run_before_any_call() {
    let (store, tokens) = setup(50);
    let aws = Aws {
        logins: tokens.clone(),
        store: store.clone(),
        login_check: Arc::new(common::memory::MemoryRegistry::default()),
    };
    let settings = Settings::from_lookup(|k| match k {
        "CONNECTIONS" => Some("docker_ecr".into()),
        "AIRFLOW__SECRETS__BACKEND_KWARG__ROLE_ARN" => {
            Some("arn:aws-cn:iam::123456789012:role/secrets".into())
        }
        _ => None,
    });
    let app = App::with_aws(aws, settings, Some("us-east-1".into()));
    let err = app.run(Request::default()).await.unwrap_err();
    assert!(
        matches!(&err, RunError::Config(e) if e.variable == "AIRFLOW__SECRETS__BACKEND_KWARG__ROLE_ARN"),
        "{err}"
    );
    assert!(store.writes().is_empty() && tokens.calls().is_empty());
}
