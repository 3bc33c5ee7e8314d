//! JSON connection secrets, as the amazon provider's backends and `Connection.from_json`
//! read them (apache-airflow-providers-amazon `aws/secrets/secrets_manager.py`,
//! `_standardize_secret_keys`; Airflow `models/connection.py`, `from_json`).
//! Every value this function does not own is kept as its raw JSON text, so it comes back
//! byte for byte: huge integers, `1.5e3`, `1e400` (which Python reads) and string escapes
//! included. Values are only parsed (with `arbitrary_precision`) to check them.

use super::{AirflowView, Aliases, Claim, ConnectionError, Login};
use indexmap::IndexMap;
use secrecy::ExposeSecret;
use serde_json::Value;
use serde_json::error::Category;
use serde_json::value::RawValue;

/// A JSON object in its own key order, each value as written. A repeated key keeps its
/// first place and its last value, as Python's `json.loads` does.
pub(super) type Object = IndexMap<String, Box<RawValue>>;

pub(super) fn parse_object(value: &str, aliases: &Aliases) -> Result<Object, ConnectionError> {
    let map: Object = serde_json::from_str(value).map_err(|e| match e.classify() {
        Category::Data => ConnectionError::NotObject,
        _ => ConnectionError::BadJson {
            line: e.line(),
            column: e.column(),
        },
    })?;
    if !map.keys().any(|k| aliases.any(k)) {
        return Err(ConnectionError::NoConnectionKeys);
    }
    if let Some(key) = aliases.unloadable(map.keys()) {
        return Err(ConnectionError::UnloadableKey(super::describe_type(key)));
    }
    Ok(map)
}

/// The key Airflow reads for a field: the first alias present in the secret's order.
fn key_read<'m>(map: &'m Object, aliases: &[String]) -> Option<&'m String> {
    map.keys().find(|k| aliases.contains(k))
}

/// A raw value parsed for a check; it was valid JSON when the object parsed.
fn parsed(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

fn set_field(map: &mut Object, aliases: &[String], value: &str) -> Result<(), ConnectionError> {
    let key = key_read(map, aliases)
        .or(aliases.first())
        .cloned()
        .unwrap_or_default();
    let raw = serde_json::value::to_raw_value(value)
        .map_err(|_| ConnectionError::WouldNotResolve("value"))?;
    map.insert(key, raw);
    Ok(())
}

/// Python truthiness: `from_json` skips a falsy `port`, `conn_type` or `extra`.
fn truthy(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    })
}

/// Python's `int(x)` for a port: an integer, or text of one (`" 5000 "`, `"+5"`).
fn loads_as_port(value: &Value) -> bool {
    match value {
        Value::Bool(_) => true,
        Value::Number(n) => n.as_f64().is_some_and(f64::is_finite),
        Value::String(s) => {
            let s = s.trim();
            let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
            !digits.is_empty()
                && !digits.starts_with('_')
                && !digits.ends_with('_')
                && !digits.contains("__")
                && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        }
        Value::Null | Value::Array(_) | Value::Object(_) => false,
    }
}

fn as_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// What Airflow would load, or why it could not.
pub(super) fn view(map: &Object, aliases: &Aliases) -> Result<AirflowView, ConnectionError> {
    let fields: serde_json::Map<String, Value> =
        map.iter().map(|(k, v)| (k.clone(), parsed(v))).collect();
    let read = |words: &[String]| {
        let key = fields.keys().find(|k| words.contains(k))?;
        fields.get(key)
    };
    let conn_type = match truthy(read(&aliases.conn_type)) {
        None => None,
        Some(Value::String(s)) => Some(s.to_ascii_lowercase().replace('-', "_")),
        Some(_) => return Err(ConnectionError::ConnTypeNotText),
    };
    let port = truthy(read(&aliases.port));
    if port.is_some_and(|p| !loads_as_port(p)) {
        return Err(ConnectionError::BadPort);
    }
    let extra = match truthy(read(&aliases.extra)) {
        None => None,
        Some(Value::String(s)) => match serde_json::from_str(s) {
            Ok(object @ Value::Object(_)) => Some(object),
            _ => return Err(ConnectionError::BadExtra),
        },
        Some(object @ Value::Object(_)) => Some(object.clone()),
        Some(_) => return Err(ConnectionError::BadExtra),
    };
    Ok(AirflowView {
        conn_type,
        host: as_text(read(&aliases.host)),
        login: as_text(read(&aliases.login)),
        password: as_text(read(&aliases.password)),
        port: port.map(|p| as_text(Some(p)).unwrap_or_default()),
        extra,
    })
}

/// Replaces host, login and password under the keys Airflow reads, drops the port (the
/// registry address is the bare host), and keeps every other key, value and spelling.
pub(super) fn update(
    mut map: Object,
    login: &Login,
    claim: Claim,
    aliases: &Aliases,
) -> Result<String, ConnectionError> {
    set_field(&mut map, &aliases.host, &login.host)?;
    set_field(&mut map, &aliases.login, &login.username)?;
    set_field(&mut map, &aliases.password, login.password.expose_secret())?;
    // Every port key goes: removing only the one Airflow reads would expose the next.
    map.retain(|k, _| !aliases.port.contains(k));
    if claim == Claim::Managed {
        // Ours by its tag: make it the Docker connection it is meant to be.
        set_field(&mut map, &aliases.conn_type, "docker")?;
    }
    serde_json::to_string(&map).map_err(|_| ConnectionError::WouldNotResolve("value"))
}
