//! A run cut short by the deadline or SIGTERM: the report says which connections were
//! written and which were not, each outcome was logged as it finished, and the metrics
//! still count them.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use airflow_ecr_refresher::aws::Aws;
use airflow_ecr_refresher::aws_error::AwsError;
use airflow_ecr_refresher::config::Settings;
use airflow_ecr_refresher::handler::{self, App, RunError};
use airflow_ecr_refresher::memory::{MemoryStore, MemoryTokens};
use airflow_ecr_refresher::metrics;
use airflow_ecr_refresher::report::StopReason;
use airflow_ecr_refresher::store::{Current, Store, Write};
use common::binary;
use common::mock_app::invoke_captured;
use futures::future::BoxFuture;
use lambda_runtime::Context;
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The in-memory store, except that writes to `hung` never answer.
#[derive(Debug)]
struct Hangs {
    inner: MemoryStore,
    hung: &'static str,
}

impl Store for Hangs {
    fn read<'a>(&'a self, names: &'a [String]) -> BoxFuture<'a, Vec<Result<Current, AwsError>>> {
        self.inner.read(names)
    }
    fn is_managed<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, AwsError>> {
        self.inner.is_managed(name)
    }
    fn create<'a>(
        &'a self,
        write: &'a Write<'a>,
        kms: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        if write.name == self.hung {
            return Box::pin(std::future::pending());
        }
        self.inner.create(write, kms)
    }
    fn update<'a>(&'a self, write: &'a Write<'a>) -> BoxFuture<'a, Result<(), AwsError>> {
        self.inner.update(write)
    }
    fn writes_per_second(&self) -> usize {
        self.inner.writes_per_second()
    }
    fn value_limit(&self) -> usize {
        self.inner.value_limit()
    }
}

fn deadline_in(left: Duration) -> Context {
    let mut context = Context::default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    context.deadline = (now + left).as_millis() as u64;
    context
}

#[tokio::test]
async fn at_the_deadline_the_report_names_what_was_written_and_what_was_not() {
    let store = Arc::new(Hangs {
        inner: MemoryStore::new(50, 65_536),
        hung: "p/b",
    });
    let aws = Aws {
        tokens: Arc::new(MemoryTokens::new("123456789012", "pw")),
        store: store.clone(),
    };
    let settings = Settings::from_lookup(|k| match k {
        "CONNECTIONS_PREFIX" => Some("p".into()),
        "CONNECTIONS" => Some("a,b,c".into()),
        _ => None,
    });
    let app = App::with_aws(aws, settings, Some("us-east-1".into()));
    let (result, logs) =
        invoke_captured(&app, json!({}), deadline_in(Duration::from_secs(3))).await;

    // a and c were written; b never answered.
    assert!(store.inner.text("p/a").is_some() && store.inner.text("p/c").is_some());
    let outcomes = handler::outcomes(&result).expect("a stopped run has outcomes");
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

/// Accepts connections and holds them without answering, for a bounded time.
fn hanging_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
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
    format!("http://127.0.0.1:{port}")
}

fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

const AWS_VARS: [(&str, &str); 4] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
    ("CONNECTIONS", "a,b"),
];

#[test]
fn the_command_line_stopped_by_sigterm_says_what_it_did_not_finish() {
    let endpoint = hanging_endpoint();
    let child = binary::command(&AWS_VARS)
        .env("AWS_ENDPOINT_URL", &endpoint)
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

/// A stand-in for Lambda's Runtime API: hands out one invocation, and sends back the
/// path and body of every request the function makes after it.
fn runtime_api(event: &str) -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    let event = event.to_owned();
    std::thread::spawn(move || {
        let mut handed_out = false;
        for stream in listener.incoming().take(8) {
            let (tx, event) = (tx.clone(), event.clone());
            let first = !handed_out;
            handed_out = true;
            std::thread::spawn(move || serve(stream.unwrap(), first, &event, &tx));
        }
    });
    (address, rx)
}

fn serve(stream: TcpStream, first: bool, event: &str, tx: &mpsc::Sender<(String, String)>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    let mut first = first;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).unwrap();
            if header.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        if path.ends_with("/invocation/next") {
            if !first {
                // Only one invocation: later polls wait until the process is killed.
                std::thread::sleep(Duration::from_secs(60));
                return;
            }
            first = false;
            let deadline =
                SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(120);
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: req-1\r\n\
                 Lambda-Runtime-Deadline-Ms: {}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{event}",
                deadline.as_millis(),
                event.len()
            )
            .unwrap();
        } else {
            tx.send((path, String::from_utf8_lossy(&body).into_owned()))
                .unwrap();
            stream
                .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
                .unwrap();
        }
    }
}

#[test]
fn in_lambda_a_sigterm_still_answers_the_invocation_and_emits_the_metrics() {
    let endpoint = hanging_endpoint();
    let (runtime, answers) = runtime_api("{}");
    let mut child = binary::command(&AWS_VARS)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_LAMBDA_RUNTIME_API", &runtime)
        .env("AWS_LAMBDA_FUNCTION_NAME", "refresher")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/refresher")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    sigterm(child.id());
    let answer = answers.recv_timeout(Duration::from_secs(5));
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = binary::text(&out);
    let (path, body) = answer.unwrap_or_else(|_| panic!("no answer; stderr:\n{stderr}"));
    assert_eq!(path, "/2018-06-01/runtime/invocation/req-1/error");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["errorType"], "Stopped", "{body}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("not finished: a (airflow/connections/a), b (airflow/connections/b)"),
        "{body}"
    );
    let emf: serde_json::Value = stdout
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no metrics on stdout:\n{stdout}"));
    assert_eq!(emf["FunctionName"], "refresher");
    assert_eq!(emf["ConnectionsRefreshed"], 0);
    assert_eq!(emf["ConnectionsFailed"], 2);
}
