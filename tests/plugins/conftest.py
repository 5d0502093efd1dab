"""Fixtures of the operator tests."""

from pathlib import Path

import pytest

from nova_dpo.platforms.local.jobs import LocalJobRunner


@pytest.fixture
def home(tmp_path: Path):
    """The local platform's folder; every job started there ends with the test."""
    root = tmp_path / "home"
    yield root
    runner = LocalJobRunner(root, stop_grace_seconds=2.0)
    for ref in runner.list_jobs():
        runner.stop(ref)
