"""Run the workflow the way a user does: a copy of its definition, the installed snakemake."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKFLOW_PARTS = ("Snakefile", "rules", "config", "workflow_scripts", "report", "profiles", "envs")


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
