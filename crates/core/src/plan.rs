//! The pure step of a run: for each connection, from its target, its login and what is
//! there now, what it becomes and why: a create, an update, or a refusal with its reason.
//! Parse, merge, render, check; no I/O. A dry run reports the plan; `apply.rs` carries it
//! out, and re-plans one connection (`connection`) when a write loses a race.

use crate::action::Action;
use crate::connection::{self, Aliases, Ownership, SecretFormat};
use crate::destination::Settled;
use crate::failure::TargetFailure;
use crate::login::{Login, RunLogins};
use crate::store::Current;
use crate::target::Target;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// What a run will do, connection by connection, in the configured order.
#[derive(Debug)]
pub struct Plan {
    pub steps: Vec<Step>,
}

/// One connection's part of a plan.
#[derive(Debug)]
pub struct Step {
    /// As it will be refreshed: its own registry kept, or as configured.
    pub target: Target,
    /// The write, or why none may be made.
    pub decision: Result<Decision, TargetFailure>,
}

/// A write the plan makes, and what it was planned on.
#[derive(Debug)]
pub struct Decision {
    pub login: Login,
    pub found: Found,
    pub write: Write,
}

/// What the store must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    Create,
    Update,
    /// The name exists without a value (Terraform, CloudFormation and the console create
    /// such secrets): an update gives it its first.
    FirstValue,
}

/// A value to write.
#[derive(Debug)]
pub struct Write {
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
#[derive(Debug, Clone)]
pub struct Found {
    pub current: Current,
    /// It carries this function's tag.
    pub managed: bool,
    /// A create found the name taken, and a re-read still found no value.
    pub valueless: bool,
}

/// The plan of a run: each target (as settled against its existing registry, or why it
/// cannot be), its login, and what its value is now (or why it could not be read).
pub fn plan(
    targets: Vec<Settled>,
    logins: &RunLogins,
    current: Vec<Result<Found, TargetFailure>>,
    rules: Rules<'_>,
) -> Plan {
    let steps = targets
        .into_iter()
        .zip(current)
        .map(|(target, found)| {
            let (target, decision) = match target {
                Ok(target) => {
                    let decision = decide(&target, logins, found, rules);
                    (target, decision)
                }
                Err(refused) => {
                    let (target, conflict) = *refused;
                    (target, Err(conflict.into()))
                }
            };
            Step { target, decision }
        })
        .collect();
    Plan { steps }
}

fn decide(
    target: &Target,
    logins: &RunLogins,
    found: Result<Found, TargetFailure>,
    rules: Rules<'_>,
) -> Result<Decision, TargetFailure> {
    let login = logins.get(target)?;
    let found = found?;
    let write = connection_write(&target.secret_name, &found, &login, rules)?;
    Ok(Decision {
        login,
        found,
        write,
    })
}

/// One connection's write: from its current value and its new login, the value to write,
/// or why none may be made.
pub fn connection_write(
    name: &str,
    found: &Found,
    login: &Login,
    rules: Rules<'_>,
) -> Result<Write, TargetFailure> {
    let (value, version, kind) = match &found.current {
        Current::Missing => {
            let kind = if found.valueless {
                WriteKind::FirstValue
            } else {
                WriteKind::Create
            };
            (connection::render_new(rules.format, login)?, None, kind)
        }
        Current::Text {
            value, version_id, ..
        } => (
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
    Ok(Write {
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
    /// What the write is called once done.
    pub fn done(self) -> Action {
        match self {
            Self::Create => Action::Created,
            Self::Update | Self::FirstValue => Action::Updated,
        }
    }

    /// What a dry run says it would do.
    pub fn would(self) -> Action {
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

    use crate::aws_error::{AwsError, ErrorKind};
    use crate::destination::settle_all;
    use crate::ids::Region;
    use crate::login::{LoginError, Logins, PullCheckError, RoleCredentials};
    use crate::naming::Naming;
    use crate::pull::{ImageRef, RoleArn};
    use crate::target::TargetSpec;

    const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

    fn login() -> Login {
        Login {
            host: HOST.into(),
            username: "AWS".into(),
            password: SecretString::from("pw".to_owned()),
            expires: None,
            principal: None,
        }
    }

    /// The one-connection step, as `apply.rs` re-plans it.
    fn plan(name: &str, found: Found, login: &Login, rules: Rules) -> Result<Write, TargetFailure> {
        connection_write(name, &found, login, rules)
    }
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
            written_at: None,
        }
    }

    fn found(current: &Current) -> Found {
        Found {
            current: current.clone(),
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
        let missing = plan("n", found(&Current::Missing), &login(), rules).unwrap();
        assert_eq!(missing.kind, WriteKind::Create);
        let first = Found {
            valueless: true,
            ..found(&Current::Missing)
        };
        assert_eq!(
            plan("n", first, &login(), rules).unwrap().kind,
            WriteKind::FirstValue
        );
        let docker = text(r#"{"conn_type":"docker"}"#, "v1");
        assert_eq!(
            plan("n", found(&docker), &login(), rules).unwrap().kind,
            WriteKind::Update
        );
        assert!(matches!(
            plan("n", found(&Current::Binary), &login(), rules),
            Err(TargetFailure::Binary)
        ));
        let postgres = text("postgresql://a:b@db/x", "v1");
        assert!(matches!(
            plan("n", found(&postgres), &login(), rules),
            Err(TargetFailure::Value(ConnectionError::NotDocker(t))) if t == "postgresql"
        ));
        assert!(needs_tag(&postgres, &aliases));
        assert!(!needs_tag(&docker, &aliases) && !needs_tag(&Current::Missing, &aliases));
        let tiny = Rules {
            value_limit: 10,
            ..rules
        };
        assert!(matches!(
            plan("n", found(&docker), &login(), tiny),
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
        let err = plan("n", found(&postgres), &login(), rules).unwrap_err();
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
            plan("n", handed_over, &login(), rules).unwrap_err(),
            TargetFailure::Unencrypted("String".into())
        );

        let docker = plain("StringList", r#"{"conn_type":"docker","host":"h"}"#);
        let err = plan("n", found(&docker), &login(), rules).unwrap_err();
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
            let err = plan("n", found(&plain("String", value)), &login(), rules).unwrap_err();
            let TargetFailure::NotDockerParameter { holds: said, .. } = &err else {
                panic!("{err:?}")
            };
            assert!(said.starts_with(holds), "{said}");
        }
    }

    /// ECR in us-east-1 for the function itself; a role that cannot be assumed.
    #[derive(Debug)]
    struct Ecr;

    #[async_trait::async_trait]
    impl Logins for Ecr {
        async fn assume(&self, role: &RoleArn) -> Result<RoleCredentials, LoginError> {
            let source = AwsError::new("sts:AssumeRole", ErrorKind::AccessDenied, None, None);
            let role = role.to_string();
            Err(LoginError::Role { role, source })
        }
        async fn login(
            &self,
            region: &Region,
            _: Option<&RoleCredentials>,
        ) -> Result<Login, LoginError> {
            let host = format!("123456789012.dkr.ecr.{region}.amazonaws.com");
            Ok(Login { host, ..login() })
        }
        async fn check_pull(
            &self,
            _: &Region,
            _: Option<&RoleCredentials>,
            _: &str,
            _: &ImageRef,
        ) -> Result<(), PullCheckError> {
            Ok(())
        }
    }

    #[test]
    fn a_run_plans_every_connection_once_each_with_its_write_or_its_reason() {
        let region = Region::try_from("us-east-1".to_owned()).unwrap();
        let naming = Naming::new("airflow/connections", "/", None);
        let targets: Vec<Target> = [
            r#"{"conn_id":"new"}"#,
            r#"{"conn_id":"docker"}"#,
            r#"{"conn_id":"unread"}"#,
            r#"{"conn_id":"kept_elsewhere","region":"us-east-1"}"#,
            r#"{"conn_id":"role","pull_role_arn":"arn:aws:iam::123456789012:role/pull"}"#,
            r#"{"conn_id":"postgres"}"#,
        ]
        .iter()
        .map(|s| {
            serde_json::from_str::<TargetSpec>(s)
                .unwrap()
                .resolve(&region, &naming)
                .unwrap()
        })
        .collect();
        let denied = AwsError::new(
            "secretsmanager:BatchGetSecretValue",
            ErrorKind::AccessDenied,
            None,
            None,
        );
        let current: Vec<Result<Current, AwsError>> = vec![
            Ok(Current::Missing),
            Ok(text(
                r#"{"conn_type":"docker","host":"old.example.com"}"#,
                "v1",
            )),
            Err(denied.clone()),
            Ok(text(
                r#"{"conn_type":"docker","host":"210987654321.dkr.ecr.eu-west-1.amazonaws.com"}"#,
                "v1",
            )),
            Ok(Current::Missing),
            Ok(text("postgresql://app:pw@db/app", "v1")),
        ];
        let aliases = Aliases::default();
        let logins = futures::executor::block_on(RunLogins::fetch(&Ecr, &targets));
        let settled = settle_all(&targets, &current, &aliases, &logins);
        let found = current
            .into_iter()
            .map(|c| {
                c.map(|current| found(&current))
                    .map_err(TargetFailure::Read)
            })
            .collect();

        let plan = super::plan(settled, &logins, found, rules(&aliases));

        let ids: Vec<String> = plan
            .steps
            .iter()
            .map(|s| s.target.conn_id.to_string())
            .collect();
        assert_eq!(
            ids,
            [
                "new",
                "docker",
                "unread",
                "kept_elsewhere",
                "role",
                "postgres"
            ]
        );
        let kinds: Vec<Option<WriteKind>> = plan
            .steps
            .iter()
            .map(|s| s.decision.as_ref().ok().map(|d| d.write.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                Some(WriteKind::Create),
                Some(WriteKind::Update),
                None,
                None,
                None,
                None
            ]
        );
        let new = plan.steps[0].decision.as_ref().unwrap();
        assert_eq!(new.login.host, HOST);
        assert!(new.write.value.expose_secret().contains(HOST));
        assert_eq!(new.write.kind.would(), Action::WouldCreate);
        let reason = |i: usize| plan.steps[i].decision.as_ref().unwrap_err();
        assert_eq!(reason(2), &TargetFailure::Read(denied));
        assert!(
            matches!(reason(3), TargetFailure::Host(_)),
            "{:?}",
            reason(3)
        );
        assert!(
            matches!(reason(4), TargetFailure::Login(LoginError::Role { .. })),
            "{:?}",
            reason(4)
        );
        assert!(
            matches!(
                reason(5),
                TargetFailure::Value(ConnectionError::NotDocker(_))
            ),
            "{:?}",
            reason(5)
        );
    }
}
