"""The tests of the published data pass in a fresh clone: a copy of the repository's files with
no ``shared`` folder beside it, the data named only by $RMBIAS_REFERENCE_MIRROR (the README's
rule, tests/conftest.py's one fixture). A test that found the data some other way (a path
beside the checkout) would fail or skip there."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from test_stats_r import require_r
from workflow_helpers import copy_repository

PUBLISHED_DATA_MODULES = (
    "tests/test_corpora.py",
    "tests/test_dynamics.py",
    "tests/test_evidence.py",
    "tests/test_profiles.py",
    "tests/test_records.py",
    "tests/test_rm_level.py",
    "tests/test_stats.py",
    "tests/test_stats_r.py",
)
"""The modules whose tests read the published data in process (the workflow runs that read it
have their own tests); in the copy only their ``published_data`` tests run."""


def outcome_counts(summary: str) -> dict[str, int]:
    """outcome -> count from pytest's final summary line (``12 passed, 3 deselected in 4.5s``)."""
    return {outcome: int(count) for count, outcome in re.findall(r"(\d+) (passed|failed|skipped|deselected|errors?|xfailed|xpassed)", summary)}


def test_outcome_counts_read_the_summary_line():
    assert outcome_counts("3 failed, 20 passed, 2 skipped, 90 deselected, 4 warnings in 51.20s") == {
        "failed": 3, "passed": 20, "skipped": 2, "deselected": 90}
    assert outcome_counts("1 passed, 1 error in 0.5s") == {"passed": 1, "error": 1}


def test_published_data_tests_pass_in_a_fresh_clone_without_skipping(tmp_path, reference_mirror):
    require_r("nlme", "lme4", "lmerTest")  # the copy runs the R cross-checks of the published data
    clone = copy_repository(tmp_path / "rmbias-clone")
    assert not (clone.parent / "shared").exists() and not (clone / ".venv").exists()
    environment = {
        key: value for key, value in os.environ.items() if key not in ("RMBIAS_REFERENCE_MIRROR", "RMBIAS_REFERENCE_CACHE", "PYTHONPATH")
    }
    environment |= {"RMBIAS_REFERENCE_MIRROR": str(reference_mirror), "PYTHONPATH": str(clone)}
    imported = subprocess.run(
        [sys.executable, "-c", "import rmbias; print(rmbias.__file__)"], cwd=clone, env=environment, capture_output=True, text=True, check=True
    )
    assert Path(imported.stdout.strip()).is_relative_to(clone)  # the copy's code, not the checkout's
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-m", "published_data", "-p", "no:cacheprovider", *PUBLISHED_DATA_MODULES],
        cwd=clone, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600,
    )
    print(f"published-data tests in the fresh clone: {time.perf_counter() - started:.0f} s")
    summary = result.stdout.strip().splitlines()[-1]
    counts = outcome_counts(summary)
    assert result.returncode == 0, result.stdout[-6000:]
    assert counts.get("passed", 0) > 0 and set(counts) <= {"passed", "deselected"}, result.stdout[-6000:]
