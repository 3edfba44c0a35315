"""Tests of rmbias.statistics.rm_level (the reward model as the unit of replication) and its wiring
into the Figure 1 analysis; expected values are worked out by hand or recomputed here directly."""

from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from published_data import published_big2_observations
from test_stats import FRAMING

from rmbias.corpora.dictionaries import read_dictionary
from rmbias.io import InputError
from rmbias.statistics.figure1 import analyse_observations, analysis_corpus, category_r_name, figure1_observations
from rmbias.statistics.mixed_model import FIG1_R_NAMES, fit_random_intercept_model
from rmbias.statistics.rm_level import (
    contrast_definitions,
    exact_permutation_test,
    rm_contrasts,
    rm_level_record,
    rm_level_tests,
    smallest_reachable_p,
)

PROMPTS = {key: {"framing": framing} for key, framing in FRAMING.items()}
THREE_WAY = "base_modelLlama:CategoryCommunion:prompt_framingnegative"


def synthetic_observations(families: dict[str, str], seed: int = 0, n_prompts: int = 6, effect: float = 0.0) -> pd.DataFrame:
    """Figure 1 observations: every RM x prompt x category of Agency/Communion, random median ranks
    around a level of each RM; ``effect`` lowers (betters) Llama's Agency rank under positive prompts."""
    rng = np.random.default_rng(seed)
    level = {rm: rng.normal(0, 15) for rm in families}
    rows = [
        dict(rm=rm, base_model=family, prompt=f"{framing}_{i}", framing=framing, category=category,
             median_rank=level[rm] + float(rng.uniform(20, 120))
             - (effect if (family, category, framing) == ("Llama", "Agency", "positive") else 0.0),
             n_ranked=150)
        for rm, family in families.items()
        for framing in ("positive", "negative") for i in range(n_prompts)
        for category in ("Agency", "Communion")
    ]
    return pd.DataFrame(rows)


THREE_PLUS_FOUR = {"g1": "Gemma", "g2": "Gemma", "g3": "Gemma", "l1": "Llama", "l2": "Llama", "l3": "Llama", "l4": "Llama"}
TWO_PLUS_TWO = {"g1": "Gemma", "g2": "Gemma", "l1": "Llama", "l2": "Llama"}


# --------------------------------------------------------------------------- the permutation test


def test_exact_permutation_enumerates_a_design_worked_out_by_hand():
    # 3 + 3 units, values Gemma {1, 2, 3}, Llama {2, 4, 6}: the pool {1, 2, 2, 3, 4, 6} sums to 18 and a
    # relabelling whose Llama triple sums to S has difference S/3 - (18 - S)/3 = (2S - 18)/3. Observed S = 12,
    # difference 2; |difference| >= 2 when S >= 12 or S <= 6. Of the C(6, 3) = 20 triples (the two 2s are
    # distinct units): S >= 12: {2,4,6} twice, {3,4,6}; S <= 6: {1,2,2}, {1,2,3} twice. 6 of 20: p = 0.3,
    # the two ties at exactly |2| (S = 12 and S = 6) counted.
    result = exact_permutation_test([1, 2, 3], [2, 4, 6])
    assert result.statistic == pytest.approx(2.0)
    assert (result.n_extreme, result.n_relabellings, result.exact) == (6, 20, True)
    assert result.p == pytest.approx(6 / 20) and result.n_resamples is None and result.seed is None
    # fully separated 3 + 3: only the observed labelling and its swap are as extreme, p = 2/20
    separated = exact_permutation_test([1, 2, 3], [4, 5, 6])
    assert (separated.n_extreme, separated.n_relabellings, separated.p) == (2, 20, pytest.approx(0.1))


@pytest.mark.parametrize("n_first, n_second, expected", [(2, 2, 1 / 3), (4, 4, 2 / 70), (3, 3, 2 / 20), (4, 6, 1 / 210), (2, 5, 1 / 21), (1, 1, 1.0)])
def test_smallest_reachable_p_by_hand_and_reached_by_separated_groups(n_first, n_second, expected):
    assert smallest_reachable_p(n_first, n_second) == pytest.approx(expected)
    separated = exact_permutation_test(np.arange(n_first), 100 + np.arange(n_second) * 1.7)
    assert separated.p == pytest.approx(expected)


def test_monte_carlo_path_is_seeded_and_records_its_count():
    first, second = [1, 2, 3, 5], [4, 5, 6, 9]
    exact = exact_permutation_test(first, second)
    assert exact.exact and exact.n_relabellings == math.comb(8, 4)
    drawn = exact_permutation_test(first, second, max_enumerated=50, n_resamples=4999, seed=5)
    assert not drawn.exact and (drawn.n_resamples, drawn.seed, drawn.n_relabellings) == (4999, 5, 5000)
    # p = (1 + count) / (1 + n_resamples), the observed labelling counted once
    assert drawn.p == pytest.approx(drawn.n_extreme / 5000) and drawn.n_extreme >= 1
    assert exact_permutation_test(first, second, max_enumerated=50, n_resamples=4999, seed=5) == drawn
    assert abs(drawn.p - exact.p) < 4 * math.sqrt(exact.p * (1 - exact.p) / 4999)


def test_permutation_needs_a_value_per_group():
    with pytest.raises(InputError, match="at least 1 value per group"):
        exact_permutation_test([], [1.0, 2.0])


# --------------------------------------------------------------------------- contrasts and tests


def hand_contrasts(obs: pd.DataFrame) -> pd.DataFrame:
    """Per-RM cell means by a plain groupby, and the treatment-coded contrasts from them."""
    cells = obs.groupby(["rm", "base_model", "framing", "category"])["median_rank"].mean().unstack(["framing", "category"])
    out = pd.DataFrame(index=cells.index)
    out["reference"] = cells[("positive", "Agency")]
    out["category"] = cells[("positive", "Communion")] - cells[("positive", "Agency")]
    out["framing_agency"] = cells[("negative", "Agency")] - cells[("positive", "Agency")]
    out["framing_communion"] = cells[("negative", "Communion")] - cells[("positive", "Communion")]
    out["interaction"] = out["framing_communion"] - out["framing_agency"]
    return out.reset_index(level="rm", drop=True).reset_index()


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment written out: sorted p times (m - rank), running maximum, capped at 1."""
    p_values = np.asarray(p_values, float)
    order = np.argsort(p_values)
    scaled = np.maximum.accumulate(p_values[order] * (len(p_values) - np.arange(len(p_values))))
    adjusted = np.empty_like(p_values)
    adjusted[order] = np.minimum(scaled, 1.0)
    return adjusted


def direct_permutation_p(gemma: np.ndarray, llama: np.ndarray) -> float:
    """Share of the C(n, k) relabellings with |mean difference| at least the observed, by a plain loop."""
    pool = np.concatenate([gemma, llama])
    observed = abs(llama.mean() - gemma.mean())
    hits = total = 0
    for chosen in itertools.combinations(range(len(pool)), len(llama)):
        mask = np.isin(np.arange(len(pool)), chosen)
        total += 1
        hits += abs(pool[mask].mean() - pool[~mask].mean()) >= observed - 1e-9
    return hits / total


def test_welch_and_permutation_equal_a_direct_computation_on_hand_made_contrasts():
    obs = synthetic_observations(THREE_PLUS_FOUR)
    contrasts = rm_contrasts(obs)
    assert list(contrasts["rm"]) == sorted(THREE_PLUS_FOUR) and (contrasts[["n_prompts_positive", "n_prompts_negative"]] == 6).all().all()
    by_hand = hand_contrasts(obs)
    columns = {
        "mean_positive_Agency": "reference", "diff_positive_Communion_minus_Agency": "category",
        "framing_Agency": "framing_agency", "framing_Communion": "framing_communion", "interaction_Communion_minus_Agency": "interaction",
    }
    for ours, theirs in columns.items():
        np.testing.assert_allclose(contrasts[ours], by_hand[theirs])
    tests = rm_level_tests(contrasts)
    for _, row in tests[tests["contrast"].isin(columns)].iterrows():
        values = by_hand.set_index("base_model")[columns[row["contrast"]]]
        gemma, llama = values.loc["Gemma"].to_numpy(), values.loc["Llama"].to_numpy()
        welch = scipy_stats.ttest_ind(llama, gemma, equal_var=False)
        assert (row["n_Gemma"], row["n_Llama"]) == (3, 4)
        assert row["difference"] == pytest.approx(llama.mean() - gemma.mean())
        assert (row["t"], row["df"], row["p_welch"]) == pytest.approx((welch.statistic, welch.df, welch.pvalue))
        assert row["p_exact"] == pytest.approx(direct_permutation_p(gemma, llama))
        assert row["n_relabellings"] == 35 and row["exact"] and row["smallest_p"] == pytest.approx(1 / 35)
    model_terms = tests[tests["kind"] == "model_term"]
    np.testing.assert_allclose(model_terms["p_exact_holm"], holm(model_terms["p_exact"]))
    np.testing.assert_allclose(model_terms["p_welch_holm"], holm(model_terms["p_welch"]))
    panels = tests[tests["kind"] == "panel_mean"]
    assert len(panels) == 4
    np.testing.assert_allclose(panels["p_exact_holm"], holm(panels["p_exact"]))


def test_contrast_terms_are_the_mixed_models_llama_terms():
    definitions = contrast_definitions(["Agency", "Communion"])
    terms = definitions.loc[definitions["kind"] == "model_term", "term"].tolist()
    assert terms == ["base_modelLlama", "base_modelLlama:CategoryCommunion", "base_modelLlama:prompt_framingnegative", THREE_WAY]
    fit = fit_random_intercept_model(synthetic_observations(THREE_PLUS_FOUR))
    assert [t for t in fit.fixed_effects["term"] if t.startswith("base_modelLlama")] == terms
    assert set(definitions.loc[definitions["kind"] != "model_term", "term"]) == {""}


def test_one_rm_per_family_gives_p_one_and_no_welch_and_a_valid_record():
    tests = rm_level_tests(rm_contrasts(synthetic_observations({"g": "Gemma", "l": "Llama"})))
    assert (tests["p_exact"] == 1).all() and (tests["n_relabellings"] == 2).all()
    assert tests["p_welch"].isna().all() and tests["p_welch_holm"].isna().all()
    record = rm_level_record(tests, "toy_rm_level")
    welch = [entry for entry in record["tests"] if entry["test"].startswith("Welch")]
    permutation = [entry for entry in record["tests"] if entry["test"].startswith("permutation")]
    assert len(welch) == len(permutation) == len(tests)
    assert {entry["correction"] for entry in welch} == {"none"}
    assert {entry["correction"] for entry in permutation} == {f"holm over {kind} contrasts" for kind in ("model_term", "framing", "panel_mean")}
    assert {entry["inputs"]["smallest_p"] for entry in permutation} == {1.0}


def test_designs_beyond_the_enumeration_limit_are_drawn_and_say_so():
    contrasts = rm_contrasts(synthetic_observations(THREE_PLUS_FOUR))
    drawn = rm_level_tests(contrasts, max_enumerated=10, n_resamples=999, seed=3)  # C(7, 3) = 35 > 10
    assert not drawn["exact"].any() and (drawn["n_resamples"] == 999).all() and (drawn["seed"] == 3).all()
    assert (drawn["n_relabellings"] == 1000).all() and np.allclose(drawn["smallest_p"], 1 / 1000)
    entries = [e for e in rm_level_record(drawn, "toy")["tests"] if e["test"].startswith("permutation")]
    assert {(e["inputs"]["method"], e["inputs"]["n_resamples"], e["inputs"]["seed"]) for e in entries} == {("Monte Carlo", 999, 3)}
    exact = rm_level_tests(contrasts)
    assert exact["exact"].all() and exact["n_resamples"].isna().all()


def test_a_family_without_rms_is_refused():
    with pytest.raises(InputError, match="at least 1 RM of each of Gemma and Llama"):
        rm_level_tests(rm_contrasts(synthetic_observations({"l1": "Llama", "l2": "Llama"})))


def test_rms_of_a_third_family_get_their_contrasts_and_are_left_out_of_every_family_comparison():
    two_families = synthetic_observations(THREE_PLUS_FOUR, effect=30.0)
    both = pd.concat([two_families, synthetic_observations({"q1": "Qwen", "q2": "Qwen"}, seed=5)], ignore_index=True)
    with_qwen, without = (analyse_observations(obs, n_resamples=99, seed=0, star_p="rm_level") for obs in (both, two_families))
    assert with_qwen.left_out == {"Qwen": ["q1", "q2"]} and without.left_out == {}
    # every RM keeps its observations and its row of per-RM contrasts ...
    pd.testing.assert_frame_equal(with_qwen.observations, both)
    contrasts = with_qwen.rm_contrasts
    assert list(contrasts["rm"]) == sorted([*THREE_PLUS_FOUR, "q1", "q2"]) and contrasts.drop(columns=["rm", "base_model"]).notna().all().all()
    pd.testing.assert_frame_equal(contrasts[contrasts["base_model"] != "Qwen"].reset_index(drop=True), without.rm_contrasts)
    # ... and every family comparison is the Llama - Gemma one of the 3 + 4 RMs alone: the Qwen RMs
    # neither join a side nor enter the variances the family terms are tested against
    assert with_qwen.skipped == {} and with_qwen.mixed_model.n_groups == 7 and with_qwen.maximal_model.n_groups == 7
    pd.testing.assert_frame_equal(with_qwen.rm_level, without.rm_level)
    assert (with_qwen.rm_level[["n_Gemma", "n_Llama"]] == [3, 4]).all().all()
    pd.testing.assert_frame_equal(with_qwen.panels, without.panels)
    pd.testing.assert_frame_equal(with_qwen.means, without.means)
    pd.testing.assert_frame_equal(with_qwen.mixed_model.fixed_effects, without.mixed_model.fixed_effects)
    assert not any("Qwen" in term for term in with_qwen.maximal_model.fixed_effects["term"])


def test_rms_of_third_families_only_skip_every_family_comparison_and_keep_their_contrasts():
    analysis = analyse_observations(synthetic_observations({"q1": "Qwen", "q2": "Qwen", "m1": "Mistral"}), n_resamples=99)
    assert analysis.left_out == {"Mistral": ["m1"], "Qwen": ["q1", "q2"]}
    assert set(analysis.skipped) == {"mixed_model", "maximal_model", "panel_tests", "rm_level"}
    assert analysis.mixed_model is None and analysis.panels.empty and analysis.rm_level.empty
    assert list(analysis.rm_contrasts["rm"]) == ["m1", "q1", "q2"] and analysis.means[["Gemma", "Llama"]].isna().all().all()


# --------------------------------------------------------------------------- stars


def test_rm_level_stars_on_two_plus_two_rms_are_never_significant():
    obs = synthetic_observations(TWO_PLUS_TWO, effect=80.0)
    by_observation = analyse_observations(obs, n_resamples=999, seed=0, star_p="permutation")
    agency = by_observation.panels.set_index(["category", "framing"]).loc[("Agency", "positive")]
    assert agency["stars"] != "ns"  # the (RM, prompt) observations call the planted panel significant
    rm_level = analyse_observations(obs, n_resamples=999, seed=0, star_p="rm_level")
    assert set(rm_level.panels["stars"]) == {"ns"} and set(rm_level.panels["star_p"]) == {"rm_level exact (holm)"}
    np.testing.assert_allclose(rm_level.rm_level["smallest_p"], 1 / 3)
    agency_rm_level = rm_level.rm_level.set_index(["kind", "category", "framing"]).loc[("panel_mean", "Agency", "positive")]
    assert agency_rm_level["p_exact"] == pytest.approx(1 / 3)  # the two Llama RMs rank Agency best: as far as 2 + 2 goes
    # everything but the stars is the panel tests' own
    columns = [c for c in by_observation.panels.columns if c not in ("stars", "star_p")]
    pd.testing.assert_frame_equal(rm_level.panels[columns], by_observation.panels[columns])
    with pytest.raises(InputError, match="star_p"):
        analyse_observations(obs, star_p="rm")


# --------------------------------------------------------------------------- published data


@pytest.fixture(scope="module")
def published_big2(reference_data):
    """The published Big Two observations, their RM-level tests and their random-intercept model."""
    obs = published_big2_observations(reference_data)
    return obs, rm_level_tests(rm_contrasts(obs)), fit_random_intercept_model(obs)


def test_family_differences_equal_the_published_mixed_models_estimates(published_big2):
    obs, tests, fit = published_big2
    assert obs.groupby(["rm", "framing", "category"]).size().nunique() == 1  # balanced: 27 prompts per cell
    model_terms = tests[tests["kind"] == "model_term"].set_index("term")
    estimates = fit.fixed_effects.set_index("term")["estimate"]
    assert len(model_terms) == 4
    np.testing.assert_allclose(model_terms["difference"], estimates.loc[model_terms.index], rtol=1e-6)


def test_published_big2_three_way_term_is_tested_over_its_ten_rms(published_big2):
    _, tests, _ = published_big2
    (row,) = tests[tests["term"] == THREE_WAY].to_dict(orient="records")
    assert (row["n_Gemma"], row["n_Llama"], row["n_relabellings"], row["exact"]) == (4, 6, 210, True)
    assert row["smallest_p"] == pytest.approx(1 / 210) and row["p_exact"] == pytest.approx(row["n_extreme"] / 210)
    assert row["difference"] < 0  # Llama's category x framing contrast is smaller, the published direction


@pytest.mark.parametrize("scheme", ["published_script", "virtue"])
def test_mfd_schemes_are_tested_per_foundation_with_the_models_terms(scheme, reference_data):
    corpus = read_dictionary(reference_data / "corpora" / "moral-foundations-dictionary-20.dicx", "mfd2")
    corpus, categories = analysis_corpus(corpus, scheme)
    wide = {
        re.sub(r"^(big2|MFD20)_rewards_", "", path.stem): pd.read_csv(path)
        for path in sorted((reference_data / "reward_model_scores" / "dict_MFD_20").glob("*.csv"))
    }
    families = {rm: "Llama" if "llama" in rm.lower() else "Gemma" for rm in wide}
    obs = figure1_observations(wide, families, corpus, PROMPTS, categories)
    tests = rm_level_tests(rm_contrasts(obs), category_r_name=category_r_name(scheme))
    foundations = len(categories)
    assert foundations == 5
    assert len(tests[tests["kind"] == "framing"]) == foundations and len(tests[tests["kind"] == "panel_mean"]) == 2 * foundations
    three_way = tests[tests["contrast"].str.startswith("interaction_")]
    assert len(three_way) == foundations - 1 and three_way["term"].str.startswith("base_modelLlama:MFD_category").all()
    fit = fit_random_intercept_model(obs, r_names={**FIG1_R_NAMES, "category": category_r_name(scheme)})
    estimates = fit.fixed_effects.set_index("term")["estimate"]
    model_terms = tests[tests["kind"] == "model_term"].set_index("term")
    assert sorted(model_terms.index) == sorted(t for t in estimates.index if t.startswith("base_modelLlama"))
    np.testing.assert_allclose(model_terms["difference"], estimates.loc[model_terms.index], rtol=1e-6)
