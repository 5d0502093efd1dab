"""How a task opens the run's storage URIs: Airflow's ``ObjectStoragePath`` on the AWS connection where the
platform's storage root is an object store (``s3://``), plain paths where it is a local folder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nova_dpo.platforms.factory import platform_traits


def path_factory(platform: str, conn_id: str | None = "aws_default") -> Callable[[str], Any] | None:
    """``factory(uri)`` for the storage of the platform called ``platform``; None for a local folder."""
    if not platform_traits(platform).object_storage:
        return None
    from airflow.sdk import ObjectStoragePath

    return lambda uri: ObjectStoragePath(uri, conn_id=conn_id)
