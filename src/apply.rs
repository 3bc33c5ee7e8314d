//! The writing step of a refresh: perform a connection's planned write once, paced, or
//! only report it in a dry run. A name someone else created since it was read is read
//! again and re-planned, never overwritten blind.

use crate::aws_error::ErrorKind;
use crate::connection::DockerLogin;
use crate::failure::TargetFailure;
use crate::plan::{self, Found, Rules, WriteKind};
use crate::report::Action;
use crate::store::{Current, Store, Write};
use secrecy::ExposeSecret;
use tokio::time::Instant;

/// How this run writes.
#[derive(Debug, Clone, Copy)]
pub struct Apply<'a> {
    pub store: &'a dyn Store,
    pub rules: Rules<'a>,
    pub kms_key_id: Option<&'a str>,
    pub dry_run: bool,
}

/// Whether the value carries this function's tag, asked only when the plan needs it.
pub async fn managed(
    store: &dyn Store,
    name: &str,
    current: &Current,
    rules: Rules<'_>,
) -> Result<bool, TargetFailure> {
    if !plan::needs_tag(current, rules.aliases) {
        return Ok(false);
    }
    store.is_managed(name).await.map_err(TargetFailure::Tags)
}

impl Apply<'_> {
    pub async fn write(
        &self,
        name: &str,
        login: &DockerLogin<'_>,
        mut current: Current,
        mut managed: bool,
        not_before: Instant,
    ) -> Result<Action, TargetFailure> {
        let mut valueless = false;
        loop {
            let found = Found {
                current: &current,
                managed,
                valueless,
            };
            let planned = plan::plan(name, found, login, self.rules)?;
            if self.dry_run {
                return Ok(planned.kind.dry_run());
            }
            tokio::time::sleep_until(not_before).await;
            let write = Write {
                name,
                value: &planned.value,
                request_token: &planned.request_token,
            };
            if planned.kind != WriteKind::Create {
                self.store
                    .update(&write)
                    .await
                    .map_err(TargetFailure::Write)?;
                return Ok(planned.kind.done());
            }
            match self.store.create(&write, self.kms_key_id).await {
                Ok(()) => return Ok(Action::Created),
                Err(e) if e.kind == ErrorKind::Exists => {
                    let now = self
                        .store
                        .read(&[name.to_owned()])
                        .await
                        .pop()
                        .unwrap_or_else(|| Err(e.clone()))
                        .map_err(TargetFailure::Read)?;
                    // Our own create, retried after its answer was lost: a store without
                    // request tokens (Parameter Store) says "exists" for it.
                    if let Current::Text { value, .. } = &now
                        && value.expose_secret() == planned.value.expose_secret()
                    {
                        return Ok(Action::Created);
                    }
                    // Still no value to read: the name exists without one.
                    valueless = matches!(now, Current::Missing);
                    managed = self::managed(self.store, name, &now, self.rules).await?;
                    current = now;
                }
                Err(e) => return Err(TargetFailure::Write(e)),
            }
        }
    }
}
