"""Checks of how template.yaml is invoked and deployed: a failed scheduled run is not retried, and
every documented way to deploy it acknowledges the capabilities it needs."""

from __future__ import annotations

import re
import tomllib

from check_iam import ROOT
from template_rendering import DOC, rendered, sam_transformed

# Every page a deployer may follow: the README's quickstart and docs/.
DOCS = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])


def section(page: str, heading: str) -> str:
    """The body of `heading` (a line such as "## Deploy") in docs/<page>, up to the next heading of its level."""
    text = (ROOT / "docs" / page).read_text()
    level = heading.split(" ", 1)[0]
    return text.split(f"\n{heading}\n", 1)[1].split(f"\n{level} ", 1)[0]

# AWS Serverless Application Repository developer guide, "Application Capabilities: IAM Roles,
# Resource Policies, and Nested Applications": the resource types that need each capability.
SAR_IAM = {"AWS::IAM::Group", "AWS::IAM::InstanceProfile", "AWS::IAM::Policy", "AWS::IAM::Role"}
SAR_RESOURCE_POLICY = {"AWS::Lambda::LayerVersionPermission", "AWS::Lambda::Permission", "AWS::Events::EventBusPolicy",
                       "AWS::IAM::Policy", "AWS::ApplicationAutoScaling::ScalingPolicy", "AWS::S3::BucketPolicy",
                       "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"}
SAR_NESTED = {"AWS::Serverless::Application", "AWS::CloudFormation::Stack"}
# The only capabilities CloudFormation itself takes (CreateChangeSet API reference, Capabilities).
CLOUDFORMATION = {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"}


def resource_types(**values: str) -> set[str]:
    return {r["Type"] for r in sam_transformed(**values)["Resources"].values()}


def sar_capabilities() -> set[str]:
    """What the Serverless Application Repository asks a deployer to acknowledge for this
    template, in its largest form (customer managed keys add the AWS::IAM::Policy resources)."""
    types = resource_types(KmsKeyArn="arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    named = any("RoleName" in (r.get("Properties") or {}) for r in DOC["Resources"].values())
    return ({"CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM"} if types & SAR_IAM else set()) | (
        {"CAPABILITY_RESOURCE_POLICY"} if types & SAR_RESOURCE_POLICY else set()) | (
        {"CAPABILITY_AUTO_EXPAND"} if types & SAR_NESTED else set())


def commands(start: str) -> list[str]:
    """Each shell command in README.md and docs/ that starts with `start`, its continuation lines joined."""
    return [m.group(0).replace("\\\n", " ") for m in re.finditer(re.escape(start) + r"(?:[^\n]*\\\n)*[^\n]*", DOCS)]


def capabilities(command: str) -> set[str]:
    m = re.search(r"--capabilities((?:\s+CAPABILITY_[A-Z_]+)+)", command)
    assert m, f"no --capabilities in: {command}"
    return set(m.group(1).split())


# --------------------------------------------------------------------------- retries


def test_a_failed_scheduled_run_is_not_retried() -> None:
    props = DOC["Resources"]["RefresherFunction"]["Properties"]
    # Only the schedule invokes it, and EventBridge invokes asynchronously, where Lambda retries
    # a failed invocation twice unless told otherwise.
    assert {e["Type"] for e in props["Events"].values()} == {"Schedule"}
    configs = [r for r in sam_transformed()["Resources"].values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    assert len(configs) == 1, configs
    cfg = configs[0]["Properties"]
    assert cfg["FunctionName"] == {"Ref": "RefresherFunction"} and cfg["Qualifier"] == "$LATEST"
    assert cfg["MaximumRetryAttempts"] == 0
    # A run Lambda could not start (throttled) is still redelivered, for the longest time allowed.
    assert cfg["MaximumEventAgeInSeconds"] == 6 * 3600
    assert not cfg.get("DestinationConfig")  # failed events are dropped: the alarms report them


def test_the_readme_says_a_failed_run_is_not_retried() -> None:
    alarms = section("operations.md", "## The alarms, and what to do when one fires")
    assert "retried a failed scheduled run twice" not in alarms
    assert "not retried" in alarms and "MaximumRetryAttempts" in alarms


# --------------------------------------------------------------------------- capabilities


def test_the_schedule_makes_a_resource_policy() -> None:
    types = resource_types()
    assert "AWS::Lambda::Permission" in types and "AWS::IAM::Role" in types
    assert sar_capabilities() == {"CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"}


def test_the_serverless_application_repository_route_acknowledges_every_capability() -> None:
    (command,) = commands("aws serverlessrepo create-cloud-formation-change-set")
    assert capabilities(command) == sar_capabilities()
    sar = " ".join(section("deploy.md", "### From the AWS Serverless Application Repository").split())
    # The console hides such applications from its search unless this box is ticked.
    assert "Show apps that create custom IAM roles or resource policies" in sar
    assert "resource policies" in sar


def test_cloudformation_routes_pass_only_capabilities_cloudformation_takes() -> None:
    routes = commands("aws cloudformation deploy") + commands("sam deploy --capabilities")
    assert len(routes) >= 3, routes
    for command in routes:
        got = capabilities(command)
        assert "CAPABILITY_IAM" in got and got <= CLOUDFORMATION, command
    # The nested application: its template is itself a SAM template, in a nested stack.
    (nested,) = commands("sam deploy --capabilities")
    assert capabilities(nested) == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}
    deploy = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]["deploy"]["parameters"]
    assert set(deploy["capabilities"].split()) == {"CAPABILITY_IAM"}


def test_the_mwaa_role_is_told_it_needs_kms_decrypt_for_a_customer_managed_key() -> None:
    side = " ".join((ROOT / "docs" / "airflow.md").read_text().split())
    mwaa = side[side.index("The MWAA execution role needs"):side.index("Self-managed")]
    assert "secretsmanager:GetSecretValue" in mwaa and "ssm:GetParameter" in mwaa
    assert "Either way, when the secrets or parameters use a customer managed KMS key" in mwaa
    assert "`kms:Decrypt` on that key" in mwaa


# --------------------------------------------------------------------------- the deploy-time refresh


def refs(node: object) -> set[str]:
    """Every name a `Ref` (or `!Ref`) in `node` names."""
    if isinstance(node, dict):
        found = {node["Ref"]} if isinstance(node.get("Ref"), str) else set()
        return found.union(*(refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(refs(v) for v in node))
    return set()


def test_the_deploy_refreshes_through_the_function_unless_turned_off() -> None:
    on = sam_transformed()["Resources"]
    refresh = on["DeployRefresh"]
    assert refresh["Type"] == "Custom::DeployRefresh"
    assert refresh["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["RefresherFunction", "Arn"]}
    # Answered within the function's Timeout; CloudFormation waits no longer than this.
    timeout = DOC["Resources"]["RefresherFunction"]["Properties"]["Timeout"]
    assert timeout < int(refresh["Properties"]["ServiceTimeout"]) <= 3600
    assert "DeployRefresh" in rendered(Connections="docker_ecr").resources()
    assert "DeployRefresh" not in rendered(Connections="docker_ecr", RefreshOnDeploy="false").resources()


def test_every_setting_of_the_function_and_its_grants_reruns_the_deploy_refresh() -> None:
    """CloudFormation sends Update only when the custom resource's properties change: each
    parameter the function or its grants read must be among them."""
    resources = DOC["Resources"]
    read = refs([resources[name] for name in ("RefresherFunction", "RefresherRole", "RefresherKmsPolicy",
                                             "RefresherParameterKmsPolicy")])
    # Not a setting of the refresh: how it is built, logged and alarmed.
    read -= {"Architecture", "LogRetentionInDays", "RefresherLogGroup", "RefresherRole"}
    read &= set(DOC["Parameters"])
    settings = refs(resources["DeployRefresh"]["Properties"]["Settings"])
    assert read <= settings, f"missing from DeployRefresh's Settings: {sorted(read - settings)}"


def test_the_deploy_refresh_waits_for_the_kms_grants() -> None:
    grants = refs(DOC["Resources"]["DeployRefresh"]["Properties"]["Grants"])
    kms = {n for n, r in DOC["Resources"].items() if r["Type"] == "AWS::IAM::Policy"}
    assert kms and kms <= grants
