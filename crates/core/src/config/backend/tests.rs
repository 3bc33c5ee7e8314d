//! Reading Airflow's backend settings as the amazon provider's backends read them.

use super::*;

const PREFIX: &str = "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX";
const SEP: &str = "AIRFLOW__SECRETS__BACKEND_KWARG__SEP";
const REGION: &str = "AIRFLOW__SECRETS__BACKEND_KWARG__REGION_NAME";
const ROLE: &str = "AIRFLOW__SECRETS__BACKEND_KWARG__ROLE_ARN";

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
        (PREFIX, "/platform/conns"),
    ])
    .unwrap();
    assert_eq!(
        (b.naming.prefix.as_str(), b.naming.sep.as_str()),
        ("/platform/conns", "/")
    );
    assert_eq!(b.aliases, Aliases::from_json_only());
    // The template passes its separator only with Secrets Manager; a stray one is ignored.
    assert_eq!(
        read(&[(BACKEND, PARAMETER_STORE), (SEP, "_")])
            .unwrap()
            .naming
            .sep,
        "/"
    );
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
            read(&[
                (REGION, "eu-west-1"),
                (KWARGS, r#"{"region_name": "us-east-1"}"#),
            ]),
            REGION,
            "\"eu-west-1\" disagrees with region_name \"us-east-1\" in \
             AIRFLOW__SECRETS__BACKEND_KWARGS: Airflow would use \"eu-west-1\"",
        ),
        (
            read(&[
                (ROLE, "arn:aws:iam::123456789012:role/a"),
                (
                    KWARGS,
                    r#"{"role_arn": "arn:aws:iam::123456789012:role/b"}"#,
                ),
            ]),
            ROLE,
            "set its SecretsRoleArn parameter to the JSON's value",
        ),
        (read(&[(REGION, "nowhere")]), REGION, "region_name"),
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
                (PREFIX, "a/b"),
                (KWARGS, r#"{"connections_prefix": "c/d"}"#),
            ]),
            PREFIX,
            "\"a/b\" disagrees with connections_prefix \"c/d\"",
        ),
        (
            read(&[(SEP, "_"), (KWARGS, r#"{"sep": "/"}"#)]),
            SEP,
            "remove sep from AIRFLOW__SECRETS__BACKEND_KWARGS, or make the two agree \
             (deploying with template.yaml: set its ConnectionsSeparator parameter",
        ),
        (
            read(&[(PREFIX, "a"), (KWARGS, r#"{"connections_prefix": null}"#)]),
            PREFIX,
            "disagrees with connections_prefix null",
        ),
    ];
    for (result, variable, says) in cases {
        let err = result.unwrap_err();
        assert_eq!(err.variable, variable, "{err}");
        assert!(err.problem.contains(says), "{err}");
    }
    // The template's per-key variables alone are the settings; the JSON agreeing is fine.
    let scoped = read(&[
        (REGION, "eu-west-1"),
        (ROLE, "arn:aws:iam::123456789012:role/a"),
    ])
    .unwrap();
    assert_eq!(
        scoped.region.map(|r| r.to_string()).as_deref(),
        Some("eu-west-1")
    );
    assert!(scoped.role_arn.is_some());
    assert!(
        read(&[
            (REGION, "eu-west-1"),
            (KWARGS, r#"{"region_name": "eu-west-1"}"#)
        ])
        .is_ok()
    );
    // The same prefix spelled with its separator agrees.
    assert_eq!(
        read(&[
            (PREFIX, "a/b/"),
            (KWARGS, r#"{"connections_prefix": "a/b"}"#)
        ])
        .unwrap()
        .naming
        .prefix,
        "a/b"
    );
    // A key the function does not read follows Airflow's rule alone: the per-key one wins.
    assert!(
        read(&[
            ("AIRFLOW__SECRETS__BACKEND_KWARG__ENDPOINT_URL", "http://a"),
            (KWARGS, r#"{"endpoint_url": "http://b"}"#)
        ])
        .is_ok()
    );
    // The Parameter Store backend takes no sep, so a sep in both places is not compared.
    assert!(
        read(&[
            (BACKEND, PARAMETER_STORE),
            (SEP, "/"),
            (KWARGS, r#"{"sep": "_"}"#)
        ])
        .is_ok()
    );
}

#[test]
fn the_secrets_role_and_region_must_be_in_the_functions_partition() {
    let east = Region::try_from("us-east-1".to_owned()).unwrap();
    let china = Region::try_from("cn-north-1".to_owned()).unwrap();
    let role = |arn: &str| read(&[(ROLE, arn)]).unwrap();
    let err = role("arn:aws-cn:iam::123456789012:role/secrets")
        .check_partition(&east)
        .unwrap_err();
    assert_eq!(err.variable, ROLE);
    assert!(
        err.problem.contains(
            "role_arn arn:aws-cn:iam::123456789012:role/secrets is in the aws-cn partition, but \
             the function runs in us-east-1 (aws)"
        ),
        "{err}"
    );
    let from_kwargs = kwargs(r#"{"role_arn": "arn:aws-us-gov:iam::123456789012:role/s"}"#).unwrap();
    assert_eq!(
        from_kwargs.check_partition(&east).unwrap_err().variable,
        KWARGS,
        "named where it was set"
    );
    let err = read(&[(REGION, "cn-north-1")])
        .unwrap()
        .check_partition(&east)
        .unwrap_err();
    assert_eq!(err.variable, REGION);
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
