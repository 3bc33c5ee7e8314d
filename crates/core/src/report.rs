//! What a run tells its caller: the connections it refreshed, or which failed and why;
//! and what it has finished so far, kept outside the run's future so that a run cut short
//! by the deadline or a signal still says what it wrote.

pub use crate::action::Action;
use crate::failure::TargetFailure;
use crate::login_check::StoredLogin;
use crate::target::Target;
use serde::Serialize;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

/// One connection written, or that a dry run would write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refreshed {
    /// The Airflow conn id.
    pub conn_id: String,
    /// The secret or parameter that holds it.
    pub secret_name: String,
    /// The registry host written.
    pub registry: String,
    /// What was done to the value.
    pub action: Action,
    /// RFC 3339, from ECR.
    pub expires_at: Option<String>,
    /// `expires_at` as a time, for the metrics; not serialized.
    #[serde(skip)]
    pub expires: Option<SystemTime>,
    /// With `check_login`: whether the login stored before the write still worked.
    /// Absent when the check is off or there was no stored login for the same host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored_login: Option<StoredLogin>,
}

/// What a run answers when every connection was refreshed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Each connection, in the configured order.
    pub connections: Vec<Refreshed>,
}

/// One connection that failed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    /// The Airflow conn id.
    pub conn_id: String,
    /// The secret or parameter that holds it.
    pub secret_name: String,
    /// Typed to the end: tests match it, and its Display is what users read.
    pub cause: TargetFailure,
    /// What was written before a later step failed (the pull check): the token is fresh,
    /// so the staleness metric counts it as refreshed.
    pub written: Option<Refreshed>,
}

/// Some connections failed. The others were refreshed all the same.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RefreshFailed {
    /// The connections that failed, in the configured order.
    pub failed: Vec<Failed>,
    /// The connections refreshed all the same.
    pub refreshed: Vec<Refreshed>,
}

impl fmt::Display for RefreshFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.failed.len() + self.refreshed.len();
        write!(f, "{} of {total} connections failed: ", self.failed.len())?;
        for (i, failed) in self.failed.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(
                f,
                "{} ({}): {}",
                failed.conn_id, failed.secret_name, failed.cause
            )?;
        }
        if !self.refreshed.is_empty() {
            let names: Vec<&str> = self.refreshed.iter().map(|r| r.conn_id.as_str()).collect();
            write!(f, ". The others were done: {}", names.join(", "))?;
        }
        Ok(())
    }
}

/// Why a run stopped before every connection was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// This long before the Lambda deadline, to answer instead of being killed.
    Deadline(Duration),
    /// The process was asked to stop (`SIGTERM`, `SIGINT`).
    Signal(&'static str),
}

/// A run cut short: what it finished, and what it did not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Stopped {
    /// Why it stopped.
    pub reason: StopReason,
    /// What it finished, and what not.
    pub outcomes: Outcomes,
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Outcomes {
            refreshed,
            failed,
            unfinished,
        } = &self.outcomes;
        match self.reason {
            StopReason::Deadline(margin) => {
                write!(f, "stopped {margin:?} before the Lambda timeout")?
            }
            StopReason::Signal(signal) => write!(f, "stopped by {signal}")?,
        }
        if unfinished.is_empty() && refreshed.is_empty() && failed.is_empty() {
            f.write_str(" before any connection was started; nothing was written")?;
        } else if !unfinished.is_empty() {
            write!(
                f,
                "; not finished: {} (each is unchanged, or holds the new login if its write \
                 landed before the stop)",
                Named(unfinished)
            )?;
        }
        if !refreshed.is_empty() {
            let names: Vec<&str> = refreshed.iter().map(|r| r.conn_id.as_str()).collect();
            write!(f, "; done: {}", names.join(", "))?;
        }
        for failed in failed {
            write!(
                f,
                "; failed: {} ({}): {}",
                failed.conn_id, failed.secret_name, failed.cause
            )?;
        }
        if matches!(self.reason, StopReason::Deadline(_)) {
            f.write_str(". Raise the function's timeout")?;
        }
        Ok(())
    }
}

/// One connection a run set out to refresh and did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    /// The Airflow conn id.
    pub conn_id: String,
    /// The secret or parameter that holds it.
    pub secret_name: String,
}

/// A run's outcomes, in the configured order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// Written, or that a dry run would write.
    pub refreshed: Vec<Refreshed>,
    /// Failed, and why.
    pub failed: Vec<Failed>,
    /// Started and cut short: each is unchanged, or written whole if its write landed
    /// before the stop (a write is atomic).
    pub unfinished: Vec<Unfinished>,
}

#[derive(Debug, Default)]
struct State {
    targets: Vec<Unfinished>,
    done: Vec<Option<Result<Refreshed, Failed>>>,
}

/// Shared between a run and whoever may stop it; every method takes `&self`.
#[derive(Debug, Default)]
pub struct Progress(Mutex<State>);

impl Progress {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not hide what was written.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connections this run will refresh, before any is touched.
    pub fn begin(&self, targets: &[Target]) {
        let mut state = self.lock();
        state.targets = targets
            .iter()
            .map(|t| Unfinished {
                conn_id: t.conn_id.to_string(),
                secret_name: t.secret_name.clone(),
            })
            .collect();
        state.done = vec![None; targets.len()];
    }

    /// The `i`th connection (in `begin`'s order) is done.
    pub fn finish(&self, i: usize, outcome: Result<Refreshed, Failed>) {
        if let Some(slot) = self.lock().done.get_mut(i) {
            *slot = Some(outcome);
        }
    }

    /// What is done and what is not, in the configured order.
    pub fn outcomes(&self) -> Outcomes {
        let state = self.lock();
        let mut outcomes = Outcomes::default();
        for (target, done) in state.targets.iter().zip(&state.done) {
            match done {
                Some(Ok(refreshed)) => outcomes.refreshed.push(refreshed.clone()),
                Some(Err(failed)) => outcomes.failed.push(failed.clone()),
                None => outcomes.unfinished.push(target.clone()),
            }
        }
        outcomes
    }
}

impl Outcomes {
    /// Every connection whose new value was written, including those that failed a later
    /// step (the pull check): their tokens are fresh all the same.
    pub fn written(&self) -> impl Iterator<Item = &Refreshed> {
        let failed_after_writing = self.failed.iter().filter_map(|f| f.written.as_ref());
        self.refreshed.iter().chain(failed_after_writing)
    }
}

/// A list of `conn_id (secret)` for a message.
pub struct Named<'a>(pub &'a [Unfinished]);

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, u) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} ({})", u.conn_id, u.secret_name)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expiry::rfc3339;

    #[test]
    fn response_has_the_documented_shape() {
        let report = Report {
            connections: vec![Refreshed {
                conn_id: "a".into(),
                secret_name: "airflow/connections/a".into(),
                registry: "123456789012.dkr.ecr.us-east-1.amazonaws.com".into(),
                action: Action::WouldCreate,
                expires_at: rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
                expires: None,
                stored_login: None,
            }],
        };
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            serde_json::json!({"connections": [{
                "conn_id": "a", "secret_name": "airflow/connections/a",
                "registry": "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                "action": "would_create", "expires_at": "2027-01-15T08:00:00Z"
            }]})
        );
    }

    #[test]
    fn failure_names_each_failed_connection_and_its_cause() {
        let err = RefreshFailed {
            failed: vec![
                Failed {
                    conn_id: "a".into(),
                    secret_name: "p/a".into(),
                    cause: TargetFailure::TooLarge {
                        bytes: 70_000,
                        limit: 65_536,
                    },
                    written: None,
                },
                Failed {
                    conn_id: "b".into(),
                    secret_name: "p/b".into(),
                    cause: TargetFailure::Binary,
                    written: None,
                },
            ],
            refreshed: vec![],
        };
        assert_eq!(
            err.to_string(),
            "2 of 2 connections failed: a (p/a): the new value would be 70000 bytes, over the \
             store's limit of 65536, so the secret was left untouched (its other fields are too \
             large); b (p/b): the secret holds SecretBinary, which Airflow never reads, so it was \
             left untouched (store the connection as a SecretString)"
        );
    }
}
