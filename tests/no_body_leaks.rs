//! The real binary against a local endpoint that answers a call with HTTP 200 and a body
//! the SDK cannot deserialize, holding a secret: an ECR token, a secret's value, a
//! decrypted parameter, an assumed role's keys. A proxy, a VPC endpoint fault or a future
//! API change can answer so. The secret must appear nowhere: not in stdout, stderr, the
//! error or the report, at the default log level or at TRACE with JSON logs.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::binary::{run, text};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

const MARKER: &str = "Leak-Marker-6c1d";
const MARKER2: &str = "Leak-Marker-Session-93b7";

/// `AWS:fresh-password`, as GetAuthorizationToken encodes it (Amazon ECR API Reference,
/// `AuthorizationData`).
const TOKEN: &str = "QVdTOmZyZXNoLXBhc3N3b3Jk";
const GOOD_TOKEN: &str = r#"{"authorizationData":[{"authorizationToken":"QVdTOmZyZXNoLXBhc3N3b3Jk","expiresAt":4102444800,"proxyEndpoint":"https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}]}"#;
/// A Docker connection holding the marker as its password, as Airflow stores it.
fn stored_connection() -> String {
    format!(
        r#"{{"conn_type":"docker","host":"h.example.com","login":"AWS","password":"{MARKER}"}}"#
    )
}

type Answer = (u16, String);

/// A local AWS: each operation (from `X-Amz-Target`, or the query `Action`) gets its
/// canned answer; anything else a 400 naming it. Every operation asked is recorded.
struct FakeAws {
    url: String,
    asked: Arc<Mutex<Vec<String>>>,
}

impl FakeAws {
    fn start(answers: HashMap<&'static str, Answer>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let record = asked.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let answers = answers.clone();
                let record = record.clone();
                std::thread::spawn(move || serve(stream, &answers, &record));
            }
        });
        Self { url, asked }
    }

    fn asked(&self, operation: &str) -> usize {
        let asked = self.asked.lock().unwrap();
        asked.iter().filter(|o| *o == operation).count()
    }
}

/// One HTTP/1.1 exchange per connection (`Connection: close`): enough for the SDK.
fn serve(stream: TcpStream, answers: &HashMap<&str, Answer>, asked: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut target = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "x-amz-target" => target = value.trim().to_owned(),
                "content-length" => length = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body = String::from_utf8_lossy(&body);
    if let Some(runtime) = path.strip_prefix("/2018-06-01/runtime/invocation/") {
        return runtime_api(reader.into_inner(), runtime, &body, asked);
    }
    let operation = match target.rsplit_once('.') {
        Some((_, op)) => op.to_owned(),
        None => form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default(),
    };
    asked.lock().unwrap().push(operation.clone());
    let (status, answer) = answers.get(operation.as_str()).cloned().unwrap_or_else(|| {
        (
            400,
            format!(
                r#"{{"__type":"InvalidRequestException","message":"{operation} is not faked"}}"#
            ),
        )
    });
    let content_type = if target.is_empty() {
        "text/xml"
    } else {
        "application/x-amz-json-1.1"
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         x-amzn-RequestId: 6f1f0e6c-1b2a-4c3d-9e8f-0a1b2c3d4e5f\r\nConnection: close\r\n\r\n",
        answer.len()
    );
    let mut stream = reader.into_inner();
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(answer.as_bytes());
}

/// Lambda's Runtime API (AWS Lambda Developer Guide, "Using the Lambda runtime API for
/// custom runtimes"): one invocation with an empty event, then no more; the function's
/// answer (`/response` or `/error`) is recorded as `answer:<body>`.
fn runtime_api(mut stream: TcpStream, path: &str, body: &str, asked: &Mutex<Vec<String>>) {
    if path == "next" {
        let first = {
            let mut asked = asked.lock().unwrap();
            let first = !asked.iter().any(|a| a == "next");
            asked.push("next".into());
            first
        };
        if !first {
            // The test ends the process once it has answered.
            std::thread::sleep(std::time::Duration::from_secs(120));
            return;
        }
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 60_000;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\
             Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n\
             Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
             Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:refresher\r\n\
             Connection: close\r\n\r\n{{}}"
        );
        let _ = stream.write_all(head.as_bytes());
        return;
    }
    asked.lock().unwrap().push(format!("answer:{body}"));
    let _ = stream.write_all(
        b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
}

/// What a run printed, and what it answered (the Lambda response or error).
struct Outcome {
    code: Option<i32>,
    output: String,
    answer: String,
}

/// The function's own credentials, for all but the web identity test.
const KEYS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
];

/// The AWS variables pointing every service at `fake` (STS's own variable too, which
/// the credential providers read), then `vars`.
fn environment<'a>(fake: &'a FakeAws, vars: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("AWS_ENDPOINT_URL", fake.url.as_str()),
        ("AWS_ENDPOINT_URL_STS", fake.url.as_str()),
        ("AWS_REGION", "us-east-1"),
    ];
    all.extend_from_slice(vars);
    all
}

/// The one-shot command: its report (stdout) or error line is its answer.
fn run_command(fake: &FakeAws, vars: &[(&str, &str)]) -> Outcome {
    let out = run(&environment(fake, vars));
    let (stdout, stderr) = text(&out);
    let answer = if out.status.success() {
        stdout.clone()
    } else {
        stderr.lines().last().unwrap_or_default().to_owned()
    };
    Outcome {
        code: out.status.code(),
        output: stdout + &stderr,
        answer,
    }
}

/// The function under Lambda's Runtime API, for one invocation.
fn run_lambda(fake: &FakeAws, vars: &[(&str, &str)]) -> Outcome {
    let runtime = fake.url.trim_start_matches("http://").to_owned();
    let mut vars = environment(fake, vars);
    vars.extend_from_slice(&[
        ("AWS_LAMBDA_RUNTIME_API", runtime.as_str()),
        ("AWS_LAMBDA_FUNCTION_NAME", "refresher"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ]);
    let home = std::env::temp_dir().join(format!("aer-leaks-home-{}", std::process::id()));
    let mut child = std::process::Command::new(common::binary::BIN)
        .env_clear()
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(vars.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Drained as it comes, so a loud run never blocks on a full pipe.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let answered = || {
        let asked = fake.asked.lock().unwrap();
        asked
            .iter()
            .find_map(|a| a.strip_prefix("answer:").map(str::to_owned))
    };
    let started = std::time::Instant::now();
    let answer = loop {
        if let Some(answer) = answered() {
            break answer;
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "the function never answered"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    // Let it finish its last lines, then end it: Lambda would freeze it.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let _ = child.kill();
    let _ = child.wait();
    Outcome {
        code: None,
        output: stdout.join().unwrap() + &stderr.join().unwrap(),
        answer,
    }
}

/// The default level, and the loudest level, filter and format.
const LEVELS: &[&[(&str, &str)]] = &[
    &[],
    &[
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        ("AWS_LAMBDA_LOG_FORMAT", "json"),
        ("RUST_LOG", "trace"),
    ],
    &[(
        "RUST_LOG",
        "trace,aws_config=trace,aws_smithy_runtime=trace",
    )],
];

/// Runs the binary against `fake` at every level, as a command and as a Lambda function:
/// nothing it prints or answers holds a marker, and it says that `operation`'s answer
/// could not be read. Each outcome is returned for the caller's own checks.
fn assert_no_leak(fake: &FakeAws, operation: &str, vars: &[(&str, &str)]) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for level in LEVELS {
        let mut vars = vars.to_vec();
        vars.extend_from_slice(level);
        for lambda in [false, true] {
            if lambda {
                // A fresh Runtime API: one invocation.
                fake.asked.lock().unwrap().clear();
            }
            let before = fake.asked(operation);
            let outcome = if lambda {
                run_lambda(fake, &vars)
            } else {
                run_command(fake, &vars)
            };
            let Outcome { output, answer, .. } = &outcome;
            let how = format!("{level:?}, lambda: {lambda}");
            assert!(
                fake.asked(operation) > before,
                "{how}: {operation} was never asked: {output}"
            );
            // The loud levels really were on.
            assert!(
                level.is_empty() || output.contains("run started"),
                "{how}: no debug events:\n{output}"
            );
            for marker in [MARKER, MARKER2] {
                assert!(
                    !output.contains(marker),
                    "{how} printed {marker}:\n{output}"
                );
                assert!(
                    !answer.contains(marker),
                    "{how} answered {marker}:\n{answer}"
                );
            }
            assert!(
                output.contains("the answer could not be read (") && output.contains("HTTP 200"),
                "{how}: the failure is not named:\n{output}"
            );
            outcomes.push(outcome);
        }
    }
    outcomes
}

/// A failed run: exit status 1 as a command, `RefreshFailed` as a function, and its
/// answer names the failed call.
fn assert_failed(outcome: &Outcome, says: &str) {
    let Outcome {
        code,
        output,
        answer,
    } = outcome;
    match code {
        Some(code) => assert_eq!(*code, 1, "{output}"),
        None => assert!(
            answer.contains("\"errorType\":\"RefreshFailed\""),
            "{answer}"
        ),
    }
    assert!(answer.contains(says), "{answer}");
}

#[test]
fn an_unreadable_ecr_token_is_never_printed() {
    let body = format!(
        r#"{{"authorizationData":[{{"authorizationToken":"{MARKER}","expiresAt":"not-a-date","proxyEndpoint":"https://123456789012.dkr.ecr.us-east-1.amazonaws.com"}}]}}"#
    );
    let fake = FakeAws::start(HashMap::from([("GetAuthorizationToken", (200, body))]));
    for outcome in assert_no_leak(
        &fake,
        "GetAuthorizationToken",
        &[KEYS[0], KEYS[1], ("CONNECTIONS", "docker_ecr")],
    ) {
        assert_failed(
            &outcome,
            "ecr:GetAuthorizationToken failed: the answer could not be read",
        );
    }
}

#[test]
fn an_unreadable_batch_of_secrets_is_never_printed() {
    // Cut off inside the secret's value; the secrets are then read one by one, and the
    // run goes on (the one-by-one read is answered in AWS's shape, API Reference,
    // `GetSecretValue`).
    let batch = format!(
        r#"{{"SecretValues":[{{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/connections/docker_ecr-AbCdEf","Name":"airflow/connections/docker_ecr","SecretString":"{}"#,
        stored_connection().replace('"', "\\\"")
    );
    let one = serde_json::json!({
        "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/connections/docker_ecr-AbCdEf",
        "Name": "airflow/connections/docker_ecr",
        "VersionId": "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE",
        "SecretString": stored_connection(),
        "VersionStages": ["AWSCURRENT"],
        "CreatedDate": 1_700_000_000
    })
    .to_string();
    let put = r#"{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:airflow/connections/docker_ecr-AbCdEf","Name":"airflow/connections/docker_ecr","VersionId":"EXAMPLE2-90ab-cdef-fedc-ba987EXAMPLE","VersionStages":["AWSCURRENT"]}"#;
    let fake = FakeAws::start(HashMap::from([
        ("GetAuthorizationToken", (200, GOOD_TOKEN.to_owned())),
        ("BatchGetSecretValue", (200, batch)),
        ("GetSecretValue", (200, one)),
        ("PutSecretValue", (200, put.to_owned())),
    ]));
    for outcome in assert_no_leak(
        &fake,
        "BatchGetSecretValue",
        &[KEYS[0], KEYS[1], ("CONNECTIONS", "docker_ecr")],
    ) {
        let Outcome {
            code,
            output,
            answer,
        } = &outcome;
        assert!(matches!(code, None | Some(0)), "{output}");
        assert!(
            answer.contains("\"updated\""),
            "the secret is still refreshed: {answer}"
        );
        assert!(
            !output.contains(TOKEN) && !answer.contains(TOKEN),
            "{output}"
        );
    }
}

#[test]
fn an_unreadable_parameter_is_never_printed() {
    let body = format!(
        r#"{{"Parameters":[{{"Name":"/airflow/connections/docker_ecr","Type":"SecureString","Value":"{MARKER}","Version":"not-a-number"}}],"InvalidParameters":[]}}"#
    );
    let fake = FakeAws::start(HashMap::from([
        ("GetAuthorizationToken", (200, GOOD_TOKEN.to_owned())),
        ("GetParameters", (200, body)),
    ]));
    let vars = [
        KEYS[0],
        KEYS[1],
        ("CONNECTIONS", "docker_ecr"),
        (
            "AIRFLOW__SECRETS__BACKEND",
            "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend",
        ),
    ];
    for outcome in assert_no_leak(&fake, "GetParameters", &vars) {
        assert_failed(
            &outcome,
            "ssm:GetParameters failed: the answer could not be read",
        );
        assert!(!outcome.output.contains(TOKEN), "{}", outcome.output);
    }
}

/// AWS STS answers in XML (STS API Reference, `AssumeRole`, "Examples"); this one is cut
/// off after the role's keys.
fn unreadable_assume_role() -> String {
    format!(
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
         <Credentials><AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>\
         <SecretAccessKey>{MARKER}</SecretAccessKey><SessionToken>{MARKER2}</SessionToken>\
         <Expiration>not-a-date</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws"
    )
}

#[test]
fn an_unreadable_pull_role_answer_is_never_printed() {
    let fake = FakeAws::start(HashMap::from([
        ("AssumeRole", (200, unreadable_assume_role())),
        ("GetAuthorizationToken", (200, GOOD_TOKEN.to_owned())),
    ]));
    let connections =
        r#"[{"conn_id":"docker_ecr","pull_role_arn":"arn:aws:iam::123456789012:role/puller"}]"#;
    for outcome in assert_no_leak(
        &fake,
        "AssumeRole",
        &[KEYS[0], KEYS[1], ("CONNECTIONS", connections)],
    ) {
        assert_failed(
            &outcome,
            "sts:AssumeRole failed: the answer could not be read",
        );
    }
}

#[test]
fn an_unreadable_answer_for_the_store_role_is_never_printed() {
    // The store's calls are signed as SECRETS_ROLE_ARN: the failure surfaces inside the
    // store call, as the credentials that could not be loaded.
    let fake = FakeAws::start(HashMap::from([
        ("AssumeRole", (200, unreadable_assume_role())),
        ("GetAuthorizationToken", (200, GOOD_TOKEN.to_owned())),
    ]));
    let vars = [
        KEYS[0],
        KEYS[1],
        ("CONNECTIONS", "docker_ecr"),
        ("SECRETS_ROLE_ARN", "arn:aws:iam::123456789012:role/store"),
    ];
    for outcome in assert_no_leak(&fake, "AssumeRole", &vars) {
        assert_failed(
            &outcome,
            "sts:AssumeRole failed: the answer could not be read",
        );
    }
}

#[test]
fn an_unreadable_answer_for_the_function_s_own_web_identity_is_never_printed() {
    // Outside Lambda (EKS, CI) the function's own credentials may come from a web
    // identity token; aws-config logs the failed AssumeRoleWithWebIdentity call itself.
    let token = std::env::temp_dir().join(format!("aer-leaks-token-{}", std::process::id()));
    std::fs::write(&token, "web-identity-token").unwrap();
    let body = unreadable_assume_role()
        .replace("AssumeRoleResponse", "AssumeRoleWithWebIdentityResponse")
        .replace("AssumeRoleResult", "AssumeRoleWithWebIdentityResult");
    let fake = FakeAws::start(HashMap::from([("AssumeRoleWithWebIdentity", (200, body))]));
    let vars = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap()),
        ("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web"),
        ("AWS_ROLE_SESSION_NAME", "refresher"),
        ("CONNECTIONS", "docker_ecr"),
    ];
    for outcome in assert_no_leak(&fake, "AssumeRoleWithWebIdentity", &vars) {
        let Outcome {
            code,
            output,
            answer,
        } = &outcome;
        match code {
            Some(code) => assert_eq!(*code, 1, "{output}"),
            None => assert!(
                answer.contains("\"errorType\":\"InvalidConfiguration\""),
                "{answer}"
            ),
        }
        assert!(
            answer.contains("AWS credentials could not be loaded: an error occurred while loading \
                             credentials: sts:AssumeRoleWithWebIdentity failed: the answer could not be read"),
            "{answer}"
        );
    }
}
