//! The connection rules, each against what Airflow itself does with the value.

use super::*;
use serde_json::Map;

const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

fn login(password: &str) -> Login {
    Login {
        host: HOST.into(),
        username: "AWS".into(),
        password: secrecy::SecretString::from(password.to_owned()),
        expires: None,
        principal: None,
    }
}

fn view(value: &str) -> AirflowView {
    airflow_view(value).unwrap()
}

#[test]
fn new_json_secret_is_a_docker_connection_with_reauth() {
    let value = render_new(SecretFormat::Json, &login("p+/=:%")).unwrap();
    assert_eq!(
        value,
        r#"{"conn_type":"docker","host":"123456789012.dkr.ecr.us-east-1.amazonaws.com","login":"AWS","password":"p+/=:%","extra":{"reauth":true}}"#
    );
}

#[test]
fn new_uri_secret_escapes_every_reserved_character() {
    let value = render_new(SecretFormat::Uri, &login("a+b/c=d:e%f@g")).unwrap();
    assert_eq!(
        value,
        "docker://AWS:a%2Bb%2Fc%3Dd%3Ae%25f%40g@123456789012.dkr.ecr.us-east-1.amazonaws.com?reauth=true"
    );
    let v = view(&value);
    assert_eq!(v.password.as_deref(), Some("a+b/c=d:e%f@g"));
    assert_eq!(v.extra, Some(json!({"reauth": "true"})));
    assert_eq!(v.conn_type.as_deref(), Some("docker"));
}

#[test]
fn json_update_keeps_other_keys_extras_and_order() {
    let existing = r#"{"conn_type":"docker","host":"old.example.com","login":"AWS","password":"old","extra":{"reauth":false,"email":"ops@example.com"},"team":"data"}"#;
    let updated = update(existing, &login("new"), false).unwrap();
    assert_eq!(
        updated,
        r#"{"conn_type":"docker","host":"123456789012.dkr.ecr.us-east-1.amazonaws.com","login":"AWS","password":"new","extra":{"reauth":false,"email":"ops@example.com"},"team":"data"}"#
    );
}

#[test]
fn json_update_writes_the_alias_airflow_reads() {
    // `user` comes first, so Airflow reads `user`, not `login`; `key` after `password`
    // is the user's own data and stays.
    let existing = r#"{"user":"old","login":"stale","server":"old.example.com","password":"old","key":"mine","conn_type":"docker"}"#;
    let updated = update(existing, &login("new"), false).unwrap();
    let map: Map<String, Value> = serde_json::from_str(&updated).unwrap();
    assert_eq!(map["user"], "AWS");
    assert_eq!(map["login"], "stale");
    assert_eq!(map["server"], HOST);
    assert!(!map.contains_key("host"));
    assert_eq!(map["password"], "new");
    assert_eq!(map["key"], "mine");
    assert!(!map.contains_key("conn_id"));
    let v = view(&updated);
    assert_eq!(
        (v.login.as_deref(), v.password.as_deref()),
        (Some("AWS"), Some("new"))
    );
}

#[test]
fn a_managed_secret_without_a_type_gets_fields_and_a_docker_conn_type() {
    let updated = update(r#"{"extra":"{\"email\":\"a@b.c\"}"}"#, &login("pw"), true).unwrap();
    let v = view(&updated);
    assert_eq!(v.conn_type.as_deref(), Some("docker"));
    assert_eq!(v.host.as_deref(), Some(HOST));
    assert_eq!(v.extra, Some(json!({"email": "a@b.c"})));
    // An existing docker conn_type under an alias stays under that alias.
    let kept = update(
        r#"{"engine":"docker","host":"h.example.com"}"#,
        &login("pw"),
        false,
    )
    .unwrap();
    assert!(!kept.contains("conn_type"));
}

#[test]
fn other_connection_types_are_never_turned_into_a_docker_login() {
    for (value, conn_type) in [
        (
            "postgresql://app:dbpass@db.example.com:5432/app",
            "postgresql",
        ),
        (
            r#"{"conn_type":"aws","login":"AKIAEXAMPLE","password":"secretkey","extra":{"region_name":"eu-west-1"}}"#,
            "aws",
        ),
        (r#"{"engine":"mysql","host":"db"}"#, "mysql"),
        ("http-api://u:p@example.com", "http_api"),
    ] {
        assert_eq!(
            update(value, &login("pw"), false),
            Err(ConnectionError::NotDocker(conn_type.into())),
            "{value}"
        );
        assert_eq!(ownership(value), Ok(Ownership::Other(conn_type.into())));
    }
    // A JSON connection with no type may be anyone's: refused unless tagged.
    let untyped = r#"{"host":"db.example.com","login":"app","password":"dbpass"}"#;
    assert_eq!(
        update(untyped, &login("pw"), false),
        Err(ConnectionError::Untyped)
    );
    assert_eq!(ownership(untyped), Ok(Ownership::Untyped));
    // Docker in any spelling Airflow accepts is a Docker connection.
    for docker in [
        r#"{"conn_type":"Docker"}"#,
        "DOCKER://u:p@h",
        r#"{"conn_type":""}"#,
    ] {
        let expected = if docker.contains("\"\"") {
            Ownership::Untyped
        } else {
            Ownership::Docker
        };
        assert_eq!(ownership(docker), Ok(expected), "{docker}");
    }
}

#[test]
fn a_managed_secret_of_another_type_becomes_a_docker_connection() {
    let updated = update(
        r#"{"conn_type":"aws","login":"x","password":"y","owner":"me"}"#,
        &login("pw"),
        true,
    )
    .unwrap();
    assert_eq!(
        updated,
        format!(
            r#"{{"conn_type":"docker","login":"AWS","password":"pw","owner":"me","host":"{HOST}"}}"#
        )
    );
    let uri = update("http://u:p@h.example.com/x?a=1", &login("pw"), true).unwrap();
    assert_eq!(uri, format!("docker://AWS:pw@{HOST}/x?a=1"));
}

#[test]
fn a_type_that_could_hold_anything_is_not_quoted() {
    assert_eq!(
        ownership(r#"{"conn_type":"hunter2 secret!"}"#),
        Ok(Ownership::Other("unrecognised".into()))
    );
}

#[test]
fn uri_update_keeps_everything_but_userinfo_and_host() {
    let existing = "docker://olduser:oldpass@old.example.com:5000/schema?reauth=false&email=ops%40example.com#frag";
    let updated = update(existing, &login("n+e/w="), false).unwrap();
    assert_eq!(
        updated,
        "docker://AWS:n%2Be%2Fw%3D@123456789012.dkr.ecr.us-east-1.amazonaws.com/schema?reauth=false&email=ops%40example.com#frag"
    );
    let v = view(&updated);
    assert_eq!(
        v.extra,
        Some(json!({"reauth": "false", "email": "ops@example.com"}))
    );
    assert_eq!(v.port, None, "the registry address is the bare host");
}

#[test]
fn uri_update_drops_a_protocol_before_the_host() {
    let updated = update(
        "docker://https://AWS:old@old.example.com?reauth=true",
        &login("pw"),
        false,
    )
    .unwrap();
    assert_eq!(updated, format!("docker://AWS:pw@{HOST}?reauth=true"));
}

#[test]
fn uri_update_keeps_an_extra_blob() {
    let existing = "docker://AWS:old@h.example.com?__extra__=%7B%22reauth%22%3A+false%7D";
    let updated = update(existing, &login("pw"), false).unwrap();
    assert!(updated.ends_with("?__extra__=%7B%22reauth%22%3A+false%7D"));
    assert_eq!(view(&updated).extra, Some(json!({"reauth": false})));
}

#[test]
fn values_that_are_not_connections_are_refused() {
    let cases: &[(&str, ConnectionError)] = &[
        ("", ConnectionError::Empty),
        ("   \n", ConnectionError::Empty),
        ("{not json", ConnectionError::BadJson { line: 1, column: 2 }),
        ("[1,2]", ConnectionError::NotUri),
        ("\"text\"", ConnectionError::NotUri),
        ("{\"api_key\":\"abc\"}", ConnectionError::NoConnectionKeys),
        ("hunter2", ConnectionError::NotUri),
        (
            "a://b://c://d",
            ConnectionError::BadUri("it has more than two '://'"),
        ),
        (
            "docker://AWS:pw@host:port",
            ConnectionError::BadUri("its port is not a number from 0 to 65535"),
        ),
        (
            "docker://AWS:pw@https://host",
            ConnectionError::BadUri("a second '://' follows the userinfo"),
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(
            update(value, &login("pw"), false).as_ref(),
            Err(expected),
            "{value:?}"
        );
    }
    // Any one connection key makes an object a connection, whatever its value's type.
    assert!(update("{\"conn_type\":\"docker\",\"host\":1}", &login("pw"), false).is_ok());
    assert!(update("{\"password\":\"x\"}", &login("pw"), true).is_ok());
}

#[test]
fn errors_never_quote_the_secret() {
    for value in ["{\"password\": hunter2}", "hunter2", "x://a:hunter2@b:c"] {
        let err = update(value, &login("pw"), false).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}

#[test]
fn secret_format_parses_case_insensitively_and_names_the_choices() {
    assert_eq!("URI".parse::<SecretFormat>(), Ok(SecretFormat::Uri));
    assert_eq!(" json ".parse::<SecretFormat>(), Ok(SecretFormat::Json));
    assert!(
        "yaml"
            .parse::<SecretFormat>()
            .unwrap_err()
            .contains("\"json\" or \"uri\"")
    );
}

#[test]
fn a_port_never_reaches_the_registry_address() {
    for existing in [
        r#"{"conn_type":"docker","host":"old.example.com","port":5000}"#,
        r#"{"conn_type":"docker","host":"old.example.com","port":"5000"}"#,
        "docker://u:p@old.example.com:5000",
        "docker://https://u:p@old.example.com:443",
        "docker://u:p@[::1]:5000/x",
    ] {
        let updated = update(existing, &login("pw"), false).unwrap();
        let v = view(&updated);
        assert_eq!(
            (v.host.as_deref(), v.port),
            (Some(HOST), None),
            "{existing}"
        );
    }
}

#[test]
fn values_airflow_cannot_load_are_refused_not_rewritten() {
    let cases: &[(&str, ConnectionError)] = &[
        (
            "docker://u:p@[::1/x",
            ConnectionError::BadUri("its host has an unclosed '['"),
        ),
        (
            "docker://u:p@::1]/x",
            ConnectionError::BadUri("its host has an unpaired bracket"),
        ),
        (
            "docker://u:p@[nothost]:1/x",
            ConnectionError::BadUri("its host is not a valid bracketed IPv6 address"),
        ),
        (
            "docker://u:p@h.example.com:+5000",
            ConnectionError::BadUri("its port is not a number from 0 to 65535"),
        ),
        (
            "docker://u:p@h.example.com:70000",
            ConnectionError::BadUri("its port is not a number from 0 to 65535"),
        ),
        (
            "docker://u:p@h.example.com:50:00",
            ConnectionError::BadUri("its port is not a number from 0 to 65535"),
        ),
        (
            r#"{"conn_type":"docker","port":"abc"}"#,
            ConnectionError::BadPort,
        ),
        (
            r#"{"conn_type":"docker","port":{"a":1}}"#,
            ConnectionError::BadPort,
        ),
        (
            r#"{"conn_type":123,"host":"h"}"#,
            ConnectionError::ConnTypeNotText,
        ),
        (
            r#"{"conn_type":"docker","extra":"not json"}"#,
            ConnectionError::BadExtra,
        ),
        (
            r#"{"conn_type":"docker","extra":5}"#,
            ConnectionError::BadExtra,
        ),
    ];
    for (value, expected) in cases {
        assert_eq!(
            update(value, &login("pw"), false).as_ref(),
            Err(expected),
            "{value}"
        );
        assert_eq!(
            update(value, &login("pw"), true).as_ref(),
            Err(expected),
            "{value}"
        );
    }
    // What Python's int() and Airflow's truthiness accept stays accepted.
    for ok in [
        r#"{"conn_type":"docker","port":" +50_00 "}"#,
        r#"{"conn_type":"docker","port":""}"#,
        r#"{"conn_type":"docker","port":null,"extra":""}"#,
        r#"{"conn_type":"docker","extra":"{\"reauth\": false}"}"#,
        "docker://u:p@h.example.com:/x",
    ] {
        assert!(update(ok, &login("pw"), false).is_ok(), "{ok}");
    }
}

#[test]
fn numbers_come_back_exactly_as_written() {
    let existing = r#"{"conn_type":"docker", "big": 123456789012345678901234567890,"f":1.5e3,"s":"caf\u00e9","extra":{"y":1e400, "z":-0.0,"n":10}}"#;
    let updated = update(existing, &login("pw"), false).unwrap();
    for kept in [
        r#""big":123456789012345678901234567890"#,
        r#""f":1.5e3"#,
        r#""s":"caf\u00e9""#,
        r#""extra":{"y":1e400, "z":-0.0,"n":10}"#,
    ] {
        assert!(updated.contains(kept), "{kept} in {updated}");
    }
}

#[test]
fn parameter_store_json_loads_only_connection_fields() {
    // Airflow 2.10 and 3 with the Parameter Store backend were run against these values:
    // `user`, `database`, `conn_id` or any other key makes the connection not found.
    let strict = Aliases::from_json_only();
    for (key, value) in [
        (
            "user",
            r#"{"conn_type":"docker","host":"h","user":"AWS","password":"p"}"#,
        ),
        (
            "note",
            r#"{"conn_type":"docker","host":"h","login":"AWS","note":"x"}"#,
        ),
        (
            "conn_id",
            r#"{"conn_id":"docker","host":"h","login":"AWS"}"#,
        ),
    ] {
        let err = strict.update(value, &login("new"), false).unwrap_err();
        assert_eq!(err, ConnectionError::UnloadableKey(key.into()));
        assert!(err.to_string().contains("rename it"), "{err}");
    }
    // The same value is fine for Secrets Manager, whose backend maps the aliases.
    let aliased = r#"{"conn_type":"docker","host":"h","user":"AWS","password":"p"}"#;
    assert!(update(aliased, &login("new"), false).is_ok());
    // Every field Connection takes is kept, `description` included.
    let value = r#"{"conn_type":"docker","description":"ECR","host":"old","login":"a","password":"b","schema":"s","port":5000,"extra":"{\"reauth\": false}"}"#;
    let updated = strict.update(value, &login("new"), false).unwrap();
    assert_eq!(
        updated,
        r#"{"conn_type":"docker","description":"ECR","host":"123456789012.dkr.ecr.us-east-1.amazonaws.com","login":"AWS","password":"new","schema":"s","extra":"{\"reauth\": false}"}"#
    );
    // A URI has no keys to get wrong.
    assert!(
        strict
            .update("docker://a:b@h?email=x", &login("new"), false)
            .is_ok()
    );
}
