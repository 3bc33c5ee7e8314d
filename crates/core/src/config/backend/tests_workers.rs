//! Airflow 3's worker settings: which backend and kwargs a worker uses (airflow-core and
//! task-sdk `_get_custom_secret_backend(worker_mode=True)`), the per-key kwarg variables
//! (apache/airflow#63312) and `[core] multi_team` (apache/airflow#71078).

use super::*;
use crate::target::{Region, TargetError, TargetSpec};

const SM: &str = SECRETS_MANAGER;
const PS: &str = PARAMETER_STORE;
const SECRETS_KEY: &str = "AIRFLOW__SECRETS__BACKEND_KWARG__";
const WORKERS_KEY: &str = "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARG__";

fn env(vars: &[(&str, &str)]) -> Result<AirflowBackend, ConfigError> {
    let vars = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    AirflowBackend::from_vars(&vars)
}

fn prefix(vars: &[(&str, &str)]) -> String {
    env(vars).unwrap().naming.prefix
}

fn key(prefix: &str, key: &str) -> String {
    format!("{prefix}{key}")
}

#[test]
fn a_workers_backend_comes_with_its_own_kwargs_only() {
    let b = env(&[
        (WORKERS_BACKEND, PS),
        (WORKERS_KWARGS, r#"{"connections_prefix": "/workers"}"#),
        (BACKEND, SM),
        (KWARGS, r#"{"connections_prefix": "secrets"}"#),
    ])
    .unwrap();
    assert_eq!(b.store, StoreKind::ParameterStore);
    assert_eq!(b.naming.prefix, "/workers");
    // The workers' class without workers' kwargs: no kwargs at all, not [secrets]'.
    assert_eq!(
        prefix(&[
            (WORKERS_BACKEND, SM),
            (KWARGS, r#"{"connections_prefix": "secrets"}"#)
        ]),
        DEFAULT_PREFIX
    );
}

#[test]
fn without_a_workers_class_the_secrets_pair_is_used() {
    let secrets = (KWARGS, r#"{"connections_prefix": "secrets"}"#);
    let workers_kwargs = (WORKERS_KWARGS, r#"{"connections_prefix": "workers"}"#);
    assert_eq!(prefix(&[secrets, workers_kwargs]), "secrets");
    assert_eq!(
        prefix(&[workers_kwargs]),
        DEFAULT_PREFIX,
        "workers' kwargs alone are not used"
    );
    // An empty class is no class (`getimport` returns None for it).
    assert_eq!(
        prefix(&[(WORKERS_BACKEND, ""), secrets, workers_kwargs]),
        "secrets"
    );
    let b = env(&[(WORKERS_BACKEND, " "), (BACKEND, PS)]).unwrap();
    assert_eq!(b.store, StoreKind::ParameterStore);
}

#[test]
fn per_key_variables_override_that_key_of_the_chosen_sections_json() {
    let over = key(SECRETS_KEY, "CONNECTIONS_PREFIX");
    let endpoint = key(SECRETS_KEY, "ENDPOINT_URL");
    let b = env(&[
        (
            KWARGS,
            r#"{"connections_prefix": "env_", "sep": "_", "endpoint_url": "http://json"}"#,
        ),
        (&over, "env"),
        (&endpoint, "http://env"),
    ])
    .unwrap();
    assert_eq!(
        (b.naming.prefix.as_str(), b.naming.sep.as_str()),
        ("env", "_"),
        "the JSON's other keys stay; one prefix spelled with and without its separator"
    );
    // Alone, and in any case: the suffix lower-cased is the key.
    let region = key(SECRETS_KEY, "Region_Name");
    let b = env(&[(&region, "eu-west-1")]).unwrap();
    assert_eq!(
        b.region.map(|r| r.to_string()).as_deref(),
        Some("eu-west-1")
    );
    // The workers' per-key variables go with the workers' class, the secrets' with theirs.
    let workers_over = key(WORKERS_KEY, "CONNECTIONS_PREFIX");
    let both = [
        (over.as_str(), "secrets"),
        (workers_over.as_str(), "workers"),
    ];
    assert_eq!(
        prefix(&[&both[..], &[(WORKERS_BACKEND, SM)]].concat()),
        "workers"
    );
    assert_eq!(prefix(&[&both[..], &[(BACKEND, SM)]].concat()), "secrets");
    assert_eq!(prefix(&both), "secrets", "no class set: [secrets]");
    // A bare prefix with no key sets nothing.
    assert_eq!(prefix(&[(SECRETS_KEY, "x")]), DEFAULT_PREFIX);
}

#[test]
fn per_key_values_are_raw_strings_never_json() {
    let over = key(SECRETS_KEY, "CONNECTIONS_PREFIX");
    assert_eq!(prefix(&[(&over, "null")]), "null", "a prefix named null");
    let id = crate::ids::ConnId::try_from("ecr".to_owned()).unwrap();
    assert_eq!(
        env(&[(&over, "")]).unwrap().naming.secret_name(&id, None),
        "ecr",
        "empty: no prefix, as in the JSON"
    );
    let words = key(SECRETS_KEY, "EXTRA_CONN_WORDS");
    let err = env(&[(&words, r#"{"password": ["docker_password"]}"#)]).unwrap_err();
    assert_eq!(
        err.variable,
        "AIRFLOW__SECRETS__BACKEND_KWARG__EXTRA_CONN_WORDS"
    );
    assert!(err.problem.contains("raw string, never JSON"), "{err}");
    assert!(env(&[(&words, "")]).is_ok(), "\"\" or {{}}: no extra words");
}

#[test]
fn errors_name_the_variable_the_value_came_from() {
    // With no workers' class, the workers' per-key variables are not read at all.
    assert!(
        env(&[(
            "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARG__REGION_NAME",
            "nowhere"
        )])
        .is_ok()
    );
    type Vars<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Vars, &str, &str); 6] = [
        (
            &[
                (WORKERS_BACKEND, SM),
                (
                    "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARG__REGION_NAME",
                    "nowhere",
                ),
            ],
            "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARG__REGION_NAME",
            "region_name",
        ),
        (
            &[
                (WORKERS_BACKEND, SM),
                (WORKERS_KWARGS, r#"{"connections_prefix": "a"}"#),
                (
                    "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARG__connections_prefix",
                    "b",
                ),
            ],
            "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARG__CONNECTIONS_PREFIX",
            "\"b\" disagrees with connections_prefix \"a\" in \
             AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS",
        ),
        (
            &[(WORKERS_BACKEND, SM), (WORKERS_KWARGS, "not json")],
            WORKERS_KWARGS,
            "not a JSON object",
        ),
        (
            &[(
                WORKERS_BACKEND,
                "airflow.secrets.local_filesystem.LocalFilesystemBackend",
            )],
            WORKERS_BACKEND,
            "not an AWS secrets backend",
        ),
        (
            &[
                (WORKERS_BACKEND, SM),
                (WORKERS_KWARGS, r#"{"connections_prefix": "a b"}"#),
            ],
            WORKERS_KWARGS,
            "cannot hold",
        ),
        (
            &[
                (
                    "AIRFLOW__SECRETS__BACKEND_KWARG__ROLE_ARN",
                    "arn:aws:iam::123456789012:role/a",
                ),
                (
                    "AIRFLOW__SECRETS__BACKEND_KWARG__role_arn",
                    "arn:aws:iam::123456789012:role/b",
                ),
            ],
            "AIRFLOW__SECRETS__BACKEND_KWARG__ROLE_ARN",
            "both set role_arn, differently",
        ),
    ];
    for (vars, variable, says) in cases {
        let err = env(vars).unwrap_err();
        assert_eq!(err.variable, variable, "{err}");
        assert!(err.problem.contains(says), "{err}");
    }
}

#[test]
fn settings_from_the_environment_see_the_per_key_variables() {
    let vars = [
        ("CONNECTIONS", "docker_ecr"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            "platform",
        ),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let s = crate::config::Settings::from_vars(&vars).unwrap();
    assert_eq!(s.backend.naming.prefix, "platform");
}

#[test]
fn multi_team_is_read_as_airflows_getboolean_reads_it() {
    for (raw, on) in [
        ("True", true),
        ("t", true),
        ("1", true),
        (" TRUE # on ", true),
        ("false", false),
        ("F", false),
        ("0", false),
    ] {
        let b = env(&[(MULTI_TEAM, raw)]).unwrap();
        assert_eq!(b.naming.multi_team, Some(on), "{raw:?}");
    }
    assert_eq!(env(&[]).unwrap().naming.multi_team, None);
    for raw in ["", "yes", "on", "2"] {
        let err = env(&[(MULTI_TEAM, raw)]).unwrap_err();
        assert_eq!(err.variable, MULTI_TEAM);
        assert!(err.problem.contains("not a boolean Airflow reads"), "{err}");
    }
}

#[test]
fn a_double_dash_is_refused_only_in_multi_team_mode() {
    let east = Region::try_from("us-east-1".to_owned()).unwrap();
    let spec = |json: &str| serde_json::from_str::<TargetSpec>(json).unwrap();
    let naming = |multi_team: Option<&str>| {
        let vars: Vec<(&str, &str)> = multi_team.map(|v| (MULTI_TEAM, v)).into_iter().collect();
        env(&vars).unwrap().naming
    };
    let plain = spec(r#"{"conn_id": "aws--prod"}"#);
    for off in [None, Some("False")] {
        assert_eq!(
            plain.resolve(&east, &naming(off)).unwrap().secret_name,
            "airflow/connections/aws--prod",
            "an ordinary conn id outside multi-team mode ({off:?})"
        );
    }
    assert_eq!(
        plain.resolve(&east, &naming(Some("True"))),
        Err(TargetError::TeamConnId("aws--prod".into())),
        "refused by every getter in multi-team mode, team or not"
    );
    // A team implies multi-team mode; said to be off, Airflow never passes the team.
    let team = spec(r#"{"conn_id": "ecr", "team": "ml"}"#);
    for on in [None, Some("true")] {
        assert_eq!(
            team.resolve(&east, &naming(on)).unwrap().secret_name,
            "airflow/connections/ml--ecr"
        );
    }
    assert_eq!(
        team.resolve(&east, &naming(Some("0"))),
        Err(TargetError::TeamOutsideMultiTeam("ecr".into()))
    );
    assert_eq!(
        spec(r#"{"conn_id": "a--b", "team": "ml"}"#).resolve(&east, &naming(None)),
        Err(TargetError::TeamConnId("a--b".into()))
    );
}

#[test]
fn a_team_is_not_written_with_the_workers_own_settings() {
    let east = Region::try_from("us-east-1".to_owned()).unwrap();
    let team: TargetSpec = serde_json::from_str(r#"{"conn_id": "ecr", "team": "ml"}"#).unwrap();
    let workers = env(&[(WORKERS_BACKEND, SM)]).unwrap().naming;
    assert_eq!(
        team.resolve(&east, &workers),
        Err(TargetError::TeamWithWorkersBackend("ecr".into()))
    );
    // [secrets]' settings are the API server's too: a team is written with them.
    let secrets = env(&[(BACKEND, SM), (WORKERS_KWARGS, "{}")])
        .unwrap()
        .naming;
    assert!(team.resolve(&east, &secrets).is_ok());
    let plain = TargetSpec::new(crate::ids::ConnId::try_from("ecr".to_owned()).unwrap());
    assert!(
        plain.resolve(&east, &workers).is_ok(),
        "no team: the worker's"
    );
}
