//! The pure step of a refresh: from a connection's current value and its new login, the
//! one write to make, or why none may be made. Parse, merge, render, check; no I/O.

use crate::connection::{self, Aliases, DockerLogin, Ownership, SecretFormat};
use crate::failure::TargetFailure;
use crate::report::Action;
use crate::store::Current;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// What the store must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    Create,
    Update,
    /// The name exists without a value (Terraform, CloudFormation and the console create
    /// such secrets): an update gives it its first.
    FirstValue,
}

#[derive(Debug)]
pub struct Planned {
    pub kind: WriteKind,
    pub value: SecretString,
    /// The same write (same name, same base version, same value) gets the same token, so
    /// the store turns a retry into a no-op; a write on top of someone else's newer version
    /// gets a new token and lands.
    pub request_token: String,
}

/// The rules a plan follows, from the configuration and the store.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// The format of values this function creates.
    pub format: SecretFormat,
    /// The store's largest value, in bytes.
    pub value_limit: usize,
    /// The keys the backend reads for each field (`extra_conn_words` included).
    pub aliases: &'a Aliases,
}

/// What is there now, as far as a plan cares.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    pub current: &'a Current,
    /// It carries this function's tag.
    pub managed: bool,
    /// A create found the name taken, and a re-read still found no value.
    pub valueless: bool,
}

pub fn plan(
    name: &str,
    found: Found<'_>,
    login: &DockerLogin,
    rules: Rules<'_>,
) -> Result<Planned, TargetFailure> {
    let (value, version, kind) = match found.current {
        Current::Missing => {
            let kind = if found.valueless {
                WriteKind::FirstValue
            } else {
                WriteKind::Create
            };
            (connection::render_new(rules.format, login)?, None, kind)
        }
        Current::Text { value, version_id } => (
            rules
                .aliases
                .update(value.expose_secret(), login, found.managed)?,
            Some(version_id.as_str()),
            WriteKind::Update,
        ),
        Current::Binary => return Err(TargetFailure::Binary),
        Current::Unencrypted(kind) => return Err(TargetFailure::Unencrypted(kind.clone())),
    };
    if value.len() > rules.value_limit {
        return Err(TargetFailure::TooLarge {
            bytes: value.len(),
            limit: rules.value_limit,
        });
    }
    let value = SecretString::from(value);
    Ok(Planned {
        kind,
        request_token: request_token(name, version, &value),
        value,
    })
}

/// Whether the plan needs the value's tag: only for a value Airflow can load that is not
/// a Docker connection (one extra call, only then).
pub fn needs_tag(current: &Current, aliases: &Aliases) -> bool {
    let Current::Text { value, .. } = current else {
        return false;
    };
    matches!(
        aliases.ownership(value.expose_secret()),
        Ok(Ownership::Other(_) | Ownership::Untyped)
    )
}

impl WriteKind {
    pub fn done(self) -> Action {
        match self {
            Self::Create => Action::Created,
            Self::Update | Self::FirstValue => Action::Updated,
        }
    }

    pub fn dry_run(self) -> Action {
        match self {
            Self::Create => Action::WouldCreate,
            Self::Update | Self::FirstValue => Action::WouldUpdate,
        }
    }
}

fn request_token(name: &str, version: Option<&str>, value: &SecretString) -> String {
    let mut hash = Sha256::new();
    for part in [name, version.unwrap_or("<new>"), value.expose_secret()] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(hash.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::ConnectionError;

    const LOGIN: DockerLogin = DockerLogin {
        host: "123456789012.dkr.ecr.us-east-1.amazonaws.com",
        login: "AWS",
        password: "pw",
    };
    fn rules(aliases: &Aliases) -> Rules<'_> {
        Rules {
            format: SecretFormat::Json,
            value_limit: 65_536,
            aliases,
        }
    }

    fn text(value: &str, version: &str) -> Current {
        Current::Text {
            value: SecretString::from(value.to_owned()),
            version_id: version.into(),
        }
    }

    fn found(current: &Current) -> Found<'_> {
        Found {
            current,
            managed: false,
            valueless: false,
        }
    }

    #[test]
    fn request_tokens_are_stable_per_write_and_change_with_the_base_version() {
        let v = SecretString::from("value".to_owned());
        let t = request_token("n", Some("v1"), &v);
        assert_eq!(t.len(), 64, "Secrets Manager takes 32 to 64 characters");
        assert_eq!(t, request_token("n", Some("v1"), &v));
        assert_ne!(t, request_token("n", Some("v2"), &v));
        assert_ne!(t, request_token("n", None, &v));
        assert_ne!(
            t,
            request_token("n", Some("v1"), &SecretString::from("other".to_owned()))
        );
    }

    #[test]
    fn each_current_state_plans_its_write_or_its_refusal() {
        let aliases = Aliases::default();
        let rules = rules(&aliases);
        let missing = plan("n", found(&Current::Missing), &LOGIN, rules).unwrap();
        assert_eq!(missing.kind, WriteKind::Create);
        let first = Found {
            valueless: true,
            ..found(&Current::Missing)
        };
        assert_eq!(
            plan("n", first, &LOGIN, rules).unwrap().kind,
            WriteKind::FirstValue
        );
        let docker = text(r#"{"conn_type":"docker"}"#, "v1");
        assert_eq!(
            plan("n", found(&docker), &LOGIN, rules).unwrap().kind,
            WriteKind::Update
        );
        assert!(matches!(
            plan("n", found(&Current::Binary), &LOGIN, rules),
            Err(TargetFailure::Binary)
        ));
        let postgres = text("postgresql://a:b@db/x", "v1");
        assert!(matches!(
            plan("n", found(&postgres), &LOGIN, rules),
            Err(TargetFailure::Value(ConnectionError::NotDocker(t))) if t == "postgresql"
        ));
        assert!(needs_tag(&postgres, &aliases));
        assert!(!needs_tag(&docker, &aliases) && !needs_tag(&Current::Missing, &aliases));
        let tiny = Rules {
            value_limit: 10,
            ..rules
        };
        assert!(matches!(
            plan("n", found(&docker), &LOGIN, tiny),
            Err(TargetFailure::TooLarge { limit: 10, .. })
        ));
    }
}
