//! A store that runs a hook before each write: another writer slipping in between the
//! run's re-read and its write (the window no store can close), or a write that never
//! answers.

use async_trait::async_trait;
use futures::future::BoxFuture;
use refresher_core::aws_error::AwsError;
use refresher_core::store::{Current, Landed, Store, Write};
use std::sync::{Arc, Mutex};

/// Another writer's write, run once.
pub type Hook = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;
type BeforeWrite = Box<dyn Fn(&str) -> BoxFuture<'static, ()> + Send + Sync>;

pub struct Intercepted {
    inner: Arc<dyn Store>,
    before_write: BeforeWrite,
}

impl Intercepted {
    /// `hook` runs once, before the first write.
    pub fn once(inner: Arc<dyn Store>, hook: Hook) -> Self {
        let hook = Mutex::new(Some(hook));
        let before_write: BeforeWrite = Box::new(move |_| match hook.lock().unwrap().take() {
            Some(hook) => hook(),
            None => Box::pin(async {}),
        });
        Self {
            inner,
            before_write,
        }
    }

    /// Writes to `name` never answer.
    pub fn hanging(inner: Arc<dyn Store>, name: &'static str) -> Self {
        let before_write: BeforeWrite = Box::new(move |written| {
            if written == name {
                Box::pin(std::future::pending())
            } else {
                Box::pin(async {})
            }
        });
        Self {
            inner,
            before_write,
        }
    }
}

impl std::fmt::Debug for Intercepted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Intercepted")
    }
}

#[async_trait]
impl Store for Intercepted {
    async fn read(&self, names: &[String]) -> Vec<Result<Current, AwsError>> {
        self.inner.read(names).await
    }
    async fn reread(&self, name: &str) -> Result<Current, AwsError> {
        self.inner.reread(name).await
    }
    async fn is_managed(&self, name: &str) -> Result<bool, AwsError> {
        self.inner.is_managed(name).await
    }
    async fn create(&self, write: &Write<'_>, kms_key_id: Option<&str>) -> Result<(), AwsError> {
        (self.before_write)(write.name).await;
        self.inner.create(write, kms_key_id).await
    }
    async fn update(&self, write: &Write<'_>) -> Result<Landed, AwsError> {
        (self.before_write)(write.name).await;
        self.inner.update(write).await
    }
    async fn restore(&self, name: &str, theirs: &str, ours: &str) -> Result<(), AwsError> {
        self.inner.restore(name, theirs, ours).await
    }
    fn writes_per_second(&self) -> usize {
        self.inner.writes_per_second()
    }
    fn value_limit(&self) -> usize {
        self.inner.value_limit()
    }
}
