//! A configuration problem, naming the variable and what to put there.

/// A configuration problem, naming the variable and what to put there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable (or CLI option) that is wrong.
    pub variable: &'static str,
    /// What is wrong with it and what to put there instead.
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}
