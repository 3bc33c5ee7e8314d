//! An in-memory `TokenSource`: tokens for any region, roles that may be refused, images
//! that exist or not, every call recorded.

use crate::aws_error::{AwsError, ErrorKind};
use crate::ecr::{EcrError, PullCheckError, RegionToken};
use crate::pull::{ImageRef, RoleArn};
use crate::roles::RoleError;
use crate::target::Region;
use crate::token::RegistryLogin;
use crate::tokens::{RoleCredentials, TokenSource};
use futures::future::{BoxFuture, ready};
use secrecy::SecretString;
use std::collections::BTreeSet;
use std::sync::Mutex;

/// Tokens for `<account>.dkr.ecr.<region>.amazonaws.com`, one password for every region;
/// roles may be refused; images exist or not. Every call is recorded.
#[derive(Debug)]
pub struct MemoryTokens {
    pub account: String,
    pub password: String,
    pub refused_roles: BTreeSet<String>,
    pub images: BTreeSet<String>,
    calls: Mutex<Vec<String>>,
}

impl MemoryTokens {
    pub fn new(account: &str, password: &str) -> Self {
        Self {
            account: account.into(),
            password: password.into(),
            refused_roles: BTreeSet::new(),
            images: BTreeSet::new(),
            calls: Mutex::default(),
        }
    }

    /// `assume <role>`, `token <region> as <key id or "function">`, `pull <image> as ...`.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn record(&self, call: String) {
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(call);
    }
}

fn principal(as_role: Option<&RoleCredentials>) -> &str {
    as_role.map_or("function", |r| r.access_key_id.as_str())
}

impl TokenSource for MemoryTokens {
    fn assume<'a>(
        &'a self,
        role: &'a RoleArn,
    ) -> BoxFuture<'a, Result<RoleCredentials, RoleError>> {
        self.record(format!("assume {role}"));
        let result = if self.refused_roles.contains(role.as_str()) {
            Err(RoleError {
                role: role.to_string(),
                source: AwsError::new(
                    "sts:AssumeRole",
                    ErrorKind::AccessDenied,
                    Some("AccessDenied"),
                    None,
                ),
            })
        } else {
            Ok(RoleCredentials {
                access_key_id: format!(
                    "ASIA-{}",
                    role.as_str().rsplit('/').next().unwrap_or_default()
                ),
                secret_access_key: SecretString::from("secret".to_owned()),
                session_token: None,
                expires: None,
            })
        };
        Box::pin(ready(result))
    }

    fn token<'a>(
        &'a self,
        region: &'a Region,
        as_role: Option<&'a RoleCredentials>,
    ) -> BoxFuture<'a, Result<RegionToken, EcrError>> {
        self.record(format!("token {region} as {}", principal(as_role)));
        Box::pin(ready(Ok(RegionToken {
            endpoint_host: format!("{}.dkr.ecr.{region}.amazonaws.com", self.account),
            login: RegistryLogin {
                username: "AWS".into(),
                password: SecretString::from(self.password.clone()),
            },
            expires_at: None,
            credentials_expire: as_role.and_then(|r| r.expires),
        })))
    }

    fn check_pull<'a>(
        &'a self,
        _region: &'a Region,
        as_role: Option<&'a RoleCredentials>,
        _registry_id: &'a str,
        image: &'a ImageRef,
    ) -> BoxFuture<'a, Result<(), PullCheckError>> {
        self.record(format!("pull {image} as {}", principal(as_role)));
        let result = if self.images.contains(&image.to_string()) {
            Ok(())
        } else {
            Err(PullCheckError::Missing {
                image: image.to_string(),
                reason: "ImageNotFound".into(),
            })
        };
        Box::pin(ready(result))
    }
}
