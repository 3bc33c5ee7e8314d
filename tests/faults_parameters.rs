//! The Parameter Store adapter against AWS's documented answers where moto differs,
//! injected with aws-smithy-mocks: the KMS key an overwrite must keep, throttling, and a
//! batch read that fails as a whole.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use airflow_ecr_refresher::app;
use aws_sdk_ssm::operation::describe_parameters::DescribeParametersOutput;
use aws_sdk_ssm::operation::get_parameters::GetParametersOutput;
use aws_sdk_ssm::operation::put_parameter::PutParameterOutput;
use aws_sdk_ssm::types::{Parameter, ParameterMetadata, ParameterType};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use refresher_aws::parameter_store::Parameters;
use refresher_core::aws_error::ErrorKind;
use refresher_core::store::{Current, Store, Write};
use secrecy::SecretString;

const NAME: &str = "/airflow/connections/ecr";
/// AWS's JSON-protocol throttling answer: HTTP 400, `ThrottlingException`, "Rate exceeded"
/// (Systems Manager API Reference, "Common Errors").
const THROTTLED: &str = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;

fn store(rules: &[&Rule]) -> Parameters {
    // The function's own retry settings.
    let client = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, rules, |c| c
        .retry_config(app::retries())
        .timeout_config(app::timeouts()));
    Parameters::new(client)
}

/// A read KMS refuses: AccessDeniedException naming the key (Parameter Store user guide,
/// "How AWS Systems Manager Parameter Store uses AWS KMS").
fn kms_denied() -> aws_smithy_runtime_api::http::Response {
    aws_smithy_runtime_api::http::Response::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
        aws_smithy_types::body::SdkBody::from(
            r#"{"__type":"AccessDeniedException","message":"The ciphertext refers to a KMS key you are not allowed to access."}"#,
        ),
    )
}

fn write<'a>(value: &'a SecretString) -> Write<'a> {
    Write {
        name: NAME,
        value,
        request_token: "unused by Parameter Store",
    }
}

#[tokio::test]
async fn an_overwrite_passes_the_parameters_own_kms_key_and_no_tags() {
    // PutParameter without KeyId encrypts with alias/aws/ssm (API Reference, PutParameter,
    // KeyId); moto keeps the old key either way, so only the request shows it.
    // DescribeParameters answers "on a best-effort basis" (API Reference): a first page
    // with no match and a NextToken is valid, and the key is on the next.
    let described = mock!(aws_sdk_ssm::Client::describe_parameters)
        .sequence()
        .output(|| {
            DescribeParametersOutput::builder()
                .next_token("page-2")
                .build()
        })
        .output(|| {
            DescribeParametersOutput::builder()
                .parameters(
                    ParameterMetadata::builder()
                        .name(NAME)
                        .key_id("alias/their-key")
                        .build(),
                )
                .build()
        })
        .build();
    let put = mock!(aws_sdk_ssm::Client::put_parameter)
        .match_requests(|r| {
            r.key_id() == Some("alias/their-key")
                && r.overwrite() == Some(true)
                && r.r#type() == Some(&ParameterType::SecureString)
                && r.tags().is_empty()
        })
        .then_output(|| PutParameterOutput::builder().version(2).build());
    let value = SecretString::from("docker://AWS:pw@h".to_owned());
    store(&[&described, &put])
        .update(&write(&value))
        .await
        .unwrap();
    assert_eq!((described.num_calls(), put.num_calls()), (2, 1));
}

#[tokio::test]
async fn an_overwrite_whose_key_cannot_be_found_is_not_made() {
    let nothing = mock!(aws_sdk_ssm::Client::describe_parameters)
        .then_output(|| DescribeParametersOutput::builder().build());
    let put = mock!(aws_sdk_ssm::Client::put_parameter)
        .then_output(|| PutParameterOutput::builder().version(2).build());
    let value = SecretString::from("docker://AWS:pw@h".to_owned());
    let err = store(&[&nothing, &put])
        .update(&write(&value))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("alias/aws/ssm"), "{err}");
    assert_eq!(put.num_calls(), 0, "never written with the default key");
}

/// Another writer updating the same parameter: HTTP 400 `TooManyUpdates`, "There are
/// concurrent updates for a resource that supports one update at a time." (Systems Manager
/// API Reference, PutParameter, Errors). A modeled error the SDK does not retry itself.
const TOO_MANY_UPDATES: &str = r#"{"__type":"TooManyUpdates","message":"There are concurrent updates for a resource that supports one update at a time."}"#;

#[tokio::test]
async fn throttled_and_concurrent_writes_are_retried_then_named() {
    for answer in [THROTTLED, TOO_MANY_UPDATES] {
        let busy = mock!(aws_sdk_ssm::Client::put_parameter)
            .sequence()
            .http_status(400, Some(answer.into()))
            .times(2)
            .output(|| PutParameterOutput::builder().version(1).build())
            .build();
        let value = SecretString::from("docker://AWS:pw@h".to_owned());
        store(&[&busy]).create(&write(&value), None).await.unwrap();
        assert_eq!(
            busy.num_calls(),
            3,
            "two refusals, then the write: {answer}"
        );

        let always = mock!(aws_sdk_ssm::Client::put_parameter)
            .sequence()
            .http_status(400, Some(answer.into()))
            .repeatedly()
            .build();
        let err = store(&[&always])
            .create(&write(&value), None)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Throttled, "{answer}");
        assert_eq!(
            always.num_calls(),
            4,
            "the function's four attempts: {answer}"
        );
    }
}

#[tokio::test]
async fn a_batch_that_fails_as_a_whole_is_read_name_by_name() {
    // One parameter's KMS key refusing decryption fails the whole GetParameters call
    // (AccessDeniedException naming KMS); the others must still be read.
    let bad = "/airflow/connections/bad";
    let whole = mock!(aws_sdk_ssm::Client::get_parameters)
        .match_requests(|r| r.names().len() > 1)
        .then_http_response(kms_denied);
    let one_bad = mock!(aws_sdk_ssm::Client::get_parameters)
        .match_requests(move |r| r.names() == [bad.to_owned()])
        .then_http_response(kms_denied);
    let one_good = mock!(aws_sdk_ssm::Client::get_parameters)
        .match_requests(|r| r.names() == [NAME.to_owned()])
        .then_output(|| {
            GetParametersOutput::builder()
                .parameters(
                    Parameter::builder()
                        .name(NAME)
                        .r#type(ParameterType::SecureString)
                        .value("docker://AWS:old@h")
                        .version(3)
                        .build(),
                )
                .build()
        });
    let names = [
        NAME.to_owned(),
        bad.to_owned(),
        "/airflow/connections/none".to_owned(),
    ];
    let none = mock!(aws_sdk_ssm::Client::get_parameters)
        .match_requests(|r| r.names() == ["/airflow/connections/none".to_owned()])
        .then_output(|| {
            GetParametersOutput::builder()
                .invalid_parameters("/airflow/connections/none")
                .build()
        });
    let read = store(&[&whole, &one_bad, &one_good, &none])
        .read(&names)
        .await;
    assert!(matches!(&read[0], Ok(Current::Text { version_id, .. }) if version_id == "3"));
    assert!(
        matches!(&read[1], Err(e) if e.kind == ErrorKind::Kms),
        "{:?}",
        read[1]
    );
    assert!(matches!(read[2], Ok(Current::Missing)));
}

#[tokio::test]
async fn an_overwrite_tells_the_version_it_replaced_and_theirs_goes_back_as_it_was() {
    use aws_sdk_ssm::operation::get_parameter_history::GetParameterHistoryOutput;
    use aws_sdk_ssm::types::{ParameterHistory, ParameterTier};
    use refresher_core::store::Replaced;
    // PutParameter answers with the new version, one more than the last (API Reference,
    // PutParameter, Version): 5 after a read of 3 means someone wrote version 4 between.
    let key = mock!(aws_sdk_ssm::Client::describe_parameters).then_output(|| {
        DescribeParametersOutput::builder()
            .parameters(
                ParameterMetadata::builder()
                    .name(NAME)
                    .key_id("alias/k")
                    .build(),
            )
            .build()
    });
    let ours = mock!(aws_sdk_ssm::Client::put_parameter)
        .match_requests(|r| r.value() == Some("docker://AWS:pw@h"))
        .then_output(|| PutParameterOutput::builder().version(5).build());
    // GetParameterHistory gives every version's value, type, key and tier (API Reference,
    // ParameterHistory); theirs, version 4, was a String.
    let history = |latest: i64| {
        move || {
            let version = |v: i64, value: &str, kind: ParameterType| {
                ParameterHistory::builder()
                    .name(NAME)
                    .version(v)
                    .value(value)
                    .r#type(kind)
                    .tier(ParameterTier::Standard)
                    .build()
            };
            GetParameterHistoryOutput::builder()
                .parameters(version(
                    3,
                    "docker://AWS:old@h",
                    ParameterType::SecureString,
                ))
                .parameters(version(4, "postgresql://db/x", ParameterType::String))
                .parameters(version(
                    latest,
                    "docker://AWS:pw@h",
                    ParameterType::SecureString,
                ))
                .build()
        }
    };
    let theirs_back = mock!(aws_sdk_ssm::Client::put_parameter)
        .match_requests(|r| {
            r.value() == Some("postgresql://db/x")
                && r.r#type() == Some(&ParameterType::String)
                && r.key_id().is_none()
                && r.overwrite() == Some(true)
        })
        .then_output(|| PutParameterOutput::builder().version(6).build());
    let kept = mock!(aws_sdk_ssm::Client::get_parameter_history).then_output(history(5));
    let parameters = store(&[&key, &ours, &kept, &theirs_back]);
    let value = SecretString::from("docker://AWS:pw@h".to_owned());
    let landed = parameters.update(&write(&value)).await.unwrap();
    assert_eq!(landed.version, "5");
    assert_eq!(landed.replaced, Replaced::Version("4".into()));
    parameters.restore(NAME, "4", "5").await.unwrap();
    assert_eq!(theirs_back.num_calls(), 1);

    // A later write (version 6) is current: nothing to put back.
    let later = mock!(aws_sdk_ssm::Client::get_parameter_history).then_output(history(6));
    let none = mock!(aws_sdk_ssm::Client::put_parameter)
        .then_output(|| PutParameterOutput::builder().version(7).build());
    store(&[&later, &none])
        .restore(NAME, "4", "5")
        .await
        .unwrap();
    assert_eq!(none.num_calls(), 0);
}
