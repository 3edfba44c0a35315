"""Shared fixtures: the repository root and a local mirror of the published reference data."""

import os
from pathlib import Path

import pytest
from workflow_helpers import copy_workflow, fill_reference_cache, reference_cache

from rmbias.io import InputError

REPO_ROOT = Path(__file__).resolve().parents[1]

# The session's run of the default config, shared by the demo-world and the SLURM tests.
pytest_plugins = ["demo_run"]


def mirror_directory() -> Path | None:
    """The reference-data mirror: $RMBIAS_REFERENCE_MIRROR, else ../shared/reference/upstream if present."""
    explicit = os.environ.get("RMBIAS_REFERENCE_MIRROR")
    if explicit:
        return Path(explicit).resolve()
    sibling = REPO_ROOT.parent / "shared" / "reference" / "upstream"
    return sibling.resolve() if sibling.is_dir() else None


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def reference_mirror() -> Path:
    """Directory with the published reference files; the tests that read them need it. Without
    a mirror they are downloaded (URL + sha256, as the workflow does) into the reference cache."""
    mirror = mirror_directory()
    if mirror is not None:
        return mirror
    cache = reference_cache()
    try:
        return fill_reference_cache(cache)
    except InputError as err:
        pytest.fail(
            f"no reference data: downloading it into {cache} failed ({err}); "
            "set RMBIAS_REFERENCE_MIRROR to a directory holding a copy",
            pytrace=False,
        )


@pytest.fixture
def workflow_copy(tmp_path) -> Path:
    """A fresh copy of the workflow in a temporary directory."""
    return copy_workflow(tmp_path / "workflow")
