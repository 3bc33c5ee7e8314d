//! One refresh, in one direction: targets -> tokens (per region and role) -> current
//! values -> plan (pure, `plan.rs`) -> writes (`apply.rs`) -> report. A failing connection
//! never stops the others.

use crate::apply::{self, Apply};
use crate::aws::Aws;
use crate::aws_error::AwsError;
use crate::config::Settings;
use crate::connection::DockerLogin;
use crate::destination;
use crate::expiry;
use crate::failure::TargetFailure;
use crate::pace;
use crate::plan::Rules;
use crate::progress::{Outcomes, Progress};
use crate::report::{self, Failed, RefreshFailed, Refreshed, Report};
use crate::store::Current;
use crate::target::Target;
use crate::token;
use crate::tokens::{Token, Tokens};
use futures::StreamExt;
use secrecy::ExposeSecret;
use std::time::SystemTime;
use tokio::time::Instant;

/// Writes in flight at once: each new connection is a full TLS handshake, which at 128 MB
/// costs about 14 billed milliseconds per CPU millisecond. Measured at 128 MB through TLS
/// with +50 ms per request, 25 gave the lowest billed time (README, "Performance"); the
/// pacing below (`pace::wave`, each write no earlier than its second) still holds the
/// store's quota. A slot is held for an update's re-read, write and check.
const WRITES_IN_FLIGHT: usize = 25;

/// Where a run writes and in what format new secrets start.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub settings: &'a Settings,
    pub dry_run: bool,
}

pub async fn refresh(
    aws: &Aws,
    run: Run<'_>,
    targets: &[Target],
    progress: &Progress,
) -> Result<Report, RefreshFailed> {
    progress.begin(targets);
    let names: Vec<String> = targets.iter().map(|t| t.secret_name.clone()).collect();
    // The configured regions' tokens beside the read; a connection that keeps its own
    // registry (`destination.rs`) may need another region's, known once the read is in.
    let (mut tokens, current) = tokio::join!(
        Tokens::fetch(aws.tokens.as_ref(), targets),
        aws.store.read(&names),
    );
    let aliases = &run.settings.backend.aliases;
    let settled = destination::settle_all(targets, &current, aliases, &tokens);
    tokens
        .fetch_more(aws.tokens.as_ref(), settled.iter().flatten())
        .await;
    let per_second = aws.store.writes_per_second();

    let writes_start = Instant::now();
    let jobs = targets
        .iter()
        .zip(&settled)
        .zip(&names)
        .zip(current)
        .enumerate();
    let jobs = jobs.map(|(i, (((target, settled), name), existing))| {
        // As it will be refreshed: its own registry kept, or why it may not be.
        let target = settled.as_ref().unwrap_or(target);
        let job = Job {
            target,
            name,
            token: match settled {
                Ok(settled) => tokens.get(settled).map_err(TargetFailure::from),
                Err(conflict) => Err(conflict.clone()),
            },
            existing,
            not_before: writes_start + pace::wave(i, per_second),
        };
        async move {
            let outcome = refresh_one(aws, run, job).await.map_err(|e| Failed {
                conn_id: target.conn_id.to_string(),
                secret_name: name.clone(),
                cause: e.cause,
                written: e.written,
            });
            // Logged as each finishes, so a run cut short has said what it did.
            log_outcome(run, target, &outcome);
            progress.finish(i, outcome);
        }
    });
    // Unordered, so a slow write never holds up the others; the report keeps the
    // configured order.
    futures::stream::iter(jobs)
        .buffer_unordered(WRITES_IN_FLIGHT.min(per_second).max(1))
        .collect::<()>()
        .await;
    let Outcomes {
        refreshed, failed, ..
    } = progress.outcomes();
    if failed.is_empty() {
        Ok(Report {
            connections: refreshed,
        })
    } else {
        Err(RefreshFailed { failed, refreshed })
    }
}

fn log_outcome(run: Run<'_>, target: &Target, outcome: &Result<Refreshed, Failed>) {
    match outcome {
        Ok(done) => {
            let message = if run.dry_run {
                "connection checked, nothing written (dry run)"
            } else {
                "connection refreshed"
            };
            tracing::info!(
                conn_id = %target.conn_id, secret_name = %done.secret_name, registry = %done.registry,
                region = %target.region, action = done.action.as_str(), expires_at = done.expires_at.as_deref(),
                "{message}"
            );
        }
        Err(failed) => {
            tracing::error!(
                conn_id = %target.conn_id, secret_name = %failed.secret_name, region = %target.region,
                written = failed.written.is_some(), error = %failed.cause, "connection not refreshed"
            );
        }
    }
}

/// Why a connection failed, and what it had written before it did.
struct Failure {
    cause: TargetFailure,
    written: Option<Refreshed>,
}

impl<E: Into<TargetFailure>> From<E> for Failure {
    fn from(cause: E) -> Self {
        Self {
            cause: cause.into(),
            written: None,
        }
    }
}

/// One connection's part of a run: what it is, what is there now, its token, and when its
/// write may start.
struct Job<'a> {
    target: &'a Target,
    name: &'a str,
    /// Its token, or why it has none (a registry it can neither keep nor leave).
    token: Result<&'a Token, TargetFailure>,
    existing: Result<Current, AwsError>,
    not_before: Instant,
}

async fn refresh_one(aws: &Aws, run: Run<'_>, job: Job<'_>) -> Result<Refreshed, Failure> {
    let Job {
        target,
        name,
        token: fetched,
        existing,
        not_before,
    } = job;
    let fetched = fetched?;
    let token = &fetched.token;
    let host = token::registry_host(&token.endpoint_host, target.registry.as_ref());
    let login = DockerLogin {
        host: &host,
        login: &token.login.username,
        password: token.login.password.expose_secret(),
    };
    let existing = existing.map_err(TargetFailure::Read)?;
    let store = aws.store.as_ref();
    let rules = Rules {
        format: run.settings.format,
        value_limit: store.value_limit(),
        aliases: &run.settings.backend.aliases,
    };
    let managed = apply::managed(store, name, &existing, rules).await?;
    let apply = Apply {
        store,
        rules,
        kms_key_id: run.settings.kms_key_id.as_deref(),
        dry_run: run.dry_run,
    };
    // The pull check asks as the token's principal, beside the write: a failed check
    // still leaves the fresh token written.
    let check = async {
        let Some(image) = &target.check_image else {
            return Ok(());
        };
        let registry_id = host.split('.').next().unwrap_or_default();
        let credentials = fetched.credentials.as_ref();
        aws.tokens
            .check_pull(&target.region, credentials, registry_id, image)
            .await
    };
    let (action, check) = tokio::join!(
        apply.write(name, &login, existing, managed, not_before),
        check
    );
    let action = action?;
    let expires = fetched.expires();
    let refreshed = Refreshed {
        conn_id: target.conn_id.to_string(),
        secret_name: name.to_owned(),
        registry: host.clone(),
        action,
        expires_at: expires.and_then(|(at, _)| report::rfc3339(at)),
        expires: expires.map(|(at, _)| at),
    };
    // Both failures leave the fresh login written: it is never worse than the old one.
    let written = (!run.dry_run).then(|| refreshed.clone());
    if let Err(source) = check {
        return Err(Failure {
            cause: TargetFailure::PullCheck { action, source },
            written,
        });
    }
    let role = target.pull_role_arn.as_ref().map(ToString::to_string);
    if let Err(short) = expiry::check(
        run.settings.schedule,
        expires,
        SystemTime::now(),
        action,
        role,
    ) {
        return Err(Failure {
            cause: TargetFailure::ExpiresBeforeNextRun(Box::new(short)),
            written,
        });
    }
    Ok(refreshed)
}
