//! Which registry an existing connection keeps, and when it is refused naming both hosts.

use super::*;
use crate::login::RunLogins;
use crate::naming::Naming;
use crate::target::{Region, TargetSpec};
use secrecy::SecretString;

const THEIRS: &str = "210987654321.dkr.ecr.eu-west-1.amazonaws.com";
const OWN: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

fn target(spec: &str, function_region: &str) -> Target {
    let spec: TargetSpec = serde_json::from_str(spec).unwrap();
    let region = Region::try_from(function_region.to_owned()).unwrap();
    spec.resolve(&region, &Naming::new("airflow/connections", "/", None))
        .unwrap()
}

fn settled(spec: &str, existing: &str) -> Result<Target, HostConflict> {
    let existing = RegistryHost::of_existing(existing);
    settle(&target(spec, "us-east-1"), existing, || OWN.to_owned())
}

fn kept(spec: &str, existing: &str) -> (String, String) {
    let target = settled(spec, existing).unwrap();
    let registry = target.registry.map(|r| r.to_string()).unwrap_or_default();
    (registry, target.region.to_string())
}

#[test]
fn by_conn_id_alone_an_existing_ecr_host_is_kept_with_its_own_region() {
    let alone = r#"{"conn_id":"a"}"#;
    assert_eq!(kept(alone, THEIRS), (THEIRS.into(), "eu-west-1".into()));
    // FIPS and dual-stack hosts stay as they are; their token comes from their region.
    for host in [
        "210987654321.dkr.ecr-fips.us-west-2.amazonaws.com",
        "210987654321.dkr-ecr.ap-south-1.on.aws",
    ] {
        let (registry, region) = kept(alone, host);
        assert_eq!(registry, host);
        assert!(host.contains(&format!(".{region}.")), "{host}: {region}");
    }
    // A host Docker would reach the same way is written bare.
    assert_eq!(kept(alone, &format!("https://{THEIRS}:443/")).0, THEIRS);
}

#[test]
fn a_host_that_is_no_ecr_registry_is_replaced_as_before() {
    for host in ["old.example.com", "public.ecr.aws", "docker.io", ""] {
        assert_eq!(
            settled(r#"{"conn_id":"a"}"#, host).unwrap(),
            target(r#"{"conn_id":"a"}"#, "us-east-1"),
            "{host}"
        );
    }
}

#[test]
fn the_configuration_decides_only_where_it_says_so() {
    // A registry host is where the connection logs in: that is how one is moved.
    let moved = format!(r#"{{"conn_id":"a","registry":"{OWN}"}}"#);
    assert_eq!(kept(&moved, THEIRS), (OWN.into(), "us-east-1".into()));
    // An account keeps its own registry wherever it is; another account moves it.
    let account = r#"{"conn_id":"a","registry":"210987654321"}"#;
    assert_eq!(kept(account, THEIRS), (THEIRS.into(), "eu-west-1".into()));
    let other = r#"{"conn_id":"a","registry":"999999999999"}"#;
    assert_eq!(
        kept(other, THEIRS),
        ("999999999999".into(), "us-east-1".into())
    );
    let both = r#"{"conn_id":"a","registry":"210987654321","region":"us-east-1"}"#;
    assert_eq!(
        kept(both, THEIRS),
        ("210987654321".into(), "us-east-1".into())
    );
    // A region keeps a registry in that region, any account's.
    let region = r#"{"conn_id":"a","region":"eu-west-1"}"#;
    assert_eq!(kept(region, THEIRS), (THEIRS.into(), "eu-west-1".into()));
}

#[test]
fn a_registry_that_cannot_be_kept_is_refused_naming_both_hosts() {
    let err = settled(r#"{"conn_id":"a","region":"us-east-1"}"#, THEIRS).unwrap_err();
    assert_eq!(
        err,
        HostConflict::Region {
            existing: THEIRS.into(),
            existing_region: "eu-west-1".into(),
            region: "us-east-1".into(),
            replacement: OWN.into(),
        }
    );
    let message = err.to_string();
    assert!(
        message.contains(THEIRS) && message.contains(OWN),
        "{message}"
    );

    let china = "210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn";
    let err = settled(r#"{"conn_id":"a"}"#, china).unwrap_err();
    assert_eq!(
        err,
        HostConflict::Partition {
            existing: china.into(),
            partition: "aws-cn",
            function_partition: "aws",
            replacement: OWN.into(),
        }
    );
    let message = err.to_string();
    assert!(
        message.contains(china) && message.contains(OWN),
        "{message}"
    );
    assert!(
        settled(r#"{"conn_id":"a","registry":"210987654321"}"#, china).is_err(),
        "the same account, but out of reach"
    );
}

#[test]
fn the_host_is_read_as_airflow_reads_it_from_either_format() {
    let text = |value: &str| {
        Ok::<Current, ()>(Current::Text {
            value: SecretString::from(value.to_owned()),
            version_id: "v1".into(),
            written_at: None,
        })
    };
    let current = [
        text(&format!(
            r#"{{"conn_type":"docker","remote_host":"{THEIRS}"}}"#
        )),
        text(&format!("docker://AWS:pw@{THEIRS}:443?reauth=true")),
        text(r#"{"conn_type":"docker","host":"old.example.com"}"#),
        Ok::<Current, ()>(Current::Missing),
        Ok::<Current, ()>(Current::Binary),
    ];
    let targets = vec![target(r#"{"conn_id":"a"}"#, "us-east-1"); current.len()];
    let settled = settle_all(
        &targets,
        &current,
        &Aliases::default(),
        &RunLogins::default(),
    );
    let regions: Vec<_> = settled
        .iter()
        .map(|t| t.as_ref().unwrap().region.to_string())
        .collect();
    assert_eq!(
        regions,
        [
            "eu-west-1",
            "eu-west-1",
            "us-east-1",
            "us-east-1",
            "us-east-1"
        ]
    );
}

#[test]
fn without_a_token_the_refusal_still_says_where_it_would_have_gone() {
    let china = "docker://AWS:pw@210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn";
    let current = [Ok::<Current, ()>(Current::Text {
        value: SecretString::from(china.to_owned()),
        version_id: "v1".into(),
        written_at: None,
    })];
    let targets = [target(r#"{"conn_id":"a"}"#, "us-east-1")];
    let settled = settle_all(
        &targets,
        &current,
        &Aliases::default(),
        &RunLogins::default(),
    );
    let message = settled[0].as_ref().unwrap_err().1.to_string();
    assert!(
        message.contains("moved to the function's own registry in us-east-1"),
        "{message}"
    );
}
