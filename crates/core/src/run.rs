//! One run, in one direction: targets -> logins (per region and role) -> current values
//! -> plan (pure, `plan.rs`) -> paced writes (`apply.rs`) -> report. A failing connection
//! never stops the others.

use crate::apply::{self, Apply};
use crate::config::Settings;
use crate::destination;
use crate::expiry::{self, rfc3339};
use crate::failure::TargetFailure;
use crate::login::{Login, Logins, RunLogins};
use crate::login_check::{self, LoginCheck, StoredLogin};
use crate::pace;
use crate::plan::{self, Decision, Found, Plan, Rules, Step};
use crate::report::{Failed, Outcomes, Progress, RefreshFailed, Refreshed, Report};
use crate::store::Store;
use crate::target::Target;
use futures::StreamExt;
use futures::future::BoxFuture;
use std::time::{Duration, SystemTime};

/// Writes in flight at once: each new connection is a full TLS handshake, which at 128 MB
/// costs about 14 billed milliseconds per CPU millisecond. Measured at 128 MB through TLS
/// with +50 ms per request, 25 gave the lowest billed time (docs/performance.md); the
/// pacing (`pace::wave`, each write no earlier than its second) still holds the store's
/// quota. A slot is held for an update's re-read, write and check.
const WRITES_IN_FLIGHT: usize = 25;

/// What a run talks to: where logins come from, where connections live, and a timer.
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    /// Where logins come from.
    pub logins: &'a dyn Logins,
    /// Where connections are read and written.
    pub store: &'a dyn Store,
    /// Logs in to a registry as Docker does (`check_login`).
    pub login_check: &'a dyn LoginCheck,
    /// The timer that paces writes.
    pub clock: &'a dyn Clock,
}

/// A timer for pacing writes; the entry gives tokio's.
pub trait Clock: Send + Sync {
    /// Time since the clock's own origin: monotonic.
    fn elapsed(&self) -> Duration;
    /// Waits `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Where a run writes and in what format new secrets start.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    /// The function's configuration.
    pub settings: &'a Settings,
    /// Report what would be written, write nothing.
    pub dry_run: bool,
}

/// Refreshes `targets`: each finished connection is recorded in `progress` as it finishes,
/// so a run cut short still says what it did.
pub async fn refresh(
    ports: Ports<'_>,
    run: Run<'_>,
    targets: &[Target],
    progress: &Progress,
) -> Result<Report, RefreshFailed> {
    progress.begin(targets);
    let plan = plan(ports, run, targets).await;
    apply_plan(ports, run, plan, progress).await;
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

fn rules<'a>(store: &dyn Store, settings: &'a Settings) -> Rules<'a> {
    Rules {
        format: settings.format,
        value_limit: store.value_limit(),
        aliases: &settings.backend.aliases,
    }
}

/// Reads what the plan needs, then plans.
async fn plan(ports: Ports<'_>, run: Run<'_>, targets: &[Target]) -> Plan {
    let names: Vec<String> = targets.iter().map(|t| t.secret_name.clone()).collect();
    // The configured regions' logins beside the read; a connection that keeps its own
    // registry (`destination.rs`) may need another region's, known once the read is in.
    let (mut logins, current) = futures::join!(
        RunLogins::fetch(ports.logins, targets),
        ports.store.read(&names),
    );
    let aliases = &run.settings.backend.aliases;
    let settled = destination::settle_all(targets, &current, aliases, &logins);
    logins
        .fetch_more(ports.logins, settled.iter().flatten())
        .await;
    let rules = rules(ports.store, run.settings);
    // Whose a value is, asked only of a value that is not a Docker connection.
    let found = futures::stream::iter(names.iter().zip(current))
        .map(|(name, current)| async move {
            let current = current.map_err(TargetFailure::Read)?;
            let managed = apply::managed(ports.store, name, &current, rules).await?;
            Ok(Found {
                current,
                managed,
                valueless: false,
            })
        })
        .buffered(WRITES_IN_FLIGHT)
        .collect::<Vec<_>>()
        .await;
    plan::plan(settled, &logins, found, rules)
}

/// Carries out each step, paced under the store's write quota: a second's worth of writes
/// at once, then each further second's worth a second later.
async fn apply_plan(ports: Ports<'_>, run: Run<'_>, plan: Plan, progress: &Progress) {
    let per_second = ports.store.writes_per_second();
    let apply = Apply {
        store: ports.store,
        rules: rules(ports.store, run.settings),
        kms_key_id: run.settings.kms_key_id.as_deref(),
    };
    let start = ports.clock.elapsed();
    let mut writes = 0;
    let jobs = plan.steps.into_iter().enumerate().map(|(i, step)| {
        let not_before = match &step.decision {
            Ok(_) if !run.dry_run => {
                writes += 1;
                Some(start + pace::wave(writes - 1, per_second))
            }
            _ => None,
        };
        async move {
            let target = step.target.clone();
            let outcome = carry_out(ports, run, apply, step, not_before).await;
            // Logged as each finishes, so a run cut short has said what it did.
            log_outcome(run, &target, &outcome);
            progress.finish(i, outcome);
        }
    });
    // Unordered, so a slow write never holds up the others; the report keeps the
    // configured order.
    futures::stream::iter(jobs)
        .buffer_unordered(WRITES_IN_FLIGHT.min(per_second).max(1))
        .collect::<()>()
        .await;
}

/// One step: the stored login's check (`check_login`), then its write (none in a dry run)
/// beside its pull check, then the written login's check and the expiry check.
async fn carry_out(
    ports: Ports<'_>,
    run: Run<'_>,
    apply: Apply<'_>,
    step: Step,
    not_before: Option<Duration>,
) -> Result<Refreshed, Failed> {
    let Step { target, decision } = step;
    let failed = |cause, written| Failed {
        conn_id: target.conn_id.to_string(),
        secret_name: target.secret_name.clone(),
        cause,
        written,
    };
    let Decision {
        login,
        found,
        write,
    } = decision.map_err(|cause| failed(cause, None))?;
    let check_login = target.check_login.unwrap_or(run.settings.check_login);
    // Before the write, while it is still the stored one.
    let stored_login = if check_login {
        check_stored(ports, run, &target, &login, &found.current).await
    } else {
        None
    };
    // The pull check asks as the login's principal, beside the write: a failed check
    // still leaves the fresh login written.
    let check = async {
        let Some(image) = &target.check_image else {
            return Ok(());
        };
        let principal = login.principal.as_ref();
        let (region, registry_id) = (&target.region, login.registry_id());
        ports
            .logins
            .check_pull(region, principal, registry_id, image)
            .await
    };
    let written = async {
        if run.dry_run {
            return Ok(write.kind.would());
        }
        if let Some(at) = not_before {
            let clock = ports.clock;
            clock.sleep(at.saturating_sub(clock.elapsed())).await;
        }
        apply.write(&target.secret_name, &login, found, write).await
    };
    let (action, check) = futures::join!(written, check);
    let action = action.map_err(|cause| failed(cause, None))?;
    // After the write (in a dry run, the login it would write), as Docker will use it.
    let logged_in = if check_login {
        let (host, user) = (&login.host, &login.username);
        ports.login_check.check(host, user, &login.password).await
    } else {
        Ok(())
    };
    let refreshed = Refreshed {
        conn_id: target.conn_id.to_string(),
        secret_name: target.secret_name.clone(),
        registry: login.host.clone(),
        action,
        expires_at: login.expires.and_then(|(at, _)| rfc3339(at)),
        expires: login.expires.map(|(at, _)| at),
        stored_login,
    };
    // Each failure leaves the fresh login written: it is never worse than the old one.
    let written = (!run.dry_run).then(|| refreshed.clone());
    if let Err(source) = logged_in {
        return Err(failed(
            TargetFailure::LoginCheck { action, source },
            written,
        ));
    }
    if let Err(source) = check {
        return Err(failed(TargetFailure::PullCheck { action, source }, written));
    }
    let role = target.pull_role_arn.as_ref().map(ToString::to_string);
    let now = SystemTime::now();
    if let Err(short) = expiry::check(run.settings.schedule, login.expires, now, action, role) {
        let cause = TargetFailure::ExpiresBeforeNextRun(Box::new(short));
        return Err(failed(cause, written));
    }
    Ok(refreshed)
}

/// The stored login, when it is one for the host the fresh login is for: still accepted,
/// or refused before its stated expiry (died early: logged). Never fails the connection.
async fn check_stored(
    ports: Ports<'_>,
    run: Run<'_>,
    target: &Target,
    login: &Login,
    current: &crate::store::Current,
) -> Option<StoredLogin> {
    let aliases = &run.settings.backend.aliases;
    let stored = login_check::stored_for(current, aliases, &login.host)?;
    let result = ports
        .login_check
        .check(&login.host, &stored.username, &stored.password)
        .await;
    // A stored login came from the same principal as the fresh one, so it was stated to
    // last as long: a pull role's is its session, not the token's 12 hours.
    let now = SystemTime::now();
    let lifetime = login
        .expires
        .and_then(|(at, _)| at.duration_since(now).ok())
        .unwrap_or(login_check::TOKEN_VALIDITY);
    let judged = StoredLogin::judge(result, stored.written_at, lifetime, now);
    if judged.died_early {
        tracing::warn!(
            conn_id = %target.conn_id, registry = %login.host,
            stated_expiry = judged.stated_expiry.as_deref(),
            "the stored login was refused before its stated expiry"
        );
    } else {
        tracing::debug!(
            conn_id = %target.conn_id, registry = %login.host, accepted = judged.accepted,
            "stored login checked"
        );
    }
    Some(judged)
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
