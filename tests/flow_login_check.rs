//! Issue 24, item 2, over the in-memory doubles: the login check (`check_login`,
//! `CHECK_LOGIN`) as the run uses it. A refused login fails its connection, naming it and
//! the host, with the fresh login still written; the check is opt-in, per connection over
//! the run; the stored login is checked first, only at the host the run writes, and one
//! refused inside its 12 hours is reported as having died early.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use airflow_ecr_refresher::app::{App, RunError};
use common::failures;
use common::memory::{MemoryRegistry, MemoryStore, MemoryTokens};
use refresher_aws::Aws;
use refresher_core::config::Settings;
use refresher_core::failure::TargetFailure;
use refresher_core::login_check::LoginCheckError;
use refresher_core::report::{Action, Report};
use refresher_core::request::Request;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const THEIRS: &str = "210987654321.dkr.ecr.us-east-1.amazonaws.com";
const PASSWORD: &str = "fresh+pass/word=";
const STORED: &str = "stored-Password-Sentinel";

fn app(store: &Arc<MemoryStore>, registry: &Arc<MemoryRegistry>, check_login: &str) -> App {
    let aws = Aws {
        logins: Arc::new(MemoryTokens::new("123456789012", PASSWORD)),
        store: store.clone(),
        login_check: registry.clone(),
    };
    let check_login = check_login.to_owned();
    let settings = Settings::from_lookup(move |k| match k {
        "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX" => Some("p".into()),
        "CHECK_LOGIN" => Some(check_login.clone()),
        _ => None,
    });
    App::with_aws(aws, settings, Some("us-east-1".into()))
}

async fn run(app: &App, connections: Value, dry_run: bool) -> Result<Report, RunError> {
    // Bare conn ids as entries.
    let connections: Vec<Value> = connections
        .as_array()
        .unwrap()
        .iter()
        .map(|c| match c {
            Value::String(id) => json!({"conn_id": id}),
            other => other.clone(),
        })
        .collect();
    let request = Request::from_event(json!({"connections": connections, "dry_run": dry_run}))
        .expect("a valid request");
    app.run(request).await
}

fn docker(host: &str, password: &str) -> String {
    json!({"conn_type": "docker", "host": host, "login": "AWS", "password": password}).to_string()
}

fn password(store: &MemoryStore, name: &str) -> Value {
    let value: Value = serde_json::from_str(&store.text(name).unwrap()).unwrap();
    value["password"].clone()
}

#[tokio::test]
async fn a_refused_login_fails_its_connection_naming_it_and_stays_written() {
    let store = Arc::new(MemoryStore::new(50, 65_536));
    let registry = Arc::new(MemoryRegistry::accepting(&[]));
    let err = run(&app(&store, &registry, "true"), json!(["a"]), false)
        .await
        .unwrap_err();
    let failed = failures(&err);
    assert!(
        matches!(
            &failed[..],
            [(id, TargetFailure::LoginCheck {
                action: Action::Created,
                source: LoginCheckError::Rejected { host, status: 401 },
            })] if id == "a" && host == HOST
        ),
        "{failed:?}"
    );
    let text = err.to_string();
    assert!(text.contains("a (p/a): the registry"), "{text}");
    assert!(
        text.contains(HOST) && text.contains("secret was still written"),
        "{text}"
    );
    assert!(!text.contains(PASSWORD), "{text}");
    assert_eq!(
        password(&store, "p/a"),
        PASSWORD,
        "written despite the check"
    );
    let RunError::Refresh(e) = &err else {
        unreachable!()
    };
    assert!(e.failed[0].written.is_some(), "counted as written");
    assert_eq!(
        registry.checks(),
        [(HOST.into(), "AWS".into(), PASSWORD.into())]
    );
}

#[tokio::test]
async fn with_the_check_off_no_registry_is_asked_and_nothing_is_reported() {
    let store = Arc::new(MemoryStore::new(50, 65_536));
    store.put_text("p/a", &docker(HOST, STORED));
    let registry = Arc::new(MemoryRegistry::accepting(&[]));
    for setting in ["", "false"] {
        let report = run(&app(&store, &registry, setting), json!(["a"]), false)
            .await
            .unwrap();
        let shown = serde_json::to_value(&report).unwrap();
        assert!(
            shown["connections"][0].get("stored_login").is_none(),
            "{shown}"
        );
    }
    assert!(registry.checks().is_empty());
}

#[tokio::test]
async fn a_connections_entry_overrides_the_runs_setting() {
    let store = Arc::new(MemoryStore::new(50, 65_536));
    let registry = Arc::new(MemoryRegistry::accepting(&[PASSWORD]));
    let off = json!([{"conn_id": "a", "check_login": false}, {"conn_id": "b"}]);
    run(&app(&store, &registry, "true"), off, false)
        .await
        .unwrap();
    assert_eq!(registry.checks().len(), 1, "b only");
    let on = json!([{"conn_id": "c", "check_login": true}, {"conn_id": "d"}]);
    run(&app(&store, &registry, "false"), on, false)
        .await
        .unwrap();
    assert_eq!(registry.checks().len(), 2, "and c only");
}

#[tokio::test]
async fn a_stored_login_refused_inside_its_twelve_hours_is_reported_as_died_early() {
    let store = Arc::new(MemoryStore::new(50, 65_536));
    store.put_text("p/young", &docker(HOST, STORED));
    store.put_text("p/old", &docker(HOST, STORED));
    store.written_ago("p/old", Duration::from_secs(13 * 3600));
    store.put_text("p/fine", &docker(HOST, PASSWORD));
    let registry = Arc::new(MemoryRegistry::accepting(&[PASSWORD]));
    let report = run(
        &app(&store, &registry, "true"),
        json!(["young", "old", "fine"]),
        false,
    )
    .await
    .unwrap();
    let shown = serde_json::to_value(&report).unwrap();
    let stored = |i: usize| shown["connections"][i]["stored_login"].clone();
    assert_eq!(stored(0)["accepted"], false);
    assert_eq!(stored(0)["died_early"], true, "{shown}");
    assert!(stored(0)["stated_expiry"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        (
            stored(1)["accepted"].clone(),
            stored(1)["died_early"].clone()
        ),
        (json!(false), json!(false)),
        "refused after its 12 hours: as stated"
    );
    assert_eq!(stored(2)["accepted"], true);
    assert_eq!(stored(2)["died_early"], false);
    // The stored login is checked before it is overwritten, and the fresh one after.
    let young: Vec<_> = registry
        .checks()
        .into_iter()
        .filter(|(_, _, p)| p == STORED)
        .collect();
    assert_eq!(young.len(), 2);
    assert!(young.iter().all(|(host, ..)| host == HOST));
    assert_eq!(password(&store, "p/young"), PASSWORD);
}

#[tokio::test]
async fn a_stored_password_is_never_sent_to_another_host() {
    let store = Arc::new(MemoryStore::new(50, 65_536));
    // Not an ECR host: replaced by the own registry.
    store.put_text("p/elsewhere", &docker("registry.example.com", STORED));
    // Another ECR registry, replaced because the entry names the own one.
    store.put_text("p/theirs", &docker(THEIRS, STORED));
    let registry = Arc::new(MemoryRegistry::accepting(&[PASSWORD]));
    let report = run(
        &app(&store, &registry, "true"),
        json!([{"conn_id": "elsewhere"}, {"conn_id": "theirs", "registry": HOST}]),
        false,
    )
    .await
    .unwrap();
    let registries: Vec<_> = report
        .connections
        .iter()
        .map(|r| r.registry.as_str())
        .collect();
    assert_eq!(registries, [HOST, HOST]);
    assert!(report.connections.iter().all(|r| r.stored_login.is_none()));
    let checks = registry.checks();
    assert_eq!(checks.len(), 2, "the fresh logins only");
    assert!(
        checks
            .iter()
            .all(|(host, _, p)| host == HOST && p == PASSWORD)
    );
}

#[tokio::test]
async fn an_unreachable_registry_fails_its_connection_saying_what_egress_it_needs() {
    let store = Arc::new(MemoryStore::new(50, 65_536));
    let mut registry = MemoryRegistry::accepting(&[PASSWORD]);
    registry.unreachable.insert(HOST.into());
    let registry = Arc::new(registry);
    let err = run(&app(&store, &registry, "true"), json!(["a"]), false)
        .await
        .unwrap_err();
    let failed = failures(&err);
    assert!(
        matches!(
            &failed[..],
            [(id, TargetFailure::LoginCheck { source: LoginCheckError::Unreachable { .. }, .. })]
                if id == "a"
        ),
        "{failed:?}"
    );
    let text = err.to_string();
    assert!(text.contains("com.amazonaws.<region>.ecr.dkr"), "{text}");
    assert_eq!(password(&store, "p/a"), PASSWORD, "written all the same");
}

#[tokio::test]
async fn a_dry_run_checks_the_login_it_would_write_and_writes_nothing() {
    let store = Arc::new(MemoryStore::new(50, 65_536));
    let registry = Arc::new(MemoryRegistry::accepting(&[]));
    let err = run(&app(&store, &registry, "true"), json!(["a"]), true)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("dry run: nothing was written"), "{text}");
    assert_eq!(store.text("p/a"), None);
    assert_eq!(registry.checks().len(), 1);
    let RunError::Refresh(e) = &err else {
        unreachable!()
    };
    assert!(e.failed[0].written.is_none());
}
