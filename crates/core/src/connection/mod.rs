//! Airflow connection values, as the amazon provider's secrets backends read them: parse
//! the existing value, change only host, login and password, render it back in its own
//! format. Pure: no I/O, no SDK types. The rules follow Airflow's "Managing Connections"
//! (JSON and URI formats) and the amazon provider's "AWS Secrets Manager Backend" guide:
//! <https://airflow.apache.org/docs/apache-airflow/stable/howto/connection.html>,
//! <https://airflow.apache.org/docs/apache-airflow-providers-amazon/stable/secrets-backends/aws-secrets-manager.html>.

mod aliases;
mod json;
mod uri;

pub use aliases::Aliases;

use crate::login::Login;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::str::FromStr;

/// The format of a secret this function creates; existing secrets keep their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretFormat {
    /// A JSON object with Airflow's connection keys, the default.
    #[default]
    Json,
    /// A connection URI, `docker://user:password@host`.
    Uri,
}

impl FromStr for SecretFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "uri" => Ok(Self::Uri),
            other => Err(format!(
                "{other:?} is not a secret format: use \"json\" or \"uri\""
            )),
        }
    }
}

/// A connection as Airflow would see it. Used to check every value before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct AirflowView {
    /// The connection type, `docker` for a Docker connection.
    pub conn_type: Option<String>,
    /// The host; for a Docker connection, the registry.
    pub host: Option<String>,
    /// The login (user name).
    pub login: Option<String>,
    /// The password.
    pub password: Option<String>,
    /// The port, as text.
    pub port: Option<String>,
    /// The `extra` field, as JSON.
    pub extra: Option<Value>,
}

/// Why this function may rewrite an existing secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Its value is a Docker connection (conn_type `docker`, or a `docker://` URI).
    DockerConnection,
    /// It carries this function's `managed-by` tag: whatever it holds is ours to rewrite.
    Managed,
}

/// Whose an existing, loadable connection is, by its value alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// A Docker connection.
    Docker,
    /// Another connection type: a typo'd conn id must never turn it into a Docker login.
    Other(String),
    /// A JSON connection with no conn_type at all.
    Untyped,
}

/// Why an existing secret cannot be updated. Never quotes the secret: it holds a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    /// An empty value.
    #[error("the secret is empty, so it is not an Airflow connection")]
    Empty,
    /// Text that looks like JSON but does not parse.
    #[error("the secret starts with '{{' but is not valid JSON (line {line}, column {column})")]
    BadJson {
        /// The 1-based line where parsing failed.
        line: usize,
        /// The 1-based column where parsing failed.
        column: usize,
    },
    /// JSON that is not an object.
    #[error("the secret is JSON but not an object, so it is not an Airflow connection")]
    NotObject,
    /// A JSON object that is no Airflow connection.
    #[error(
        "the secret is a JSON object with none of Airflow's connection keys (conn_type, host, \
         login, password, ...), so it is not an Airflow connection"
    )]
    NoConnectionKeys,
    /// Neither JSON nor a URI.
    #[error("the secret is neither JSON nor a connection URI of the form conn_type://...")]
    NotUri,
    /// A malformed connection URI; the text says what is wrong.
    #[error("the secret's connection URI is invalid: {0}")]
    BadUri(&'static str),
    /// A `conn_type` that is not a string.
    #[error("Airflow cannot load the secret: its conn_type is not text")]
    ConnTypeNotText,
    /// A port Airflow cannot read as an integer.
    #[error("Airflow cannot load the secret: its port is not an integer")]
    BadPort,
    /// An `extra` Airflow cannot load.
    #[error(
        "Airflow cannot load the secret: its extra is neither a JSON object nor JSON text of one"
    )]
    BadExtra,
    /// A connection of another type, named.
    #[error(
        "the secret is a {0:?} connection, not a Docker one: check the conn_id (this function \
         never turns another connection into a Docker login), or tag the secret \
         managed-by=airflow-ecr-refresher to hand it over"
    )]
    NotDocker(String),
    /// A JSON connection without a `conn_type`.
    #[error(
        "the secret is a JSON connection without a conn_type, so it may not be a Docker \
         connection: add \"conn_type\": \"docker\" to it, or tag the secret \
         managed-by=airflow-ecr-refresher to hand it over"
    )]
    Untyped,
    /// A key Parameter Store's backend cannot load, named.
    #[error(
        "Airflow's Parameter Store backend cannot load the value: it reads JSON with \
         Connection.from_json, which takes only conn_type, description, host, login, \
         password, schema, port and extra, not the key {0:?} (rename it to its field, or \
         remove it)"
    )]
    UnloadableKey(String),
    /// The updated value would not read back as written; names the field that differs.
    #[error("after the update Airflow would not read the new {0}")]
    WouldNotResolve(&'static str),
}

/// The value for a new secret in the chosen format.
pub fn render_new(format: SecretFormat, login: &Login) -> Result<String, ConnectionError> {
    let value = match format {
        SecretFormat::Json => json!({
            "conn_type": "docker",
            "host": &login.host,
            "login": &login.username,
            "password": login.password.expose_secret(),
            "extra": {"reauth": true},
        })
        .to_string(),
        SecretFormat::Uri => format!(
            "docker://{}:{}@{}?reauth=true",
            uri::encode(&login.username),
            uri::encode(login.password.expose_secret()),
            &login.host
        ),
    };
    verified_with(&Aliases::default(), value, login)
}

/// Whose the existing value is. An error when Airflow could not load it at all.
pub fn ownership(existing: &str) -> Result<Ownership, ConnectionError> {
    Aliases::default().ownership(existing)
}

/// `Aliases::update` with Airflow's default keys.
pub fn update(existing: &str, login: &Login, managed: bool) -> Result<String, ConnectionError> {
    Aliases::default().update(existing, login, managed)
}

/// `Aliases::view` with Airflow's default keys.
pub fn airflow_view(value: &str) -> Result<AirflowView, ConnectionError> {
    Aliases::default().view(value)
}

impl Aliases {
    /// Whose the existing value is. An error when Airflow could not load it at all.
    pub fn ownership(&self, existing: &str) -> Result<Ownership, ConnectionError> {
        Ok(match self.view(existing)?.conn_type.as_deref() {
            Some("docker") => Ownership::Docker,
            Some(other) => Ownership::Other(describe_type(other)),
            None => Ownership::Untyped,
        })
    }

    /// The existing value with only its registry host, login and password replaced (and
    /// any port removed), in its own format, with every other key, extra and spelling
    /// kept. `managed` says whether it carries this function's tag.
    pub fn update(
        &self,
        existing: &str,
        login: &Login,
        managed: bool,
    ) -> Result<String, ConnectionError> {
        let claim = match (self.ownership(existing)?, managed) {
            (_, true) => Claim::Managed,
            (Ownership::Docker, false) => Claim::DockerConnection,
            (Ownership::Other(conn_type), false) => {
                return Err(ConnectionError::NotDocker(conn_type));
            }
            (Ownership::Untyped, false) => return Err(ConnectionError::Untyped),
        };
        let value = match Kind::of(existing)? {
            Kind::Json => json::update(json::parse_object(existing, self)?, login, claim, self)?,
            Kind::Uri => uri::update(&uri::split(existing)?, login, claim),
        };
        self.verified(value, login)
    }

    /// Reads a value the way Airflow does, refusing what Airflow could not load.
    pub fn view(&self, value: &str) -> Result<AirflowView, ConnectionError> {
        match Kind::of(value)? {
            Kind::Json => json::view(&json::parse_object(value, self)?, self),
            Kind::Uri => Ok(uri::view(&uri::split(value)?)),
        }
    }
}

/// A conn_type or key for a message: short identifier text only, since a mangled secret
/// could hold anything there.
fn describe_type(conn_type: &str) -> String {
    let plain = conn_type.len() <= 40
        && conn_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'));
    if plain {
        conn_type.to_owned()
    } else {
        "unrecognised".to_owned()
    }
}

/// A value is only written if Airflow would load it and read back exactly the registry
/// address, login and password we meant, as a Docker connection.
fn verified_with(
    aliases: &Aliases,
    value: String,
    login: &Login,
) -> Result<String, ConnectionError> {
    let view = aliases.view(&value)?;
    if view.host.as_deref() != Some(login.host.as_str()) || view.port.is_some() {
        return Err(ConnectionError::WouldNotResolve("registry host"));
    }
    if view.login.as_deref() != Some(login.username.as_str()) {
        return Err(ConnectionError::WouldNotResolve("login"));
    }
    if view.password.as_deref() != Some(login.password.expose_secret()) {
        return Err(ConnectionError::WouldNotResolve("password"));
    }
    if view.conn_type.as_deref() != Some("docker") {
        return Err(ConnectionError::WouldNotResolve("conn_type"));
    }
    Ok(value)
}

impl Aliases {
    fn verified(&self, value: String, login: &Login) -> Result<String, ConnectionError> {
        verified_with(self, value, login)
    }
}

enum Kind {
    Json,
    Uri,
}

impl Kind {
    /// Airflow's rule: a value whose stripped text starts with `{` is JSON, else a URI.
    fn of(value: &str) -> Result<Self, ConnectionError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            Err(ConnectionError::Empty)
        } else if trimmed.starts_with('{') {
            Ok(Self::Json)
        } else {
            Ok(Self::Uri)
        }
    }
}

#[cfg(test)]
mod tests;
