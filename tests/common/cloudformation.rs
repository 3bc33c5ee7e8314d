//! CloudFormation's side of the deploy-time refresh: its custom resource requests, and its
//! pre-signed `ResponseURL` served by a `TlsWorld` host, as S3 would.

use super::fake_aws::{FakeAws, Outcome, start_lambda};
use super::tls_world::{Seen, TlsWorld};
use serde_json::{Value, json};

/// CloudFormation's response bucket, as its pre-signed URLs name it.
pub const BUCKET_HOST: &str = "cloudformation-custom-resource-response-useast1.s3.amazonaws.com";
/// The part of the URL that grants the write: it must never be printed.
pub const SIGNATURE: &str =
    "X-Amz-Signature=5eb0f7c4d1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c";

pub fn response_url() -> String {
    format!(
        "https://{BUCKET_HOST}/arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/airflow/1f2e%7CDeployRefresh%7C5d478078?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=7200&{SIGNATURE}"
    )
}

/// A request as CloudFormation sends it ("Custom resource request objects").
pub fn request(kind: &str) -> Value {
    let mut request = json!({
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:refresher",
        "ResponseURL": response_url(),
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/airflow/1f2e",
        "RequestId": "5d478078-13e9-baf0-464a-7ef285ecc786",
        "ResourceType": "Custom::DeployRefresh",
        "LogicalResourceId": "DeployRefresh",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:refresher",
            "Connections": "docker_ecr"
        }
    });
    if kind != "Create" {
        request["PhysicalResourceId"] = json!("airflow-ecr-refresher-DeployRefresh");
    }
    if kind == "Update" {
        request["OldResourceProperties"] = request["ResourceProperties"].clone();
    }
    request
}

/// S3 accepting the PUT (200 with an ETag), as a pre-signed URL does.
pub fn bucket() -> TlsWorld {
    TlsWorld::start(&["*.s3.amazonaws.com"], |_| {
        (
            200,
            vec![("ETag", "\"9b2cf535f27731c974343645a3985328\"".into())],
            String::new(),
        )
    })
}

/// One invocation of the function with `event`, its HTTPS through `world`, its AWS at
/// `fake` unless `vars` says otherwise.
pub fn invoke(fake: &FakeAws, world: &TlsWorld, vars: &[(&str, &str)]) -> Outcome {
    let proxy = world.vars();
    let mut all: Vec<(&str, &str)> = proxy.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(vars);
    start_lambda(fake, &all).finish(fake)
}

/// What CloudFormation read at its URL: each PUT's document.
pub fn responses(world: &TlsWorld) -> Vec<(Seen, Value)> {
    world
        .seen()
        .into_iter()
        .map(|seen| {
            let body = serde_json::from_str(&seen.body).expect("the response is JSON");
            (seen, body)
        })
        .collect()
}
