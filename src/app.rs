//! The core the Lambda handler and the command line share: an `App` built once per
//! process (clients, configuration, the AWS environment's checks) and `App::run`, one
//! request to completion.

use crate::stop;
use aws_config::SdkConfig;
use futures::future::BoxFuture;
use refresher_aws::Aws;
use refresher_core::config::{ConfigError, Settings};
use refresher_core::report::{Progress, RefreshFailed, Report, Stopped};
use refresher_core::request::{Request, RequestError};
use refresher_core::run::{self, Clock, Ports, Run};
use refresher_core::target::{self, Region, TargetError};
use std::time::Duration;

/// A hung endpoint must fail the call long before Lambda's own timeout kills us.
pub fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(30))
        .build()
}

/// Throttling and 5xx are retried with exponential backoff and jitter; four attempts ride
/// out a short burst without stretching a run past its schedule.
pub fn retries() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard().with_max_attempts(4)
}

/// Everything an invocation needs, built once per process.
#[derive(Debug, Clone)]
pub struct App {
    pub aws: Aws,
    /// A bad configuration fails every invocation loudly, rather than the process at init.
    pub settings: Result<Settings, ConfigError>,
    /// The function's own region, or what is wrong with the AWS environment.
    pub region: Result<Region, ConfigError>,
    /// Its credentials are checked before any call, so that missing ones read as one line.
    sdk: Option<SdkConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Credentials(String),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("invalid connections: {0}; nothing was written")]
    Target(#[from] TargetError),
    #[error(
        "no connections to refresh: set CONNECTIONS, or send {{\"connections\": [{{\"conn_id\": \"...\"}}]}}"
    )]
    NothingToRefresh,
    #[error(transparent)]
    Refresh(#[from] RefreshFailed),
    /// The deadline or a signal cut the run short; it says what was done.
    #[error(transparent)]
    Stopped(#[from] Stopped),
    /// A CloudFormation request that cannot be answered, or whose answer did not arrive.
    #[error("{0}")]
    CloudFormation(String),
}

impl App {
    pub async fn new(sdk: &SdkConfig, settings: Result<Settings, ConfigError>) -> Self {
        let aws = Aws::new(sdk, settings.as_ref().ok().map(|s| &s.backend)).await;
        let region = sdk.region().map(|r| r.to_string());
        Self {
            region: aws_environment(region.as_deref(), sdk.endpoint_url()),
            sdk: Some(sdk.clone()),
            ..Self::with_aws(aws, settings, None)
        }
    }

    /// From clients built elsewhere (tests build them with fault-injecting interceptors).
    pub fn with_aws(
        aws: Aws,
        settings: Result<Settings, ConfigError>,
        region: Option<String>,
    ) -> Self {
        Self {
            aws,
            settings,
            region: aws_environment(region.as_deref(), None),
            sdk: None,
        }
    }

    pub async fn from_env() -> Self {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(retries())
            .timeout_config(timeouts())
            .load()
            .await;
        let mut app = Self::new(&sdk, Settings::from_env()).await;
        // aws-config drops an unusable global endpoint from the shared config with a
        // warning, but each client reads the variables again and fails at dispatch.
        if let Err(e) = endpoint_variables(|name| std::env::var(name).ok()) {
            app.region = Err(e);
        }
        app
    }

    /// Runs one request to completion, or until SIGTERM or SIGINT.
    pub async fn run(&self, request: Request) -> Result<Report, RunError> {
        self.run_until(request, None).await
    }

    /// Runs one request until it is done, `left` runs out, or the process is asked to
    /// stop: the core that the Lambda and the CLI share. A run cut short reports what it
    /// finished.
    pub async fn run_until(
        &self,
        request: Request,
        left: Option<Duration>,
    ) -> Result<Report, RunError> {
        self.run_within(request, left, Duration::ZERO).await
    }

    /// As `run_until`, stopping `reserve` earlier still, for a caller with work of its own
    /// to do before the deadline.
    pub async fn run_within(
        &self,
        request: Request,
        left: Option<Duration>,
        reserve: Duration,
    ) -> Result<Report, RunError> {
        let progress = Progress::default();
        let work = self.refresh(request, &progress);
        let left = left.map(|l| l.saturating_sub(reserve));
        let kept_back = stop::DEADLINE_MARGIN + reserve;
        match stop::until_stopped(work, left, kept_back).await {
            Ok(result) => result,
            Err(reason) => Err(RunError::Stopped(Stopped {
                reason,
                outcomes: progress.outcomes(),
            })),
        }
    }

    async fn refresh(&self, request: Request, progress: &Progress) -> Result<Report, RunError> {
        tracing::debug!(dry_run = request.dry_run, "run started");
        let settings = self.settings.as_ref().map_err(Clone::clone)?;
        let region = self.region.as_ref().map_err(Clone::clone)?;
        settings.backend.check_partition(region)?;
        self.check_credentials().await?;
        let specs = request
            .connections
            .as_ref()
            .unwrap_or(&settings.connections);
        if specs.is_empty() {
            return Err(RunError::NothingToRefresh);
        }
        let targets = target::resolve_all(specs, region, &settings.backend.naming)?;
        let run = Run {
            settings,
            dry_run: request.dry_run,
        };
        let ports = Ports {
            logins: self.aws.logins.as_ref(),
            store: self.aws.store.as_ref(),
            login_check: self.aws.login_check.as_ref(),
            clock: &Tokio(tokio::time::Instant::now()),
        };
        Ok(run::refresh(ports, run, &targets, progress).await?)
    }
}

impl App {
    async fn check_credentials(&self) -> Result<(), RunError> {
        match &self.sdk {
            Some(sdk) => refresher_aws::check_credentials(sdk)
                .await
                .map_err(RunError::Credentials),
            // Clients built elsewhere carry their own credentials.
            None => Ok(()),
        }
    }
}

/// Pacing on tokio's timer (which tests may pause).
#[derive(Debug, Clone, Copy)]
struct Tokio(tokio::time::Instant);

impl Clock for Tokio {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// The endpoint variables the SDKs read: the global one and one per service (AWS SDKs
/// and Tools Reference Guide, "Service-specific endpoints").
const ENDPOINT_VARIABLES: &[&str] = &[
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_ECR",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_SSM",
    "AWS_ENDPOINT_URL_STS",
];

fn endpoint_variables(lookup: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    for variable in ENDPOINT_VARIABLES {
        if let Some(value) = lookup(variable) {
            check_endpoint(variable, &value)?;
        }
    }
    Ok(())
}

fn check_endpoint(variable: &'static str, endpoint: &str) -> Result<(), ConfigError> {
    let usable = url::Url::parse(endpoint)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if usable {
        return Ok(());
    }
    Err(ConfigError {
        variable,
        problem: format!(
            "{endpoint:?} is not an http(s) URL such as https://vpce-1234.secretsmanager.\
             us-east-1.vpce.amazonaws.com; unset it to use AWS's own endpoints"
        ),
    })
}

/// The function's region and the AWS endpoint, as the SDK read them from the environment
/// (or a profile): one line naming the variable when either is unusable.
fn aws_environment(region: Option<&str>, endpoint: Option<&str>) -> Result<Region, ConfigError> {
    if let Some(endpoint) = endpoint {
        check_endpoint("AWS_ENDPOINT_URL", endpoint)?;
    }
    let region = region.ok_or_else(|| ConfigError {
        variable: "AWS_REGION",
        problem: "no region is set; Lambda sets it, elsewhere export AWS_REGION".into(),
    })?;
    Region::try_from(region.to_owned()).map_err(|_| ConfigError {
        variable: "AWS_REGION",
        problem: format!(
            "{region:?} is not an AWS region name: use one such as \"us-east-1\" (lower case)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_region_or_endpoint_names_its_variable() {
        for (region, endpoint, variable, says) in [
            (None, None, "AWS_REGION", "no region is set"),
            (
                Some("nowhere"),
                None,
                "AWS_REGION",
                "\"nowhere\" is not an AWS region name",
            ),
            (
                Some("US-EAST-1"),
                None,
                "AWS_REGION",
                "\"US-EAST-1\" is not an AWS region name",
            ),
            (
                Some("us-east-1"),
                Some("not a url"),
                "AWS_ENDPOINT_URL",
                "\"not a url\" is not an http(s) URL",
            ),
            (
                Some("us-east-1"),
                Some("ftp://h"),
                "AWS_ENDPOINT_URL",
                "\"ftp://h\" is not an http(s) URL",
            ),
        ] {
            let err = aws_environment(region, endpoint).unwrap_err();
            assert_eq!(err.variable, variable);
            assert!(err.problem.contains(says), "{err}");
        }
        assert!(aws_environment(Some("eusc-de-east-1"), Some("http://127.0.0.1:5000")).is_ok());
        let err = endpoint_variables(|n| (n == "AWS_ENDPOINT_URL_ECR").then(|| "x y".into()));
        assert_eq!(err.unwrap_err().variable, "AWS_ENDPOINT_URL_ECR");
    }
}
