//! One refresh, in one direction: targets -> one token per region -> existing secrets ->
//! new values (pure) -> writes -> report. A failing connection never stops the others.

use crate::aws_error::AwsError;
use crate::config::Settings;
use crate::connection::{self, ConnectionError, DockerLogin, Ownership};
use crate::ecr::{Ecr, PullCheckError};
use crate::report::{self, Action, Failed, RefreshFailed, Refreshed, Report};
use crate::roles::Roles;
use crate::secrets::{Current, Secrets, Write};
use crate::target::{Target, secret_name};
use crate::token;
use crate::tokens::{Token, TokenFailure, Tokens};
use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::time::Instant;

/// Secrets Manager takes 50 writes a second per account and region (PutSecretValue and
/// CreateSecret each; not adjustable). A run sends one second's worth at once, so up to
/// 50 connections cost one round trip, and starts each further 50 a second later, so it
/// never throttles itself.
const WRITES_PER_SECOND: usize = 50;

/// A secret's value is at most 65,536 bytes (AWS Secrets Manager API Reference,
/// `PutSecretValue`, `SecretString`); a larger one is refused before anything is sent.
pub const SECRET_VALUE_LIMIT: usize = 65_536;

/// When the `i`th write (in configured order) may start, counted from the first.
fn write_wave(i: usize) -> Duration {
    Duration::from_secs((i / WRITES_PER_SECOND) as u64)
}

/// Why one connection was not refreshed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetFailure {
    #[error(transparent)]
    Token(#[from] TokenFailure),
    #[error("reading the secret: {0}")]
    Read(AwsError),
    #[error(
        "the secret holds SecretBinary, which Airflow never reads, so it was left untouched \
         (store the connection as a SecretString)"
    )]
    Binary,
    #[error("{0}, so the secret was left untouched")]
    Value(#[from] ConnectionError),
    #[error("reading the secret's tags: {0}")]
    Tags(AwsError),
    #[error(
        "the new value would be {0} bytes, over Secrets Manager's limit of 65,536, so the \
         secret was left untouched (its other fields are too large)"
    )]
    TooLarge(usize),
    #[error("writing the secret: {0}")]
    Write(AwsError),
    #[error(
        "{source} (the secret was still written, {}: a fresh token is never worse than an \
         expiring one)", .action.as_str()
    )]
    PullCheck {
        action: Action,
        source: PullCheckError,
    },
}

/// The AWS side of a run, built once per process and shared by every invocation.
#[derive(Debug, Clone)]
pub struct Aws {
    pub ecr: Ecr,
    pub secrets: Secrets,
    pub roles: Roles,
}

/// Where a run writes and in what format new secrets start.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub settings: &'a Settings,
    pub dry_run: bool,
}

pub async fn refresh(aws: &Aws, run: Run<'_>, targets: &[Target]) -> Result<Report, RefreshFailed> {
    let names: Vec<String> = targets
        .iter()
        .map(|t| secret_name(&run.settings.prefix, &run.settings.sep, &t.conn_id))
        .collect();
    let (tokens, current) = tokio::join!(
        Tokens::fetch(&aws.ecr, &aws.roles, targets),
        aws.secrets.read(&names),
    );

    let writes_start = Instant::now();
    let jobs = targets.iter().zip(&names).zip(current).enumerate();
    let jobs = jobs.map(|(i, ((target, name), existing))| {
        let job = Job {
            target,
            name,
            token: tokens.get(target),
            existing,
            not_before: writes_start + write_wave(i),
        };
        async move { (i, target, name, refresh_one(aws, run, job).await) }
    });
    // Unordered, so a slow write never holds up the others; the report keeps the
    // configured order.
    let mut results: Vec<_> = futures::stream::iter(jobs)
        .buffer_unordered(WRITES_PER_SECOND)
        .collect()
        .await;
    results.sort_unstable_by_key(|(i, ..)| *i);

    let (mut refreshed, mut failed) = (Vec::new(), Vec::new());
    for (_, target, name, result) in results {
        match result {
            Ok(done) => {
                let message = if run.dry_run {
                    "connection checked, nothing written (dry run)"
                } else {
                    "connection refreshed"
                };
                tracing::info!(
                    conn_id = %target.conn_id, secret_name = %name, registry = %done.registry,
                    region = %target.region, action = done.action.as_str(), expires_at = done.expires_at.as_deref(),
                    "{message}"
                );
                refreshed.push(done);
            }
            Err(cause) => {
                tracing::error!(
                    conn_id = %target.conn_id, secret_name = %name, region = %target.region,
                    error = %cause, "connection not refreshed"
                );
                failed.push(Failed {
                    conn_id: target.conn_id.to_string(),
                    secret_name: name.clone(),
                    cause: cause.to_string(),
                });
            }
        }
    }
    if failed.is_empty() {
        Ok(Report {
            connections: refreshed,
        })
    } else {
        Err(RefreshFailed { failed, refreshed })
    }
}

/// One connection's part of a run: what it is, what is there now, its token, and when its
/// write may start.
struct Job<'a> {
    target: &'a Target,
    name: &'a str,
    token: Result<&'a Token, TokenFailure>,
    existing: Result<Current, AwsError>,
    not_before: Instant,
}

async fn refresh_one(aws: &Aws, run: Run<'_>, job: Job<'_>) -> Result<Refreshed, TargetFailure> {
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
    // The pull check asks as the token's principal, beside the write: a failed check
    // still leaves the fresh token written.
    let check = async {
        let Some(image) = &target.check_image else {
            return Ok(());
        };
        let registry_id = host.split('.').next().unwrap_or_default();
        let credentials = fetched.credentials.as_ref();
        aws.ecr
            .check_pull(&target.region, credentials, registry_id, image)
            .await
    };
    let (action, check) = tokio::join!(
        write_value(aws, run, name, &login, existing, not_before),
        check
    );
    let action = action?;
    check.map_err(|source| TargetFailure::PullCheck { action, source })?;
    Ok(Refreshed {
        conn_id: target.conn_id.to_string(),
        secret_name: name.to_owned(),
        registry: host.clone(),
        action,
        expires_at: token.expires_at.and_then(report::rfc3339),
        expires: token.expires_at,
    })
}

/// Whether a secret whose value is not a Docker connection carries this function's tag
/// (one extra call, only then). A value Airflow cannot load is refused later, by `update`.
async fn managed(aws: &Aws, name: &str, current: &Current) -> Result<bool, TargetFailure> {
    let Current::Text { value, .. } = current else {
        return Ok(false);
    };
    match connection::ownership(value.expose_secret()) {
        Ok(Ownership::Docker) | Err(_) => Ok(false),
        Ok(Ownership::Other(_) | Ownership::Untyped) => aws
            .secrets
            .is_managed(name)
            .await
            .map_err(TargetFailure::Tags),
    }
}

/// Renders the new value from what is there now and writes it. A secret created by
/// someone else since we read is read again and updated, not overwritten blind; a secret
/// that exists without a value (Terraform, CloudFormation and the console create those)
/// gets its first one.
async fn write_value(
    aws: &Aws,
    run: Run<'_>,
    name: &str,
    login: &DockerLogin<'_>,
    mut existing: Current,
    not_before: Instant,
) -> Result<Action, TargetFailure> {
    let mut valueless = false;
    loop {
        let (value, version) = match &existing {
            Current::Missing => (connection::render_new(run.settings.format, login)?, None),
            Current::Text { value, version_id } => {
                let managed = managed(aws, name, &existing).await?;
                (
                    connection::update(value.expose_secret(), login, managed)?,
                    Some(version_id.as_str()),
                )
            }
            Current::Binary => return Err(TargetFailure::Binary),
        };
        if value.len() > SECRET_VALUE_LIMIT {
            return Err(TargetFailure::TooLarge(value.len()));
        }
        let updates = version.is_some() || valueless;
        if run.dry_run {
            return Ok(if updates {
                Action::WouldUpdate
            } else {
                Action::WouldCreate
            });
        }
        tokio::time::sleep_until(not_before).await;
        let value = SecretString::from(value);
        let write = Write {
            name,
            request_token: request_token(name, version, &value),
            value: &value,
        };
        if updates {
            aws.secrets
                .put(&write)
                .await
                .map_err(TargetFailure::Write)?;
            return Ok(Action::Updated);
        }
        match aws
            .secrets
            .create(&write, run.settings.kms_key_id.as_deref())
            .await
        {
            Ok(()) => return Ok(Action::Created),
            Err(e) if e.is("ResourceExistsException") => {
                let now = aws
                    .secrets
                    .read(&[name.to_owned()])
                    .await
                    .pop()
                    .unwrap_or_else(|| Err(e.clone()))
                    .map_err(TargetFailure::Read)?;
                // Still no value to read: the secret exists without one.
                valueless = matches!(now, Current::Missing);
                existing = now;
            }
            Err(e) => return Err(TargetFailure::Write(e)),
        }
    }
}

/// The same write (same secret, same value, on top of the same version) gets the same
/// token, so Secrets Manager turns a retry into a no-op; a value written on top of someone
/// else's newer version gets a new token and lands.
fn request_token(name: &str, version: Option<&str>, value: &SecretString) -> String {
    let mut hash = Sha256::new();
    for part in [name, version.unwrap_or("<new>"), value.expose_secret()] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_go_out_fifty_at_once_then_fifty_a_second() {
        assert_eq!(write_wave(0), Duration::ZERO);
        assert_eq!(write_wave(49), Duration::ZERO);
        assert_eq!(write_wave(50), Duration::from_secs(1));
        assert_eq!(write_wave(99), Duration::from_secs(1));
        assert_eq!(write_wave(100), Duration::from_secs(2));
        // No one-second window holds more than the quota.
        let starts: Vec<_> = (0..500).map(write_wave).collect();
        for window in starts.windows(WRITES_PER_SECOND + 1) {
            assert!(window[WRITES_PER_SECOND] - window[0] >= Duration::from_secs(1));
        }
    }

    #[test]
    fn request_tokens_are_stable_per_write_and_change_with_the_base_version() {
        let v = SecretString::from("value".to_owned());
        let t = request_token("n", Some("v1"), &v);
        assert_eq!(t.len(), 64, "Secrets Manager takes 32 to 64 characters");
        assert_eq!(t, request_token("n", Some("v1"), &v));
        assert_ne!(t, request_token("n", Some("v2"), &v));
        assert_ne!(t, request_token("n", None, &v));
        assert_ne!(
            t,
            request_token("n", Some("v1"), &SecretString::from("other".to_owned()))
        );
    }
}
