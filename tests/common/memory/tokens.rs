//! An in-memory `Logins`: logins for any region, roles that may be refused, images
//! that exist or not, every call recorded.

use async_trait::async_trait;
use base64::Engine;
use refresher_core::aws_error::{AwsError, ErrorKind};
use refresher_core::ids::Region;
use refresher_core::login::{Login, LoginError, Logins, PullCheckError, RoleCredentials};
use refresher_core::pull::{ImageRef, RoleArn};
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

#[async_trait]
impl Logins for MemoryTokens {
    async fn assume(&self, role: &RoleArn) -> Result<RoleCredentials, LoginError> {
        self.record(format!("assume {role}"));
        if self.refused_roles.contains(role.as_str()) {
            Err(LoginError::Role {
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
        }
    }

    async fn login(
        &self,
        region: &Region,
        as_role: Option<&RoleCredentials>,
    ) -> Result<Login, LoginError> {
        self.record(format!("token {region} as {}", principal(as_role)));
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("AWS:{}", self.password));
        let endpoint = format!("https://{}.dkr.ecr.{region}.amazonaws.com", self.account);
        Login::from_authorization(&token, &endpoint, None, as_role).map_err(|source| {
            LoginError::Token {
                region: region.clone(),
                source,
            }
        })
    }

    async fn check_pull(
        &self,
        _region: &Region,
        as_role: Option<&RoleCredentials>,
        _registry_id: &str,
        image: &ImageRef,
    ) -> Result<(), PullCheckError> {
        self.record(format!("pull {image} as {}", principal(as_role)));
        if self.images.contains(&image.to_string()) {
            Ok(())
        } else {
            Err(PullCheckError::Missing {
                image: image.to_string(),
                reason: "ImageNotFound".into(),
            })
        }
    }
}
