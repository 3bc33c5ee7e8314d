//! The pull check (`check_image`) against ECR's documented answers, injected with
//! aws-smithy-mocks: moto keeps no multi-architecture images.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_ecr::operation::batch_get_image::BatchGetImageOutput;
use aws_sdk_ecr::types::{Image, ImageFailure, ImageFailureCode, ImageIdentifier};
use aws_smithy_mocks::{RuleMode, mock};
use refresher_aws::ecr::Ecr;
use refresher_core::login::PullCheckError;
use refresher_core::pull::ImageRef;
use refresher_core::target::Region;

const MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn ecr(rule: &aws_smithy_mocks::Rule) -> Ecr {
    let client = aws_smithy_mocks::mock_client!(aws_sdk_ecr, RuleMode::MatchAny, [rule]);
    Ecr::new(client.config().clone(), None)
}

fn image(reference: &str) -> ImageRef {
    ImageRef::try_from(reference.to_owned()).unwrap()
}

#[tokio::test]
async fn a_multi_architecture_image_passes_the_pull_check() {
    // A multi-architecture tag resolves to a manifest list or an OCI index. The request
    // must accept those types, as AWS's own containerd resolver for ECR does
    // (awslabs/amazon-ecr-containerd-resolver, ecr/base.go, supportedImageMediaTypes),
    // or the check could fail an image that `docker pull` pulls.
    for media_type in [MANIFEST_LIST, OCI_INDEX] {
        let get = mock!(aws_sdk_ecr::Client::batch_get_image)
            .match_requests(|r| {
                let accepted = r.accepted_media_types();
                [MANIFEST_LIST, OCI_INDEX]
                    .iter()
                    .all(|t| accepted.iter().any(|a| a == t))
            })
            .then_output(move || {
                BatchGetImageOutput::builder()
                    .images(
                        Image::builder()
                            .repository_name("team/app")
                            .image_id(ImageIdentifier::builder().image_tag("v1").build())
                            .image_manifest_media_type(media_type)
                            .image_manifest(r#"{"schemaVersion":2,"manifests":[]}"#)
                            .build(),
                    )
                    .build()
            });
        let region = Region::try_from("us-east-1".to_owned()).unwrap();
        ecr(&get)
            .check_pull(&region, None, "123456789012", &image("team/app:v1"))
            .await
            .unwrap_or_else(|e| panic!("{media_type}: {e}"));
        assert_eq!(get.num_calls(), 1, "{media_type}");
    }
}

#[tokio::test]
async fn a_missing_tag_is_named_with_ecrs_reason() {
    // BatchGetImage reports a missing tag in `failures`, not as an error (Amazon ECR API
    // Reference, BatchGetImage and ImageFailure).
    let get = mock!(aws_sdk_ecr::Client::batch_get_image).then_output(|| {
        BatchGetImageOutput::builder()
            .failures(
                ImageFailure::builder()
                    .image_id(ImageIdentifier::builder().image_tag("v9").build())
                    .failure_code(ImageFailureCode::ImageNotFound)
                    .failure_reason("Requested image not found")
                    .build(),
            )
            .build()
    });
    let region = Region::try_from("us-east-1".to_owned()).unwrap();
    let err = ecr(&get)
        .check_pull(&region, None, "123456789012", &image("team/app:v9"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PullCheckError::Missing { reason, .. } if reason == "ImageNotFound: Requested image not found"),
        "{err}"
    );
}

#[tokio::test]
async fn a_denied_pull_check_names_the_image_and_the_fix() {
    // ECR answers a principal without ecr:BatchGetImage with AccessDeniedException, HTTP
    // 400, JSON protocol (Amazon ECR API Reference, "Common Errors").
    let get = mock!(aws_sdk_ecr::Client::batch_get_image).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                r#"{"__type":"AccessDeniedException","message":"User: arn:aws:sts::123456789012:assumed-role/refresher/fn is not authorized to perform: ecr:BatchGetImage"}"#,
            ),
        )
    });
    let region = Region::try_from("us-east-1".to_owned()).unwrap();
    let err = ecr(&get)
        .check_pull(&region, None, "123456789012", &image("team/app:v1"))
        .await
        .unwrap_err();
    assert!(matches!(&err, PullCheckError::Denied { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("the token's principal may not pull team/app:v1")
            && message.contains("PullRepositoryArns"),
        "{message}"
    );
    assert_eq!(get.num_calls(), 1, "a refusal is not retried");
}
