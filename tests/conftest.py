"""Shared fixtures: the repository root and the local mirror of the published reference data."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


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
    """Directory with the published reference files; the tests that read them need it."""
    mirror = mirror_directory()
    if mirror is None:
        pytest.fail("no reference mirror: set RMBIAS_REFERENCE_MIRROR to a copy of the upstream reference data")
    return mirror


WORKFLOW_PARTS = ("Snakefile", "rules", "config", "workflow_scripts", "report", "profiles", "envs")


def copy_workflow(dest: Path) -> Path:
    """Copy the workflow definition (not results/ or data/) into ``dest`` and return it."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        source = REPO_ROOT / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, dest / part)
    return dest


def run_snakemake(workdir: Path, *args: str, timeout: int = 900, env: dict[str, str] | None = None):
    """Run the installed snakemake in ``workdir`` (``env`` added to the environment); return the
    CompletedProcess (text, stdout and stderr merged)."""
    import subprocess
    import sys

    snakemake = Path(sys.executable).with_name("snakemake")
    return subprocess.run(
        [str(snakemake), *args],
        cwd=workdir,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def workflow_copy(tmp_path) -> Path:
    """A fresh copy of the workflow in a temporary directory."""
    return copy_workflow(tmp_path / "workflow")
