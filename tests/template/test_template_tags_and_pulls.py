"""Checks of what template.yaml grants for tagging and pulling: only the managed-by tag the code
writes, on both ARNs a parameter's tag on create is checked on, and pull through cache rights
only on repositories the deployer lists."""

from __future__ import annotations

import fnmatch
import re

import pytest

from check_iam import ROOT
from iam_grants import as_list
from iam_scenarios import airflow_parameter_name
from template_rendering import PARAMETER_STORE, PARAMS, SECRETS_MANAGER, rendered, statements

TAG_ACTIONS = {"secretsmanager:TagResource", "ssm:AddTagsToResource"}
REPOSITORY = "arn:aws:ecr:us-east-1:123456789012:repository/ecr-public/*"


def code_tag() -> tuple[str, str]:
    """The tag the function writes on what it creates (crates/core/src/store.rs)."""
    m = re.search(r'MANAGED_BY_TAG: \(&str, &str\) = \("([^"]+)", "([^"]+)"\)', (ROOT / "crates" / "core" / "src" / "store.rs").read_text())
    assert m, "crates/core/src/store.rs no longer defines MANAGED_BY_TAG as this test reads it"
    return m.group(1), m.group(2)


@pytest.mark.parametrize("prefix", ["airflow/connections", "/airflow/connections", "team.x/airflow_conns"])
def test_tag_on_create_is_granted_on_both_parameter_arns(prefix: str) -> None:
    # PutParameter with Tags is also authorized as AddTagsToResource, and a real AccessDenied
    # (pepperize/cdk-ssm-parameters-cross-region#442) names arn:...:parameter//<name>.
    granted = statements(rendered(SecretsBackend=PARAMETER_STORE, ConnectionsPrefix=prefix))
    tags = granted["ConnectionParameterTags"]
    assert tags["Action"] == "ssm:AddTagsToResource"
    name = airflow_parameter_name(prefix, "docker_ecr")
    assert name.startswith("/")
    base = "arn:aws:ssm:us-east-1:123456789012:parameter"
    documented, seen_in_the_error = base + name, base + "/" + name
    assert "parameter//" in seen_in_the_error and "parameter//" not in documented
    resources = as_list(tags["Resource"])
    assert len(resources) == 2
    for arn in (documented, seen_in_the_error):
        assert [r for r in resources if fnmatch.fnmatchcase(arn, r)], (arn, resources)
    for outside in (base + "/other/docker_ecr", base + "//other/docker_ecr"):
        assert not [r for r in resources if fnmatch.fnmatchcase(outside, r)], outside
    # The other Parameter Store actions keep the documented form only.
    assert "parameter//" not in granted["ConnectionParameters"]["Resource"]
    assert "ssm:AddTagsToResource" not in as_list(granted["ConnectionParameters"]["Action"])


@pytest.mark.parametrize(("backend", "sid"), [(SECRETS_MANAGER, "ConnectionSecretTags"),
                                              (PARAMETER_STORE, "ConnectionParameterTags")])
def test_the_tag_actions_write_only_the_managed_by_tag(backend: str, sid: str) -> None:
    key, value = code_tag()
    assert (key, value) == ("managed-by", "airflow-ecr-refresher")
    granted = statements(rendered(SecretsBackend=backend))
    assert granted[sid]["Condition"] == {
        "StringEquals": {f"aws:RequestTag/{key}": value},
        "ForAllValues:StringEquals": {"aws:TagKeys": [key]},
    }
    # No other statement grants a tag action, so none without that condition.
    elsewhere = {(s, a) for s, st in granted.items() if s != sid for a in as_list(st["Action"]) if a in TAG_ACTIONS}
    assert elsewhere == set()
    assert {a for a in as_list(granted[sid]["Action"])} <= TAG_ACTIONS


def test_pull_through_cache_without_repositories_is_refused_at_deploy() -> None:
    failures = rendered(PullThroughCache="true").rule_failures()
    assert len(failures) == 1, failures
    message = failures[0]
    assert message.startswith("PullThroughCacheRepositories: PullThroughCache=true needs PullRepositoryArns")
    assert "repository/<rule prefix>/*" in message
    # An empty entry in a list would grant nothing sensible either.
    assert rendered(PullThroughCache="true", PullRepositoryArns=f"{REPOSITORY},").rule_failures() != []
    assert rendered(PullThroughCache="true", PullRepositoryArns=REPOSITORY).rule_failures() == []
    # Without pull through cache the default (every repository, read only) stays allowed.
    assert rendered().rule_failures() == []


def test_pull_through_cache_rights_are_only_on_the_listed_repositories() -> None:
    granted = statements(rendered(PullThroughCache="true", PullRepositoryArns=REPOSITORY))
    assert granted["EcrPullThroughCache"]["Resource"] == [REPOSITORY]
    assert set(granted["EcrPullThroughCache"]["Action"]) == {"ecr:BatchImportUpstreamImage", "ecr:CreateRepository"}
    assert "EcrPullThroughCache" not in statements(rendered())


def test_the_default_pull_rights_and_who_gets_them_are_said_plainly() -> None:
    # A token is a bearer credential with the role's pull rights: whoever reads the
    # connection can pull what the role may pull.
    description = " ".join(PARAMS["PullRepositoryArns"]["Description"].split())
    assert "every repository of this account in every region" in description
    assert "anyone who can read a connection" in description
    configuration = (ROOT / "docs" / "configuration.md").read_text()
    section = " ".join(configuration.split("\n## Who can pull with the token\n", 1)[1].split("\n## ", 1)[0].split())
    for said in ("every repository of this account in every region", "AmazonEC2ContainerRegistryReadOnly",
                 "anyone who can read the connection", "To narrow it, list in `PullRepositoryArns`",
                 "refuses `PullThroughCache=true` without `PullRepositoryArns`"):
        assert said in section, said
