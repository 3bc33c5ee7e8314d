//! What a run does, or would do, to one connection's value.

use serde::Serialize;

/// What was done to a connection's value, as the response and logs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The value did not exist and was created.
    Created,
    /// An existing value got a new version.
    Updated,
    /// Dry run: the value does not exist and would be created.
    WouldCreate,
    /// Dry run: the existing value would get a new version.
    WouldUpdate,
}

impl Action {
    /// The snake_case name the response and logs use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::WouldCreate => "would_create",
            Self::WouldUpdate => "would_update",
        }
    }

    /// What became of the value when a step after the write failed.
    pub fn written_note(self) -> String {
        match self {
            Self::WouldCreate | Self::WouldUpdate => {
                format!(
                    "dry run: nothing was written; it {}",
                    self.as_str().replace('_', " ")
                )
            }
            Self::Created | Self::Updated => format!(
                "the secret was still written, {}: a fresh token is never worse than an expiring one",
                self.as_str()
            ),
        }
    }
}
