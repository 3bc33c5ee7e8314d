"""Checks of template.yaml's schedule and expiry alarm: the function is told the schedule
that runs it (from the one ScheduleExpression parameter), and an alarm fires when a login it
wrote would not outlast the next run by 15 minutes."""

from __future__ import annotations

import pytest

from template_rendering import PARAMS, allowed, rendered

TOPIC = "arn:aws:sns:us-east-1:123456789012:ops"


def test_the_function_is_told_the_schedule_that_runs_it() -> None:
    r = rendered(Connections="docker_ecr", ScheduleExpression="rate(30 minutes)")
    function = r.resources()["RefresherFunction"]["Properties"]
    assert function["Environment"]["Variables"]["SCHEDULE_EXPRESSION"] == "rate(30 minutes)"
    # The EventBridge rule SAM makes of the function's Schedule event.
    assert r.resources()["RefresherFunctionRefresh"]["Properties"]["ScheduleExpression"] == "rate(30 minutes)"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("rate(6 hours)", True),
        ("rate(1 hour)", True),
        ("rate(30 minutes)", True),
        ("rate(1 day)", True),
        ("rate(12 hours)", True),
        # The function must know when the next run comes: a cron expression does not say.
        ("cron(0 */6 * * ? *)", False),
        ("rate(0 hours)", False),
        ("rate(6 weeks)", False),
        ("rate(6hours)", False),
        ("", False),
    ],
)
def test_the_schedule_is_a_rate(value: str, ok: bool) -> None:
    assert allowed("ScheduleExpression", value) is ok
    assert "cron expression is refused" in PARAMS["ScheduleExpression"]["ConstraintDescription"]


def test_the_expiry_alarm_fires_when_a_login_would_not_outlast_the_next_run() -> None:
    alarm = rendered(Connections="docker_ecr", AlarmTopicArn=TOPIC).resources()["ExpiryAlarm"]["Properties"]
    assert alarm["Namespace"] == "AirflowEcrRefresher"
    assert alarm["MetricName"] == "SecondsLeftAtNextRun"
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": "RefresherFunction"}]
    # The soonest login of a run, less than 15 minutes beyond the next run: time to act
    # before one late or failed run lets it expire.
    assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Minimum", "LessThanThreshold", 900)
    # One datapoint a run: the state holds until the next run; missed runs are the StaleAlarm's.
    assert alarm["TreatMissingData"] == "ignore"
    assert alarm["AlarmActions"] == [TOPIC] and alarm["OKActions"] == [TOPIC]
    assert "docs/operations.md, section 'The alarms, and what to do when one fires'" in " ".join(
        alarm["AlarmDescription"].split())
    quiet = rendered(Connections="docker_ecr").resources()["ExpiryAlarm"]["Properties"]
    assert "AlarmActions" not in quiet
