//! Property tests over everything that parses input: events, configuration, secrets.
//! No input panics; what we render, Airflow's rules read back exactly; what we keep, we keep.

// Test helpers: a broken fixture should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use refresher_core::config::Settings;
use refresher_core::connection::{SecretFormat, airflow_view, render_new, update};
use refresher_core::login::Login;
use refresher_core::request::Request;
use serde_json::{Map, Value, json};

/// 2,000 cases per property; `PROPTEST_CASES` overrides it (proptest's default config
/// reads that variable, `with_cases` alone would not).
fn config() -> ProptestConfig {
    if std::env::var_os("PROPTEST_CASES").is_some() {
        ProptestConfig::default()
    } else {
        ProptestConfig::with_cases(2_000)
    }
}

fn host() -> impl Strategy<Value = String> {
    "[0-9]{12}\\.dkr\\.ecr\\.[a-z]{2}-[a-z]{4,9}-[1-9]\\.amazonaws\\.com(\\.cn)?"
}

/// Anything a registry could hand out, and the characters that break URIs.
fn secret_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{1,64}",
        "[+/=%:@?#&\\[\\] ]{1,16}",
        any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const KEYS: &[&str] = &[
    "conn_type",
    "conn_id",
    "engine",
    "host",
    "remote_host",
    "server",
    "login",
    "user",
    "username",
    "user_name",
    "password",
    "pass",
    "key",
    "port",
    "schema",
    "extra",
    "team",
    "owner",
    "note",
];

/// A JSON connection secret with any mix of aliases, in any order, plus the user's own keys.
fn json_connection() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((prop::sample::select(KEYS), json_value()), 1..10)
        .prop_map(|pairs| {
            let mut map = Map::new();
            for (k, v) in pairs {
                map.insert(k.to_owned(), v);
            }
            map
        })
        .prop_filter("holds a connection key", |m| {
            m.keys().any(|k| !USER_KEYS.contains(&k.as_str()))
        })
}

/// Keys that are the user's own, not Airflow's.
const USER_KEYS: &[&str] = &["team", "owner", "note"];

fn docker_login(host: &str, login: &str, password: &str) -> Login {
    Login {
        host: host.to_owned(),
        username: login.to_owned(),
        password: secrecy::SecretString::from(password.to_owned()),
        expires: None,
        principal: None,
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn rendered_values_read_back_exactly(host in host(), login in secret_text(), password in secret_text(), uri in any::<bool>()) {
        let format = if uri { SecretFormat::Uri } else { SecretFormat::Json };
        let docker = docker_login(&host, &login, &password);
        let value = render_new(format, &docker).expect("a new value always renders");
        let view = airflow_view(&value).unwrap();
        prop_assert_eq!(view.host.as_deref(), Some(host.as_str()));
        prop_assert_eq!(view.login.as_deref(), Some(login.as_str()));
        prop_assert_eq!(view.password.as_deref(), Some(password.as_str()));
        prop_assert_eq!(view.conn_type.as_deref(), Some("docker"));
        // Updating what we rendered gives the same value back: render-then-parse is the identity.
        prop_assert_eq!(update(&value, &docker, false).unwrap(), value);
    }

    #[test]
    fn json_updates_change_only_host_login_and_password(
        mut existing in json_connection(),
        docker_first in any::<bool>(),
        managed in any::<bool>(),
        host in host(),
        password in secret_text(),
    ) {
        if docker_first {
            // A Docker connection Airflow can load: the update must succeed.
            for k in ["conn_type", "conn_id", "engine", "port", "extra"] {
                existing.shift_remove(k);
            }
            existing.shift_insert(0, "conn_type".into(), json!("docker"));
        }
        let docker = docker_login(&host, "AWS", &password);
        let text = Value::Object(existing.clone()).to_string();
        let result = update(&text, &docker, managed);
        if docker_first {
            prop_assert!(result.is_ok(), "{:?}", result);
        }
        let Ok(updated) = result else { return Ok(()) };
        let updated: Map<String, Value> = serde_json::from_str(&updated).unwrap();
        let view = airflow_view(&Value::Object(updated.clone()).to_string()).unwrap();
        prop_assert_eq!(view.host.as_deref(), Some(host.as_str()));
        prop_assert_eq!(view.login.as_deref(), Some("AWS"));
        prop_assert_eq!(view.password.as_deref(), Some(password.as_str()));
        prop_assert_eq!(view.conn_type.as_deref(), Some("docker"));
        prop_assert_eq!(view.port, None);
        // No key but the aliases of host, login and password changes; the port goes, and a
        // tagged secret's conn_type becomes docker.
        let mut may_change = vec!["host", "remote_host", "server", "login", "user", "username",
                                  "user_name", "password", "pass", "key", "port"];
        if managed {
            may_change.extend(["conn_type", "conn_id", "connection_type", "engine"]);
        }
        for (k, v) in &existing {
            if updated.get(k) != Some(v) {
                prop_assert!(may_change.contains(&k.as_str()), "{} changed", k);
            }
        }
        let original_keys: Vec<&String> = existing.keys().filter(|k| *k != "port").collect();
        let kept_order: Vec<&String> = updated.keys().filter(|k| existing.contains_key(*k)).collect();
        prop_assert_eq!(original_keys, kept_order, "key order is kept");
    }

    #[test]
    fn uri_updates_keep_path_query_and_fragment(
        scheme in "[dD][oO][cC][kK][eE][rR]",
        userinfo in "([A-Za-z0-9%._~-]{1,10}(:[A-Za-z0-9%._~-]{0,10})?@)?",
        old_host in "[a-z0-9.-]{1,20}",
        port in "(:[0-9]{1,4})?",
        tail in "(/[A-Za-z0-9%._~-]{0,10})?(\\?[A-Za-z0-9%=&._~+-]{0,20})?(#[a-z]{0,5})?",
        host in host(),
        password in secret_text(),
    ) {
        let existing = format!("{scheme}://{userinfo}{old_host}{port}{tail}");
        let docker = docker_login(&host, "AWS", &password);
        let updated = update(&existing, &docker, false).unwrap();
        prop_assert!(updated.starts_with(&format!("{scheme}://AWS:")), "{}", updated);
        // The port is dropped: the registry address is the bare host.
        let _ = port;
        let expected_end = format!("@{host}{tail}");
        prop_assert!(updated.ends_with(&expected_end), "{}", updated);
    }

    #[test]
    fn any_secret_text_is_updated_or_refused_never_a_panic(text in any::<String>(), managed in any::<bool>(), password in secret_text()) {
        let docker = docker_login("h.example.com", "AWS", &password);
        if let Ok(updated) = update(&text, &docker, managed) {
            let view = airflow_view(&updated).unwrap();
            prop_assert_eq!(view.password.as_deref(), Some(password.as_str()));
        }
    }

    #[test]
    fn any_event_gives_a_request_or_a_typed_error(event in json_value()) {
        match Request::from_event(event) {
            Ok(_) => {}
            Err(e) => prop_assert!(e.to_string().starts_with("invalid manual request: ")),
        }
    }

    #[test]
    fn any_connections_setting_parses_or_names_the_variable(raw in prop_oneof![any::<String>(), json_value().prop_map(|v| v.to_string())]) {
        if let Err(e) = Settings::from_lookup(|k| (k == "CONNECTIONS").then(|| raw.clone())) {
            prop_assert_eq!(e.variable, "CONNECTIONS");
        }
    }

    #[test]
    fn any_token_decodes_or_is_refused_without_echoing_it(token in any::<String>()) {
        if let Err(e) = Login::from_authorization(&token, "https://1.dkr.ecr.us-east-1.amazonaws.com", None, None) {
            prop_assert!(token.len() < 4 || !e.to_string().contains(&token));
        }
    }
}
