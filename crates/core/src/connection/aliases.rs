//! The JSON keys Airflow's AWS secrets backends read for each connection field: their
//! defaults, extended by the backend's `extra_conn_words` (amazon provider,
//! `SecretsManagerBackend._standardize_secret_keys`). For each field Airflow reads the
//! FIRST key of the secret, in the secret's own order, that is one of these.
//!
//! The Parameter Store backend hands the value to `Connection.from_json` untouched: one
//! key per field, and any key `Connection` does not take makes the value unloadable
//! (Airflow then treats the connection as not found).

use std::collections::BTreeMap;

/// For each connection field, the JSON keys Airflow's backend reads it from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aliases {
    /// Keys read as the login (user name).
    pub login: Vec<String>,
    /// Keys read as the password.
    pub password: Vec<String>,
    /// Keys read as the host.
    pub host: Vec<String>,
    /// Keys read as the port.
    pub port: Vec<String>,
    /// Keys read as the schema.
    pub schema: Vec<String>,
    /// Keys read as the connection type.
    pub conn_type: Vec<String>,
    /// Keys read as the `extra` JSON.
    pub extra: Vec<String>,
    /// Only these keys load (Parameter Store); `None` when other keys are ignored.
    pub only: Option<Vec<String>>,
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| (*w).to_owned()).collect()
}

impl Default for Aliases {
    fn default() -> Self {
        Self {
            login: words(&["login", "user", "username", "user_name"]),
            password: words(&["password", "pass", "key"]),
            host: words(&["host", "remote_host", "server"]),
            port: words(&["port"]),
            schema: words(&["database", "schema"]),
            conn_type: words(&["conn_type", "conn_id", "connection_type", "engine"]),
            extra: words(&["extra"]),
            only: None,
        }
    }
}

impl Aliases {
    /// `Connection.from_json`'s keys: the parameters of `Connection.__init__` but
    /// `conn_id` and `uri` (which cannot be mixed with fields).
    pub fn from_json_only() -> Self {
        Self {
            login: words(&["login"]),
            password: words(&["password"]),
            host: words(&["host"]),
            port: words(&["port"]),
            schema: words(&["schema"]),
            conn_type: words(&["conn_type"]),
            extra: words(&["extra"]),
            only: Some(words(&[
                "conn_type",
                "description",
                "host",
                "login",
                "password",
                "schema",
                "port",
                "extra",
            ])),
        }
    }

    /// The first key that would make the value unloadable, if only some keys load.
    pub(super) fn unloadable<'k>(
        &self,
        mut keys: impl Iterator<Item = &'k String>,
    ) -> Option<&'k String> {
        let only = self.only.as_ref()?;
        keys.find(|k| !only.contains(k))
    }

    /// Airflow's defaults plus `extra_conn_words` (`{"login": ["usr"], ...}`; `user` is
    /// taken for `login`, as the backend does). An unknown field names itself.
    pub fn with_extra_words(extra: &BTreeMap<String, Vec<String>>) -> Result<Self, String> {
        let mut aliases = Self::default();
        for (field, added) in extra {
            let list = match field.as_str() {
                "login" | "user" => &mut aliases.login,
                "password" => &mut aliases.password,
                "host" => &mut aliases.host,
                "port" => &mut aliases.port,
                "schema" => &mut aliases.schema,
                "conn_type" => &mut aliases.conn_type,
                "extra" => &mut aliases.extra,
                other => {
                    return Err(format!(
                        "extra_conn_words names {other:?}, which is not a connection field \
                         (login, password, host, port, schema, conn_type, extra)"
                    ));
                }
            };
            list.extend(added.iter().cloned());
        }
        Ok(aliases)
    }

    /// Every key Airflow reads for some field: an object with none is not a connection.
    pub(super) fn any(&self, key: &str) -> bool {
        [
            &self.login,
            &self.password,
            &self.host,
            &self.port,
            &self.schema,
            &self.conn_type,
            &self.extra,
        ]
        .iter()
        .any(|list| list.iter().any(|w| w == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_words_extend_the_defaults_and_user_means_login() {
        let extra = BTreeMap::from([
            ("user".to_owned(), vec!["usr".to_owned()]),
            ("password".to_owned(), vec!["secret".to_owned()]),
        ]);
        let aliases = Aliases::with_extra_words(&extra).unwrap();
        assert_eq!(aliases.login.last().map(String::as_str), Some("usr"));
        assert!(aliases.password.contains(&"secret".to_owned()));
        let bad = BTreeMap::from([("passwd".to_owned(), vec!["p".to_owned()])]);
        assert!(
            Aliases::with_extra_words(&bad)
                .unwrap_err()
                .contains("\"passwd\"")
        );
    }
}
