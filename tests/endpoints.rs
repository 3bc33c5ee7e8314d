//! An AWS endpoint that refuses connections, and one that accepts and never answers: the
//! function must answer with an error before the Lambda deadline, never be killed by it.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use airflow_ecr_refresher::app;
use airflow_ecr_refresher::handler::{App, RunError};
use common::mock::{assert_no_secret, invoke_captured};
use lambda_runtime::Context;
use refresher_core::aws_error::ErrorKind;
use refresher_core::failure::TargetFailure;
use refresher_core::login::LoginError;
use serde_json::json;
use std::net::TcpListener;
use std::time::{Duration, Instant};

const LAMBDA_TIMEOUT: Duration = Duration::from_secs(5);

async fn app_at(endpoint: &str) -> App {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(app::retries())
        .timeout_config(app::timeouts())
        .load()
        .await;
    let settings = refresher_core::config::Settings::from_lookup(|k| {
        (k == "CONNECTIONS").then(|| "a,b".into())
    });
    App::new(&sdk, settings).await
}

fn context_with_deadline() -> Context {
    common::deadline_in(LAMBDA_TIMEOUT)
}

#[tokio::test]
async fn a_refusing_endpoint_fails_before_the_deadline_naming_every_connection() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The listener is dropped: nothing listens on `port` now.
    let app = app_at(&format!("http://127.0.0.1:{port}")).await;
    let started = Instant::now();
    let (result, output) = invoke_captured(&app, json!({}), context_with_deadline()).await;
    assert!(
        started.elapsed() < LAMBDA_TIMEOUT,
        "answered in {:?}",
        started.elapsed()
    );
    match result {
        Err(RunError::Refresh(failed)) => {
            let ids: Vec<_> = failed.failed.iter().map(|f| f.conn_id.as_str()).collect();
            assert_eq!(ids, ["a", "b"]);
            // The token call failed for want of an answer, not for a service error.
            let transport = |cause: &TargetFailure| match cause {
                TargetFailure::Login(LoginError::Call { source, .. }) => {
                    source.kind == ErrorKind::Transport
                }
                TargetFailure::Read(source) => source.kind == ErrorKind::Transport,
                _ => false,
            };
            assert!(
                failed.failed.iter().all(|f| transport(&f.cause)),
                "{failed}"
            );
        }
        Err(RunError::Stopped(_)) => {}
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_no_secret(&output);
}

#[tokio::test]
async fn a_hanging_endpoint_is_cut_off_before_the_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold every connection without a byte of answer, for a bounded time.
    std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(30);
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        while Instant::now() < until {
            if let Ok((stream, _)) = listener.accept() {
                held.push(stream);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let app = app_at(&format!("http://127.0.0.1:{port}")).await;
    let started = Instant::now();
    let (result, output) = invoke_captured(&app, json!({}), context_with_deadline()).await;
    let elapsed = started.elapsed();
    assert!(elapsed < LAMBDA_TIMEOUT, "answered in {elapsed:?}");
    assert!(
        elapsed >= LAMBDA_TIMEOUT - Duration::from_secs(2),
        "it waited for the endpoint: {elapsed:?}"
    );
    let err = result.unwrap_err();
    assert!(matches!(err, RunError::Stopped(_)), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("not finished: a (airflow/connections/a), b (airflow/connections/b)")
            && message.contains("Raise the function's timeout"),
        "{message}"
    );
    let diagnostic: lambda_runtime::Diagnostic = err.into();
    assert_eq!(diagnostic.error_type, "DeadlineReached");
    assert_no_secret(&output);
}
