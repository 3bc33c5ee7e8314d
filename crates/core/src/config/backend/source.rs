//! Which of Airflow's variables hold the backend and its kwargs: picked as Airflow 3's
//! configuration parser picks them for a worker, where `DockerOperator` runs
//! (`_get_custom_secret_backend(worker_mode=True)` in airflow-core's and the task-sdk's
//! `_shared/configuration/parser.py`), and `[core] multi_team` read as `conf.getboolean` reads it.

use crate::config::error::ConfigError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Airflow's `[secrets] backend`: the backend class.
pub const BACKEND: &str = "AIRFLOW__SECRETS__BACKEND";
/// Airflow's `[secrets] backend_kwargs`: the backend's arguments, as JSON.
pub const KWARGS: &str = "AIRFLOW__SECRETS__BACKEND_KWARGS";
/// Airflow 3's `[workers] secrets_backend`: the backend class a worker uses, when set.
pub const WORKERS_BACKEND: &str = "AIRFLOW__WORKERS__SECRETS_BACKEND";
/// Airflow 3's `[workers] secrets_backend_kwargs`: that backend's arguments, as JSON.
pub const WORKERS_KWARGS: &str = "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS";
/// Airflow 3's `[core] multi_team`: whether Airflow runs in multi-team mode.
pub const MULTI_TEAM: &str = "AIRFLOW__CORE__MULTI_TEAM";

/// The section a worker's backend comes from: `[workers]` when its `secrets_backend` is set,
/// else `[secrets]`. Each section's kwargs and per-key variables go with its own class only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `[workers]`: a worker's own backend settings.
    Workers,
    /// `[secrets]`: the general backend settings, used when `[workers]` sets no backend.
    Secrets,
}

/// The kwargs the function reads (Secrets Manager's backend takes them all): each has a
/// per-key variable name to cite in errors.
pub(super) const USED: [&str; 6] = [
    "connections_prefix",
    "sep",
    "connections_lookup_pattern",
    "extra_conn_words",
    "region_name",
    "role_arn",
];

macro_rules! per_key_names {
    ($prefix:literal) => {
        [
            concat!($prefix, "CONNECTIONS_PREFIX"),
            concat!($prefix, "SEP"),
            concat!($prefix, "CONNECTIONS_LOOKUP_PATTERN"),
            concat!($prefix, "EXTRA_CONN_WORDS"),
            concat!($prefix, "REGION_NAME"),
            concat!($prefix, "ROLE_ARN"),
        ]
    };
}

impl Section {
    /// The variable naming this section's backend class.
    pub const fn backend(self) -> &'static str {
        match self {
            Self::Workers => WORKERS_BACKEND,
            Self::Secrets => BACKEND,
        }
    }

    /// The variable holding this section's backend kwargs, as JSON.
    pub const fn kwargs(self) -> &'static str {
        match self {
            Self::Workers => WORKERS_KWARGS,
            Self::Secrets => KWARGS,
        }
    }

    /// `_build_kwarg_env_prefix`: the kwargs key made singular, `..._KWARG__<KEY>`.
    pub const fn per_key_prefix(self) -> &'static str {
        match self {
            Self::Workers => "AIRFLOW__WORKERS__SECRETS_BACKEND_KWARG__",
            Self::Secrets => "AIRFLOW__SECRETS__BACKEND_KWARG__",
        }
    }

    /// The per-key variables of the keys the function reads (`USED`), upper-cased as usually
    /// spelled (Airflow lower-cases the suffix, so any spelling sets the same key).
    pub const fn per_key_variables(self) -> [&'static str; USED.len()] {
        match self {
            Self::Workers => per_key_names!("AIRFLOW__WORKERS__SECRETS_BACKEND_KWARG__"),
            Self::Secrets => per_key_names!("AIRFLOW__SECRETS__BACKEND_KWARG__"),
        }
    }

    /// The per-key variable of `key`, to name in errors.
    fn per_key(self, key: &str) -> &'static str {
        USED.iter()
            .position(|used| *used == key)
            .map_or(self.per_key_prefix(), |i| self.per_key_variables()[i])
    }
}

/// The backend's kwargs as Airflow passes them to its `__init__`, and where each came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Kwargs {
    pub section: Section,
    pub values: Map<String, Value>,
    /// Keys set by a per-key variable (a raw string, never JSON), with that variable.
    per_key: BTreeMap<String, &'static str>,
    /// What the section's JSON said for a key a per-key variable then replaced.
    replaced: BTreeMap<String, Value>,
}

impl Kwargs {
    /// The variable that set `key`: its per-key variable, else the section's JSON.
    pub fn source(&self, key: &str) -> &'static str {
        self.per_key
            .get(key)
            .copied()
            .unwrap_or(self.section.kwargs())
    }

    pub fn is_per_key(&self, key: &str) -> bool {
        self.per_key.contains_key(key)
    }

    /// A key both the JSON and a per-key variable set must be set alike (`same` compares the
    /// JSON's text with the variable's). Airflow lets the per-key variable win
    /// (apache/airflow#63312: "Per-key variables override the same key in the JSON blob"),
    /// but two values for one setting mean two places: the JSON is what Airflow's
    /// configuration says, and the template's per-key variables are what its IAM grants
    /// name, so writing either one could write where Airflow never reads, or where the
    /// function may not write. Refused, naming both.
    pub fn agree(&self, key: &str, same: impl Fn(&str, &str) -> bool) -> Result<(), ConfigError> {
        let (Some(json), Some(Value::String(per_key))) =
            (self.replaced.get(key), self.values.get(key))
        else {
            return Ok(());
        };
        if let Value::String(json) = json
            && same(json, per_key)
        {
            return Ok(());
        }
        let parameter = template_parameter(key).map_or_else(String::new, |p| {
            format!(" (deploying with template.yaml: set its {p} parameter to the JSON's value)")
        });
        Err(bad(
            self.source(key),
            format!(
                "{per_key:?} disagrees with {key} {json} in {}: Airflow would use {per_key:?}, \
                 but two values for one setting mean the function could write where Airflow \
                 does not read, or where it may not write; remove {key} from {}, or make the two \
                 agree{parameter}",
                self.section.kwargs(),
                self.section.kwargs(),
            ),
        ))
    }

    /// A kwarg that must be text (or unset, or null in the JSON).
    pub fn text(&self, key: &str) -> Result<Option<&str>, ConfigError> {
        match self.values.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(bad(self.source(key), format!("{key} is {other}, not text"))),
        }
    }
}

/// The template's parameter passed as the per-key variable of `key` (template.yaml,
/// `RefresherFunction`'s `Environment`), which its IAM grants also name.
fn template_parameter(key: &str) -> Option<&'static str> {
    match key {
        "connections_prefix" => Some("ConnectionsPrefix"),
        "sep" => Some("ConnectionsSeparator"),
        "region_name" => Some("SecretsRegion"),
        "role_arn" => Some("SecretsRoleArn"),
        _ => None,
    }
}

pub fn bad(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

/// The worker's backend class (if set) and its kwargs. `get` reads one variable; `list` gives
/// every variable whose name starts with a prefix (the per-key variables are found by scanning).
pub fn select(
    get: &dyn Fn(&str) -> Option<String>,
    list: &dyn Fn(&str) -> Vec<(String, String)>,
) -> Result<(Option<String>, Kwargs), ConfigError> {
    // An empty class counts as unset, as `getimport` returns None for it.
    let var = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    let (section, class) = match var(WORKERS_BACKEND) {
        Some(class) => (Section::Workers, Some(class)),
        None => (Section::Secrets, var(BACKEND)),
    };
    let workers_per_key = list(Section::Workers.per_key_prefix());
    if section == Section::Secrets && (var(WORKERS_KWARGS).is_some() || !workers_per_key.is_empty())
    {
        tracing::warn!(
            "{WORKERS_KWARGS} (or a per-key {}<KEY>) is set but {WORKERS_BACKEND} is not: \
             Airflow's workers then use {BACKEND} with its kwargs, and so does this function",
            Section::Workers.per_key_prefix()
        );
    }
    let mut values: Map<String, Value> = match var(section.kwargs()) {
        None => Map::new(),
        // Airflow logs a warning and uses no kwargs at all; guessing would write where nobody
        // looks, so the function refuses instead.
        Some(raw) => serde_json::from_str(&raw).map_err(|e| {
            bad(
                section.kwargs(),
                format!("not a JSON object as in airflow.cfg's backend_kwargs: {e}"),
            )
        })?,
    };
    // `_collect_kwarg_env_vars`: the suffix lower-cased is the key, the value a raw string;
    // these override the JSON's keys. Only the chosen section's are read.
    let prefix = section.per_key_prefix();
    let mut per_key: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut spelled: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut replaced: BTreeMap<String, Value> = BTreeMap::new();
    for (name, value) in list(prefix) {
        let Some(suffix) = name.strip_prefix(prefix) else {
            continue;
        };
        let key = suffix.to_lowercase();
        if key.is_empty() {
            continue;
        }
        if let Some((other, earlier)) = spelled.get(&key)
            && *earlier != value
        {
            // Airflow takes whichever comes last in the process environment: no order to rely on.
            return Err(bad(
                section.per_key(&key),
                format!("{other} and {name} both set {key}, differently: keep one"),
            ));
        }
        per_key.insert(key.clone(), section.per_key(&key));
        if let Some(json) = values.insert(key.clone(), Value::String(value.clone()))
            && !spelled.contains_key(&key)
        {
            replaced.insert(key.clone(), json);
        }
        spelled.insert(key, (name, value));
    }
    if section == Section::Workers {
        for ignored in [BACKEND, KWARGS] {
            if var(ignored).is_some() {
                tracing::debug!(
                    "{ignored} is not used: {WORKERS_BACKEND} is set, and Airflow's workers use it"
                );
            }
        }
    }
    Ok((
        class,
        Kwargs {
            section,
            values,
            per_key,
            replaced,
        },
    ))
}

/// `[core] multi_team` as `conf.getboolean("core", "multi_team", fallback=False)` reads it:
/// lower-cased and stripped, an inline `#` comment dropped; `t`/`true`/`1` or `f`/`false`/`0`,
/// anything else (even empty) an error, as it is for Airflow. `None` when unset.
pub fn multi_team(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<bool>, ConfigError> {
    let Some(raw) = get(MULTI_TEAM) else {
        return Ok(None);
    };
    let lowered = raw.to_lowercase();
    let value = lowered.split('#').next().unwrap_or_default().trim();
    match value {
        "t" | "true" | "1" => Ok(Some(true)),
        "f" | "false" | "0" => Ok(Some(false)),
        _ => Err(bad(
            MULTI_TEAM,
            format!(
                "{raw:?} is not a boolean Airflow reads (true, t or 1; false, f or 0), so \
                 Airflow's own backend would fail every lookup"
            ),
        )),
    }
}
