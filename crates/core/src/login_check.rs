//! The login check, as Docker logs in: `GET https://<registry>/v2/` with the login (Docker
//! Registry HTTP API V2, "API Version Check": 200 when the client is authorized, 401 with
//! `WWW-Authenticate` when not). The registry's 200 proves the token, the host and the
//! rights together. Opt-in per connection (`check_login`) and per run (`CHECK_LOGIN`).
//!
//! Also the login that is stored, before it is replaced: an ECR token is "valid for 12
//! hours" (Amazon ECR User Guide, "Private registry authentication"), so a stored login
//! the registry refuses sooner than 12 hours after it was written died early.

use crate::connection::Aliases;
use crate::expiry::rfc3339;
use crate::registry::RegistryHost;
use crate::store::Current;
use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use std::time::{Duration, SystemTime};

/// How long ECR says a token is valid (Amazon ECR User Guide, "Private registry
/// authentication").
pub const TOKEN_VALIDITY: Duration = Duration::from_secs(12 * 3600);

/// Why a registry did not accept a login. Never carries the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginCheckError {
    /// 401 or 403 to the login: the registry refused it.
    #[error(
        "the registry {host} refused the login (HTTP {status} to GET /v2/, as Docker logs in): \
         the token is not valid there; check that the host is in the region (and partition) the \
         token was fetched in and names a registry its principal may use, and that the \
         principal is allowed ecr:GetAuthorizationToken"
    )]
    Rejected {
        /// The registry host.
        host: String,
        /// The HTTP status.
        status: u16,
    },
    /// No answer: connection, TLS or proxy failure, or a timeout.
    #[error(
        "the registry {host} could not be reached to check the login ({reason}): the function \
         needs HTTPS egress to it (a NAT gateway, the proxy named by HTTPS_PROXY, or the VPC \
         endpoint com.amazonaws.<region>.ecr.dkr), and a CA it trusts (SSL_CERT_FILE for a \
         proxy that inspects TLS)"
    )]
    Unreachable {
        /// The registry host.
        host: String,
        /// What failed, without the URL.
        reason: String,
    },
    /// An answer a registry that checks Docker logins would not give.
    #[error(
        "the registry {host} answered the login check unexpectedly ({what}); it may not be \
         an ECR registry, or something between the function and it answered instead"
    )]
    Unexpected {
        /// The registry host.
        host: String,
        /// What it answered.
        what: String,
    },
}

/// Whether a registry accepts a login, asked as Docker asks it.
#[async_trait]
pub trait LoginCheck: std::fmt::Debug + Send + Sync {
    /// `Ok` when `host` accepts `username` and `password`. The password goes to `host`
    /// and nowhere else.
    async fn check(
        &self,
        host: &str,
        username: &str,
        password: &SecretString,
    ) -> Result<(), LoginCheckError>;
}

/// What the check of the login stored before this run's write found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredLogin {
    /// The registry accepted it.
    pub accepted: bool,
    /// When it was written plus the lifetime this run states for a login from the same
    /// principal (ECR's 12 hours, or less: a pull role's session), RFC 3339; absent when
    /// the store does not say when it was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stated_expiry: Option<String>,
    /// Refused while its stated expiry was still ahead.
    pub died_early: bool,
    /// Why the registry's answer could not tell (unreachable, unexpected answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl StoredLogin {
    /// From the check's result, when the value was written, how long a login from the
    /// same principal is stated to last (the fresh one's), and now.
    pub fn judge(
        result: Result<(), LoginCheckError>,
        written_at: Option<SystemTime>,
        lifetime: Duration,
        now: SystemTime,
    ) -> Self {
        let expiry = written_at.map(|at| at + lifetime.min(TOKEN_VALIDITY));
        let (accepted, rejected, error) = match result {
            Ok(()) => (true, false, None),
            Err(LoginCheckError::Rejected { .. }) => (false, true, None),
            Err(other) => (false, false, Some(other.to_string())),
        };
        Self {
            accepted,
            stated_expiry: expiry.and_then(rfc3339),
            died_early: rejected && expiry.is_some_and(|at| now < at),
            error,
        }
    }
}

/// A login as stored, to be checked before it is replaced.
#[derive(Debug)]
pub(crate) struct Stored {
    pub(crate) username: String,
    pub(crate) password: SecretString,
    pub(crate) written_at: Option<SystemTime>,
}

/// The login in `current` when it is a Docker connection Airflow would read for `host`,
/// an ECR registry, the one the fresh login is for: a stored password is only ever sent
/// to the ECR host it is stored with, and only when this run writes that host.
pub(crate) fn stored_for(current: &Current, aliases: &Aliases, host: &str) -> Option<Stored> {
    let Current::Text {
        value, written_at, ..
    } = current
    else {
        return None;
    };
    let view = aliases.view(value.expose_secret()).ok()?;
    let stored_host = RegistryHost::of_existing(view.host.as_deref()?)?;
    let same = view.conn_type.as_deref() == Some("docker") && stored_host.as_str() == host;
    let username = view.login.filter(|l| !l.is_empty())?;
    let password = view.password.filter(|p| !p.is_empty())?;
    same.then(|| Stored {
        username,
        password: SecretString::from(password),
        written_at: *written_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_stored_login_refused_inside_its_twelve_hours_died_early() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let refused = || {
            Err(LoginCheckError::Rejected {
                host: "h".into(),
                status: 401,
            })
        };
        let young = StoredLogin::judge(refused(), Some(now - HOUR), TOKEN_VALIDITY, now);
        assert!(young.died_early && !young.accepted);
        assert_eq!(young.stated_expiry, rfc3339(now + 11 * HOUR));
        let old = StoredLogin::judge(refused(), Some(now - 13 * HOUR), TOKEN_VALIDITY, now);
        assert!(!old.died_early);
        let unknown = StoredLogin::judge(refused(), None, TOKEN_VALIDITY, now);
        assert!(!unknown.died_early && unknown.stated_expiry.is_none());
        let fine = StoredLogin::judge(Ok(()), Some(now - HOUR), TOKEN_VALIDITY, now);
        assert!(fine.accepted && !fine.died_early);
        let unreachable = Err(LoginCheckError::Unreachable {
            host: "h".into(),
            reason: "timed out".into(),
        });
        let unsure = StoredLogin::judge(unreachable, Some(now - HOUR), TOKEN_VALIDITY, now);
        assert!(!unsure.accepted && !unsure.died_early);
        assert!(unsure.error.is_some_and(|e| e.contains("timed out")));
        // A pull role's login is stated to last its session: refused two hours after it
        // was written, it did not die early.
        let role = StoredLogin::judge(refused(), Some(now - 2 * HOUR), HOUR, now);
        assert!(!role.died_early);
        assert_eq!(role.stated_expiry, rfc3339(now - HOUR));
    }

    #[test]
    fn only_a_docker_login_for_the_same_ecr_host_is_checked() {
        let host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
        let text = |value: &str| Current::Text {
            value: SecretString::from(value.to_owned()),
            version_id: "v1".into(),
            written_at: None,
        };
        let aliases = Aliases::default();
        let docker =
            format!(r#"{{"conn_type":"docker","host":"{host}","login":"AWS","password":"pw"}}"#);
        let found = stored_for(&text(&docker), &aliases, host).unwrap();
        assert_eq!(
            (found.username.as_str(), found.password.expose_secret()),
            ("AWS", "pw")
        );
        let uri = format!("docker://AWS:p%2Fw@https%3A%2F%2F{host}");
        let found = stored_for(&text(&uri), &aliases, host).unwrap();
        assert_eq!(found.password.expose_secret(), "p/w");
        for other in [
            docker.replace("123456789012", "210987654321"),
            docker.replace(host, "registry.example.com"),
            docker.replace("docker", "postgres"),
            docker.replace("\"pw\"", "\"\""),
        ] {
            assert!(
                stored_for(&text(&other), &aliases, host).is_none(),
                "{other}"
            );
        }
        // Never to a host that is not ECR's, even when the run writes that host.
        let example = docker.replace(host, "registry.example.com");
        assert!(stored_for(&text(&example), &aliases, "registry.example.com").is_none());
        assert!(stored_for(&Current::Missing, &aliases, host).is_none());
    }
}
