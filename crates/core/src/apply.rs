//! The writing step of a run: carry out one connection's planned write, once. Neither store
//! has a conditional write, so a change made by someone else since the run's read is caught
//! twice over: the value is read again just before its paced write and re-planned if it
//! changed, and after the write the version it replaced must be the one planned on. When
//! another writer got in between, their version is made current again and the connection
//! re-planned on it, once. A name someone else created since it was read is read again and
//! re-planned, never overwritten blind.

use crate::action::Action;
use crate::aws_error::ErrorKind;
use crate::failure::TargetFailure;
use crate::login::Login;
use crate::plan::{self, Found, Rules, Write, WriteKind};
use crate::store::{self, Current, Landed, Replaced, Store};
use secrecy::ExposeSecret;

/// How this run writes.
#[derive(Debug, Clone, Copy)]
pub struct Apply<'a> {
    pub store: &'a dyn Store,
    pub rules: Rules<'a>,
    pub kms_key_id: Option<&'a str>,
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

/// What one write attempt came to.
enum Attempt {
    Done(Action),
    /// Read again; plan again on this.
    Again(Found),
    /// Another writer's version was replaced, and has been made current again.
    Raced,
}

impl Apply<'_> {
    /// Writes `planned`, made on `state`, and re-plans on what is there when the store
    /// shows another writer got in first.
    pub async fn write(
        &self,
        name: &str,
        login: &Login,
        mut state: Found,
        mut planned: Write,
    ) -> Result<Action, TargetFailure> {
        // The run read every value at its start; this write may come seconds later.
        // A create needs no second look: the store refuses it on a taken name.
        if planned.kind == WriteKind::Update {
            let now = self.reread(name).await?;
            if !now.same_as(&state.current) {
                state = self.state(name, now).await?;
                planned = self.plan(name, &state, login)?;
            }
        }
        let mut raced = false;
        // After a race, whatever stops the connection is reported as following it.
        let wrap = |raced: bool| {
            move |e| match raced {
                true => TargetFailure::Raced(Box::new(e)),
                false => e,
            }
        };
        loop {
            match self
                .attempt(name, &planned, &state)
                .await
                .map_err(wrap(raced))?
            {
                Attempt::Done(action) => return Ok(action),
                Attempt::Again(now) => state = now,
                Attempt::Raced if raced => return Err(TargetFailure::RacedTwice),
                Attempt::Raced => {
                    tracing::warn!(
                        secret_name = %name,
                        "another writer changed the secret between this run's read and its \
                         write; their version was put back as current and the connection is \
                         planned again on it"
                    );
                    raced = true;
                    let now = self.reread(name).await.map_err(wrap(raced))?;
                    state = self.state(name, now).await.map_err(wrap(raced))?;
                }
            }
            planned = self.plan(name, &state, login).map_err(wrap(raced))?;
        }
    }

    fn plan(&self, name: &str, state: &Found, login: &Login) -> Result<Write, TargetFailure> {
        plan::connection_write(name, state, login, self.rules)
    }

    async fn reread(&self, name: &str) -> Result<Current, TargetFailure> {
        self.store.reread(name).await.map_err(TargetFailure::Read)
    }

    async fn state(&self, name: &str, current: Current) -> Result<Found, TargetFailure> {
        Ok(Found {
            managed: managed(self.store, name, &current, self.rules).await?,
            // `Missing` plans a create, which the store refuses on a taken name.
            valueless: false,
            current,
        })
    }

    async fn attempt(
        &self,
        name: &str,
        planned: &Write,
        state: &Found,
    ) -> Result<Attempt, TargetFailure> {
        let write = store::Write {
            name,
            value: &planned.value,
            request_token: &planned.request_token,
        };
        if planned.kind != WriteKind::Create {
            let landed = self
                .store
                .update(&write)
                .await
                .map_err(TargetFailure::Write)?;
            return self
                .check(name, planned.kind.done(), state.current.version(), landed)
                .await;
        }
        match self.store.create(&write, self.kms_key_id).await {
            Ok(()) => Ok(Attempt::Done(Action::Created)),
            Err(e) if e.kind == ErrorKind::Exists => {
                let now = self.reread(name).await?;
                // Our own create, retried after its answer was lost: a store without
                // request tokens (Parameter Store) says "exists" for it.
                if let Current::Text { value, .. } = &now
                    && value.expose_secret() == planned.value.expose_secret()
                {
                    return Ok(Attempt::Done(Action::Created));
                }
                let mut now = self.state(name, now).await?;
                // Still no value to read: the name exists without one.
                now.valueless = matches!(now.current, Current::Missing);
                Ok(Attempt::Again(now))
            }
            Err(e) => Err(TargetFailure::Write(e)),
        }
    }

    /// Whether the write replaced the version it was planned on; if another writer's
    /// version came in between, theirs is made current again.
    async fn check(
        &self,
        name: &str,
        action: Action,
        planned_on: Option<&str>,
        landed: Landed,
    ) -> Result<Attempt, TargetFailure> {
        let theirs = match landed.replaced {
            Replaced::Version(v) if Some(v.as_str()) == planned_on => return done(action),
            // No value before, as planned; or the version planned on lost its value
            // (nothing of anyone's was replaced); or a later write is already current.
            Replaced::Nothing | Replaced::Superseded => return done(action),
            Replaced::Unchecked(source) => {
                return Err(TargetFailure::Unchecked { action, source });
            }
            Replaced::Version(theirs) => theirs,
        };
        self.store
            .restore(name, &theirs, &landed.version)
            .await
            .map_err(|source| TargetFailure::NotRestored { theirs, source })?;
        Ok(Attempt::Raced)
    }
}

fn done(action: Action) -> Result<Attempt, TargetFailure> {
    Ok(Attempt::Done(action))
}
