//! The refresh end to end against moto server's Parameter Store: the same product as with
//! Secrets Manager, chosen by Airflow's own `AIRFLOW__SECRETS__BACKEND`.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use airflow_ecr_refresher::handler::{App, RunError, handle};
use aws_sdk_ssm::types::{ParameterTier, ParameterType, ResourceTypeForTagging};
use common::*;
use lambda_runtime::{Context, LambdaEvent};
use refresher_core::connection::ConnectionError;
use refresher_core::failure::TargetFailure;
use refresher_core::report::{Action, Report};
use serde_json::{Value, json};

const BACKEND: &str =
    "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend";

const POSTGRES: &str = "postgresql://app:dbpass@db.example.com:5432/app";

async fn ssm() -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&sdk().await)
}

/// An app writing under `/<prefix>`, with the Parameter Store backend named as in Airflow.
async fn ssm_app(prefix: &str, connections: &str, extra: &[(&str, &str)]) -> App {
    let kwargs = json!({"connections_prefix": format!("/{prefix}")}).to_string();
    let mut vars = vec![
        ("AIRFLOW__SECRETS__BACKEND", BACKEND),
        ("AIRFLOW__SECRETS__BACKEND_KWARGS", kwargs.as_str()),
        ("CONNECTIONS", connections),
    ];
    vars.extend_from_slice(extra);
    app(&vars).await
}

async fn invoke(app: &App, event: Value) -> Result<Report, RunError> {
    handle(app, LambdaEvent::new(event, Context::default())).await
}

async fn put(name: &str, value: &str, kind: ParameterType) {
    ssm()
        .await
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(kind)
        .send()
        .await
        .expect("put test parameter");
}

/// The value, its type and its version.
async fn read(name: &str) -> Option<(String, ParameterType, i64)> {
    let out = ssm()
        .await
        .get_parameters()
        .names(name)
        .with_decryption(true)
        .send()
        .await
        .expect("get parameters");
    out.parameters().first().map(|p| {
        (
            p.value().unwrap().to_owned(),
            p.r#type().unwrap().clone(),
            p.version(),
        )
    })
}

#[tokio::test]
async fn creates_tagged_secure_string_parameters_beyond_one_read_batch() {
    let prefix = unique_prefix("ssm-create");
    // Twelve names: GetParameters takes ten a call, so the read takes two.
    let ids: Vec<String> = (0..12).map(|i| format!("ecr_{i}")).collect();
    let app = ssm_app(&prefix, &ids.join(","), &[]).await;
    let report = invoke(&app, json!({})).await.unwrap();
    assert!(
        report
            .connections
            .iter()
            .all(|r| r.action == Action::Created)
    );

    let name = format!("/{prefix}/ecr_11");
    assert_eq!(report.connections[11].secret_name, name);
    let (value, kind, _) = read(&name).await.unwrap();
    assert_eq!(kind, ParameterType::SecureString, "never plain text");
    assert_eq!(
        json(&value),
        json!({"conn_type": "docker", "host": OWN_HOST, "login": "AWS",
               "password": MOTO_PASSWORD, "extra": {"reauth": true}})
    );
    let tags = ssm()
        .await
        .list_tags_for_resource()
        .resource_type(ResourceTypeForTagging::Parameter)
        .resource_id(&name)
        .send()
        .await
        .unwrap();
    let tags: Vec<_> = tags
        .tag_list()
        .iter()
        .map(|t| (t.key(), t.value()))
        .collect();
    assert_eq!(tags, [("managed-by", "airflow-ecr-refresher")]);

    // A second run overwrites in place: a new version, the same format.
    invoke(&app, json!({})).await.unwrap();
    let (again, _, version) = read(&name).await.unwrap();
    assert_eq!((json(&again), version), (json(&value), 2));
}

#[tokio::test]
async fn existing_parameters_keep_their_format_and_fields_and_bad_ones_stay_untouched() {
    let prefix = unique_prefix("ssm-update");
    let uri = format!("/{prefix}/uri");
    let aliased = format!("/{prefix}/aliased");
    let plain = format!("/{prefix}/plain");
    put(
        &uri,
        "docker://old:pw@h.example.com:5000?email=ops%40example.com&reauth=false",
        ParameterType::SecureString,
    )
    .await;
    let aliased_value = r#"{"conn_type":"docker","host":"h","user":"AWS","password":"old"}"#;
    put(&aliased, aliased_value, ParameterType::SecureString).await;
    put(&plain, OLD_CONNECTION, ParameterType::String).await;
    // Someone's database login under a mistyped conn id, in a plain String parameter.
    let typo = format!("/{prefix}/typo");
    put(&typo, POSTGRES, ParameterType::String).await;

    let app = ssm_app(
        &prefix,
        "uri,aliased,plain,typo,new",
        &[("SECRET_FORMAT", "uri")],
    )
    .await;
    let err = invoke(&app, json!({})).await.unwrap_err();

    let (value, kind, version) = read(&uri).await.unwrap();
    assert_eq!((kind, version), (ParameterType::SecureString, 2));
    assert_eq!(
        value,
        format!("docker://AWS:{MOTO_PASSWORD}@{OWN_HOST}?email=ops%40example.com&reauth=false"),
        "URI kept, its extras kept, its port dropped"
    );
    let (new, _, _) = read(&format!("/{prefix}/new")).await.unwrap();
    assert!(
        new.starts_with("docker://AWS:"),
        "SECRET_FORMAT for new ones"
    );

    assert_eq!(
        failures(&err),
        [
            (
                "aliased".to_owned(),
                TargetFailure::Value(ConnectionError::UnloadableKey("user".into()))
            ),
            (
                "plain".to_owned(),
                TargetFailure::Unencrypted("String".into())
            ),
            (
                "typo".to_owned(),
                TargetFailure::NotDockerParameter {
                    kind: "String".into(),
                    holds: "a \"postgresql\" connection".into()
                }
            ),
        ]
    );
    // Whose it is comes before its type: never advised to delete someone else's value.
    let message = err.to_string();
    let typo_says = message
        .split("; ")
        .find(|m| m.starts_with("typo "))
        .unwrap();
    assert!(typo_says.contains("check the conn_id"), "{typo_says}");
    assert!(!typo_says.contains("delete"), "{typo_says}");
    assert!(
        !message.contains("dbpass"),
        "no stored value in the message"
    );
    assert_eq!(
        read(&typo).await.unwrap(),
        (POSTGRES.to_owned(), ParameterType::String, 1)
    );
    assert_eq!(read(&aliased).await.unwrap().0, aliased_value);
    let (plain_value, plain_kind, _) = read(&plain).await.unwrap();
    assert_eq!(
        (plain_value.as_str(), plain_kind),
        (OLD_CONNECTION, ParameterType::String)
    );
}

#[tokio::test]
async fn dry_run_and_oversized_values_write_nothing() {
    let prefix = unique_prefix("ssm-dry");
    let big = format!("/{prefix}/big");
    // Fits today; with a real ECR password (2,000 to 3,000 characters) it would not fit
    // the standard tier's 4 KB. moto's short password needs a bigger extra to show it.
    let big_value = json!({"conn_type": "docker", "host": "h", "login": "AWS",
                           "password": "old", "extra": {"note": "x".repeat(4_000)}})
    .to_string();
    put(&big, &big_value, ParameterType::SecureString).await;
    let app = ssm_app(&prefix, "big,fresh", &[]).await;

    let report = invoke(
        &app,
        json!({"dry_run": true, "connections": [{"conn_id": "fresh"}]}),
    )
    .await
    .unwrap();
    assert_eq!(report.connections[0].action, Action::WouldCreate);
    assert!(read(&format!("/{prefix}/fresh")).await.is_none(), "dry run");

    let err = invoke(&app, json!({})).await.unwrap_err();
    let failed = failures(&err);
    assert!(
        matches!(&failed[..], [(id, TargetFailure::Write(e))]
            if id == "big" && e.message.contains("over the 4096-byte limit of a standard parameter")),
        "{failed:?}"
    );
    assert_eq!(read(&big).await.unwrap().0, big_value, "left untouched");
    assert!(
        read(&format!("/{prefix}/fresh")).await.is_some(),
        "the other still written"
    );
}

#[tokio::test]
async fn an_advanced_parameter_holds_up_to_its_tiers_8_kb() {
    let prefix = unique_prefix("ssm-tier");
    let value = |note: usize| {
        json!({"conn_type": "docker", "host": "h", "login": "AWS", "password": "old",
               "extra": {"note": "x".repeat(note)}})
        .to_string()
    };
    for (id, note) in [("advanced", 6_000), ("too_big", 8_150)] {
        ssm()
            .await
            .put_parameter()
            .name(format!("/{prefix}/{id}"))
            .value(value(note))
            .r#type(ParameterType::SecureString)
            .tier(ParameterTier::Advanced)
            .send()
            .await
            .unwrap();
    }
    let app = ssm_app(&prefix, "advanced,too_big", &[]).await;
    let err = invoke(&app, json!({})).await.unwrap_err();
    let failed = failures(&err);
    assert!(
        matches!(&failed[..], [(id, TargetFailure::TooLarge { limit: 8_192, .. })] if id == "too_big"),
        "{failed:?}"
    );
    assert_eq!(
        read(&format!("/{prefix}/too_big")).await.unwrap().0,
        value(8_150)
    );
    let (written, _, version) = read(&format!("/{prefix}/advanced")).await.unwrap();
    assert!(written.len() > 4_096, "over a standard parameter's limit");
    assert_eq!(json(&written)["password"], MOTO_PASSWORD);
    assert_eq!(version, 2);
}

#[tokio::test]
async fn an_overwrite_keeps_the_parameters_own_kms_key() {
    // The key is looked up with DescribeParameters before the overwrite. moto keeps a
    // parameter's key even when an overwrite names none (AWS does not), so the request
    // itself is checked in tests/faults_parameters.rs; here the real SDK call runs.
    let prefix = unique_prefix("ssm-key");
    let name = format!("/{prefix}/keyed");
    ssm()
        .await
        .put_parameter()
        .name(&name)
        .value(OLD_CONNECTION)
        .r#type(ParameterType::SecureString)
        .key_id("alias/their-key")
        .send()
        .await
        .unwrap();
    let app = ssm_app(&prefix, "keyed", &[("KMS_KEY_ID", "alias/new-ones")]).await;
    let report = invoke(&app, json!({})).await.unwrap();
    assert_eq!(report.connections[0].action, Action::Updated);
    let described = ssm()
        .await
        .describe_parameters()
        .parameter_filters(
            aws_sdk_ssm::types::ParameterStringFilter::builder()
                .key("Name")
                .option("Equals")
                .values(&name)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(described.parameters()[0].key_id(), Some("alias/their-key"));
    assert_eq!(read(&name).await.unwrap().2, 2);
}
