//! Whether a connection's new login lasts until the next scheduled run: one that would
//! expire first fails its connection loudly, saying what to do, though it is still written
//! (a fresh token is never worse than an expiring one).

use crate::action::Action;
use crate::login::Ends;
use crate::schedule::Schedule;
use std::fmt;
use std::time::SystemTime;

/// A login that expires before the next scheduled run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ShortLogin {
    pub action: Action,
    /// RFC 3339.
    pub expires_at: String,
    /// The latest the next scheduled run starts (now + the schedule's period), RFC 3339.
    pub next_run: String,
    pub schedule: Schedule,
    pub ends: Ends,
    /// The connection's `pull_role_arn`, if its token was fetched as one.
    pub pull_role: Option<String>,
}

impl fmt::Display for ShortLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "its new login expires at {}, before the next scheduled run ({}, by {}): ",
            self.expires_at, self.schedule, self.next_run
        )?;
        match (self.ends, &self.pull_role) {
            (Ends::Token, _) => f.write_str(
                "ECR tokens last 12 hours, so run the function more often than that \
                 (ScheduleExpression, such as rate(6 hours))",
            )?,
            (Ends::Credentials, Some(role)) => write!(
                f,
                "its token was fetched as pull_role_arn {role}, whose session STS ends within \
                 an hour (role chaining), and a token is taken to stop working when the \
                 credentials that fetched it expire. Grant the function's own role the pull \
                 rights instead (template parameter PullRepositoryArns, and for another \
                 account's registry its repository policy) and drop pull_role_arn, so its \
                 tokens last 12 hours; or refresh this connection more often than its login \
                 lasts, from a stack of its own with ScheduleExpression rate(30 minutes)"
            )?,
            (Ends::Credentials, None) => f.write_str(
                "its token was fetched with the function's own credentials, which expire then, \
                 and a token is taken to stop working when the credentials that fetched it \
                 expire. Run the function with longer-lived credentials, or more often",
            )?,
        }
        write!(f, " ({})", self.action.written_note())
    }
}

/// The login `expires` must last until the next scheduled run, at the latest `now` + the
/// schedule's period. Nothing to check without a schedule (the command line, a hand-made
/// deploy without `SCHEDULE_EXPRESSION`) or without a known expiry.
pub fn check(
    schedule: Option<Schedule>,
    expires: Option<(SystemTime, Ends)>,
    now: SystemTime,
    action: Action,
    pull_role: Option<String>,
) -> Result<(), ShortLogin> {
    let (Some(schedule), Some((expires, ends))) = (schedule, expires) else {
        return Ok(());
    };
    let next_run = now + schedule.period;
    if expires >= next_run {
        return Ok(());
    }
    let shown = |t| rfc3339(t).unwrap_or_else(|| "an unprintable time".into());
    Err(ShortLogin {
        action,
        expires_at: shown(expires),
        next_run: shown(next_run),
        schedule,
        ends,
        pull_role,
    })
}

/// RFC 3339 in UTC, to the second unless the time has a fraction, as the response and
/// logs show expiry.
pub fn rfc3339(time: SystemTime) -> Option<String> {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|_| humantime::format_rfc3339(time).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const NOW: u64 = 1_800_000_000; // 2027-01-15T08:00:00Z
    const ROLE: &str = "arn:aws:iam::210987654321:role/ecr-pull";

    fn check_at(
        schedule: &str,
        lasts: u64,
        ends: Ends,
        role: Option<&str>,
    ) -> Result<(), ShortLogin> {
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        check(
            Some(schedule.parse().unwrap()),
            Some((now + Duration::from_secs(lasts), ends)),
            now,
            Action::Updated,
            role.map(str::to_owned),
        )
    }

    #[test]
    fn a_login_that_outlives_the_next_run_passes() {
        assert_eq!(check_at("rate(6 hours)", 43_200, Ends::Token, None), Ok(()));
        assert_eq!(
            check_at("rate(30 minutes)", 3600, Ends::Credentials, Some(ROLE)),
            Ok(())
        );
        // Exactly at the next run is not before it.
        assert_eq!(check_at("rate(1 hour)", 3600, Ends::Token, None), Ok(()));
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        let (soon, ends) = (Some((now, Ends::Token)), Action::Updated);
        assert_eq!(check(None, soon, now, ends, None), Ok(()), "no schedule");
        let every_hour = "rate(1 hour)".parse().ok();
        assert_eq!(check(every_hour, None, now, ends, None), Ok(()));
    }

    #[test]
    fn a_pull_roles_login_that_ends_before_the_next_run_says_what_to_do() {
        let err = check_at("rate(6 hours)", 3599, Ends::Credentials, Some(ROLE)).unwrap_err();
        assert_eq!(err.expires_at, "2027-01-15T08:59:59Z");
        assert_eq!(err.next_run, "2027-01-15T14:00:00Z");
        let text = err.to_string();
        for says in [
            "its new login expires at 2027-01-15T08:59:59Z, before the next scheduled run \
             (rate(6 hours), by 2027-01-15T14:00:00Z)",
            "fetched as pull_role_arn arn:aws:iam::210987654321:role/ecr-pull",
            "Grant the function's own role the pull rights",
            "drop pull_role_arn",
            "ScheduleExpression rate(30 minutes)",
            "the secret was still written, updated",
        ] {
            assert!(text.contains(says), "{says:?} not in {text}");
        }
    }

    #[test]
    fn other_short_logins_name_their_own_cause() {
        let own = check_at("rate(6 hours)", 1800, Ends::Credentials, None).unwrap_err();
        assert!(
            own.to_string()
                .contains("fetched with the function's own credentials"),
            "{own}"
        );
        let token = check_at("rate(1 day)", 43_200, Ends::Token, None).unwrap_err();
        assert!(
            token.to_string().contains("ECR tokens last 12 hours"),
            "{token}"
        );
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        let dry = check(
            "rate(1 day)".parse().ok(),
            Some((now, Ends::Token)),
            now,
            Action::WouldUpdate,
            None,
        )
        .unwrap_err();
        assert!(
            dry.to_string()
                .ends_with("(dry run: nothing was written; it would update)"),
            "{dry}"
        );
    }
}
