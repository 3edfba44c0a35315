"""Bad input stops the workflow with one line naming the problem, and writes no output."""

import hashlib
import shutil

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
    assert f"{NOUNS}: not found in reference_mirror {empty}" in result.stdout
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
