//! In-memory implementations of the core's traits, `Store`, `Logins` and `LoginCheck`, for tests of
//! the whole refresh flow without moto or SDK mocks. They keep the AWS behaviours
//! the flow relies on: a create on a taken name is refused, a repeated request token is a
//! no-op, an update says which version it replaced, reads go out in paced batches, every
//! write and read call is recorded with when it was made, and another writer can be made
//! to get in between a read and a write.

use async_trait::async_trait;
use futures::future::ready;
use refresher_aws::batch::{ReadQuota, read_in_batches};
use refresher_core::aws_error::{AwsError, ErrorKind};
use refresher_core::store::{Current, Landed, Replaced, Store, Write};
use secrecy::{ExposeSecret, SecretString};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use tokio::time::Instant;

mod registry;
mod tokens;
#[allow(unused_imports)] // each test crate uses a different part
pub use registry::MemoryRegistry;
#[allow(unused_imports)]
pub use tokens::MemoryTokens;

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
    /// Values someone else writes under a name just before our re-read of it, or just
    /// before our update of it (after the re-read), in turn.
    before_reread: HashMap<String, Vec<String>>,
    before_update: HashMap<String, Vec<String>>,
    /// Every text version ever written, by name and version, for a restore.
    history: HashMap<(String, usize), String>,
    /// When each batch read call was made.
    read_calls: Vec<Instant>,
    restores: usize,
    /// When each name's current text was written (its version's `CreatedDate`).
    written_at: HashMap<String, std::time::SystemTime>,
}

#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<StoreState>,
    writes_per_second: usize,
    value_limit: usize,
    reads: ReadQuota,
}

impl MemoryStore {
    pub fn new(writes_per_second: usize, value_limit: usize) -> Self {
        Self {
            state: Mutex::default(),
            writes_per_second,
            value_limit,
            reads: ReadQuota {
                batch: 20,
                calls_per_second: 50,
            },
        }
    }

    /// Reads in calls of `quota.batch` names, paced at `quota.calls_per_second`.
    pub fn with_reads(mut self, quota: ReadQuota) -> Self {
        self.reads = quota;
        self
    }

    /// Someone else writes `value` under `name` after the run's read, before its re-read.
    pub fn write_before_reread(&self, name: &str, value: &str) {
        let mut state = self.lock();
        let queue = state.before_reread.entry(name.into()).or_default();
        queue.push(value.into());
    }

    /// Someone else writes `value` under `name` after the run's re-read, just before its
    /// update; called twice, before each of two updates.
    pub fn write_before_update(&self, name: &str, value: &str) {
        let mut state = self.lock();
        let queue = state.before_update.entry(name.into()).or_default();
        queue.push(value.into());
    }

    /// When each read call was made.
    pub fn read_calls(&self) -> Vec<Instant> {
        self.lock().read_calls.clone()
    }

    /// How many times another writer's value was put back.
    pub fn restores(&self) -> usize {
        self.lock().restores
    }

    fn lock(&self) -> MutexGuard<'_, StoreState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A text value at version 1, as if new.
    pub fn put_text(&self, name: &str, value: &str) {
        self.lock().set(name, value, 1);
    }

    /// Makes the current value `ago` old, as if written that long before now.
    pub fn written_ago(&self, name: &str, ago: std::time::Duration) {
        let at = std::time::SystemTime::now() - ago;
        self.lock().written_at.insert(name.into(), at);
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

    fn write(&self, write: &Write<'_>, create: bool) -> Result<Landed, AwsError> {
        let action = if create {
            "store:Create"
        } else {
            "store:Update"
        };
        let mut state = self.lock();
        if let Some(error) = state.failing.get(write.name) {
            return Err(error.clone());
        }
        if !create && let Some(theirs) = state.take(Interpose::Update, write.name) {
            let version = state.version(write.name) + 1;
            state.set(write.name, &theirs, version);
        }
        state.writes.push(Recorded {
            name: write.name.into(),
            request_token: write.request_token.into(),
            at: Instant::now(),
        });
        let before = state.version(write.name);
        let landed = |version: usize| Landed {
            version: format!("v{version}"),
            replaced: match before {
                0 => Replaced::Nothing,
                v => Replaced::Version(format!("v{v}")),
            },
        };
        if state.tokens.get(write.name).map(String::as_str) == Some(write.request_token) {
            return Ok(landed(before)); // the same request again: a no-op, as AWS does
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
        let version = state.version(write.name) + 1;
        state.set(write.name, write.value.expose_secret(), version);
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
        Ok(landed(version))
    }

    fn put_back(&self, name: &str, theirs: &str, ours: &str) -> Result<(), AwsError> {
        let mut state = self.lock();
        let latest = state.version(name);
        if format!("v{latest}") != ours {
            return Ok(()); // a later write is current
        }
        let their_value = theirs
            .strip_prefix('v')
            .and_then(|v| v.parse::<usize>().ok())
            .and_then(|v| state.history.get(&(name.to_owned(), v)).cloned());
        let Some(value) = their_value else {
            let gone = "no such version";
            return Err(AwsError::new(
                "store:Restore",
                ErrorKind::Other,
                None,
                Some(gone),
            ));
        };
        state.set(name, &value, latest + 1);
        state.restores += 1;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum Interpose {
    Reread,
    Update,
}

impl StoreState {
    /// The latest text version of `name`, 0 for none.
    fn version(&self, name: &str) -> usize {
        match self.values.get(name) {
            Some(Stored::Text { version, .. }) => *version,
            _ => 0,
        }
    }

    fn set(&mut self, name: &str, value: &str, version: usize) {
        self.written_at
            .insert(name.to_owned(), std::time::SystemTime::now());
        self.history
            .insert((name.to_owned(), version), value.to_owned());
        let value = value.to_owned();
        self.values
            .insert(name.to_owned(), Stored::Text { value, version });
    }

    /// The next value someone else writes at this point, if any.
    fn take(&mut self, at: Interpose, name: &str) -> Option<String> {
        let queue = match at {
            Interpose::Reread => self.before_reread.get_mut(name)?,
            Interpose::Update => self.before_update.get_mut(name)?,
        };
        (!queue.is_empty()).then(|| queue.remove(0))
    }

    fn current(&self, name: &str) -> Current {
        match self.values.get(name) {
            None | Some(Stored::Valueless) => Current::Missing,
            Some(Stored::Binary) => Current::Binary,
            Some(Stored::Text { value, version }) => Current::Text {
                value: SecretString::from(value.clone()),
                version_id: format!("v{version}"),
                written_at: self.written_at.get(name).copied(),
            },
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn read(&self, names: &[String]) -> Vec<Result<Current, AwsError>> {
        read_in_batches(names, self.reads, move |chunk| {
            let mut state = self.lock();
            state.read_calls.push(Instant::now());
            let read: Vec<_> = chunk.iter().map(|name| Ok(state.current(name))).collect();
            ready(read)
        })
        .await
    }

    async fn reread(&self, name: &str) -> Result<Current, AwsError> {
        let mut state = self.lock();
        if let Some(theirs) = state.take(Interpose::Reread, name) {
            let version = state.version(name) + 1;
            state.set(name, &theirs, version);
        }
        Ok(state.current(name))
    }

    async fn is_managed(&self, name: &str) -> Result<bool, AwsError> {
        Ok(self.lock().managed.contains(name))
    }

    async fn create(&self, write: &Write<'_>, _kms: Option<&str>) -> Result<(), AwsError> {
        self.write(write, true).map(|_| ())
    }

    async fn update(&self, write: &Write<'_>) -> Result<Landed, AwsError> {
        self.write(write, false)
    }

    async fn restore(&self, name: &str, theirs: &str, ours: &str) -> Result<(), AwsError> {
        self.put_back(name, theirs, ours)
    }

    fn writes_per_second(&self) -> usize {
        self.writes_per_second
    }

    fn value_limit(&self) -> usize {
        self.value_limit
    }
}
