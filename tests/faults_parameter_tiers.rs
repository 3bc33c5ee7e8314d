//! A parameter's value limit is its tier's, answered as AWS answers (moto keeps a
//! parameter's tier on an overwrite that names none and checks no size, so only the
//! requests show what is sent): 4 KB for a standard parameter, 8 KB for an advanced one
//! (Systems Manager API Reference, `PutParameter`, `Value` and `Tier`).

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use airflow_ecr_refresher::app;
use aws_sdk_ssm::operation::describe_parameters::DescribeParametersOutput;
use aws_sdk_ssm::operation::put_parameter::PutParameterOutput;
use aws_sdk_ssm::types::{ParameterMetadata, ParameterTier};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use refresher_aws::parameter_store::Parameters;
use refresher_core::store::{Store, Write};
use secrecy::SecretString;

const NAME: &str = "/airflow/connections/ecr";

fn store(rules: &[&Rule]) -> Parameters {
    let client = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, rules, |c| c
        .retry_config(app::retries())
        .timeout_config(app::timeouts()));
    Parameters::new(client)
}

/// `DescribeParameters` names the parameter's tier (`ParameterMetadata.Tier`).
fn described(tier: ParameterTier) -> Rule {
    mock!(aws_sdk_ssm::Client::describe_parameters).then_output(move || {
        DescribeParametersOutput::builder()
            .parameters(
                ParameterMetadata::builder()
                    .name(NAME)
                    .key_id("alias/aws/ssm")
                    .tier(tier.clone())
                    .build(),
            )
            .build()
    })
}

fn value(bytes: usize) -> SecretString {
    SecretString::from("x".repeat(bytes))
}

fn write(value: &SecretString) -> Write<'_> {
    Write {
        name: NAME,
        value,
        request_token: "unused by Parameter Store",
    }
}

#[tokio::test]
async fn an_advanced_parameter_is_overwritten_as_one_up_to_8_kb() {
    // Without a Tier, PutParameter uses the account's default tier ("Specifying a default
    // parameter tier", Systems Manager user guide): naming Advanced keeps the 8 KB limit
    // whatever that default is, and an advanced parameter can never go back to standard.
    let described = described(ParameterTier::Advanced);
    let put = mock!(aws_sdk_ssm::Client::put_parameter)
        .match_requests(|r| r.tier() == Some(&ParameterTier::Advanced))
        .then_output(|| PutParameterOutput::builder().version(2).build());
    let parameters = store(&[&described, &put]);
    let big = value(8_192);
    parameters.update(&write(&big)).await.unwrap();
    assert_eq!(put.num_calls(), 1);
    let err = parameters.update(&write(&value(8_193))).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("8193 bytes, over the 8192-byte limit of an advanced parameter"),
        "{err}"
    );
    assert_eq!(put.num_calls(), 1, "nothing sent over the limit");
}

#[tokio::test]
async fn standard_and_new_parameters_keep_the_4_kb_limit_and_their_tier() {
    let described = described(ParameterTier::Standard);
    let put = mock!(aws_sdk_ssm::Client::put_parameter)
        .match_requests(|r| r.tier().is_none())
        .then_output(|| PutParameterOutput::builder().version(2).build());
    let parameters = store(&[&described, &put]);
    let fits = value(4_096);
    parameters.update(&write(&fits)).await.unwrap();
    parameters.create(&write(&fits), None).await.unwrap();
    assert_eq!(
        put.num_calls(),
        2,
        "no tier named: never moved to the paid one"
    );
    let over = value(4_097);
    for err in [
        parameters.update(&write(&over)).await.unwrap_err(),
        parameters.create(&write(&over), None).await.unwrap_err(),
    ] {
        assert!(
            err.to_string()
                .contains("4097 bytes, over the 4096-byte limit of a standard parameter"),
            "{err}"
        );
    }
    assert_eq!(put.num_calls(), 2, "nothing sent over the limit");
}
