"""Run Snakemake in a throw-away copy of a workflow and read what it reported.

The parsers read Snakemake 9's console log (the text also stored under .snakemake/log/) and
the slurm executor plugin's lines ("Job 3 has been submitted with SLURM jobid 17 (log: ...)").
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import workflow_helpers

from rmbias.io import read_parquet

# Paths in a checkout (relative to its root) that are build products, caches or local data.
NOT_WORKFLOW = {".git", ".venv", ".snakemake", ".pytest_cache", "results", "data", "logs"}

JOB_BLOCK = re.compile(r"^(local)?rule (\S+):\n((?:    .*\n)+)", re.MULTILINE)
JOB_ID_LINE = re.compile(r"^    jobid: (\d+)$", re.MULTILINE)
RESOURCES_LINE = re.compile(r"^    resources: (.*)$", re.MULTILINE)
RESOURCE_ITEM = re.compile(r"(\w+)=(.*?)(?:, (?=\w+=)|$)")
SUBMISSION = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.$", re.MULTILINE)
FINISHED = re.compile(r"Finished jobid: (\d+) \(Rule: \S+\)")
RUN_ID = re.compile(r"SLURM run ID: (\S+)")


@dataclass(frozen=True)
class ScheduledJob:
    """One job as Snakemake announced it: its id, rule, whether it ran on the submit host
    (a localrule) and its resources as printed (name -> value text)."""

    jobid: int
    rule: str
    local: bool
    resources: dict[str, str]

    @property
    def gpus(self) -> int:
        """GPUs requested through the `gpu` resource (the name the slurm plugin reads); 0 when absent."""
        return int(self.resources.get("gpu", 0))


@dataclass(frozen=True)
class Submission:
    """One sbatch call: the Snakemake job id, the SLURM job id and the SLURM log file."""

    jobid: int
    slurm_jobid: str
    slurm_log: Path


def scheduled_jobs(log_text: str) -> dict[int, ScheduledJob]:
    """Every job Snakemake announced ("rule x:" / "localrule x:" blocks), by job id."""
    jobs = {}
    for local, rule, body in JOB_BLOCK.findall(log_text):
        jobid = int(JOB_ID_LINE.search(body).group(1))
        resources_line = RESOURCES_LINE.search(body)
        resources = dict(RESOURCE_ITEM.findall(resources_line.group(1))) if resources_line else {}
        jobs[jobid] = ScheduledJob(jobid, rule, bool(local), resources)
    return jobs


def submissions(log_text: str) -> list[Submission]:
    """Every sbatch submission the slurm executor reported, in order."""
    return [Submission(int(jobid), slurm_jobid, Path(log)) for jobid, slurm_jobid, log in SUBMISSION.findall(log_text)]


def finished_jobids(log_text: str) -> set[int]:
    """Ids of the jobs Snakemake reported as finished."""
    return {int(jobid) for jobid in FINISHED.findall(log_text)}


def slurm_run_id(log_text: str) -> str:
    """The run id the slurm executor uses as every job's name."""
    return RUN_ID.search(log_text).group(1)


def copy_workflow(source: Path, destination: Path) -> Path:
    """Copy a checkout to `destination` without its build products, caches and data."""
    def not_workflow(directory: str, names: list[str]) -> set[str]:
        relative = Path(directory).relative_to(source)
        return {
            name for name in names
            if (relative / name).as_posix() in NOT_WORKFLOW or name == "__pycache__" or name.endswith(".egg-info")
        }

    shutil.copytree(source, destination, ignore=not_workflow, symlinks=True)
    return destination


def run_snakemake(workdir: Path, args: list[str], env: dict[str, str], timeout_s: float) -> str:
    """Run snakemake in `workdir`; return its console log, or fail with the log's tail."""
    result = workflow_helpers.run_snakemake(workdir, *args, timeout=timeout_s, env=env)
    if result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed in {workdir} (exit {result.returncode}):\n{result.stdout[-6000:]}")
    return result.stdout


def output_files(workdir: Path, args: list[str], env: dict[str, str]) -> list[str]:
    """The output files (or directories) of every job behind `args`, from `snakemake --summary`."""
    summary = run_snakemake(workdir, ["--summary", *args], env, timeout_s=120)
    lines = summary.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("output_file\t")))
    return [line.split("\t")[0] for line in lines[header + 1:] if "\t" in line]


def differences(left: Path, right: Path) -> list[str]:
    """How two output files or directory trees differ: parquet tables compared as numbers
    (float columns to a relative 1e-6), every other file byte for byte. [] when equal."""
    if left.is_dir() or right.is_dir():
        left_files = {p.relative_to(left) for p in left.rglob("*") if p.is_file()} if left.is_dir() else set()
        right_files = {p.relative_to(right) for p in right.rglob("*") if p.is_file()} if right.is_dir() else set()
        found = [f"{left / name}: only on one side" for name in sorted(left_files ^ right_files)]
        for name in sorted(left_files & right_files):
            found += differences(left / name, right / name)
        return found
    if not (left.is_file() and right.is_file()):
        return [f"{left}: missing on one side"]
    if left.suffix == ".parquet":
        try:
            pd.testing.assert_frame_equal(read_parquet(left), read_parquet(right), check_exact=False, rtol=1e-6)
        except AssertionError as err:
            return [f"{left}: {str(err).splitlines()[0]}"]
        return []
    return [] if left.read_bytes() == right.read_bytes() else [f"{left}: bytes differ"]
