//! In-memory implementations of the two seams, for tests of the whole refresh flow without
//! moto or SDK mocks (and for anyone embedding the library). They keep the AWS behaviours
//! the flow relies on: a create on a taken name is refused, a repeated request token is a
//! no-op, every write is recorded with when it was made.

use crate::aws_error::{AwsError, ErrorKind};
use crate::ecr::{EcrError, PullCheckError, RegionToken};
use crate::pull::{ImageRef, RoleArn};
use crate::roles::RoleError;
use crate::store::{Current, Store, Write};
use crate::target::Region;
use crate::token::RegistryLogin;
use crate::tokens::{RoleCredentials, TokenSource};
use futures::future::{BoxFuture, ready};
use secrecy::{ExposeSecret, SecretString};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Text {
        value: String,
        version: usize,
    },
    Binary,
    /// Created without a value.
    Valueless,
}

/// One write the store accepted (or deduplicated).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub name: String,
    pub request_token: String,
    pub at: Instant,
}

#[derive(Debug, Default)]
struct StoreState {
    values: BTreeMap<String, Stored>,
    managed: BTreeSet<String>,
    tokens: HashMap<String, String>,
    writes: Vec<Recorded>,
    /// Names whose writes fail with this error.
    failing: HashMap<String, AwsError>,
    /// A value someone else creates under this name just before our create.
    raced: HashMap<String, Stored>,
    /// Creates that land but answer "exists": a retry after a lost answer, in a store
    /// without request tokens (Parameter Store).
    lost_answers: BTreeSet<String>,
}

#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<StoreState>,
    writes_per_second: usize,
    value_limit: usize,
}

impl MemoryStore {
    pub fn new(writes_per_second: usize, value_limit: usize) -> Self {
        Self {
            state: Mutex::default(),
            writes_per_second,
            value_limit,
        }
    }

    fn lock(&self) -> MutexGuard<'_, StoreState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn put_text(&self, name: &str, value: &str) {
        self.lock().values.insert(
            name.into(),
            Stored::Text {
                value: value.into(),
                version: 1,
            },
        );
    }

    pub fn put(&self, name: &str, stored: Stored) {
        self.lock().values.insert(name.into(), stored);
    }

    pub fn tag(&self, name: &str) {
        self.lock().managed.insert(name.into());
    }

    pub fn fail_writes(&self, name: &str, error: AwsError) {
        self.lock().failing.insert(name.into(), error);
    }

    /// Someone else creates `name` between our read and our create.
    pub fn race_create(&self, name: &str, stored: Stored) {
        self.lock().raced.insert(name.into(), stored);
    }

    /// Our create of `name` lands, but its answer is lost and the retry finds it taken.
    pub fn lose_create_answer(&self, name: &str) {
        self.lock().lost_answers.insert(name.into());
    }

    pub fn get(&self, name: &str) -> Option<Stored> {
        self.lock().values.get(name).cloned()
    }

    pub fn text(&self, name: &str) -> Option<String> {
        match self.get(name) {
            Some(Stored::Text { value, .. }) => Some(value),
            _ => None,
        }
    }

    pub fn writes(&self) -> Vec<Recorded> {
        self.lock().writes.clone()
    }

    fn write(&self, write: &Write<'_>, create: bool) -> Result<(), AwsError> {
        let action = if create {
            "store:Create"
        } else {
            "store:Update"
        };
        let mut state = self.lock();
        if let Some(error) = state.failing.get(write.name) {
            return Err(error.clone());
        }
        state.writes.push(Recorded {
            name: write.name.into(),
            request_token: write.request_token.into(),
            at: Instant::now(),
        });
        if state.tokens.get(write.name).map(String::as_str) == Some(write.request_token) {
            return Ok(()); // the same request again: a no-op, as AWS does
        }
        if create {
            if let Some(theirs) = state.raced.remove(write.name) {
                state.values.insert(write.name.into(), theirs);
            }
            if state.values.contains_key(write.name) {
                return Err(AwsError::new(
                    action,
                    ErrorKind::Exists,
                    Some("ResourceExistsException"),
                    None,
                ));
            }
            state.managed.insert(write.name.into());
        } else if !state.values.contains_key(write.name) {
            return Err(AwsError::new(
                action,
                ErrorKind::Other,
                Some("ResourceNotFoundException"),
                None,
            ));
        }
        let version = match state.values.get(write.name) {
            Some(Stored::Text { version, .. }) => version + 1,
            _ => 1,
        };
        let value = write.value.expose_secret().to_owned();
        state
            .values
            .insert(write.name.into(), Stored::Text { value, version });
        state
            .tokens
            .insert(write.name.into(), write.request_token.into());
        if create && state.lost_answers.remove(write.name) {
            return Err(AwsError::new(
                action,
                ErrorKind::Exists,
                Some("ParameterAlreadyExists"),
                None,
            ));
        }
        Ok(())
    }
}

impl Store for MemoryStore {
    fn read<'a>(&'a self, names: &'a [String]) -> BoxFuture<'a, Vec<Result<Current, AwsError>>> {
        let state = self.lock();
        let read = names
            .iter()
            .map(|name| {
                Ok(match state.values.get(name) {
                    None | Some(Stored::Valueless) => Current::Missing,
                    Some(Stored::Binary) => Current::Binary,
                    Some(Stored::Text { value, version }) => Current::Text {
                        value: SecretString::from(value.clone()),
                        version_id: format!("v{version}"),
                    },
                })
            })
            .collect();
        Box::pin(ready(read))
    }

    fn is_managed<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, AwsError>> {
        Box::pin(ready(Ok(self.lock().managed.contains(name))))
    }

    fn create<'a>(
        &'a self,
        write: &'a Write<'a>,
        _kms: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(ready(self.write(write, true)))
    }

    fn update<'a>(&'a self, write: &'a Write<'a>) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(ready(self.write(write, false)))
    }

    fn writes_per_second(&self) -> usize {
        self.writes_per_second
    }

    fn value_limit(&self) -> usize {
        self.value_limit
    }
}

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
