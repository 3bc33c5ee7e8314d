//! A run cut short by the deadline or SIGTERM: the report says which connections were
//! written and which were not, each outcome was logged as it finished, and the metrics
//! still count them.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use airflow_ecr_refresher::handler::{App, RunError};
use airflow_ecr_refresher::metrics;
use common::binary;
use common::fake_aws::{FakeAws, KEYS, start_lambda};
use common::intercepted::Intercepted;
use common::memory::{MemoryStore, MemoryTokens};
use common::mock_app::invoke_captured;
use refresher_aws::Aws;
use refresher_core::config::Settings;
use refresher_core::report::StopReason;
use serde_json::json;
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

#[tokio::test]
async fn at_the_deadline_the_report_names_what_was_written_and_what_was_not() {
    let memory = Arc::new(MemoryStore::new(50, 65_536));
    let aws = Aws {
        logins: Arc::new(MemoryTokens::new("123456789012", "pw")),
        store: Arc::new(Intercepted::hanging(memory.clone(), "p/b")),
        login_check: Arc::new(common::memory::MemoryRegistry::default()),
    };
    let settings = Settings::from_lookup(|k| match k {
        "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX" => Some("p".into()),
        "CONNECTIONS" => Some("a,b,c".into()),
        _ => None,
    });
    let app = App::with_aws(aws, settings, Some("us-east-1".into()));
    let (result, logs) =
        invoke_captured(&app, json!({}), common::deadline_in(Duration::from_secs(3))).await;

    // a and c were written; b never answered.
    assert!(memory.text("p/a").is_some() && memory.text("p/c").is_some());
    let outcomes = metrics::outcomes(&result).expect("a stopped run has outcomes");
    let err = result.unwrap_err();
    let RunError::Stopped(stopped) = &err else {
        panic!("expected a stop, got {err}");
    };
    assert!(matches!(stopped.reason, StopReason::Deadline(_)));
    let done: Vec<_> = outcomes.refreshed.iter().map(|r| &r.conn_id).collect();
    assert_eq!(done, ["a", "c"]);
    assert_eq!(outcomes.unfinished.len(), 1);
    assert_eq!(outcomes.unfinished[0].secret_name, "p/b");
    let message = err.to_string();
    assert!(
        message.contains("not finished: b (p/b)") && message.contains("done: a, c"),
        "{message}"
    );
    let diagnostic: lambda_runtime::Diagnostic = err.into();
    assert_eq!(diagnostic.error_type, "DeadlineReached");

    // Each finished connection was logged when it finished, before the stop.
    let refreshed_lines = logs
        .lines()
        .filter(|l| l.contains("connection refreshed"))
        .count();
    assert_eq!(refreshed_lines, 2, "{logs}");

    // The metrics count the unfinished connection as failed, the written ones as fresh.
    let record = metrics::record("fn", &outcomes, SystemTime::now(), None);
    assert_eq!(record["ConnectionsRefreshed"], 2);
    assert_eq!(record["ConnectionsFailed"], 1);
}

/// A local AWS whose token and read calls never answer.
fn hanging_aws() -> FakeAws {
    let hang = || (0, String::new());
    FakeAws::start(HashMap::from([
        ("GetAuthorizationToken", hang()),
        ("BatchGetSecretValue", hang()),
    ]))
}

fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

const VARS: [(&str, &str); 4] = [
    KEYS[0],
    KEYS[1],
    ("AWS_REGION", "us-east-1"),
    ("CONNECTIONS", "a,b"),
];

#[test]
fn the_command_line_stopped_by_sigterm_says_what_it_did_not_finish() {
    let aws = hanging_aws();
    let child = binary::command(&VARS)
        .env("AWS_ENDPOINT_URL", &aws.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Long enough to be waiting on AWS, far shorter than the SDK's own timeouts.
    std::thread::sleep(Duration::from_millis(1500));
    let started = Instant::now();
    sigterm(child.id());
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "it kept running"
    );
    let (_, stderr) = binary::text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "error: stopped by SIGTERM; not finished: a (airflow/connections/a), \
             b (airflow/connections/b)"
        ),
        "{stderr}"
    );
}

#[test]
fn in_lambda_a_sigterm_still_answers_the_invocation_and_emits_the_metrics() {
    let aws = hanging_aws();
    let lambda = start_lambda(&aws, &VARS);
    std::thread::sleep(Duration::from_millis(1500));
    sigterm(lambda.id());
    let outcome = lambda.finish(&aws);
    let error: serde_json::Value = serde_json::from_str(&outcome.answer).unwrap();
    assert_eq!(error["errorType"], "Stopped", "{}", outcome.answer);
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("not finished: a (airflow/connections/a), b (airflow/connections/b)"),
        "{}",
        outcome.answer
    );
    let emf: serde_json::Value = outcome
        .output
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v.get("_aws").is_some())
        .unwrap_or_else(|| panic!("no metrics printed:\n{}", outcome.output));
    assert_eq!(emf["FunctionName"], "refresher");
    assert_eq!(emf["ConnectionsRefreshed"], 0);
    assert_eq!(emf["ConnectionsFailed"], 2);
}
