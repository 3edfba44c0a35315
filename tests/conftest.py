"""Shared fixtures: the repository root and the published reference data.

Every test that reads the published data gets it through the one fixture ``reference_mirror``
(or a fixture derived from it: ``reference_data``, ``published_big2_observations``), which the
README describes: the directory named by $RMBIAS_REFERENCE_MIRROR, else a download (URL +
sha256) into the reference cache. Such tests carry the ``published_data`` marker
(``pytest -m published_data`` runs them), added here from the fixtures they use.
"""

import os
from pathlib import Path

import pandas as pd
import pytest
from published_data import published_big2_observations as read_published_big2_observations
from workflow_helpers import copy_workflow, fill_reference_cache, reference_cache

from rmbias.io import InputError

REPO_ROOT = Path(__file__).resolve().parents[1]

# The session's run of the default config, shared by the demo-world and the SLURM tests.
pytest_plugins = ["demo_run"]

PUBLISHED_DATA_FIXTURE = "reference_mirror"
"""The fixture through which every test reads the published data; a test using it (directly or
through another fixture) is marked ``published_data``."""


def mirror_directory() -> Path | None:
    """The reference-data mirror named by $RMBIAS_REFERENCE_MIRROR, or None when it is unset."""
    explicit = os.environ.get("RMBIAS_REFERENCE_MIRROR")
    return Path(explicit).resolve() if explicit else None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Mark every test that reads the published data (it uses :data:`PUBLISHED_DATA_FIXTURE`) ``published_data``."""
    for item in items:
        if PUBLISHED_DATA_FIXTURE in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.published_data)


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


@pytest.fixture(scope="session")
def reference_data(reference_mirror) -> Path:
    """The ``data/`` folder of the published reference files (corpora, RM scores, ablations)."""
    return reference_mirror / "data"


@pytest.fixture
def published_big2_observations(reference_data) -> pd.DataFrame:
    """Figure 1 observations of the published Big Two scores (tests/published_data.py), a fresh frame per test."""
    return read_published_big2_observations(reference_data)


@pytest.fixture
def workflow_copy(tmp_path) -> Path:
    """A fresh copy of the workflow in a temporary directory."""
    return copy_workflow(tmp_path / "workflow")
