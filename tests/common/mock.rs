//! Fault injection with aws-smithy-mocks: a tiny in-memory Secrets Manager and ECR whose
//! calls can be made to throttle, fail or deny. Behaviour is proven against moto; these
//! are for the faults moto cannot make.

use airflow_ecr_refresher::handler::RunError;
use aws_sdk_ecr::operation::get_authorization_token::GetAuthorizationTokenOutput;
use aws_sdk_ecr::types::AuthorizationData;
use aws_sdk_secretsmanager::operation::batch_get_secret_value::BatchGetSecretValueOutput;
use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueOutput;
use aws_sdk_secretsmanager::types::{ApiErrorType, SecretValueEntry};
use aws_smithy_mocks::{Rule, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::{Blob, DateTime};
use base64::Engine;
use refresher_core::report::Report;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

mod stages;

/// What AWS says of a secret with no AWSCURRENT version (GetSecretValue, BatchGetSecretValue).
pub const NO_CURRENT_VALUE: &str =
    "Secrets Manager can't find the specified secret value for staging label: AWSCURRENT";

/// A password with every character that URI encoding can get wrong.
pub const PASSWORD: &str = "Fault+Pass/word=%42:x";
pub const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

pub fn token() -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("AWS:{PASSWORD}"))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Text(String),
    Binary,
    /// Created without a value (Terraform, CloudFormation, the console): no AWSCURRENT.
    Valueless,
    /// Scheduled for deletion: every read and write is refused until it is restored.
    Deleted,
}

/// What Secrets Manager answers for a secret scheduled for deletion, to a read or a write
/// (terraform-provider-aws matches this message; LocalStack's and moto's agree on reads).
pub const MARKED_FOR_DELETION: &str =
    "You can't perform this operation on the secret because it was marked for deletion.";

/// Secrets by name, with every write and its request token recorded, and each secret's
/// versions and their `AWSCURRENT` / `AWSPREVIOUS` labels.
#[derive(Debug, Clone, Default)]
pub struct Store {
    pub secrets: Arc<Mutex<BTreeMap<String, Stored>>>,
    pub writes: Arc<Mutex<Vec<(String, String)>>>,
    versions: Arc<Mutex<BTreeMap<String, Versions>>>,
    /// A value someone else writes under a name just before our next PutSecretValue to it.
    interposed: Arc<Mutex<BTreeMap<String, String>>>,
}

#[derive(Debug, Clone, Default)]
struct Versions {
    current: Option<String>,
    previous: Option<String>,
    values: BTreeMap<String, String>,
}

impl Store {
    pub fn with(entries: &[(&str, Stored)]) -> Self {
        let store = Self::default();
        for (name, value) in entries {
            store.lock().insert((*name).to_owned(), value.clone());
            if let Stored::Text(text) = value {
                store.land(name, "v-seed", text);
            }
        }
        store
    }

    /// Someone else writes `value` under `name` just before our next PutSecretValue to it.
    pub fn write_before_put(&self, name: &str, value: &str) {
        self.interposed
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }

    /// A new version becomes AWSCURRENT, the current one AWSPREVIOUS (API Reference,
    /// PutSecretValue).
    fn land(&self, name: &str, version: &str, value: &str) {
        let mut all = self.versions.lock().unwrap();
        let versions = all.entry(name.to_owned()).or_default();
        versions.values.insert(version.to_owned(), value.to_owned());
        versions.previous = versions.current.replace(version.to_owned());
        self.lock()
            .insert(name.to_owned(), Stored::Text(value.to_owned()));
    }

    fn version_id(&self, name: &str) -> String {
        let all = self.versions.lock().unwrap();
        all.get(name)
            .and_then(|v| v.current.clone())
            .unwrap_or_else(|| "v-bin".into())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Stored>> {
        self.secrets.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, name: &str) -> Option<Stored> {
        self.lock().get(name).cloned()
    }

    pub fn text(&self, name: &str) -> String {
        match self.get(name) {
            Some(Stored::Text(t)) => t,
            other => panic!("{name}: {other:?}"),
        }
    }

    pub fn snapshot(&self) -> BTreeMap<String, Stored> {
        self.lock().clone()
    }

    pub fn tokens(&self) -> Vec<String> {
        self.writes
            .lock()
            .unwrap()
            .iter()
            .map(|(_, t)| t.clone())
            .collect()
    }

    pub fn read_rule(&self, fault: Option<&Fault>) -> Rule {
        let (store, asked) = (self.clone(), Slot::<Vec<String>>::default());
        let seen = asked.clone();
        with_fault!(
            mock!(aws_sdk_secretsmanager::Client::batch_get_secret_value)
                .match_requests(move |req| seen.set(req.secret_id_list().to_vec())),
            fault,
            move || store.batch(&asked.get())
        )
    }

    /// `GetSecretValue`, which the function uses when a batch read fails as a whole. A
    /// missing secret answers as AWS does: 400 `ResourceNotFoundException`.
    pub fn get_rule(&self, fault: Option<&Fault>) -> Rule {
        let (store, asked) = (self.clone(), Slot::<String>::default());
        let seen = asked.clone();
        let builder =
            mock!(aws_sdk_secretsmanager::Client::get_secret_value).match_requests(move |req| {
                seen.set(req.secret_id().unwrap_or_default().to_owned());
                true
            });
        let respond = move || {
            let id = asked.get();
            let (status, body) = match store.get(&id) {
                Some(Stored::Text(t)) => (
                    200,
                    serde_json::json!({"Name": id, "VersionId": store.version_id(&id), "SecretString": t}),
                ),
                Some(Stored::Binary) => (
                    200,
                    serde_json::json!({"Name": id, "VersionId": "v-bin", "SecretBinary": "AAE="}),
                ),
                None => (
                    400,
                    serde_json::json!({"__type": "ResourceNotFoundException",
                                       "message": "Secrets Manager can't find the specified secret."}),
                ),
                Some(Stored::Valueless) => (
                    400,
                    serde_json::json!({"__type": "ResourceNotFoundException", "message": NO_CURRENT_VALUE}),
                ),
                Some(Stored::Deleted) => (
                    400,
                    serde_json::json!({"__type": "InvalidRequestException", "message": MARKED_FOR_DELETION}),
                ),
            };
            json_response(status, &body)
        };
        with_fault_http!(builder, fault, respond)
    }

    fn batch(&self, ids: &[String]) -> BatchGetSecretValueOutput {
        let mut out = BatchGetSecretValueOutput::builder();
        for id in ids {
            out = match self.get(id) {
                Some(Stored::Text(t)) => out.secret_values(
                    SecretValueEntry::builder()
                        .name(id)
                        .version_id(self.version_id(id))
                        .secret_string(t)
                        .build(),
                ),
                Some(Stored::Binary) => out.secret_values(
                    SecretValueEntry::builder()
                        .name(id)
                        .secret_binary(Blob::new(vec![0, 1]))
                        .version_id("v-bin")
                        .build(),
                ),
                None => out.errors(
                    ApiErrorType::builder()
                        .secret_id(id)
                        .error_code("ResourceNotFoundException")
                        .message("Secrets Manager can't find the specified secret.")
                        .build(),
                ),
                Some(Stored::Valueless) => out.errors(
                    ApiErrorType::builder()
                        .secret_id(id)
                        .error_code("ResourceNotFoundException")
                        .message(NO_CURRENT_VALUE)
                        .build(),
                ),
                Some(Stored::Deleted) => out.errors(
                    ApiErrorType::builder()
                        .secret_id(id)
                        .error_code("InvalidRequestException")
                        .message(MARKED_FOR_DELETION)
                        .build(),
                ),
            };
        }
        out.build()
    }

    pub fn put_rule(&self, fault: Option<&Fault>) -> Rule {
        let (store, write) = (self.clone(), Slot::<(String, String, String)>::default());
        let seen = write.clone();
        with_fault!(
            mock!(aws_sdk_secretsmanager::Client::put_secret_value).match_requests(move |req| {
                seen.set((
                    req.secret_id().unwrap_or_default().to_owned(),
                    req.secret_string().unwrap_or_default().to_owned(),
                    req.client_request_token().unwrap_or_default().to_owned(),
                ))
            }),
            fault,
            move || {
                let (name, value, token) = write.get();
                let theirs = store.interposed.lock().unwrap().remove(&name);
                if let Some(theirs) = theirs {
                    store.land(&name, "v-theirs", &theirs);
                }
                store.record((name.clone(), value, token.clone()));
                PutSecretValueOutput::builder()
                    .name(name)
                    .version_id(token)
                    .build()
            }
        )
    }

    /// `CreateSecret`; a name that exists (with or without a value) is refused with
    /// `ResourceExistsException`, as AWS does.
    pub fn create_rule(&self, fault: Option<&Fault>) -> Rule {
        let (store, write) = (self.clone(), Slot::default());
        let seen = write.clone();
        let builder =
            mock!(aws_sdk_secretsmanager::Client::create_secret).match_requests(move |req| {
                seen.set((
                    req.name().unwrap_or_default().to_owned(),
                    req.secret_string().unwrap_or_default().to_owned(),
                    req.client_request_token().unwrap_or_default().to_owned(),
                ));
                true
            });
        let respond = move || {
            let (name, value, token) = write.get();
            let (status, body) = if store.get(&name).is_some() {
                (
                    400,
                    serde_json::json!({"__type": "ResourceExistsException",
                        "message": format!("The operation failed because the secret {name} already exists.")}),
                )
            } else {
                store.record((name.clone(), value, token.clone()));
                (200, serde_json::json!({"Name": name, "VersionId": token}))
            };
            json_response(status, &body)
        };
        with_fault_http!(builder, fault, respond)
    }

    /// Rules for every Secrets Manager call, with `fault` on the one named `faulty`; the
    /// last two (DescribeSecret, UpdateSecretVersionStage) never fault.
    pub fn rules(&self, faulty: &str, fault: &Fault) -> [Rule; 6] {
        let on = |op: &str| (op == faulty).then_some(fault);
        [
            self.read_rule(on("BatchGetSecretValue")),
            self.get_rule(on("GetSecretValue")),
            self.put_rule(on("PutSecretValue")),
            self.create_rule(on("CreateSecret")),
            self.describe_rule(),
            self.stage_rule(),
        ]
    }

    fn record(&self, (name, value, token): (String, String, String)) {
        self.land(&name, &token, &value);
        self.writes.lock().unwrap().push((name, token));
    }
}

/// The input of the call a rule last matched. The mock crate matches a rule once per
/// operation and answers that call's retries from the same rule, so answers are built
/// from this. Fine for one call per operation at a time, which is how the tests use it.
#[derive(Debug, Clone, Default)]
struct Slot<T>(Arc<Mutex<Option<T>>>);

impl<T: Clone + Default> Slot<T> {
    fn set(&self, value: T) -> bool {
        *self.0.lock().unwrap() = Some(value);
        true
    }
    fn get(&self) -> T {
        self.0.lock().unwrap().clone().unwrap_or_default()
    }
}

/// An HTTP error a service answers with: `times` times, then the normal answer.
#[derive(Debug, Clone)]
pub struct Fault {
    pub status: u16,
    pub body: Option<String>,
    pub times: usize,
}

impl Fault {
    /// An AWS JSON error, as the service sends it.
    pub fn aws(status: u16, code: &str, message: &str, times: usize) -> Self {
        let body = serde_json::json!({"__type": code, "message": message}).to_string();
        Self {
            status,
            body: Some(body),
            times,
        }
    }
}

/// A rule that answers `fault` first (if any), then `output` for as long as it is asked.
macro_rules! with_fault {
    ($builder:expr, $fault:expr, $output:expr) => {{
        let output = $output;
        match $fault {
            Some(f) => $builder
                .sequence()
                .http_status(f.status, f.body.clone())
                .times(f.times)
                .output(output)
                .repeatedly()
                .build(),
            None => $builder.sequence().output(output).repeatedly().build(),
        }
    }};
}
use with_fault;

/// As `with_fault!`, for a rule whose answer is an HTTP response built per call (a success
/// or an error, depending on the store).
macro_rules! with_fault_http {
    ($builder:expr, $fault:expr, $respond:expr) => {{
        match $fault {
            Some(f) => $builder
                .sequence()
                .http_status(f.status, f.body.clone())
                .times(f.times)
                .http_response($respond)
                .repeatedly()
                .build(),
            None => $builder
                .sequence()
                .http_response($respond)
                .repeatedly()
                .build(),
        }
    }};
}
use with_fault_http;

/// A JSON-protocol answer, as Secrets Manager sends it.
fn json_response(status: u16, body: &serde_json::Value) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).unwrap_or_else(|_| unreachable!()),
        SdkBody::from(body.to_string()),
    )
}

pub fn token_rule(fault: Option<&Fault>) -> Rule {
    with_fault!(
        mock!(aws_sdk_ecr::Client::get_authorization_token),
        fault,
        || {
            GetAuthorizationTokenOutput::builder()
                .authorization_data(
                    AuthorizationData::builder()
                        .authorization_token(token())
                        .proxy_endpoint(format!("https://{HOST}"))
                        .expires_at(DateTime::from_secs(4_000_000_000))
                        .build(),
                )
                .build()
        }
    )
}

// One `use common::mock::*` brings the rules and the app; not every test crate needs both.
#[allow(unused_imports)]
pub use super::mock_app::*;

// The scenario the fault tests share: `existing` (an update) and `new` (a create).

pub const EXISTING: &str = "airflow/connections/existing";
pub const NEW: &str = "airflow/connections/new";
pub const OLD_VALUE: &str = r#"{"conn_type":"docker","host":"old.example.com","login":"AWS","password":"old","extra":{"email":"ops@example.com"}}"#;

pub fn store() -> Store {
    Store::with(&[(EXISTING, Stored::Text(OLD_VALUE.into()))])
}

pub fn assert_refreshed(store: &Store) {
    let existing: serde_json::Value = serde_json::from_str(&store.text(EXISTING)).unwrap();
    assert_eq!(existing["password"], PASSWORD);
    assert_eq!(existing["host"], HOST);
    assert_eq!(existing["extra"]["email"], "ops@example.com");
    let new: serde_json::Value = serde_json::from_str(&store.text(NEW)).unwrap();
    assert_eq!(new["password"], PASSWORD);
}

pub fn failure(result: &Result<Report, RunError>) -> String {
    match result {
        Err(e) => e.to_string(),
        Ok(r) => panic!("expected a failure, got {r:?}"),
    }
}
