"""Strength of evidence: each Figure 1 family term under the published specification, the maximal
model and the RM-level tests, written by the Figure 1 jobs (rmbias.statistics.evidence)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_rm_level import THREE_PLUS_FOUR, TWO_PLUS_TWO, synthetic_observations
from published_data import published_big2_observations

from rmbias.statistics.evidence import EVIDENCE_COLUMNS, strength_of_evidence
from rmbias.statistics.figure1 import analyse_observations
from rmbias.statistics.figure1_outputs import write_ranking_analysis

THREE_WAY = "base_modelLlama:CategoryCommunion:prompt_framingnegative"
FAMILY_TERMS = ["base_modelLlama", "base_modelLlama:CategoryCommunion", "base_modelLlama:prompt_framingnegative", THREE_WAY]
PARTS = ("mixed_model", "maximal_model", "evidence", "panel_tests", "means", "rm_level")


def _outputs(directory) -> dict[str, str]:
    outputs = {f"{part}_{ext}": str(directory / f"{part}.{ext}") for part in PARTS for ext in ("json", "csv")}
    return {**outputs, "observations": str(directory / "obs.parquet"), "rm_contrasts_csv": str(directory / "contrasts.csv")}


def _evidence_from(analysis) -> pd.DataFrame:
    maximal = analysis.maximal_model
    return strength_of_evidence(analysis.mixed_model.fixed_effects, maximal.fixed_effects, analysis.rm_level, maximal.singular)


@pytest.fixture(scope="module")
def published_big2_analysis(reference_data):
    """The Figure 1 analysis of the published Big Two observations."""
    return analyse_observations(published_big2_observations(reference_data), n_resamples=999, seed=1)


def test_published_big2_evidence_lays_the_three_levels_side_by_side(published_big2_analysis):
    analysis = published_big2_analysis
    evidence = _evidence_from(analysis).set_index("term")
    assert list(evidence.index) == FAMILY_TERMS
    published = analysis.mixed_model.fixed_effects.set_index("term")
    maximal = analysis.maximal_model.fixed_effects.set_index("term")
    rm_level = analysis.rm_level.dropna(subset=["term"]).set_index("term")
    np.testing.assert_allclose(evidence["estimate"], published.loc[FAMILY_TERMS, "estimate"])
    np.testing.assert_allclose(evidence["p_published"], published.loc[FAMILY_TERMS, "p"])
    np.testing.assert_allclose(evidence["p_maximal"], maximal.loc[FAMILY_TERMS, "p"])
    np.testing.assert_allclose(evidence["p_rm_exact"], rm_level.loc[FAMILY_TERMS, "p_exact"])
    np.testing.assert_allclose(evidence["p_rm_welch"], rm_level.loc[FAMILY_TERMS, "p_welch"])
    row = evidence.loc[THREE_WAY]
    assert (row["n_Gemma"], row["n_Llama"], row["n_relabellings"]) == (4, 6, 210)
    assert row["df_published"] == 1064 and row["df_maximal"] == 8  # observations vs RMs
    assert row["p_rm_exact"] == pytest.approx(row["n_extreme"] / 210)
    assert bool(row["maximal_singular"]) is analysis.maximal_model.singular
    # The published specification's p is orders of magnitude below every RM-level answer.
    assert row["p_published"] < 1e-10 < 1e-3 < min(row["p_maximal"], row["p_rm_exact"])


def test_configured_rms_without_the_mixed_models_still_get_the_rm_level_row(tmp_path):
    obs = synthetic_observations({"g1": "Gemma", "l1": "Llama", "l2": "Llama"}, effect=10.0)
    analysis = analyse_observations(obs, n_resamples=99)
    assert analysis.mixed_model is None and analysis.maximal_model is None
    write_ranking_analysis(analysis, _outputs(tmp_path), "own")
    evidence = pd.read_csv(tmp_path / "evidence.csv").set_index("term")
    assert list(evidence.columns) == EVIDENCE_COLUMNS[1:]
    assert sorted(evidence.index) == sorted(FAMILY_TERMS)
    assert evidence["p_published"].isna().all() and evidence["p_maximal"].isna().all()
    assert (evidence["n_relabellings"] == 3).all() and evidence["p_rm_exact"].notna().all()
    maximal = json.loads((tmp_path / "maximal_model.json").read_text())
    assert maximal["tests"] == [] and "needs at least 2 base families" in maximal["skipped"]


@pytest.mark.parametrize("families", [TWO_PLUS_TWO, THREE_PLUS_FOUR], ids=["2+2", "3+4"])
def test_every_part_is_written_and_the_maximal_record_says_how_its_fit_went(tmp_path, families):
    analysis = analyse_observations(synthetic_observations(families, effect=30.0), n_resamples=99)
    write_ranking_analysis(analysis, _outputs(tmp_path), "own")
    record = json.loads((tmp_path / "maximal_model.json").read_text())
    fitted = pd.read_csv(tmp_path / "maximal_model.csv")
    assert list(fitted.columns) == ["term", "estimate", "se", "df", "t", "p"]
    assert (fitted["df"] == len(families) - 2).all()
    assert record["model"]["singular"] is analysis.maximal_model.singular
    assert bool(record["model"]["note"]) is (analysis.maximal_model.singular or not analysis.maximal_model.converged)
