//! The login check over HTTPS, as Docker logs in (Docker Registry HTTP API V2, "API Version
//! Check"): `GET https://<host>/v2/` without credentials, expecting 401 with
//! `WWW-Authenticate: Basic realm=...` (ECR's challenge), then the same request with the
//! login as HTTP Basic; 200 proves it. Through `https::client()`: the proxy named by
//! `HTTPS_PROXY`, the platform's CAs, no redirects (the password goes to `host` only).

use crate::https;
use async_trait::async_trait;
use refresher_core::login_check::{LoginCheck, LoginCheckError};
use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use secrecy::{ExposeSecret, SecretString};

/// Registries reached over HTTPS, with the process's one client (`https::shared`).
#[derive(Debug, Default)]
pub struct Registries;

#[async_trait]
impl LoginCheck for Registries {
    async fn check(
        &self,
        host: &str,
        username: &str,
        password: &SecretString,
    ) -> Result<(), LoginCheckError> {
        let unreachable = |reason: String| LoginCheckError::Unreachable {
            host: host.to_owned(),
            reason,
        };
        let unexpected = |what: String| LoginCheckError::Unexpected {
            host: host.to_owned(),
            what,
        };
        let client = https::shared().map_err(unreachable)?;
        let url = version_check_url(host).ok_or_else(|| unexpected("not a host name".into()))?;
        // First without credentials: the password is sent only after the registry has
        // asked for a Basic login, as Docker's client does.
        let challenge = client.get(url.clone()).send().await;
        let challenge = challenge.map_err(|e| unreachable(https::describe(e)))?;
        let status = challenge.status();
        let scheme = challenge
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_whitespace().next())
            .map(str::to_ascii_lowercase);
        match (status, scheme.as_deref()) {
            (StatusCode::UNAUTHORIZED, Some("basic")) => {}
            // ECR always asks for a login; a registry that does not proves nothing.
            (StatusCode::OK, _) => return Err(unexpected("200 without a login".into())),
            (StatusCode::UNAUTHORIZED, other) => {
                return Err(unexpected(format!(
                    "401 with a {} challenge, not ECR's Basic",
                    other.unwrap_or("missing")
                )));
            }
            (status, _) => return Err(unexpected(format!("HTTP {}", status.as_u16()))),
        }
        let answer = client
            .get(url)
            .basic_auth(username, Some(password.expose_secret()))
            .send()
            .await
            .map_err(|e| unreachable(https::describe(e)))?;
        match answer.status() {
            StatusCode::OK => Ok(()),
            status @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => {
                Err(LoginCheckError::Rejected {
                    host: host.to_owned(),
                    status: status.as_u16(),
                })
            }
            status => Err(unexpected(format!("HTTP {} to the login", status.as_u16()))),
        }
    }
}

/// `https://<host>/v2/`, only when `host` is a bare host name: no user info, port or path
/// could smuggle the request elsewhere.
fn version_check_url(host: &str) -> Option<reqwest::Url> {
    let plain = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let url = reqwest::Url::parse(&format!("https://{host}/v2/")).ok()?;
    (plain && url.host_str() == Some(host) && url.port().is_none()).then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bare_host_gets_a_url() {
        let host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
        assert_eq!(
            version_check_url(host).map(String::from).as_deref(),
            Some("https://123456789012.dkr.ecr.us-east-1.amazonaws.com/v2/")
        );
        for bad in ["", "a@b.com", "b.com:8443", "b.com/x", "evil.com#", "a b"] {
            assert!(version_check_url(bad).is_none(), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_registry_is_named_without_its_url() {
        let err = Registries
            .check("127.0.0.1", "AWS", &SecretString::from("pw".to_owned()))
            .await
            .unwrap_err();
        let LoginCheckError::Unreachable { host, reason } = &err else {
            panic!("{err}");
        };
        assert_eq!(host, "127.0.0.1");
        assert!(!reason.contains("/v2/"), "{reason}");
    }
}
