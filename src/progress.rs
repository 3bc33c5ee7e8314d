//! What a run has finished so far, kept outside the run's future: when the deadline or a
//! SIGTERM cuts the run short, the report still says which connections were written and
//! which were not, and the metrics still count them.

use crate::report::{Failed, Refreshed};
use crate::target::Target;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// One connection a run set out to refresh and did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfinished {
    pub conn_id: String,
    pub secret_name: String,
}

/// A run's outcomes, in the configured order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcomes {
    pub refreshed: Vec<Refreshed>,
    pub failed: Vec<Failed>,
    /// Started and cut short: each is unchanged, or written whole if its write landed
    /// before the stop (a write is atomic).
    pub unfinished: Vec<Unfinished>,
}

#[derive(Debug, Default)]
struct State {
    targets: Vec<Unfinished>,
    done: Vec<Option<Result<Refreshed, Failed>>>,
}

/// Shared between a run and whoever may stop it; every method takes `&self`.
#[derive(Debug, Default)]
pub struct Progress(Mutex<State>);

impl Progress {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not hide what was written.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The connections this run will refresh, before any is touched.
    pub fn begin(&self, targets: &[Target]) {
        let mut state = self.lock();
        state.targets = targets
            .iter()
            .map(|t| Unfinished {
                conn_id: t.conn_id.to_string(),
                secret_name: t.secret_name.clone(),
            })
            .collect();
        state.done = vec![None; targets.len()];
    }

    /// The `i`th connection (in `begin`'s order) is done.
    pub fn finish(&self, i: usize, outcome: Result<Refreshed, Failed>) {
        if let Some(slot) = self.lock().done.get_mut(i) {
            *slot = Some(outcome);
        }
    }

    /// What is done and what is not, in the configured order.
    pub fn outcomes(&self) -> Outcomes {
        let state = self.lock();
        let mut outcomes = Outcomes::default();
        for (target, done) in state.targets.iter().zip(&state.done) {
            match done {
                Some(Ok(refreshed)) => outcomes.refreshed.push(refreshed.clone()),
                Some(Err(failed)) => outcomes.failed.push(failed.clone()),
                None => outcomes.unfinished.push(target.clone()),
            }
        }
        outcomes
    }
}

impl Outcomes {
    /// Every connection whose new value was written, including those that failed a later
    /// step (the pull check): their tokens are fresh all the same.
    pub fn written(&self) -> impl Iterator<Item = &Refreshed> {
        let failed_after_writing = self.failed.iter().filter_map(|f| f.written.as_ref());
        self.refreshed.iter().chain(failed_after_writing)
    }
}

/// A list of `conn_id (secret)` for a message.
pub struct Named<'a>(pub &'a [Unfinished]);

impl fmt::Display for Named<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, u) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} ({})", u.conn_id, u.secret_name)?;
        }
        Ok(())
    }
}
