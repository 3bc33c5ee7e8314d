//! CloudWatch metrics in the Embedded Metric Format: one JSON line on stdout per run, turned
//! into metrics by Lambda's log pipeline with no API call and no extra permission.

use crate::report::Refreshed;
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

pub const NAMESPACE: &str = "AirflowEcrRefresher";

/// The EMF record for a run that refreshed `refreshed` and failed `failed` connections.
pub fn record(
    function_name: &str,
    refreshed: &[Refreshed],
    failed: usize,
    now: SystemTime,
) -> Value {
    let seconds_left = refreshed
        .iter()
        .filter_map(|r| r.expires)
        .min()
        .map(|earliest| match earliest.duration_since(now) {
            Ok(left) => left.as_secs() as i64,
            Err(past) => -(past.duration().as_secs() as i64),
        });
    let mut metrics = vec![
        json!({"Name": "ConnectionsRefreshed", "Unit": "Count"}),
        json!({"Name": "ConnectionsFailed", "Unit": "Count"}),
    ];
    let mut record = json!({
        "FunctionName": function_name,
        "ConnectionsRefreshed": refreshed.len(),
        "ConnectionsFailed": failed,
    });
    if let Some(seconds) = seconds_left {
        metrics.push(json!({"Name": "SecondsUntilExpiry", "Unit": "Seconds"}));
        record["SecondsUntilExpiry"] = json!(seconds);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Action;
    use std::time::Duration;

    fn refreshed(expires: Option<SystemTime>) -> Refreshed {
        Refreshed {
            conn_id: "a".into(),
            secret_name: "s".into(),
            registry: "r".into(),
            action: Action::Updated,
            expires_at: None,
            expires,
        }
    }

    #[test]
    fn record_counts_and_reports_the_earliest_expiry() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let rows = [
            refreshed(Some(now + Duration::from_secs(43_200))),
            refreshed(Some(now + Duration::from_secs(600))),
        ];
        let r = record("fn", &rows, 1, now);
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
    fn expiry_is_left_out_when_nothing_was_refreshed() {
        let r = record("fn", &[], 3, UNIX_EPOCH);
        assert!(r.get("SecondsUntilExpiry").is_none());
        assert_eq!(
            r["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }
}
