//! Reading Airflow's backend settings as the amazon provider's backends read them.

use super::*;

fn read(vars: &[(&str, &str)]) -> Result<AirflowBackend, ConfigError> {
    AirflowBackend::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    })
}

fn kwargs(json: &str) -> Result<AirflowBackend, ConfigError> {
    read(&[(KWARGS, json)])
}

#[test]
fn defaults_are_the_backends_own() {
    let b = read(&[]).unwrap();
    assert_eq!(
        (b.naming.prefix.as_str(), b.naming.sep.as_str()),
        ("airflow/connections", "/")
    );
    assert!(b.region.is_none() && b.role_arn.is_none() && b.naming.lookup.is_none());
    assert_eq!(read(&[(BACKEND, SECRETS_MANAGER)]).unwrap(), b);
}

#[test]
fn backend_kwargs_are_read_as_airflow_reads_them() {
    let b = kwargs(
        r#"{"connections_prefix": "platform/conns_", "sep": "_", "connections_lookup_pattern": "^ecr",
            "extra_conn_words": {"user": ["usr"]}, "region_name": "eu-west-1",
            "role_arn": "arn:aws:iam::123456789012:role/airflow-secrets",
            "variables_prefix": null, "profile_name": "x", "endpoint_url": "http://h"}"#,
    )
    .unwrap();
    assert_eq!(b.naming.prefix, "platform/conns", "rstrip(sep)");
    assert_eq!(b.naming.sep, "_");
    assert_eq!(b.naming.lookup.map(|p| p.source).as_deref(), Some("^ecr"));
    // Python's look-ahead, as MWAA setups skip aws_default.
    let mwaa = kwargs(r#"{"connections_lookup_pattern": "^(?!aws_default$).*$"}"#).unwrap();
    assert!(mwaa.naming.lookup.is_some());
    assert!(b.aliases.login.contains(&"usr".to_owned()));
    assert_eq!(
        b.region.map(|r| r.to_string()).as_deref(),
        Some("eu-west-1")
    );
    assert!(b.role_arn.is_some());
    assert_eq!(
        kwargs(r#"{"connections_prefix": ""}"#)
            .unwrap()
            .naming
            .prefix,
        "",
        "no prefix"
    );
}

#[test]
fn parameter_store_is_read_as_its_backend_reads_it() {
    let b = read(&[(BACKEND, PARAMETER_STORE)]).unwrap();
    assert_eq!(b.store, StoreKind::ParameterStore);
    assert_eq!(b.naming.prefix, "/airflow/connections", "its own default");
    assert_eq!(b.aliases, Aliases::from_json_only(), "no key aliases");
    // `sep` and `extra_conn_words` are not its arguments: Airflow ignores them, and so
    // does the function, so the names and keys stay the ones Airflow reads.
    let b = read(&[
        (BACKEND, PARAMETER_STORE),
        (
            KWARGS,
            r#"{"connections_prefix": "platform/conns/", "sep": "_",
                "extra_conn_words": {"login": ["usr"]}}"#,
        ),
        ("CONNECTIONS_PREFIX", "/platform/conns"),
    ])
    .unwrap();
    assert_eq!(
        (b.naming.prefix.as_str(), b.naming.sep.as_str()),
        ("/platform/conns", "/")
    );
    assert_eq!(b.aliases, Aliases::from_json_only());
    assert!(read(&[(BACKEND, PARAMETER_STORE), ("CONNECTIONS_SEP", "/")]).is_ok());
}

#[test]
fn what_cannot_work_is_refused_naming_the_setting() {
    let cases = [
        (
            kwargs(r#"{"connections_prefix": null}"#),
            KWARGS,
            "turns the backend's connection lookups off",
        ),
        (kwargs("not json"), KWARGS, "not a JSON object"),
        (kwargs(r#"{"sep": 1}"#), KWARGS, "sep is 1, not text"),
        (
            kwargs(r#"{"connections_lookup_pattern": "docker)|(.*"}"#),
            KWARGS,
            "unbalanced parenthesis",
        ),
        (
            kwargs(r#"{"extra_conn_words": {"passwd": ["p"]}}"#),
            KWARGS,
            "\"passwd\"",
        ),
        (
            kwargs(r#"{"region_name": "nowhere"}"#),
            KWARGS,
            "region_name",
        ),
        (kwargs(r#"{"role_arn": "admin"}"#), KWARGS, "role_arn"),
        (
            read(&[(BACKEND, PARAMETER_STORE), ("CONNECTIONS_SEP", "_")]),
            "CONNECTIONS_SEP",
            "always separates with \"/\"",
        ),
        (
            read(&[
                ("SECRETS_REGION", "eu-west-1"),
                (KWARGS, r#"{"region_name": "us-east-1"}"#),
            ]),
            "SECRETS_REGION",
            "\"eu-west-1\" disagrees with region_name \"us-east-1\"",
        ),
        (
            read(&[
                ("SECRETS_ROLE_ARN", "arn:aws:iam::123456789012:role/a"),
                (
                    KWARGS,
                    r#"{"role_arn": "arn:aws:iam::123456789012:role/b"}"#,
                ),
            ]),
            "SECRETS_ROLE_ARN",
            "disagrees with role_arn",
        ),
        (
            read(&[("SECRETS_REGION", "nowhere")]),
            "SECRETS_REGION",
            "region_name",
        ),
        (
            read(&[(
                BACKEND,
                "airflow.secrets.local_filesystem.LocalFilesystemBackend",
            )]),
            BACKEND,
            "not an AWS secrets backend",
        ),
        (
            read(&[
                ("CONNECTIONS_PREFIX", "a/b"),
                (KWARGS, r#"{"connections_prefix": "c/d"}"#),
            ]),
            "CONNECTIONS_PREFIX",
            "\"a/b\" disagrees with connections_prefix \"c/d\"",
        ),
        (
            read(&[("CONNECTIONS_SEP", "_"), (KWARGS, r#"{"sep": "/"}"#)]),
            "CONNECTIONS_SEP",
            "disagrees with sep",
        ),
    ];
    for (result, variable, says) in cases {
        let err = result.unwrap_err();
        assert_eq!(err.variable, variable, "{err}");
        assert!(err.problem.contains(says), "{err}");
    }
    // The template's IAM scope alone is the setting; agreeing with the kwargs is fine.
    let scoped = read(&[
        ("SECRETS_REGION", "eu-west-1"),
        ("SECRETS_ROLE_ARN", "arn:aws:iam::123456789012:role/a"),
    ])
    .unwrap();
    assert_eq!(
        scoped.region.map(|r| r.to_string()).as_deref(),
        Some("eu-west-1")
    );
    assert!(scoped.role_arn.is_some());
    assert!(
        read(&[
            ("SECRETS_REGION", "eu-west-1"),
            (KWARGS, r#"{"region_name": "eu-west-1"}"#)
        ])
        .is_ok()
    );
    // The same prefix spelled with its separator agrees.
    assert!(
        read(&[
            ("CONNECTIONS_PREFIX", "a/b/"),
            (KWARGS, r#"{"connections_prefix": "a/b"}"#)
        ])
        .is_ok()
    );
}

#[test]
fn the_secrets_role_and_region_must_be_in_the_functions_partition() {
    let east = Region::try_from("us-east-1".to_owned()).unwrap();
    let china = Region::try_from("cn-north-1".to_owned()).unwrap();
    let role = |arn: &str| read(&[("SECRETS_ROLE_ARN", arn)]).unwrap();
    let err = role("arn:aws-cn:iam::123456789012:role/secrets")
        .check_partition(&east)
        .unwrap_err();
    assert_eq!(err.variable, "SECRETS_ROLE_ARN");
    assert!(
        err.problem.contains(
            "role_arn arn:aws-cn:iam::123456789012:role/secrets (SECRETS_ROLE_ARN or role_arn in \
             AIRFLOW__SECRETS__BACKEND_KWARGS) is in the aws-cn partition, but the function \
             runs in us-east-1 (aws)"
        ),
        "{err}"
    );
    let from_kwargs = kwargs(r#"{"role_arn": "arn:aws-us-gov:iam::123456789012:role/s"}"#).unwrap();
    assert_eq!(
        from_kwargs.check_partition(&east).unwrap_err().variable,
        "SECRETS_ROLE_ARN"
    );
    let err = read(&[("SECRETS_REGION", "cn-north-1")])
        .unwrap()
        .check_partition(&east)
        .unwrap_err();
    assert_eq!(err.variable, "SECRETS_REGION");
    assert!(err.problem.contains("is in the aws-cn partition"), "{err}");
    // In its own partition, each is fine.
    assert!(
        role("arn:aws-cn:iam::123456789012:role/secrets")
            .check_partition(&china)
            .is_ok()
    );
    assert!(
        role("arn:aws:iam::123456789012:role/secrets")
            .check_partition(&east)
            .is_ok()
    );
    assert!(read(&[]).unwrap().check_partition(&china).is_ok());
}
