//! Connection URIs, cut where Airflow cuts them (`Connection._parse_from_uri` on top of
//! Python's `urllib.parse.urlsplit`), so that everything but the userinfo, host and port
//! is written back byte for byte, and a URI Airflow could not load is refused.

use super::{AirflowView, Claim, ConnectionError, Login};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};
use std::net::Ipv6Addr;

/// Python's `quote(s, safe="")`: everything but unreserved characters is escaped, so a `/`
/// or `@` in a password cannot end the userinfo early.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub(super) fn encode(s: &str) -> String {
    utf8_percent_encode(s, USERINFO).to_string()
}

/// Python's `unquote`: `+` stays `+`, invalid escapes stay as they are.
fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The pieces of a connection URI.
pub(super) struct UriParts<'a> {
    scheme: &'a str,
    userinfo: Option<&'a str>,
    host: &'a str,
    port: Option<&'a str>,
    /// Path, query and fragment, verbatim.
    tail: &'a str,
}

pub(super) fn split(uri: &str) -> Result<UriParts<'_>, ConnectionError> {
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
    let (host, port) = split_host_port(hostport)?;
    Ok(UriParts {
        scheme,
        userinfo,
        host,
        port,
        tail,
    })
}

/// `urlsplit`'s rules: brackets must pair around an IPv6 address ("Invalid IPv6 URL"); the
/// port follows the first ':' (or the ']') and must be ASCII digits from 0 to 65535
/// ("Port could not be cast to integer value", "Port out of range 0-65535").
fn split_host_port(hostport: &str) -> Result<(&str, Option<&str>), ConnectionError> {
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let (address, after) = bracketed
            .split_once(']')
            .ok_or(ConnectionError::BadUri("its host has an unclosed '['"))?;
        if address.parse::<Ipv6Addr>().is_err() {
            return Err(ConnectionError::BadUri(
                "its host is not a valid bracketed IPv6 address",
            ));
        }
        let host = &hostport[..address.len() + 2];
        let port = after.split_once(':').map(|(_, port)| port);
        (host, port)
    } else if hostport.contains(['[', ']']) {
        return Err(ConnectionError::BadUri("its host has an unpaired bracket"));
    } else {
        match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    let port = port.filter(|p| !p.is_empty());
    if let Some(port) = port {
        let digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
        if !digits || port.parse::<u32>().map_or(true, |p| p > 65535) {
            return Err(ConnectionError::BadUri(
                "its port is not a number from 0 to 65535",
            ));
        }
    }
    Ok((host, port))
}

/// The scheme as Airflow's conn_type: lower-case, `-` as `_`.
pub(super) fn conn_type(parts: &UriParts) -> String {
    parts.scheme.to_ascii_lowercase().replace('-', "_")
}

/// The same URI with new userinfo and host, no port and no protocol before the host
/// (Docker wants the bare host), the rest verbatim.
pub(super) fn update(parts: &UriParts, login: &Login, claim: Claim) -> String {
    let scheme = match claim {
        Claim::Managed => "docker",
        Claim::DockerConnection => parts.scheme,
    };
    format!(
        "{scheme}://{}:{}@{}{}",
        encode(&login.username),
        encode(login.password.expose_secret()),
        &login.host,
        parts.tail
    )
}

pub(super) fn view(parts: &UriParts) -> AirflowView {
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
    AirflowView {
        conn_type: Some(conn_type(parts)),
        host: Some(decode(parts.host).to_ascii_lowercase()).filter(|h| !h.is_empty()),
        login: login.filter(|l| !l.is_empty()),
        password: password.filter(|p| !p.is_empty()),
        port: parts.port.map(str::to_owned),
        extra,
    }
}
