//! Issue 24, item 2, end to end: the binary against the local AWS (moto) checks logins at
//! a stand-in registry reached as a deployment reaches one, through the egress proxy
//! `HTTPS_PROXY` names, over TLS with a CA from `SSL_CERT_FILE` (tests/common/tls_world.rs),
//! with no test-only switch. The stand-in speaks the registry API's authentication (Docker
//! Registry HTTP API V2, "API Version Check"): `GET /v2/` without the right login is a 401
//! with ECR's Basic challenge, with it a 200.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use common::binary::{run, text};
use common::tls_world::{Reply, Seen, TlsWorld};
use common::*;
use serde_json::Value;

/// moto's token, as GetAuthorizationToken returns it: base64 of `AWS:<password>`.
const MOTO_TOKEN: &str = "QVdTOjEyMzQ1Njc4OTAxMi1hdXRoLXRva2Vu";
const STORED: &str = "Stored-Password-Sentinel";

/// A registry that accepts `AWS:<password>` and challenges anything else, as ECR does.
fn registry(password: &'static str) -> TlsWorld {
    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("AWS:{password}"))
    );
    TlsWorld::start(
        &["*.dkr.ecr.us-east-1.amazonaws.com"],
        move |seen: &Seen| -> Reply {
            if seen.path == "/v2/" && seen.header("authorization") == Some(good.as_str()) {
                return (
                    200,
                    vec![("Content-Type", "application/json".into())],
                    "{}".into(),
                );
            }
            let challenge = format!(
                r#"Basic realm="https://{}/",service="ecr.amazonaws.com""#,
                seen.host
            );
            let body = r#"{"errors":[{"code":"DENIED","message":"Not Authorized"}]}"#;
            (401, vec![("WWW-Authenticate", challenge)], body.into())
        },
    )
}

/// The binary, once, against moto and through `world`, logging everything.
fn refresh(world: &TlsWorld, prefix: &str, connections: &str) -> (Option<i32>, String, String) {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let network = world.vars();
    let mut vars = vec![
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            prefix,
        ),
        ("CONNECTIONS", connections),
        ("CHECK_LOGIN", "true"),
        ("RUST_LOG", "trace"),
    ];
    vars.extend(network.iter().map(|(k, v)| (*k, v.as_str())));
    let out = run(&vars);
    let (stdout, stderr) = text(&out);
    for secret in [MOTO_PASSWORD, MOTO_TOKEN, STORED] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "printed {secret}"
        );
    }
    (out.status.code(), stdout, stderr)
}

/// Only the registry host was ever asked for through the proxy.
fn only_the_registry_was_reached(world: &TlsWorld) {
    let connects = world.connects.lock().unwrap().clone();
    assert!(!connects.is_empty());
    let registry = format!("{OWN_HOST}:443");
    assert!(connects.iter().all(|c| *c == registry), "{connects:?}");
}

fn docker(password: &str) -> String {
    format!(r#"{{"conn_type":"docker","host":"{OWN_HOST}","login":"AWS","password":"{password}"}}"#)
}

#[tokio::test]
async fn a_good_login_is_checked_as_docker_does_and_reported() {
    let client = secrets().await; // fails with how to start moto when it is not running
    let prefix = unique_prefix("login-ok");
    create(&client, &format!("{prefix}/kept"), &docker(MOTO_PASSWORD)).await;
    let world = registry(MOTO_PASSWORD);
    let (code, stdout, stderr) = refresh(&world, &prefix, "new,kept");
    assert_eq!(code, Some(0), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        report["connections"][0].get("stored_login").is_none(),
        "{report}"
    );
    let stored = &report["connections"][1]["stored_login"];
    assert_eq!(
        (&stored["accepted"], &stored["died_early"]),
        (&Value::Bool(true), &Value::Bool(false))
    );
    only_the_registry_was_reached(&world);
    // Each check: the challenge first, without credentials, then the login.
    let seen = world.seen();
    assert_eq!(
        seen.len(),
        6,
        "kept's stored login, then new's and kept's fresh ones"
    );
    let asked: Vec<_> = seen
        .iter()
        .map(|s| s.header("authorization").is_some())
        .collect();
    assert_eq!(asked.iter().filter(|a| **a).count(), 3, "{asked:?}");
    assert!(seen.iter().all(|s| s.method == "GET" && s.path == "/v2/"));
}

#[tokio::test]
async fn a_refused_login_fails_its_connection_naming_it_and_stays_written() {
    let client = secrets().await;
    let prefix = unique_prefix("login-refused");
    let world = registry("not-this-one");
    let (code, stdout, stderr) = refresh(&world, &prefix, "refused");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let error = stderr.lines().last().unwrap();
    assert!(
        error.contains(&format!(
            "refused ({prefix}/refused): the registry {OWN_HOST} refused the login (HTTP 401"
        )),
        "{error}"
    );
    assert!(
        error.contains("the secret was still written, created"),
        "{error}"
    );
    let written = json(&get(&client, &format!("{prefix}/refused")).await.unwrap());
    assert_eq!(written["password"], MOTO_PASSWORD);
    only_the_registry_was_reached(&world);
}

#[tokio::test]
async fn a_stored_login_refused_before_its_stated_expiry_is_reported_as_died_early() {
    let client = secrets().await;
    let prefix = unique_prefix("login-died");
    // Written just now: ECR says such a token is good for 12 more hours.
    create(&client, &format!("{prefix}/died"), &docker(STORED)).await;
    let world = registry(MOTO_PASSWORD);
    let (code, stdout, stderr) = refresh(&world, &prefix, "died");
    assert_eq!(code, Some(0), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let stored = &report["connections"][0]["stored_login"];
    assert_eq!(stored["accepted"], false, "{report}");
    assert_eq!(stored["died_early"], true, "{report}");
    assert!(stored["stated_expiry"].as_str().is_some(), "{report}");
    assert!(stderr.contains("WARN"), "{stderr}");
    assert!(
        stderr.contains("refused before its stated expiry"),
        "{stderr}"
    );
    let written = json(&get(&client, &format!("{prefix}/died")).await.unwrap());
    assert_eq!(written["password"], MOTO_PASSWORD);
    only_the_registry_was_reached(&world);
}

/// The stated expiry needs when the stored value was written: both stores say so on read
/// (Secrets Manager's `CreatedDate`, Parameter Store's `LastModifiedDate`).
#[tokio::test]
async fn both_stores_say_when_the_value_was_written() {
    use refresher_core::store::{Current, Store};
    let prefix = unique_prefix("written-at");
    let name = format!("{prefix}/a");
    create(&secrets().await, &name, &docker(STORED)).await;
    let ssm = aws_sdk_ssm::Client::new(&sdk().await);
    let parameter = format!("/{name}");
    ssm.put_parameter()
        .name(&parameter)
        .value(docker(STORED))
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let stores: [(Box<dyn Store>, &str); 2] = [
        (
            Box::new(refresher_aws::secrets_manager::Secrets::new(
                secrets().await,
            )),
            &name,
        ),
        (
            Box::new(refresher_aws::parameter_store::Parameters::new(ssm)),
            &parameter,
        ),
    ];
    for (store, name) in stores {
        let read = store.read(&[name.to_owned()]).await;
        let Ok(Current::Text { written_at, .. }) = &read[0] else {
            panic!("{name}: {read:?}");
        };
        let age = std::time::SystemTime::now()
            .duration_since(written_at.expect("a written time"))
            .unwrap_or_default();
        assert!(age < std::time::Duration::from_secs(300), "{name}: {age:?}");
    }
}

#[tokio::test]
async fn an_unreachable_proxy_fails_the_check_without_printing_its_credentials() {
    let prefix = unique_prefix("login-check-proxy");
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    // A proxy that is not there, named with a user and password as HTTPS_PROXY allows.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!(
        "http://egress:Proxy-Pass-Sentinel@{}",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let out = run(&[
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        (
            "AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX",
            &prefix,
        ),
        ("CONNECTIONS", "docker_ecr"),
        ("CHECK_LOGIN", "true"),
        ("RUST_LOG", "trace"),
        ("HTTPS_PROXY", &proxy),
        ("NO_PROXY", "127.0.0.1,localhost"),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("could not be reached to check the login"),
        "{stderr}"
    );
    for text in [&stdout, &stderr] {
        assert!(!text.contains("Proxy-Pass-Sentinel"), "{text}");
        assert!(!text.contains(MOTO_PASSWORD), "{text}");
    }
}
