//! The one-shot command line: the same core as the Lambda handler, for a shell or a CI job.

use crate::app::{App, RunError};
use clap::Parser;
use refresher_core::config::parse_connections;
use refresher_core::report::Report;
use refresher_core::request::Request;
use refresher_core::target::TargetSpec;

/// Refresh Airflow Docker connections to Amazon ECR once, then exit.
///
/// Reads the same environment as the Lambda: CONNECTIONS, SECRET_FORMAT, KMS_KEY_ID,
/// SCHEDULE_EXPRESSION, CHECK_LOGIN and the usual AWS variables, and Airflow's own settings as an Airflow 3
/// worker reads them: AIRFLOW__WORKERS__SECRETS_BACKEND(_KWARGS), else
/// AIRFLOW__SECRETS__BACKEND(_KWARGS), each section's per-key ..._KWARG__<KEY> variables
/// (AIRFLOW__SECRETS__BACKEND_KWARG__CONNECTIONS_PREFIX, ..._SEP, ..._REGION_NAME,
/// ..._ROLE_ARN, as the deploy template passes them; a per-key variable that disagrees with
/// the same key in the JSON is refused), and AIRFLOW__CORE__MULTI_TEAM. Prints the report as
/// JSON on stdout, and exits non-zero if any connection failed.
#[derive(Debug, Parser)]
#[command(name = "airflow-ecr-refresher", version)]
pub struct Cli {
    /// Refresh these instead of CONNECTIONS: "a,b" or a JSON array of objects with the keys
    /// of `TargetSpec::keys()` (the help shows them).
    #[arg(long, value_name = "LIST", help = connections_help())]
    pub connections: Option<String>,
    /// Report what would be written, write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// The `--connections` help, its keys the parser's own.
fn connections_help() -> String {
    format!(
        "Refresh these instead of CONNECTIONS: \"a,b\" or a JSON array of {} objects",
        TargetSpec::keys_text()
    )
}

impl Cli {
    pub fn request(&self) -> Result<Request, RunError> {
        let connections = match &self.connections {
            Some(raw) => Some(parse_connections("--connections", raw)?),
            None => None,
        };
        Ok(Request {
            connections,
            dry_run: self.dry_run,
        })
    }

    pub async fn run(&self, app: &App) -> Result<Report, RunError> {
        app.run(self.request()?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_the_same_request_as_an_event() {
        let cli = Cli::try_parse_from(["x", "--connections", "a,b", "--dry-run"]).unwrap();
        let request = cli.request().unwrap();
        assert!(request.dry_run);
        let ids: Vec<_> = request
            .connections
            .unwrap()
            .iter()
            .map(|c| c.conn_id.to_string())
            .collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn connections_follow_the_same_rules_as_an_event() {
        for (raw, says) in [
            (
                r#"[{"conn_id":"a","conn_id":"b"}]"#,
                r#"the key "conn_id" is given twice in [0]"#,
            ),
            (
                r#"[{"conn_id":"a","team":null}]"#,
                "--connections[0].team is null",
            ),
        ] {
            let cli = Cli::try_parse_from(["x", "--connections", raw]).unwrap();
            let err = cli.request().unwrap_err().to_string();
            assert!(
                err.starts_with("invalid configuration: --connections: "),
                "{err}"
            );
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn bad_connections_name_the_flag() {
        let cli = Cli::try_parse_from(["x", "--connections", "a b"]).unwrap();
        let err = cli.request().unwrap_err().to_string();
        assert!(
            err.starts_with("invalid configuration: --connections: invalid conn_id"),
            "{err}"
        );
    }

    /// One list of a connection entry's keys: the struct's own (what the parser accepts), in
    /// the CLI's help, the errors, and template.yaml's Connections description. A key added to
    /// the struct and not the template, or the other way round, fails here; `team` was once
    /// missing from every hand-written list.
    #[test]
    fn every_connection_key_is_listed_wherever_the_keys_are_shown() {
        use clap::CommandFactory;
        let keys = TargetSpec::keys();
        assert!(
            keys.contains(&"conn_id") && keys.contains(&"team"),
            "{keys:?}"
        );
        let help = Cli::command().render_long_help().to_string();
        let err = Cli::try_parse_from(["x", "--connections", r#"[{"conn_id":"a","nope":1}]"#])
            .unwrap()
            .request()
            .unwrap_err()
            .to_string();
        let manual = refresher_core::request::Request::from_json(r#"{"dryrun": true}"#)
            .unwrap_err()
            .to_string();
        for key in keys {
            let quoted = format!("{key:?}");
            assert!(help.contains(&quoted), "--help lacks {quoted}: {help}");
            assert!(
                err.contains(&quoted),
                "the --connections error lacks {quoted}: {err}"
            );
            assert!(
                manual.contains(&quoted),
                "the request error lacks {quoted}: {manual}"
            );
        }
        assert!(err.contains("unknown field `nope`"), "{err}");
        assert_eq!(
            template_connection_keys(),
            keys,
            "template.yaml's Connections description"
        );
    }

    /// The keys in the `{"conn_id", ...}` of template.yaml's Connections description (the
    /// file is found from this crate's folder upwards, wherever the crate sits).
    fn template_connection_keys() -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let path = dir
            .ancestors()
            .map(|d| d.join("template.yaml"))
            .find(|p| p.is_file())
            .expect("template.yaml above the crate");
        let text = std::fs::read_to_string(path).unwrap();
        let (_, parameter) = text.split_once("\n  Connections:\n").unwrap();
        let (parameter, _) = parameter.split_once("\n  SecretsBackend:").unwrap();
        let words: String = parameter.split_whitespace().collect::<Vec<_>>().join(" ");
        let (_, listed) = words.split_once("array of {").unwrap();
        let (listed, _) = listed.split_once('}').unwrap();
        listed
            .split(", ")
            .map(|k| k.trim_matches('"').to_owned())
            .collect()
    }
}
