//! An in-memory `LoginCheck`: a registry that accepts the passwords it is given, at any
//! host, and records every check (host, user, password) so a test can say what was sent
//! where.

use async_trait::async_trait;
use refresher_core::login_check::{LoginCheck, LoginCheckError};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeSet;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct MemoryRegistry {
    /// Passwords the registry accepts; any other is refused with 401.
    pub accepted: BTreeSet<String>,
    /// Hosts that cannot be reached.
    pub unreachable: BTreeSet<String>,
    checks: Mutex<Vec<(String, String, String)>>,
}

impl MemoryRegistry {
    pub fn accepting(passwords: &[&str]) -> Self {
        Self {
            accepted: passwords.iter().map(|p| (*p).to_owned()).collect(),
            ..Self::default()
        }
    }

    /// Every check, in order: (host, username, password).
    pub fn checks(&self) -> Vec<(String, String, String)> {
        self.checks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[async_trait]
impl LoginCheck for MemoryRegistry {
    async fn check(
        &self,
        host: &str,
        username: &str,
        password: &SecretString,
    ) -> Result<(), LoginCheckError> {
        let password = password.expose_secret().to_owned();
        self.checks.lock().unwrap_or_else(|p| p.into_inner()).push((
            host.to_owned(),
            username.to_owned(),
            password.clone(),
        ));
        if self.unreachable.contains(host) {
            return Err(LoginCheckError::Unreachable {
                host: host.to_owned(),
                reason: "connection refused".into(),
            });
        }
        if self.accepted.contains(&password) {
            Ok(())
        } else {
            Err(LoginCheckError::Rejected {
                host: host.to_owned(),
                status: 401,
            })
        }
    }
}
