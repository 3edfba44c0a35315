"""Bad input stops the workflow with one line naming the problem, and writes no output."""

import hashlib
import shutil

import pandas as pd
import pytest
import yaml
from workflow_helpers import run_snakemake

NOUNS = "data/corpora/dict_big2_nouns.csv"


def outputs(workdir):
    """Every file under results/ and data/ (what a failed run must not have produced)."""
    return sorted(
        str(p.relative_to(workdir)) for d in ("results", "data") if (workdir / d).exists() for p in (workdir / d).rglob("*") if p.is_file()
    )


def make_mirror(tmp_path, reference_mirror, content=None):
    mirror = tmp_path / "mirror"
    (mirror / "data" / "corpora").mkdir(parents=True)
    shutil.copy(reference_mirror / NOUNS, mirror / NOUNS)
    if content is not None:
        (mirror / NOUNS).write_bytes(content)
    return mirror


def test_bad_config_key_stops_before_the_dag(workflow_copy):
    result = run_snakemake(workflow_copy, "--cores", "1", "--config", "reanalysis={'star_p': 'median'}")
    assert result.returncode != 0
    assert "rmbias: config error at reanalysis.star_p: 'median' is not one of ['permutation', 'welch', 'rm_level']" in result.stdout
    assert outputs(workflow_copy) == []


def test_vocabulary_families_of_no_training_base_stop_before_the_dag(workflow_copy):
    config = yaml.safe_load((workflow_copy / "config" / "config.yaml").read_text())
    config["training"]["figures"]["vocabulary_families"] = ["mistral"]
    (workflow_copy / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = run_snakemake(workflow_copy, "-n")
    assert result.returncode != 0
    assert "rmbias: config error at training.figures.vocabulary_families: no training base is of mistral" in result.stdout
    assert outputs(workflow_copy) == []


def test_checksum_mismatch_names_the_file_and_writes_nothing(workflow_copy, tmp_path, reference_mirror):
    mirror = make_mirror(tmp_path, reference_mirror, content=b'"Category","token_decoded"\n"Agency","tampered"\n')
    result = run_snakemake(workflow_copy, "results/corpora/big2_nouns.parquet", "--cores", "1", "--config", f"reference_mirror={mirror}")
    assert result.returncode != 0
    assert f"{NOUNS}: sha256 mismatch" in result.stdout
    assert "reference_mirror" in result.stdout
    assert outputs(workflow_copy) == []


def test_missing_mirror_file_names_it_and_writes_nothing(workflow_copy, tmp_path):
    empty = tmp_path / "empty_mirror"
    empty.mkdir()
    result = run_snakemake(workflow_copy, "results/corpora/big2_nouns.parquet", "--cores", "1", "--config", f"reference_mirror={empty}")
    assert result.returncode != 0
    assert f"rmbias: {NOUNS}: not found in reference_mirror {empty}" in result.stdout
    assert "Traceback" not in result.stdout  # bad input: one line, on the terminal and in the job's log
    log = (workflow_copy / "logs" / "fetch_reference" / f"{NOUNS}.log").read_text()
    assert f"ERROR rmbias: InputError: {NOUNS}: not found" in log and "Traceback" not in log
    assert outputs(workflow_copy) == []


def test_malformed_dictionary_names_the_file_and_writes_no_corpus(workflow_copy, tmp_path, reference_mirror):
    broken = '"Category","token_decoded"\n"Agency","caf\xe9"\n'.encode("latin-1")
    mirror = make_mirror(tmp_path, reference_mirror, content=broken)
    manifest_path = workflow_copy / "config" / "reference.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    manifest["files"][NOUNS]["sha256"] = hashlib.sha256(broken).hexdigest()
    manifest_path.write_text(yaml.safe_dump(manifest))
    result = run_snakemake(workflow_copy, "results/corpora/big2_nouns.parquet", "--cores", "1", "--config", f"reference_mirror={mirror}")
    assert result.returncode != 0
    assert f"{NOUNS}: not UTF-8 (byte 0xe9" in result.stdout
    assert not (workflow_copy / "results" / "corpora" / "big2_nouns.parquet").exists()


MISSING = object()
"""A key left out of the config (see :func:`edit_config`)."""


def edit_config(workdir, key, value):
    """Set ``key`` (a dotted path; list indices are numbers) of the workflow copy's config/config.yaml
    to ``value``, or delete it when ``value`` is :data:`MISSING`."""
    path = workdir / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    *parents, last = [int(part) if part.isdigit() else part for part in key.split(".")]
    node = config
    for part in parents:
        node = node[part]
    if value is MISSING:
        del node[last]
    else:
        node[last] = value
    path.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("models.0.hf", MISSING, "config error at models[0]: 'hf' is a required property"),
        ("authority_boost.base", MISSING, "config error at authority_boost.base: authority_boost.enabled is true but no base is given"),
        ("training.runs.1.id", "llama-synth-small", "config error at training.runs[1].id: duplicate run id 'llama-synth-small'"),
        ("implicit.tables.1.name", "table1", "config error at implicit.tables[1].name: duplicate table name 'table1'"),
        ("scoring.scopes", [], "config error at scoring.scopes: [] should be non-empty"),
        ("scoring.dictionary_corpora", [], "config error at scoring.dictionary_corpora: [] should be non-empty"),
        ("reward_models.0.published_scores", "data/reward_model_scores/dict_big2_nouns/big2_rewards_nobody_RM.csv",
         "config error at reward_models[0].published_scores: 'data/reward_model_scores/dict_big2_nouns/big2_rewards_nobody_RM.csv' "
         "is not a file of config/reference.yaml"),
        ("training.settings.lora_rnak", 8, "config error at training.settings.lora_rnak: unknown key (allowed: "),
        ("authority_boost.settings.epoch", 3, "config error at authority_boost.settings.epoch: unknown key (allowed: "),
    ],
)
def test_config_mistake_stops_before_the_dag_with_one_line(workflow_copy, key, value, message):
    """Issue 21: each config mistake stops `snakemake -n` with exit code 1 and one line naming the key, no traceback."""
    edit_config(workflow_copy, key, value)
    result = run_snakemake(workflow_copy, "-n")
    assert result.returncode == 1
    assert f"rmbias: {message}" in result.stdout
    assert "Traceback" not in result.stdout
    assert outputs(workflow_copy) == []


def test_preference_file_of_another_layout_stops_before_the_dag(workflow_copy):
    """A run whose data.source contradicts its existing preference file: the file, the run and both layouts."""
    turns = [{"role": "user", "content": "Best?"}, {"role": "assistant", "content": "Cats"}]
    pd.DataFrame({"conv_A": [turns], "conv_B": [turns], "winner": ["model_a"]}).to_parquet(workflow_copy / "uf.parquet")
    edit_config(workflow_copy, "training.runs.0.data", {"source": "skywork", "path": "uf.parquet", "size": 1})
    result = run_snakemake(workflow_copy, "-n")
    assert result.returncode == 1
    assert ("rmbias: config error at training.runs[0].data.source: uf.parquet: training run 'llama-synth-small' has data.source "
            "skywork, the Skywork layout (chosen, rejected), but the file has the Unified-Feedback layout") in result.stdout
    assert "Traceback" not in result.stdout
