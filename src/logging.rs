//! Logs on stderr, at the level Lambda's logging controls ask for (`AWS_LAMBDA_LOG_LEVEL`,
//! `AWS_LAMBDA_LOG_FORMAT`; `RUST_LOG` elsewhere, directives included), with one rule no
//! setting can lift: other crates' events and spans never print, except the Lambda
//! runtime's up to INFO (runtime API failures, and the span that puts the request id on
//! every line). The SDK and aws-config log whole HTTP responses (TRACE), errors holding
//! them (DEBUG), and a credentials provider's failed STS call with its raw answer (WARN):
//! a `GetAuthorizationToken` body is the ECR password, an `AssumeRole` body the role's
//! keys. Field names cannot tell a safe event from one of those, so none of them prints.
//! Our own events never carry a secret, so they keep every level.

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

/// This workspace's crates: the entry, the core and the AWS adapters.
const OWN_TARGETS: &[&str] = &[env!("CARGO_CRATE_NAME"), "refresher_core", "refresher_aws"];
/// `lambda_runtime` and `lambda_runtime_api_client`: they see the event and our answer,
/// never an AWS service's.
const RUNTIME_TARGET: &str = "lambda_runtime";

/// Whether an event or span may print at all, whatever the configured level.
pub fn may_print(meta: &Metadata<'_>) -> bool {
    // At TRACE the runtime logs the raw event; it is the caller's, but not needed.
    is_own(meta.target())
        || (meta.target().starts_with(RUNTIME_TARGET) && *meta.level() <= Level::INFO)
}

fn is_own(target: &str) -> bool {
    OWN_TARGETS.iter().any(|own| {
        target
            .strip_prefix(own)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// The configured level filter: Lambda's variable first, as `lambda_runtime` reads it.
fn level_filter(lookup: impl Fn(&str) -> Option<String>) -> EnvFilter {
    let level = lookup("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|| lookup("RUST_LOG"))
        .unwrap_or_default();
    // Lambda's levels include FATAL, which tracing calls ERROR.
    let level = if level.eq_ignore_ascii_case("fatal") {
        "error".to_owned()
    } else {
        level
    };
    // A bare level (`ERROR`, any case) or RUST_LOG-style directives (`info,my_crate=debug`).
    // tracing reads an empty level as ERROR; unset means INFO, as in lambda_runtime.
    let (default, directives) = match level.parse::<LevelFilter>() {
        _ if level.trim().is_empty() => (LevelFilter::INFO, String::new()),
        Ok(bare) => (bare, String::new()),
        Err(_) => (LevelFilter::INFO, level),
    };
    EnvFilter::builder()
        .with_default_directive(default.into())
        .parse_lossy(directives)
}

/// Installs the process's subscriber. Call once, first thing in `main`.
pub fn init() {
    let lookup = |name: &str| std::env::var(name).ok();
    let filter = level_filter(lookup).and(filter_fn(may_print));
    // Plain text: CloudWatch shows colour escapes as noise.
    let base = fmt::layer()
        .with_ansi(false)
        .with_target(false)
        .without_time()
        .with_writer(std::io::stderr);
    let json = lookup("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let layer = if json {
        base.json().with_filter(filter).boxed()
    } else {
        base.with_filter(filter).boxed()
    };
    // A second init (tests) keeps the first subscriber; nothing to report.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_events_keep_every_level() {
        assert!(is_own("airflow_ecr_refresher"));
        assert!(is_own("airflow_ecr_refresher::refresh"));
        assert!(!is_own("airflow_ecr_refresher_evil"));
        assert!(is_own("refresher_core::run") && is_own("refresher_aws::secrets_manager"));
        assert!(!is_own("refresher_aws_evil") && !is_own("aws_sdk_secretsmanager"));
        assert!(!is_own("aws_smithy_runtime::client::orchestrator"));
    }

    /// What prints through `may_print`, with every level on.
    fn printed(emit: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        let writer = move || Sink(sink.clone());
        let layer = fmt::layer()
            .with_writer(writer)
            .with_filter(LevelFilter::TRACE.and(filter_fn(may_print)));
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), emit);
        let bytes = out.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_sdk_and_aws_config_never_print_at_any_level() {
        let out = printed(|| {
            tracing::warn!(target: "aws_config::sts::assume_role", "body-warn");
            tracing::error!(target: "aws_smithy_runtime::client::orchestrator", "body-error");
            tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "body-debug");
            tracing::trace!(target: "hyper::proto", "body-trace");
            tracing::warn!(target: "rustls::conn", "body-tls");
            tracing::trace!(target: "lambda_runtime::layers", "event-trace");
            tracing::info!(target: "lambda_runtime::runtime", "runtime-info");
            tracing::error!(target: "lambda_runtime_api_client", "runtime-error");
            tracing::trace!("own-trace");
        });
        for hidden in [
            "body-warn",
            "body-error",
            "body-debug",
            "body-trace",
            "body-tls",
            "event-trace",
        ] {
            assert!(!out.contains(hidden), "{hidden} printed: {out}");
        }
        for shown in ["runtime-info", "runtime-error", "own-trace"] {
            assert!(out.contains(shown), "{shown} missing: {out}");
        }
    }

    #[test]
    fn lambda_level_wins_over_rust_log() {
        let vars = [("AWS_LAMBDA_LOG_LEVEL", "ERROR"), ("RUST_LOG", "trace")];
        let lookup = |n: &str| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        };
        assert_eq!(
            level_filter(lookup).max_level_hint(),
            Some(LevelFilter::ERROR)
        );
        let none = |_: &str| None;
        assert_eq!(level_filter(none).max_level_hint(), Some(LevelFilter::INFO));
    }
}
