//! Airflow connection values, as the Secrets Manager backend reads them: parse the existing
//! secret, change only host, login and password, render it back in its own format.
//! Pure: no I/O, no SDK types. The rules mirror `SecretsManagerBackend` and
//! `Connection._parse_from_uri`; see `shared/docs/airflow-connections.md`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::{Map, Value, json};
use std::str::FromStr;

/// Airflow reads the FIRST of these keys present, in the secret's own key order.
const LOGIN_KEYS: &[&str] = &["login", "user", "username", "user_name"];
const PASSWORD_KEYS: &[&str] = &["password", "pass", "key"];
const HOST_KEYS: &[&str] = &["host", "remote_host", "server"];
const CONN_TYPE_KEYS: &[&str] = &["conn_type", "conn_id", "connection_type", "engine"];
const OTHER_KEYS: &[&str] = &["port", "extra", "schema", "database"];

/// Python's `quote(s, safe="")`: everything but unreserved characters is escaped, so a `/`
/// or `@` in a password cannot end the userinfo early.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The format of a secret this function creates; existing secrets keep their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretFormat {
    #[default]
    Json,
    Uri,
}

impl FromStr for SecretFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "uri" => Ok(Self::Uri),
            other => Err(format!(
                "{other:?} is not a secret format: use \"json\" or \"uri\""
            )),
        }
    }
}

/// What a Docker connection must log in with.
#[derive(Debug, Clone, Copy)]
pub struct DockerLogin<'a> {
    pub host: &'a str,
    pub login: &'a str,
    pub password: &'a str,
}

/// A connection as Airflow would see it. Used to check every value before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct AirflowView {
    pub conn_type: Option<String>,
    pub host: Option<String>,
    pub login: Option<String>,
    pub password: Option<String>,
    pub port: Option<String>,
    pub extra: Option<Value>,
}

/// Why an existing secret cannot be updated. Never quotes the secret: it holds a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    #[error("the secret is empty, so it is not an Airflow connection")]
    Empty,
    #[error("the secret starts with '{{' but is not valid JSON (line {line}, column {column})")]
    BadJson { line: usize, column: usize },
    #[error("the secret is JSON but not an object, so it is not an Airflow connection")]
    NotObject,
    #[error(
        "the secret is a JSON object with none of Airflow's connection keys (conn_type, host, \
         login, password, ...), so it is not an Airflow connection"
    )]
    NoConnectionKeys,
    #[error("the secret is neither JSON nor a connection URI of the form conn_type://...")]
    NotUri,
    #[error("the secret's connection URI is invalid: {0}")]
    BadUri(&'static str),
    #[error("after the update Airflow would not read the new {0}")]
    WouldNotResolve(&'static str),
}

/// The value for a new secret in the chosen format.
pub fn render_new(format: SecretFormat, login: &DockerLogin) -> Result<String, ConnectionError> {
    let value = match format {
        SecretFormat::Json => json!({
            "conn_type": "docker",
            "host": login.host,
            "login": login.login,
            "password": login.password,
            "extra": {"reauth": true},
        })
        .to_string(),
        SecretFormat::Uri => format!(
            "docker://{}:{}@{}?reauth=true",
            encode(login.login),
            encode(login.password),
            login.host
        ),
    };
    verified(value, login)
}

/// The existing secret with only its registry host, login and password replaced, in its
/// own format, with every other key, extra and spelling kept.
pub fn update(existing: &str, login: &DockerLogin) -> Result<String, ConnectionError> {
    let value = match Kind::of(existing)? {
        Kind::Json => update_json(existing, login)?,
        Kind::Uri => update_uri(existing, login)?,
    };
    verified(value, login)
}

/// Reads a value the way Airflow's Secrets Manager backend does.
pub fn airflow_view(value: &str) -> Result<AirflowView, ConnectionError> {
    match Kind::of(value)? {
        Kind::Json => json_view(&parse_object(value)?),
        Kind::Uri => uri_view(value),
    }
}

/// A value is only written if Airflow would read back exactly what we meant to write.
fn verified(value: String, login: &DockerLogin) -> Result<String, ConnectionError> {
    let view = airflow_view(&value)?;
    if view.host.as_deref() != Some(login.host) {
        return Err(ConnectionError::WouldNotResolve("registry host"));
    }
    if view.login.as_deref() != Some(login.login) {
        return Err(ConnectionError::WouldNotResolve("login"));
    }
    if view.password.as_deref() != Some(login.password) {
        return Err(ConnectionError::WouldNotResolve("password"));
    }
    Ok(value)
}

enum Kind {
    Json,
    Uri,
}

impl Kind {
    /// Airflow's rule: a value whose stripped text starts with `{` is JSON, else a URI.
    fn of(value: &str) -> Result<Self, ConnectionError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            Err(ConnectionError::Empty)
        } else if trimmed.starts_with('{') {
            Ok(Self::Json)
        } else {
            Ok(Self::Uri)
        }
    }
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, USERINFO).to_string()
}

/// Python's `unquote`: `+` stays `+`, invalid escapes stay as they are.
fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn parse_object(value: &str) -> Result<Map<String, Value>, ConnectionError> {
    let parsed: Value = serde_json::from_str(value).map_err(|e| ConnectionError::BadJson {
        line: e.line(),
        column: e.column(),
    })?;
    let Value::Object(map) = parsed else {
        return Err(ConnectionError::NotObject);
    };
    let known = [
        LOGIN_KEYS,
        PASSWORD_KEYS,
        HOST_KEYS,
        CONN_TYPE_KEYS,
        OTHER_KEYS,
    ];
    if !map
        .keys()
        .any(|k| known.iter().any(|keys| keys.contains(&k.as_str())))
    {
        return Err(ConnectionError::NoConnectionKeys);
    }
    Ok(map)
}

/// The key Airflow reads for a field: the first alias present in the secret's order.
fn key_read<'m>(map: &'m Map<String, Value>, aliases: &[&str]) -> Option<&'m String> {
    map.keys().find(|k| aliases.contains(&k.as_str()))
}

fn set_field(map: &mut Map<String, Value>, aliases: &[&str], value: &str) {
    let key = key_read(map, aliases)
        .cloned()
        .unwrap_or_else(|| aliases[0].to_owned());
    map.insert(key, Value::String(value.to_owned()));
}

fn update_json(existing: &str, login: &DockerLogin) -> Result<String, ConnectionError> {
    let mut map = parse_object(existing)?;
    set_field(&mut map, HOST_KEYS, login.host);
    set_field(&mut map, LOGIN_KEYS, login.login);
    set_field(&mut map, PASSWORD_KEYS, login.password);
    // Without a conn_type Airflow sees no Docker connection; an existing one is the user's.
    if key_read(&map, CONN_TYPE_KEYS).is_none() {
        map.insert("conn_type".into(), Value::String("docker".into()));
    }
    Ok(Value::Object(map).to_string())
}

fn as_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn json_view(map: &Map<String, Value>) -> Result<AirflowView, ConnectionError> {
    let field = |aliases: &[&str]| as_text(key_read(map, aliases).and_then(|k| map.get(k)));
    let extra = match map.get("extra") {
        Some(Value::String(s)) => serde_json::from_str(s).ok(),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.clone()),
    };
    Ok(AirflowView {
        conn_type: field(CONN_TYPE_KEYS),
        host: field(HOST_KEYS),
        login: field(LOGIN_KEYS),
        password: field(PASSWORD_KEYS),
        port: as_text(map.get("port")),
        extra,
    })
}

/// A connection URI cut where Airflow cuts it, so that everything but the userinfo and host
/// can be written back byte for byte.
struct UriParts<'a> {
    scheme: &'a str,
    userinfo: Option<&'a str>,
    host: &'a str,
    port: Option<&'a str>,
    /// Path, query and fragment, verbatim.
    tail: &'a str,
}

fn split_uri(uri: &str) -> Result<UriParts<'_>, ConnectionError> {
    let uri = uri.trim();
    let schemes = uri.matches("://").count();
    if schemes > 2 {
        return Err(ConnectionError::BadUri("it has more than two '://'"));
    }
    let (scheme, mut rest) = uri.split_once("://").ok_or(ConnectionError::NotUri)?;
    let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !valid_scheme {
        return Err(ConnectionError::NotUri);
    }
    if schemes == 2 {
        // `docker://https://user:pw@host`: Airflow's protocol-in-host form.
        let (protocol, after) = rest.split_once("://").ok_or(ConnectionError::NotUri)?;
        if protocol.contains(['@', ':']) {
            return Err(ConnectionError::BadUri(
                "a second '://' follows the userinfo",
            ));
        }
        rest = after;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((info, hostport)) => (Some(info), hostport),
        None => (None, authority),
    };
    let (host, port) = match hostport.rfind(':') {
        Some(i) if !hostport[i..].contains(']') => (&hostport[..i], Some(&hostport[i + 1..])),
        _ => (hostport, None),
    };
    if port.is_some_and(|p| !p.is_empty() && p.parse::<u16>().is_err()) {
        return Err(ConnectionError::BadUri("its port is not a number"));
    }
    Ok(UriParts {
        scheme,
        userinfo,
        host,
        port,
        tail,
    })
}

fn update_uri(existing: &str, login: &DockerLogin) -> Result<String, ConnectionError> {
    let parts = split_uri(existing)?;
    let port = parts.port.map(|p| format!(":{p}")).unwrap_or_default();
    // A protocol before the host is dropped on purpose: Docker wants the bare host.
    Ok(format!(
        "{}://{}:{}@{}{}{}",
        parts.scheme,
        encode(login.login),
        encode(login.password),
        login.host,
        port,
        parts.tail
    ))
}

fn uri_view(uri: &str) -> Result<AirflowView, ConnectionError> {
    let parts = split_uri(uri)?;
    let (login, password) = match parts.userinfo {
        None => (None, None),
        Some(info) => match info.split_once(':') {
            Some((user, pass)) => (Some(decode(user)), Some(decode(pass))),
            None => (Some(decode(info)), None),
        },
    };
    let query = parts
        .tail
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or_default())
        .unwrap_or_default();
    let pairs: Map<String, Value> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    let extra = match pairs.get("__extra__") {
        Some(Value::String(raw)) => serde_json::from_str(raw).ok(),
        _ if pairs.is_empty() => None,
        _ => Some(Value::Object(pairs)),
    };
    Ok(AirflowView {
        conn_type: Some(parts.scheme.to_ascii_lowercase().replace('-', "_")),
        host: Some(decode(parts.host).to_ascii_lowercase()).filter(|h| !h.is_empty()),
        login: login.filter(|l| !l.is_empty()),
        password: password.filter(|p| !p.is_empty()),
        port: parts.port.filter(|p| !p.is_empty()).map(str::to_owned),
        extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

    fn login(password: &str) -> DockerLogin<'_> {
        DockerLogin {
            host: HOST,
            login: "AWS",
            password,
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
        let updated = update(existing, &login("new")).unwrap();
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
        let updated = update(existing, &login("new")).unwrap();
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
    fn json_update_adds_missing_fields_and_a_docker_conn_type() {
        let updated = update(r#"{"extra":"{\"email\":\"a@b.c\"}"}"#, &login("pw")).unwrap();
        let v = view(&updated);
        assert_eq!(v.conn_type.as_deref(), Some("docker"));
        assert_eq!(v.host.as_deref(), Some(HOST));
        assert_eq!(v.extra, Some(json!({"email": "a@b.c"})));
        // An existing conn_type, even under an alias, is the user's choice.
        let kept = update(
            r#"{"engine":"docker","host":"h.example.com"}"#,
            &login("pw"),
        )
        .unwrap();
        assert!(!kept.contains("conn_type"));
    }

    #[test]
    fn uri_update_keeps_everything_but_userinfo_and_host() {
        let existing = "docker://olduser:oldpass@old.example.com:5000/schema?reauth=false&email=ops%40example.com#frag";
        let updated = update(existing, &login("n+e/w=")).unwrap();
        assert_eq!(
            updated,
            "docker://AWS:n%2Be%2Fw%3D@123456789012.dkr.ecr.us-east-1.amazonaws.com:5000/schema?reauth=false&email=ops%40example.com#frag"
        );
        let v = view(&updated);
        assert_eq!(
            v.extra,
            Some(json!({"reauth": "false", "email": "ops@example.com"}))
        );
        assert_eq!(v.port.as_deref(), Some("5000"));
    }

    #[test]
    fn uri_update_drops_a_protocol_before_the_host() {
        let updated = update(
            "docker://https://AWS:old@old.example.com?reauth=true",
            &login("pw"),
        )
        .unwrap();
        assert_eq!(updated, format!("docker://AWS:pw@{HOST}?reauth=true"));
    }

    #[test]
    fn uri_update_keeps_an_extra_blob() {
        let existing = "docker://AWS:old@h.example.com?__extra__=%7B%22reauth%22%3A+false%7D";
        let updated = update(existing, &login("pw")).unwrap();
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
                ConnectionError::BadUri("its port is not a number"),
            ),
            (
                "docker://AWS:pw@https://host",
                ConnectionError::BadUri("a second '://' follows the userinfo"),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(
                update(value, &login("pw")).as_ref(),
                Err(expected),
                "{value:?}"
            );
        }
        // Any one connection key makes an object a connection, whatever its value's type.
        assert!(update("{\"host\":1}", &login("pw")).is_ok());
        assert!(update("{\"password\":\"x\"}", &login("pw")).is_ok());
    }

    #[test]
    fn errors_never_quote_the_secret() {
        for value in ["{\"password\": hunter2}", "hunter2", "x://a:hunter2@b:c"] {
            let err = update(value, &login("pw")).unwrap_err();
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
}
