//! Issue 21, item 3, over the in-memory store and token source: an existing connection
//! whose host is an ECR registry keeps it (the token from that registry's region), or is
//! refused naming both hosts; the configuration moves it only where it says so.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use airflow_ecr_refresher::app::{App, RunError};
use common::failures;
use common::memory::{MemoryStore, MemoryTokens};
use refresher_aws::Aws;
use refresher_core::config::Settings;
use refresher_core::destination::HostConflict;
use refresher_core::failure::TargetFailure;
use refresher_core::report::Report;
use refresher_core::request::Request;
use serde_json::{Value, json};
use std::sync::Arc;

const OWN: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const THEIRS: &str = "210987654321.dkr.ecr.eu-west-1.amazonaws.com";
const CHINA: &str = "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn";
const PASSWORD: &str = "fresh+pass/word=";
const ROLE: &str = "arn:aws:iam::123456789012:role/puller";

fn setup() -> (Arc<MemoryStore>, Arc<MemoryTokens>, App) {
    let store = Arc::new(MemoryStore::new(50, 65_536));
    let tokens = Arc::new(MemoryTokens::new("123456789012", PASSWORD));
    let aws = Aws {
        logins: tokens.clone(),
        store: store.clone(),
        login_check: Arc::new(common::memory::MemoryRegistry::default()),
    };
    let settings = Settings::from_lookup(|k| {
        (k == "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX").then(|| "p".into())
    });
    let app = App::with_aws(aws, settings, Some("us-east-1".into()));
    (store, tokens, app)
}

async fn run(app: &App, connections: Value, dry_run: bool) -> Result<Report, RunError> {
    let request = Request::from_event(json!({"connections": connections, "dry_run": dry_run}))
        .expect("a valid request");
    app.run(request).await
}

fn docker(host: &str) -> String {
    json!({"conn_type": "docker", "host": host, "login": "AWS", "password": "old"}).to_string()
}

fn stored(store: &MemoryStore, name: &str) -> Value {
    serde_json::from_str(&store.text(name).expect("a text value")).expect("JSON")
}

#[tokio::test]
async fn by_conn_id_alone_another_accounts_registry_is_kept_with_its_regions_token() {
    let (store, tokens, app) = setup();
    store.put_text("p/theirs", &docker(THEIRS));
    store.put_text(
        "p/theirs_uri",
        &format!("docker://AWS:old@{THEIRS}:443?reauth=true"),
    );
    store.put_text("p/theirs_role", &docker(THEIRS));
    store.put_text("p/elsewhere", &docker("old.example.com"));
    let report = run(
        &app,
        json!([
            {"conn_id": "theirs"}, {"conn_id": "theirs_uri"},
            {"conn_id": "theirs_role", "pull_role_arn": ROLE},
            {"conn_id": "elsewhere"}, {"conn_id": "new"}
        ]),
        false,
    )
    .await
    .unwrap();
    let registries: Vec<_> = report
        .connections
        .iter()
        .map(|r| r.registry.as_str())
        .collect();
    assert_eq!(registries, [THEIRS, THEIRS, THEIRS, OWN, OWN]);
    assert_eq!(stored(&store, "p/theirs")["host"], THEIRS);
    assert_eq!(stored(&store, "p/theirs")["password"], PASSWORD);
    assert_eq!(
        store.text("p/theirs_uri").unwrap(),
        format!("docker://AWS:fresh%2Bpass%2Fword%3D@{THEIRS}?reauth=true"),
        "kept, its port dropped"
    );
    assert_eq!(stored(&store, "p/theirs_role")["host"], THEIRS);
    assert_eq!(
        stored(&store, "p/elsewhere")["host"],
        OWN,
        "no ECR registry: replaced"
    );
    let mut calls = tokens.calls();
    calls.sort();
    assert_eq!(
        calls,
        [
            format!("assume {ROLE}"),
            "token eu-west-1 as ASIA-puller".into(),
            "token eu-west-1 as function".into(),
            // Fetched beside the read, before it said the role's connection stays put.
            "token us-east-1 as ASIA-puller".into(),
            "token us-east-1 as function".into(),
        ],
        "one AssumeRole per role, one token per (role, region)"
    );
}

#[tokio::test]
async fn a_registry_that_cannot_be_kept_is_refused_naming_both_and_left_untouched() {
    let (store, _, app) = setup();
    store.put_text("p/pinned", &docker(THEIRS));
    store.put_text("p/china", &docker(CHINA));
    store.put_text("p/moved", &docker(THEIRS));
    for dry_run in [true, false] {
        let err = run(
            &app,
            json!([
                {"conn_id": "pinned", "region": "us-west-2"},
                {"conn_id": "china"},
                {"conn_id": "moved", "registry": OWN}
            ]),
            dry_run,
        )
        .await
        .unwrap_err();
        assert_eq!(
            failures(&err),
            [
                (
                    "pinned".to_owned(),
                    TargetFailure::Host(HostConflict::Region {
                        existing: THEIRS.into(),
                        existing_region: "eu-west-1".into(),
                        region: "us-west-2".into(),
                        replacement: "123456789012.dkr.ecr.us-west-2.amazonaws.com".into(),
                    })
                ),
                (
                    "china".to_owned(),
                    TargetFailure::Host(HostConflict::Partition {
                        existing: CHINA.into(),
                        partition: "aws-cn",
                        function_partition: "aws",
                        replacement: OWN.into(),
                    })
                ),
            ]
        );
        let message = err.to_string();
        assert!(
            message.contains(CHINA) && message.contains(OWN),
            "{message}"
        );
        assert_eq!(store.text("p/pinned").unwrap(), docker(THEIRS));
        assert_eq!(store.text("p/china").unwrap(), docker(CHINA));
    }
    assert_eq!(
        stored(&store, "p/moved")["host"],
        OWN,
        "a registry host in the configuration moves the connection"
    );
}
