//! What a run tells its caller: the connections it refreshed, or which failed and why.

use crate::failure::TargetFailure;
use crate::progress::{Named, Outcomes};
use serde::Serialize;
use std::fmt;
use std::time::{Duration, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    Updated,
    WouldCreate,
    WouldUpdate,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::WouldCreate => "would_create",
            Self::WouldUpdate => "would_update",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refreshed {
    pub conn_id: String,
    pub secret_name: String,
    pub registry: String,
    pub action: Action,
    /// RFC 3339, from ECR.
    pub expires_at: Option<String>,
    #[serde(skip)]
    pub expires: Option<SystemTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub connections: Vec<Refreshed>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub conn_id: String,
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
    pub failed: Vec<Failed>,
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
    pub reason: StopReason,
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

/// RFC 3339 in UTC, as the response and logs show expiry.
pub fn rfc3339(time: SystemTime) -> Option<String> {
    aws_smithy_types::DateTime::from(time)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
