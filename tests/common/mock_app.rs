//! The app over mocked SDK clients, and what a run shows anyone, captured at TRACE.

use super::mock::{PASSWORD, token};
use airflow_ecr_refresher::app;
use airflow_ecr_refresher::handler::{self, App, RunError};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use lambda_runtime::{Context, LambdaEvent};
use refresher_aws::ecr::Ecr;
use refresher_aws::secrets_manager::Secrets;
use refresher_aws::sts::Sts;
use refresher_aws::{Aws, AwsLogins};
use refresher_core::config::Settings;
use refresher_core::report::Report;
use serde_json::Value;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

/// Every Secrets Manager request body sent, attempt by attempt (retries included).
#[derive(Clone, Default)]
pub struct Sent(pub Arc<Mutex<Vec<String>>>);

/// The SDK logs its interceptors at TRACE; the bodies hold the password.
impl std::fmt::Debug for Sent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sent(..)")
    }
}

impl Intercept for Sent {
    fn name(&self) -> &'static str {
        "Sent"
    }
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context.request().body().bytes().unwrap_or_default();
        self.0
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(body).into_owned());
        Ok(())
    }
}

fn interceptor(rules: &[&Rule]) -> MockResponseInterceptor {
    rules.iter().fold(
        MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny),
        |i, r| i.with_rule(r),
    )
}

/// The app with mocked clients. Rules are tried in order; put fault rules first.
/// Retries and timeouts are the production ones.
pub fn app(ecr_rules: &[&Rule], sm_rules: &[&Rule], connections: &str) -> App {
    app_sent(ecr_rules, sm_rules, connections, &Sent::default())
}

/// As `app`, with every Secrets Manager request body recorded in `sent`.
pub fn app_sent(ecr_rules: &[&Rule], sm_rules: &[&Rule], connections: &str, sent: &Sent) -> App {
    let ecr = aws_sdk_ecr::Config::builder()
        .with_test_defaults_v2()
        .retry_config(app::retries())
        .timeout_config(app::timeouts())
        .http_client(create_mock_http_client())
        .interceptor(interceptor(ecr_rules))
        .build();
    let sm = aws_sdk_secretsmanager::Config::builder()
        .with_test_defaults_v2()
        .retry_config(app::retries())
        .timeout_config(app::timeouts())
        .http_client(create_mock_http_client())
        .interceptor(interceptor(sm_rules))
        .interceptor(sent.clone())
        .build();
    let aws = Aws {
        logins: Arc::new(AwsLogins {
            ecr: Ecr::new(ecr, None),
            // No pull role in these runs: nothing is ever assumed.
            sts: Sts::new(&aws_config::SdkConfig::builder().build()),
        }),
        store: Arc::new(Secrets::new(aws_sdk_secretsmanager::Client::from_conf(sm))),
        login_check: Arc::new(refresher_aws::login_check::Registries),
    };
    let settings = Settings::from_lookup(|k| (k == "CONNECTIONS").then(|| connections.to_owned()));
    App::with_aws(aws, settings, Some("us-east-1".into()))
}

/// Everything a run shows anyone: every log line at TRACE (ours and the SDK's), the
/// error's text and debug form, and the response.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub async fn invoke_captured(
    app: &App,
    event: Value,
    context: Context,
) -> (Result<Report, RunError>, String) {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let result = {
        let _guard = tracing::subscriber::set_default(subscriber);
        handler::handle(app, LambdaEvent::new(event, context)).await
    };
    let mut out = capture.clone();
    match &result {
        Ok(report) => writeln!(out, "{}", serde_json::to_string(report).unwrap_or_default()),
        Err(e) => writeln!(out, "{e}\n{e:?}"),
    }
    .unwrap_or_default();
    let text = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    (result, text)
}

pub async fn invoke(app: &App, event: Value) -> (Result<Report, RunError>, String) {
    invoke_captured(app, event, Context::default()).await
}

/// The password and the raw token appear nowhere in what a run shows.
pub fn assert_no_secret(output: &str) {
    assert!(!output.contains(PASSWORD), "the password leaked:\n{output}");
    assert!(!output.contains(&token()), "the token leaked:\n{output}");
    let encoded =
        percent_encoding::utf8_percent_encode(PASSWORD, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    assert!(
        !output.contains(&encoded),
        "the encoded password leaked:\n{output}"
    );
}
