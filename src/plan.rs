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
        Current::Unencrypted { kind, value } => {
            return Err(unencrypted(
                kind,
                value.as_ref(),
                found.managed,
                rules.aliases,
            ));
        }
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
    let value = match current {
        Current::Text { value, .. } => value,
        Current::Unencrypted {
            value: Some(value), ..
        } => value,
        _ => return false,
    };
    matches!(
        aliases.ownership(value.expose_secret()),
        Ok(Ownership::Other(_) | Ownership::Untyped)
    )
}

/// A plain-text parameter is never written (the password would be stored unencrypted),
/// but whose it is comes first: recreating it as a SecureString is advice for a Docker
/// connection (or one handed over by its tag) only; anything else is most likely named by
/// a mistyped conn id, and must never be deleted on our word.
fn unencrypted(
    kind: &str,
    value: Option<&SecretString>,
    managed: bool,
    aliases: &Aliases,
) -> TargetFailure {
    let holds = match value.map(|v| aliases.ownership(v.expose_secret())) {
        _ if managed => return TargetFailure::Unencrypted(kind.to_owned()),
        Some(Ok(Ownership::Docker)) => return TargetFailure::Unencrypted(kind.to_owned()),
        Some(Ok(Ownership::Other(conn_type))) => format!("a {conn_type:?} connection"),
        Some(Ok(Ownership::Untyped)) => "a JSON connection without a conn_type".to_owned(),
        Some(Err(e)) => format!("a value Airflow cannot load as a connection ({e})"),
        None => "no value".to_owned(),
    };
    TargetFailure::NotDockerParameter {
        kind: kind.to_owned(),
        holds,
    }
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

    #[test]
    fn a_plain_text_parameter_is_judged_by_whose_it_is_before_its_type() {
        let aliases = Aliases::from_json_only();
        let rules = rules(&aliases);
        let plain = |kind: &str, value: &str| Current::Unencrypted {
            kind: kind.into(),
            value: Some(SecretString::from(value.to_owned())),
        };
        let postgres = plain("String", "postgresql://app:dbpass@db.example.com:5432/app");
        let err = plan("n", found(&postgres), &LOGIN, rules).unwrap_err();
        assert_eq!(
            err,
            TargetFailure::NotDockerParameter {
                kind: "String".into(),
                holds: "a \"postgresql\" connection".into()
            }
        );
        let message = err.to_string();
        assert!(message.contains("check the conn_id"), "{message}");
        assert!(
            !message.contains("delete") && !message.contains("dbpass"),
            "{message}"
        );
        assert!(needs_tag(&postgres, &aliases), "a handed-over one is ours");
        let handed_over = Found {
            managed: true,
            ..found(&postgres)
        };
        assert_eq!(
            plan("n", handed_over, &LOGIN, rules).unwrap_err(),
            TargetFailure::Unencrypted("String".into())
        );

        let docker = plain("StringList", r#"{"conn_type":"docker","host":"h"}"#);
        let err = plan("n", found(&docker), &LOGIN, rules).unwrap_err();
        assert_eq!(err, TargetFailure::Unencrypted("StringList".into()));
        assert!(err.to_string().contains("recreate it as a SecureString"));
        assert!(!needs_tag(&docker, &aliases));

        for (value, holds) in [
            (
                r#"{"host":"h","login":"u","password":"p"}"#,
                "a JSON connection without a conn_type",
            ),
            (
                "a,b,c",
                "a value Airflow cannot load as a connection (the secret is neither",
            ),
        ] {
            let err = plan("n", found(&plain("String", value)), &LOGIN, rules).unwrap_err();
            let TargetFailure::NotDockerParameter { holds: said, .. } = &err else {
                panic!("{err:?}")
            };
            assert!(said.starts_with(holds), "{said}");
        }
    }
}
