"""Tests of rmbias.statistics.maximal_model (no R; tests/test_stats_r.py lays it beside lme4 + lmerTest).

Expected values come from the raw numbers: in a balanced design the maximal model's fixed
effects are the cell-mean contrasts, and when its fit is regular each term's t test is the
pooled two-sample t test of that contrast computed per RM (one value per RM, Llama vs Gemma).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats as scipy_stats

from rmbias.io import sanitize_for_json
from rmbias.records import validate_record
from rmbias.statistics.maximal_model import BETWEEN_RM_DF, fit_maximal_model, maximal_model_record
from rmbias.statistics.mixed_model import FIG1_R_NAMES, coded_factor_frame, fit_random_intercept_model

THREE_WAY = "base_modelLlama:CategoryCommunion:prompt_framingnegative"
CELLS = [(category, framing) for category in ("Agency", "Communion") for framing in ("positive", "negative")]
RANDOM_SLOPE_SDS = np.array([6.0, 5.0, 4.0, 7.0])
"""SDs of the per-RM random intercept and slopes (Category, framing, Category x framing), rank units."""


def random_slope_observations(seed: int = 11, n_rms: int = 12, n_prompts: int = 10, slope_sds=RANDOM_SLOPE_SDS,
                              residual_sd: float = 3.0, centre_noise: bool = False) -> pd.DataFrame:
    """Figure 1 observations of a balanced design: half the RMs Gemma-, half Llama-based, two
    categories, ``n_prompts`` prompts per framing; each RM's intercept and category x framing
    slopes are drawn with ``slope_sds`` (correlated 0.3), plus N(0, ``residual_sd``) noise per
    observation. ``centre_noise`` removes the noise's mean within every RM x cell, so the
    per-RM cell means carry no sampling noise."""
    rng = np.random.default_rng(seed)
    correlation = np.full((4, 4), 0.3) + 0.7 * np.eye(4)
    effects = rng.multivariate_normal(np.zeros(4), correlation * np.outer(slope_sds, slope_sds), size=n_rms)
    fixed = {"Gemma": np.array([50.0, -4.0, 10.0, 6.0]), "Llama": np.array([47.0, 3.0, 12.0, -5.0])}
    rows = []
    for index in range(n_rms):
        family = "Gemma" if index < n_rms // 2 else "Llama"
        for category, framing in CELLS:
            coding = np.array([1.0, category == "Communion", framing == "negative", category == "Communion" and framing == "negative"])
            noise = rng.normal(0.0, residual_sd, n_prompts)
            noise = noise - noise.mean() if centre_noise else noise
            for prompt, e in enumerate(noise):
                mean = coding @ (fixed[family] + effects[index])
                rows.append((f"rm{index:02d}", family, f"{framing[:3]}{prompt}", framing, category, mean + e, 100))
    return pd.DataFrame(rows, columns=["rm", "base_model", "prompt", "framing", "category", "median_rank", "n_ranked"])


def per_rm_contrasts(obs: pd.DataFrame) -> pd.DataFrame:
    """Per RM: its family, its reference-cell mean and its Category x framing interaction contrast (rank units)."""
    cells = obs.groupby(["rm", "category", "framing"])["median_rank"].mean().unstack(["category", "framing"])
    interaction = (
        cells[("Communion", "negative")] - cells[("Communion", "positive")] - cells[("Agency", "negative")] + cells[("Agency", "positive")]
    )
    family = obs.groupby("rm")["base_model"].first()
    return pd.DataFrame({"family": family, "reference_cell": cells[("Agency", "positive")], "interaction": interaction})


def test_balanced_estimates_equal_the_random_intercept_models():
    obs = random_slope_observations()
    maximal = fit_maximal_model(obs).fixed_effects.set_index("term")
    intercept_only = fit_random_intercept_model(obs).fixed_effects.set_index("term")
    assert list(maximal.index) == list(intercept_only.index) and THREE_WAY in maximal.index
    np.testing.assert_allclose(maximal["estimate"], intercept_only["estimate"], rtol=1e-7, atol=1e-7)
    # the maximal model's SEs carry the between-RM slope variance, the published one's do not
    assert maximal.loc[THREE_WAY, "se"] > 2 * intercept_only.loc[THREE_WAY, "se"]


def test_regular_fit_tests_each_term_as_a_two_sample_t_test_of_per_rm_contrasts():
    obs = random_slope_observations()
    fit = fit_maximal_model(obs)
    assert not fit.singular and fit.converged and fit.note == ""
    effects = fit.fixed_effects.set_index("term")
    contrasts = per_rm_contrasts(obs)
    for term, column in ((THREE_WAY, "interaction"), ("base_modelLlama", "reference_cell")):
        llama, gemma = (contrasts.loc[contrasts["family"] == family, column] for family in ("Llama", "Gemma"))
        expected = scipy_stats.ttest_ind(llama, gemma, equal_var=True)
        assert effects.loc[term, "estimate"] == pytest.approx(llama.mean() - gemma.mean(), rel=1e-7)
        assert effects.loc[term, "t"] == pytest.approx(expected.statistic, rel=1e-5)
        assert effects.loc[term, "p"] == pytest.approx(expected.pvalue, rel=1e-4)
        assert effects.loc[term, "df"] == len(llama) + len(gemma) - 2


def test_regular_fit_has_the_closed_form_variances_and_beats_statsmodels_own_optimum():
    obs = random_slope_observations()
    n_prompts = 10
    fit = fit_maximal_model(obs)
    # balanced and regular: the residual variance is the pooled within-(RM, cell) variance, and the
    # covariance of an RM's four cell means is C Sigma C' + residual / n_prompts, estimated by the
    # pooled within-family covariance of the per-RM cell means (C: the treatment coding of the cells)
    within = obs.groupby(["rm", "category", "framing"])["median_rank"].var(ddof=1).mean()
    cells = obs.groupby(["rm", "category", "framing"])["median_rank"].mean().unstack(["category", "framing"])[CELLS]
    family = obs.groupby("rm")["base_model"].first()
    centred = cells - cells.groupby(family).transform("mean")
    pooled = centred.T.to_numpy() @ centred.to_numpy() / (len(cells) - 2)
    coding = np.array([[1, category == "Communion", framing == "negative", category == "Communion" and framing == "negative"]
                       for category, framing in CELLS], dtype=float)
    inverse = np.linalg.inv(coding)
    sigma = inverse @ (pooled - within / n_prompts * np.eye(4)) @ inverse.T
    assert fit.residual_var == pytest.approx(within, rel=1e-6)
    np.testing.assert_allclose(fit.random_effects_cov.to_numpy(), sigma, rtol=1e-4, atol=1e-4 * np.abs(sigma).max())
    assert list(fit.random_effects_cov.index) == ["(Intercept)", "CategoryCommunion", "prompt_framingnegative", "CategoryCommunion:prompt_framingnegative"]
    assert fit.formula == "median_rank ~ base_model * Category * prompt_framing + (1 + Category * prompt_framing | rm)"
    frame, formula = coded_factor_frame(obs, "median_rank", ("base_model", "category", "framing"), "rm", {"framing": "positive"}, FIG1_R_NAMES)
    reference = smf.mixedlm(formula, frame, groups=frame["rm"], re_formula="1 + Category * prompt_framing").fit(reml=True, method="lbfgs")
    assert fit.reml_loglik >= reference.llf - 1e-6


def test_df_is_the_between_rm_df_for_every_term():
    obs = random_slope_observations(n_rms=12)
    dropped = obs[~obs["rm"].isin(["rm00", "rm01", "rm11"])]  # 4 Gemma + 5 Llama RMs
    for data, n_rms in ((obs, 12), (dropped, 9)):
        fit = fit_maximal_model(data)
        effects = fit.fixed_effects
        assert (effects["df"] == n_rms - 1 - 1).all()  # one between-RM column (base_modelLlama) and the intercept
        np.testing.assert_allclose(effects["p"], 2 * scipy_stats.t.sf(np.abs(effects["t"]), n_rms - 2), rtol=1e-12)
        assert fit.df_method == BETWEEN_RM_DF and fit.n_groups == n_rms


def test_no_between_rm_variation_of_the_slopes_is_a_singular_fit_with_a_one_line_note():
    obs = random_slope_observations(slope_sds=np.array([6.0, 0.0, 0.0, 0.0]), centre_noise=True)
    fit = fit_maximal_model(obs)
    assert fit.singular and fit.converged
    assert fit.note.startswith("singular fit:") and fit.note.endswith("the RM-level tests stand") and "\n" not in fit.note
    slopes = fit.random_effects_cov.to_numpy()[1:, 1:]
    assert np.abs(slopes).max() < 1e-6 * fit.random_effects_cov.iloc[0, 0]


def test_record_has_the_record_shape_and_the_fit_under_model():
    fit = fit_maximal_model(random_slope_observations(slope_sds=np.array([6.0, 0.0, 0.0, 0.0]), centre_noise=True))
    record = json.loads(json.dumps(sanitize_for_json(maximal_model_record(fit, "fig1_big2_maximal_model"))))
    validate_record(record)
    assert [entry["term"] for entry in record["tests"]] == list(fit.fixed_effects["term"])
    assert all(entry["df"] == 10 and entry["inputs"] == {"n_obs": 480, "n_groups": 12} for entry in record["tests"])
    model = record["model"]
    assert model["singular"] is True and model["converged"] is True and model["note"] == fit.note
    assert model["df_method"] == BETWEEN_RM_DF and len(model["random_effects"]["cov"]) == 4
    assert model["random_effects"]["terms"][0] == "(Intercept)" and fit.note in record["description"]
