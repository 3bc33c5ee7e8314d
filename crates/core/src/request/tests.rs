use super::*;
use serde_json::json;

#[test]
fn scheduled_events_and_empty_input_refresh_the_configured_connections() {
    let scheduled = json!({
        "version": "0", "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-28T00:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/refresh"], "detail": {}
    });
    assert_eq!(Request::from_event(scheduled), Ok(Request::default()));
    assert_eq!(Request::from_event(json!({})), Ok(Request::default()));
    assert_eq!(Request::from_event(Value::Null), Ok(Request::default()));
}

#[test]
fn manual_requests_choose_connections_and_dry_run() {
    let r = Request::from_event(
        json!({"connections": [{"conn_id": "a", "region": "eu-west-1"}], "dry_run": true}),
    )
    .unwrap();
    assert!(r.dry_run);
    assert_eq!(r.connections.unwrap()[0].conn_id.as_str(), "a");
    assert!(
        Request::from_event(json!({"dry_run": true}))
            .unwrap()
            .dry_run
    );
}

#[test]
fn keys_beside_an_eventbridge_envelope_are_honoured_or_refused() {
    let mut scheduled = json!({
        "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-28T00:00:00Z", "region": "us-east-1",
        "resources": [], "detail": {}, "dry_run": true
    });
    let r = Request::from_event(scheduled.clone()).unwrap();
    assert!(r.dry_run, "a dry run inside a scheduled event is a dry run");
    scheduled["connections"] = json!([{"conn_id": "only_this"}]);
    let r = Request::from_event(scheduled).unwrap();
    assert_eq!(r.connections.unwrap()[0].conn_id.as_str(), "only_this");
    for (event, expected) in [
        (
            json!({"detail-type": "x", "source": "y", "dryrun": true, "connections": "garbage"}),
            "unknown field `dryrun`",
        ),
        (
            json!({"detail-type": "x", "source": "y", "dry_run": "yes"}),
            "expected a boolean",
        ),
    ] {
        let err = Request::from_event(event).unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
}

#[test]
fn every_sample_event_in_the_repository_is_a_valid_request() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let event: Value = serde_json::from_str(&text).unwrap();
        let request = Request::from_event(event);
        assert!(request.is_ok(), "{}: {request:?}", path.display());
        seen += 1;
    }
    assert!(
        seen >= 4,
        "events/ holds the samples docs/configuration.md names"
    );
    let pull: Value =
        serde_json::from_str(include_str!("../../../../events/pull-check.json")).unwrap();
    let pull = Request::from_event(pull).unwrap();
    let shared = &pull.connections.unwrap()[1];
    assert!(shared.pull_role_arn.is_some() && shared.check_image.is_some());
}

#[test]
fn payloads_that_are_not_objects_are_refused() {
    for (event, kind) in [
        (json!([1]), "an array"),
        (json!("refresh"), "a string"),
        (json!(1), "a number"),
        (json!(true), "a boolean"),
    ] {
        let err = Request::from_event(event).unwrap_err().to_string();
        assert!(
            err.contains(&format!("the event is {kind}, not a JSON object")),
            "{err}"
        );
    }
}

#[test]
fn envelope_keys_without_an_envelope_are_unknown() {
    let err = Request::from_event(json!({"detail": {}, "dry_run": true})).unwrap_err();
    assert!(err.to_string().contains("unknown field `detail`"), "{err}");
}

fn scheduled(detail: Value) -> Value {
    json!({
        "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-28T00:00:00Z", "region": "us-east-1",
        "resources": [], "detail": detail
    })
}

#[test]
fn a_custom_events_detail_is_honoured_or_the_event_refused() {
    let r = Request::from_event(scheduled(json!({"dry_run": true}))).unwrap();
    assert!(r.dry_run, "a detail that says dry_run is a dry run");
    let r = Request::from_event(scheduled(json!({"connections": [{"conn_id": "x"}]}))).unwrap();
    assert_eq!(r.connections.unwrap()[0].conn_id.as_str(), "x");
    let mut beside = scheduled(json!({"dry_run": true}));
    beside["connections"] = json!([{"conn_id": "x"}]);
    let r = Request::from_event(beside).unwrap();
    assert!(
        r.dry_run && r.connections.is_some(),
        "detail and beside combine"
    );
    let mut ecr_push = scheduled(json!({"action-type": "PUSH", "repository-name": "app"}));
    ecr_push["source"] = json!("aws.ecr");
    for (event, says) in [
        (
            ecr_push,
            r#"the event's "detail" holds "action-type", which this function does not read"#,
        ),
        (
            scheduled(json!({"dry_run": true, "dryrun": true})),
            r#"the event's "detail" holds "dryrun""#,
        ),
        (
            scheduled(json!("dry_run")),
            r#"the event's "detail" is a string, not a JSON object"#,
        ),
        (scheduled(Value::Null), "detail is null"),
        (
            scheduled(json!({"dry_run": null})),
            "detail.dry_run is null",
        ),
        (scheduled(json!({"dry_run": "yes"})), "expected a boolean"),
        (
            {
                let mut both = scheduled(json!({"dry_run": true}));
                both["dry_run"] = json!(false);
                both
            },
            r#""dry_run" is given both in the event's "detail" and beside it"#,
        ),
    ] {
        let err = Request::from_event(event).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
        assert!(err.ends_with("nothing was written"), "{err}");
    }
}

#[test]
fn a_key_given_twice_is_refused_at_any_depth() {
    for (text, says) in [
        (
            r#"{"dry_run": true, "connections": [{"conn_id": "a"}], "dry_run": false}"#,
            r#"the key "dry_run" is given twice"#,
        ),
        (
            r#"{"connections": [{"conn_id": "a", "conn_id": "b"}]}"#,
            r#"the key "conn_id" is given twice in connections[0]"#,
        ),
        (
            r#"{"detail-type": "x", "source": "y", "detail": {"dry_run": true, "dry_run": false}}"#,
            r#"the key "dry_run" is given twice in detail"#,
        ),
        (
            r#"{"detail-type": "x", "source": "y", "source": "z", "detail": {}}"#,
            r#"the key "source" is given twice"#,
        ),
    ] {
        let err = Request::from_json(text).unwrap_err().to_string();
        assert!(err.starts_with("invalid manual request: "), "{err}");
        assert!(err.contains(says), "{text}: {err}");
    }
    let ok = r#"{"connections": [{"conn_id": "a"}, {"conn_id": "b"}], "dry_run": true}"#;
    assert_eq!(
        Request::from_json(ok).unwrap().connections.unwrap().len(),
        2
    );
}

#[test]
fn a_null_is_refused_wherever_it_is() {
    for (event, says) in [
        (json!({"connections": null}), "connections is null"),
        (json!({"dry_run": null}), "dry_run is null"),
        (
            json!({"connections": [{"conn_id": "a", "region": null}]}),
            "connections[0].region is null",
        ),
        (json!({"connections": [null]}), "connections[0] is null"),
    ] {
        let err = Request::from_event(event).unwrap_err().to_string();
        assert!(
            err.contains(&format!("{says}: leave the key out, or give it a value")),
            "{err}"
        );
    }
    assert_eq!(
        Request::from_json("null"),
        Ok(Request::default()),
        "no request at all"
    );
}

#[test]
fn a_deeply_nested_event_is_an_invalid_request() {
    let deep = format!(
        r#"{{"dry_run": {}true{}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    // What the runtime hands the handler accepts any depth, so the refusal is ours.
    let raw: Box<RawValue> = serde_json::from_str(&deep).unwrap();
    let err = raw.into_request().unwrap_err();
    assert!(
        err.to_string().contains("recursion limit exceeded"),
        "{err}"
    );
}

/// The request's keys and its connection entries' are the structs' own: an event's `detail`
/// is checked against them, and the error shows every one of them.
#[test]
fn the_request_keys_are_the_structs_own_and_shown_in_full() {
    assert_eq!(Request::keys(), ["connections", "dry_run"]);
    let err = Request::from_event(scheduled(json!({"dry_run": true, "conections": []})))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            r#"a detail may hold only {"connections", "dry_run"} (a scheduled event's is {})"#
        ),
        "{err}"
    );
    let expected = Request::expected();
    for key in TargetSpec::keys() {
        assert!(
            expected.contains(&format!("{key:?}: \"...\"")),
            "{expected}"
        );
    }
    assert!(expected.ends_with(r#""dry_run": true}"#), "{expected}");
    // Each listed key is one the parser knows: set to nonsense it is refused for its value.
    for key in TargetSpec::keys().iter().filter(|k| **k != "conn_id") {
        let err = Request::from_event(json!({"connections": [{"conn_id": "a", *key: 1}]}))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("unknown field"), "{key}: {err}");
    }
}

#[test]
fn malformed_requests_say_what_is_wrong() {
    let cases = [
        (json!({"dryrun": true}), "unknown field `dryrun`"),
        (
            json!({"dry_run": "yes"}),
            "invalid type: string \"yes\", expected a boolean",
        ),
        (
            json!({"connections": "a"}),
            "invalid type: string \"a\", expected a sequence",
        ),
        (
            json!({"connections": []}),
            "\"connections\" is an empty list",
        ),
        (
            json!({"connections": [{"conn_id": ""}]}),
            "invalid conn_id \"\"",
        ),
        (
            json!({"connections": [{"conn_id": "a b"}]}),
            "invalid conn_id \"a b\"",
        ),
        (
            json!({"connections": [{"conn_id": "a", "region": "europe"}]}),
            "invalid region \"europe\"",
        ),
        (
            json!({"connections": [{"region": "eu-west-1"}]}),
            "missing field `conn_id`",
        ),
    ];
    for (event, expected) in cases {
        let err = Request::from_event(event.clone()).unwrap_err().to_string();
        assert!(err.contains(expected), "{event}: {err}");
        assert!(err.starts_with("invalid manual request: "), "{err}");
    }
}
