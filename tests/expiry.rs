//! How long a written login is reported to last, against answers in AWS's own shapes: ECR
//! says a token lasts 12 hours, STS caps a chained role session at one hour, and a token is
//! taken to stop working when the credentials that fetched it expire. moto cannot show
//! this: its `expiresAt` is fixed in 2015.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use airflow_ecr_refresher::app;
use airflow_ecr_refresher::handler::{App, RunError};
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::DateTime;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::date_time::Format;
use common::mock::*;
use refresher_aws::ecr::Ecr;
use refresher_aws::secrets_manager::Secrets;
use refresher_aws::sts::Sts as StsAdapter;
use refresher_aws::{Aws, AwsLogins};
use refresher_core::config::Settings;
use refresher_core::failure::TargetFailure;
use refresher_core::report::Report;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PULL_ROLE: &str = "arn:aws:iam::123456789012:role/ecr-pull";
/// `existing` is fetched as the pull role, `new` as the function.
const CONNECTIONS: &str = r#"[{"conn_id": "existing", "pull_role_arn": "arn:aws:iam::123456789012:role/ecr-pull"}, {"conn_id": "new"}]"#;

/// Now, to the second, and a time that many seconds later, as AWS writes it.
/// The tests' "now", in whole seconds, fixed once: the mocks' expiries and the expected
/// ones are computed from it, so a second boundary between them cannot fail a test.
fn now() -> SystemTime {
    static NOW: std::sync::OnceLock<SystemTime> = std::sync::OnceLock::new();
    *NOW.get_or_init(|| {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        UNIX_EPOCH + Duration::from_secs(secs)
    })
}

fn rfc3339(at: SystemTime) -> String {
    DateTime::from(at).fmt(Format::DateTime).unwrap()
}

/// GetAuthorizationToken as the Amazon ECR API Reference shows it ("GetAuthorizationToken",
/// Examples): `expiresAt` is epoch seconds in exponent notation, 12 hours after the call
/// ("The authorization token is valid for 12 hours").
fn twelve_hour_token_rule() -> Rule {
    mock!(aws_sdk_ecr::Client::get_authorization_token)
        .sequence()
        .http_response(|| {
            let expires = now() + Duration::from_secs(12 * 3600);
            let seconds = expires.duration_since(UNIX_EPOCH).unwrap().as_secs() as f64;
            let body = format!(
                r#"{{"authorizationData": [{{"authorizationToken": "{}", "expiresAt": {seconds:E}, "proxyEndpoint": "https://{HOST}"}}]}}"#,
                token()
            );
            HttpResponse::new(StatusCode::try_from(200).unwrap(), SdkBody::from(body))
        })
        .repeatedly()
        .build()
}

/// STS, over HTTP: every AssumeRole answered as the AWS STS API Reference shows it
/// ("AssumeRole", Examples, sample response), the session expiring an hour after the call,
/// the most role chaining allows (IAM User Guide, "Role chaining"). Records the actions.
#[derive(Debug, Clone, Default)]
struct Sts(Arc<Mutex<Vec<String>>>);

impl Sts {
    fn expires(&self) -> SystemTime {
        now() + Duration::from_secs(3600)
    }

    fn calls(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl HttpConnector for Sts {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default());
        let action = body.split('&').find(|p| p.starts_with("Action="));
        self.0
            .lock()
            .unwrap()
            .push(action.unwrap_or("none").to_owned());
        let xml = format!(
            r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/ecr-pull/refresher</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:refresher</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>IQoJb3JpZ2luX2VjEXAMPLE</SessionToken>
      <Expiration>{}</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>"#,
            rfc3339(self.expires())
        );
        let response = HttpResponse::new(StatusCode::try_from(200).unwrap(), SdkBody::from(xml));
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for Sts {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
    rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, r| i.with_rule(r),
    )
}

/// The app over mocked ECR, STS and Secrets Manager, run by `schedule` if given, with the
/// function's own credentials from `own` if given.
async fn app(store: &Store, sts: &Sts, schedule: Option<&str>, own: Option<Credentials>) -> App {
    let token = twelve_hour_token_rule();
    let ecr = aws_sdk_ecr::Config::builder()
        .with_test_defaults_v2()
        .retry_config(app::retries())
        .http_client(create_mock_http_client())
        .interceptor(interceptor(&[&token]))
        .build();
    let (read, get) = (store.read_rule(None), store.get_rule(None));
    let (put, create) = (store.put_rule(None), store.create_rule(None));
    let (describe, stage) = (store.describe_rule(), store.stage_rule());
    let sm = aws_sdk_secretsmanager::Config::builder()
        .with_test_defaults_v2()
        .retry_config(app::retries())
        .http_client(create_mock_http_client())
        .interceptor(interceptor(&[
            &read, &get, &put, &create, &describe, &stage,
        ]))
        .build();
    // The loader supplies the clock and sleep the assume-role provider needs.
    let sts_config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDFUNCTION",
            "function-secret",
            None,
            None,
            "test",
        ))
        .http_client(sts.clone())
        .load()
        .await;
    let ecr = Ecr::new(ecr, own.map(SharedCredentialsProvider::new));
    let aws = Aws {
        logins: Arc::new(AwsLogins {
            ecr,
            sts: StsAdapter::new(&sts_config),
        }),
        store: Arc::new(Secrets::new(aws_sdk_secretsmanager::Client::from_conf(sm))),
        login_check: Arc::new(refresher_aws::login_check::Registries),
    };
    let schedule = schedule.map(str::to_owned);
    let settings = Settings::from_lookup(move |k| match k {
        "CONNECTIONS" => Some(CONNECTIONS.to_owned()),
        "SCHEDULE_EXPRESSION" => schedule.clone(),
        _ => None,
    });
    App::with_aws(aws, settings, Some("us-east-1".into()))
}

/// What this crate logged and answered. The SDK's own TRACE lines show the raw answer
/// these mocks give over HTTP, token included; the function never logs other crates
/// below DEBUG (`logging.rs`).
fn ours(output: &str) -> String {
    output
        .lines()
        .filter(|l| !l.contains(" TRACE ") || l.contains("airflow_ecr_refresher"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn fixtures() -> (Store, Sts) {
    (store(), Sts::default())
}

fn expiries(report: &[refresher_core::report::Refreshed]) -> Vec<(String, String)> {
    report
        .iter()
        .map(|r| (r.conn_id.clone(), r.expires_at.clone().unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn a_pull_roles_login_is_reported_to_last_as_long_as_its_session() {
    let (store, sts) = fixtures();
    let (result, output) = invoke(&app(&store, &sts, None, None).await, json!({})).await;
    let report: Report = result.unwrap();
    let (session_ends, token_ends) = (sts.expires(), now() + Duration::from_secs(12 * 3600));
    assert_eq!(
        expiries(&report.connections),
        [
            ("existing".to_owned(), rfc3339(session_ends)),
            ("new".to_owned(), rfc3339(token_ends)),
        ],
        "the pull role's one-hour session, then the function's 12-hour token"
    );
    assert_eq!(report.connections[0].expires, Some(session_ends));
    assert_eq!(sts.calls(), ["Action=AssumeRole"], "one AssumeRole");
    assert_refreshed(&store);
    assert_no_secret(&ours(&output));
}

#[tokio::test]
async fn a_login_that_ends_before_the_next_run_fails_loudly_but_is_written() {
    let (store, sts) = fixtures();
    let app = app(&store, &sts, Some("rate(6 hours)"), None).await;
    let (result, output) = invoke(&app, json!({})).await;
    let message = failure(&result);
    assert!(
        message.starts_with("1 of 2 connections failed: existing (airflow/connections/existing): its new login expires at "),
        "{message}"
    );
    let as_role = format!("fetched as pull_role_arn {PULL_ROLE}");
    for says in [
        "before the next scheduled run (rate(6 hours), by ",
        as_role.as_str(),
        "Grant the function's own role the pull rights",
        "ScheduleExpression rate(30 minutes)",
        "the secret was still written, updated",
        "The others were done: new",
    ] {
        assert!(message.contains(says), "{says:?} not in {message}");
    }
    let Err(RunError::Refresh(failed)) = &result else {
        unreachable!()
    };
    assert!(matches!(
        failed.failed[0].cause,
        TargetFailure::ExpiresBeforeNextRun(_)
    ));
    // The fresh login is still written: a fresh token is never worse than an expired one.
    assert_refreshed(&store);
    assert_no_secret(&ours(&output));

    // Run often enough, the same session's login lasts until the next run.
    let (store, sts) = fixtures();
    let app = self::app(&store, &sts, Some("rate(30 minutes)"), None).await;
    let report = invoke(&app, json!({})).await.0.unwrap();
    assert_eq!(report.connections.len(), 2);
}

#[tokio::test]
async fn a_dry_run_reports_a_short_login_and_writes_nothing() {
    let (store, sts) = fixtures();
    let before = store.snapshot();
    let app = app(&store, &sts, Some("rate(6 hours)"), None).await;
    let (result, _) = invoke(&app, json!({"dry_run": true})).await;
    let message = failure(&result);
    assert!(
        message.contains("before the next scheduled run")
            && message.contains("(dry run: nothing was written; it would update)"),
        "{message}"
    );
    assert_eq!(store.snapshot(), before);
}

#[tokio::test]
async fn the_functions_own_credentials_count_when_they_say_when_they_expire() {
    let own_expiry = now() + Duration::from_secs(45 * 60);
    let own = || {
        Credentials::new(
            "ASIAFUNCTION",
            "own-secret",
            Some("session".into()),
            Some(own_expiry),
            "profile",
        )
    };
    let (store, sts) = fixtures();
    let report = invoke(&app(&store, &sts, None, Some(own())).await, json!({}))
        .await
        .0
        .unwrap();
    assert_eq!(report.connections[1].conn_id, "new");
    assert_eq!(report.connections[1].expires_at, Some(rfc3339(own_expiry)));

    let (store, sts) = fixtures();
    let app = app(&store, &sts, Some("rate(1 hour)"), Some(own())).await;
    let message = failure(&invoke(&app, json!({})).await.0);
    assert!(
        message.starts_with("2 of 2 connections failed"),
        "{message}"
    );
    assert!(
        message.contains("new (airflow/connections/new): its new login expires at ")
            && message.contains("fetched with the function's own credentials"),
        "{message}"
    );
}
