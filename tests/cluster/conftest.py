"""The session's SLURM cluster: started once, torn down after the last cluster test."""

import os
import tempfile
from pathlib import Path

import pytest
from slurm_cluster import missing_binaries, start_slurm_cluster


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running single-node cluster. Skipped (with the reason printed) where SLURM is not
    installed; under CI=true a missing SLURM is a failure, since CI installs it."""
    missing = missing_binaries()
    if missing:
        reason = f"SLURM is not installed (missing: {', '.join(missing)}); .ci/install_slurm.sh installs it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} -- CI must run the SLURM test", pytrace=False)
        print(reason)
        pytest.skip(reason)
    with tempfile.TemporaryDirectory(prefix="rmbias-slurm-", ignore_cleanup_errors=True) as root:
        cluster = start_slurm_cluster(Path(root))
        try:
            yield cluster
        finally:
            cluster.stop()
