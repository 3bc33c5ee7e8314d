//! A local AWS for the binary: each operation gets a canned answer, so a test can shape
//! what the SDK receives (an answer moto cannot give), and Lambda's Runtime API for one
//! invocation, so the binary runs as a Lambda function too.

use super::binary::{run, text};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// An HTTP status and body; status 0 holds the connection without a byte of answer,
/// for 120 s (a hung endpoint).
pub type Answer = (u16, String);

/// A local AWS: each operation (from `X-Amz-Target`, or the query `Action`) gets its
/// canned answer; anything else a 400 naming it. Every operation asked is recorded.
pub struct FakeAws {
    pub url: String,
    pub asked: Arc<Mutex<Vec<String>>>,
}

impl FakeAws {
    pub fn start(answers: HashMap<&'static str, Answer>) -> Self {
        Self::invoking(answers, "{}", std::time::Duration::from_secs(60))
    }

    /// As `start`, its one invocation carrying `event`, with a deadline `deadline_in` from
    /// when the function asks for it.
    pub fn invoking(
        answers: HashMap<&'static str, Answer>,
        event: &str,
        deadline_in: std::time::Duration,
    ) -> Self {
        let invocation = Arc::new((event.to_owned(), deadline_in));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let record = asked.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let answers = answers.clone();
                let record = record.clone();
                let invocation = invocation.clone();
                std::thread::spawn(move || serve(stream, &answers, &record, &invocation));
            }
        });
        Self { url, asked }
    }

    pub fn asked(&self, operation: &str) -> usize {
        let asked = self.asked.lock().unwrap();
        asked.iter().filter(|o| *o == operation).count()
    }
}

/// One HTTP/1.1 exchange per connection (`Connection: close`): enough for the SDK.
fn serve(
    stream: TcpStream,
    answers: &HashMap<&str, Answer>,
    asked: &Mutex<Vec<String>>,
    invocation: &(String, std::time::Duration),
) {
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
        return runtime_api(reader.into_inner(), runtime, &body, asked, invocation);
    }
    let operation = match target.rsplit_once('.') {
        Some((_, op)) => op.to_owned(),
        None => form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == "Action")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default(),
    };
    asked.lock().unwrap().push(operation.clone());
    if answers
        .get(operation.as_str())
        .is_some_and(|(status, _)| *status == 0)
    {
        std::thread::sleep(std::time::Duration::from_secs(120));
        return;
    }
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
/// custom runtimes"): one invocation of the event given, then no more; the function's
/// answer (`/response` or `/error`) is recorded as `answer:<body>`.
fn runtime_api(
    mut stream: TcpStream,
    path: &str,
    body: &str,
    asked: &Mutex<Vec<String>>,
    (event, deadline_in): &(String, std::time::Duration),
) {
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
            + deadline_in.as_millis();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n\
             Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
             Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:refresher\r\n\
             Connection: close\r\n\r\n{event}",
            event.len()
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
pub struct Outcome {
    pub code: Option<i32>,
    pub output: String,
    pub answer: String,
}

/// The function's own credentials, for all but the web identity test.
pub const KEYS: [(&str, &str); 2] = [
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
pub fn run_command(fake: &FakeAws, vars: &[(&str, &str)]) -> Outcome {
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
pub fn run_lambda(fake: &FakeAws, vars: &[(&str, &str)]) -> Outcome {
    start_lambda(fake, vars).finish(fake)
}

/// The function started under Lambda's Runtime API, its output drained as it comes.
pub struct Lambda {
    child: std::process::Child,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

pub fn start_lambda(fake: &FakeAws, vars: &[(&str, &str)]) -> Lambda {
    let runtime = fake.url.trim_start_matches("http://").to_owned();
    let mut vars = environment(fake, vars);
    vars.extend_from_slice(&[
        ("AWS_LAMBDA_RUNTIME_API", runtime.as_str()),
        ("AWS_LAMBDA_FUNCTION_NAME", "refresher"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ]);
    let mut child = super::binary::command(&vars)
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
    Lambda {
        child,
        stdout,
        stderr,
    }
}

impl Lambda {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for its answer to the invocation, then ends it, as Lambda would freeze it.
    pub fn finish(mut self, fake: &FakeAws) -> Outcome {
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
        // Let it finish its last lines.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let _ = self.child.kill();
        let _ = self.child.wait();
        Outcome {
            code: None,
            output: self.stdout.join().unwrap() + &self.stderr.join().unwrap(),
            answer,
        }
    }
}
