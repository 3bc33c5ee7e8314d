"""Self-test of scripts/check_release_metadata.py on the Serverless Application Repository's links:
the application's home page and each version's source."""

from __future__ import annotations

import pytest

from check_release_metadata import check_sar
from template_rendering import DOC

META = dict(DOC["Metadata"]["AWS::ServerlessRepo::Application"])
VERSION = str(META["SemanticVersion"])
HOME = "https://github.com/airflow-ecr-refresher/airflow-ecr-refresher"


def problems(repository_url: str | None = None, **changes: object) -> list[str]:
    meta = {k: v for k, v in {**META, **changes}.items() if v is not None}
    bad: list[str] = []
    check_sar(meta, VERSION, {"MIT", "Apache-2.0"}, bad, repository_url)
    return bad


def test_the_metadata_links_the_repository_and_this_versions_source() -> None:
    assert META["HomePageUrl"] == HOME
    assert META["SourceCodeUrl"] == f"{HOME}/tree/v{VERSION}"
    assert problems() == []
    assert problems(repository_url=HOME) == []


@pytest.mark.parametrize("key", ["HomePageUrl", "SourceCodeUrl"])
def test_catches_a_missing_or_non_https_link(key: str) -> None:
    assert any(f"SAR {key} is None, not an https URL" in p for p in problems(**{key: None}))
    assert any(f"SAR {key} is 'http://example.com/x', not an https URL" in p
               for p in problems(**{key: "http://example.com/x"}))


def test_catches_the_source_of_another_version() -> None:
    assert any("is not " + f"{HOME}/tree/v{VERSION}, the source of this version" in p
               for p in problems(SourceCodeUrl=f"{HOME}/tree/v0.0.9"))


def test_catches_a_home_page_other_than_the_publishing_repository() -> None:
    assert any("is not the repository that publishes, https://github.com/fork/airflow-ecr-refresher" in p
               for p in problems(repository_url="https://github.com/fork/airflow-ecr-refresher"))
