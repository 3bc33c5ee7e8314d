//! The schedule that runs the function (`SCHEDULE_EXPRESSION`, set by the template from its
//! `ScheduleExpression` parameter): how long until the next scheduled run, so that a login
//! which would expire before it fails loudly instead of silently.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub const VARIABLE: &str = "SCHEDULE_EXPRESSION";

/// An EventBridge rate expression, `rate(<value> <unit>)`: a run every `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub period: Duration,
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let minutes = self.period.as_secs() / 60;
        let (value, unit) = if minutes.is_multiple_of(1440) {
            (minutes / 1440, "day")
        } else if minutes.is_multiple_of(60) {
            (minutes / 60, "hour")
        } else {
            (minutes, "minute")
        };
        let plural = if value == 1 { "" } else { "s" };
        write!(f, "rate({value} {unit}{plural})")
    }
}

/// `rate(value unit)`: a positive whole value, and minute(s), hour(s) or day(s) (Amazon
/// EventBridge user guide, "Schedule expressions for rules", rate expressions). A
/// `cron(...)` expression is refused: saying when its next run comes needs a full
/// evaluator of EventBridge's cron (with its `L`, `W`, `#` and `?`), and a refresh every
/// N hours is a rate.
impl FromStr for Schedule {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let refused = || {
            format!(
                "{text:?} is not a rate expression: use rate(<number> minutes|hours|days), such \
                 as rate(6 hours). A cron(...) schedule is refused, since the function must know \
                 how long until its next run to tell whether each login lasts until then"
            )
        };
        let inner = text
            .strip_prefix("rate(")
            .and_then(|t| t.strip_suffix(')'))
            .ok_or_else(refused)?;
        let mut words = inner.split_whitespace();
        let (Some(value), Some(unit), None) = (words.next(), words.next(), words.next()) else {
            return Err(refused());
        };
        let value: u64 = value.parse().ok().filter(|v| *v > 0).ok_or_else(refused)?;
        let seconds = match unit {
            "minute" | "minutes" => 60,
            "hour" | "hours" => 3600,
            "day" | "days" => 86_400,
            _ => return Err(refused()),
        };
        let period = value
            .checked_mul(seconds)
            .map(Duration::from_secs)
            .ok_or_else(refused)?;
        Ok(Self { period })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_expressions_give_their_period() {
        for (text, seconds) in [
            ("rate(6 hours)", 21_600),
            ("rate(1 hour)", 3600),
            ("rate(30 minutes)", 1800),
            ("rate(1 day)", 86_400),
            (" rate( 2  days ) ", 172_800),
        ] {
            let schedule: Schedule = text.parse().unwrap();
            assert_eq!(schedule.period, Duration::from_secs(seconds), "{text}");
        }
        let shown: Vec<String> = ["rate(6 hours)", "rate(90 minutes)", "rate(1 day)"]
            .iter()
            .map(|t| t.parse::<Schedule>().unwrap().to_string())
            .collect();
        assert_eq!(shown, ["rate(6 hours)", "rate(90 minutes)", "rate(1 day)"]);
    }

    #[test]
    fn anything_but_a_rate_is_refused_saying_why() {
        for bad in [
            "cron(0 */6 * * ? *)",
            "rate(0 hours)",
            "rate(-1 hours)",
            "rate(6 weeks)",
            "rate(6)",
            "rate(6 hours",
            "6 hours",
            "",
            "rate(99999999999999999 days)",
        ] {
            let err = bad.parse::<Schedule>().unwrap_err();
            assert!(err.contains("rate(6 hours)"), "{bad}: {err}");
            assert!(
                err.contains("cron(...) schedule is refused"),
                "{bad}: {err}"
            );
        }
    }
}
