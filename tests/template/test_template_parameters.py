"""Checks of template.yaml's parameters: the function's environment they set, the backend
settings, and the values each accepts or refuses."""

from __future__ import annotations

import pytest

from template_rendering import DOC, KEY, PARAMETER_STORE, PARAMS, ROLE, SECRETS_MANAGER, allowed, rendered


# --------------------------------------------------------------------------- the function's environment


KWARG = "AIRFLOW__SECRETS__BACKEND_KWARG__"


def environment(**values: str) -> dict[str, str]:
    return rendered(**values).resources()["RefresherFunction"]["Properties"]["Environment"]["Variables"]


def test_environment_by_default() -> None:
    env = environment(Connections="docker_ecr")
    assert env == {
        "CONNECTIONS": "docker_ecr",
        "AIRFLOW__SECRETS__BACKEND": SECRETS_MANAGER,
        # The IAM-scoped parameters, as Airflow's own per-key kwargs: one spelling each.
        KWARG + "CONNECTIONS_PREFIX": "airflow/connections",
        KWARG + "SEP": "/",
        KWARG + "REGION_NAME": "us-east-1",  # always set: what the grants name
        "SECRET_FORMAT": "json",
        "SCHEDULE_EXPRESSION": "rate(6 hours)",  # what runs it, so it knows the next run
        "CHECK_LOGIN": "false",  # the login check is opt-in
    }


def test_environment_carries_the_backend_settings() -> None:
    kwargs = '{"connections_prefix": "/airflow/connections", "region_name": "eu-west-1", "role_arn": "' + ROLE + '"}'
    env = environment(Connections="docker_ecr", SecretsBackend=PARAMETER_STORE, SecretsBackendKwargs=kwargs,
                      ConnectionsPrefix="/airflow/connections", SecretsRegion="eu-west-1", SecretsRoleArn=ROLE,
                      KmsKeyArn=KEY)
    assert env == {
        "CONNECTIONS": "docker_ecr",
        "AIRFLOW__SECRETS__BACKEND": PARAMETER_STORE,
        "AIRFLOW__SECRETS__BACKEND_KWARGS": kwargs,
        KWARG + "CONNECTIONS_PREFIX": "/airflow/connections",  # no sep: Parameter Store takes none
        KWARG + "REGION_NAME": "eu-west-1",
        KWARG + "ROLE_ARN": ROLE,
        "SECRET_FORMAT": "json",
        "KMS_KEY_ID": KEY,
        "SCHEDULE_EXPRESSION": "rate(6 hours)",
        "CHECK_LOGIN": "false",
    }


def test_backend_parameters_describe_how_they_are_checked() -> None:
    assert PARAMS["SecretsBackend"]["AllowedValues"] == [SECRETS_MANAGER, PARAMETER_STORE]
    assert PARAMS["SecretsBackend"]["Default"] == SECRETS_MANAGER
    for name in ("SecretsBackendKwargs", "SecretsRegion", "SecretsRoleArn"):
        assert PARAMS[name]["Type"] == "String" and PARAMS[name]["Default"] == "", name
    kwargs = PARAMS["SecretsBackendKwargs"]["Description"]
    for word in ("ConnectionsPrefix", "ConnectionsSeparator", "SecretsRegion", "SecretsRoleArn", "refuses",
                 KWARG + "CONNECTIONS_PREFIX"):
        assert word in kwargs, word
    groups = DOC["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [p for g in groups for p in g["Parameters"]]
    assert sorted(grouped) == sorted(PARAMS) and len(grouped) == len(set(grouped))


def test_check_login_is_opt_in_and_passed_as_is() -> None:
    assert PARAMS["CheckLogin"]["AllowedValues"] == ["true", "false"]
    assert PARAMS["CheckLogin"]["Default"] == "false"
    assert environment(Connections="docker_ecr", CheckLogin="true")["CHECK_LOGIN"] == "true"


# --------------------------------------------------------------------------- other parameters


@pytest.mark.parametrize(
    ("param", "value", "ok"),
    [
        ("PullRepositoryArns", "", True),
        ("PullRepositoryArns", "arn:aws:ecr:us-east-1:123456789012:repository/team/*", True),
        ("PullRepositoryArns", "arn:aws-cn:ecr:cn-north-1:123456789012:repository/ecr-public/nginx", True),
        ("PullRepositoryArns", "arn:aws:ecr:*:123456789012:repository/*", True),
        ("PullRepositoryArns", "*", False),
        ("PullRepositoryArns", "arn:aws:s3:::bucket/*", False),
        ("PullRoleArns", "", True),
        ("PullRoleArns", "arn:aws:iam::210987654321:role/ecr-pull", True),
        ("PullRoleArns", "arn:aws:iam::210987654321:role/*", False),
        ("PullRoleArns", "*", False),
        ("ExtraKmsKeyArns", "", True),
        ("ExtraKmsKeyArns", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab", True),
        ("ExtraKmsKeyArns", "arn:aws:kms:us-east-1:123456789012:alias/aws/secretsmanager", False),
    ],
)
def test_list_parameters_accept_arns_only(param: str, value: str, ok: bool) -> None:
    assert PARAMS[param]["Type"] == "CommaDelimitedList"
    assert PARAMS[param]["Default"] == ""
    assert allowed(param, value) is ok


@pytest.mark.parametrize(
    ("param", "value", "ok"),
    [
        ("SecretsRegion", "", True),
        ("SecretsRegion", "eu-west-1", True),
        ("SecretsRegion", "us-gov-west-1", True),
        ("SecretsRegion", "cn-north-1", True),
        ("SecretsRegion", "eusc-de-east-1", True),
        ("SecretsRegion", "us-isob-east-1", True),
        ("SecretsRegion", "EU-WEST-1", False),
        ("SecretsRegion", "eu-west", False),
        ("SecretsRegion", "nowhere", False),
        ("SecretsRegion", "*", False),
        ("SecretsRoleArn", "", True),
        ("SecretsRoleArn", ROLE, True),
        ("SecretsRoleArn", "arn:aws-us-gov:iam::123456789012:role/path/to/airflow,secrets", True),
        ("SecretsRoleArn", "arn:aws:iam::123456789012:role/*", False),
        ("SecretsRoleArn", "arn:aws:iam::123456789012:user/airflow", False),
        ("SecretsRoleArn", "*", False),
        ("SecretsBackendKwargs", "", True),
        ("SecretsBackendKwargs", "{}", True),
        ("SecretsBackendKwargs", '{"connections_prefix": "airflow/connections", "sep": "/"}', True),
        ("SecretsBackendKwargs", ' {\n  "region_name": "eu-west-1"\n} ', True),
        ("SecretsBackendKwargs", "connections_prefix=airflow/connections", False),
        ("SecretsBackendKwargs", '["airflow"]', False),
    ],
)
def test_backend_parameters_accept(param: str, value: str, ok: bool) -> None:
    assert allowed(param, value) is ok


def test_pull_through_cache_is_off_by_default() -> None:
    assert PARAMS["PullThroughCache"]["Default"] == "false"
    assert "<rule prefix>/" in PARAMS["PullThroughCache"]["Description"]


def test_stale_alarm_fires_after_one_missed_run_before_tokens_expire() -> None:
    # rate(6 hours) + 1 hour of margin; ECR tokens last 12 hours.
    assert PARAMS["ScheduleExpression"]["Default"] == "rate(6 hours)"
    assert PARAMS["StaleAfterHours"]["Default"] == 7
    assert "7 for rate(6 hours)" in PARAMS["StaleAfterHours"]["Description"]
