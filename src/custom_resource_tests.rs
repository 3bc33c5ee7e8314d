use super::*;
use serde_json::json;

fn request(kind: &str) -> Value {
    json!({
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:refresher",
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=abc",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/airflow/1f2e",
        "RequestId": "5d478078-13e9-baf0-464a-7ef285ecc786",
        "ResourceType": "Custom::DeployRefresh",
        "LogicalResourceId": "DeployRefresh",
        "PhysicalResourceId": "airflow-ecr-refresher-DeployRefresh",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:refresher"}
    })
}

#[test]
fn each_request_type_is_read_and_its_ids_copied() {
    for (kind, asks) in [
        ("Create", RequestType::Create),
        ("Update", RequestType::Update),
        ("Delete", RequestType::Delete),
    ] {
        let parsed = parse(&request(kind)).unwrap();
        assert_eq!(parsed.asks, Ok(asks));
        assert_eq!(
            parsed.echo.request_id,
            "5d478078-13e9-baf0-464a-7ef285ecc786"
        );
    }
    assert!(is_custom_resource(&request("Create")));
    assert!(!is_custom_resource(&json!({"dry_run": true})));
}

#[test]
fn a_malformed_request_is_answered_failed_naming_what_is_wrong() {
    let mut bad_type = request("Create");
    bad_type["RequestType"] = json!("Upsert");
    let mut no_stack = request("Create");
    no_stack.as_object_mut().unwrap().remove("StackId");
    let mut no_physical = request("Delete");
    no_physical
        .as_object_mut()
        .unwrap()
        .remove("PhysicalResourceId");
    for (event, says) in [
        (
            bad_type,
            "RequestType \"Upsert\" is not Create, Update or Delete",
        ),
        (no_stack, "StackId is missing"),
        (no_physical, "Delete without a PhysicalResourceId"),
    ] {
        assert_eq!(parse(&event).unwrap().asks, Err(says.to_owned()));
    }
}

#[test]
fn without_an_https_response_url_nobody_can_be_answered_and_the_url_is_not_repeated() {
    for url in [
        json!(null),
        json!("http://example.com/x?sig=abc"),
        json!("not a url sig=abc"),
    ] {
        let mut event = request("Create");
        event["ResponseURL"] = url;
        let err = parse(&event).unwrap_err();
        assert!(!err.contains("sig=abc"), "{err}");
    }
    let parsed = parse(&request("Create")).unwrap();
    assert_eq!(format!("{parsed:?}").matches("Signature").count(), 0);
    // An answer names connections and secrets: it goes to AWS's domains only.
    for host in [
        "attacker.example.com",
        "s3.amazonaws.com.attacker.example",
        "amazonaws.com",
    ] {
        let mut event = request("Create");
        event["ResponseURL"] = json!(format!("https://{host}/x?sig=abc"));
        let err = parse(&event).unwrap_err();
        assert!(err.contains("not in an AWS domain"), "{host}: {err}");
        assert!(!err.contains("sig=abc"), "{err}");
    }
    for host in [
        "cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn",
        "cloudformation-custom-resource-response-usgovwest1.s3-us-gov-west-1.amazonaws.com",
    ] {
        let mut event = request("Create");
        event["ResponseURL"] = json!(format!("https://{host}/x?sig=abc"));
        assert!(parse(&event).is_ok(), "{host}");
    }
}

#[test]
fn an_update_keeps_its_physical_id_and_a_create_gets_a_stable_one() {
    let update = parse(&request("Update")).unwrap();
    let r = Response::new(&update.echo, Status::Success, String::new(), Map::new());
    assert_eq!(
        r.physical_resource_id,
        "airflow-ecr-refresher-DeployRefresh"
    );
    let mut create = request("Create");
    create["PhysicalResourceId"] = json!(null);
    let create = parse(&create).unwrap();
    let r = Response::new(&create.echo, Status::Failed, "x".into(), Map::new());
    assert_eq!(
        r.physical_resource_id,
        "airflow-ecr-refresher-DeployRefresh"
    );
    let body: Value = serde_json::from_str(&r.body()).unwrap();
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(body["LogicalResourceId"], "DeployRefresh");
    assert_eq!(
        body["StackId"],
        "arn:aws:cloudformation:us-east-1:123456789012:stack/airflow/1f2e"
    );
}

#[test]
fn a_long_reason_is_cut_to_fit_the_response_limit_on_a_character_boundary() {
    let echo = parse(&request("Update")).unwrap().echo;
    for unit in [
        "a",
        "é",
        "\"",
        "\\",
        "\n",
        "\u{1}",
        "\u{8}",
        "💥",
        "a\u{1f}é",
    ] {
        let reason = unit.repeat(9_000);
        let body = Response::new(&echo, Status::Failed, reason, Map::new()).body();
        assert!(body.len() <= RESPONSE_LIMIT, "{unit}: {}", body.len());
        assert!(
            body.len() > RESPONSE_LIMIT - 64,
            "{unit}: cut too much, {}",
            body.len()
        );
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert!(parsed["Reason"].as_str().unwrap().ends_with(CUT));
    }
    let short = Response::new(&echo, Status::Failed, "short".into(), Map::new()).body();
    assert!(short.contains("\"Reason\":\"short\""));
}
