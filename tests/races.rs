//! Other writers during a run, over the in-memory store: a change made after the run's
//! read is planned on, and one that slips in between the re-read and the write is put back
//! as current and reported. Also the pacing of the run's reads.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use airflow_ecr_refresher::app::{App, RunError};
use common::failures;
use common::memory::{MemoryStore, MemoryTokens, Stored};
use refresher_aws::Aws;
use refresher_aws::batch::ReadQuota;
use refresher_core::config::Settings;
use refresher_core::connection::ConnectionError;
use refresher_core::failure::TargetFailure;
use refresher_core::report::{Action, Report};
use refresher_core::request::Request;
use serde_json::{Value, json};
use std::sync::Arc;

const PASSWORD: &str = "fresh+pass/word=";
const DOCKER: &str = r#"{"conn_type":"docker","login":"AWS","password":"old","owner":"data"}"#;
const THEIR_DOCKER: &str = r#"{"conn_type":"docker","login":"AWS","password":"old","owner":"ml"}"#;
const POSTGRES: &str = "postgresql://app:pw@db.example.com:5432/app";

fn app(store: &Arc<MemoryStore>) -> App {
    let aws = Aws {
        logins: Arc::new(MemoryTokens::new("123456789012", PASSWORD)),
        store: store.clone(),
        login_check: Arc::new(common::memory::MemoryRegistry::default()),
    };
    let settings = Settings::from_lookup(|k| {
        (k == "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX").then(|| "p".into())
    });
    App::with_aws(aws, settings, Some("us-east-1".into()))
}

async fn run(store: &Arc<MemoryStore>, connections: Value) -> Result<Report, RunError> {
    let connections: Vec<Value> = connections
        .as_array()
        .expect("conn ids")
        .iter()
        .map(|id| json!({"conn_id": id}))
        .collect();
    let request = Request::from_event(json!({"connections": connections})).expect("valid");
    app(store).run(request).await
}

fn stored(store: &MemoryStore, name: &str) -> Value {
    serde_json::from_str(&store.text(name).expect("a text value")).expect("JSON")
}

fn store_with(name: &str, value: &str) -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new(50, 65_536));
    store.put_text(name, value);
    store
}

#[tokio::test]
async fn a_change_made_after_the_runs_read_is_planned_on_not_overwritten() {
    // Written while the run waited for its write's turn: the re-read finds it.
    let store = store_with("p/c", DOCKER);
    store.write_before_reread("p/c", THEIR_DOCKER);
    let report = run(&store, json!(["c"])).await.unwrap();
    assert_eq!(report.connections[0].action, Action::Updated);
    let now = stored(&store, "p/c");
    assert_eq!(
        (now["owner"].as_str(), now["password"].as_str()),
        (Some("ml"), Some(PASSWORD))
    );
    assert_eq!(store.restores(), 0, "nothing of theirs was replaced");

    let store = store_with("p/c", DOCKER);
    store.write_before_reread("p/c", POSTGRES);
    let err = run(&store, json!(["c"])).await.unwrap_err();
    assert_eq!(
        failures(&err),
        [(
            "c".into(),
            TargetFailure::Value(ConnectionError::NotDocker("postgresql".into()))
        )]
    );
    assert_eq!(store.text("p/c").as_deref(), Some(POSTGRES));
    assert_eq!(store.writes().len(), 0, "never written");
}

#[tokio::test]
async fn a_connection_written_between_the_re_read_and_the_write_wins_and_is_reported() {
    let store = store_with("p/c", DOCKER);
    store.put_text("p/other", DOCKER);
    store.write_before_update("p/c", POSTGRES);
    let err = run(&store, json!(["c", "other"])).await.unwrap_err();
    assert_eq!(
        failures(&err),
        [(
            "c".into(),
            TargetFailure::Raced(Box::new(TargetFailure::Value(ConnectionError::NotDocker(
                "postgresql".into()
            ))))
        )]
    );
    assert!(
        err.to_string()
            .contains("another writer changed the secret"),
        "{err}"
    );
    assert_eq!(
        store.text("p/c").as_deref(),
        Some(POSTGRES),
        "theirs is current"
    );
    assert_eq!(store.restores(), 1);
    assert_eq!(
        stored(&store, "p/other")["password"],
        PASSWORD,
        "the others go on"
    );
}

#[tokio::test]
async fn a_docker_change_that_slipped_in_is_put_back_and_the_login_written_on_top_once() {
    let store = store_with("p/c", DOCKER);
    store.write_before_update("p/c", THEIR_DOCKER);
    let report = run(&store, json!(["c"])).await.unwrap();
    assert_eq!(report.connections[0].action, Action::Updated);
    let now = stored(&store, "p/c");
    assert_eq!(
        (now["owner"].as_str(), now["password"].as_str()),
        (Some("ml"), Some(PASSWORD))
    );
    assert_eq!((store.restores(), store.writes().len()), (1, 2));

    // A second writer slips in again: put back again, and left to the next run.
    let store = store_with("p/c", DOCKER);
    store.write_before_update("p/c", THEIR_DOCKER);
    store.write_before_update("p/c", POSTGRES);
    let err = run(&store, json!(["c"])).await.unwrap_err();
    assert_eq!(failures(&err), [("c".into(), TargetFailure::RacedTwice)]);
    assert_eq!(store.text("p/c").as_deref(), Some(POSTGRES));
    assert_eq!(store.restores(), 2);
}

#[tokio::test]
async fn a_first_value_written_by_someone_else_in_between_wins() {
    // A secret created without a value (Terraform, the console) gets its first from the
    // run, unless someone else gives it one in between.
    let store = Arc::new(MemoryStore::new(50, 65_536));
    store.race_create("p/c", Stored::Valueless);
    store.write_before_update("p/c", POSTGRES);
    let err = run(&store, json!(["c"])).await.unwrap_err();
    assert!(
        matches!(&failures(&err)[0].1, TargetFailure::Raced(_)),
        "{err}"
    );
    assert_eq!(store.text("p/c").as_deref(), Some(POSTGRES));
}

#[tokio::test(start_paused = true)]
async fn reads_are_paced_under_the_stores_read_quota() {
    let quota = ReadQuota {
        batch: 2,
        calls_per_second: 3,
    };
    let store = Arc::new(MemoryStore::new(50, 65_536).with_reads(quota));
    let start = tokio::time::Instant::now();
    let ids: Vec<Value> = (0..13).map(|i| json!(format!("c{i}"))).collect();
    run(&store, Value::Array(ids)).await.unwrap();
    let seconds: Vec<u64> = store
        .read_calls()
        .iter()
        .map(|at| (*at - start).as_secs())
        .collect();
    assert_eq!(
        seconds,
        [0, 0, 0, 1, 1, 1, 2],
        "7 calls of 2 names, 3 a second"
    );
}
