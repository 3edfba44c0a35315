"""Tests of the statistics (ranks, mixed_model, group_tests, figure1, figure2, topk, dynamics,
published_ablations); every expected value is derived here from the raw numbers, not by the code under test."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as scipy_stats

from rmbias.implicit.figure2 import FIG2_FACTORS, model_cell_welch_tests
from rmbias.implicit.topk import paper_rm_coverage, top_k_by_category
from rmbias.io import InputError
from rmbias.models.families import published_rm_name
from rmbias.statistics.figure1 import analyse_observations, mean_rank_table
from rmbias.statistics.group_tests import cohens_d, panel_tests, permutation_welch_p, stars, three_way_anova, welch_t
from rmbias.statistics.mixed_model import fit_random_intercept_model, nlme_fixed_effect_df
from rmbias.statistics.published_ablations import PUBLISHED_ABLATIONS, load_ablation_tables, published_ablations, read_ablation_warnings
from rmbias.statistics.ranks import logprob_median_ranks, long_scores, rm_median_ranks
from rmbias.training.dynamics import checkpoint_kendall

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = yaml.safe_load((ROOT / "config" / "prompts.yaml").read_text())["prompts"]
FRAMING = {key: entry["framing"] for key, entry in PROMPTS.items()}


def welch_by_formula(first, second):
    """Welch t (second - first) and Welch-Satterthwaite df straight from the textbook formula."""
    n1, n2 = len(first), len(second)
    m1, m2 = sum(first) / n1, sum(second) / n2
    v1 = sum((x - m1) ** 2 for x in first) / (n1 - 1)
    v2 = sum((x - m2) ** 2 for x in second) / (n2 - 1)
    a, b = v1 / n1, v2 / n2
    return (m2 - m1) / math.sqrt(a + b), (a + b) ** 2 / (a**2 / (n1 - 1) + b**2 / (n2 - 1))


# --------------------------------------------------------------------------- names and ranks


def test_long_scores_melts_and_joins_every_category():
    wide = pd.DataFrame({"response": ["love", "power", "zzz"], "p1": [1.0, 2.0, 3.0], "p2": [4.0, 5.0, 6.0]})
    corpus = pd.DataFrame(
        {"term": ["love", "power", "power"], "category": ["Communion", "Agency", "Communion"], "dictionary": ["d"] * 3}
    )
    long = long_scores(wide, "rm-gemma", corpus)
    assert len(long) == 2 * 3  # zzz dropped, power twice
    assert set(long.columns) == {"rm", "prompt", "term", "category", "dictionary", "score"}
    assert long.query("term == 'power' and prompt == 'p2'")["score"].tolist() == [5.0, 5.0]


def test_ranks_average_ties_and_rank_each_term_once():
    scores = pd.DataFrame(
        {
            "rm": "rm-gemma",
            "prompt": "best_ever_one",
            "term": ["a", "b", "c", "d", "e", "e"],
            "category": ["X", "X", "Y", "Y", "X", "Y"],
            "score": [5.0, 3.0, 3.0, 1.0, 0.0, 0.0],
        }
    )
    # ranks over the five distinct terms: a=1, b=c=2.5 (tie), d=4, e=5 (once, though in X and Y)
    obs = rm_median_ranks(scores, FRAMING, {"rm-gemma": "Gemma"}).set_index("category")
    assert obs.loc["X", "median_rank"] == pytest.approx(np.median([1, 2.5, 5]))
    assert obs.loc["Y", "median_rank"] == pytest.approx(np.median([2.5, 4, 5]))
    assert set(obs["framing"]) == {"positive"} and set(obs["base_model"]) == {"Gemma"}
    assert set(obs["n_ranked"]) == {5}


def test_ranks_need_the_family_of_every_rm():
    scores = pd.DataFrame({"rm": ["rm-a", "rm-b"], "prompt": "best_ever_one", "term": ["a", "b"], "category": "X", "score": [1.0, 2.0]})
    with pytest.raises(InputError, match="rm-b"):
        rm_median_ranks(scores, FRAMING, {"rm-a": "Gemma"})


def test_logprob_ranks_keep_only_terms_of_every_model():
    rows = []
    for model in ("gemma-it", "llama-it"):
        for term, category, logprob in [("a", "X", -1.0), ("b", "X", -2.0), ("c", "Y", -3.0)]:
            rows.append((model, "worst_ever_one", term, category, logprob))
    rows.append(("gemma-it", "worst_ever_one", "only_gemma", "Y", 0.0))
    frame = pd.DataFrame(rows, columns=["model", "prompt", "term", "category", "logprob"])
    obs = logprob_median_ranks(frame, FRAMING)
    gemma = obs[obs["model"] == "gemma-it"].set_index("category")["median_rank"]
    assert gemma["X"] == 1.5 and gemma["Y"] == 3.0  # only_gemma (highest log-prob) not ranked
    assert set(obs["framing"]) == {"negative"}


# --------------------------------------------------------------------------- two-group tests


def test_welch_t_matches_formula():
    first, second = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0, 10.0]
    t, df, p = welch_t(np.array(first), np.array(second))
    expected_t, expected_df = welch_by_formula(first, second)
    assert t == pytest.approx(expected_t, rel=1e-12)
    assert df == pytest.approx(expected_df, rel=1e-12)
    assert 0 < p < 1


def test_permutation_p_equals_exact_enumeration():
    first, second = [1.0, 2.5, 3.1, 4.7], [3.9, 5.2, 6.0]
    pooled = first + second
    observed, _ = welch_by_formula(first, second)
    null = []
    for chosen in itertools.combinations(range(len(pooled)), len(second)):
        relabelled_second = [pooled[i] for i in chosen]
        relabelled_first = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        null.append(welch_by_formula(relabelled_first, relabelled_second)[0])
    null = np.array(null)
    upper = np.mean(null >= observed - 1e-12)
    lower = np.mean(null <= observed + 1e-12)
    expected = min(1.0, 2 * min(upper, lower))
    assert len(null) == 35
    assert permutation_welch_p(np.array(first), np.array(second), n_resamples=9999, seed=1) == pytest.approx(expected, rel=1e-12)


def test_cohens_d_both_conventions_by_hand():
    # first: mean 2, var 1; second: mean 5, var 20/3
    d = cohens_d(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0, 8.0]))
    assert d["d_pooled"] == pytest.approx(3 / math.sqrt((2 * 1 + 3 * 20 / 3) / 5), rel=1e-12)
    assert d["d_average"] == pytest.approx(3 / math.sqrt((1 + 20 / 3) / 2), rel=1e-12)
    assert cohens_d(np.array([2.0, 4.0, 6.0, 8.0]), np.array([1.0, 2.0, 3.0]))["d_pooled"] < 0


def test_star_thresholds():
    assert [stars(p) for p in (0.0009, 0.001, 0.0099, 0.01, 0.0499, 0.05, 0.5)] == ["***", "**", "**", "*", "*", "ns", "ns"]


def _panel_frame(seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    for category, shift in (("A", 0.0), ("B", 1.0), ("C", 3.0)):
        for base_model, offset in (("Gemma", 0.0), ("Llama", shift)):
            for value in rng.normal(offset, 1.0, 8):
                rows.append(("rm", base_model, "p", "positive", category, value))
    return pd.DataFrame(rows, columns=["rm", "base_model", "prompt", "framing", "category", "median_rank"])


def test_panel_tests_bonferroni_and_star_source():
    obs = _panel_frame()
    table = panel_tests(obs, n_resamples=999, seed=0, star_p="welch")
    assert len(table) == 3
    np.testing.assert_allclose(table["p_welch_bonferroni"], np.minimum(1, 3 * table["p_welch"]))
    np.testing.assert_allclose(table["p_permutation_bonferroni"], np.minimum(1, 3 * table["p_permutation"]))
    assert table["stars"].tolist() == [stars(p) for p in table["p_welch_bonferroni"]]
    assert set(table["star_p"]) == {"welch (bonferroni)"}
    for _, row in table.iterrows():
        cell = obs[obs["category"] == row["category"]]
        expected_t, expected_df = welch_by_formula(
            cell.loc[cell.base_model == "Gemma", "median_rank"].tolist(), cell.loc[cell.base_model == "Llama", "median_rank"].tolist()
        )
        assert row["t"] == pytest.approx(expected_t) and row["df"] == pytest.approx(expected_df)
    permutation_stars = panel_tests(obs, n_resamples=999, seed=0)
    assert permutation_stars["stars"].tolist() == [stars(p) for p in permutation_stars["p_permutation_bonferroni"]]
    with pytest.raises(InputError, match="star_p"):
        panel_tests(obs, star_p="both")


def test_mean_rank_table_difference_column():
    obs = _panel_frame()
    table = mean_rank_table(obs).set_index("category")
    gemma_b = obs.query("category == 'B' and base_model == 'Gemma'")["median_rank"].mean()
    llama_b = obs.query("category == 'B' and base_model == 'Llama'")["median_rank"].mean()
    assert table.loc["B", "Llama - Gemma"] == pytest.approx(llama_b - gemma_b)


# --------------------------------------------------------------------------- mixed model


def _balanced_groups(seed=7, n_groups=12, per_group=6):
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(n_groups):
        between = "a" if g < n_groups // 2 else "b"
        intercept = rng.normal(0, 2.0)
        for j in range(per_group):
            within = "u" if j < per_group // 2 else "v"
            y = 10 + 3 * (between == "b") + 2 * (within == "v") + intercept + rng.normal(0, 1.0)
            rows.append((f"g{g:02d}", between, within, y))
    return pd.DataFrame(rows, columns=["grp", "B", "W", "y"])


def test_mixed_model_balanced_between_factor_closed_form():
    data = _balanced_groups()
    n_groups, per_group = data["grp"].nunique(), 6
    group_means = data.groupby("grp")["y"].mean()
    level_of = data.groupby("grp")["B"].first()
    level_means = group_means.groupby(level_of).mean()
    # balanced one-way random-effects ANOVA, groups nested in the between factor
    s2_means = ((group_means - level_of.map(level_means)) ** 2).sum() / (n_groups - 2)
    msw = ((data["y"] - data["grp"].map(group_means)) ** 2).sum() / (n_groups * (per_group - 1))
    fit = fit_random_intercept_model(data, response="y", factors=("B",), group="grp")
    effects = fit.fixed_effects.set_index("term")
    assert effects.loc["Bb", "estimate"] == pytest.approx(level_means["b"] - level_means["a"], rel=1e-4)
    assert effects.loc["(Intercept)", "estimate"] == pytest.approx(level_means["a"], rel=1e-4)
    assert effects.loc["Bb", "se"] == pytest.approx(math.sqrt(s2_means * (2 / (n_groups / 2))), rel=1e-4)
    assert fit.residual_var == pytest.approx(msw, rel=1e-4)
    assert fit.random_intercept_var == pytest.approx(s2_means - msw / per_group, rel=1e-4)
    assert effects.loc["Bb", "df"] == n_groups - 2 and effects.loc["(Intercept)", "df"] == len(data) - n_groups
    t = effects.loc["Bb", "estimate"] / effects.loc["Bb", "se"]
    assert effects.loc["Bb", "p"] == pytest.approx(2 * scipy_stats.t.sf(abs(t), n_groups - 2), rel=1e-9)
    assert (fit.n_obs, fit.n_groups) == (len(data), n_groups)


def test_mixed_model_interaction_estimates_are_cell_mean_contrasts_with_r_names():
    data = _balanced_groups()
    cells = data.groupby(["B", "W"])["y"].mean()
    fit = fit_random_intercept_model(data, response="y", factors=("B", "W"), group="grp")
    effects = fit.fixed_effects.set_index("term")
    assert list(effects.index) == ["(Intercept)", "Bb", "Wv", "Bb:Wv"]
    expected = {
        "(Intercept)": cells["a", "u"],
        "Bb": cells["b", "u"] - cells["a", "u"],
        "Wv": cells["a", "v"] - cells["a", "u"],
        "Bb:Wv": cells["b", "v"] - cells["b", "u"] - cells["a", "v"] + cells["a", "u"],
    }
    for term, value in expected.items():
        assert effects.loc[term, "estimate"] == pytest.approx(value, rel=1e-4)
    n_obs, n_groups = len(data), data["grp"].nunique()
    assert effects["df"].tolist() == [n_obs - n_groups - 2, n_groups - 2, n_obs - n_groups - 2, n_obs - n_groups - 2]


def test_mixed_model_fits_a_small_design_on_which_one_optimizer_fails():
    """3 + 4 RMs, 3 prompts per framing, integer ranks: statsmodels' L-BFGS raises a LinAlgError
    on this design (a singular Hessian); the other optimizers still give the REML fit."""
    rng = np.random.default_rng(0)
    rows = [
        {"rm": f"rm{i}", "base_model": "Gemma" if i < 3 else "Llama", "prompt": f"{framing}{k}", "framing": framing,
         "category": category, "median_rank": float(rng.integers(1, 20))}
        for i in range(7) for framing in ("positive", "negative") for k in range(3) for category in ("Agency", "Communion")
    ]
    obs = pd.DataFrame(rows)
    fit = fit_random_intercept_model(obs)
    cells = obs.groupby(["base_model", "category", "framing"])["median_rank"].mean()
    reference = cells[("Gemma", "Agency", "positive")]
    assert fit.fixed_effects.set_index("term").loc["(Intercept)", "estimate"] == pytest.approx(reference)
    assert np.isfinite(fit.fixed_effects["se"]).all()


def test_nlme_df_rule_on_orthodont_shaped_design():
    subjects, ages = 27, (8, 10, 12, 14)
    female = np.repeat(np.arange(subjects) >= 16, len(ages)).astype(float)
    age = np.tile(ages, subjects).astype(float)
    design = np.column_stack([np.ones(subjects * len(ages)), age, female])
    groups = np.repeat(np.arange(subjects), len(ages))
    assert nlme_fixed_effect_df(design, groups).tolist() == [80, 80, 25]


# --------------------------------------------------------------------------- Figure 2


def test_fig2_welch_cells_fdr_and_anova_interaction():
    rng = np.random.default_rng(11)
    rows = []
    for model, sign in (("gemma", -1), ("llama", 1)):
        for framing, flip in (("positive", 1), ("negative", -1)):
            for category, direction in (("Agency", -1), ("Communion", 1)):
                for prompt in range(27):
                    rows.append((model, f"p{prompt}", framing, category, 40 + 5 * sign * flip * direction + rng.normal(0, 2)))
    obs = pd.DataFrame(rows, columns=["model", "prompt", "framing", "category", "median_rank"])
    anova = three_way_anova(obs, FIG2_FACTORS).set_index("term")
    assert anova.loc["C(category):C(framing):C(model)", "p"] < 1e-6
    assert anova.loc["Residual", "df"] == len(obs) - 8
    cells = model_cell_welch_tests(obs)
    p = cells["p_welch"].to_numpy()
    order = np.argsort(p)
    stepped = p[order] * len(p) / np.arange(1, len(p) + 1)
    expected = np.empty_like(p)
    expected[order] = np.minimum.accumulate(stepped[::-1])[::-1].clip(max=1)
    np.testing.assert_allclose(cells["p_fdr"], expected)
    assert set(cells["contrast"]) == {"llama - gemma"}


# --------------------------------------------------------------------------- top-k, Kendall


def test_top_k_counts_and_mean_ranks():
    scores = pd.DataFrame(
        [
            ("A-gemma", "Love", 10), ("A-gemma", " love", 9), ("A-gemma", "Freedom", 8), ("A-gemma", "table", 7), ("A-gemma", "Café", 6),
            ("B-gemma", "table", 5), ("B-gemma", "Café", 4), ("B-gemma", "chair", 3), ("B-gemma", "love", 1),
            ("C-llama", "Freedom", 2), ("C-llama", "love", 1), ("C-llama", "chair", 0), ("C-llama", "table", -1),
        ],
        columns=["rm", "decoded", "score"],
    )
    mapping = {"love": ("Communion",), "cafe": ("Communion",), "freedom": ("Agency",)}
    per_rm, per_family = top_k_by_category(scores, mapping, k=4)
    per_rm = per_rm.set_index(["rm", "category"])
    assert per_rm.loc[("A-gemma", "Communion"), "count"] == 2 and per_rm.loc[("A-gemma", "Communion"), "mean_rank"] == 1.5
    assert per_rm.loc[("A-gemma", "Agency"), "count"] == 1 and per_rm.loc[("A-gemma", "Agency"), "mean_rank"] == 3
    assert per_rm.loc[("B-gemma", "Communion"), "count"] == 2 and per_rm.loc[("B-gemma", "Communion"), "mean_rank"] == 3  # Café 2nd, love 4th
    assert per_rm.loc[("B-gemma", "Agency"), "count"] == 0 and np.isnan(per_rm.loc[("B-gemma", "Agency"), "mean_rank"])
    per_family = per_family.set_index(["base_model", "category"])
    assert per_family.loc[("Gemma", "Agency"), "mean_count"] == 0.5
    assert per_family.loc[("Gemma", "Agency"), "mean_rank"] == 3  # B-gemma has none: ignored
    assert per_family.loc[("Llama", "Communion"), "mean_rank"] == 2
    assert per_family.loc[("Gemma", "Agency"), "n_rms"] == 2 and per_family.loc[("Gemma", "Agency"), "rms"] == "A-gemma;B-gemma"
    assert per_family.loc[("Llama", "Communion"), "n_rms"] == 1 and per_family.loc[("Llama", "Communion"), "rms"] == "C-llama"


def test_topk_names_the_paper_rms_it_averages_and_those_paper_yaml_lacks():
    """paper.yaml scores 6 of the paper's 10 RMs; the top-k record says which 4 its means lack."""
    paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
    manifest = yaml.safe_load((ROOT / "config" / "reference.yaml").read_text())["files"]
    paper_rms = [published_rm_name(path) for path in manifest if path.startswith("data/reward_model_scores/dict_big2_nouns/")]
    published_name_of = {e["id"]: published_rm_name(e["published_scores"]) for e in paper["reward_models"]}
    coverage = paper_rm_coverage(paper_rms, published_name_of)
    assert coverage["paper_rms"] == 10 and len(coverage["averaged"]) == 6
    assert coverage["not_averaged"] == [
        "LxzGordon_URM-LLaMa-3.1-8B", "RLHFlow_ArmoRM-Llama3-8B-v0.1", "nicolinho_QRM-Gemma-2-27B", "nicolinho_QRM-Llama3.1-8B",
    ]
    assert {"rm": "grm-gemma2-2b-rewardmodel-ft", "published": "Ray2333_GRM-gemma2-2B-rewardmodel-ft"} in coverage["averaged"]


def pair_tau(x, y):
    concordant = discordant = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        sign = np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
        concordant += sign > 0
        discordant += sign < 0
    return (concordant - discordant) / (len(x) * (len(x) - 1) / 2)


def test_checkpoint_kendall_previous_and_final():
    table = pd.DataFrame(
        {"step-1000": [1, 2, 3, 4, 5], "step-10000": [5, 4, 1, 3, 2], "step-2000": [1, 3, 2, 4, 5], "token": list("abcde")}
    )
    result = checkpoint_kendall(table).set_index("step")
    assert list(result.index) == [1000, 2000, 10000]
    assert np.isnan(result.loc[1000, "tau_previous"])
    assert result.loc[2000, "tau_previous"] == pytest.approx(pair_tau(table["step-1000"], table["step-2000"]))
    assert result.loc[10000, "tau_previous"] == pytest.approx(pair_tau(table["step-2000"], table["step-10000"]))
    assert result.loc[1000, "tau_final"] == pytest.approx(pair_tau(table["step-1000"], table["step-10000"]))
    assert result.loc[10000, "tau_final"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- published data


@pytest.fixture(scope="module")
def published_ablation_files(reference_data) -> dict[str, Path]:
    """label -> the published rank_results_<label>.csv of every published ablation."""
    return {label: reference_data / "reward_model_training" / f"rank_results_{label}.csv" for label in PUBLISHED_ABLATIONS}


def test_ablation_loader_on_published_files(published_ablation_files):
    final, warnings = load_ablation_tables(published_ablation_files)
    identical = [w for w in warnings if "byte-identical" in w]
    assert len(identical) == 1 and "rank_results_uf_13.csv" in identical[0] and "rank_results_uf_27.csv" in identical[0]
    assert any(w.startswith("rank_results_uf_100.csv") and "repeated rows" in w for w in warnings)
    assert "uf_13" not in set(final["label"])
    uf100 = final[final["label"] == "uf_100"]
    assert len(uf100) == 6 and set(uf100["checkpoint"]) == {13258}
    assert set(uf100["base_model"]) == {"Gemma", "Llama", "Qwen"}
    assert final.groupby("label")["data_size_k"].first().to_dict() == {"grm_80k": 632, "sky_80k": 77, "uf_100": 106, "uf_27": 26, "uf_54": 53}
    dropped_both, _ = load_ablation_tables(published_ablation_files, keep_on_identical=())
    assert not {"uf_13", "uf_27"} & set(dropped_both["label"])


def test_ablations_as_the_authors_plotted_them_keep_both_identical_files(tmp_path, published_ablation_files):
    final = published_ablations(published_ablation_files, tmp_path / "a.csv", tmp_path / "a.json", identical_files="keep_all")
    sizes = final.groupby("label")["data_size_k"].first().to_dict()
    assert sizes["uf_13"] == 13 and sizes["uf_27"] == 26
    columns = ["model_id", "category", "median_rank"]
    uf13, uf27 = (final[final["label"] == label][columns].reset_index(drop=True) for label in ("uf_13", "uf_27"))
    assert len(uf13) == 6 and uf13.equals(uf27)
    (identical,) = [w for w in read_ablation_warnings(tmp_path / "a.json") if "byte-identical" in w]
    assert "kept uf_13, uf_27 (plotted as the authors' figure did)" in identical
    with pytest.raises(InputError, match="identical_files"):
        published_ablations(published_ablation_files, tmp_path / "b.csv", tmp_path / "b.json", identical_files="both")


def test_published_big_two_reproduces_paper_claims(published_big2_observations):
    analysis = analyse_observations(published_big2_observations, n_resamples=9999, seed=0)
    obs = analysis.observations
    assert len(obs) == 10 * 54 * 2 and obs["rm"].nunique() == 10
    means = analysis.means.set_index(["framing", "category"])
    assert means.loc[("positive", "Agency"), "Llama"] < means.loc[("positive", "Agency"), "Gemma"]
    assert means.loc[("positive", "Communion"), "Gemma"] < means.loc[("positive", "Communion"), "Llama"]
    assert means.loc[("negative", "Agency"), "Gemma"] < means.loc[("negative", "Agency"), "Llama"]
    assert means.loc[("negative", "Communion"), "Llama"] < means.loc[("negative", "Communion"), "Gemma"]
    effects = analysis.mixed_model.fixed_effects.set_index("term")
    assert effects.loc["base_modelLlama:CategoryCommunion:prompt_framingnegative", "p"] < 0.05
    assert effects.loc["base_modelLlama", "df"] == 8  # 10 RMs - 1 - 1 between-RM column
    assert (analysis.panels["p_permutation_bonferroni"] < 0.05).all()
    # the paper's |d| = .40-.43 (positive framing) is the average-variance convention
    positive = analysis.panels[analysis.panels["framing"] == "positive"]
    assert sorted(round(abs(d), 2) for d in positive["d_average"]) == [0.40, 0.43]
    assert sorted(round(abs(d), 2) for d in positive["d_pooled"]) == [0.39, 0.42]
