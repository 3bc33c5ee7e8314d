//! CloudWatch metrics in the Embedded Metric Format: one JSON line on stdout per run, turned
//! into metrics by Lambda's log pipeline with no API call and no extra permission.

use crate::app::{App, RunError};
use refresher_core::report::{Outcomes, Report};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const NAMESPACE: &str = "AirflowEcrRefresher";

/// Seconds from `from` to `to`, negative when `to` is earlier.
fn seconds(from: SystemTime, to: SystemTime) -> i64 {
    match to.duration_since(from) {
        Ok(left) => left.as_secs() as i64,
        Err(past) => -(past.duration().as_secs() as i64),
    }
}

/// The EMF record for a run's outcomes, run by a schedule of `period` if known.
/// `ConnectionsRefreshed` (what the stale alarm watches) counts every connection that now
/// holds a fresh login, even one that failed a later check; `ConnectionsFailed` counts
/// every connection not done as asked, including those a stop left unfinished.
/// `SecondsUntilExpiry` is the soonest expiry of the logins written (each the earlier of
/// its token's and its credentials'); `SecondsLeftAtNextRun` is what that login has left
/// when the next scheduled run starts at the latest, the margin the expiry alarm watches.
pub fn record(
    function_name: &str,
    outcomes: &Outcomes,
    now: SystemTime,
    period: Option<Duration>,
) -> Value {
    let refreshed = outcomes.written().count();
    let failed = outcomes.failed.len() + outcomes.unfinished.len();
    let earliest = outcomes.written().filter_map(|r| r.expires).min();
    let seconds_left = earliest.map(|e| seconds(now, e));
    let left_at_next_run = earliest.zip(period).map(|(e, p)| seconds(now + p, e));
    let mut metrics = vec![
        json!({"Name": "ConnectionsRefreshed", "Unit": "Count"}),
        json!({"Name": "ConnectionsFailed", "Unit": "Count"}),
    ];
    let mut record = json!({
        "FunctionName": function_name,
        "ConnectionsRefreshed": refreshed,
        "ConnectionsFailed": failed,
    });
    if let Some(seconds) = seconds_left {
        metrics.push(json!({"Name": "SecondsUntilExpiry", "Unit": "Seconds"}));
        record["SecondsUntilExpiry"] = json!(seconds);
    }
    if let Some(seconds) = left_at_next_run {
        metrics.push(json!({"Name": "SecondsLeftAtNextRun", "Unit": "Seconds"}));
        record["SecondsLeftAtNextRun"] = json!(seconds);
    }
    let millis = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    record["_aws"] = json!({
        "Timestamp": millis as u64,
        "CloudWatchMetrics": [{
            "Namespace": NAMESPACE,
            "Dimensions": [["FunctionName"]],
            "Metrics": metrics,
        }],
    });
    record
}

/// The run's metrics, when it got as far as touching a connection.
pub fn emit(app: &App, result: &Result<Report, RunError>) {
    let Some(outcomes) = outcomes(result) else {
        return;
    };
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into());
    let period = app
        .settings
        .as_ref()
        .ok()
        .and_then(|s| s.schedule)
        .map(|s| s.period);
    // EMF must be a bare JSON line on stdout, not wrapped by the log formatter.
    println!(
        "{}",
        record(&function, &outcomes, SystemTime::now(), period)
    );
}

/// What a run did to its connections, when it got as far as touching any: a run stopped
/// by the deadline or a signal counts too, its unfinished connections as failed.
pub fn outcomes(result: &Result<Report, RunError>) -> Option<Outcomes> {
    match result {
        Ok(report) => Some(Outcomes {
            refreshed: report.connections.clone(),
            ..Outcomes::default()
        }),
        Err(RunError::Refresh(e)) => Some(Outcomes {
            refreshed: e.refreshed.clone(),
            failed: e.failed.clone(),
            unfinished: Vec::new(),
        }),
        Err(RunError::Stopped(s)) => Some(s.outcomes.clone()),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refresher_core::failure::TargetFailure;
    use refresher_core::login::PullCheckError;
    use refresher_core::report::Unfinished;
    use refresher_core::report::{Action, Failed, Refreshed};

    fn outcomes(refreshed: Vec<Refreshed>, failed: usize) -> Outcomes {
        let unfinished = (0..failed)
            .map(|i| Unfinished {
                conn_id: format!("u{i}"),
                secret_name: format!("p/u{i}"),
            })
            .collect();
        Outcomes {
            refreshed,
            failed: Vec::new(),
            unfinished,
        }
    }

    fn refreshed(expires: Option<SystemTime>) -> Refreshed {
        Refreshed {
            conn_id: "a".into(),
            secret_name: "s".into(),
            registry: "r".into(),
            action: Action::Updated,
            expires_at: None,
            expires,
            stored_login: None,
        }
    }

    #[test]
    fn record_counts_and_reports_the_earliest_expiry() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let rows = [
            refreshed(Some(now + Duration::from_secs(43_200))),
            refreshed(Some(now + Duration::from_secs(600))),
        ];
        let r = record("fn", &outcomes(rows.to_vec(), 1), now, None);
        assert_eq!(r["ConnectionsRefreshed"], 2);
        assert_eq!(r["ConnectionsFailed"], 1);
        assert_eq!(r["SecondsUntilExpiry"], 600);
        assert_eq!(r["FunctionName"], "fn");
        assert_eq!(r["_aws"]["Timestamp"], 1_000_000_000u64);
        let names: Vec<_> = r["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "ConnectionsRefreshed",
                "ConnectionsFailed",
                "SecondsUntilExpiry"
            ]
        );
    }

    #[test]
    fn a_connection_written_but_failing_its_pull_check_is_fresh_and_failed() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let written = refreshed(Some(now + Duration::from_secs(43_200)));
        let failed = Failed {
            conn_id: "a".into(),
            secret_name: "s".into(),
            cause: TargetFailure::PullCheck {
                action: Action::Updated,
                source: PullCheckError::Missing {
                    image: "repo:tag".into(),
                    reason: "ImageNotFound".into(),
                },
            },
            written: Some(written),
        };
        let run = Outcomes {
            failed: vec![failed],
            ..Outcomes::default()
        };
        let r = record("fn", &run, now, None);
        assert_eq!(r["ConnectionsRefreshed"], 1, "its token is fresh");
        assert_eq!(r["ConnectionsFailed"], 1, "its check failed");
        assert_eq!(r["SecondsUntilExpiry"], 43_200);
    }

    #[test]
    fn the_soonest_expiry_is_measured_against_the_next_scheduled_run() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        // A pull role's login, one hour, beside a 12-hour token; runs every 30 minutes.
        let rows = [
            refreshed(Some(now + Duration::from_secs(43_200))),
            refreshed(Some(now + Duration::from_secs(3600))),
        ];
        let r = record(
            "fn",
            &outcomes(rows.to_vec(), 0),
            now,
            Some(Duration::from_secs(1800)),
        );
        assert_eq!(r["SecondsUntilExpiry"], 3600);
        assert_eq!(r["SecondsLeftAtNextRun"], 1800);
        let metrics = &r["_aws"]["CloudWatchMetrics"][0]["Metrics"];
        assert_eq!(
            metrics[3],
            json!({"Name": "SecondsLeftAtNextRun", "Unit": "Seconds"})
        );
        // Every six hours, that login is gone five hours before the next run.
        let r = record(
            "fn",
            &outcomes(rows.to_vec(), 0),
            now,
            Some(Duration::from_secs(21_600)),
        );
        assert_eq!(r["SecondsLeftAtNextRun"], -18_000);
        // Without a schedule there is no next run to measure against.
        let r = record("fn", &outcomes(rows.to_vec(), 0), now, None);
        assert!(r.get("SecondsLeftAtNextRun").is_none());
    }

    #[test]
    fn expiry_is_left_out_when_nothing_was_refreshed() {
        let r = record(
            "fn",
            &outcomes(vec![], 3),
            UNIX_EPOCH,
            Some(Duration::from_secs(3600)),
        );
        assert!(r.get("SecondsLeftAtNextRun").is_none());
        assert!(r.get("SecondsUntilExpiry").is_none());
        assert_eq!(
            r["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    /// The metrics of `NAMESPACE` that `template.yaml`'s alarms watch, with each one's
    /// dimension names, read from the template's `Namespace:` / `MetricName:` /
    /// `Dimensions:` lines.
    fn watched_by_the_template() -> Vec<(String, Vec<String>)> {
        let template = include_str!("../template.yaml");
        let lines: Vec<&str> = template.lines().map(str::trim).collect();
        let mut watched = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if *line != format!("Namespace: {NAMESPACE}") {
                continue;
            }
            let metric = lines[i + 1].strip_prefix("MetricName: ").unwrap();
            let dimensions = lines[i + 2].strip_prefix("Dimensions: ").unwrap();
            let names = dimensions
                .split("Name: ")
                .skip(1)
                .map(|d| d.split(',').next().unwrap().trim().to_owned())
                .collect();
            watched.push((metric.to_owned(), names));
        }
        watched
    }

    #[test]
    fn the_alarms_watch_exactly_what_the_function_emits() {
        let watched = watched_by_the_template();
        assert_eq!(
            watched.iter().map(|(m, _)| m.as_str()).collect::<Vec<_>>(),
            [
                "ConnectionsFailed",
                "ConnectionsRefreshed",
                "SecondsLeftAtNextRun"
            ],
            "the alarms of template.yaml"
        );
        // Whether a run fails or refreshes, it emits every watched metric it has a value
        // for, under the namespace and dimension the alarms name, with the dimension's
        // value set. The expiry margin needs a written login and a schedule (the template
        // always sets one); its alarm keeps its state between runs.
        let written = refreshed(Some(UNIX_EPOCH + Duration::from_secs(43_200)));
        let period = Some(Duration::from_secs(21_600));
        for (refreshed, failed, period) in [(vec![written], 0, period), (vec![], 2, period)] {
            let r = record(
                "my-function",
                &outcomes(refreshed.clone(), failed),
                UNIX_EPOCH,
                period,
            );
            let emf = &r["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(emf["Namespace"], NAMESPACE);
            assert_eq!(emf["Dimensions"], json!([["FunctionName"]]));
            assert_eq!(r["FunctionName"], "my-function");
            let emitted: Vec<&str> = emf["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["Name"].as_str().unwrap())
                .collect();
            for (metric, dimensions) in &watched {
                if metric == "SecondsLeftAtNextRun" && refreshed.is_empty() {
                    continue;
                }
                assert!(emitted.contains(&metric.as_str()), "{metric} not emitted");
                assert!(r[metric.as_str()].is_number(), "{metric} has no value");
                assert_eq!(dimensions, &["FunctionName"], "{metric}");
            }
        }
    }

    /// The dashboard's body in `template.yaml`, its `${...}` substitutions named.
    fn dashboard_of_the_template() -> Value {
        let template = include_str!("../template.yaml");
        let start = template.find("DashboardBody: !Sub |").unwrap();
        let body: Vec<&str> = template[start..]
            .lines()
            .skip(1)
            .take_while(|l| l.starts_with("        ") || l.trim().is_empty())
            .collect();
        let mut body = body.join("\n");
        while let Some(at) = body.find("${") {
            let end = at + body[at..].find('}').unwrap();
            let name = body[at + 2..end].to_owned();
            body.replace_range(at..=end, &format!("<{name}>"));
        }
        serde_json::from_str(&body).unwrap()
    }

    #[test]
    fn the_dashboard_shows_what_the_function_emits_and_every_alarm() {
        let dashboard = dashboard_of_the_template();
        let written = refreshed(Some(UNIX_EPOCH + Duration::from_secs(43_200)));
        let period = Some(Duration::from_secs(21_600));
        let r = record("f", &outcomes(vec![written], 1), UNIX_EPOCH, period);
        let emitted: Vec<&str> = r["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        let mut shown = Vec::new();
        let mut alarms = Vec::new();
        for widget in dashboard["widgets"].as_array().unwrap() {
            let properties = &widget["properties"];
            if widget["type"] == "alarm" {
                alarms.extend(properties["alarms"].as_array().unwrap().iter().cloned());
                continue;
            }
            for row in properties["metrics"].as_array().unwrap() {
                let row: Vec<&str> = row
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap())
                    .collect();
                let [namespace, metric, dimension, value] = row[..] else {
                    panic!("{row:?}: one metric, one dimension");
                };
                assert_eq!(
                    (dimension, value),
                    ("FunctionName", "<RefresherFunction>"),
                    "{metric}"
                );
                match namespace {
                    NAMESPACE => assert!(emitted.contains(&metric), "{metric} is never emitted"),
                    "AWS/Lambda" => {
                        assert!(["Duration", "Invocations", "Errors"].contains(&metric))
                    }
                    other => panic!("{other}: no such namespace here"),
                }
                shown.push(metric);
            }
        }
        for metric in emitted {
            assert!(
                shown.contains(&metric),
                "{metric} is emitted but not on the dashboard"
            );
        }
        assert!(shown.contains(&"Duration"), "the run's duration");
        // Every alarm of the template, by its ARN.
        let template = include_str!("../template.yaml");
        let lines: Vec<&str> = template.lines().collect();
        let declared: Vec<Value> = lines
            .windows(2)
            .filter(|w| w[1].trim() == "Type: AWS::CloudWatch::Alarm")
            .map(|w| json!(format!("<{}.Arn>", w[0].trim().trim_end_matches(':'))))
            .collect();
        assert_eq!(declared.len(), 3);
        assert_eq!(alarms, declared);
    }
}
