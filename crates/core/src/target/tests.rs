//! Target specs: parsing, regions, partitions, duplicates, teams and lookup patterns.

use super::*;

fn region(s: &str) -> Region {
    Region::try_from(s.to_owned()).unwrap()
}

#[test]
fn region_comes_from_spec_then_host_then_default() {
    let default = region("us-east-1");
    let spec: TargetSpec = serde_json::from_str(r#"{"conn_id":"a"}"#).unwrap();
    assert_eq!(spec.resolve(&default, &naming()).unwrap().region, default);

    let spec: TargetSpec = serde_json::from_str(
        r#"{"conn_id":"a","registry":"210987654321.dkr.ecr.eu-west-1.amazonaws.com"}"#,
    )
    .unwrap();
    assert_eq!(
        spec.resolve(&default, &naming()).unwrap().region,
        region("eu-west-1")
    );

    let spec: TargetSpec = serde_json::from_str(
        r#"{"conn_id":"a","region":"us-west-2","registry":"210987654321.dkr.ecr.eu-west-1.amazonaws.com"}"#,
    )
    .unwrap();
    assert!(matches!(
        spec.resolve(&default, &naming()),
        Err(TargetError::RegionMismatch { .. })
    ));
}

#[test]
fn specs_reject_unknown_keys_and_bad_values_with_the_reason() {
    let err =
        serde_json::from_str::<TargetSpec>(r#"{"conn_id":"a","regoin":"eu-west-1"}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `regoin`"), "{err}");
    let err =
        serde_json::from_str::<TargetSpec>(r#"{"conn_id":"a","region":"moon-1"}"#).unwrap_err();
    assert!(
        err.to_string().contains("invalid region \"moon-1\""),
        "{err}"
    );
    let err = serde_json::from_str::<TargetSpec>(r#"{"conn_id":""}"#).unwrap_err();
    assert!(err.to_string().contains("invalid conn_id"), "{err}");
}

#[test]
fn a_dual_stack_host_takes_its_token_from_its_own_region() {
    let spec: TargetSpec = serde_json::from_str(
        r#"{"conn_id":"a","registry":"210987654321.dkr-ecr.ap-south-1.on.aws"}"#,
    )
    .unwrap();
    let target = spec.resolve(&region("us-east-1"), &naming()).unwrap();
    assert_eq!(target.region, region("ap-south-1"));
    assert_eq!(
        target.registry.unwrap().to_string(),
        "210987654321.dkr-ecr.ap-south-1.on.aws",
        "the host stays as given"
    );
}

#[test]
fn another_partition_is_refused_naming_both() {
    for (conn_region, function_region, partitions) in [
        ("cn-north-1", "us-east-1", ("aws-cn", "aws")),
        ("us-east-1", "us-gov-west-1", ("aws", "aws-us-gov")),
        ("eu-west-1", "eusc-de-east-1", ("aws", "aws-eusc")),
    ] {
        let mut spec = TargetSpec::new(ConnId::try_from("a".to_owned()).unwrap());
        spec.region = Some(region(conn_region));
        let err = spec
            .resolve(&region(function_region), &naming())
            .unwrap_err();
        assert_eq!(
            err,
            TargetError::Partition {
                conn_id: "a".into(),
                region: conn_region.into(),
                partition: partitions.0,
                function_region: function_region.into(),
                function_partition: partitions.1,
            }
        );
    }
    // The same partition, another region: fine.
    let mut spec = TargetSpec::new(ConnId::try_from("a".to_owned()).unwrap());
    spec.region = Some(region("cn-northwest-1"));
    assert!(spec.resolve(&region("cn-north-1"), &naming()).is_ok());
}

#[test]
fn duplicates_are_judged_by_secret_name_naming_both_entries() {
    let specs = |json: &str| serde_json::from_str::<Vec<TargetSpec>>(json).unwrap();
    let east = region("us-east-1");
    let a = specs(r#"[{"conn_id":"a"},{"conn_id":"b"},{"conn_id":"a"}]"#);
    assert_eq!(
        resolve_all(&a, &east, &naming()).unwrap_err().to_string(),
        "entry 1 {conn_id: a} and entry 3 {conn_id: a} both name secret \
         airflow/connections/a: list each secret once"
    );
    let spelt_out = specs(r#"[{"conn_id":"a","team":"x"},{"conn_id":"x--a"}]"#);
    assert_eq!(
        resolve_all(&spelt_out, &east, &naming()).unwrap_err(),
        TargetError::Duplicate {
            first: 1,
            first_spec: "{conn_id: a, team: x}".into(),
            second: 2,
            second_spec: "{conn_id: x--a}".into(),
            secret_name: "airflow/connections/x--a".into(),
        }
    );
    // One conn id for two teams (and for no team) is three secrets.
    let teams = specs(
        r#"[{"conn_id":"docker_ecr","team":"ml"},{"conn_id":"docker_ecr","team":"web"},
            {"conn_id":"docker_ecr"}]"#,
    );
    let names: Vec<_> = resolve_all(&teams, &east, &naming())
        .unwrap()
        .into_iter()
        .map(|t| t.secret_name)
        .collect();
    assert_eq!(
        names,
        [
            "airflow/connections/ml--docker_ecr",
            "airflow/connections/web--docker_ecr",
            "airflow/connections/docker_ecr"
        ]
    );
}

fn naming() -> Naming {
    Naming::new("airflow/connections", "/", None)
}

#[test]
fn secret_names_match_the_airflow_backend() {
    let id = ConnId::try_from("docker_ecr".to_owned()).unwrap();
    let name = |prefix: &str, sep: &str, team: Option<&str>| {
        Naming::new(prefix, sep, None).secret_name(&id, team)
    };
    assert_eq!(
        name("airflow/connections", "/", None),
        "airflow/connections/docker_ecr"
    );
    assert_eq!(
        name("airflow/connections/", "/", None),
        "airflow/connections/docker_ecr"
    );
    assert_eq!(name("team-a", "_", None), "team-a_docker_ecr");
    assert_eq!(
        name("", "/", None),
        "docker_ecr",
        "no prefix: the conn id alone"
    );
    assert_eq!(
        name("airflow/connections", "/", Some("ml")),
        "airflow/connections/ml--docker_ecr"
    );
}

#[test]
fn teams_and_lookup_patterns_refuse_what_airflow_would_never_read() {
    let spec = |json: &str| serde_json::from_str::<TargetSpec>(json).unwrap();
    let east = region("us-east-1");
    let team = spec(r#"{"conn_id":"ecr","team":"ml"}"#);
    assert_eq!(
        team.resolve(&east, &naming()).unwrap().secret_name,
        "airflow/connections/ml--ecr"
    );
    assert_eq!(
        spec(r#"{"conn_id":"a--b","team":"ml"}"#).resolve(&east, &naming()),
        Err(TargetError::TeamConnId("a--b".into()))
    );
    assert_eq!(
        team.resolve(&east, &Naming::new("", "/", None)),
        Err(TargetError::TeamWithoutPrefix("ecr".into()))
    );
    assert!(serde_json::from_str::<TargetSpec>(r#"{"conn_id":"a","team":"m--l"}"#).is_err());
    let pattern = crate::config::backend::AirflowBackend::from_lookup(|k| {
        (k == "AIRFLOW__SECRETS__BACKEND_KWARGS")
            .then(|| r#"{"connections_lookup_pattern": "docker_"}"#.to_owned())
    })
    .unwrap()
    .naming;
    assert!(
        spec(r#"{"conn_id":"DOCKER_ecr"}"#)
            .resolve(&east, &pattern)
            .is_ok(),
        "case-insensitive"
    );
    assert_eq!(
        spec(r#"{"conn_id":"ecr_docker_"}"#).resolve(&east, &pattern),
        Err(TargetError::LookupPattern {
            conn_id: "ecr_docker_".into(),
            pattern: "docker_".into()
        }),
        "re.match anchors at the start"
    );
    // A pattern that backtracks without end fails this connection with an error.
    let catastrophic = Naming::new(
        "",
        "/",
        Some(crate::naming::LookupPattern::new(r"(a|a)*\1b").unwrap()),
    );
    let long = spec(&format!(r#"{{"conn_id":"{}"}}"#, "a".repeat(250)));
    assert!(matches!(
        long.resolve(&east, &catastrophic),
        Err(TargetError::LookupPatternGaveUp(e)) if e.contains("backtrack")
    ));
}
