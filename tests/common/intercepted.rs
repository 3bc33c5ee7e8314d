//! A store that runs a hook before each write: another writer slipping in between the
//! run's re-read and its write (the window no store can close), or a write that never
//! answers.

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

impl Store for Intercepted {
    fn read<'a>(&'a self, names: &'a [String]) -> BoxFuture<'a, Vec<Result<Current, AwsError>>> {
        self.inner.read(names)
    }
    fn reread<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Current, AwsError>> {
        self.inner.reread(name)
    }
    fn is_managed<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<bool, AwsError>> {
        self.inner.is_managed(name)
    }
    fn create<'a>(
        &'a self,
        write: &'a Write<'a>,
        kms_key_id: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            (self.before_write)(write.name).await;
            self.inner.create(write, kms_key_id).await
        })
    }
    fn update<'a>(&'a self, write: &'a Write<'a>) -> BoxFuture<'a, Result<Landed, AwsError>> {
        Box::pin(async move {
            (self.before_write)(write.name).await;
            self.inner.update(write).await
        })
    }
    fn restore<'a>(
        &'a self,
        name: &'a str,
        theirs: &'a str,
        ours: &'a str,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        self.inner.restore(name, theirs, ours)
    }
    fn writes_per_second(&self) -> usize {
        self.inner.writes_per_second()
    }
    fn value_limit(&self) -> usize {
        self.inner.value_limit()
    }
}
