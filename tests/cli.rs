//! The real binary as a one-shot command: configuration errors, which need nothing
//! running. `cli_moto.rs` runs it against the local AWS.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::binary::{run, text};

/// A closed port: if the binary made any AWS call, it would fail differently.
const NO_AWS: &str = "http://127.0.0.1:9";

#[test]
fn configuration_errors_are_one_line_before_any_call() {
    let creds = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("AWS_REGION", "us-east-1"), ("AWS_ENDPOINT_URL", NO_AWS)],
            "error: no AWS credentials found: the SDK looked in AWS_ACCESS_KEY_ID",
        ),
        (
            &[
                ("AWS_REGION", "nowhere"),
                ("AWS_ENDPOINT_URL", NO_AWS),
                creds[0],
                creds[1],
            ],
            "error: invalid configuration: AWS_REGION: \"nowhere\" is not an AWS region name",
        ),
        (
            &[
                ("AWS_REGION", "US-EAST-1"),
                ("AWS_ENDPOINT_URL", NO_AWS),
                creds[0],
                creds[1],
            ],
            "error: invalid configuration: AWS_REGION: \"US-EAST-1\" is not an AWS region name",
        ),
        (
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL", "not a url"),
                creds[0],
                creds[1],
            ],
            "error: invalid configuration: AWS_ENDPOINT_URL: \"not a url\" is not an http(s) URL",
        ),
        (
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL", NO_AWS),
                ("KMS_KEY_ID", "garbage key!"),
                creds[0],
                creds[1],
            ],
            "error: invalid configuration: KMS_KEY_ID: \"garbage key!\" is not a KMS key",
        ),
    ];
    for (vars, expected) in cases {
        let mut vars = vars.to_vec();
        vars.push(("CONNECTIONS", "docker_ecr"));
        let out = run(&vars);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{vars:?}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        // One error line: aws-config's own warnings never print (src/logging.rs).
        let lines: Vec<&str> = stderr.trim_end().lines().collect();
        assert!(
            lines.last().is_some_and(|l| l.starts_with(expected)),
            "{vars:?}: {stderr}"
        );
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(!stderr.contains("dispatch failure"), "{stderr}");
    }
}
