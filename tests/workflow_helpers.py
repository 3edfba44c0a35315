"""Run the workflow the way a user does: a copy of its definition (or of the whole repository,
as a clone has it), the installed snakemake; and obtain the published reference data the way
the workflow does (URL + sha256)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from rmbias.config import load_yaml
from rmbias.corpora.reference import fetch_reference_file, sha256_of

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_PARTS = ("Snakefile", "rules", "config", "workflow_scripts", "report", "profiles", "envs")
NOT_IN_A_CLONE = (".venv", "results", "runs")
"""Top-level folders a fresh clone does not have."""
REFERENCE_MANIFEST = REPO_ROOT / "config" / "reference.yaml"


def reference_cache() -> Path:
    """Where the tests keep the published reference data they download: $RMBIAS_REFERENCE_CACHE,
    else ~/.cache/rmbias/reference (reused by every later run)."""
    return Path(os.environ.get("RMBIAS_REFERENCE_CACHE") or Path.home() / ".cache" / "rmbias" / "reference")


def fill_reference_cache(cache: Path, manifest_path: Path = REFERENCE_MANIFEST) -> Path:
    """Fetch every file of the manifest that ``cache`` lacks (or holds with another sha256) with
    the workflow's own fetch (base URL + path, sha256 checked); return ``cache``, which then
    serves as a reference mirror. Raises InputError (one line naming the file) on failure."""
    manifest = load_yaml(manifest_path)
    for rel_path, entry in manifest["files"].items():
        dest = cache / rel_path
        if not (dest.is_file() and sha256_of(dest) == entry["sha256"]):
            fetch_reference_file(rel_path, dest, entry["sha256"], manifest["base_url"])
    return cache


def copy_workflow(dest: Path) -> Path:
    """Copy the workflow definition (not results/ or data/) into ``dest`` and return it."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        source = REPO_ROOT / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, dest / part)
    return dest


def repository_files() -> list[str]:
    """The repository's files as a clone has them: git's tracked files plus the untracked ones it
    does not ignore (a file added but not yet committed), without :data:`NOT_IN_A_CLONE`."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout
    return [
        path for path in listed.split("\0")
        if path and path.split("/", 1)[0] not in NOT_IN_A_CLONE and (REPO_ROOT / path).is_file()
    ]


def copy_repository(dest: Path, under: tuple[str, ...] = ()) -> Path:
    """Copy :func:`repository_files` (only those under the paths ``under``, when given) into
    ``dest`` (created) and return it."""
    for path in repository_files():
        if under and not any(path == part or path.startswith(f"{part}/") for part in under):
            continue
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / path, target)
    return dest


def run_snakemake(workdir: Path, *args: str, timeout: int = 900, env: dict[str, str] | None = None):
    """Run the installed snakemake in ``workdir`` (``env`` added to the environment); return the
    CompletedProcess (text, stdout and stderr merged)."""
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


def job_counts(dry_run_output: str) -> dict[str, int]:
    """rule → job count from the 'Job stats' table of a dry run (empty when nothing to do)."""
    counts = {}
    table = dry_run_output.split("Job stats:", 1)[-1] if "Job stats:" in dry_run_output else ""
    for line in table.splitlines()[3:]:
        match = re.fullmatch(r"(\S+)\s+(\d+)", line.strip())
        if not match:
            break
        counts[match.group(1)] = int(match.group(2))
    return counts
