"""`snakemake --lint` is clean for every shipped config: the workflow's rule files follow
Snakemake's conventions (e.g. no functions beside rules: those live in rules/common.smk)."""

from pathlib import Path

import pytest
from workflow_helpers import run_snakemake

REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CONFIGS = ("config/config.yaml", "config/real.yaml", "config/paper.yaml")
"""The workflow configs the repository ships (the default, the real-model world, the paper's)."""
CONFIG_DATA_FILES = {"prompts.yaml", "prompts_schema.yaml", "reference.yaml", "reference_schema.yaml", "schema.yaml", "lexicons.yaml"}
"""The YAML files of config/ that are not workflow configs (prompts, the reference manifest, schemas, the built-in lexicons)."""
CLEAN = "Congratulations, your workflow is in a good condition!"


def test_every_workflow_config_is_linted():
    shipped = {path.name for path in (REPO_ROOT / "config").glob("*.yaml")} - CONFIG_DATA_FILES
    assert shipped == {Path(config).name for config in SHIPPED_CONFIGS}


@pytest.mark.parametrize("configfile", SHIPPED_CONFIGS)
def test_snakemake_lint_prints_no_lint(workflow_copy, configfile):
    result = run_snakemake(workflow_copy, "--lint", "--cores", "1", "--configfile", configfile, timeout=300)
    assert result.returncode == 0 and "Lints for" not in result.stdout and CLEAN in result.stdout, result.stdout[-4000:]
