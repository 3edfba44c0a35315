"""The session's one run of the default config (`snakemake --cores 2` on a copy of the workflow).

Shared by the demo-world tests (tests/test_workflow_demo.py), which check what the run made,
and the SLURM test (tests/cluster/test_slurm.py), which checks that the same targets built
through SLURM equal this local run's. ``SOURCE_DATE_EPOCH`` is fixed so that PDF figures carry
no wall-clock timestamp; ``HF_TOKEN`` is set so that the logs can be checked for it.
"""

import time

import pytest
from workflow_helpers import copy_workflow, run_snakemake

HF_TOKEN = "hf_rmbiasTestTokenThatMustNeverBeLogged"
DEMO_RUN_ENVIRONMENT = {"HF_TOKEN": HF_TOKEN, "SOURCE_DATE_EPOCH": "0"}


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory, reference_mirror):
    """The workflow copy in which the default config ran to completion (fails with the log's tail otherwise)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("demo") / "workflow")
    started = time.perf_counter()
    result = run_snakemake(
        workdir, "--cores", "2", "--config", f"reference_mirror={reference_mirror}", env=DEMO_RUN_ENVIRONMENT, timeout=2400
    )
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stdout[-6000:]
    print(f"demo world run: {elapsed:.0f} s")
    return workdir
