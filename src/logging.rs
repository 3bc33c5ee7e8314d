//! Logs on stderr, at the level Lambda's logging controls ask for (`AWS_LAMBDA_LOG_LEVEL`,
//! `AWS_LAMBDA_LOG_FORMAT`; `RUST_LOG` elsewhere, directives included), with one cap no
//! setting can lift: other crates' TRACE events and spans never print. At TRACE the SDK
//! dumps whole HTTP response bodies, and a `GetAuthorizationToken` body is the ECR
//! password. Our own events never carry a secret, so they keep every level.

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

const OWN_TARGET: &str = env!("CARGO_CRATE_NAME");

/// Whether an event or span may print at all, whatever the configured level.
pub fn may_print(meta: &Metadata<'_>) -> bool {
    *meta.level() <= Level::DEBUG || is_own(meta.target())
}

fn is_own(target: &str) -> bool {
    target
        .strip_prefix(OWN_TARGET)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
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
    fn own_events_keep_every_level_and_others_stop_at_debug() {
        assert!(is_own("airflow_ecr_refresher"));
        assert!(is_own("airflow_ecr_refresher::refresh"));
        assert!(!is_own("airflow_ecr_refresher_evil"));
        assert!(!is_own("aws_smithy_runtime::client::orchestrator"));
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
